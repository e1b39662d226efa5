"""Vectors in a real Chroma server (`chroma run` on loopback), as when Kith scales out."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset, read_source
from retrieval.store import Stores
from retrieval.vectors import open_chroma


def test_ingest_and_query_through_a_chroma_server(chroma_url: str, tmp_path: Path, tiny_data: Path, embedder: Embedder) -> None:
    stores = Stores.open(tmp_path / "one", chroma_url=chroma_url)
    dataset, _ = read_source([tiny_data], "kith", stores, "shop")
    ingest_dataset(dataset, "shop", "test", stores.database, stores.vectors, embedder)
    assert not (tmp_path / "one" / "chroma").exists()  # nothing embedded locally
    # A second process (here: a second client) sees the same vectors.
    other = Stores.open(tmp_path / "two", chroma_url=chroma_url)
    assert other.vectors.count("shop", "items") == 3
    hits = other.vectors.query("shop", "items", text="a monster on a spaceship", limit=1)
    assert hits[0].id == "alien"
    stores.close()
    other.close()


def test_bad_chroma_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not an http"):
        open_chroma(tmp_path, "ftp://example")
