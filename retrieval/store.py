"""A data folder opened for use: the SQLite database and the Chroma vector store side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrieval.database import Database
from retrieval.vectors import VectorStore, open_chroma

DATABASE_FILE = "kith.db"


@dataclass
class Stores:
    data_dir: Path
    database: Database
    vectors: VectorStore

    @classmethod
    def open(cls, data_dir: Path, chroma_url: str | None = None, batch_size: int = 64,
             chroma_timeout_s: float = 30.0) -> Stores:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            data_dir=data_dir,
            database=Database(data_dir / DATABASE_FILE),
            vectors=VectorStore(open_chroma(data_dir, chroma_url, chroma_timeout_s), batch_size),
        )

    def close(self) -> None:
        self.database.close()
