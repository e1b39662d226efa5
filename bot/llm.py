"""The LLM runtime: a small interface (stream, generate, score) and its transformers implementation.

Callers depend on `LLMRuntime` only, so a faster runtime (llama.cpp, an OpenAI-compatible
server) can replace transformers without touching them.
"""

from __future__ import annotations

import importlib.metadata
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypedDict

from bot.config import LLMConfig
from bot.models import DEFAULT_MODEL, ModelNotFound, default_gguf, resolve_model


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class LLMRuntime(Protocol):
    description: str

    def stream(
        self,
        messages: Sequence[Message],
        max_new_tokens: int | None = None,
        prefix: str = "",
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the assistant's reply to `messages` as text pieces, as they are decoded.

        `prefix` is the start of the reply, given rather than generated (the model continues
        it; it is not yielded). Generation ends at the first of the `stop` strings (included).
        """
        ...

    def generate(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> str:
        """The whole reply (after `prefix`) at once."""
        ...

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        """Log-likelihood (natural log, summed over tokens) of `continuation` as the assistant's reply."""
        ...

    def prepare(self, messages: Sequence[Message]) -> None:
        """Read the prompt of `messages` as far as the end of the last message's text, so that a
        later call whose last message continues that text reads only the rest. A hint: a runtime
        without a prompt cache does nothing."""
        ...


@dataclass(frozen=True)
class _Failed:
    """What a generating thread hands the consumer when the runtime raised."""

    error: BaseException


class SerialRuntime:
    """One generation at a time through a runtime shared by threads (the HTTP service's
    workers): a model's cache and its CPU threads serve one request well, several badly.

    `stream` generates on a thread of its own, under the lock, into a queue that the caller
    reads without it: the lock is held as long as the generation takes (bounded by its token
    limit), not as long as the caller takes to read, so a client that stops reading a streamed
    reply (a stalled server-sent-events connection) holds up no one else."""

    def __init__(self, runtime: LLMRuntime):
        self.runtime = runtime
        self.description = runtime.description
        self._lock = threading.Lock()

    def stream(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> Iterator[str]:
        pieces: queue.SimpleQueue[str | _Failed | None] = queue.SimpleQueue()  # None: the end
        # Set when the caller closes (or drops) this generator: the rest is wanted by no one.
        abandoned = threading.Event()

        def generate() -> None:
            try:
                with self._lock:
                    if abandoned.is_set():  # closed while another generation held the LLM
                        return
                    generated = self.runtime.stream(messages, max_new_tokens, prefix, stop)
                    try:
                        for piece in generated:
                            if abandoned.is_set():
                                break
                            pieces.put(piece)
                    finally:
                        # Ends the runtime's own generator under the lock (its clean-up may
                        # touch the model).
                        if isinstance(generated, Generator):
                            generated.close()
            except BaseException as error:  # re-raised in the caller's thread below
                pieces.put(_Failed(error))
            else:
                pieces.put(None)

        # Not a daemon: the interpreter's exit waits for it (at most the rest of one bounded
        # generation) rather than stopping it inside the model, which can crash the process.
        worker = threading.Thread(target=generate, name="kith-llm-stream")
        worker.start()
        try:
            while (piece := pieces.get()) is not None:
                if isinstance(piece, _Failed):
                    raise piece.error
                yield piece
        finally:
            abandoned.set()

    def generate(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> str:
        with self._lock:
            return self.runtime.generate(messages, max_new_tokens, prefix, stop)

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        with self._lock:
            return self.runtime.score(messages, continuation)

    def prepare(self, messages: Sequence[Message]) -> None:
        # A hint: while another request holds the LLM, its work comes first; the reply then
        # reads the rest of its prompt itself.
        if self._lock.acquire(blocking=False):
            try:
                self.runtime.prepare(messages)
            finally:
                self._lock.release()


class TransformersRuntime:
    def __init__(self, model_dir: Path, settings: LLMConfig):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

        self.settings = settings
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if settings.precision == "nf4":
            # bf16 compute: on the CPU, bitsandbytes' 4-bit matmuls run ~4x faster than in fp32.
            quantization = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
            )
            model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=quantization)
        else:
            dtype = torch.bfloat16 if settings.precision == "bf16" else torch.float32
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
        if settings.adapter is not None:
            model = _attach_adapter(model, settings.adapter)
        model.eval()
        self.model = model
        self.device = next(model.parameters()).device
        adapter = f" + adapter {settings.adapter}" if settings.adapter else ""
        self.description = f"{model_dir.name} ({settings.precision}){adapter} on {self.device}"

    def _prompt_ids(self, messages: Sequence[Message], prefix: str = ""):  # -> torch.Tensor (1, prompt_tokens)
        import torch

        encoded = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        ids = encoded["input_ids"]
        if prefix:
            prefilled = self.tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
            ids = torch.cat([ids, prefilled], dim=1)
        return ids.to(self.device)

    def stream(
        self,
        messages: Sequence[Message],
        max_new_tokens: int | None = None,
        prefix: str = "",
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        input_ids = self._prompt_ids(messages, prefix)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = self.settings.temperature > 0
        arguments = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": max_new_tokens or self.settings.max_new_tokens,
            "do_sample": sampling,
            "repetition_penalty": self.settings.repetition_penalty,
            "streamer": streamer,
            "pad_token_id": self.tokenizer.eos_token_id,
        }
        if sampling:
            arguments["temperature"] = self.settings.temperature
        if stop:
            arguments["stop_strings"] = list(stop)
            arguments["tokenizer"] = self.tokenizer
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**arguments)
            except BaseException as error:  # re-raised in the caller's thread below
                failure.append(error)
                streamer.end()

        worker = threading.Thread(target=run, name="kith-generate", daemon=True)
        worker.start()
        for piece in streamer:
            if piece:
                yield piece
        worker.join()
        if failure:
            raise failure[0]

    def generate(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> str:
        return "".join(self.stream(messages, max_new_tokens, prefix, stop)).strip()

    def prepare(self, messages: Sequence[Message]) -> None:
        """Nothing: this runtime reads each prompt whole (it keeps no prompt cache)."""

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        import torch

        prompt = self._prompt_ids(messages)
        target = self.tokenizer(continuation, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self.device)
        if target.shape[1] == 0:
            return 0.0
        ids = torch.cat([prompt, target], dim=1)
        with torch.inference_mode():
            logits = self.model(input_ids=ids).logits.float()  # (1, tokens, vocab)
        # Position t predicts token t+1: the continuation's tokens are predicted from
        # positions prompt_len-1 .. tokens-2.
        predicted = torch.log_softmax(logits[0, prompt.shape[1] - 1 : -1], dim=-1)
        return float(predicted.gather(1, target[0].unsqueeze(1)).sum())


def _attach_adapter(model, adapter: Path):  # type: ignore[no-untyped-def]
    from peft import PeftModel

    if not (adapter / "adapter_config.json").is_file():
        raise ModelNotFound(
            f"adapter folder {adapter} has no adapter_config.json: point the adapter setting at a folder "
            "written by `kith finetune` (PEFT format)."
        )
    return PeftModel.from_pretrained(model, adapter)


def open_runtime(settings: LLMConfig, cache_dir: Path) -> LLMRuntime:
    """The configured LLM, ready to generate, on the runtime `choose_runtime` picks."""
    runtime = choose_runtime(settings)
    if runtime == "openai":
        from bot.remote_llm import OpenAICompatibleRuntime

        return OpenAICompatibleRuntime(settings, resolve_model(settings.model, cache_dir))
    if runtime == "llama_cpp":
        from bot.adapters import adapter_gguf
        from bot.llamacpp import LlamaCppRuntime

        gguf = default_gguf()
        adapter = adapter_gguf(settings.adapter, gguf, cache_dir) if settings.adapter else None
        return LlamaCppRuntime(gguf, settings, adapter)
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
