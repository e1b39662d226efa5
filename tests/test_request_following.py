"""An explicit request beats history: the rule reader maps everyday words onto the catalog's tags
(synonyms, idioms, mood words that describe the thing wanted, prices in words), and the ranker
returns items that carry the request's tags whatever the person already has."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot.profile import Profile, Vocabulary, apply_understanding, read_rules
from bot.sentiment import analyze
from bot.understanding import Understanding
from retrieval.datafiles import Dataset, Origin
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset
from retrieval.ranking import ASKED_FOR, CAME_UP, CLOSEST, CLOSEST_YOU_HAVE_MOST, Order, Ranker, RankingWeights, RankRequest, of_kind
from retrieval.schemas import Interaction, Item, User
from retrieval.store import Stores

DEMO_TAGS = {"sci-fi", "scary", "horror", "comedy", "funny", "family", "kids", "melancholic", "feel-good", "uplifting",
             "romance", "romantic", "thought-provoking", "western", "chill", "study", "classic", "dark", "tense"}
VOCABULARY = Vocabulary.for_catalog({"books", "films", "music", "outdoor"}, DEMO_TAGS)


def read(text: str) -> Understanding:
    return read_rules(text, analyze(text, []), VOCABULARY, today=date(2025, 6, 1))


@pytest.mark.parametrize("text", [
    "a film, nothing that gives me nightmares",
    "Any space movies that won't give me nightmares?",
    "nothing that will keep me up at night",
    "a film for the sleepover, gentle enough that nobody ends up hiding behind the sofa",
])
def test_idioms_for_scary_are_read_as_an_exclusion(text: str) -> None:
    u = read(text)
    assert "scary" in u.avoid and "scary" not in u.tags


def test_making_the_kids_laugh_asks_for_funny_family_items_in_groups_of_near_synonyms() -> None:
    u = read("something to make my kids laugh")
    assert {"comedy", "funny", "family", "kids"} <= set(u.tags)
    # One word names both tags of a group, so either will do.
    assert VOCABULARY.requirement(u.tags) == [["family", "kids"], ["comedy", "funny"]]
    assert VOCABULARY.requirement(["sci-fi"]) == [["sci-fi"]]


@pytest.mark.parametrize(("text", "tags", "avoid"), [
    ("a thoughtful science-fiction film", {"sci-fi", "thought-provoking"}, set()),
    ("got any good cowboy films?", {"western"}, set()),
    ("a weepie I can watch under a blanket", {"melancholic"}, set()),
    ("some relaxing music to study to", {"chill", "study"}, set()),
    ("no horror and something funny", {"comedy", "funny"}, {"horror"}),
    ("historical fiction, but no sappy love stories", set(), {"romance", "romantic"}),
    ("anything but a love story", set(), {"romance"}),
    ("a war film, but nothing too bleak", set(), {"dark"}),
])
def test_synonyms_and_idioms_map_to_the_catalogs_tags(text: str, tags: set[str], avoid: set[str]) -> None:
    u = read(text)
    assert tags <= set(u.tags) and set(u.avoid) == avoid


def test_mood_words_name_a_tag_only_where_they_describe_the_thing_wanted() -> None:
    assert read("I want a good cry tonight, a sad movie").tags == ["melancholic"]
    assert read("a love story to read on the beach, nothing sad").avoid == ["melancholic"]
    assert read("I don't do sad music. Something upbeat").avoid == ["melancholic"]
    # The person's own mood is no wish for sad stories.
    for text in ("I'm sad today, any films?", "I feel a bit sad", "so happy with that one"):
        assert "melancholic" not in read(text).tags + read(text).avoid


@pytest.mark.parametrize(("text", "max_price", "min_price"), [
    ("a classic novel for under ten dollars", 10, None),
    ("I've got forty pounds of birthday money to spend on vinyl", 40, None),
    ("my spending limit is a tenner", 10, None),
    ("I won't spend more than 50 on it", 50, None),
    ("twenty-five bucks at most", 25, None),
    ("happy to pay at least 200", None, 200),
    ("more than 20 quid is fine", None, 20),
    ("a budget of $40", 40, None),
    ("my budget's about twenty", 20, None),
    ("around $30 please", 30, None),
    ("I have 40 to spend", 40, None),
    ("$40 or more", None, 40),
    ("something over $50", None, 50),
    ("I paid $50 for the last one", None, None),  # what they once paid is no budget
])
def test_prices_said_in_words(text: str, max_price: float | None, min_price: float | None) -> None:
    u = read(text)
    assert (u.max_price, u.min_price) == (max_price, min_price)


def test_an_age_is_no_era_and_a_long_drive_is_no_length() -> None:
    assert read("a cartoon movie for a six year old").max_year is None
    assert read("an old film").max_year == 1989
    assert read("songs for a long road trip").length is None


def test_the_latest_requests_tags_are_required_until_another_request_or_an_exclusion() -> None:
    profile = apply_understanding(Profile(), read("a sci-fi film please"))
    assert profile.constraints.required_tags == ["sci-fi"]
    # Feedback without tags keeps the request; a new request's tags replace it; an exclusion lifts it.
    profile = apply_understanding(profile, read("the second one sounds good"))
    assert profile.constraints.required_tags == ["sci-fi"]
    profile = apply_understanding(profile, read("actually something funny instead"))
    assert set(profile.constraints.required_tags) == {"comedy", "funny"}
    profile = apply_understanding(profile, read("no comedy after all"))
    assert profile.constraints.required_tags == ["funny"]
    assert profile.liked_tags[:1] == ["funny"] and "sci-fi" in profile.liked_tags  # taste outlives the request


# --- the ranker: the request beats the person's history ----------------------------------------

FILMS = [
    ("s1", "Star Voyage", ["sci-fi", "thought-provoking"], "Explorers cross the galaxy to meet an alien mind."),
    ("s2", "Red Planet Diaries", ["sci-fi"], "A lone botanist survives on Mars."),
    ("s3", "The Machine Dreams", ["sci-fi", "thought-provoking"], "A robot wonders what it means to be human."),
    ("s4", "Hull Breach", ["sci-fi", "scary", "horror"], "Something hunts the crew of a derelict spaceship."),
    ("c1", "Wedding Chaos", ["comedy", "funny"], "A best man loses the rings and the groom."),
    ("c2", "Office Pranks", ["comedy"], "Two rivals escalate a prank war at work."),
    ("c3", "Space Laughs", ["comedy", "funny"], "Bumbling astronauts joke their way around the moon."),
    ("d1", "Quiet River", ["drama"], "A family reunites at their late father's farm."),
]


@pytest.fixture
def ranker(stores: Stores, embedder: Embedder) -> Ranker:
    dataset = Dataset()
    origin = Origin("test", None)
    for item_id, title, tags, description in FILMS:
        dataset.add(Item(id=item_id, title=title, category="films", description=description, tags=tags), origin)
    dataset.add(User(id="fan", name="Sci-fi Fan"), origin)
    for item_id, rating in (("s1", 5.0), ("s2", 4.5), ("c3", 1.0)):
        dataset.add(Interaction(user_id="fan", item_id=item_id, kind="rating", rating=rating, visibility="public"),
                    origin)
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)
    return Ranker("films", stores.database, stores.vectors, embedder, RankingWeights())


SCI_FI_NOT_SCARY = dict(query="a thoughtful sci-fi film, nothing scary", categories=["films"],
                        required_tags=[["sci-fi"]], excluded_tags=["scary"])


def test_required_tags_are_a_hard_filter_where_enough_items_fit(ranker: Ranker) -> None:
    # The words lean to comedy ("Space Laughs" is about space too); the request's tags decide.
    picks = ranker.rank(RankRequest(**{**SCI_FI_NOT_SCARY, "query": "something funny about space"}), k=2).recommendations
    assert len(picks) == 2 and all("sci-fi" in p.tags and "scary" not in p.tags for p in picks)


def test_a_person_who_has_most_matching_items_gets_the_new_ones_first_and_is_told_so(ranker: Ranker) -> None:
    picks = ranker.rank(RankRequest(**SCI_FI_NOT_SCARY, user_id="fan"), k=3).recommendations
    # The one sci-fi film the fan has not seen comes first, whatever their history; what they
    # already have stays out; the closest fill up, saying that the fan has most of what fits.
    assert picks[0].item_id == "s3" and not {"s1", "s2", "s4"} & {p.item_id for p in picks}
    assert len(picks) == 3 and all(p.reasons[0] == CLOSEST_YOU_HAVE_MOST for p in picks[1:])
    assert CLOSEST_YOU_HAVE_MOST not in picks[0].reasons


def test_what_was_shown_and_fits_comes_back_only_where_new_ones_are_not_asked_for(ranker: Ranker) -> None:
    # The three sci-fi films that are not scary were shown. "Another" wants new films
    # (`fresh_first`): the closest fresh ones come first. A narrowed request ("under $5",
    # "shorter") or one that asks for nothing new may be answered by what was shown, before films
    # that fit none of it, and those picks say they came up before.
    shown = dict(SCI_FI_NOT_SCARY, seen=["s1", "s2", "s3"])
    another = ranker.rank(RankRequest(**shown), k=3).recommendations
    assert not {"s1", "s2", "s3"} & {p.item_id for p in another}
    narrowed = ranker.rank(RankRequest(**shown, fresh_first=False), k=3).recommendations
    assert {p.item_id for p in narrowed} == {"s1", "s2", "s3"}
    assert all(p.reasons[0] == CAME_UP for p in narrowed)


def test_a_kind_asked_for_is_what_its_title_names_and_nothing_of_another_kind_is_close(ranker: Ranker) -> None:
    # "Diaries" is a kind only "Red Planet Diaries" is of: it is the one answer, though the
    # request's tags alone fit more. A kind nothing is of has no answer: a mug that suits camping
    # is no tent.
    picks = ranker.rank(RankRequest(query="a sci-fi film", required_tags=[["sci-fi"]], kinds=["diaries"]),
                        k=3).recommendations
    assert [p.item_id for p in picks] == ["s2"] and CLOSEST not in picks[0].reasons
    assert len(ranker.rank(RankRequest(query="a sci-fi film", required_tags=[["sci-fi"]]), k=3).recommendations) == 3
    assert ranker.rank(RankRequest(query="a sci-fi film", kinds=["tent"]), k=3).recommendations == []


def test_items_asked_for_by_name_come_first_whatever_else_the_request_says(ranker: Ranker) -> None:
    # c3 is no sci-fi and came up before: asked for by name, it is the first pick all the same.
    picks = ranker.rank(RankRequest(query="do you have it?", required_tags=[["sci-fi"]], seen=["c3"],
                                    asked_for=["c3"]), k=3).recommendations
    assert picks[0].item_id == "c3" and picks[0].reasons == [ASKED_FOR]
    assert len(picks) == 3 and "c3" not in [p.item_id for p in picks[1:]]


def test_a_request_in_order_ranks_what_fits_by_its_measure(stores: Stores, embedder: Embedder) -> None:
    dataset, origin = Dataset(), Origin("test", None)
    prices = {"s1": 9.0, "s2": 4.0, "s3": 6.0, "s4": 1.0, "c1": 2.0, "c2": 3.0, "c3": None, "d1": 5.0}
    for item_id, title, tags, description in FILMS:
        dataset.add(Item(id=item_id, title=title, category="films", description=description, tags=tags,
                         price=prices[item_id]), origin)
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)
    ranker = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights())
    cheapest = ranker.rank(RankRequest(query="the cheapest film", order=Order("price", False, "cheapest")),
                           k=3).recommendations
    assert [p.item_id for p in cheapest] == ["s4", "c1", "c2"]
    assert cheapest[0].reasons[0] == "the cheapest of what fits, at 1.00"
    # Within the request: what fits it, in order; a record without the measure comes last.
    scifi = ranker.rank(RankRequest(query="sci-fi", required_tags=[["sci-fi"]], excluded_tags=["scary"],
                                    order=Order("price", True, "most expensive")), k=3).recommendations
    assert [p.item_id for p in scifi] == ["s1", "s3", "s2"]
    funny = ranker.rank(RankRequest(query="funny", required_tags=[["comedy", "funny"]],
                                    order=Order("price", False, "cheapest")), k=3).recommendations
    assert [p.item_id for p in funny] == ["c1", "c2", "c3"]


def test_near_synonyms_the_request_requires_as_one_group_count_once_in_its_tags(ranker: Ranker) -> None:
    # Comedy and funny are one requirement: Space Laughs (both) is no nearer the request than Red
    # Planet Diaries (sci-fi), each carrying one of its two asks.
    picks = ranker.rank(RankRequest(query="a funny sci-fi film", liked_tags=["comedy", "funny", "sci-fi"],
                                    required_tags=[["comedy", "funny"], ["sci-fi"]]), k=8).recommendations
    tags = {p.item_id: p.components["tags"] for p in picks}
    assert tags["c3"] == tags["s2"] == 0.5 and tags["d1"] == 0.0


def test_a_title_names_its_kind_where_only_a_size_or_a_count_follows() -> None:
    def item(title: str) -> Item:
        return Item(id=title, title=title, category="outdoor")

    assert of_kind(item("Ridgeline Carbon Z-Fold Trekking Poles"), ["trekking poles"])
    assert not of_kind(item("Ridgeline Flyway Trekking Pole Shelter"), ["trekking poles"])
    assert of_kind(item("Saltmarsh Keepdry Roll-Top Dry Bag Set"), ["dry bag"])
    # A bike's seat pack is no backpack ("do you have any backpacks?" had shown it among the packs).
    assert not of_kind(item("Sprocket & Spoke Bikepacking Seat Pack 14L"), ["pack", "daypack"])
    assert of_kind(item("Cairnworks Traverse 60 Backpacking Pack"), ["pack", "daypack"])
    assert of_kind(item("Fernhollow Basecamp Cook Set for 4"), ["cook set"])


def test_what_they_disliked_never_comes_back_and_the_closest_fill_up(ranker: Ranker) -> None:
    # Comedy and funny are one group: c1 and c2 fit; c3 fits too, but the fan disliked it. Too
    # few fit: the third pick is the closest of the rest, and says so.
    funny = ranker.rank(RankRequest(query="a funny film", required_tags=[["comedy", "funny"]], user_id="fan"), k=3)
    ids = [p.item_id for p in funny.recommendations]
    assert len(ids) == 3 and set(ids[:2]) == {"c1", "c2"} and "c3" not in ids
    assert funny.recommendations[2].reasons[0] == CLOSEST
    # Nothing fits at all (no western): the ranking still answers.
    assert len(ranker.rank(RankRequest(query="a western", required_tags=[["western"]]), k=3).recommendations) == 3


def test_the_closest_meet_all_but_one_requirement_and_the_words_rank_them(ranker: Ranker) -> None:
    # No film is both sci-fi and drama: the closest carry one of the two, whichever the fewer
    # films meet, and the request's words put the drama or a sci-fi film first.
    for query, first in (("a grieving family drama", "d1"), ("a robot who wonders what it means to be human", "s3")):
        request = RankRequest(query=query, required_tags=[["sci-fi"], ["drama"]], excluded_tags=["scary"])
        picks = ranker.rank(request, k=3).recommendations
        assert picks[0].item_id == first, query
        assert all({"sci-fi", "drama"} & set(p.tags) for p in picks), query


def test_what_does_not_suit_whom_it_is_for_comes_after_all_that_does(stores: Stores, embedder: Embedder) -> None:
    # The next fantasy book for a 13-year-old had been Outlander, ahead of every young-adult book:
    # an item that suits the audience comes first, however little else of the request it fits.
    dataset, origin = Dataset(), Origin("test", None)
    for item_id, title, tags, description in [
        ("dragons", "Dragon School", ["fantasy", "young-adult"], "A shy girl trains the smallest dragon."),
        ("hobbit", "The Little Burrow", ["fantasy", "family"], "A homebody joins a quest for a dragon's gold."),
        ("highland", "Highland Passion", ["fantasy", "romance"], "A nurse falls through time into a lord's arms."),
        ("arena", "Arena Games", ["young-adult", "thriller"], "A girl volunteers for a deadly televised contest."),
    ]:
        dataset.add(Item(id=item_id, title=title, category="books", description=description, tags=tags), origin)
    ingest_dataset(dataset, "books", "test", stores.database, stores.vectors, embedder)
    ranker = Ranker("books", stores.database, stores.vectors, embedder, RankingWeights())
    teen = RankRequest(query="a fantasy book with dragons", required_tags=[["fantasy"]], suits=["young-adult", "family"])
    picks = [p.item_id for p in ranker.rank(teen, k=4).recommendations]
    assert set(picks[:2]) == {"dragons", "hobbit"} and picks[2:] == ["arena", "highland"]
    # For anyone else, every fantasy book comes before the thriller.
    anyone = [p.item_id for p in ranker.rank(replace(teen, suits=()), k=4).recommendations]
    assert set(anyone[:3]) == {"dragons", "hobbit", "highland"} and anyone[3] == "arena"


def test_what_is_made_for_children_comes_last_unless_it_is_for_a_child(stores: Stores, embedder: Embedder) -> None:
    # "I need new hiking boots" had answered with the kids' hiking boot first.
    dataset, origin = Dataset(), Origin("test", None)
    for item_id, title in [("kids", "Trailblazer Kids' Hiking Boot"), ("mid", "Pathway Waterproof Mid Boot"),
                           ("leather", "Classic Leather Hiking Boot")]:
        dataset.add(Item(id=item_id, title=title, category="outdoor", tags=["day-hiking"],
                         description="A boot for day hikes."), origin)
    ingest_dataset(dataset, "outdoor", "test", stores.database, stores.vectors, embedder)
    ranker = Ranker("outdoor", stores.database, stores.vectors, embedder, RankingWeights())
    boots = RankRequest(query="kids' hiking boots", required_tags=[["day-hiking"]], kinds=["boot"])
    assert [p.item_id for p in ranker.rank(boots, k=3).recommendations][-1] == "kids"
    assert ranker.rank(replace(boots, for_a_child=True), k=3).recommendations[0].item_id == "kids"
