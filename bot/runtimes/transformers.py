"""The transformers runtime: any Hugging Face causal-LM folder (the default model's GGUF
converted to safetensors on first use), on the CPU or a CUDA GPU, with an optional PEFT adapter.
The reference the llama.cpp runtime is measured against (tests/test_llamacpp.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.config import LLMConfig
from bot.models import ModelNotFound
from bot.runtimes.base import Message


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
