"""The profile follows what the person says, and their corrections."""

from __future__ import annotations

from datetime import date

import pytest

from bot.profile import (GEAR_KINDS, Constraints, Context, Profile, Vocabulary, describe, merge_profiles, rating_for, suited_tags,
                         update_profile)
from bot.sentiment import analyze
from retrieval.ranking import MeasureLimit
from retrieval.schemas import Item
from retrieval.titles import TitleFinder

VOCABULARY = Vocabulary.for_catalog(
    {"books", "films", "music", "outdoor"},
    {"scary", "horror", "sci-fi", "mystery", "cozy", "family", "kids", "budget", "romance", "feel-good",
     "drama", "animation", "bowling", "good", "young-adult", "fantasy", "day-hiking", "backpacking"},
)
FINDER = TitleFinder([
    ("alien", "Alien (1979)", 1.0), ("titanic", "Titanic (1997)", 1.0),
    ("columbine", "Bowling for Columbine (2002)", 1.0), ("vacation", "Christmas Vacation (1989)", 1.0),
])


def say(*messages: str, profile: Profile | None = None, last: list[str] | None = None,
        vocabulary: Vocabulary = VOCABULARY) -> Profile:
    profile = profile or Profile()
    for message in messages:
        sentiment = analyze(message, FINDER.find(message))
        profile = update_profile(profile, message, sentiment, vocabulary, last, today=date(2026, 11, 25), titles=FINDER.find(message))
    return profile


def test_likes_and_dislikes_come_from_item_sentiment() -> None:
    profile = say("I loved Alien but Titanic bored me")
    assert profile.likes == ["alien"] and profile.dislikes == ["titanic"]
    profile = say("Actually Alien was awful", profile=profile)
    assert profile.dislikes == ["alien", "titanic"] and profile.likes == []


def test_a_title_mentioned_without_feeling_counts_as_liked() -> None:
    assert say("I watched Alien last week").likes == ["alien"]
    # ... unless they disliked it before: naming it again takes nothing back.
    assert say("Alien bored me", "Is Alien on Netflix?").dislikes == ["alien"]


def test_the_answer_about_a_suggestion_is_an_opinion_about_it() -> None:
    assert say("haven't seen it, I'll check it out", last=["alien"]).likes == ["alien"]
    assert say("sounds boring, not for me", last=["alien"]).dislikes == ["alien"]
    # ... but not one about a film the catalog does not have ("Frozen"): it had liked both.
    assert say("we've seen Frozen and loved it", last=["alien", "titanic"]).likes == []
    assert say("we watched Frozen", last=["alien", "titanic"]).likes == []


def test_the_words_of_a_named_title_are_not_wishes() -> None:
    profile = say("I did see Bowling for Columbine and liked it", "Christmas Vacation is a classic")
    assert profile.likes == ["vacation", "columbine"]
    assert profile.liked_tags == [] and profile.context.occasion is None
    # The title reads as "it": a negation before it still reaches what follows.
    assert say("I don't like Bowling for Columbine or horror").constraints.excluded_tags == ["horror"]


def test_everyday_words_are_not_tags_and_plurals_and_synonyms_are() -> None:
    assert say("that was good").liked_tags == []
    assert say("I love dramas").liked_tags == ["drama"]
    assert say("something animated please").liked_tags == ["animation"]
    # Tags made of everyday words or the catalog's words for its categories (MovieLens has all three).
    films = Vocabulary.for_catalog({"films"}, {"movies", "not seen", "great movie", "horror"})
    message = "Any horror movies? I have not seen a great movie in ages"
    assert update_profile(Profile(), message, analyze(message, []), films).liked_tags == ["horror"]


def test_tags_come_in_one_order_whatever_the_order_of_the_catalogs_tags() -> None:
    # A set's order varies between processes (hash seeds); the profile must not.
    for tags in (["thriller", "suspense"], ["suspense", "thriller"]):
        vocabulary = Vocabulary.for_catalog({"films"}, dict.fromkeys(tags).keys())  # type: ignore[arg-type]
        message = "a film with some suspense"
        # "suspense" is read as its own tag, then as the tags it is a synonym of; the latest
        # remembered comes first.
        assert update_profile(Profile(), message, analyze(message, []), vocabulary).liked_tags == ["thriller", "suspense"]


def test_constraints() -> None:
    c = say("A film please, nothing scary, under $15, from the 90s, not too long").constraints
    assert c.categories == ["films"]
    assert c.excluded_tags == ["scary"]
    assert c.max_price == 15.0
    assert (c.min_year, c.max_year) == (1990, 1999)
    # Anything but long: a book club's 280-page novel is not short ("not-long").
    assert c.length == "not-long"
    assert say("a book, nothing too long").constraints.length == "not-long"
    assert say("a short film").constraints.length == "short"
    assert say("the last one was too long").constraints.length == "short"
    c = say("books between 10 and 25 dollars published after 2015").constraints
    assert (c.categories, c.min_price, c.max_price, c.min_year) == (["books"], 10.0, 25.0, 2015)
    # "Less long" had been a long one.
    assert say("something less long maybe?").constraints.length == "short"
    assert say("not as long as that one").constraints.length == "short"
    assert say("something recent").constraints.min_year == 2021
    assert say("any new releases?").constraints.min_year == 2021
    # A new album is one new to them, a new jacket not the one they have: no year.
    assert say("a new album").constraints.min_year is None and say("I need a new jacket").constraints.min_year is None


def test_a_year_or_price_negated_bounds_the_other_side_and_a_new_bound_past_the_held_one_replaces_it() -> None:
    # "Nothing newer than 2000" after "the 90s" had been years 2000 to 1999: nothing fitted.
    c = say("90s hip hop", "nothing newer than 2000 please").constraints
    assert (c.min_year, c.max_year) == (1990, 2000)
    assert (say("nothing before 1980").constraints.min_year, say("nothing before 1980").constraints.max_year) == (1980, None)
    c = say("90s hip hop", "nothing newer than 2000 please", "ok, anything from after 2000 then?").constraints
    assert (c.min_year, c.max_year) == (2000, None)
    c = say("a film under 20 dollars", "actually over 30 dollars is fine").constraints
    assert (c.min_price, c.max_price) == (30.0, None)
    # Bounds said together stay together.
    c = say("books between 10 and 25 dollars").constraints
    assert (c.min_price, c.max_price) == (10.0, 25.0)


@pytest.mark.parametrize(("message", "years"), [
    # "The 80s or 90s" had been the 80s alone; "between 1980 and 1999" a price of 1980 to 1999.
    ("something from the 80s or 90s?", (1980, 1999)),
    ("a film from the 70s to the 90s", (1970, 1999)),
    ("anything from between 1980 and 1999", (1980, 1999)),
    ("from 1985 to 1995", (1985, 1995)),
    # "Nothing from the 80s" had been the 80s: unwanted, a decade bounds nothing.
    ("nothing from the 80s", (None, None)),
    ("a 90s film, not from the 80s", (1990, 1999)),
    ("nothing before the 90s", (1990, None)),
    ("something made after the 80s", (1990, None)),
    ("anything since the 90s", (1990, None)),
    ("before 2000", (None, 1999)),
])
def test_years_said_as_decades_ranges_and_bounds(message: str, years: tuple[int | None, int | None]) -> None:
    c = say(message).constraints
    assert (c.min_year, c.max_year) == years
    assert (c.min_price, c.max_price) == (None, None)


@pytest.mark.parametrize(("message", "limit"), [
    ("a film for tonight, under 2 hours, not a horror", MeasureLimit(unit="min", at_most=120)),
    ("less than 90 minutes please", MeasureLimit(unit="min", at_most=90)),
    ("a movie under an hour", MeasureLimit(unit="min", at_most=60)),
    ("an hour and a half or less", MeasureLimit(unit="min", at_most=90)),
    ("under two and a half hours", MeasureLimit(unit="min", at_most=150)),
    ("nothing longer than ninety minutes", MeasureLimit(unit="min", at_most=90)),
    ("a sci-fi book, no more than 300 pages", MeasureLimit(unit="pages", at_most=300)),
    ("an epic, at least 500 pages", MeasureLimit(unit="pages", at_least=500)),
    ("something over two hours", MeasureLimit(unit="min", at_least=120)),
])
def test_a_length_said_in_numbers_is_a_limit_not_a_price(message: str, limit: MeasureLimit) -> None:
    c = say(message).constraints
    assert (c.length, c.min_price, c.max_price) == (limit, None, None)


def test_a_length_limit_holds_for_a_measure_of_its_unit_only() -> None:
    limit = MeasureLimit(unit="min", at_most=120)
    film = Item(id="f", title="F", category="films", attributes={"runtime_min": 121})
    book = Item(id="b", title="B", category="books", attributes={"pages": 500})
    assert not limit.fits(film) and limit.fits(film.model_copy(update={"attributes": {"runtime_min": 120}}))
    assert limit.fits(book) and not MeasureLimit(unit="pages", at_least=501).fits(book)
    # A price beside it is still a price.
    c = say("under 10 bucks and under 2 hours").constraints
    assert (c.max_price, c.length) == (10, limit)


def test_a_budget_stated_as_a_sum_is_a_price_not_budget_gear() -> None:
    stated = say("actually my budget is under 5 dollars")
    assert (stated.constraints.max_price, stated.liked_tags, stated.constraints.required_tags) == (5, [], [])
    total = say("need a tent and a sleeping bag, total budget 400")
    assert (total.constraints.max_price, total.liked_tags) == (400, [])
    # "Around" before the sum had made it budget gear under 600.
    for message in ("a tent and sleeping bags for two, total budget around 600", "budget about £600 for everything"):
        assert (say(message).constraints.max_price, say(message).liked_tags) == (600, []), message
    # A number with a unit is no sum: a budget 2-person tent is budget gear of any price, and
    # "kids under 10" an age.
    for message in ("a budget 2 person tent", "a budget 2-person tent"):
        assert (say(message).constraints.max_price, say(message).liked_tags) == (None, ["budget"])
    kids = say("a film for kids under 10")
    assert (kids.constraints.max_price, kids.liked_tags) == (None, ["family", "kids"])
    assert say("a budget tent please").liked_tags == ["budget"]
    assert say("something sci-fi under $20").liked_tags == ["sci-fi"]  # a taste and a price


def test_a_budget_said_for_all_of_it_is_for_one_of_each_together() -> None:
    # "About 300 total" had been read as no budget at all.
    for message in ("a tent and a sleeping bag, about 300 total", "a tent and a sleeping bag, $300 in total",
                    "a tent and a sleeping bag under 300 altogether", "a tent and sleeping bag, budget 300 for both",
                    "need a tent and a sleeping bag, total budget 300"):
        said = say(message).constraints
        assert (said.max_price, said.budget_together) == (300, True), message
    assert "price: 0 to 300 for all of it together" in describe(say("a tent and a sleeping bag, about 300 total"), {})
    for message in ("a tent and a sleeping bag under 300", "a tent, around 300"):
        assert not say(message).constraints.budget_together, message
    # A budget said anew is for one item unless said for all; one taken back is no budget at all.
    assert not say("a tent and a sleeping bag, 300 in total", "ok, under 200 each").constraints.budget_together
    assert not say("a tent and a sleeping bag, 300 in total", "any price is fine").constraints.budget_together
    # A budget said after a pick is no opinion of it ("what if I spend 500 in total?" had liked it).
    assert say("ok what if I spend 500 in total?", last=["tent"]).likes == []


def test_a_book_to_finish_in_a_weekend_is_short() -> None:
    assert say("a book I can finish in a weekend").constraints.length == "short"
    assert say("something to read in one sitting").constraints.length == "short"


def test_hiking_for_more_than_a_day_is_backpacking() -> None:
    assert say("I'm going hiking in the Alps next month for a week").liked_tags == ["backpacking"]
    assert say("gear for a 3-day hike").liked_tags == ["backpacking"]
    assert say("going hiking this weekend").liked_tags == ["day-hiking"]
    assert say("a few day hikes next week").liked_tags == ["day-hiking"]


def test_context() -> None:
    ctx = say("I need a birthday present for my dad").context
    assert (ctx.occasion, ctx.audience) == ("birthday", "dad")
    young = say("a gift for my little nephew")
    assert young.context.audience == "little nephew" and {"kids", "family"} <= set(young.liked_tags)
    assert say("I'm so sad today, awful week").context.mood == "down"


def test_a_young_audience_stays_required_until_another_is_named() -> None:
    kids = say("something for my kids", "the animated one sounds good")
    assert set(kids.constraints.required_tags) == {"animation", "family", "kids"}
    assert say("under $5", profile=kids).constraints.required_tags == kids.constraints.required_tags
    assert say("now a horror film for me", profile=kids).constraints.required_tags == ["horror"]


def test_an_age_said_decides_between_a_childs_a_teenagers_and_an_adults_things() -> None:
    # A daughter of 14 asks for young-adult books beside the fantasy asked for, not kids' books.
    teen = say("my daughter is 14 and loves fantasy books, any ideas?")
    assert teen.constraints.required_tags == ["fantasy"] and "young-adult" in teen.liked_tags
    assert teen.context.audience == "daughter aged 14"
    assert say("a book for my 14-year-old").constraints.required_tags == ["young-adult"]
    # A teenager said in words is no child ("my teenage son" had asked for kids' books too).
    assert say("a book for my teenage son").constraints.required_tags == ["young-adult"]
    # A child's age asks for kids' things, in words or digits, and keeps asking for them.
    child = say("a film for my nine year old", "the animated one please")
    assert set(child.constraints.required_tags) == {"animation", "family", "kids"}
    assert say("my son is 30, he likes horror").constraints.required_tags == ["horror"]
    # An audience alone refines the request: a mystery book for a child, not anything for a child.
    mystery = say("a mystery book please", "it's for my daughter, she's 9")
    assert (mystery.constraints.required_tags, mystery.context.audience) == (["mystery", "family", "kids"],
                                                                              "daughter aged 9")
    # The word for the person is theirs wherever it stands before the age.
    assert say("a camping trip with two kids aged 6 and 9").context.audience == "kids aged 6"
    assert say("my kids will be watching too, they're 7 and 10").context.audience == "kids aged 7"  # was "someone"
    # Ages right after whom it is for, and a count before them ("stocking fillers for my two
    # nephews, 9 and 12, about 10 each" had read nobody, no budget, and asked what they were after).
    fillers = say("I need stocking fillers for my two nephews, 9 and 12, about 10 each")
    assert (fillers.context.audience, fillers.context.occasion, fillers.constraints.max_price) == (
        "nephews aged 9", "stocking fillers", 10)
    assert say("a present for my kids, 5 and 7").context.audience == "kids aged 5"
    assert say("for my dad, 60 and still climbing").context.audience == "dad"
    # Numbers that are prices or lengths are no age.
    assert say("is 14 dollars ok?").context.audience is None
    assert say("a book for my 8 year old nephew").context.audience == "nephew aged 8"
    budget = say("my budget is 30")
    assert (budget.context.audience, budget.constraints.max_price) == (None, 30)


def test_what_someone_has_already_is_no_request() -> None:
    gift = say("a gift for my brother, into climbing, up to 100 dollars")
    harness = say("he already has a harness", profile=gift).constraints
    assert (harness.categories, harness.kinds, harness.max_price) == ([], [], 100)
    stove = say("I already own a tent, I need a stove").constraints
    assert (stove.categories, stove.kinds) == (["outdoor"], ["stove"])
    assert say("and shoes?").constraints.kinds == ["shoes"]
    # Said with the thing after it, it is theirs too, and asked for no more until asked again:
    # "we have a tent already" had asked for tents.
    camping = say("camping with the kids, what do we need?", "we have a tent already").constraints
    assert (camping.kinds, camping.owned_kinds) == ([], ["tent"])
    boots = say("she's got boots, she needs a jacket").constraints
    assert (boots.kinds, boots.owned_kinds) == (["jacket"], ["boots"])
    assert say("we have a tent already", "actually we need a new tent").constraints.owned_kinds == []
    assert say("we have to buy a tent").constraints.kinds == ["tent"]


def test_more_of_something_refines_the_request_held_and_a_new_tag_replaces_it() -> None:
    # "Something more relaxed then" after jazz had asked for anything relaxed, jazz or not.
    assert say("a mystery book", "something more cozy then").constraints.required_tags == ["mystery", "cozy"]
    assert say("a mystery book", "a bit more feel-good please").constraints.required_tags == ["mystery", "feel-good"]
    assert say("a mystery book", "something cozy then").constraints.required_tags == ["cozy"]


def test_a_change_from_a_habit_avoids_it_and_turns_no_pick_down() -> None:
    # "I read a lot of thrillers, but I want something different this time" had asked for
    # thrillers and turned the six picks down.
    change = say("I watch a lot of horror, but I want something different this time", last=["alien", "titanic"])
    assert (change.constraints.excluded_tags, change.liked_tags, change.rejected) == (["horror"], [], [])
    assert say("I usually read mystery books, something else for a change?").constraints.excluded_tags == ["mystery"]
    # Without a wish for a change, a habit is a taste.
    assert say("I read a lot of mystery books").liked_tags == ["mystery"]


def test_kinds_listed_as_alternatives_need_one_of_them() -> None:
    # "Westerns and war films" had required films that are both ("little here fits all of that").
    films = Vocabulary.for_catalog({"films"}, {"western", "war", "funny", "romantic", "horror", "sci-fi"})

    def either(message: str) -> bool:
        return update_profile(Profile(), message, analyze(message, []), films).constraints.either_tags

    assert either("he likes westerns and war films") and either("westerns or horror films, please")
    assert not either("a funny and romantic film") and not either("horror and sci-fi")
    assert not either("westerns please")


def test_warm_weather_said_of_what_is_wanted_avoids_winter_gear() -> None:
    # "A sleeping bag for summer camping" had a -25 °C expedition bag second.
    gear = Vocabulary.for_catalog({"outdoor"}, {"winter", "camping"})

    def avoided(message: str) -> list[str]:
        return update_profile(Profile(), message, analyze(message, []), gear).constraints.excluded_tags

    assert avoided("looking for a sleeping bag for summer camping") == ["winter"]
    assert avoided("a sleeping bag for winter and summer") == []  # winter asked for
    assert avoided("a sleeping bag, not for summer") == []


def test_a_word_that_names_no_tag_stands_for_the_tags_it_means_only_where_the_catalog_lacks_it() -> None:
    # "He likes action" had asked for nothing: the demo's films have no action tag. ReDial's
    # catalog has one, and reads the word as it alone.
    demo = Vocabulary.for_catalog({"films"}, {"adventure", "fast-paced", "romance"})
    assert [tag for tag, _ in demo.find_tags("he likes action and I like romance")] == ["adventure", "fast-paced", "romance"]
    # Standing in for two tags makes them no near-synonyms: "a fantasy adventure" had asked for
    # adventure or fast-paced, "heavy metal" for metal or energetic (request-following 0.901 -> 0.898).
    assert demo.requirement(["adventure", "fast-paced"]) == [["adventure"], ["fast-paced"]]
    redial = Vocabulary.for_catalog({"films"}, {"action", "adventure", "fast-paced"})
    assert [tag for tag, _ in redial.find_tags("an action movie")] == ["action"]
    # "Anything a bit heavier?" after 70s rock had asked for nothing.
    music = Vocabulary.for_catalog({"music"}, {"rock", "metal", "energetic", "workout"})
    assert sorted(tag for tag, _ in music.find_tags("anything a bit heavier?")) == ["energetic", "metal"]
    assert [tag for tag, _ in music.find_tags("something to listen to while I run")] == ["workout"]
    assert music.find_tags("I'm getting into running, what gear do I need?") == []
    # True crime is crime and non-fiction, in any spelling, and neither is the other's near-synonym.
    books = Vocabulary.for_catalog({"books"}, {"crime", "non-fiction", "western"})
    assert sorted(tag for tag, _ in books.find_tags("I like true-crime")) == ["crime", "non-fiction"]
    assert books.requirement(["crime", "non-fiction"]) == [["crime"], ["non-fiction"]]


def test_a_category_said_as_what_something_is_about_is_a_theme() -> None:
    # "Something about music" after documentaries had asked for albums.
    assert say("something about music maybe").constraints.categories == []
    assert say("a film about music").constraints.categories == ["films"]
    assert say("some music about love").constraints.categories == ["music"]
    assert say("what about a book then?").constraints.categories == ["books"]
    assert say("how about films?").constraints.categories == ["films"]


def test_cool_nights_said_of_when_or_whom_it_is_for_hold_until_another_category() -> None:
    # "Camping in October in the Lake District" had a 10 °C summer bag second.
    gear = Vocabulary.for_catalog({"outdoor", "books"}, {"winter", "camping"})

    def cool(*messages: str) -> bool:
        return say(*messages, vocabulary=gear).constraints.cool_weather

    for message in ("I'm going camping in October, what sleeping bag should I get?", "a tent for early spring",
                    "I feel the cold a lot", "she sleeps cold", "a quilt for mid-September", "autumn camping gear"):
        assert cool(message), message
    for message in ("a sleeping bag for summer camping", "a sleeping bag, may I ask for a cheap one?",
                    "a tent that doesn't fall apart", "I don't feel the cold"):
        assert not cool(message), message
    assert cool("a sleeping bag for October", "and a tent?")
    assert not cool("a sleeping bag for October", "now a book for the trip")


def test_how_many_people_gear_is_to_sleep_holds_until_another_category() -> None:
    # "We need a tent for four people" had offered two-person tents second and third.
    gear = Vocabulary.for_catalog({"outdoor", "books"}, {"camping"})

    def sleeps(*messages: str) -> int | None:
        return say(*messages, vocabulary=gear).constraints.sleeps

    assert sleeps("we need a tent for four people") == 4
    assert sleeps("a 2-person tent please") == 2 and sleeps("a two man tent") == 2
    assert sleeps("a tent for a family of five") == 5 and sleeps("room for 3 adults") == 3
    assert sleeps("a 4 season tent") is None and sleeps("a tent for the weekend") is None
    assert sleeps("a tent for four people", "something cheaper") == 4
    assert sleeps("a tent for four people", "now a book for the trip") is None


def test_every_kind_of_gear_is_read_in_the_plural_too() -> None:
    # "Any good headlamps?" had named no kind (only "headlamp" did) and got a clarifying question.
    uncountable = {"cookware", "cooking gear", "camp kitchen"}
    for kind, words in GEAR_KINDS.items():
        if kind in uncountable or kind.endswith("s") and not kind.endswith("ss"):
            continue
        plural = kind + ("es" if kind.endswith(("ss", "ch", "sh", "x")) else "s")
        assert GEAR_KINDS.get(plural) == words, kind


def test_how_much_a_pack_is_to_hold_is_a_size_in_litres_until_another_kind() -> None:
    # "A backpack for a week-long trek, around 60 litres" had offered a 22-litre daypack second
    # and a bike's 14-litre seat pack.
    gear = Vocabulary.for_catalog({"outdoor", "books"}, {"camping"})

    def holds(*messages: str) -> str | None:
        said = say(*messages, vocabulary=gear).constraints
        return str(said.capacity) if said.capacity else None

    assert holds("I need a backpack for a week-long trek, around 60 litres") == "at least 48 and at most 72 litres"
    assert holds("a 30L daypack") == "at least 24 and at most 36 litres"
    assert holds("a pack, sixty litres") == "at least 48 and at most 72 litres"
    assert holds("a daypack under 30 litres") == "at most 30 litres"
    assert holds("a daypack, nothing over 30 litres") == holds("no bigger than 30L") == "at most 30 litres"
    assert holds("a rucksack, at least 50 litres") == "at least 50 litres"
    assert holds("a backpack, 65L or more") == "at least 65 litres"
    assert holds("a pack between 40 and 50 litres") == "at least 40 and at most 50 litres"
    assert holds("a backpack under 100") is None and holds("a tent for two") is None
    # Litres are no price: "under 30 litres" sets no budget.
    profile = say("a daypack under 30 litres", vocabulary=gear)
    assert profile.constraints.max_price is None
    assert holds("a backpack, around 60 litres", "something cheaper") == "at least 48 and at most 72 litres"
    assert holds("a backpack, around 60 litres", "and a sleeping bag") is None
    assert holds("a backpack, around 60 litres", "a 30 litre one instead") == "at least 24 and at most 36 litres"


def test_how_much_gear_may_weigh_is_a_weight_in_grams_until_another_kind() -> None:
    # "A sleeping bag under 1kg" had offered the 1050 g down bag first.
    gear = Vocabulary.for_catalog({"outdoor", "books"}, {"camping"})

    def weighs(*messages: str) -> str | None:
        weight = say(*messages, vocabulary=gear).constraints.weight
        return str(weight) if weight else None

    assert weighs("I need a sleeping bag under 1kg for summer hiking") == "at most 1000 g"
    assert weighs("a tent lighter than 2 kilos") == weighs("a tent, 2 kg or less") == "at most 2000 g"
    assert weighs("a sleeping pad under 500g") == "at most 500 g" and weighs("a quilt under a kilo") == "at most 1000 g"
    assert weighs("a tent, nothing heavier than 1.5 kg") == "at most 1500 g"
    assert weighs("a tent under 3 lbs") == "at most 1361 g"
    # A weight said without a bound is no wish; pounds are money.
    assert weighs("my pack weighs 12 kg, I want a lighter tent") is None
    assert weighs("a tent under 200 pounds") is None
    assert say("a tent under 200 pounds", vocabulary=gear).constraints.max_price == 200
    assert weighs("a tent under 2kg", "something cheaper") == "at most 2000 g"
    assert weighs("a tent under 2kg", "and a sleeping bag") is None


def test_subtitles_not_wanted_ask_for_english_until_another_category() -> None:
    # "They don't like subtitles" had kept My Neighbor Totoro and Parasite among the picks.
    films = Vocabulary.for_catalog({"films", "books"}, {"comedy"})

    def english(*messages: str) -> bool:
        return say(*messages, vocabulary=films).constraints.english_only

    for message in ("they don't like subtitles", "nothing with subtitles please", "no foreign films",
                    "an English-language comedy", "my dad can't stand subtitles"):
        assert english(message), message
    for message in ("I don't mind subtitles", "a film with subtitles is fine", "a comedy film"):
        assert not english(message), message
    assert english("no subtitles please", "something funnier")
    assert not english("a film without subtitles please", "now a book")
    assert "in: English" in describe(update_profile(Profile(), "no subtitles", analyze("no subtitles", []), films), {})


def test_singing_not_wanted_asks_for_instrumental_music_until_another_category() -> None:
    # "Something without any singing" had offered Golden Hour and What's Going On.
    music = Vocabulary.for_catalog({"music", "books"}, {"chill", "study"})

    def instrumental(*messages: str) -> bool:
        return say(*messages, vocabulary=music).constraints.instrumental

    for message in ("something without any singing", "instrumental stuff to study to", "no vocals please",
                    "nothing with lyrics", "she can't stand singers", "wordless music"):
        assert instrumental(message), message
    for message in ("I don't mind vocals", "a great singer", "music with lyrics I can sing along to"):
        assert not instrumental(message), message
    assert instrumental("some music without vocals", "something more chill")
    assert not instrumental("some music without vocals", "now a book")
    # Singing is no theme for the descriptions to avoid.
    said = say("nothing with lyrics", vocabulary=music)
    assert said.constraints.avoid_words == []
    # "Instrumental" names music.
    assert say("instrumental stuff to study to", vocabulary=music).constraints.categories == ["music"]
    assert "sung: no" in describe(said, {})


def test_an_age_rating_said_is_the_strongest_a_film_may_have_until_another_category() -> None:
    # "A crime film, nothing R-rated please" had offered Pulp Fiction, Se7en and four more R films.
    def rating(*messages: str) -> str | None:
        return say(*messages).constraints.max_rating

    for message, said in (("a crime film, nothing R-rated please", "PG-13"), ("I don't want anything R rated", "PG-13"),
                          ("PG-13 at most", "PG-13"), ("PG13 max", "PG-13"), ("nothing above PG", "PG"),
                          ("G or PG", "PG"), ("no PG-13 or R", "PG"), ("R is fine actually", "R"),
                          ("rated R films", "R"), ("something pg for the kids", "PG"),
                          # what a rating says a film may hold, not wanted
                          ("a film to watch with my parents, nothing with sex scenes or swearing", "PG"),
                          ("my mum hates bad language", "PG"), ("nothing too explicit", "PG-13")):
        assert rating(message) == said, message
    for message in ("I love PG Wodehouse", "see pg 45", "an R", "a film", "no, I love swearing", "a film about sex education"):
        assert rating(message) is None, message
    assert rating("a film, nothing R-rated", "something funnier") == "PG-13"
    assert rating("a film, nothing R-rated", "now a book") is None
    assert rating("a film, nothing R-rated", "R is fine actually") == "R"
    assert "rated: PG-13 at most" in describe(say("a film, nothing R-rated"), {})
    # A rating said is no opinion of the picks ("fine" had liked all six).
    assert say("R is fine actually", last=["alien", "titanic"]).likes == []


def test_whom_it_is_for_sets_the_strongest_film_rating() -> None:
    assert [rating_for(audience) for audience in ("son aged 12", "kids", "daughter aged 14", "teenage son", "nephew aged 17",
                                                  "son aged 30", "dad", None)] == ["PG", "PG", "PG-13", "PG-13", "R",
                                                                                   None, None, None]


def test_a_theme_unwanted_that_no_tag_names_is_avoided_by_its_words() -> None:
    # "Not about nature please" had answered with "a wonderful nature film" first.
    assert say("a documentary", "not about nature please").constraints.avoid_words == ["nature"]
    assert say("nothing involving vampires").constraints.avoid_words == ["vampires"]
    # Tags, categories and everyday words are no such theme.
    for message in ("nothing about horror", "not with anything too scary", "not about that", "no, not with the kids"):
        assert say(message).constraints.avoid_words == [], message


def test_tags_asked_of_different_categories_bind_those_alone() -> None:
    # "A thriller book for me and a romantic film for my wife" had asked for books and films that
    # are both ("Nothing else here fits all of that").
    apart = say("a mystery book for me and a romance film for my wife")
    assert apart.constraints.tag_categories == {"mystery": ["books"], "romance": ["films"]}
    assert say("a mystery and romance book").constraints.tag_categories == {}
    # One category for both of them then: one of the tags will do.
    both = say("something for both of us to watch together", profile=apart).constraints
    assert (both.categories, both.either_tags, both.tag_categories) == (["films"], True, {})


def test_a_feeling_about_a_kind_is_no_feeling_about_the_picks() -> None:
    # "I don't really like romance" had asked for romance and disliked all six picks.
    kind = say("I don't really like romance", last=["alien", "titanic"])
    assert (kind.constraints.excluded_tags, kind.liked_tags, kind.dislikes) == (["romance"], [], [])
    # Pointing at them, it is about them too.
    assert say("loved them, and I like horror", last=["alien", "titanic"]).likes == ["titanic", "alien"]


def test_a_kind_said_by_what_it_is_for() -> None:
    # "Something to sleep on?" had asked for nothing of its own.
    pad = say("camping with the kids", "something to sleep on?").constraints
    assert (pad.categories, pad.kinds) == (["outdoor"], ["sleeping pad"])
    assert say("and something to cook with").constraints.kinds == ["stove"]


def test_too_much_of_a_tag_avoids_it() -> None:
    # "Nah, too scary" had asked for scary films.
    scary = say("nah, too scary")
    assert scary.constraints.excluded_tags == ["scary"] and "scary" not in scary.liked_tags


def test_the_kind_of_gear_asked_for_holds_until_another_request() -> None:
    tent = say("a tent for camping, not a hammock")
    assert (tent.constraints.categories, tent.constraints.kinds) == (["outdoor"], ["tent"])
    assert say("something cheaper", profile=tent).constraints.kinds == ["tent"]
    assert say("and sleeping bags", profile=tent).constraints.kinds == ["sleeping bags"]
    assert say("a book for the trip", profile=tent).constraints.kinds == []
    # A kind is a request of its own: the budget tent's tag goes with the tent.
    budget_tent = say("a budget tent")
    assert budget_tent.constraints.required_tags == ["budget"]
    sleeping_bag = say("and a sleeping bag", profile=budget_tent).constraints
    assert (sleeping_bag.kinds, sleeping_bag.required_tags) == (["sleeping bag"], [])
    # ... but for the trip it is for: "what about a backpack?" after a day hike wants a day pack
    # (the ranker drops the trip for a kind none of whose items is for it).
    hike = say("I'm new to hiking, what do I need for a day hike?")
    assert "day-hiking" in hike.constraints.required_tags
    assert say("what about a backpack?", profile=hike).constraints.required_tags == ["day-hiking"]


def test_a_budget_and_a_length_hold_for_the_kind_of_thing_they_were_said_for() -> None:
    books = say("a sci-fi book under $10")
    assert say("something scarier", profile=books).constraints.max_price == 10
    # "Under $10" said of books is no limit for a tent, nor a tent's for sleeping bags.
    tent = say("a tent please", profile=books).constraints
    assert (tent.min_price, tent.max_price) == (None, None)
    tent = say("a tent over $100", profile=books)
    assert (tent.constraints.min_price, tent.constraints.max_price) == (100, None)
    assert say("and a sleeping bag", profile=tent).constraints.min_price is None
    assert say("ok, a tent", profile=tent).constraints.min_price == 100
    # So does a length: "shorter" books are no measure of a film.
    short_books = say("a short book")
    assert say("any more?", profile=short_books).constraints.length == "short"
    assert say("now a film", profile=short_books).constraints.length is None
    assert say("now a short film", profile=short_books).constraints.length == "short"


def test_corrections_undo_earlier_statements() -> None:
    profile = say("nothing scary please", "No thanks, I love horror actually")
    assert "horror" in profile.liked_tags
    assert profile.constraints.excluded_tags == []  # liking horror takes back "nothing scary"
    profile = say("under $20", "money is no object", profile=profile)
    assert profile.constraints.max_price is None
    assert say("I don't want anything romantic or romance").constraints.excluded_tags == ["romance"]
    assert say("I don't mind scary films").constraints.excluded_tags == []


def test_rejection_remembers_what_was_turned_down() -> None:
    assert say("no, not those", last=["a", "b"]).rejected == ["b", "a"]


def test_start_over_clears_everything() -> None:
    assert say("I loved Alien, nothing scary", "start over") == Profile()
    assert say("start over", last=["alien"]) == Profile()  # says nothing of the suggestion


def test_thin_profile_and_description() -> None:
    assert say("recommend something").is_thin()
    profile = say("a cozy mystery book under 20, I loved Alien")
    assert not profile.is_thin()
    assert describe(profile, {"alien": "Alien (1979)"}) == [
        "likes: Alien (1979)", "into: mystery, cozy", "looking for: books", "price: 0 to 20",
    ]


def test_merge_applies_our_change_to_what_another_turn_stored() -> None:
    base = Profile(likes=["a"], liked_tags=["mystery"], rejected=["r"])
    ours = Profile(likes=["b", "a"], liked_tags=["mystery"], rejected=[])  # liked b, took back r
    theirs = Profile(likes=["c", "a"], liked_tags=["mystery", "cozy"], rejected=["r", "s"])  # liked c, cozy; rejected s
    merged = merge_profiles(base, ours, theirs)
    assert merged.likes == ["b", "c", "a"]  # our addition first: the lists are most recent first
    assert merged.liked_tags == ["mystery", "cozy"] and merged.rejected == ["s"]
    # Unchanged by another turn: our profile as it is.
    assert merge_profiles(base, ours, base) == ours


def test_merge_keeps_both_turns_removals_and_ours_wins_a_conflict() -> None:
    base = Profile(likes=["a", "b"], constraints=Constraints(excluded_tags=["scary"]))
    # We turned against a ("actually a was awful") and lifted "nothing scary" by liking horror.
    ours = Profile(likes=["b"], dislikes=["a"], liked_tags=["horror"])
    # Meanwhile they turned against b, disliked horror and excluded romance.
    theirs = Profile(likes=["a"], dislikes=["b"], disliked_tags=["horror"],
                     constraints=Constraints(excluded_tags=["romance", "scary"]))
    merged = merge_profiles(base, ours, theirs)
    assert merged.likes == [] and merged.dislikes == ["a", "b"]  # both turns' changes
    # Horror: we liked it, they disliked it; ours is written last.
    assert merged.liked_tags == ["horror"] and merged.disliked_tags == []
    assert merged.constraints.excluded_tags == ["romance"]


def test_merge_takes_scalars_from_whichever_turn_changed_them() -> None:
    base = Profile(constraints=Constraints(max_price=20, categories=["books"]), context=Context(occasion="birthday"))
    ours = Profile(constraints=Constraints(max_price=15, categories=["books"]), context=Context(occasion="birthday"))
    theirs = Profile(constraints=Constraints(max_price=20, categories=["films"], length="short"),
                     context=Context(occasion="birthday", audience="dad"))
    merged = merge_profiles(base, ours, theirs)
    assert merged.constraints == Constraints(max_price=15, categories=["films"], length="short")
    assert merged.context == Context(occasion="birthday", audience="dad")
    # Both changed one value: ours, written last.
    assert merge_profiles(base, ours, Profile(constraints=Constraints(max_price=30))).constraints.max_price == 15


def test_what_suits_whom_it_is_for_follows_their_age() -> None:
    assert suited_tags("nephew aged 13") == ("young-adult", "family")
    assert suited_tags("son aged 15") == ("young-adult",) == suited_tags("teenage son")
    assert suited_tags("kids") == ("family", "kids") == suited_tags("daughter aged 8")
    assert suited_tags("son aged 30") == () == suited_tags("dad") == suited_tags(None)


@pytest.mark.parametrize("message", ["I like horror, she hates it", "I love horror and my wife cannot stand it",
                                     "I like horror but he doesn't really like it", "I like horror, she dislikes it"])
def test_a_kind_one_likes_and_the_other_dislikes_is_avoided(message: str) -> None:
    # The verbs of someone else's dislike are THEIR_TASTE's (bot.sentiment.DISLIKING).
    constraints = say(message).constraints
    assert "horror" in constraints.excluded_tags and "horror" not in constraints.required_tags


def test_a_kind_one_likes_alone_is_asked_for() -> None:
    assert say("I like horror, and she likes it too").constraints.required_tags == ["horror"]
