"""Writing a validated Dataset into a catalog: Chroma vectors, then SQLite rows, all or nothing.

Order matters. Embedding (the slow part, and the likeliest to be interrupted) happens before
anything is written. Then the Chroma upserts, outside any SQLite transaction: SQLite has one
writer at a time, and a process's connection one user at a time, so holding the transaction
through the upserts (seconds for a large catalog) would stall every chat turn meanwhile (every
turn saves; in this process every query waits for the connection). Last, the SQLite rows, in
one short transaction. A failure before its commit leaves SQLite as it was, and perhaps vectors
without rows; those are never surfaced, because retrieval reads rows from SQLite and skips a
vector whose row it lacks (Ranker._search_items), and Chroma upserts by id, so a re-run
overwrites them and converges. A process killed inside Chroma's own writes can leave its
folder unreadable; Stores.open then rebuilds the vectors from SQLite (rebuild_vectors).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from tqdm import tqdm

from retrieval.database import Database
from retrieval.datafiles import DataError, Dataset, Issue, read_files
from retrieval.embeddings import Embedder
from retrieval.schemas import Interaction, Item, check_catalog_name
from retrieval.lastfm import load_lastfm
from retrieval.redial import load_redial
from retrieval.vectors import CollectionKind, Metadata, VectorStore

if TYPE_CHECKING:  # retrieval.store opens a data folder with rebuild_vectors from here
    from retrieval.store import Stores


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


# Records per Chroma upsert call. Embedded Chroma holds Python's GIL through a whole call, and so
# stops every other thread of the process (a chat turn too): measured on 2 busy shared cores, one
# call of 4,096 records stopped them for 5.1 s, calls of 256 for at most 0.6 s, and a chat turn
# during a 5,000-item ingest took 0.4-0.7 s instead of 7.5 s. Writing 5,000 items took ~5-15%
# longer in slices (9.0-10.3 s against 8.5-9.1 s, three runs each).
CHROMA_SLICE = 256


def _upsert(
    vectors: VectorStore, catalog: str, kind: CollectionKind, ids: Sequence[str], documents: Sequence[str],
    embeddings: np.ndarray, metadatas: Sequence[Metadata], progress: bool,
) -> None:
    starts = range(0, len(ids), CHROMA_SLICE)
    for start in tqdm(starts, desc=f"{kind} -> Chroma", unit="slice", disable=not progress or len(starts) < 2):
        end = start + CHROMA_SLICE
        vectors.upsert(catalog, kind, ids[start:end], documents[start:end], embeddings[start:end], metadatas[start:end])


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
    embed_seconds = write_vectors(dataset, catalog, database, vectors, embedder, progress)
    counts = dataset.counts()
    with database.transaction() as connection:
        database.write_dataset(connection, catalog, source, dataset)
        seconds = time.perf_counter() - started
        database.record_ingest(connection, catalog, source, counts, seconds)
    return IngestReport(catalog, source, counts, seconds, embed_seconds)


def write_vectors(
    dataset: Dataset, catalog: str, database: Database, vectors: VectorStore, embedder: Embedder, progress: bool = False
) -> float:
    """Embed the dataset's records and upsert them into the catalog's collections; the seconds
    spent embedding."""
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

    _upsert(
        vectors, catalog, "items",
        [item.id for item in dataset.items],
        [item.embedding_text() for item in dataset.items],
        item_vectors,
        [_item_metadata(item) for item in dataset.items],
        progress,
    )
    _upsert(
        vectors, catalog, "activity",
        [x.key for x in dataset.interactions],
        activity_documents,
        activity_vectors,
        [_activity_metadata(x) for x in dataset.interactions],
        progress,
    )
    _upsert(
        vectors, catalog, "help",
        [h.id for h in dataset.help_articles],
        [f"{h.title}. {h.body}" for h in dataset.help_articles],
        help_vectors,
        [{"title": h.title} for h in dataset.help_articles],
        progress,
    )
    _upsert(
        vectors, catalog, "requests",
        [r.key for r in requests],
        [r.text for r in requests],
        request_vectors,
        [{} for _ in requests],  # the items suggested are read from the stored dialogues
        progress,
    )
    return embed_seconds


def rebuild_vectors(database: Database, vectors: VectorStore, embedder: Embedder, progress: bool = False) -> list[str]:
    """Write every catalog's vectors again from SQLite, which holds every record they are made
    from: how a Chroma folder left unreadable is replaced (Stores.open). The catalogs rebuilt."""
    catalogs = database.catalogs()
    for catalog in catalogs:
        stored = Dataset(
            items=database.items(catalog),
            interactions=database.interactions(catalog),
            help_articles=database.help_articles(catalog),
            dialogues=database.dialogues(catalog),
        )
        write_vectors(stored, catalog, database, vectors, embedder, progress)
    return catalogs


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
    paths: Sequence[Path], source_format: SourceFormat, stores: Stores, catalog: str, movielens: Path | None = None,
    dialogues: Sequence[Path] | None = None,
) -> tuple[Dataset, SourceSummary]:
    """Read and validate a source in any supported format; raise DataError listing every problem.
    `movielens` and `dialogues` (ReDial conversation files; default the folder's train.jsonl) apply
    to ReDial only."""
    if source_format == "kith":
        database = stores.database
        dataset = read_files(paths, database.ids(catalog, "users"), database.ids(catalog, "items"))
        return dataset, SourceSummary([])
    if len(paths) != 1 or not paths[0].is_dir():
        raise DataError([Issue(", ".join(map(str, paths)) or "<none>", None, None,
                               f"--format {source_format} takes exactly one folder")])
    if source_format == "redial":
        imported = load_redial(paths[0], movielens, dialogues)
        note = (
            f"MovieLens match rate: {imported.movielens_matched}/{imported.movies} "
            f"({imported.match_rate:.1%})" if movielens else "no MovieLens folder given: no genres or tags"
        )
        files = ", ".join(map(str, imported.dialogue_files))
        knowledge = f"knowledge: the conversations of {files}" if files else "no dialogue files: the catalog alone"
        return imported.dataset, SourceSummary([note, knowledge])
    if movielens is not None:
        raise DataError([Issue(str(movielens), None, None, "--movielens only applies to --format redial")])
    if dialogues is not None:
        raise DataError([Issue(", ".join(map(str, dialogues)), None, None, "--dialogues only applies to --format redial")])
    return load_lastfm(paths[0]), SourceSummary([])
