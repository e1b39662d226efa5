"""A data folder opened for use: the SQLite database and the Chroma vector store side by side."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from retrieval.database import Database
from retrieval.embeddings import DEFAULT_CACHE_DIR, shared_embedder
from retrieval.ingest import rebuild_vectors
from retrieval.vectors import VectorStore, open_chroma

DATABASE_FILE = "kith.db"

log = logging.getLogger(__name__)


@dataclass
class Stores:
    data_dir: Path
    database: Database
    vectors: VectorStore

    @classmethod
    def open(cls, data_dir: Path, chroma_url: str | None = None, batch_size: int = 64,
             chroma_timeout_s: float = 30.0, cache_dir: Path = DEFAULT_CACHE_DIR) -> Stores:
        """Open the data folder. An embedded Chroma folder that cannot be read (a process was
        killed while Chroma wrote it) is moved aside and written again from SQLite, which holds
        every record its vectors are made from (`cache_dir`: where the embedding model is)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(data_dir / DATABASE_FILE)
        vectors = VectorStore(open_chroma(data_dir, chroma_url, chroma_timeout_s), batch_size)
        problem = None if chroma_url else vectors.unreadable()
        if problem is not None:
            vectors.close()
            folder = data_dir / "chroma"
            aside = folder.with_name(f"chroma.unreadable-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            folder.rename(aside)
            log.warning("%s cannot be read (%s); moved it to %s (delete it when done with it) and "
                        "rebuilding the vectors from %s", folder, problem, aside.name, DATABASE_FILE)
            vectors = VectorStore(open_chroma(data_dir), batch_size)
            rebuilt = rebuild_vectors(database, vectors, shared_embedder(batch_size, cache_dir), progress=True)
            log.warning("rebuilt the vectors of %d catalog(s): %s", len(rebuilt), ", ".join(rebuilt) or "none")
        return cls(data_dir=data_dir, database=database, vectors=vectors)

    def close(self) -> None:
        self.database.close()
