"""Per-stage latency of a full turn on the demo catalog: p50 and p95 over a scripted chat.

Run from the repository root with the project's environment:
    .venv/bin/python bench/turn_latency.py [--turns 12] [--data-dir DIR] [--adapter DIR] [--readers rules,llm] [--users 1]

With several readers, each runs the same script in turn (rules: no LLM call before the reply;
llm: every field group read by the LLM), printed side by side.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bot import Kith
from evaluation.reports import timing_summary
from bot.understanding import FIELDS

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
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--readers", default="rules,llm", help="comma-separated: rules, llm")
    parser.add_argument("--users", type=int, default=1,
                        help="people taking turns in the script: 1, one conversation; N, the reply LLM's "
                             "prepared prompt is another person's whenever the person changes")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kith-bench-"))
    results = {}
    for reader in args.readers.split(","):
        fields = list(FIELDS) if reader == "llm" else []
        config = {"understanding": {"llm_fields": fields}, **({"adapter": args.adapter} if args.adapter else {})}
        results[reader] = run(Kith.open(data_dir, "demo", **config), args.turns, f"bench-{reader}", args.users)
    print(f"{'stage':<12} " + " ".join(f"{reader + ' p50':>10} {reader + ' p95':>10}" for reader in results)
          + f"   seconds, over {args.turns} turns, demo catalog, adapter {args.adapter or 'none'}")
    for stage in next(iter(results.values())):
        row = " ".join(f"{results[r].get(stage, {}).get('p50_s', float('nan')):>10.3f} "
                       f"{results[r].get(stage, {}).get('p95_s', float('nan')):>10.3f}" for r in results)
        print(f"{stage:<12} {row}")


def run(kith: Kith, turns: int, user: str, users: int = 1) -> dict[str, dict[str, float]]:
    """Stage timings, and when the first text (the tone's opener) and the first checked sentence
    (the first piece naming the top pick: its sentence, which passed the faithfulness check)
    reached the caller."""
    kith.reply(f"{user}-warmup", "a film please")  # loads the LLMs; not measured
    stages: dict[str, list[float]] = {}
    sessions: dict[str, str] = {}
    for number in range(turns):
        person = f"{user}-{number % users}"
        message = SCRIPT[number % len(SCRIPT)]
        started = time.perf_counter()
        arrivals: list[tuple[float, str]] = []
        for piece in kith.stream(person, message, sessions.get(person)):
            if isinstance(piece, str):
                arrivals.append((time.perf_counter() - started, piece))
            else:
                sessions[person] = piece.session_id
                for stage, seconds in piece.timings.items():
                    stages.setdefault(stage, []).append(seconds)
                top = piece.recommendations[0].title if piece.recommendations and not piece.asked_clarifying else None
                named = [at for at, text in arrivals if top and top in text]
                if named:
                    stages.setdefault("first_sentence", []).append(named[0])
        stages.setdefault("first_text", []).append(arrivals[0][0] if arrivals else 0.0)
    kith.close()
    return timing_summary(stages)


if __name__ == "__main__":
    main()
