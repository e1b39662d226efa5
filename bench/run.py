"""Kith's speed, each figure beside its reference from the same run: decode speed (Kith's runtime
vs llama.cpp called directly vs transformers fp32/nf4), time to first token by turn number, per-stage
turn latency, retrieval and ranking against catalog size, and the memory of `kith ui`.

Run from the repository root with the project's environment:
    .venv/bin/python bench/run.py [--json] [--out bench-results] [--sizes 1000 10000 100000] [--adapter DIR]

The last line with --json is one JSON object with every figure. The first run builds the
synthetic catalogs (100,000 items take minutes to embed; see bench/catalog_scale.py) and keeps
them under <cache_dir>/bench/ for later runs. A PNG plot of latency against turn number and
against catalog size is written into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_scale import measure_ranking, synthetic_catalog  # noqa: E402
from turn_latency import SCRIPT  # noqa: E402

from bot import Kith  # noqa: E402
from bot.config import LLMConfig, load_config  # noqa: E402
from bot.models import default_gguf, resolve_model  # noqa: E402
from evaluation.reports import timing_summary  # noqa: E402
from bot.runtimes.adapters import adapter_gguf  # noqa: E402
from bot.runtimes.factory import open_runtime  # noqa: E402
from bot.runtimes.transformers import TransformersRuntime  # noqa: E402

DECODE_PROMPT = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper who finds a map."}]
DECODE_TOKENS = 100
# Rounds of Kith's runtime and llama.cpp's API generating side by side (see decode_speeds).
DECODE_ROUNDS = 5
# Fresh processes, each a side-by-side comparison (see decode_in_fresh_processes).
DECODE_PROCESSES = 5
TTFT_TURNS = (1, 5, 10, 20)
TARGETS = {"decode_ratio": 1.0, "ttft_turn10_p50_s": 0.3, "turn_p50_s": 2.5, "rank_p50_ms_100k": 30.0, "rss_mb": 1500.0}


def _decode_timer(llama) -> list[float]:  # type: ignore[no-untyped-def]
    """Record the seconds of each of this Llama's llama.cpp decode calls: the rest of a
    generation's time is the Python around them (sampling, detokenizing, streaming)."""
    spent: list[float] = []
    context = llama._ctx
    original = context.decode

    def timed(batch):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original(batch)
        finally:
            spent.append(time.perf_counter() - started)

    context.decode = timed
    return spent


def _interleaved(streams: dict[str, Iterator[object]]) -> dict[str, list[float]]:
    """Step the streams in turn, one piece each, timing every step. The machine's speed drifts
    between whole runs by more than the runtimes differ (up to ~10%); stepped in turn, the
    drift falls on both alike."""
    steps: dict[str, list[float]] = {name: [] for name in streams}
    live = dict(streams)
    while live:
        for name, stream in list(live.items()):
            started = time.perf_counter()
            try:
                next(stream)
            except StopIteration:
                del live[name]
                continue
            steps[name].append(time.perf_counter() - started)
    return steps


def decode_speeds(threads: int | None, with_transformers: bool, adapter: Path | None = None) -> dict[str, float]:
    """Tokens per second after the first token, same prompt, greedy, 100 new tokens, same threads.
    Kith's runtime and llama.cpp's own API generate side by side, a token each in turn, for
    DECODE_ROUNDS rounds (which goes first alternates); the ratio is the median of the rounds'.
    The time outside llama.cpp's decode calls, per token, is what each runtime adds. With an
    adapter, both attach it (llama.cpp the GGUF that Kith converts it to)."""
    from llama_cpp import Llama

    settings = LLMConfig(threads=threads, max_new_tokens=DECODE_TOKENS, adapter=adapter)
    results: dict[str, float] = {}
    ours = open_runtime(settings, load_config().cache_dir)
    threads, prefill_threads = ours.threads, ours.prefill_threads  # type: ignore[attr-defined]
    results["threads"] = threads
    ours.generate(DECODE_PROMPT, max_new_tokens=8)  # warm-up
    prompt = ours.llama.detokenize(ours.prompt_tokens(DECODE_PROMPT), special=True).decode()  # type: ignore[attr-defined]
    # llama.cpp through its own Python API: same GGUF, same rendered prompt, same threads.
    lora = str(adapter_gguf(adapter, default_gguf(), load_config().cache_dir)) if adapter else None
    raw = Llama(model_path=str(default_gguf()), n_ctx=2048, n_threads=threads, n_threads_batch=prefill_threads,
                lora_path=lora, verbose=False)
    raw.create_completion(prompt, max_tokens=8, temperature=0.0)
    decodes = {"decode": _decode_timer(ours.llama), "llama_cpp": _decode_timer(raw)}  # type: ignore[attr-defined]
    rounds: dict[str, list[tuple[float, float, float]]] = {name: [] for name in decodes}
    for number in range(DECODE_ROUNDS):
        for spent in decodes.values():
            spent.clear()
        streams = {
            "decode": ours.stream(DECODE_PROMPT),
            "llama_cpp": iter(raw.create_completion(prompt, max_tokens=DECODE_TOKENS, temperature=0.0,
                                                    repeat_penalty=1.15, stream=True)),
        }
        if number % 2:
            streams = dict(reversed(streams.items()))
        for name, steps in _interleaved(streams).items():
            # Tokens after the first are the decode calls after the prompt's: counting pieces
            # would count llama.cpp's closing chunk (no text, no decode) as a token.
            rate = (len(decodes[name]) - 1) / sum(steps[1:])
            rounds[name].append((rate, steps[0], (sum(steps) - sum(decodes[name])) / len(decodes[name])))
    for name, measured in rounds.items():
        rates, firsts, outside = zip(*measured, strict=True)
        results[f"{name}_tok_s"] = statistics.median(rates)
        results[f"{name}_first_token_s"] = statistics.median(firsts)
        results[f"{name}_outside_decode_ms_per_token"] = 1000 * statistics.median(outside)
    ratios = [o[0] / r[0] for o, r in zip(rounds["decode"], rounds["llama_cpp"], strict=True)]
    results["decode_ratio"] = statistics.median(ratios)
    results["decode_ratio_min"], results["decode_ratio_max"] = min(ratios), max(ratios)
    results["decode_rounds"] = DECODE_ROUNDS
    del ours, raw

    if with_transformers:
        folder = resolve_model("default", load_config().cache_dir)
        for precision in ("fp32", "nf4"):
            reference = TransformersRuntime(folder, LLMConfig(precision=precision, runtime="transformers", threads=threads,
                                                              max_new_tokens=DECODE_TOKENS, adapter=adapter))
            reference.generate(DECODE_PROMPT, max_new_tokens=4)
            tokenizer = reference.tokenizer
            started = time.perf_counter()
            stamps, text = [], ""
            for piece in reference.stream(DECODE_PROMPT):
                stamps.append(time.perf_counter() - started)
                text += piece
            generated = len(tokenizer(text, add_special_tokens=False)["input_ids"])
            # The streamer yields words, not tokens: rate = tokens after the first piece's.
            first_piece = len(tokenizer(text[: 1], add_special_tokens=False)["input_ids"])
            results[f"transformers_{precision}_tok_s"] = (generated - first_piece) / (stamps[-1] - stamps[0])
            del reference
    return results


def decode_in_fresh_processes(threads: int | None, with_transformers: bool, adapter: Path | None) -> dict[str, float]:
    """`decode_speeds` in DECODE_PROCESSES fresh processes; each figure is the median across them.
    Within one process the ratio holds to ~1%, but between processes it moved from x0.945 to
    x1.020 (three plain llama.cpp objects in one process differed by 1-3% per decode call,
    presumably from where their buffers land), so one process is one draw."""
    import multiprocessing

    draws = []
    for number in range(DECODE_PROCESSES):
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            draws.append(pool.apply(decode_speeds, (threads, with_transformers and number == 0, adapter)))
    results: dict[str, float] = {key: statistics.median(d[key] for d in draws if key in d) for key in draws[0]}
    ratios = [d["decode_ratio"] for d in draws]
    results["decode_ratio_min"], results["decode_ratio_max"] = min(ratios), max(ratios)
    results["decode_processes"] = DECODE_PROCESSES
    return results


def conversation_latency(
    data_dir: Path, conversations: int, turns: int, think_seconds: float, adapter: Path | None = None
) -> tuple[dict, dict[int, list[float]], dict[int, list[float]], object]:
    """Scripted conversations on the demo catalog: per-stage timings, and per turn number the
    time to the first LLM token (from the message arriving) and the whole turn. Each message
    comes `think_seconds` after the previous reply, as a person's would (the bot uses the pause
    to read the next prompt's opening: Kith.stream, prepare_next)."""
    kith = Kith.open(data_dir, "demo", adapter=adapter) if adapter else Kith.open(data_dir, "demo")
    kith.reply("bench-warmup", "a film please")  # loads the LLM; not measured
    runtime = kith.llm()
    inner = getattr(runtime, "runtime", runtime)  # under a serializing wrapper, if any
    clock: dict[str, float | None] = {"first": None}
    original = inner.stream

    def timed_stream(*args, **kwargs):  # type: ignore[no-untyped-def]
        for piece in original(*args, **kwargs):
            if clock["first"] is None:
                clock["first"] = time.perf_counter()
            yield piece

    inner.stream = timed_stream
    stages: dict[str, list[float]] = {}
    first_token: dict[int, list[float]] = {}
    whole: dict[int, list[float]] = {}
    for conversation in range(conversations):
        session = None
        user = f"u0{conversation % 9 + 1}"
        for number in range(1, turns + 1):
            message = SCRIPT[(number - 1 + conversation) % len(SCRIPT)]
            time.sleep(think_seconds)
            clock["first"] = None
            started = time.perf_counter()
            turn = kith.reply(user, message, session)
            session = turn.session_id
            whole.setdefault(number, []).append(turn.timings["total"])
            for stage, seconds in turn.timings.items():
                stages.setdefault(stage, []).append(seconds)
            if clock["first"] is not None:
                first_token.setdefault(number, []).append(clock["first"] - started)
    counters = getattr(inner, "counters", None)
    kith.close()
    return timing_summary(stages), first_token, whole, counters


def ui_rss_mb(data_dir: Path, adapter: Path | None = None) -> float:
    """Resident memory of a real `kith ui` process after it has answered one message."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kith_bin = Path(sys.executable).with_name("kith")
    process = subprocess.Popen(
        [str(kith_bin), "--data-dir", str(data_dir), "ui", "--catalog", "demo", "--port", str(port),
         *(["--adapter", str(adapter)] if adapter else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        from gradio_client import Client

        deadline = time.time() + 180
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:
                if time.time() > deadline or process.poll() is not None:
                    raise RuntimeError("kith ui did not start") from None
                time.sleep(1)
        _send_one(client, "/chat")
        return _rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _send_one(client, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    """One chat message through the UI's API, the other inputs at their defaults."""
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"][endpoint]
    arguments = [parameter.get("parameter_default") for parameter in info["parameters"]]
    arguments[0] = "I loved Arrival, a thoughtful sci-fi film please"
    client.predict(*arguments, api_name=endpoint)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def plot(out: Path, first_token: dict[int, list[float]], whole: dict[int, list[float]], ranks: dict[int, dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_turn, by_size) = plt.subplots(1, 2, figsize=(11, 4))
    turns = sorted(whole)
    by_turn.plot(turns, [timing_summary({"t": whole[t]})["t"]["p50_s"] for t in turns], marker="o", label="whole turn p50")
    shown = [t for t in turns if t in first_token]
    by_turn.plot(shown, [timing_summary({"t": first_token[t]})["t"]["p50_s"] for t in shown], marker="o",
                 label="first LLM token p50")
    by_turn.axhline(TARGETS["turn_p50_s"], color="grey", linestyle="--", linewidth=0.8)
    by_turn.axhline(TARGETS["ttft_turn10_p50_s"], color="grey", linestyle=":", linewidth=0.8)
    by_turn.set(xlabel="turn number", ylabel="seconds", title="Turn latency, demo catalog")
    by_turn.legend()
    sizes = sorted(ranks)
    by_size.plot(sizes, [ranks[s]["p50_s"] * 1000 for s in sizes], marker="o", label="p50")
    by_size.plot(sizes, [ranks[s]["p95_s"] * 1000 for s in sizes], marker="o", label="p95")
    by_size.axhline(TARGETS["rank_p50_ms_100k"], color="grey", linestyle="--", linewidth=0.8)
    by_size.set(xscale="log", xlabel="catalog items", ylabel="ms", title="Retrieval + ranking")
    by_size.legend()
    figure.tight_layout()
    path = out / "latency.png"
    figure.savefig(path, dpi=110)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="End with one JSON line holding every figure.")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="Folder for results.json and latency.png.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--think-seconds", type=float, default=1.0,
                        help="pause between a reply and the next message (0: back to back)")
    parser.add_argument("--threads", type=int, default=None, help="LLM threads (default: the runtime's own default).")
    parser.add_argument("--skip-transformers", action="store_true", help="Leave out the (slow) transformers references.")
    parser.add_argument("--adapter", type=Path, default=None,
                        help="A LoRA adapter folder (kith finetune) to attach wherever the LLM runs.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache_dir = load_config().cache_dir
    result: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()}-core {platform.machine()} CPU, no GPU",
    }

    result["conversations"] = args.conversations
    result["adapter"] = str(args.adapter) if args.adapter else None
    result.update(decode_in_fresh_processes(args.threads, not args.skip_transformers, args.adapter))

    demo_dir = Path(tempfile.mkdtemp(prefix="kith-bench-demo-"))
    stages, first_token, whole, counters = conversation_latency(demo_dir, args.conversations, args.turns, args.think_seconds,
                                                                args.adapter)
    for number in TTFT_TURNS:
        if number in first_token:
            result[f"ttft_turn{number}_p50_s"] = timing_summary({"t": first_token[number]})["t"]["p50_s"]
            # Turns that asked a question instead (no LLM) have no first token: how many did.
            result[f"ttft_turn{number}_n"] = len(first_token[number])
    result["think_seconds"] = args.think_seconds
    if args.think_seconds:
        # Reference: the same conversations with every message sent the moment the reply ends.
        _, back_to_back, _, _ = conversation_latency(demo_dir, args.conversations, args.turns, 0.0, args.adapter)
        for number in TTFT_TURNS:
            if number in back_to_back:
                result[f"ttft_turn{number}_back_to_back_p50_s"] = timing_summary({"t": back_to_back[number]})["t"]["p50_s"]
    result["turn_p50_s"] = stages["total"]["p50_s"]
    result["turn_p95_s"] = stages["total"]["p95_s"]
    result["stages"] = stages
    if counters is not None:
        result["prompt_tokens_reused_last_turn"] = counters.last_reused
        result["prompt_tokens_evaluated_last_turn"] = counters.last_evaluated

    ranks: dict[int, dict] = {}
    for items in args.sizes:
        folder, catalog, ingest = synthetic_catalog(items, cache_dir)
        ranks[items] = measure_ranking(folder, catalog, items, 40)
        label = f"{items // 1000}k" if items >= 1000 else str(items)
        result[f"rank_p50_ms_{label}"] = ranks[items]["p50_s"] * 1000
        result[f"rank_p95_ms_{label}"] = ranks[items]["p95_s"] * 1000
        result[f"ingest_items_per_s_{label}"] = ingest["ingest_items_per_s"]
        result[f"embed_items_per_s_{label}"] = ingest["embed_items_per_s"]
        if ingest.get("vectors_borrowed_from"):
            result[f"vectors_borrowed_{label}"] = ingest["vectors_borrowed_from"]

    result["rss_mb"] = ui_rss_mb(demo_dir, args.adapter)
    shutil.rmtree(demo_dir, ignore_errors=True)
    result["plot"] = str(plot(args.out, first_token, whole, ranks))
    (args.out / "results.json").write_text(json.dumps(result, indent=2))
    print_table(result)
    if args.json:
        print(json.dumps(result))


def print_table(result: dict) -> None:  # type: ignore[type-arg]
    def row(figure: str, value: str, reference: str, target: str = "") -> None:
        print(f"| {figure} | {value} | {reference} | {target} |")

    adapter = f", adapter {result['adapter']}" if result.get("adapter") else ""
    print(f"\n{result['date']}, {result['machine']}, {result['threads']} threads{adapter}\n")
    print("| figure | Kith | reference (same run) | target |")
    print("|---|---|---|---|")
    reference = f"llama.cpp direct {result['llama_cpp_tok_s']:.1f} tok/s"
    if "transformers_fp32_tok_s" in result:
        reference += (f"; transformers fp32 {result['transformers_fp32_tok_s']:.1f}, "
                      f"nf4 {result['transformers_nf4_tok_s']:.1f}")
    row(f"decode speed (100 tokens, side by side a token each in turn; median of {result['decode_processes']} processes)",
        f"{result['decode_tok_s']:.1f} tok/s (x{result['decode_ratio']:.3f} llama.cpp; processes "
        f"x{result['decode_ratio_min']:.3f}-{result['decode_ratio_max']:.3f})",
        reference, "≥ llama.cpp")
    row("time outside llama.cpp's decode calls, per token",
        f"{result['decode_outside_decode_ms_per_token']:.3f} ms",
        f"llama.cpp's Python API {result['llama_cpp_outside_decode_ms_per_token']:.3f} ms", "")
    for number in TTFT_TURNS:
        key = f"ttft_turn{number}_p50_s"
        if key in result:
            reference = f"{result[f'ttft_turn{number}_n']} of {result['conversations']} conversations reached the LLM"
            if f"ttft_turn{number}_back_to_back_p50_s" in result:
                reference += f"; messages back to back: {result[f'ttft_turn{number}_back_to_back_p50_s']:.3f} s"
            row(f"first LLM token, turn {number}, p50 ({result['think_seconds']:g} s between turns)", f"{result[key]:.3f} s",
                reference, "≤ 0.3 s" if number == 10 else "")
    stages = result["stages"]
    for stage, summary in stages.items():
        label = "whole turn" if stage == "total" else f"stage {stage}"
        row(f"{label} p50 / p95", f"{summary['p50_s']:.3f} / {summary['p95_s']:.3f} s", f"{summary['n']} turns",
            "p50 ≤ 2.5 s" if stage == "total" else "")
    for key in [k for k in result if k.startswith("rank_p50_ms_")]:
        label = key.removeprefix("rank_p50_ms_")
        if f"vectors_borrowed_{label}" in result:
            ingest = (f"ingest {result['ingest_items_per_s_' + label]:.0f} items/s with vectors borrowed from "
                      f"{result['vectors_borrowed_' + label]} (not embedded)")
        else:
            ingest = (f"ingest {result['ingest_items_per_s_' + label]:.0f} items/s "
                      f"(embedding {result['embed_items_per_s_' + label]:.0f}/s)")
        row(f"retrieval + ranking, {label} items, p50 / p95",
            f"{result[key]:.1f} / {result['rank_p95_ms_' + label]:.1f} ms", ingest,
            "p50 ≤ 30 ms" if label == "100k" else "")
    row("RSS of `kith ui` after one reply", f"{result['rss_mb']:.0f} MB", "", "≤ 1500 MB")


if __name__ == "__main__":
    main()
