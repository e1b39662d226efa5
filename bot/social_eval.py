"""The social benchmark on HetRec Last.fm 2K: does friends' activity improve recommendations?

For every user with at least 10 artists, 20% of their artists (seeded) are held out. The held-out
plays are hidden from every ranker (no statistic, no friends' activity may read them); each
ranker then ranks the artists not in the user's kept history, and is scored on the held-out
ones: Recall@10 and NDCG@10 per user, averaged. Same split, same run, for Kith with friends,
Kith without them (`social = 0`), item-kNN (collaborative filtering alone) and popularity.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.kith import Kith
from bot.reports import plot_bars, plot_curves, plot_latency, table, timing_summary, write_report
from retrieval.metrics import ndcg_of_set, recall_of_set
from retrieval.ranking import Ranker, RankingWeights, RankRequest

MIN_ARTISTS = 10
HELD_OUT_SHARE = 0.2
K = 10
TASTE_SIZE = 20  # the user's most played kept artists describe their taste


def split(kith: Kith, seed: int, users: int | None) -> tuple[dict[str, list[str]], dict[str, set[str]], frozenset[str]]:
    """(kept artists by user, most played first; held-out artists by user; held-out interaction ids)."""
    plays: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for interaction in kith.stores.database.interactions(kith.catalog):
        plays[interaction.user_id].append((interaction.weight, interaction.item_id, interaction.key))
    generator = random.Random(seed)
    kept: dict[str, list[str]] = {}
    held: dict[str, set[str]] = {}
    hidden: set[str] = set()
    eligible = sorted((u for u, rows in plays.items() if len(rows) >= MIN_ARTISTS), key=int)
    if users is not None:
        eligible = eligible[:users]
    for user in eligible:
        rows = sorted(plays[user])
        generator.shuffle(rows)
        cut = max(1, round(len(rows) * HELD_OUT_SHARE))
        held[user] = {item for _, item, _ in rows[:cut]}
        hidden |= {key for _, _, key in rows[:cut]}
        kept[user] = [item for _, item, _ in sorted(rows[cut:], reverse=True)]
    return kept, held, frozenset(hidden)


def evaluate(kith: Kith, out_dir: Path, seed: int = 0, users: int | None = None) -> dict[str, Any]:
    kept, held, hidden = split(kith, seed, users)
    base = kith.config.ranking
    variants = {
        "kith with friends": base,
        "kith without friends (social = 0)": base.model_copy(update={"social": 0.0}),
        "item-kNN": RankingWeights(semantic=0, tags=0, collaborative=1, social=0, popularity=0, dislike_similarity=0,
                                   disliked_tags=0, repeat=0, diversity=0, candidates=base.candidates),
        "popularity": RankingWeights(semantic=0, tags=0, collaborative=0, social=0, popularity=1, dislike_similarity=0,
                                     disliked_tags=0, repeat=0, diversity=0, candidates=base.candidates),
    }
    results: dict[str, dict[str, float]] = {}
    curves: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    # One ranker without the held-out plays, its statistics shared by every system.
    ranker = Ranker(kith.catalog, kith.stores.database, kith.stores.vectors, kith.embedder, base, hidden)
    for name, weights in variants.items():
        recalls: list[list[float]] = []  # per user: recall@1 .. recall@K
        ndcgs, times = [], []
        with ranker.using(weights):
            for user in tqdm(kept, desc=name, unit="user", leave=False):
                started = time.perf_counter()
                ranking = ranker.rank(RankRequest(query="", user_id=user, likes=kept[user][:TASTE_SIZE]), K)
                times.append(time.perf_counter() - started)
                ranked = [r.item_id for r in ranking.recommendations]
                recalls.append([recall_of_set(ranked, held[user], k) for k in range(1, K + 1)])
                ndcgs.append(ndcg_of_set(ranked, held[user], K))
        curves[name] = [sum(user[k] for user in recalls) / len(recalls) for k in range(K)]
        results[name] = {"users": len(kept), f"recall@{K}": curves[name][-1], f"ndcg@{K}": sum(ndcgs) / len(ndcgs)}
        seconds[name] = times
    with_friends = results["kith with friends"][f"ndcg@{K}"]
    without = results["kith without friends (social = 0)"][f"ndcg@{K}"]
    payload = {
        "catalog": kith.catalog,
        "seed": seed,
        "held_out_share": HELD_OUT_SHARE,
        "min_artists": MIN_ARTISTS,
        "configuration": {name: weights.model_dump() for name, weights in variants.items()},
        "results": results,
        "recall_at_k": curves,
        "friends_lift": with_friends / without if without else None,
        "timings": timing_summary({f"rank ({name})": values for name, values in seconds.items()}),
    }
    write_report(out_dir, "social", payload)
    plot_bars(out_dir / "social.png", "Last.fm: friends' activity", {name: values for name, values in
              ((n, {k: v for k, v in r.items() if k != "users"}) for n, r in results.items())}, "score")
    plot_curves(out_dir / "recall_at_k.png", "Last.fm: Recall@k of the held-out artists", curves, "k", "Recall@k")
    plot_latency(out_dir / "latency.png", "Last.fm: ranking latency per user", payload["timings"])
    return payload


def summary_text(payload: dict[str, Any]) -> str:
    rows = [{"system": name, **values} for name, values in payload["results"].items()]
    lines = [
        f"Last.fm social benchmark: {rows[0]['users']} users, {payload['held_out_share']:.0%} of each user's artists held out (seed {payload['seed']})",
        table(rows, ["system", "users", f"recall@{K}", f"ndcg@{K}"]),
    ]
    if payload["friends_lift"] is not None:
        lines.append(f"NDCG@{K} with friends / without: {payload['friends_lift']:.3f}x")
    return "\n".join(lines)
