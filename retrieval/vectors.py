"""Chroma: the vector store. Per catalog, four collections: items, activity, help, requests.

Embedded (`PersistentClient` inside the data folder) by default; an HTTP client to a Chroma
server when a URL is configured, which is how several Kith processes share one index.

A Chroma server that cannot be reached (stopped, restarting, connection dropped) surfaces as
`StoreUnavailable`, whichever call met it: chromadb's HTTP client raises httpx's transport
errors (`httpx.ConnectError` "Connection refused", `ReadError`, `RemoteProtocolError`) as they
are. Collection objects stay valid across a restart of the server on the same path (the
collections keep their ids), so nothing cached here needs dropping: the next call reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings
from chromadb.errors import ChromaError
from tqdm import tqdm

from retrieval.embeddings import KithEmbeddingFunction

CollectionKind = Literal["items", "activity", "help", "requests"]
Metadata = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class Hit:
    id: str
    # Cosine distance: 0 for the same direction, 2 for opposite.
    distance: float
    document: str
    metadata: Metadata

    @property
    def similarity(self) -> float:
        return 1.0 - self.distance


class StoreUnavailable(RuntimeError):
    """The vector store cannot be reached now; retrying later may succeed. An upsert that met
    it may have stored some of its batches: upserts are by id, so a retry converges."""

    def __init__(self, what: str, cause: Exception):
        super().__init__(f"{what} cannot be reached ({type(cause).__name__}: {cause})")
        self.what = what
        self.cause = cause


def open_chroma(data_dir: Path, chroma_url: str | None = None, timeout_s: float = 30.0) -> ClientAPI:
    """The embedded store in `data_dir`, or a client of the Chroma server at `chroma_url` whose
    every request gives up after `timeout_s` (StoreUnavailable)."""
    # Telemetry would try to reach the network, which this product never does on its own.
    settings = Settings(anonymized_telemetry=False)
    if not chroma_url:
        return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=settings)
    url = urlparse(chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"chroma_url {chroma_url!r} is not an http(s) URL such as http://127.0.0.1:8000")
    port = url.port or (443 if url.scheme == "https" else 8000)
    where = f"the Chroma server at {url.hostname}:{port}"
    # chromadb's HTTP client waits for an answer for ever (httpx with timeout=None, no setting to
    # change it), starting with the heartbeat its constructor sends: a server that accepts and
    # then hangs would hang the process at start and every turn later. So: our own heartbeat
    # first, then the client's session gets a timeout.
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
    try:
        httpx.get(f"{url.scheme}://{url.hostname}:{port}/api/v2/heartbeat", timeout=timeout).raise_for_status()
    except httpx.HTTPError as error:
        raise StoreUnavailable(where, error) from error
    client = chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https", settings=settings)
    client._server._session.timeout = timeout  # type: ignore[attr-defined]
    return client


class VectorStore:
    def __init__(self, client: ClientAPI, batch_size: int = 64):
        self.client = client
        self._embedding_function = KithEmbeddingFunction(batch_size)
        self._collections: dict[str, Collection] = {}

    def unreadable(self) -> str | None:
        """What stops a collection from being read, or None when all can be. Embedded Chroma
        writes an index's files in place: a process killed during a write can leave one cut
        short (seen: "Error deserializing pickle file: ... EOF"), and every later read of that
        collection fails. Counting reads each collection's index; ~1 ms each."""
        for collection in self.client.list_collections():
            try:
                collection.count()
            except ChromaError as error:
                return f"collection {collection.name!r}: {type(error).__name__}: {error}"
        return None

    def close(self) -> None:
        """Stop the embedded store and forget it, so this process can open its path afresh
        (chromadb shares one store per path in a process, and keeps it until told)."""
        identifier = self.client._identifier  # type: ignore[attr-defined]
        SharedSystemClient._identifier_to_system.pop(identifier).stop()
        SharedSystemClient._identifier_to_refcount.pop(identifier, None)
        self._collections.clear()

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Turn "the server is not there" into StoreUnavailable (only an HTTP client meets it)."""
        try:
            yield
        except httpx.TransportError as error:
            settings = self.client.get_settings()
            where = f"the Chroma server at {settings.chroma_server_host}:{settings.chroma_server_http_port}"
            raise StoreUnavailable(where, error) from error

    @staticmethod
    def collection_name(catalog: str, kind: CollectionKind) -> str:
        return f"{catalog}-{kind}"

    def collection(self, catalog: str, kind: CollectionKind) -> Collection:
        name = self.collection_name(catalog, kind)
        if name not in self._collections:
            with self._reaching():
                self._collections[name] = self.client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=self._embedding_function,  # type: ignore[arg-type]
                )
        return self._collections[name]

    def upsert(
        self,
        catalog: str,
        kind: CollectionKind,
        ids: Sequence[str],
        documents: Sequence[str],
        embeddings: np.ndarray,
        metadatas: Sequence[Metadata],
        progress: bool = False,
    ) -> None:
        if not ids:
            return
        collection = self.collection(catalog, kind)
        step = min(self.client.get_max_batch_size(), 4096)
        starts = range(0, len(ids), step)
        for start in tqdm(starts, desc=f"{kind} -> Chroma", unit="batch", disable=not progress or len(starts) < 2):
            end = start + step
            with self._reaching():
                collection.upsert(
                    ids=list(ids[start:end]),
                    documents=list(documents[start:end]),
                    embeddings=embeddings[start:end],
                    # Chroma rejects empty metadata dicts; None means "no metadata".
                    metadatas=[m or None for m in metadatas[start:end]],  # type: ignore[misc]
                )

    def count(self, catalog: str, kind: CollectionKind) -> int:
        collection = self.collection(catalog, kind)
        with self._reaching():
            return collection.count()

    def embeddings(self, catalog: str, kind: CollectionKind, ids: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        collection = self.collection(catalog, kind)
        for start in range(0, len(ids), 4096):
            with self._reaching():
                result = collection.get(ids=list(ids[start : start + 4096]), include=["embeddings"])
            for record_id, vector in zip(result["ids"], result["embeddings"], strict=True):  # type: ignore[arg-type]
                found[record_id] = np.asarray(vector, dtype=np.float32)
        return found

    def query(
        self,
        catalog: str,
        kind: CollectionKind,
        *,
        text: str | None = None,
        embedding: np.ndarray | None = None,
        limit: int = 10,
        where: dict[str, Any] | None = None,
        ids_only: bool = False,
    ) -> list[Hit]:
        """The nearest records. `ids_only`: leave documents and metadata out of the hits (empty),
        which spares Chroma reading them: a 200-hit query drops from ~17 ms to ~1 ms."""
        if (text is None) == (embedding is None):
            raise ValueError("query needs exactly one of text or embedding")
        collection = self.collection(catalog, kind)
        with self._reaching():
            result = collection.query(
                query_texts=[text] if text is not None else None,
                query_embeddings=[embedding] if embedding is not None else None,  # type: ignore[list-item]
                n_results=limit,
                where=where,
                include=["distances"] if ids_only else ["documents", "metadatas", "distances"],
            )
        count = len(result["ids"][0])
        return [
            Hit(id=i, distance=float(d), document=doc or "", metadata=dict(m or {}))
            for i, d, doc, m in zip(
                result["ids"][0],
                result["distances"][0],  # type: ignore[index]
                (result["documents"] or [[None] * count])[0],
                (result["metadatas"] or [[None] * count])[0],
                strict=True,
            )
        ]
