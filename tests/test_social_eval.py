"""The Last.fm social benchmark's split, systems, report and plots, on a hand-made catalog."""

from __future__ import annotations

import json
from pathlib import Path

from bot.kith import Kith
from bot.social_eval import HELD_OUT_SHARE, evaluate, split
from retrieval.datafiles import Dataset, Origin
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset
from retrieval.schemas import Friendship, Interaction, Item, User
from retrieval.store import Stores

# Two pairs of friends who share their taste, and two people with no friends.
HISTORIES = {"1": range(0, 10), "2": range(0, 12), "3": range(10, 20), "4": range(10, 22), "5": range(20, 30), "6": range(20, 30)}
FRIENDS = [("1", "2"), ("3", "4")]


def test_split_systems_report_and_plots(tmp_path: Path, embedder: Embedder) -> None:
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
    kith = Kith.open(tmp_path / "data", catalog="music")

    kept, held, hidden = split(kith, seed=0, users=None)
    for user, artists in HISTORIES.items():
        assert len(held[user]) == round(len(artists) * HELD_OUT_SHARE)
        assert not held[user] & set(kept[user]) and len(held[user]) + len(kept[user]) == len(artists)
        assert {f"{user}-{a}" for a in held[user]} <= hidden
    # The kept history is ordered most played first.
    assert kept["1"] == [f"a{n}" for n in range(10) if f"a{n}" not in held["1"]]

    payload = evaluate(kith, tmp_path / "out", seed=0)
    results = payload["results"]
    assert set(results) == {"kith with friends", "kith without friends (social = 0)", "item-kNN", "popularity"}
    assert payload["configuration"]["kith without friends (social = 0)"]["social"] == 0.0
    for name, curve in payload["recall_at_k"].items():
        assert len(curve) == 10 and curve == sorted(curve) and results[name]["recall@10"] == curve[-1]
        assert results[name]["users"] == 6
    with_friends, without = results["kith with friends"]["ndcg@10"], results["kith without friends (social = 0)"]["ndcg@10"]
    assert payload["friends_lift"] == with_friends / without
    assert json.loads((tmp_path / "out" / "report.json").read_text())["seed"] == 0
    for plot in ("social.png", "recall_at_k.png", "latency.png"):
        assert (tmp_path / "out" / plot).stat().st_size > 0
    kith.close()
