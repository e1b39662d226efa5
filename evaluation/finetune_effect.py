"""The measured effect of an adapter: base vs adapter, in one run, on held-out ReDial data.

The base model is loaded once and the adapter attached to it; "base" figures are taken with the
adapter switched off (`disable_adapter`), so both sides share the same weights and precision.
- perplexity of recommender turns (valid split), given the bot's prompt for that turn;
- grounding: share of generated replies (the bot's prompt, with its worked examples) that name
  at least one of the picks in the prompt and whose every sentence passes the bot's faithfulness
  check (bot/faithfulness.py) against the picks' facts;
- Distinct-2 of those replies (distinct word bigrams / all bigrams);
- LLM re-ranking: the model scores each of the top-50 candidates of Kith's ranker by the
  likelihood of its title after the interaction prompt (the person's likes so far and last
  message); Recall@10 on dev (repeats removed) without the stage, with the LLM's order, and with
  the two orders fused (reciprocal rank).
Written as an evaluation report (`report.json` + plots: loss curve, before/after bars).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.faithfulness import FaithfulnessCheck, ItemFacts, TurnFacts
from bot.models import resolve_model
from bot.runtimes.base import Message
from evaluation.reports import plot_bars, plot_curves, table, timing_summary, write_report
from finetune.examples import interaction_answer, interaction_messages, load_examples
from finetune.train import METADATA, device_name, evaluate_loss, load_base, tokenize
from retrieval.metrics import recall_at_k
from retrieval.redial import read_catalog
from retrieval.titles import TitleFinder

REPLY_TOKENS = 40  # as the bot's sentence (bot.reply.MAX_SENTENCE_TOKENS)
REPETITION_PENALTY = 1.15  # as the bot's default (llm.repetition_penalty)
FUSION_K = 10  # reciprocal-rank fusion: 1 / (FUSION_K + rank)


def distinct_2(replies: Sequence[str]) -> float:
    """Distinct word bigrams over all bigrams of all replies (0 when there are none)."""
    bigrams = [tuple(words[i : i + 2]) for reply in replies for words in [reply.lower().split()] for i in range(len(words) - 1)]
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def is_grounded(reply: str, candidates: Sequence[str], check: FaithfulnessCheck, titles: Mapping[str, str]) -> bool:
    """Names at least one of the candidates, and every sentence passes the bot's faithfulness
    check (bot/faithfulness.py) against the candidates' facts: in ReDial's catalog, their titles."""
    facts = TurnFacts(tuple(ItemFacts(i, titles[i], "films") for i in candidates if i in titles))
    named = any({f.item_id, *f.same_name} & set(candidates) for f in check.finder.find(reply))
    return named and all(verdict.supported for _, verdict in check.check_reply(reply, facts))


def generate(model, tokenizer, prompts: Sequence[list[Message]], batch_size: int = 8) -> list[str]:  # type: ignore[no-untyped-def]
    """Greedy replies, batched with left padding."""
    import torch

    replies = []
    device = next(model.parameters()).device
    for start in range(0, len(prompts), batch_size):
        encoded = [tokenizer.apply_chat_template(p, add_generation_prompt=True, return_dict=True)["input_ids"] for p in prompts[start : start + batch_size]]
        width = max(map(len, encoded))
        ids = torch.tensor([[tokenizer.eos_token_id] * (width - len(e)) + list(e) for e in encoded], device=device)
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded], device=device)
        with torch.inference_mode():
            output = model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=REPLY_TOKENS, do_sample=False,
                repetition_penalty=REPETITION_PENALTY, pad_token_id=tokenizer.eos_token_id,
            )
        replies += [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in output]
    return replies


def score_candidates(model, tokenizer, prompt: Sequence[Message], continuations: Sequence[str]) -> list[float]:  # type: ignore[no-untyped-def]
    """Log-likelihood of each continuation (and the end of the turn) after the prompt. The prompt
    runs once; its key/value cache is repeated across the batch of continuations."""
    import torch

    device = next(model.parameters()).device
    prompt_ids = torch.tensor([tokenizer.apply_chat_template(list(prompt), add_generation_prompt=True, return_dict=True)["input_ids"]], device=device)
    targets = [tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for c in continuations]
    width = max(map(len, targets))
    batch = torch.tensor([t + [tokenizer.eos_token_id] * (width - len(t)) for t in targets], device=device)  # (n, width)
    with torch.inference_mode():
        first = model(input_ids=prompt_ids, use_cache=True)
        cache = first.past_key_values
        cache.batch_repeat_interleave(len(targets))
        # Right padding: pads come after every real token, so causal attention never sees them.
        mask = torch.ones((len(targets), prompt_ids.shape[1] + width), dtype=torch.long, device=device)
        logits = model(input_ids=batch, past_key_values=cache, attention_mask=mask).logits.float()  # (n, width, vocab)
        # The prompt's last position predicts each continuation's first token.
        predictions = torch.cat([first.logits[:, -1:].float().expand(len(targets), -1, -1), logits[:, :-1]], dim=1)
        log_probs = torch.log_softmax(predictions, dim=-1).gather(2, batch.unsqueeze(2)).squeeze(2)  # (n, width)
    return [float(log_probs[row, : len(t)].sum()) for row, t in enumerate(targets)]


def _fused(first: Sequence[str], second: Sequence[str]) -> list[str]:
    score = {item: 0.0 for item in first}
    for order in (first, second):
        for rank, item in enumerate(order):
            score[item] += 1.0 / (FUSION_K + rank)
    return sorted(score, key=lambda item: -score[item])


def _rerank_turns(kith, dev: Path, limit: int):  # type: ignore[no-untyped-def]
    from evaluation.redial import load_turns

    titles = {item.id: item.title for item in kith.ranker.stats.items.values()}
    turns = [t for t in load_turns(dev, titles)[0] if t.targets_for("repeats_removed")]
    return turns[:limit], titles


def measure(
    adapter: Path,
    out: Path,
    redial: Path,
    cache_dir: Path,
    kith=None,  # type: ignore[no-untyped-def]  # a Kith on the ReDial catalog, for re-ranking; None skips it
    perplexity_examples: int = 40,
    replies: int = 12,
    rerank_turns: int = 10,
    precision: str | None = None,
) -> dict[str, Any]:
    from peft import PeftModel

    metadata = json.loads((adapter / METADATA).read_text()) if (adapter / METADATA).is_file() else {}
    base = metadata.get("base_model", {})
    device = device_name()
    # On the CPU the adapter is measured on the de-quantized base (fp32): the same weights it was
    # trained against, without bitsandbytes' 4-bit kernels, which are 2-4x slower there.
    precision = precision or (base.get("precision", "nf4") if device == "cuda" else "fp32")
    model_dir = resolve_model(base.get("model", "default"), cache_dir)
    model, tokenizer = load_base(model_dir, precision, device)  # type: ignore[arg-type]
    model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    valid, dev = redial / "valid.jsonl", redial / "dev.jsonl"
    dialogue = [e for e in load_examples([valid]).examples if e.kind == "dialogue"]
    catalog = read_catalog(redial)
    finder = TitleFinder((movie_id, title, float(mentions)) for movie_id, (title, mentions) in catalog.items())
    check = FaithfulnessCheck(finder)
    titles = {movie_id: title for movie_id, (title, _) in catalog.items()}
    systems = {"base": None, "adapter": None}
    results: dict[str, dict[str, Any]] = {name: {} for name in systems}
    timings: dict[str, list[float]] = {}
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}

    # Perplexity of recommender turns.
    tokenized, _ = tokenize(dialogue[:perplexity_examples], tokenizer, 512)
    pad = tokenizer.eos_token_id
    for name in systems:
        with _side(model, name):
            loss = evaluate_loss(model, tokenized, pad, device)
        results[name]["perplexity"] = math.exp(loss)

    # Grounding and Distinct-2 of generated replies, from the bot's full prompt.
    chosen = [e for e in load_examples([valid], worked_examples=True).examples if e.kind == "dialogue"][:replies]
    prompts = [list(e.messages) for e in chosen]
    for name in systems:
        started = time.perf_counter()
        with _side(model, name):
            texts = generate(model, tokenizer, prompts)
        timings[f"generate ({name}), per reply"] = [(time.perf_counter() - started) / max(len(texts), 1)] * len(texts)
        grounded = [is_grounded(t, e.candidates, check, titles) for t, e in zip(texts, chosen, strict=True)]
        results[name]["grounding"] = sum(grounded) / max(len(grounded), 1)
        results[name]["distinct_2"] = distinct_2(texts)
        samples[name] = [{"prompt": p[-1]["content"], "reply": t, "grounded": g} for p, t, g in zip(prompts, texts, grounded, strict=True)][:8]

    # LLM re-ranking of Kith's top 50.
    rerank: dict[str, Any] | None = None
    if kith is not None and rerank_turns > 0:
        turns, titles = _rerank_turns(kith, dev, rerank_turns)
        lists: dict[str, list[list[str]]] = {"kith": [], "kith + LLM (base)": [], "kith + LLM (adapter)": [],
                                             "kith + LLM fused (base)": [], "kith + LLM fused (adapter)": []}
        for turn in tqdm(turns, desc="re-ranking", unit="turn", leave=False):
            ranked = [r.item_id for r in kith.rank(turn.context, k=50)]
            likes = [titles[i] for i in kith.read_profile(turn.context).likes if i in titles]
            last = next((m["text"] for m in reversed(turn.context) if m["role"] == "user"), None)
            prompt = interaction_messages(likes[-5:], request=last)
            lists["kith"].append(ranked)
            for name in systems:
                started = time.perf_counter()
                with _side(model, name):
                    scores = score_candidates(model, tokenizer, prompt, [interaction_answer(titles[i]) for i in ranked])
                timings.setdefault(f"re-rank 50 ({name}), per turn", []).append(time.perf_counter() - started)
                by_llm = [item for _, item in sorted(zip(scores, ranked, strict=True), key=lambda pair: -pair[0])]
                lists[f"kith + LLM ({name})"].append(by_llm)
                lists[f"kith + LLM fused ({name})"].append(_fused(ranked, by_llm))
        rerank = {}
        for label, ranked_lists in lists.items():
            pairs = [(r, target) for turn, r in zip(turns, ranked_lists, strict=True) for target in turn.targets_for("repeats_removed")]
            rerank[label] = {
                "recall@1": sum(recall_at_k(r, t, 1) for r, t in pairs) / max(len(pairs), 1),
                "recall@10": sum(recall_at_k(r, t, 10) for r, t in pairs) / max(len(pairs), 1),
                "samples": len(pairs),
            }
        rerank["turns"] = len(turns)
        for name in systems:
            results[name]["rerank_recall@10"] = rerank[f"kith + LLM ({name})"]["recall@10"]

    payload = {
        "adapter": str(adapter),
        "adapter_metadata": {k: metadata.get(k) for k in ("base_model", "data", "parameters", "metrics", "device")},
        "precision": precision,
        "device": device,
        "limits": {"perplexity_examples": len(tokenized), "replies": len(chosen), "rerank_turns": rerank_turns if kith else 0},
        "results": results,
        "rerank": rerank,
        "samples": samples,
        "timings": timing_summary(timings),
    }
    write_report(out, "finetune", payload, [valid, dev])
    history = metadata.get("history", {}).get("loss", [])
    if history:
        smooth = [sum(history[max(0, i - 9) : i + 1]) / len(history[max(0, i - 9) : i + 1]) for i in range(len(history))]
        plot_curves(out / "loss.png", "Training loss (reply tokens)", {"loss per step": history, "mean of last 10": smooth}, "step", "loss (nats)")
    bars = {metric: {name: results[name].get(metric, 0.0) for name in systems} for metric in ("grounding", "distinct_2", "rerank_recall@10") if metric in results["base"]}
    plot_bars(out / "before_after.png", "Base vs adapter (ReDial held-out)", bars, "share")
    plot_bars(out / "perplexity.png", "Perplexity of recommender turns (valid)", {"perplexity": {n: results[n]["perplexity"] for n in systems}}, "perplexity")
    return payload


def _side(model, name: str):  # type: ignore[no-untyped-def]
    """Run the model as the base (adapter switched off) or with the adapter."""
    return model.disable_adapter() if name == "base" else contextlib.nullcontext()


def summary_text(payload: dict[str, Any]) -> str:
    rows = [{"model": name, **values} for name, values in payload["results"].items()]
    columns = ["model", "perplexity", "grounding", "distinct_2", "rerank_recall@10"]
    lines = [f"Base vs adapter {payload['adapter']} ({payload['precision']} on {payload['device']}; {payload['limits']})", table(rows, columns)]
    if payload["rerank"]:
        rerank = payload["rerank"]
        rows = [{"ranking": label, **values} for label, values in rerank.items() if isinstance(values, dict)]
        lines += ["", f"Re-ranking Kith's top 50 on ReDial dev, repeats removed ({rerank['turns']} turns)", table(rows, ["ranking", "samples", "recall@1", "recall@10"])]
    for stage, values in payload["timings"].items():
        lines.append(f"{stage}: p50 {values['p50_s']:.2f} s, p95 {values['p95_s']:.2f} s")
    return "\n".join(lines)
