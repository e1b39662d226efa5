"""Questions about an item: which facts a message asks for, and the answer from the item's record."""

from __future__ import annotations

from datetime import date

import pytest

from bot.answers import answer, asked_facts, asks_about_it
from bot.plan import plan_turn
from bot.profile import Vocabulary
from bot.understand import Reader, RuleReader, Said
from bot.understanding import ItemQuestion, Understanding
from retrieval.ranking import FriendActivity, Reception
from retrieval.schemas import Item
from retrieval.titles import TitleFinder

ITEMS = {
    "earthsea": Item(id="earthsea", title="A Wizard of Earthsea", category="books", price=13.99, tags=["fantasy"],
                     description="A proud boy unleashes a shadow. He must hunt it down.",
                     attributes={"creator": "Ursula K. Le Guin", "year": 1968, "pages": 183}),
    "alien": Item(id="alien", title="Alien (1979)", category="films", price=7.99, tags=["horror", "sci-fi"],
                  attributes={"creator": "Ridley Scott", "year": 1979, "runtime_min": 117, "rating": "R"}),
    "tent": Item(id="tent", title="Ridgeline 2 Ultralight Tent", category="outdoor",
                 attributes={"brand": "Ridgeline", "weight_g": 1190, "sleeps": 2}),
}


def reader_of(categories: set[str], tags: set[str]) -> Reader:
    """The rule reader over ITEMS, with a vocabulary of these categories and tags."""
    finder = TitleFinder([(item.id, item.title, 1.0) for item in ITEMS.values()])
    return Reader(RuleReader(Vocabulary.for_catalog(categories, tags), finder, lambda: date(2026, 12, 1), items=ITEMS),
                  None, [])


@pytest.mark.parametrize(("message", "facts"), [
    ("how much is it?", ["price"]),
    ("and who wrote it? how long is it?", ["length", "creator"]),
    ("is the second one too long?", ["length"]),
    ("is the first one under 2 hours?", ["length"]),
    ("are they long?", ["length"]),
    ("are those expensive", ["price"]),
    ("when did it come out", ["year"]),
    ("what's it about?", ["about"]),
    ("is it ok for a 10 year old?", ["rating"]),
    ("how heavy is the tent?", ["weight"]),
    ("who's it by?", ["creator"]),
    ("who is the second one by?", ["creator"]),
    ("who composed it?", ["creator"]),
    ("who is the composer of the first one?", ["creator"]),
    ("is it any good?", ["reception"]),
    ("what's the difference between the first two?", ["about", "price"]),
    ("which one would you pick?", ["pick"]),
    ("is the first one worth reading?", ["reception"]),
    ("how much for both of the first ones together?", ["price", "total"]),
    ("how much would all that cost?", ["price", "total"]),
    ("what's the total?", ["price", "total"]),
    ("what do my friends think of it?", ["reception"]),
    ("has anyone here read the first one?", ["reception"]),
    ("did any of my friends like it?", ["reception"]),
    ("did any of my friends like anything sci-fi?", []),
    # How many it sleeps ("is it big enough for two?" had been "I'm afraid I don't know that").
    ("is the first one big enough for two?", ["capacity"]),
    # Which seasons it is for ("is it warm enough for May?" had said only whether it was winter gear).
    ("is it warm enough for May in the highlands?", ["season"]),
    ("is the first one a 3-season bag?", ["season"]),
    # Whether an album has singing, from its record ("is it instrumental?" had been a request).
    ("is the second one instrumental?", ["instrumental"]),
    ("does it have any vocals?", ["instrumental"]),
    ("does it sleep four?", ["capacity"]),
    ("how many people does the tent sleep?", ["capacity"]),
    ("is there room for 3?", ["capacity"]),
    # How much a pack holds, and how much it weighs, are no price ("how much does the first one
    # hold?" had been answered "It is $139.00.").
    ("how much does the first one hold?", ["capacity"]),
    ("how many litres is it?", ["capacity"]),
    ("how much does the first one weigh?", ["weight"]),
    ("how much does the first one cost?", ["price"]),
    ("how many people liked it?", ["reception"]),
    # No question, or no fact asked: none.
    ("something under two hours long", []),
    ("what else have you got?", []),
])
def test_the_facts_a_message_asks_for(message: str, facts: list[str]) -> None:
    assert asked_facts(message) == facts


@pytest.mark.parametrize(("message", "about_it"), [
    ("does it come in blue?", True), ("what colours does it come in?", True), ("what sizes do they come in?", True),
    ("how does the first one fit?", True), ("what do you have?", False), ("what would the best gift be?", False),
])
def test_a_question_asked_outright_about_an_item(message: str, about_it: bool) -> None:
    assert asks_about_it(message) is about_it


def test_the_answer_comes_from_each_items_record_and_says_what_it_lacks() -> None:
    asked = [ItemQuestion(item_id="earthsea", facts=["about", "price", "length", "creator", "capacity"]),
             ItemQuestion(item_id="alien", facts=["length", "rating"]),
             ItemQuestion(item_id="tent", facts=["price", "creator", "weight", "capacity"])]
    assert answer(asked, ITEMS) == (
        "A Wizard of Earthsea: A proud boy unleashes a shadow. It is $13.99. It has 183 pages. It is by Ursula K. "
        "Le Guin. I don't have the capacity of A Wizard of Earthsea. Alien (1979) runs 117 minutes. It is "
        "rated R (under 17 only with a parent). I don't have the price of Ridgeline 2 Ultralight Tent. It is made by "
        "Ridgeline. It weighs 1190 g. It sleeps 2.")


def test_a_question_is_about_what_it_names_else_what_the_last_reply_named_and_gets_an_answer_not_picks() -> None:
    reader = reader_of({"books", "films", "outdoor"}, {"fantasy", "horror", "sci-fi"})
    picks = ("earthsea", "alien", "tent")

    def read(message: str, assistant: str = "Try A Wizard of Earthsea. Or try Alien (1979).") -> Understanding:
        return reader.read(Said(message, assistant, picks, picks))[0]

    second = read("is the second one too long?")
    assert second.questions == [ItemQuestion(item_id="alien", facts=["length"])]
    # A question, not a complaint about its length nor a wish for short things; nor a request for picks.
    assert second.length is None and [o.feeling for o in second.opinions] == ["neutral"] and second.intents == []
    plan = plan_turn("is the second one too long?", second)
    assert plan.answer and not plan.recommend
    # "it" is what the last reply named; "they" the picks it wrote about.
    assert [q.item_id for q in read("and who wrote it?", "A Wizard of Earthsea is $13.99.").questions] == ["earthsea"]
    assert [q.item_id for q in read("how much are they?", "A Wizard of Earthsea is $13.99.").questions] == list(picks)
    # "Are they horror?" asks about the picks' tags: no wish for horror.
    horror = read("are they horror?")
    assert [(q.item_id, q.facts, q.tags) for q in horror.questions] == [(i, ["tags"], ["horror"]) for i in picks]
    assert horror.tags == [] and horror.intents == []
    assert answer(horror.questions[:2], ITEMS) == (
        "No, A Wizard of Earthsea is not a horror book: it is a fantasy book. Yes, Alien (1979) is a horror film.")
    # A question beside a wish gets both.
    both = read("how much is Alien? and something fantasy")
    assert both.questions == [ItemQuestion(item_id="alien", facts=["price"])] and "recommend" in both.intents


def test_which_is_the_cheapest_compares_the_picks_and_wishes_for_nothing() -> None:
    reader = reader_of({"books", "films", "outdoor"}, {"fantasy", "budget"})
    picks = ("earthsea", "alien", "tent")

    def read(message: str) -> Understanding:
        return reader.read(Said(message, "Try A Wizard of Earthsea. Or try Alien (1979).", picks, picks))[0]

    cheapest = read("which is the cheapest?")
    assert [(q.item_id, q.facts, q.most) for q in cheapest.questions] == [(i, ["price"], "least") for i in picks]
    # "Cheapest" is no wish for budget gear, "latest" none for recent years; no picks follow.
    assert cheapest.tags == [] and read("and the latest?").min_year is None and cheapest.intents == []
    assert not plan_turn("which is the cheapest?", cheapest).recommend
    # The item with the least (or the most) of the fact, among those whose record has it.
    assert answer(cheapest.questions, ITEMS) == "Of these, the cheapest is Alien (1979). It is $7.99."
    assert answer(read("which one is the oldest?").questions, ITEMS) == (
        "Of these, the oldest is A Wizard of Earthsea. It is from 1968.")
    assert answer(read("and the heaviest?").questions, ITEMS) == (
        "Of these, the heaviest is Ridgeline 2 Ultralight Tent. It weighs 1190 g.")
    assert answer(read("what's the newest?").questions[2:], ITEMS) == "I don't have the year of these."
    # How many a tent sleeps, how much a pack holds ("which is the biggest?" had shown new picks).
    assert answer(read("which is the biggest?").questions, ITEMS) == (
        "Of these, the biggest is Ridgeline 2 Ultralight Tent. It sleeps 2.")
    assert read("I'm the biggest Alien fan, what's next?").questions == []
    # Naming a kind of thing, it asks for picks: "the cheapest book" is a request.
    assert read("what's the cheapest book?").questions == []


def test_which_is_cheaper_compares_the_items_shown_it_names_by_kind_or_category() -> None:
    # "Which is cheaper, the harness or the shoes?" had been a request for cheaper harnesses and
    # shoes than the first pick.
    reader = reader_of({"books", "films", "outdoor"}, set())
    picks = ("alien", "tent")
    shown = "Try Alien (1979). Or try Ridgeline 2 Ultralight Tent."

    def read(message: str) -> Understanding:
        return reader.read(Said(message, shown, picks, ("earthsea", *picks)))[0]

    between = read("which is cheaper, the book or the film?")
    assert [(q.item_id, q.facts, q.most) for q in between.questions] == [
        ("earthsea", ["price"], "least"), ("alien", ["price"], "least")]
    assert (between.categories, between.max_price, between.intents) == ([], None, [])
    assert answer(between.questions, ITEMS) == "Of these, the cheapest is Alien (1979). It is $7.99."
    # In a later clause, after "which" ("the other two look good, which one is shorter?" had
    # asked for short ones).
    later = read("the book and the film look good, which one is cheaper?")
    assert [(q.item_id, q.most) for q in later.questions] == [("earthsea", "least"), ("alien", "least")]
    assert read("I love fantasy, the newest you have?").questions == []
    lighter = read("which one is heavier?")
    assert [(q.item_id, q.most) for q in lighter.questions] == [("alien", "most"), ("tent", "most")]
    # "Both" after it are the two it compared, not the picks.
    both = reader.read(Said("ok, how much for both together?", "Of these, the cheapest is Alien (1979).", picks,
                            ("earthsea", *picks), ("earthsea", "alien")))[0]
    assert [(q.item_id, q.facts) for q in both.questions] == [("earthsea", ["price", "total"]), ("alien", ["price", "total"])]
    # A comparative asked of nothing shown, or not after "which", asks for new picks.
    for message in ("what about something cheaper?", "which is cheaper than that?", "anything shorter?"):
        assert read(message).questions == [], message


def test_both_of_two_kinds_of_thing_are_the_first_of_each() -> None:
    # "How much are both together?" after "a backpack" and "and a sleeping bag?" had added up three
    # sleeping bags.
    reader = reader_of({"books", "films", "outdoor"}, {"fantasy"})

    def both(message: str, picks: tuple[str, ...], earlier_firsts: tuple[str, ...] = ()) -> list[str]:
        said = Said(message, "Try the picks.", picks, picks, ranked=True, earlier_firsts=earlier_firsts)
        return [question.item_id for question in reader.read(said)[0].questions]

    # The first of each of two kinds the picks hold; else the last request's and the one before.
    assert both("how much for both?", ("earthsea", "alien", "tent")) == ["earthsea", "alien"]
    assert both("how much are both together?", ("tent",), earlier_firsts=("alien",)) == ["tent", "alien"]
    # Of one kind ("something cheaper" after tents), the picks as before.
    assert both("how much are both together?", ("tent",), earlier_firsts=("tent",)) == ["tent"]


def test_the_first_two_are_compared_and_the_one_ranked_first_is_picked() -> None:
    reader = reader_of({"books", "films"}, {"horror"})
    picks = ("alien", "earthsea", "tent")
    two = reader.read(Said("what's the difference between the first two?", "three picks", picks))[0]
    assert [(q.item_id, q.facts) for q in two.questions] == [("alien", ["about", "price"]), ("earthsea", ["about", "price"])]
    assert answer(two.questions, ITEMS) == ("I don't have the story of Alien (1979). It is $7.99. A Wizard of Earthsea: "
                                           "A proud boy unleashes a shadow. It is $13.99.")
    # Asked of the answer's two, in the picks' order whatever order the answer named them in.
    chosen = reader.read(Said("ok which one would you pick?", "A Wizard of Earthsea: ... Alien (1979): ...", picks))[0]
    assert answer(chosen.questions, ITEMS) == "Of these, I'd pick Alien (1979): it came first for what you asked."
    # Two named by their places, side by side: both are asked about, and no picks follow.
    better = reader.read(Said("which is better, the second or the first?", "three picks", picks))[0]
    assert [(q.item_id, q.facts) for q in better.questions] == [("alien", ["pick"]), ("earthsea", ["pick"])]
    assert answer(better.questions, ITEMS) == "Of these, I'd pick Alien (1979): it came first for what you asked."
    assert not plan_turn("which is better, the second or the first?", better).recommend
    # Asked for someone or something, the one that carries most of what that asks for, saying so:
    # "which one is best for a 5 year old?" had asked for six new kids' films.
    young = reader_of({"books", "films"}, {"fantasy", "horror", "family", "kids"}).read(
        Said("which one is best for a 5 year old?", "Alien (1979) or A Wizard of Earthsea?", ("alien", "earthsea")))[0]
    assert [(q.item_id, q.facts) for q in young.questions] == [("alien", ["pick"]), ("earthsea", ["pick"])]
    kids = {**ITEMS, "earthsea": ITEMS["earthsea"].model_copy(update={"tags": ["fantasy", "kids"]})}
    assert answer(young.questions, kids) == "Of these, I'd pick A Wizard of Earthsea: it is a kids book."
    assert young.tags == [] and not plan_turn("which one is best for a 5 year old?", young).recommend


def test_the_prices_asked_together_are_added_up() -> None:
    reader = reader_of({"books", "films"}, {"horror"})
    picks = ("alien", "earthsea", "tent")
    both = reader.read(Said("how much for both of the first ones together?", "three picks", picks))[0]
    assert [(q.item_id, q.facts) for q in both.questions] == [("alien", ["price", "total"]),
                                                              ("earthsea", ["price", "total"])]
    assert answer(both.questions, ITEMS) == "Alien (1979) is $7.99. A Wizard of Earthsea is $13.99. Together they come to $21.98."
    # Where a price is unknown, no total is made up.
    every = [ItemQuestion(item_id=item_id, facts=["price", "total"]) for item_id in picks]
    assert answer(every, ITEMS).endswith(
        "I don't have the price of Ridgeline 2 Ultralight Tent, so I can't add them up.")
    # One item has no total of its own.
    assert answer(every[:1], ITEMS) == "Alien (1979) is $7.99."


def test_is_it_any_good_is_answered_from_what_people_here_shared() -> None:
    friend = FriendActivity("u7", "Ana Ruiz", "alien", "Alien (1979)", "review", 5.0, "Still terrifying.", 0.6)
    received = {"alien": Reception(liked_by=12, rating=4.25, ratings=4, friends=[friend]), "tent": Reception()}
    question = [ItemQuestion(item_id="alien", facts=["reception", "year"])]
    assert answer(question, ITEMS, received.get) == ("Alien (1979) is liked by 12 people here. It is rated 4.2/5 on "
                                                     'average (4 ratings). Your friend Ana Ruiz rated it 5/5: "Still '
                                                     'terrifying." It is from 1979.')
    assert answer([ItemQuestion(item_id="tent", facts=["reception"])], ITEMS, received.get) == (
        "No one here has shared what they think of Ridgeline 2 Ultralight Tent yet.")


def test_which_did_they_like_most_compares_what_people_here_and_the_friends_think() -> None:
    # "Which of those did they like most?" after the friends' picks had answered "I'm afraid I
    # don't know that about" three of them.
    reader = reader_of({"books", "films", "outdoor"}, {"fantasy"})
    picks = ("earthsea", "alien", "tent")

    def read(message: str) -> Understanding:
        return reader.read(Said(message, "Try A Wizard of Earthsea. Or try Alien (1979).", picks, picks))[0]

    most = read("which of those did they like most?")
    assert [(q.item_id, q.facts, q.most) for q in most.questions] == [(i, ["reception"], "most") for i in picks]
    assert most.intents == [] and most.opinions == [] and most.order is None
    friend = FriendActivity("u7", "Ana Ruiz", "earthsea", "A Wizard of Earthsea", "rating", 4.0, None, 0.6)
    received = {"earthsea": Reception(liked_by=2, friends=[friend]), "alien": Reception(liked_by=12, rating=4.25, ratings=4),
                "tent": Reception()}
    # A friend's rating first, then the public ratings, then how many liked it; the least of it likewise.
    assert answer(most.questions, ITEMS, received.get) == (
        "Of these, the best liked is A Wizard of Earthsea. It is liked by 2 people here. Your friend Ana Ruiz rated it 4/5.")
    assert answer(read("which is the least popular?").questions, ITEMS, received.get).startswith(
        "Of these, the least liked is Alien (1979).")
    assert answer(most.questions, ITEMS, lambda item_id: Reception()) == (
        "No one here has shared what they think of these yet.")
    # A request for the most popular is no comparison, nor an order of a measure.
    popular = read("what's your most popular book?")
    assert popular.questions == [] and popular.order is None


def test_a_question_the_records_cannot_answer_says_so_and_brings_no_picks() -> None:
    reader = reader_of({"books", "films", "outdoor"}, {"fantasy"})
    picks = ("tent", "alien")
    sizes = reader.read(Said("does the first one come in other sizes?", "Try Ridgeline 2 Ultralight Tent.", picks))[0]
    assert sizes.questions == [ItemQuestion(item_id="tent", facts=[], words=["sizes"])] and sizes.intents == []
    assert answer(sizes.questions, ITEMS) == "I'm afraid I don't know that about Ridgeline 2 Ultralight Tent."
    both = reader.read(Said("do they come in blue?", "Try Ridgeline 2 Ultralight Tent. Or Alien (1979).", picks))[0]
    assert answer(both.questions, ITEMS) == (
        "I'm afraid I don't know that about Ridgeline 2 Ultralight Tent and Alien (1979).")
    # After a word or two ("great, and ..."), and naming its own category ("as an audiobook"), it
    # still asks about it.
    audio = reader.read(Said("great, and is it available as a film download?", "Alien (1979) runs 117 minutes.", picks))[0]
    assert audio.questions == [ItemQuestion(item_id="alien", facts=[], words=["film", "download"])]
    assert audio.categories == []
    # A question that asks for picks is a request.
    assert reader.read(Said("are there any fantasy ones?", "Try Alien (1979).", picks))[0].questions == []
    assert reader.read(Said("is there a fantasy book like it?", "Try Alien (1979).", picks))[0].questions == []


def test_a_question_the_records_cannot_answer_is_answered_from_the_description_where_it_says() -> None:
    # "Is it breathable?" had been "I'm afraid I don't know that" about a jacket whose
    # description says "excellent breathability".
    shell = Item(id="shell", title="Stormwall Hardshell Jacket", category="outdoor",
                 description="A serious three-layer shell. It has excellent breathability and a helmet-sized hood.")
    reader = reader_of({"books", "films", "outdoor"}, set())
    said = reader.read(Said("ok great, is it breathable?", "Try Ridgeline 2 Ultralight Tent.", ("tent",)))[0]
    assert said.questions == [ItemQuestion(item_id="tent", facts=[], words=["breathable"])]
    items = {**ITEMS, "shell": shell}
    asked = [ItemQuestion(item_id="shell", facts=[], words=["breathable"]),
             ItemQuestion(item_id="tent", facts=[], words=["breathable"])]
    assert answer(asked, items) == (
        "On that, the description of Stormwall Hardshell Jacket says: “It has excellent breathability and a "
        "helmet-sized hood.” I'm afraid I don't know that about Ridgeline 2 Ultralight Tent.")
    # What it is good for is asked of the description, not of what people think of it ("is the
    # first one good for commuting?" had been answered with its likes and ratings).
    commuting = reader.read(Said("is the first one good for commuting?", "Try Ridgeline 2 Ultralight Tent.", ("tent",)))[0]
    assert commuting.questions == [ItemQuestion(item_id="tent", facts=[], words=["commuting"])]
    assert reader.read(Said("is it any good?", "Try Ridgeline 2 Ultralight Tent.", ("tent",)))[0].questions == [
        ItemQuestion(item_id="tent", facts=["reception"])]
    # Every word asked must be said, in one sentence: "gift wrapped" is not "a great gift".
    assert answer([ItemQuestion(item_id="shell", facts=[], words=["hood"])], items).endswith("helmet-sized hood.”")
    assert answer([ItemQuestion(item_id="shell", facts=[], words=["gift", "wrapped"])], items).startswith(
        "I'm afraid I don't know")


def test_a_question_may_name_the_pick_it_is_about_by_its_kind() -> None:
    reader = reader_of({"books", "films", "outdoor"}, {"waterproof", "horror"})
    picks = ("alien", "earthsea", "tent")
    shown = "Try Alien (1979). Or try A Wizard of Earthsea. Also worth a look: Ridgeline 2 Ultralight Tent."
    tent = reader.read(Said("is the tent waterproof?", shown, picks))[0]
    # The tent shown, not every pick; and no wish for more tents.
    assert [(q.item_id, q.facts) for q in tent.questions] == [("tent", ["tags"])]
    assert (tent.kinds, tent.categories) == ([], [])
    assert not plan_turn("is the tent waterproof?", tent).recommend
    film = reader.read(Said("how long is the film?", shown, picks))[0]
    assert [(q.item_id, q.facts) for q in film.questions] == [("alien", ["length"])]
    assert answer(film.questions, ITEMS) == "Alien (1979) runs 117 minutes."
    # A kind none of the picks is still asks for it.
    assert reader.read(Said("is there a waterproof jacket?", shown, picks))[0].questions == []


def test_a_choice_between_items_never_ranked_is_answered_with_what_people_think_of_each() -> None:
    reader = reader_of({"books", "films"}, {"horror"})
    torn = reader.read(Said("I'm torn between Alien and A Wizard of Earthsea, which one would you pick?"))[0]
    # No ranking put either first: "it came first" would be untrue.
    assert [(q.item_id, q.facts) for q in torn.questions] == [("alien", ["reception"]), ("earthsea", ["reception"])]
    # Being torn between them is no dislike of either.
    assert {o.feeling for o in torn.opinions} == {"neutral"}


def test_why_a_pick_was_suggested_is_answered_with_the_reasons_its_card_gave() -> None:
    reader = reader_of({"books", "films"}, {"horror"})
    picks = ("alien", "earthsea")
    why = reader.read(Said("why did you pick the second one?", "Try Alien (1979). Or A Wizard of Earthsea.", picks))[0]
    assert [(q.item_id, q.facts) for q in why.questions] == [("earthsea", ["why"])]
    assert not plan_turn("why did you pick the second one?", why).recommend
    given = {"earthsea": ["because you liked The Hobbit", "popular with the community"]}
    assert answer(why.questions, ITEMS, reasons=given) == (
        "Why A Wizard of Earthsea: because you liked The Hobbit; popular with the community.")
    assert answer([ItemQuestion(item_id="alien", facts=["why"])], ITEMS, reasons=given) == (
        "I haven't suggested Alien (1979) in this conversation.")
