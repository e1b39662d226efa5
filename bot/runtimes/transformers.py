"""The transformers runtime: any Hugging Face causal-LM folder (the default model's GGUF
converted to safetensors on first use), on the CPU or a CUDA GPU, with an optional PEFT adapter.
The reference the llama.cpp runtime is measured against (tests/test_llamacpp.py).

`generate_json` constrains transformers' own greedy decoding with llguidance (a logits processor
here, `_JsonConstraint`): llama.cpp's grammar engine needs a GGUF, and llguidance compiles the
JSON schema against the Hugging Face tokenizer itself (Rust, ~0.01 ms a token's mask)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import LLMConfig
from bot.models import ModelNotFound
from bot.runtimes.base import Message, closed_schema, schema_key


def nf4_config(device: str):  # -> transformers.BitsAndBytesConfig
    """NF4 4-bit weights through bitsandbytes, for a model on `device` ("cpu" or "cuda").

    bitsandbytes de-quantizes a layer's weights and multiplies in the compute dtype. bf16 on CUDA
    and on AVX-512 CPUs, as before (an earlier measurement found bf16 ~4x faster than fp32 on its
    CPU, which it did not name). fp32 elsewhere: on an AVX2-only AMD EPYC, bf16 is emulated and fp32
    measured 5x faster at a 400-token prefill, 2x at generation and 6x at a training forward pass."""
    import torch
    from transformers import BitsAndBytesConfig

    native_bf16 = device != "cpu" or torch.backends.cpu.get_cpu_capability() == "AVX512"
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16 if native_bf16 else torch.float32,
    )


class TransformersRuntime:
    def __init__(self, model_dir: Path, settings: LLMConfig):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.settings = settings
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if settings.precision == "nf4":
            device = "cuda" if torch.cuda.is_available() else "cpu"  # where transformers places 4-bit weights
            model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=nf4_config(device))
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
        self._guidance_tokenizer = None  # llguidance's view of the tokenizer, made on first use (~1 s)
        self._matchers: dict[str, Any] = {}  # one compiled, unused llguidance matcher a schema
        self._matchers_lock = threading.Lock()

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

    def generate_json(
        self, messages: Sequence[Message], schema: dict[str, Any], max_new_tokens: int | None = None
    ) -> str:
        import torch
        from transformers import LogitsProcessorList

        input_ids = self._prompt_ids(messages)
        constraint = _JsonConstraint(self._matcher(schema), self.tokenizer.eos_token_id)
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_new_tokens or self.settings.max_new_tokens,
                do_sample=False,
                repetition_penalty=1.0,
                logits_processor=LogitsProcessorList([constraint]),
                # The grammar's end is llguidance's end-of-sequence token: it alone is allowed there.
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.eos_token_id,
            )
        return self.tokenizer.decode(output[0, input_ids.shape[1]:], skip_special_tokens=True).strip()

    def _matcher(self, schema: dict[str, Any]):  # -> llguidance.LLMatcher, fresh
        import llguidance
        import llguidance.hf

        key = schema_key(schema)
        with self._matchers_lock:
            if self._guidance_tokenizer is None:
                self._guidance_tokenizer = llguidance.hf.from_tokenizer(
                    self.tokenizer, n_vocab=self.model.config.vocab_size
                )
            compiled = self._matchers.get(key)
            if compiled is None:
                # No whitespace between tokens (else a small model can pad with it to its token
                # limit), closed objects (see closed_schema).
                grammar = llguidance.LLMatcher.grammar_from_json_schema(
                    closed_schema(schema), overrides={"whitespace_flexible": False}
                )
                compiled = llguidance.LLMatcher(self._guidance_tokenizer, grammar, log_level=0)
                if compiled.is_error():
                    raise ValueError(f"llguidance could not compile this JSON schema: {compiled.get_error()}")
                self._matchers[key] = compiled
            return compiled.deep_copy()

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


class _JsonConstraint:
    """A transformers logits processor for greedy decoding of one sequence: the scores as they
    are when `matcher` (llguidance, this generation's state) allows their top token next, else
    -inf for every token it does not allow. Most steps are the first kind: one token checked
    instead of a mask over the vocabulary."""

    def __init__(self, matcher: Any, end: int):
        self.matcher = matcher
        self.end = end
        self._started = False
        self._mask: np.ndarray | None = None

    def __call__(self, input_ids, scores):  # type: ignore[no-untyped-def]  # torch tensors
        import torch

        if self._started:
            self.matcher.consume_token(int(input_ids[0, -1]))
        self._started = True
        if self.matcher.validate_tokens([int(scores[0].argmax())]) == 1:
            return scores
        vocabulary = scores.shape[-1]
        if self._mask is None:
            self._mask = np.zeros((vocabulary + 31) // 32, dtype=np.int32)
        self.matcher.unsafe_compute_mask_ptr(self._mask.ctypes.data, self._mask.nbytes)
        allowed = np.unpackbits(self._mask.view(np.uint8), bitorder="little")[:vocabulary]
        if not allowed.any():  # a matcher in its error state allows nothing: end there
            allowed[self.end] = 1
        return scores.masked_fill(torch.from_numpy(allowed == 0).to(scores.device), float("-inf"))


def _attach_adapter(model, adapter: Path):  # type: ignore[no-untyped-def]
    from peft import PeftModel

    if not (adapter / "adapter_config.json").is_file():
        raise ModelNotFound(
            f"adapter folder {adapter} has no adapter_config.json: point the adapter setting at a folder "
            "written by `kith finetune` (PEFT format)."
        )
    return PeftModel.from_pretrained(model, adapter)
