"""The Last.fm social benchmark's split, systems, report and plots, on a hand-made catalog."""

from __future__ import annotations

import json
from pathlib import Path

from bot.kith import Kith
from evaluation.social import HELD_OUT_SHARE, evaluate, split, summary_text
from retrieval.datafiles import Dataset, Origin
from retrieval.embeddings import Embedder
from retrieval.graph import GraphSettings
from retrieval.ingest import ingest_dataset
from retrieval.schemas import Friendship, Interaction, Item, User
from retrieval.store import Stores

# Two pairs of friends who share their taste, and two people with no friends.
HISTORIES = {"1": range(0, 10), "2": range(0, 12), "3": range(10, 20), "4": range(10, 22), "5": range(20, 30), "6": range(20, 30)}
FRIENDS = [("1", "2"), ("3", "4")]
TINY_GRAPH = GraphSettings(embedding_dim=8, layers=2, epochs=3, batch_size=32, threads=1)


def _music(tmp_path: Path, embedder: Embedder) -> Kith:
    dataset, origin = Dataset(), Origin("test", None)
    for n in range(30):
        dataset.add(Item(id=f"a{n}", title=f"Artist {n}", category="music", description="A band."), origin)
    for user, artists in HISTORIES.items():
        dataset.add(User(id=user, name=f"User {user}"), origin)
        for rank, n in enumerate(artists):
            dataset.add(Interaction(id=f"{user}-a{n}", user_id=user, item_id=f"a{n}", kind="view",
                                    weight=1000 - 10 * rank, visibility="public"), origin)
    for user, friend in FRIENDS:
        dataset.add(Friendship(user_id=user, friend_id=friend), origin)
    stores = Stores.open(tmp_path / "data")
    ingest_dataset(dataset, "music", "test", stores.database, stores.vectors, embedder)
    stores.close()
    return Kith.open(tmp_path / "data", catalog="music")


def test_split_holds_out_a_share_of_each_users_artists(tmp_path: Path, embedder: Embedder) -> None:
    kith = _music(tmp_path, embedder)
    interactions = kith.stores.database.interactions("music")
    case = split(interactions, seed=0)
    for user, artists in HISTORIES.items():
        assert len(case.held[user]) == round(len(artists) * HELD_OUT_SHARE)
        assert not case.held[user] & set(case.kept[user]) and len(case.held[user]) + len(case.kept[user]) == len(artists)
    # The training part is everything but the held-out plays.
    training = {(x.user_id, x.item_id) for x in case.training}
    held = {(user, item) for user, items in case.held.items() for item in items}
    assert training == {(x.user_id, x.item_id) for x in interactions} - held
    # The kept history is ordered most played first; another seed holds out other artists.
    assert case.kept["1"] == [f"a{n}" for n in range(10) if f"a{n}" not in case.held["1"]]
    assert split(interactions, seed=1).held != case.held
    kith.close()


def test_every_system_over_seeds_with_the_spread_report_and_plots(tmp_path: Path, embedder: Embedder) -> None:
    kith = _music(tmp_path, embedder)
    payload = evaluate(kith, tmp_path / "out", seeds=(0, 1), graph=TINY_GRAPH)
    results = payload["results"]
    assert list(results) == ["popularity", "item-kNN", "LightGCN", "LightGCN with friendship edges",
                             "kith without friends", "kith with friends"]
    assert payload["configuration"]["kith without friends"]["social"] == 0.0
    for name, values in results.items():
        per_seed = [payload["results_by_seed"][seed][name]["ndcg@10"] for seed in ("0", "1")]
        assert values["ndcg@10"] == {"mean": sum(per_seed) / 2, "min": min(per_seed), "max": max(per_seed)}
        assert values["users"]["mean"] == 6
        curve = payload["recall_at_k"][name]
        assert len(curve) == 10 and curve == sorted(curve)
    by_seed = payload["results_by_seed"]["0"]
    assert payload["friends_lift"]["min"] <= by_seed["kith with friends"]["ndcg@10"] / by_seed["kith without friends"]["ndcg@10"] <= payload["friends_lift"]["max"]
    assert set(payload["graph_training_seconds"]) == {"LightGCN", "LightGCN with friendship edges"}
    assert json.loads((tmp_path / "out" / "report.json").read_text())["seeds"] == [0, 1]
    for plot in ("social.png", "recall_at_k.png", "latency.png"):
        assert (tmp_path / "out" / plot).stat().st_size > 0
    assert "kith with friends" in summary_text(payload) and "graph training (LightGCN)" in summary_text(payload)
    kith.close()


def test_validation_scores_a_split_of_the_training_part_only(tmp_path: Path, embedder: Embedder) -> None:
    kith = _music(tmp_path, embedder)
    interactions = kith.stores.database.interactions("music")
    payload = evaluate(kith, tmp_path / "out", seeds=(0,), graph=TINY_GRAPH, validation=True)
    assert payload["part_scored"] == "validation (of the training part)"
    # Users 1, 3, 5 and 6 keep 8 artists, fewer than the 10 a split needs; users 2 and 4 keep 10 (of 12).
    assert payload["results"]["popularity"]["users"]["mean"] == 2
    test = split(interactions, seed=0)
    assert len(test.kept["2"]) == len(test.kept["4"]) == 10 and len(test.kept["1"]) == 8
    kith.close()
