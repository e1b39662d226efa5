"""The ONNX Runtime embedder computes what sentence-transformers computes for all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embeddings import Embedder, embedding_model_path, onnx_model

TEXTS = [
    "a thoughtful sci-fi film please",
    "Something cozy, under $15 — for a long flight?",
    "",
    "Ünïcödé and emoji 🎬 survive tokenization",
    # Longer than the model's 256-token limit: both cut it at the same place.
    " ".join(["a very long review of a slow-burn mystery novel"] * 60),
]


def test_onnx_vectors_match_sentence_transformers(embedder: Embedder) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    reference = sentence_transformers.SentenceTransformer(str(embedding_model_path()), device="cpu", local_files_only=True)
    expected = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    for batch in (TEXTS, TEXTS[:1]):  # a batch (all threads) and a single query (one thread)
        got = embedder.embed(batch)
        assert got.shape == (len(batch), 384) and got.dtype == np.float32
        assert np.abs(got - expected[: len(batch)]).max() < 1e-5
    assert np.allclose(np.linalg.norm(embedder.embed(TEXTS), axis=1), 1.0, atol=1e-5)


def test_batches_do_not_change_vectors_or_their_order(embedder: Embedder) -> None:
    small = Embedder(batch_size=2, cache_dir=embedder.model_file.parent.parent)
    assert np.abs(small.embed(TEXTS) - embedder.embed(TEXTS)).max() < 1e-5


def test_export_is_made_once_and_reused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = onnx_model(tmp_path)
    stamp = first.stat().st_mtime_ns
    assert onnx_model(tmp_path) == first and first.stat().st_mtime_ns == stamp
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary file left behind


def test_one_model_per_process_however_it_is_asked_for() -> None:
    # Chroma's embedding function asks with the batch size alone, Kith with the cache folder too.
    from retrieval.embeddings import DEFAULT_CACHE_DIR, shared_embedder

    assert shared_embedder(64) is shared_embedder(64, DEFAULT_CACHE_DIR) is shared_embedder(64, str(DEFAULT_CACHE_DIR))
