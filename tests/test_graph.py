"""The graph model (LightGCN over people, items and friendships) on tiny hand-made graphs that
train in seconds, its self-describing artifact, and its place in the ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.datafiles import Dataset, Origin
from retrieval.embeddings import Embedder
from retrieval.graph import GraphModel, GraphSettings, graph_folder, liked_pairs, load_graph, train_graph
from retrieval.ingest import ingest_dataset
from retrieval.ranking import Ranker, RankingWeights, RankRequest
from retrieval.schemas import Friendship, Interaction, Item, User
from retrieval.store import Stores

# Two tastes: people p0..p5 play rock r0..r5, people q0..q5 play jazz j0..j5, each all but one.
ROCK = [f"r{n}" for n in range(6)]
JAZZ = [f"j{n}" for n in range(6)]
FAST = GraphSettings(embedding_dim=16, layers=2, epochs=60, batch_size=64, learning_rate=0.05, threads=1)


def play(user: str, item: str, visibility: str = "public") -> Interaction:
    return Interaction(id=f"{user}-{item}", user_id=user, item_id=item, kind="view", weight=100, visibility=visibility)


def two_tastes() -> list[Interaction]:
    rows = []
    for n in range(6):
        rows += [play(f"p{n}", item) for item in ROCK if item != f"r{n}"]
        rows += [play(f"q{n}", item) for item in JAZZ if item != f"j{n}"]
    return rows


def test_lightgcn_learns_each_persons_taste_from_the_graph() -> None:
    model = train_graph(two_tastes(), [], FAST.model_copy(update={"friends": False}))
    for n in range(6):
        scores = model.scores(f"p{n}")
        assert scores is not None
        # The one rock artist p_n has not played ranks above every jazz artist.
        missing = scores[model.item_index[f"r{n}"]]
        assert all(missing > scores[model.item_index[j]] for j in JAZZ)
    assert model.info["loss_by_epoch"][-1] < model.info["loss_by_epoch"][0]


def test_friendship_edges_give_a_person_with_no_plays_their_friends_taste() -> None:
    friends = [("newcomer", "p0"), ("newcomer", "p1"), ("newcomer", "p2")]
    social = train_graph(two_tastes(), friends, FAST)
    scores = social.scores("newcomer")
    assert scores is not None and social.friends
    assert min(scores[social.item_index[r]] for r in ROCK) > max(scores[social.item_index[j]] for j in JAZZ)
    # Without friendship edges the graph knows nothing of them.
    plain = train_graph(two_tastes(), friends, FAST.model_copy(update={"friends": False}))
    assert plain.scores("newcomer") is None and not plain.friends


def test_a_person_the_graph_never_saw_is_known_by_what_they_say_they_like() -> None:
    model = train_graph(two_tastes(), [], FAST.model_copy(update={"friends": False}))
    scores = model.scores("stranger", likes=["j0", "j1"])
    assert scores is not None
    assert min(scores[model.item_index[j]] for j in JAZZ[2:]) > max(scores[model.item_index[r]] for r in ROCK)
    assert model.scores("stranger") is None


def test_only_public_positive_activity_becomes_an_edge() -> None:
    rows = [play("a", "x"), play("a", "secret", "private"), play("a", "close", "friends"),
            Interaction(user_id="a", item_id="hated", kind="rating", rating=1, visibility="public")]
    assert liked_pairs(rows) == [("a", "x")]


def test_the_saved_model_says_what_data_what_parameters_and_when(tmp_path: Path) -> None:
    model = train_graph(two_tastes(), [("p0", "q0")], FAST, data={"catalog": "music"})
    folder = model.save(graph_folder(tmp_path, "music"))
    assert folder == tmp_path / "graphs" / "music"
    info = json.loads((folder / "graph.json").read_text())
    assert info["data"]["catalog"] == "music"
    assert info["data"]["liked_pairs"] == 60 and info["data"]["friendships"] == 1 and info["data"]["people"] == 12
    assert info["parameters"] == FAST.model_dump()
    assert info["trained_at"].endswith("+00:00") and set(info["libraries"]) == {"torch", "torch_geometric"}
    loaded = load_graph(folder)
    assert loaded is not None
    assert loaded.user_ids == model.user_ids and loaded.learned_likes("p0") == model.learned_likes("p0")
    assert np.array_equal(loaded.scores("p3"), model.scores("p3"))
    assert load_graph(tmp_path / "graphs" / "elsewhere") is None


def test_a_folder_that_is_not_a_graph_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "graph.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a Kith graph model"):
        GraphModel.load(tmp_path)


def _music(stores: Stores, embedder: Embedder) -> None:
    dataset, origin = Dataset(), Origin("test", None)
    for item in [*ROCK, *JAZZ]:
        dataset.add(Item(id=item, title=f"Artist {item}", category="music", description="A band."), origin)
    for user in sorted({x.user_id for x in two_tastes()} | {"f"}):
        dataset.add(User(id=user, name=f"User {user}"), origin)
    for interaction in two_tastes():
        dataset.add(interaction, origin)
    dataset.add(Friendship(user_id="f", friend_id="p0"), origin)
    ingest_dataset(dataset, "music", "test", stores.database, stores.vectors, embedder)


ONLY_GRAPH = RankingWeights(semantic=0.0, tags=0.0, collaborative=0.0, social=0.0, popularity=0.0, diversity=0.0,
                            popular_candidates=0, graph=1.0)


def test_the_ranker_reads_the_graph_model_as_a_named_component_with_its_reason(stores: Stores, embedder: Embedder,
                                                                               tmp_path: Path) -> None:
    _music(stores, embedder)
    folder = train_graph(stores.database.interactions("music"), [("f", "p0")], FAST).save(tmp_path / "graph")
    ranker = Ranker("music", stores.database, stores.vectors, embedder, ONLY_GRAPH, folder)
    top = ranker.rank(RankRequest(query="", user_id="p2"), 3).recommendations
    # p2 has played every rock artist but r2: that one comes first, and says why.
    assert top[0].item_id == "r2" and top[0].components["graph"] == 1.0
    assert "people whose taste you share, and your friends, loved it" in top[0].reasons
    # Without a model, or at weight 0, the component is silent.
    for silent in (Ranker("music", stores.database, stores.vectors, embedder, ONLY_GRAPH),
                   ranker.with_weights(ONLY_GRAPH.model_copy(update={"graph": 0.0}))):
        assert all(r.components["graph"] == 0.0 for r in silent.rank(RankRequest(query="", user_id="p2"), 3).recommendations)


def test_with_weights_leaves_the_original_ranker_as_it_was(stores: Stores, embedder: Embedder, tmp_path: Path) -> None:
    _music(stores, embedder)
    folder = train_graph(stores.database.interactions("music"), [], FAST).save(tmp_path / "graph")
    ranker = Ranker("music", stores.database, stores.vectors, embedder, ONLY_GRAPH, folder)
    before = [r.item_id for r in ranker.rank(RankRequest(query="", user_id="q1"), 5).recommendations]
    popular = ranker.with_weights(ONLY_GRAPH.model_copy(update={"graph": 0.0, "popularity": 1.0, "popular_candidates": 50}))
    assert popular.weights.popularity == 1.0 and ranker.weights is ONLY_GRAPH and popular.stats is ranker.stats
    assert [r.item_id for r in ranker.rank(RankRequest(query="", user_id="q1"), 5).recommendations] == before
    assert before[0] == "j1"
