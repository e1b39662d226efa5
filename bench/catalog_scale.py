"""Retrieval and ranking latency against catalog size, on synthetic catalogs ingested for real.

A synthetic catalog (seeded, so every run builds the same one) goes through the real ingest:
real Chroma, real SQLite, and the real embedding model up to 10,000 items. Embedding runs at
~25-100 items/s on 2 cores (slowest when the cores are shared), so 100,000 items would take
over an hour: that catalog borrows the 10,000-item catalog's real vectors (ReusedVectors) and
the embedding rate is the 10,000-item one. Each ingested data folder is kept under
`<cache_dir>/bench/synthetic-<items>/` with its ingest report, and reused by later runs.

Run from the repository root with the project's environment:
    .venv/bin/python bench/catalog_scale.py [--sizes 1000 10000 100000] [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
import zlib
from pathlib import Path

import numpy as np

from bot.config import load_config
from evaluation.reports import timing_summary
from retrieval.datafiles import Dataset
from retrieval.embeddings import shared_embedder
from retrieval.ingest import ingest_dataset
from retrieval.ranking import Ranker, RankRequest
from retrieval.schemas import Friendship, Interaction, Item, User
from retrieval.store import Stores

TAGS = {
    "films": ["sci-fi", "thoughtful", "funny", "family", "scary", "romantic", "heist", "war", "animated",
              "musical", "noir", "western", "documentary", "space", "feel-good", "slow-burn"],
    "books": ["mystery", "fantasy", "memoir", "history", "thriller", "poetry", "classic", "cozy", "science",
              "short", "epic", "travel", "cooking", "philosophy", "young-adult", "satire"],
    "music": ["jazz", "rock", "folk", "electronic", "classical", "hip-hop", "ambient", "blues", "soul",
              "punk", "country", "opera", "lo-fi", "indie", "reggae", "metal"],
    "outdoor": ["hiking", "camping", "ultralight", "climbing", "winter", "rain", "cycling", "kayaking",
                "family", "backpacking", "fishing", "running", "budget", "durable", "compact", "trail"],
}
WORDS = ("quiet harbor silver river broken compass midnight garden iron crown paper moon lost signal "
         "northern light hidden valley burning sky glass house wild orchard last train golden hour "
         "stone bridge velvet storm distant shore hollow pine bright engine open road cold spring "
         "little forest deep echo summer ghost winter key salt road copper field amber wave").split()
# Catalogs up to this size are embedded by the real model; larger ones borrow its vectors.
EMBED_LIMIT = 10000
NOUNS = ("story journey machine friendship city island kingdom mystery voyage secret family "
         "detective robot village ocean mountain desert orchestra band song tent jacket boots lamp").split()


def synthetic_dataset(items: int, seed: int = 7) -> Dataset:
    """`items` items over four categories, items/100 people, 5 friends each, items/2 interactions."""
    rng = random.Random(seed)
    dataset = Dataset()
    categories = list(TAGS)
    for n in range(items):
        category = categories[n % len(categories)]
        tags = rng.sample(TAGS[category], 3)
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {n}"
        description = (f"A {tags[0]} {rng.choice(NOUNS)} about a {rng.choice(WORDS)} {rng.choice(NOUNS)}, "
                       f"{tags[1]} and {tags[2]}.")
        dataset.items.append(Item(
            id=f"i{n}", title=title, category=category, description=description, tags=tags,
            price=round(rng.uniform(2, 300), 2), attributes={"year": rng.randint(1950, 2025)},
        ))
    people = max(10, items // 100)
    dataset.users = [User(id=f"u{n}", name=f"Person {n}") for n in range(people)]
    pairs = {tuple(sorted((n, rng.randrange(people)))) for n in range(people) for _ in range(5)}
    dataset.friendships = [
        Friendship(user_id=f"u{a}", friend_id=f"u{b}", strength=round(rng.uniform(0.2, 1.0), 2)) for a, b in pairs if a != b
    ]
    kinds = ["rating", "like", "view", "purchase"]
    visibilities = ["public", "public", "friends", "private"]
    for n in range(items // 2):
        kind = rng.choice(kinds)
        dataset.interactions.append(Interaction(
            id=f"x{n}", user_id=f"u{rng.randrange(people)}", item_id=f"i{int(rng.paretovariate(1.2) * 7) % items}",
            kind=kind, rating=rng.randint(1, 5) if kind == "rating" else None,
            # A few with words of their own (embedded), most bare (they reuse the item's vector).
            text="Loved every minute of it." if n % 50 == 0 else "",
            visibility=rng.choice(visibilities),
        ))
    return dataset


class ReusedVectors:
    """Stands in for the embedding model when building a large catalog quickly: each text gets
    a real embedding of the base catalog's item texts (chosen by a hash of the text), slightly
    perturbed and re-normalized. Chroma, SQLite and ranking run for real on the result; only the
    vectors' meaning is borrowed. The embedding rate is measured on the base catalog instead."""

    def __init__(self, base: np.ndarray, seed: int = 5):
        self.base = base
        self.dimension = base.shape[1]
        self.rng = np.random.default_rng(seed)

    def embed(self, texts, progress: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
        rows = self.base[[zlib.crc32(text.encode()) % len(self.base) for text in texts]]
        rows = rows + self.rng.normal(scale=0.02, size=rows.shape).astype(np.float32)
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def synthetic_catalog(items: int, cache_dir: Path, embed_limit: int = EMBED_LIMIT) -> tuple[Path, str, dict]:
    """An ingested data folder with catalog `synth<items>`, built once; and its ingest report.

    Up to `embed_limit` items, the real embedding model embeds every text. Beyond it (100,000
    items would take over an hour on 2 busy cores), the vectors are borrowed from the
    `embed_limit` catalog (see ReusedVectors) and the report says so."""
    folder = cache_dir / "bench" / f"synthetic-{items}"
    catalog = f"synth{items}"
    report_file = folder / "ingest.json"
    if report_file.is_file():
        return folder, catalog, json.loads(report_file.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    dataset = synthetic_dataset(items)
    embedder = shared_embedder()
    borrowed_from = None
    if items > embed_limit:
        base_folder, base_catalog, _ = synthetic_catalog(embed_limit, cache_dir, embed_limit)
        base_stores = Stores.open(base_folder)
        try:
            ids = [f"i{n}" for n in range(embed_limit)]
            vectors = base_stores.vectors.embeddings(base_catalog, "items", ids)
        finally:
            base_stores.close()
        embedder = ReusedVectors(np.stack([vectors[i] for i in ids]))
        borrowed_from = base_catalog
    stores = Stores.open(folder)
    try:
        report = ingest_dataset(dataset, catalog, "synthetic", stores.database, stores.vectors, embedder, progress=True)
    finally:
        stores.close()
    summary = {
        "items": items,
        "seconds": round(report.seconds, 1),
        "embed_seconds": round(report.embed_seconds, 1),
        "ingest_items_per_s": round(report.items_per_second, 1),
        "embed_items_per_s": round(items / report.embed_seconds, 1) if report.embed_seconds else 0.0,
        "vectors_borrowed_from": borrowed_from,
        "generate_seconds": round(time.perf_counter() - started - report.seconds, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    report_file.write_text(json.dumps(summary, indent=2))
    return folder, catalog, summary


def requests_for(items: int, count: int, seed: int = 11) -> list[RankRequest]:
    """Varied requests (distinct texts, so no query-embedding cache hits), some with history."""
    rng = random.Random(seed)
    people = max(10, items // 100)
    chosen = []
    for n in range(count):
        category = rng.choice(list(TAGS))
        wanted = rng.sample(TAGS[category], 2)
        query = f"something {wanted[0]} and {wanted[1]} about a {rng.choice(WORDS)} {rng.choice(NOUNS)} #{n}"
        chosen.append(RankRequest(
            query=query,
            user_id=f"u{rng.randrange(people)}",
            likes=[f"i{rng.randrange(items)}"] if n % 2 else [],
            liked_tags=wanted,
            categories=[category] if n % 3 else [],
            max_price=150.0 if n % 4 == 0 else None,
        ))
    return chosen


def measure_ranking(folder: Path, catalog: str, items: int, requests: int) -> dict[str, float]:
    """p50/p95 seconds of Ranker.rank (query embedding, Chroma search, scoring, MMR, reasons)."""
    settings = load_config(overrides={"data_dir": folder})
    stores = Stores.open(folder)
    try:
        ranker = Ranker(catalog, stores.database, stores.vectors, shared_embedder(), settings.ranking)
        for request in requests_for(items, 3, seed=99):  # warm-up: first Chroma reads, caches
            ranker.rank(request, settings.recommendations)
        seconds = []
        for request in requests_for(items, requests):
            started = time.perf_counter()
            ranking = ranker.rank(request, settings.recommendations)
            seconds.append(time.perf_counter() - started)
            assert ranking.recommendations, f"no recommendation for {request.query!r}"
    finally:
        stores.close()
    return timing_summary({"rank": seconds})["rank"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    cache_dir = load_config().cache_dir
    print(f"{'items':>8} {'rank p50 (ms)':>14} {'p95 (ms)':>9} {'ingest items/s':>15} {'embed items/s':>14}")
    for items in args.sizes:
        folder, catalog, ingest = synthetic_catalog(items, cache_dir)
        timing = measure_ranking(folder, catalog, items, args.requests)
        print(f"{items:>8} {timing['p50_s'] * 1000:>14.1f} {timing['p95_s'] * 1000:>9.1f} "
              f"{ingest['ingest_items_per_s']:>15.0f} {ingest['embed_items_per_s']:>14.0f}")


if __name__ == "__main__":
    main()
