"""Vectors in a real Chroma server (`chroma run` on loopback), as when Kith scales out."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset, read_source
from retrieval.store import Stores
from retrieval.vectors import open_chroma


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("the chroma command (from the chromadb package) is not installed")
    port = free_port()
    server = subprocess.Popen(
        [executable, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path_factory.mktemp("chroma"))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("chroma server did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
