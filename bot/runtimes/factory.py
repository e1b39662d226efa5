"""Which runtime runs the configured LLM, and opening it. The only module that imports the
concrete runtimes, each when it is chosen: importing this one loads neither torch nor llama.cpp."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Literal

from bot.config import LLMConfig
from bot.models import DEFAULT_MODEL, ModelNotFound, default_gguf, resolve_model
from bot.runtimes.base import LLMRuntime


def open_runtime(settings: LLMConfig, cache_dir: Path) -> LLMRuntime:
    """The configured LLM, ready to generate, on the runtime `choose_runtime` picks."""
    runtime = choose_runtime(settings)
    if runtime == "openai":
        from bot.runtimes.remote import OpenAICompatibleRuntime

        return OpenAICompatibleRuntime(settings, resolve_model(settings.model, cache_dir))
    if runtime == "llama_cpp":
        from bot.runtimes.adapters import adapter_gguf
        from bot.runtimes.llamacpp import LlamaCppRuntime

        gguf = default_gguf()
        adapter = adapter_gguf(settings.adapter, gguf, cache_dir) if settings.adapter else None
        return LlamaCppRuntime(gguf, settings, adapter)
    from bot.runtimes.transformers import TransformersRuntime

    # Resolving the default model converts its GGUF to safetensors on first use.
    return TransformersRuntime(resolve_model(settings.model, cache_dir), settings)


def choose_runtime(settings: LLMConfig) -> Literal["llama_cpp", "transformers", "openai"]:
    """`auto`: llama.cpp for the default model (a GGUF) at 4-bit without a CUDA GPU, the fast
    path on a CPU; transformers for Hugging Face folders, full precision, or CUDA (bitsandbytes
    nf4 there, as in training)."""
    if settings.runtime == "llama_cpp" and settings.model != DEFAULT_MODEL:
        raise ModelNotFound(
            f"llm.runtime = 'llama_cpp' runs the default GGUF model only; {settings.model} is a Hugging Face "
            "folder: set llm.runtime to 'transformers' or 'auto'."
        )
    if settings.runtime == "openai" or (settings.runtime == "auto" and settings.endpoint):
        return "openai"
    if settings.runtime != "auto":
        return settings.runtime
    if settings.model != DEFAULT_MODEL or settings.precision != "nf4":
        return "transformers"
    # A CPU-only torch build is known by its version; importing torch just to ask would load
    # its OpenMP before llama.cpp's settings for it (see LlamaCppRuntime).
    if importlib.metadata.version("torch").endswith("+cpu"):
        return "llama_cpp"
    import torch

    return "transformers" if torch.cuda.is_available() else "llama_cpp"
