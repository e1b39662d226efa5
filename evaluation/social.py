"""The social benchmark on HetRec Last.fm 2K: does friends' activity improve recommendations?

For every user with at least 10 artists, 20% of their artists (seeded) are held out. Every
recommender is fitted on the rest (the training part: no statistic, no friends' activity, no
graph model reads a held-out play) through one interface (`evaluation.recommenders`), ranks the
artists not in the user's kept history, and is scored on the held-out ones: Recall@10 and
NDCG@10 per user, averaged. Same split, same run, for popularity, item-kNN, LightGCN (the
people–artists graph), LightGCN with the friendships as edges too, Kith without friends
(`social = 0`, its graph component the plain LightGCN) and Kith with friends (its graph
component the one with friendships). Each seed is a new split; the table gives the mean over
the seeds and their spread (min..max).

`validation`: the same, one level down. The training part is split again (20% of each user's
kept artists) and the systems are scored on that, never on the held-out part: this is where
weights and training parameters are tuned.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.kith import Kith
from evaluation.recommenders import ItemKNN, KithRecommender, LightGCN, Popularity, Recommender
from evaluation.reports import plot_bars, plot_curves, plot_latency, table, timing_summary, write_report
from retrieval.graph import GraphSettings, catalog_friendships
from retrieval.metrics import ndcg_of_set, recall_of_set
from retrieval.ranking import RankRequest
from retrieval.schemas import Interaction

MIN_ARTISTS = 10
HELD_OUT_SHARE = 0.2
K = 10
TASTE_SIZE = 20  # the user's most played kept artists describe their taste
SEEDS = (0, 1, 2)
# The validation split of a seed's training part is seeded apart from every test split.
VALIDATION_SEED_OFFSET = 1000
WITH_FRIENDS = "kith with friends"
WITHOUT_FRIENDS = "kith without friends"
LIGHTGCN = "LightGCN"


@dataclass(frozen=True)
class Split:
    kept: dict[str, list[str]]  # per evaluated user: kept artists, most played first
    held: dict[str, set[str]]  # per evaluated user: held-out artists
    training: list[Interaction]  # every interaction not held out (other users' too)


def split(interactions: Sequence[Interaction], seed: int, users: int | None = None) -> Split:
    """Hold out HELD_OUT_SHARE of the artists of each user with at least MIN_ARTISTS (the first
    `users` of them by id, if given)."""
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for interaction in interactions:
        by_user[interaction.user_id].append(interaction)
    generator = random.Random(seed)
    kept: dict[str, list[str]] = {}
    held: dict[str, set[str]] = {}
    hidden: set[str] = set()
    eligible = sorted((u for u, rows in by_user.items() if len(rows) >= MIN_ARTISTS), key=lambda u: (len(u), u))
    if users is not None:
        eligible = eligible[:users]
    for user in eligible:
        rows = sorted((x.weight, x.item_id, x.key) for x in by_user[user])
        generator.shuffle(rows)
        cut = max(1, round(len(rows) * HELD_OUT_SHARE))
        held[user] = {item for _, item, _ in rows[:cut]}
        hidden |= {key for _, _, key in rows[:cut]}
        kept[user] = [item for _, item, _ in sorted(rows[cut:], reverse=True)]
    return Split(kept, held, [x for x in interactions if x.key not in hidden])


def _measure(system: Recommender, case: Split, label: str) -> tuple[dict[str, float], list[float], list[float]]:
    recalls: list[list[float]] = []  # per user: recall@1 .. recall@K
    ndcgs, seconds = [], []
    for user in tqdm(case.kept, desc=label, unit="user", leave=False):
        started = time.perf_counter()
        ranked = system.recommend(RankRequest(query="", user_id=user, likes=case.kept[user][:TASTE_SIZE]), K)
        seconds.append(time.perf_counter() - started)
        recalls.append([recall_of_set(ranked, case.held[user], k) for k in range(1, K + 1)])
        ndcgs.append(ndcg_of_set(ranked, case.held[user], K))
    curve = [sum(user[k] for user in recalls) / len(recalls) for k in range(K)]
    return {"users": len(case.kept), f"recall@{K}": curve[-1], f"ndcg@{K}": sum(ndcgs) / len(ndcgs)}, curve, seconds


def evaluate(kith: Kith, out_dir: Path, seeds: Sequence[int] = SEEDS, users: int | None = None,
             graph: GraphSettings | None = None, validation: bool = False, progress: bool = False) -> dict[str, Any]:
    graph = graph or GraphSettings()
    interactions = kith.stores.database.interactions(kith.catalog)
    friendships = catalog_friendships(kith.stores.database, kith.catalog)
    with_friends = kith.config.ranking
    without_friends = with_friends.model_copy(update={"social": 0.0})
    per_seed: dict[int, dict[str, dict[str, float]]] = {}
    curves: dict[str, list[list[float]]] = defaultdict(list)
    seconds: dict[str, list[float]] = defaultdict(list)
    training_seconds: dict[str, list[float]] = defaultdict(list)
    for seed in seeds:
        case = split(interactions, seed, users)
        if validation:
            case = split(case.training, seed + VALIDATION_SEED_OFFSET, users)
        data = {"catalog": kith.catalog, "split": f"{'validation of ' if validation else ''}seed {seed}, "
                                                  f"{HELD_OUT_SHARE:.0%} of each user's artists held out"}
        plain = LightGCN(graph.model_copy(update={"friends": False}), (), LIGHTGCN, data, progress)
        social = LightGCN(graph.model_copy(update={"friends": True}), friendships, "LightGCN with friendship edges", data, progress)
        results: dict[str, dict[str, float]] = {}
        measured: list[Recommender] = [Popularity(), ItemKNN(), plain, social]
        for system in measured:
            system.fit(case.training)
        training_seconds[LIGHTGCN].append(plain.seconds)
        training_seconds[social.name].append(social.seconds)
        # Kith's graph component: the LightGCN fitted just now on the same training part, the one
        # without friendships when Kith goes without friends.
        kith_with = KithRecommender(kith.catalog, kith.stores.database, kith.stores.vectors, kith.embedder,
                                    with_friends, social.model, WITH_FRIENDS).fit(case.training)
        kith_without = KithRecommender(kith.catalog, kith.stores.database, kith.stores.vectors, kith.embedder,
                                       without_friends, plain.model, WITHOUT_FRIENDS).fit(case.training)
        for system in [*measured, kith_without, kith_with]:
            results[system.name], curve, times = _measure(system, case, f"{system.name} (seed {seed})")
            curves[system.name].append(curve)
            seconds[system.name] += times
        per_seed[seed] = results

    names = list(per_seed[seeds[0]])
    summary = {name: _spread([per_seed[seed][name] for seed in seeds]) for name in names}
    lifts = [per_seed[s][WITH_FRIENDS][f"ndcg@{K}"] / per_seed[s][WITHOUT_FRIENDS][f"ndcg@{K}"] for s in seeds
             if per_seed[s][WITHOUT_FRIENDS][f"ndcg@{K}"]]
    versus = [per_seed[s][WITH_FRIENDS][f"ndcg@{K}"] / per_seed[s][LIGHTGCN][f"ndcg@{K}"] for s in seeds
              if per_seed[s][LIGHTGCN][f"ndcg@{K}"]]
    mean_curves = {name: [statistics.fmean(c[k] for c in values) for k in range(K)] for name, values in curves.items()}
    payload = {
        "catalog": kith.catalog,
        "seeds": list(seeds),
        "part_scored": "validation (of the training part)" if validation else "held-out test",
        "held_out_share": HELD_OUT_SHARE,
        "min_artists": MIN_ARTISTS,
        "configuration": {WITH_FRIENDS: with_friends.model_dump(), WITHOUT_FRIENDS: without_friends.model_dump(),
                          "graph": graph.model_dump()},
        "results": summary,
        "results_by_seed": {str(seed): results for seed, results in per_seed.items()},
        "recall_at_k": mean_curves,
        "friends_lift": _spread_of(lifts),
        "kith_over_lightgcn": _spread_of(versus),
        "graph_training_seconds": {name: _spread_of(values) for name, values in training_seconds.items()},
        "timings": timing_summary({f"rank ({name})": values for name, values in seconds.items()}),
    }
    write_report(out_dir, "social", payload)
    plot_bars(out_dir / "social.png", "Last.fm: friends' activity, mean over seeds",
              {name: {metric: values["mean"] for metric, values in result.items() if metric != "users"}
               for name, result in summary.items()}, "score")
    plot_curves(out_dir / "recall_at_k.png", "Last.fm: Recall@k of the held-out artists", mean_curves, "k", "Recall@k")
    plot_latency(out_dir / "latency.png", "Last.fm: ranking latency per user", payload["timings"])
    return payload


def _spread_of(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}


def _spread(results: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric: mean, min and max over the seeds' results."""
    return {metric: _spread_of([r[metric] for r in results]) for metric in results[0]}  # type: ignore[misc]


def _cell(values: dict[str, float]) -> str:
    return f"{values['mean']:.4f} ({values['min']:.4f}..{values['max']:.4f})"


def summary_text(payload: dict[str, Any]) -> str:
    rows = [{"system": name, "users": int(values["users"]["mean"]), f"recall@{K}": _cell(values[f"recall@{K}"]),
             f"ndcg@{K}": _cell(values[f"ndcg@{K}"])} for name, values in payload["results"].items()]
    seeds = ", ".join(map(str, payload["seeds"]))
    lines = [
        f"Last.fm social benchmark, scored on the {payload['part_scored']} part: {rows[0]['users']} users, "
        f"{payload['held_out_share']:.0%} of each user's artists held out; mean (min..max) over seeds {seeds}",
        table(rows, ["system", "users", f"recall@{K}", f"ndcg@{K}"]),
    ]
    if payload["friends_lift"] is not None:
        lines.append(f"NDCG@{K} Kith with friends / without: {_cell(payload['friends_lift'])}x (target 1.05x)")
    if payload["kith_over_lightgcn"] is not None:
        lines.append(f"NDCG@{K} Kith with friends / LightGCN: {_cell(payload['kith_over_lightgcn'])}x (target above 1)")
    for name, values in payload["graph_training_seconds"].items():
        lines.append(f"graph training ({name}): {values['mean']:.0f} s a seed ({values['min']:.0f}..{values['max']:.0f})")
    return "\n".join(lines)
