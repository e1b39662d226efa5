"""Writing a validated Dataset into a catalog: SQLite rows and Chroma vectors, all or nothing.

Order matters. Embedding (the slow part, and the likeliest to be interrupted) happens before
anything is written. The SQLite transaction then wraps the Chroma upserts and commits last, so
a failure anywhere leaves SQLite as it was; Chroma upserts are by id, so a retry converges and
vectors whose rows were rolled back are never surfaced (retrieval reads rows from SQLite).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from retrieval.database import Database
from retrieval.datafiles import DataError, Dataset, Issue, read_files
from retrieval.embeddings import Embedder
from retrieval.schemas import Interaction, Item, check_catalog_name
from retrieval.lastfm import load_lastfm
from retrieval.redial import load_redial
from retrieval.store import Stores
from retrieval.vectors import Metadata, VectorStore


@dataclass(frozen=True)
class IngestReport:
    catalog: str
    source: str
    counts: dict[str, int]
    seconds: float
    embed_seconds: float

    @property
    def items_per_second(self) -> float:
        return self.counts.get("items", 0) / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        written = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in self.counts.items() if count)
        return (
            f"catalog {self.catalog!r}: {written or 'nothing'} from {self.source} in {self.seconds:.1f} s "
            f"(embedding {self.embed_seconds:.1f} s, {self.items_per_second:.0f} items/s)"
        )


def _item_metadata(item: Item) -> Metadata:
    metadata: Metadata = {"category": item.category, "title": item.title}
    if item.price is not None:
        metadata["price"] = item.price
    year = item.attributes.get("year")
    if isinstance(year, int):
        metadata["year"] = year
    return metadata


def _activity_metadata(interaction: Interaction) -> Metadata:
    metadata: Metadata = {
        "user_id": interaction.user_id,
        "item_id": interaction.item_id,
        "kind": interaction.kind,
        "visibility": interaction.visibility,
        "weight": interaction.weight,
    }
    if interaction.rating is not None:
        metadata["rating"] = interaction.rating
    if interaction.timestamp is not None:
        metadata["timestamp"] = interaction.timestamp.timestamp()
    if interaction.text:
        metadata["text"] = interaction.text
    return metadata


def _activity_document(interaction: Interaction, title: str) -> str:
    head = f"{interaction.kind} of {title}"
    if interaction.rating is not None:
        head += f", rated {interaction.rating:g}/5"
    return f"{head}: {interaction.text}" if interaction.text else head


def ingest_dataset(
    dataset: Dataset,
    catalog: str,
    source: str,
    database: Database,
    vectors: VectorStore,
    embedder: Embedder,
    progress: bool = False,
) -> IngestReport:
    check_catalog_name(catalog)
    started = time.perf_counter()

    item_vectors = embedder.embed([item.embedding_text() for item in dataset.items], progress=progress)
    # Activity with words of its own (a review) is embedded from those words; bare activity (a
    # play, a purchase) reuses its item's vector: same meaning, no model call. That keeps a
    # 100k-row listening history cheap to ingest.
    titles = {item.id: item.title for item in dataset.items}
    known_vectors = {item.id: vector for item, vector in zip(dataset.items, item_vectors, strict=True)}
    missing = sorted({x.item_id for x in dataset.interactions} - known_vectors.keys())
    if missing:
        known_vectors.update(vectors.embeddings(catalog, "items", missing))
        titles.update({item.id: item.title for item in database.items(catalog, missing)})
    activity_documents = [_activity_document(x, titles[x.item_id]) for x in dataset.interactions]
    with_text = [n for n, x in enumerate(dataset.interactions) if x.text]
    text_vectors = embedder.embed([activity_documents[n] for n in with_text], progress=progress)
    activity_vectors = np.zeros((len(dataset.interactions), embedder.dimension), dtype=np.float32)
    for n, interaction in enumerate(dataset.interactions):
        activity_vectors[n] = known_vectors[interaction.item_id]
    for row, n in enumerate(with_text):
        activity_vectors[n] = text_vectors[row]
    help_vectors = embedder.embed([f"{h.title}. {h.body}" for h in dataset.help_articles], progress=progress)
    # What people asked before an agent's suggestions, for the ranking's `similar_requests`. A
    # dialogue loaded again with fewer requests leaves its old vectors unread: the ranking looks
    # vectors up by the requests the stored dialogues have now.
    requests = [request for dialogue in dataset.dialogues for request in dialogue.requests()]
    request_vectors = embedder.embed([r.text for r in requests], progress=progress)
    embed_seconds = time.perf_counter() - started

    counts = dataset.counts()
    with database.transaction() as connection:
        database.write_dataset(connection, catalog, source, dataset)
        vectors.upsert(
            catalog, "items",
            [item.id for item in dataset.items],
            [item.embedding_text() for item in dataset.items],
            item_vectors,
            [_item_metadata(item) for item in dataset.items],
            progress=progress,
        )
        vectors.upsert(
            catalog, "activity",
            [x.key for x in dataset.interactions],
            activity_documents,
            activity_vectors,
            [_activity_metadata(x) for x in dataset.interactions],
            progress=progress,
        )
        vectors.upsert(
            catalog, "help",
            [h.id for h in dataset.help_articles],
            [f"{h.title}. {h.body}" for h in dataset.help_articles],
            help_vectors,
            [{"title": h.title} for h in dataset.help_articles],
            progress=progress,
        )
        vectors.upsert(
            catalog, "requests",
            [r.key for r in requests],
            [r.text for r in requests],
            request_vectors,
            [{} for _ in requests],  # the items suggested are read from the stored dialogues
            progress=progress,
        )
        seconds = time.perf_counter() - started
        database.record_ingest(connection, catalog, source, counts, seconds)
    return IngestReport(catalog, source, counts, seconds, embed_seconds)


DEMO_CATALOG = "demo"
SourceFormat = Literal["kith", "redial", "lastfm"]


def demo_data_dir() -> Path:
    """The demo data bundled with Kith (items, users, friendships, interactions, help articles)."""
    return Path(str(resources.files("retrieval") / "demo"))


@dataclass(frozen=True)
class SourceSummary:
    """What reading a source found beyond its records (e.g. ReDial's MovieLens match rate)."""

    notes: list[str]


def read_source(
    paths: Sequence[Path], source_format: SourceFormat, stores: Stores, catalog: str, movielens: Path | None = None
) -> tuple[Dataset, SourceSummary]:
    """Read and validate a source in any supported format; raise DataError listing every problem."""
    if source_format == "kith":
        database = stores.database
        dataset = read_files(paths, database.ids(catalog, "users"), database.ids(catalog, "items"))
        return dataset, SourceSummary([])
    if len(paths) != 1 or not paths[0].is_dir():
        raise DataError([Issue(", ".join(map(str, paths)) or "<none>", None, None,
                               f"--format {source_format} takes exactly one folder")])
    if source_format == "redial":
        imported = load_redial(paths[0], movielens)
        note = (
            f"MovieLens match rate: {imported.movielens_matched}/{imported.movies} "
            f"({imported.match_rate:.1%})" if movielens else "no MovieLens folder given: no genres or tags"
        )
        return imported.dataset, SourceSummary([note])
    if movielens is not None:
        raise DataError([Issue(str(movielens), None, None, "--movielens only applies to --format redial")])
    return load_lastfm(paths[0]), SourceSummary([])
