"""Which runtime runs the configured LLM, and opening it. The only module that imports the
concrete runtimes, each when it is chosen: importing this one loads neither torch nor llama.cpp."""

from __future__ import annotations

import importlib.metadata
import threading
from pathlib import Path
from typing import Literal

from bot.config import LLMConfig
from bot.models import DEFAULT_MODEL, ModelNotFound, default_gguf, resolve_model, resolve_tokenizer
from bot.runtimes.base import LLMRuntime, SerialRuntime


def open_runtime(settings: LLMConfig, cache_dir: Path) -> LLMRuntime:
    """The configured LLM, ready to generate, on the runtime `choose_runtime` picks."""
    runtime = choose_runtime(settings)
    if runtime == "openai":
        from bot.runtimes.remote import OpenAICompatibleRuntime

        return OpenAICompatibleRuntime(settings, resolve_tokenizer(settings.model, cache_dir))
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


class Runtimes:
    """The LLM a process shares (between catalogs, and the HTTP service's workers), opened on
    first use, as two jobs: writing replies and reading messages (bot/understand.py).

    On llama.cpp each job gets a context of its own (the model loaded twice: +166 MB RSS, measured): a
    context keeps the K/V of the prompt it read last, and the reply prompt, read ahead between
    turns (`LLMRuntime.prepare`), would be lost to every understanding prompt read in between.
    Other runtimes keep no prompt cache, so both jobs share one."""

    def __init__(self, settings: LLMConfig, cache_dir: Path, given: LLMRuntime | None = None):
        self.settings = settings
        self.cache_dir = cache_dir
        self._given = given
        self._reply: LLMRuntime | None = None
        self._reader: LLMRuntime | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, runtime: LLMRuntime) -> Runtimes:
        """One runtime already open (a test's scripted LLM) for both jobs."""
        return cls(LLMConfig(), Path(), given=runtime)

    @property
    def loaded(self) -> bool:
        return self._reply is not None or self._reader is not None

    def reply(self) -> LLMRuntime:
        if self._given is not None:
            return self._given
        with self._lock:
            if self._reply is None:
                self._reply = self._open()
            return self._reply

    def reader(self) -> LLMRuntime:
        if self._given is not None or choose_runtime(self.settings) != "llama_cpp":
            return self.reply()
        with self._lock:
            if self._reader is None:
                self._reader = self._open()
            return self._reader

    def _open(self) -> LLMRuntime:
        return SerialRuntime(open_runtime(self.settings, self.cache_dir))
