"""Item opinions on a ReDial file (dev by default): the rules reader against the LLM reader,
plain VADER and the majority class, in one run; and how long the LLM reader takes per message.

The protocol (issue 16): every movie with a seeker `liked` label of 0 or 1 that the seeker named
or that was suggested to them; reading the whole dialogue (`Kith.read_conversation`) must put it
in the profile's likes or dislikes; an item in neither is a miss for its true class; macro-F1
over like / dislike, and each class's F1. Develop on train.jsonl or valid.jsonl; dev.jsonl is
for the final measurement.

Needs the `redial` catalog (README: `kith ingest --format redial ...`). Run from the repository root:
    .venv/bin/python bench/understanding.py --data-dir /tmp/kith-redial [--readers rules] [--adapter DIR] [--limit 100]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bot import Kith
from evaluation.redial import item_opinions
from evaluation.reports import table, timing_summary
from bot.understand import LLMReader, Reader, Said


class TimedLLMReader(LLMReader):
    """The LLM reader, recording seconds per message."""

    seconds: list[float]

    def read(self, said: Said):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return super().read(said)
        finally:
            self.seconds.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/redial/dev.jsonl"))
    parser.add_argument("--adapter", type=Path, default=None, help="an adapter trained by `kith finetune`")
    parser.add_argument("--limit", type=int, default=None, help="the first N dialogues only")
    parser.add_argument("--readers", default="rules,llm",
                        help="comma-separated, of rules and llm (rules alone does not load the LLM)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.readers.split(",") if name.strip()]
    if not chosen or set(chosen) - {"rules", "llm"}:
        parser.error(f"--readers {args.readers!r}: name rules, llm or both")

    kith = Kith.open(args.data_dir, "redial", **({"adapter": args.adapter} if args.adapter else {}))
    titles = {item.id: item.title for item in kith.ranker.stats.items.values()}
    conversations = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()][: args.limit]
    llm = TimedLLMReader(kith.reader_llm, kith.vocabulary, kith.finder, sorted(kith.ranker.stats.categories),
                         instructed=args.adapter is None)
    llm.seconds = []
    if "llm" in chosen:
        kith.reader_llm().generate_json([{"role": "user", "content": "hi"}], {"type": "object"}, 4)  # loads the model
    readers = {name: Reader(kith.reader.rules, llm, ["opinions"]) if name == "llm" else Reader(kith.reader.rules, None, [])
               for name in chosen}
    started = time.perf_counter()
    results = item_opinions(kith, conversations, titles, readers)
    seconds = time.perf_counter() - started
    rows = [{"reader": name, **values} for name, values in results.items()]
    print(f"ReDial item opinions: {len(conversations)} dialogues of {args.data}, adapter {args.adapter or 'none'}")
    print(table(rows, ["reader", "samples", "accuracy", "macro_f1", "f1_like", "f1_dislike"]))
    latency = timing_summary({"LLM understanding per message": llm.seconds})
    for stage, figures in latency.items():
        print(f"{stage}: p50 {figures['p50_s'] * 1000:.0f} ms, p95 {figures['p95_s'] * 1000:.0f} ms "
              f"over {len(llm.seconds)} messages ({seconds:.0f} s in all)")
    if args.out:
        args.out.write_text(json.dumps({"opinions": results, "latency": latency, "adapter": str(args.adapter),
                                        "dialogues": len(conversations)}, indent=2))


if __name__ == "__main__":
    main()
