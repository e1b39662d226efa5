"""GPU check of the QLoRA path (bitsandbytes nf4 base + peft LoRA, bf16 compute) with the
default model's architecture and tokenizer and `kith finetune`'s LoRA layout.

Self-contained on purpose: a lent GPU machine has torch, transformers and peft but not Kith's
other dependencies, and only 64 MiB travel there, so the weights are random-initialised from the
default model's config (the real ones are 538 MB). What it shows: 4-bit loading on CUDA, LoRA
training steps whose loss falls, throughput, memory, and a saved adapter that reloads and
changes the output. Run (with bitsandbytes importable):
    python bench/gpu_qlora_check.py --model-dir DIR_WITH_CONFIG_AND_TOKENIZER
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from bot.runtimes.transformers import nf4_config

EXAMPLES = [
    ("I loved Arrival, something thoughtful please", "Try Interstellar (2014) — a thoughtful, moving space epic."),
    ("A scary film for tonight?", "Try Get Out (2017) — smart, tense horror with a sharp twist."),
    ("Something funny for the family", "Try Paddington 2 (2017) — warm, funny and perfect for all ages."),
    ("No, not those. Something older.", "Try Back to the Future (1985) — a timeless, fun adventure."),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    assert torch.cuda.is_available(), "no CUDA device"
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    scratch = Path(tempfile.mkdtemp())
    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.model_dir)).save_pretrained(scratch / "base")
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(scratch / "base", quantization_config=nf4_config("cuda"), device_map={"": 0})
    load_s = time.perf_counter() - started
    layers = model.config.num_hidden_layers
    modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=modules,
                      layers_to_transform=list(range(layers - 10, layers)), task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": u}, {"role": "assistant", "content": a}],
                                           tokenize=False) for u, a in EXAMPLES]
    batch = tokenizer(texts, return_tensors="pt", padding=True).to("cuda")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    losses, tokens = [], int(batch["attention_mask"].sum())
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(args.steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.3)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(round(loss.item(), 3))
    torch.cuda.synchronize()
    train_s = time.perf_counter() - started
    model.save_pretrained(scratch / "adapter")
    model.eval()  # no LoRA dropout when comparing outputs
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": EXAMPLES[0][0]}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True).to("cuda")
    with torch.no_grad():
        tuned = model.generate(**prompt, max_new_tokens=12, do_sample=False)
        with model.disable_adapter():
            base = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    reloaded = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(scratch / "base", quantization_config=nf4_config("cuda"), device_map={"": 0}),
        scratch / "adapter").eval()
    with torch.no_grad():
        again = reloaded.generate(**prompt, max_new_tokens=12, do_sample=False)
    start = prompt["input_ids"].shape[1]
    result = {
        "device": torch.cuda.get_device_name(0),
        "linear_4bit_modules": sum(1 for m in model.modules() if type(m).__name__ == "Linear4bit"),
        "load_4bit_s": round(load_s, 2),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "loss_first_last": [losses[0], losses[-1]],
        "losses": losses,
        "train_tokens_per_s": round(tokens * args.steps / train_s, 1),
        "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
        "adapter_changes_output": tokenizer.decode(tuned[0, start:]) != tokenizer.decode(base[0, start:]),
        "reloaded_adapter_same_output": tokenizer.decode(again[0, start:]) == tokenizer.decode(tuned[0, start:]),
        "tuned_reply": tokenizer.decode(tuned[0, start:], skip_special_tokens=True),
    }
    print(json.dumps(result, indent=1))
    assert result["loss_first_last"][1] < result["loss_first_last"][0] / 2, "the loss did not fall"
    assert result["adapter_changes_output"] and result["reloaded_adapter_same_output"]


if __name__ == "__main__":
    main()
