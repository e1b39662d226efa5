"""QLoRA training: a LoRA adapter (peft) on the 4-bit base model, with a plain torch loop.

Reads top to bottom: settings, data (tokenized examples, a held-out split by conversation),
model (the base at nf4, fp32 or bf16, LoRA on the top decoder layers), optimizer, the loop
(progress bar with loss and tokens/s, held-out evaluation, checkpoints), the final adapter.

An output folder is self-describing: `adapter_config.json` + `adapter_model.safetensors` (PEFT
format, what `Kith.open(adapter=...)` loads) and `kith-adapter.json` (base model, data files and
their SHA-256, parameters, metrics, loss history). While training, `checkpoint/` holds the latest
adapter, optimizer state and progress; running the same command again continues from it.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.config import Precision
from bot.models import MARKER, resolve_model
from finetune.examples import EXAMPLE_KINDS, Example, TrainingData
from retrieval.datafiles import file_sha256

METADATA = "kith-adapter.json"
CHECKPOINT = "checkpoint"
STATE = "state.json"


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why and what to do."""


@dataclass(frozen=True)
class TrainSettings:
    """The recipe. Defaults are sized for 2 CPU cores: on ReDial's train.jsonl (2,806 training
    examples, mean 115 tokens) 56 steps of 8 examples (50,254 tokens, a sixth of an epoch) took
    113 s of training at 445 tokens/s on 2 idle cores (measured 2026-11-26); busy cores are
    several times slower (28 tokens/s was measured with other jobs running)."""

    model: str = "default"
    precision: Precision = "nf4"
    max_steps: int = 56
    batch_size: int = 8
    # QLoRA's own recipe: 2e-4 with the gradient clipped at 0.3.
    learning_rate: float = 2e-4
    max_grad_norm: float = 0.3
    warmup_steps: int = 8
    # Tokens per example (prompt + reply); a longer reply is cut, a longer prompt skips the example.
    max_length: int = 224
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    # LoRA only on the top N decoder layers (None: all): backpropagation then stops below them,
    # which cuts the cost of a step on the CPU by about a third for SmolLM2-135M's 30 layers.
    lora_layers: int | None = 10
    eval_every: int = 28
    eval_examples: int = 40
    checkpoint_every: int = 10
    seed: int = 0

    def recipe(self) -> dict[str, Any]:
        """What must match for a checkpoint to be continued (everything but when to stop)."""
        values = asdict(self)
        values.pop("max_steps")
        values["target_modules"] = list(self.target_modules)
        return values


@dataclass
class Progress:
    step: int = 0
    tokens: int = 0
    seconds: float = 0.0  # training time, evaluation excluded
    losses: list[float] = field(default_factory=list)  # one per step
    evaluations: list[dict[str, float]] = field(default_factory=list)  # {step, loss, perplexity}
    resumed_from: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Tokenized:
    ids: list[int]
    prompt_tokens: int  # the first prompt_tokens ids are the prompt; the rest is trained on


def device_name() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_base(model_dir: Path, precision: Precision, device: str):  # -> (model, tokenizer)
    """The base model for training or evaluation, at the given precision, on the device."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bot.runtimes.transformers import nf4_config

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if precision == "nf4":
        model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=nf4_config(device), device_map={"": device})
    else:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device)
    return model, tokenizer


def tokenize(examples: Sequence[Example], tokenizer, max_length: int) -> tuple[list[Tokenized], int]:  # type: ignore[no-untyped-def]
    """Prompt ids as the bot's runtime builds them (chat template + generation prompt), then the
    reply and the end-of-turn token. Returns the tokenized examples and how many were skipped."""
    tokenized, skipped = [], 0
    for example in examples:
        prompt = tokenizer.apply_chat_template(list(example.messages), add_generation_prompt=True, return_dict=True)["input_ids"]
        reply = tokenizer(example.target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        room = max_length - len(prompt)
        if room < min(8, len(reply)):
            skipped += 1
            continue
        tokenized.append(Tokenized(list(prompt) + reply[:room], len(prompt)))
    return tokenized, skipped


def held_out_split(examples: Sequence[Example], count: int, seed: int) -> tuple[list[int], list[int]]:
    """Indices of training and held-out examples; whole conversations (or users) go to one side."""
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    held: set[str] = set()
    size = 0
    sizes: dict[str, int] = {}
    for example in examples:
        sizes[example.group] = sizes.get(example.group, 0) + 1
    for group in groups:
        if size >= count or len(held) >= len(groups) // 2:
            break
        held.add(group)
        size += sizes[group]
    train = [i for i, e in enumerate(examples) if e.group not in held]
    evaluation = [i for i, e in enumerate(examples) if e.group in held]
    return train, evaluation


def batches_for_step(step: int, count: int, batch_size: int, lengths: Sequence[int], seed: int) -> list[int]:
    """The examples of one step: a fixed function of the step, so a resumed run sees exactly the
    batches an uninterrupted one would. Each epoch shuffles, then sorts windows of 16 batches by
    length (less padding) and shuffles the batches again."""
    per_epoch = max(count // batch_size, 1)
    epoch, index = divmod(step, per_epoch)
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(count))
    rng.shuffle(order)
    window = batch_size * 16
    batches = []
    for start in range(0, per_epoch * batch_size, window):
        chunk = sorted(order[start : min(start + window, per_epoch * batch_size)], key=lambda i: lengths[i])
        batches += [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches[index]


def collate(items: Sequence[Tokenized], pad_id: int, device: str):  # -> (input_ids, attention_mask, labels)
    """Right-padded (batch, length) tensors; labels are -100 except on reply tokens."""
    import torch

    length = max(len(t.ids) for t in items)
    input_ids = torch.full((len(items), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(items), length), dtype=torch.long)
    labels = torch.full((len(items), length), -100, dtype=torch.long)
    for row, item in enumerate(items):
        input_ids[row, : len(item.ids)] = torch.tensor(item.ids)
        attention[row, : len(item.ids)] = 1
        labels[row, item.prompt_tokens : len(item.ids)] = torch.tensor(item.ids[item.prompt_tokens :])
    return input_ids.to(device), attention.to(device), labels.to(device)


def reply_loss(model, input_ids, attention_mask, labels, reduction: str = "mean"):  # type: ignore[no-untyped-def]
    """Cross-entropy on reply tokens only. Logits are computed only where a reply token is
    predicted (the vocabulary projection is a fifth of SmolLM2's compute, prompts most tokens)."""
    import torch

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
    targets = labels[:, 1:]  # position t predicts token t+1
    predicting = targets != -100  # (B, T-1)
    logits = causal_lm.lm_head(hidden[:, :-1][predicting]).float()  # (N, vocab)
    losses = torch.nn.functional.cross_entropy(logits, targets[predicting], reduction="none")  # (N,)
    if reduction == "none":
        rows = predicting.nonzero()[:, 0]
        return torch.zeros(len(input_ids), device=losses.device).index_add_(0, rows, losses), predicting.sum(1)
    return losses.mean()


def evaluate_loss(model, tokenized: Sequence[Tokenized], pad_id: int, device: str, batch_size: int = 8) -> float:  # type: ignore[no-untyped-def]
    """Mean reply-token loss (nats) over examples; perplexity is its exponential."""
    import torch

    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    # bitsandbytes repacks a 4-bit layer's weights for its CPU inference kernel the first time
    # the layer runs in eval mode, and its training kernel cannot read them back: after the first
    # held-out evaluation the training loss jumped from 2.7 to ~16 (both real runs "diverged"
    # right after an evaluation). The flag only picks the kernel in these layers (they have no
    # dropout), so they stay in training mode.
    for module in model.modules():
        if isinstance(module, _four_bit_layers()):
            module.train()
    with torch.inference_mode():
        for start in range(0, len(tokenized), batch_size):
            losses, tokens = reply_loss(model, *collate(tokenized[start : start + batch_size], pad_id, device), reduction="none")
            total += float(losses.sum())
            count += int(tokens.sum())
    model.train(was_training)
    return total / max(count, 1)


def _four_bit_layers() -> tuple[type, ...]:
    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:  # no bitsandbytes: no 4-bit layers either
        return ()
    return (Linear4bit,)


def _lora(settings: TrainSettings, layers: int):  # -> peft.LoraConfig
    from peft import LoraConfig

    chosen = None if settings.lora_layers is None else list(range(max(layers - settings.lora_layers, 0), layers))
    return LoraConfig(
        r=settings.lora_rank,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=list(settings.target_modules),
        layers_to_transform=chosen,
        task_type="CAUSAL_LM",
    )


def _learning_rate(settings: TrainSettings, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    span = max(settings.max_steps - settings.warmup_steps, 1)
    done = min((step - settings.warmup_steps) / span, 1.0)
    return settings.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))


def _data_record(data: TrainingData) -> dict[str, str]:
    kinds = {} if data.kinds == EXAMPLE_KINDS else {"kinds": ",".join(data.kinds)}
    return {**{str(path.resolve()): file_sha256(path) for path in data.files}, **data.catalogs, **kinds}


def _save_checkpoint(out: Path, model, optimizer, progress: Progress, identity: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """Write the checkpoint beside the old one, then swap: a kill leaves one whole checkpoint."""
    import torch

    scratch = out / f".{CHECKPOINT}.new"
    shutil.rmtree(scratch, ignore_errors=True)
    model.save_pretrained(scratch)
    torch.save(optimizer.state_dict(), scratch / "optimizer.pt")
    (scratch / STATE).write_text(json.dumps({"identity": identity, "progress": asdict(progress)}, indent=1))
    target = out / CHECKPOINT
    old = out / f".{CHECKPOINT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(scratch, target)
    shutil.rmtree(old, ignore_errors=True)


def _resume(out: Path, model, optimizer, identity: dict[str, Any]) -> Progress | None:  # type: ignore[no-untyped-def]
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    checkpoint = out / CHECKPOINT
    if not (checkpoint / STATE).is_file():
        old = out / f".{CHECKPOINT}.old"  # killed between the two renames
        if not (old / STATE).is_file():
            return None
        os.rename(old, checkpoint)
    state = json.loads((checkpoint / STATE).read_text())
    if state["identity"] != identity:
        differing = sorted(k for k in identity if state["identity"].get(k) != identity[k])
        raise TrainingError(
            f"{out} holds a checkpoint of a different run (differs in: {', '.join(differing)}); "
            "use another --out folder, or delete that folder to start over."
        )
    set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
    optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
    return Progress(**state["progress"])


def train(
    data: TrainingData,
    out: Path,
    settings: TrainSettings,
    cache_dir: Path,
    progress_bar: bool = True,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train (or continue training) an adapter into `out`; returns the metadata written."""
    import torch
    from peft import get_peft_model
    from tqdm import tqdm

    # --- data ---
    device = device_name()
    model_dir = resolve_model(settings.model, cache_dir)
    model, tokenizer = load_base(model_dir, settings.precision, device)
    train_ids, eval_ids = held_out_split(data.examples, settings.eval_examples, settings.seed)
    training, skipped = tokenize([data.examples[i] for i in train_ids], tokenizer, settings.max_length)
    held_out, _ = tokenize([data.examples[i] for i in eval_ids], tokenizer, settings.max_length)
    if not training:
        raise TrainingError(f"no example fits in --max-length {settings.max_length} tokens; raise it")
    lengths = [len(t.ids) for t in training]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    report(
        f"{len(training)} training and {len(held_out)} held-out examples ({data.counts}; {skipped} longer than "
        f"{settings.max_length} tokens skipped), mean {sum(lengths) / len(lengths):.0f} tokens; "
        f"{settings.max_steps} steps of {settings.batch_size} = {settings.max_steps * settings.batch_size / len(training):.2f} epochs"
    )

    # --- model and optimizer ---
    torch.manual_seed(settings.seed)
    model = get_peft_model(model, _lora(settings, model.config.num_hidden_layers))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    identity = {"recipe": settings.recipe(), "data": _data_record(data)}
    out.mkdir(parents=True, exist_ok=True)
    progress = _resume(out, model, optimizer, identity) or Progress()
    if progress.step:
        progress.resumed_from.append(progress.step)
        report(f"continuing from the checkpoint at step {progress.step}")
    description = f"{model_dir.name} ({settings.precision}) on {device}"
    report(f"training a LoRA adapter (rank {settings.lora_rank}, {sum(p.numel() for p in trainable):,} parameters) on {description}")

    # --- the loop ---
    model.train()
    bar = tqdm(total=settings.max_steps, initial=progress.step, disable=not progress_bar, unit="step", dynamic_ncols=True)
    while progress.step < settings.max_steps:
        started = time.perf_counter()
        chosen = [training[i] for i in batches_for_step(progress.step, len(training), settings.batch_size, lengths, settings.seed)]
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(settings, progress.step)
        loss = reply_loss(model, *collate(chosen, pad_id, device))
        loss.backward()
        if not math.isfinite(float(loss.detach())):
            raise TrainingError(
                f"the loss is {float(loss.detach())} at step {progress.step + 1}: training diverged. The last "
                f"checkpoint in {out} is from step {progress.step - progress.step % settings.checkpoint_every}; "
                "start over in a new --out folder with a lower --learning-rate."
            )
        torch.nn.utils.clip_grad_norm_(trainable, settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        progress.step += 1
        progress.tokens += sum(len(t.ids) for t in chosen)
        progress.seconds += time.perf_counter() - started
        progress.losses.append(round(float(loss.detach()), 4))
        recent = progress.losses[-10:]
        bar.set_postfix(loss=f"{sum(recent) / len(recent):.3f}", tok_s=f"{progress.tokens / progress.seconds:.0f}")
        bar.update(1)
        if held_out and (progress.step % settings.eval_every == 0 or progress.step == settings.max_steps):
            loss_value = evaluate_loss(model, held_out, pad_id, device, settings.batch_size)
            progress.evaluations.append({"step": progress.step, "loss": round(loss_value, 4), "perplexity": round(math.exp(loss_value), 3)})
            bar.write(f"step {progress.step}: held-out loss {loss_value:.3f}, perplexity {math.exp(loss_value):.2f}")
        if progress.step % settings.checkpoint_every == 0 or progress.step == settings.max_steps:
            _save_checkpoint(out, model, optimizer, progress, identity)
    bar.close()

    # --- the adapter ---
    model.save_pretrained(out)
    provenance = model_dir / MARKER
    metadata = {
        "kind": "kith-adapter",
        "base_model": {
            "model": settings.model,
            "folder": model_dir.name,
            "source": json.loads(provenance.read_text()) if provenance.is_file() else None,
            "precision": settings.precision,
        },
        "data": identity["data"],
        "examples": {**data.counts, "training": len(training), "held_out": len(held_out), "skipped_too_long": skipped},
        "parameters": {**settings.recipe(), "max_steps": settings.max_steps},
        "device": device,
        "metrics": {
            "steps": progress.step,
            "train_loss_last_10": round(sum(progress.losses[-10:]) / max(len(progress.losses[-10:]), 1), 4),
            "held_out": progress.evaluations[-1] if progress.evaluations else None,
            "tokens": progress.tokens,
            "training_seconds": round(progress.seconds, 1),
            "tokens_per_second": round(progress.tokens / max(progress.seconds, 1e-9), 1),
        },
        "history": {"loss": progress.losses, "evaluations": progress.evaluations, "resumed_from": progress.resumed_from},
    }
    (out / METADATA).write_text(json.dumps(metadata, indent=2))
    return metadata


def with_overrides(settings: TrainSettings, **values: Any) -> TrainSettings:
    """Settings with the given values replaced; None means "keep the default"."""
    return replace(settings, **{k: v for k, v in values.items() if v is not None})
