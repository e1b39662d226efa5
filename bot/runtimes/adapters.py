"""LoRA adapters for llama.cpp: a PEFT adapter folder, converted once into a GGUF LoRA file.

`kith finetune` writes adapters in PEFT format (safetensors, trained against the de-quantized
default model). llama.cpp attaches LoRA adapters in its own GGUF form: the same A and B
matrices under llama.cpp's tensor names, with two differences done here as llama.cpp's own
convert_lora_to_gguf.py does them:
- the rows of q_proj and k_proj are ordered per head differently (llama.cpp's rotary layout), so
  B of those projections is permuted the way convert_hf_to_gguf.py permutes their weights;
- llama.cpp scales a LoRA by alpha / rank; an rsLoRA adapter (alpha / sqrt(rank)) is written
  with the alpha that gives the same scale.
The converted file is cached by the adapter weights' SHA-256, so editing the adapter converts again.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from bot.models import ModelNotFound, ensure_converted
from retrieval.datafiles import file_sha256

ADAPTER_GGUF = "adapter.gguf"
PEFT_WEIGHTS = "adapter_model.safetensors"


def adapter_gguf(adapter: Path, base_gguf: Path, cache_dir: Path) -> Path:
    """The GGUF LoRA file for a PEFT adapter folder, converting it on first use."""
    weights = adapter / PEFT_WEIGHTS
    if not (adapter / "adapter_config.json").is_file() or not weights.is_file():
        raise ModelNotFound(
            f"adapter folder {adapter} has no adapter_config.json and {PEFT_WEIGHTS}: point the adapter setting "
            "at a folder written by `kith finetune` (PEFT format)."
        )
    target = cache_dir / "adapters" / f"{adapter.resolve().name}-{file_sha256(weights)[:16]}"
    ensure_converted(weights, target, lambda source, out: convert_lora(source.parent, base_gguf, out / ADAPTER_GGUF))
    return target / ADAPTER_GGUF


def convert_lora(adapter: Path, base_gguf: Path, out_file: Path) -> None:
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((adapter / "adapter_config.json").read_text())
    problems = []
    if config.get("peft_type", "LORA") != "LORA":
        problems.append(f"peft_type is {config.get('peft_type')}, not LORA")
    if config.get("use_dora"):
        problems.append("DoRA adapters (use_dora) have no llama.cpp form")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        problems.append("per-layer rank_pattern / alpha_pattern: llama.cpp takes one alpha per adapter")
    if problems:
        raise ModelNotFound(f"adapter {adapter} cannot run on llama.cpp: {'; '.join(problems)}. "
                            "Use llm.runtime = 'transformers' for it.")
    base = gguf.GGUFReader(base_gguf)
    architecture = base.fields["general.architecture"].contents()
    blocks = int(base.fields[f"{architecture}.block_count"].contents())
    heads = int(base.fields[f"{architecture}.attention.head_count"].contents())
    kv_heads = int(base.fields[f"{architecture}.attention.head_count_kv"].contents())
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == architecture)
    names = gguf.get_tensor_name_map(arch, blocks)

    rank = int(config["r"])
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):
        alpha = alpha * math.sqrt(rank)  # alpha / rank == lora_alpha / sqrt(rank)

    tensors = load_file(str(adapter / PEFT_WEIGHTS))
    writer = gguf.GGUFWriter(str(out_file), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for key in sorted(tensors):
        if ".lora_A." not in key:
            if ".lora_B." not in key:
                raise ModelNotFound(f"adapter {adapter}: tensor {key} is not a LoRA A/B matrix (llama.cpp takes only those)")
            continue
        module = key.removeprefix("base_model.model.").split(".lora_A.")[0]
        name = names.get_name(module)
        if name is None:
            raise ModelNotFound(f"adapter {adapter}: module {module} has no llama.cpp tensor ({architecture})")
        a = tensors[key].astype("float32")  # (rank, inputs)
        b = tensors[key.replace(".lora_A.", ".lora_B.")].astype("float32")  # (outputs, rank)
        if module.endswith("q_proj"):
            b = _rotary_permute(b, heads)
        elif module.endswith("k_proj"):
            b = _rotary_permute(b, kv_heads)
        writer.add_tensor(f"{name}.weight.lora_a", a)
        writer.add_tensor(f"{name}.weight.lora_b", b)
    writer.add_string("general.name", f"LoRA from {adapter.name}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _rotary_permute(rows, heads: int):  # type: ignore[no-untyped-def]
    """convert_hf_to_gguf.py's LlamaModel.permute, on the output rows of a (outputs, rank) matrix."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)

