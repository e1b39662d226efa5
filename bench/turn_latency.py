"""Per-stage latency of a full turn on the demo catalog: p50 and p95 over a scripted chat.

Run from the repository root with the project's environment:
    .venv/bin/python bench/turn_latency.py [--turns 12] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bot import Kith
from bot.reports import timing_summary

SCRIPT = [
    "I loved Arrival and The Martian, something thoughtful please",
    "a film, nothing scary",
    "no, not those",
    "what about a book for a long flight?",
    "I had a rough week, something cozy",
    "under $15 please",
    "some music for a rainy day",
    "actually I like jazz",
    "gear for a weekend hike",
    "something for my daughter, she's eight",
    "we're going camping next week, so excited!",
    "a classic novel",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=len(SCRIPT))
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kith-bench-"))
    kith = Kith.open(data_dir, "demo")
    kith.reply("bench-warmup", "a film please")  # loads the LLM; not measured
    stages: dict[str, list[float]] = {}
    session = None
    for number in range(args.turns):
        message = SCRIPT[number % len(SCRIPT)]
        started = time.perf_counter()
        first = None
        for piece in kith.stream("u01", message, session):
            if first is None:
                first = time.perf_counter() - started
            if not isinstance(piece, str):
                session = piece.session_id
                for stage, seconds in piece.timings.items():
                    stages.setdefault(stage, []).append(seconds)
        stages.setdefault("first_text", []).append(first or 0.0)
    print(f"{'stage':<12} {'p50 (s)':>8} {'p95 (s)':>8}   over {args.turns} turns, demo catalog")
    for stage, summary in timing_summary(stages).items():
        print(f"{stage:<12} {summary['p50_s']:>8.3f} {summary['p95_s']:>8.3f}")
    kith.close()


if __name__ == "__main__":
    main()
