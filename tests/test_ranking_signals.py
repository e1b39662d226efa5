"""The ranking's co-mention and item-similarity components, and MovieLens similarities, on
hand-made data whose answers are worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from retrieval.datafiles import Dataset, Origin
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset
from retrieval.ranking import Ranker, RankingWeights, RankRequest, _comentions, _neighbours, _similar
from retrieval.redial import movielens_similar
from retrieval.schemas import Dialogue, DialogueTurn, Interaction, Item, Mention, User
from retrieval.store import Stores

INDEX = {"a": 0, "b": 1, "c": 2, "d": 3}
STATS = SimpleNamespace(item_index=INDEX, item_ids=list(INDEX))


def test_comentions_are_the_cosine_of_the_items_dialogue_sets() -> None:
    # a: dialogues 0, 1; b: 0, 1; c: 1, 2; d: 2. "x" is not in the catalog.
    matrix = _comentions([["a", "b", "x"], ["a", "b", "c", "a"], ["c", "d"]], INDEX).toarray()
    assert matrix[0, 1] == pytest.approx(2 / math.sqrt(2 * 2))
    assert matrix[0, 2] == pytest.approx(1 / math.sqrt(2 * 2))
    assert matrix[2, 3] == pytest.approx(1 / math.sqrt(2 * 1))
    assert matrix[0, 3] == 0 and all(matrix[n, n] == 0 for n in range(4))
    assert (matrix == matrix.T).all()


def test_neighbours_sum_or_average_over_the_sources_and_leave_the_sources_out() -> None:
    matrix = _comentions([["a", "b"], ["a", "b", "c"], ["c", "d"]], INDEX)
    # From a: b 2/2, c 1/2. From a and c: b 1 + 1/2, d 1/sqrt(2); a and c themselves are sources.
    assert _neighbours(matrix, STATS, ["a"]) == pytest.approx({"b": 1.0, "c": 0.5})
    both = _neighbours(matrix, STATS, ["a", "c", "unknown"])
    assert both == pytest.approx({"b": 1.5, "d": 1 / math.sqrt(2)})
    assert _neighbours(matrix, STATS, ["a", "c"], mean=True) == pytest.approx({"b": 0.75, "d": 0.5 / math.sqrt(2)})
    assert _neighbours(matrix, STATS, []) == {}


def test_similar_reads_the_items_attribute_and_skips_what_it_cannot_use() -> None:
    items = {
        "a": Item(id="a", title="A", category="films", attributes={"similar": {"b": 0.8, "a": 1.0, "zz": 0.9, "c": "high"}}),
        "b": Item(id="b", title="B", category="films", attributes={"similar": [("a", 0.8)]}),
        "c": Item(id="c", title="C", category="films"),
        "d": Item(id="d", title="D", category="films", attributes={"similar": {"c": 0.25, "b": True}}),
    }
    matrix = _similar(items, INDEX).toarray()
    assert matrix[0, 1] == 0.8 and matrix[3, 2] == 0.25
    assert matrix.sum() == pytest.approx(0.8 + 0.25)  # itself, unknown ids, text, lists and booleans skipped


def test_movielens_similar_is_the_cosine_of_the_sets_of_users_who_liked_each_movie(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    # Liked (>= 4): movie 10 by users 1, 2; 20 by 1, 2, 3; 30 by 3. User 1's 2.0 for 30 is no like,
    # and user 2's second rating of 20 counts once.
    ratings.write_text(
        "userId,movieId,rating,timestamp\n"
        "1,10,5.0,0\n1,20,4.0,0\n1,30,2.0,0\n2,10,4.0,0\n2,20,5.0,0\n2,20,4.5,1\n3,20,4.5,0\n3,30,5.0,0\n3,99,5.0,0\n"
    )
    # Catalog movies a and d are both MovieLens 10.
    similar = movielens_similar(ratings, {"a": 10, "b": 20, "c": 30, "d": 10}, per_movie=2)
    assert similar["a"] == pytest.approx({"d": 1.0, "b": 2 / math.sqrt(2 * 3)}, abs=1e-4)  # stored to 4 places
    # b's three neighbours, a and d tied: the best two, ties by id.
    assert list(similar["b"]) == ["a", "d"] and similar["b"]["a"] == pytest.approx(2 / math.sqrt(6), abs=1e-4)
    assert similar["c"] == pytest.approx({"b": 1 / math.sqrt(3)}, abs=1e-4)


def _films(stores: Stores, embedder: Embedder) -> None:
    dataset = Dataset()
    origin = Origin("test", None)
    for name in ("f1", "f2", "f3", "f4", "f5"):
        similar = {"f4": 0.9, "f5": 0.2} if name == "f1" else {}
        attributes = {"similar": similar} if similar else {}
        dataset.add(Item(id=name, title=f"Film {name}", category="films", description="A film.", attributes=attributes), origin)

    def talk(number: int, mentioned: list[str]) -> Dialogue:
        return Dialogue(id=f"d{number}", turns=[
            DialogueTurn(role="user", text="something like these?", mentions=[Mention(item_id=m) for m in mentioned]),
        ])

    dataset.add(talk(1, ["f1", "f2"]), origin)
    dataset.add(talk(2, ["f1", "f2", "f3"]), origin)
    dataset.add(talk(3, ["f3", "f5"]), origin)
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)


ONLY = dict(semantic=0.0, tags=0.0, collaborative=0.0, social=0.0, popularity=0.0, diversity=0.0)


def test_ranker_follows_what_the_dialogues_talk_about_together(stores: Stores, embedder: Embedder) -> None:
    _films(stores, embedder)
    ranker = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights(**ONLY, comention=1.0))
    picks = ranker.rank(RankRequest(query="a film", seen=["f1"]), k=5).recommendations
    # From f1: f2 in 2 of 2 and 2 dialogues (1.0), f3 in 1 of 2 and 2 (0.5), scaled by the best.
    assert [r.item_id for r in picks[:2]] == ["f2", "f3"]
    assert picks[0].components["comention"] == pytest.approx(1.0)
    assert picks[1].components["comention"] == pytest.approx(0.5)
    assert picks[-1].item_id == "f1"  # already mentioned: pushed to the end


def test_ranker_follows_the_similar_attribute_of_what_was_liked(stores: Stores, embedder: Embedder) -> None:
    _films(stores, embedder)
    ranker = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights(**ONLY, similar=1.0))
    picks = ranker.rank(RankRequest(query="a film", likes=["f1"]), k=5).recommendations
    assert [r.item_id for r in picks[:2]] == ["f4", "f5"] and "f1" not in [r.item_id for r in picks]
    assert picks[0].components["similar"] == pytest.approx(0.9)
    # Switched off, neither component is computed.
    off = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights(**ONLY))
    assert all(r.components["similar"] == r.components["comention"] == 0 for r in off.rank(RankRequest(query="a film", likes=["f1"]), k=5).recommendations)


def test_another_listing_of_a_liked_or_mentioned_film_is_no_news(stores: Stores, embedder: Embedder) -> None:
    dataset = Dataset()
    origin = Origin("test", None)
    films = [("m1", "The Matrix (1999)", 1999), ("m2", "The Matrix", None), ("m3", "Matrix, The (1999)", 1999),
             ("s1", "Scream (1996)", 1996), ("s2", "Scream", None), ("s3", "Scream (1981)", 1981),
             ("x", "Heat (1995)", 1995)]
    for item_id, title, year in films:
        attributes = {"year": year} if year else {}
        dataset.add(Item(id=item_id, title=title, category="films", description="A film.", attributes=attributes), origin)
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)
    ranker = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights(**ONLY, popular_candidates=0))
    # Same title, and the same year or none: one film listed twice. Scream (1981) and (1996) are two.
    assert sorted(ranker.stats.listings["m1"]) == ["m2", "m3"] and ranker.stats.listings["s3"] == ("s2",)
    assert "s3" not in ranker.stats.listings["s1"] and "x" not in ranker.stats.listings
    # Names in any script count; names of punctuation alone are no one's other listing.
    for item_id, title in (("k1", "Кино"), ("k2", "Ария"), ("k3", "Ежи И Петруччо"), ("k4", "Ежи и Петруччо"), ("p1", "!!!"), ("p2", ":(")):
        dataset.add(Item(id=item_id, title=title, category="music", description="A band."), origin)
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)
    ranker.refresh()
    assert {i: ranker.stats.listings.get(i) for i in ("k1", "k2", "k3", "p1")} == {"k1": None, "k2": None, "k3": ("k4",), "p1": None}
    picks = [r.item_id for r in ranker.rank(RankRequest(query="a film", categories=["films"], likes=["m1"], seen=["s1"]), k=7).recommendations]
    assert not {"m1", "m2", "m3"} & set(picks)  # liked: removed, under every listing
    assert picks[-2:] in (["s1", "s2"], ["s2", "s1"]) and picks.index("s3") < picks.index("s2")  # mentioned: pushed down


def test_a_dialogues_requests_are_what_was_asked_before_new_suggestions() -> None:
    dialogue = Dialogue(id="d", turns=[
        DialogueTurn(role="assistant", text="Hi! Try Film f9", mentions=[Mention(item_id="f9")]),  # nothing asked yet
        DialogueTurn(role="user", text="Hello"),
        DialogueTurn(role="user", text="I loved Film f1, something like it?", mentions=[Mention(item_id="f1")]),
        DialogueTurn(role="assistant", text="Film f1 is great; try Film f2", mentions=[Mention(item_id="f1"), Mention(item_id="f2")]),
        DialogueTurn(role="user", text="Seen it. Another?"),
        DialogueTurn(role="assistant", text="Then Film f2 again?", mentions=[Mention(item_id="f2")]),  # nothing new
        DialogueTurn(role="assistant", text="Or Film f3", mentions=[Mention(item_id="f3")]),
    ])
    assert [(r.key, r.text, r.items) for r in dialogue.requests()] == [
        ("d#3", "Hello I loved Film f1, something like it?", ("f2",)),
        ("d#6", "I loved Film f1, something like it? Seen it. Another?", ("f3",)),
    ]


def test_ranker_follows_what_agents_suggested_for_similar_requests(stores: Stores, embedder: Embedder) -> None:
    _films(stores, embedder)
    dataset = Dataset()
    origin = Origin("test", None)
    for number, (asked, suggested) in enumerate([
        ("a scary film for halloween please", ["f4"]),
        ("a frightening horror film for halloween", ["f4", "f5"]),
        ("something funny to laugh at with friends", ["f3"]),
    ]):
        dataset.add(Dialogue(id=f"r{number}", turns=[
            DialogueTurn(role="user", text=asked),
            DialogueTurn(role="assistant", text="Try these", mentions=[Mention(item_id=i) for i in suggested]),
        ]), origin)
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)
    ranker = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights(**ONLY, similar_requests=1.0))
    picks = ranker.rank(RankRequest(query="a scary horror film for halloween night"), k=5).recommendations
    asked = embedder.embed(["a scary horror film for halloween night"])[0]
    stored = embedder.embed(["a scary film for halloween please", "a frightening horror film for halloween",
                             "something funny to laugh at with friends"])
    likeness = stored @ asked
    # f4 was suggested for both halloween requests, f5 for one, f3 for the funny one.
    assert [r.item_id for r in picks[:3]] == ["f4", "f5", "f3"]
    assert picks[0].components["similar_requests"] == pytest.approx(1.0)
    assert picks[1].components["similar_requests"] == pytest.approx(likeness[1] / (likeness[0] + likeness[1]), abs=1e-5)
    assert picks[2].components["similar_requests"] == pytest.approx(likeness[2] / (likeness[0] + likeness[1]), abs=1e-5)
    # Without a request there is nothing to compare.
    assert all(r.components["similar_requests"] == 0 for r in ranker.rank(RankRequest(query="", likes=["f1"]), k=5).recommendations)


def test_requests_without_vectors_are_skipped_with_a_warning(stores: Stores, embedder: Embedder, caplog: pytest.LogCaptureFixture) -> None:
    _films(stores, embedder)
    dataset = Dataset()
    dataset.add(Dialogue(id="r0", turns=[
        DialogueTurn(role="user", text="a scary film for halloween please"),
        DialogueTurn(role="assistant", text="Try this", mentions=[Mention(item_id="f4")]),
    ]), Origin("test", None))
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)
    # As in a data folder ingested before Kith stored request vectors.
    stores.vectors.collection("films", "requests").delete(ids=["r0#1"])
    with caplog.at_level("WARNING", logger="retrieval.ranking"):
        ranker = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights(**ONLY, similar_requests=1.0))
    assert "1 of 1 dialogue requests have no vectors" in caplog.text
    picks = ranker.rank(RankRequest(query="a scary film for halloween"), k=5).recommendations
    assert all(r.components["similar_requests"] == 0 for r in picks)


def test_a_pick_liked_by_the_same_people_but_not_alike_says_whose_likers_liked_it(stores: Stores, embedder: Embedder) -> None:
    dataset = Dataset()
    origin = Origin("test", None)
    for item_id, title, description in (
        ("space", "Star Voyage", "Explorers cross the galaxy to meet an alien mind."),
        ("love", "Paris in Spring", "Two strangers fall in love over one weekend in Paris."),
        ("sushi", "Knife and Rice", "A chef spends a lifetime perfecting sushi in a tiny Tokyo bar."),
    ):
        dataset.add(Item(id=item_id, title=title, category="films", description=description), origin)
    # Three people liked both the space film and the sushi film; one liked the romance.
    for person, liked in (("p1", ["space", "sushi"]), ("p2", ["space", "sushi"]), ("p3", ["space", "sushi"]), ("p4", ["love"])):
        dataset.add(User(id=person, name=person), origin)
        for item_id in liked:
            dataset.add(Interaction(user_id=person, item_id=item_id, kind="rating", rating=5.0, visibility="public"), origin)
    ingest_dataset(dataset, "films", "test", stores.database, stores.vectors, embedder)
    ranker = Ranker("films", stores.database, stores.vectors, embedder, RankingWeights(**{**ONLY, "collaborative": 1.0}))
    pick = ranker.rank(RankRequest(query="a film", likes=["love", "space"]), k=1).recommendations[0]
    # Nothing in its words is like either of the person's likes: the reason is the people, and it
    # names the like whose likers liked it (not the romance, its nearest in words or not).
    assert pick.item_id == "sushi" and pick.components["collaborative"] == pytest.approx(1.0)
    assert "people who liked Star Voyage liked it too" in pick.reasons
    assert not any(reason.startswith("because you liked") for reason in pick.reasons)
