"""Faithfulness and latency of recommendation replies: demo turns and ReDial seeker turns.

Run from the repository root with the project's environment:
    .venv/bin/python bench/faithfulness.py [--turns 200] [--redial-turns 100] [--seed 0]
        [--data-dir DIR] [--redial-dir /tmp/kith-redial] [--adapter DIR] [--label NAME] [--out DIR]

Faithfulness: the share of a reply's sentences (the recommendation section, the sentences after
the one naming the top pick included) whose claims are all supported by the facts of the items
they are about, by the bot's own check (bot/faithfulness.py); also the share of turns whose
sentences all are. Latency: the whole turn, and the first checked sentence (the moment the text
streamed so far first holds a finished sentence naming a pick), p50 and p95.

Demo turns: a fixed seed picks a demo user and a message from MESSAGES for each turn, each turn
in a fresh conversation (the user's history and friends count, their profile grows), on a copy
of a data folder with the demo catalog (--data-dir; a new one unless given). ReDial turns: seeker messages of dev and valid dialogues (../shared/data/redial), on
a copy of a data folder with the ReDial catalog ingested (--redial-dir; skipped where absent).
The LLM is the default runtime; with --adapter, the same turns run with the base model and with
the adapter, in one run.

"Today" (the reply before issue 17's change) is reproduced by running this file and
bot/faithfulness.py on a checkout of the commit before it; --label names the run in the output.
The runs' data folders keep their replies: `--recheck DATA_DIR:CATALOG ...` scores them again
with the check as it is now (faithfulness only), so runs made with an older check compare.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import prompts
from bot import Kith
from bot.faithfulness import FaithfulnessCheck, Verdict, facts_for, split_sentences
from bot.reply import REWRITE_LOG
from retrieval.redial import read_conversations, redial_turns

REDIAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "redial"
SAMPLES = 10
# Turns are drawn until the wanted number recommended (a clarifying question has no picks to be
# faithful to), from at most this many times as many candidates.
DRAWS = 3
MESSAGES = [
    "I loved Arrival — a thoughtful sci-fi film please, nothing scary",
    "something funny for a family movie night",
    "a cozy book for a rainy weekend",
    "I had a rough week, something uplifting",
    "a tense thriller I can't put down",
    "some jazz for a dinner party",
    "gear for a weekend hike in the mountains",
    "a classic novel I should have read by now",
    "a film for date night, romantic but not cheesy",
    "music to study to, nothing with lyrics",
    "a fantasy epic to get lost in",
    "something scary for Halloween",
    "a war film, something historical",
    "a documentary that will make me think",
    "a light read for the beach under $15",
    "upbeat music for a workout",
    "I need a warm sleeping bag for winter camping",
    "a mystery novel with a clever detective",
    "something for my daughter, she's eight",
    "an album for a long road trip",
    "a slow-burn literary novel",
    "I liked Dune, what else is like it?",
    "a feel-good film after a long day",
    "something dark and thought-provoking",
    "a waterproof jacket for cycling in the rain",
    "a book about science that is easy to follow",
    "folk music for a quiet evening",
    "an animated film the whole family will enjoy",
    "we're going camping next week, so excited!",
    "a crime film with a great heist",
    "something like Blade Runner but newer",
    "a non-fiction book about history",
    "chill electronic music for working",
    "a western I haven't seen",
    "gear for a beginner climber",
    "a romance novel that is not too sad",
    "a quirky comedy, nothing too long",
    "hip-hop album with great storytelling",
    "a book club pick that sparks discussion",
    "something melancholic for a rainy day",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="demo turns that recommend (0 skips them)")
    parser.add_argument("--redial-turns", type=int, default=100, help="ReDial seeker turns that recommend (0 skips them)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="a data folder with the demo catalog (copied; default: a new one, ingested)")
    parser.add_argument("--redial-dir", type=Path, default=Path("/tmp/kith-redial"),
                        help="a data folder with the ReDial catalog ingested (copied; the copy is used)")
    parser.add_argument("--redial-data", type=Path, default=REDIAL_DATA, help="ReDial's dialogues (dev.jsonl, valid.jsonl)")
    parser.add_argument("--adapter", type=Path, default=None, help="also run with this LoRA adapter")
    parser.add_argument("--label", default="current", help="what this run measures (e.g. today, after)")
    parser.add_argument("--out", type=Path, default=None, help="write faithfulness.json (and turns.jsonl, as it goes) here")
    parser.add_argument("--recheck", type=Path, nargs="+", default=None, metavar="DATA_DIR:CATALOG",
                        help="instead of running turns: score the replies saved in these data folders")
    args = parser.parse_args()
    if args.recheck:
        for spec in args.recheck:
            folder, _, catalog = str(spec).rpartition(":")
            r = recheck(Path(folder), catalog)
            print(f"{spec}: {r['recommending_turns']} turns, {r['sentences']} sentences, sentence faithfulness "
                  f"{r['sentence_faithfulness']:.3f}, turn faithfulness {r['turn_faithfulness']:.3f}")
            print(f"  most unsupported claims: {', '.join(f'{c} ({n})' for c, n in r['top_unsupported'][:15])}")
        return

    systems = {"base": None, **({"adapter": args.adapter} if args.adapter else {})}
    data_dir = Path(tempfile.mkdtemp(prefix="kith-faith-demo-")) / "data"
    if args.data_dir and args.turns:
        shutil.copytree(args.data_dir, data_dir)
    redial_dir = None
    if args.redial_turns and (args.redial_dir / "kith.db").is_file() and (args.redial_data / "dev.jsonl").is_file():
        redial_dir = Path(tempfile.mkdtemp(prefix="kith-faith-redial-")) / "data"
        shutil.copytree(args.redial_dir, redial_dir)
    elif args.redial_turns:
        print(f"ReDial turns skipped: no ReDial data folder at {args.redial_dir} or no {args.redial_data / 'dev.jsonl'}")
    log = None
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        log = args.out / "turns.jsonl"
        log.unlink(missing_ok=True)
    results: dict[str, Any] = {"label": args.label, "seed": args.seed, "commit": _commit(), "systems": {},
                               "data_dirs": {"demo": str(data_dir), "redial": str(redial_dir) if redial_dir else None}}
    print(f"data folders (for --recheck): demo {data_dir}, ReDial {redial_dir}")
    for name, adapter in systems.items():
        config = {"adapter": adapter} if adapter else {}
        system: dict[str, Any] = {}
        if args.turns:
            kith = Kith.open(data_dir, "demo", **config)
            system["demo"] = run(kith, demo_turns(kith, args.turns, args.seed), "faith-demo", args.turns, log)
            kith.close()
        if redial_dir is not None:
            kith = Kith.open(redial_dir, "redial", **config)
            system["redial"] = run(kith, redial_messages(args.redial_data, args.redial_turns, args.seed), "faith-redial",
                                   args.redial_turns, log)
            kith.close()
        results["systems"][name] = system
    print_summary(results)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "faithfulness.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
        print(f"wrote {args.out / 'faithfulness.json'}")


def recheck(data_dir: Path, catalog: str) -> dict[str, Any]:
    """Faithfulness of the replies a run saved in a data folder (its sessions), by the check as it
    is now: to score an earlier run's replies (e.g. today's) with a changed check, alike. The
    person's own items are those of their profile as stored at the end and of their activity,
    and those their message names. Clarifying questions (with their popular picks) are left out,
    as the runs leave them out."""
    kith = Kith.open(data_dir, catalog)
    check = FaithfulnessCheck(kith.finder, {t for item in kith.ranker.stats.items.values() for t in item.tags})
    meanwhile = prompts.table("clarify")["meanwhile"]
    rows = kith.stores.database.query(
        "SELECT s.user_id, m.session_id, m.position, m.role, m.text, m.record FROM messages m "
        "JOIN sessions s ON s.id = m.session_id WHERE s.catalog = ? ORDER BY m.session_id, m.position", (catalog,))
    tally = _Tally()
    previous = ""
    for user_id, _, _, role, text, record in rows:
        if role == "user":
            previous = text
            continue
        picks = json.loads(record or "{}").get("recommendations") or []
        if user_id.endswith("-warmup") or not picks or meanwhile in text:
            continue
        profile = kith.profile(user_id)
        own = {*profile.likes, *profile.dislikes, *kith.ranker.own_history(user_id)[0],
               *(f.item_id for f in kith.finder.find(previous))}
        stored = [SimpleNamespace(item_id=p["item_id"], title=p["title"], category=p.get("category", ""),
                                  price=p.get("price"), reasons=p.get("reasons", []), tags=[]) for p in picks]
        facts = facts_for(stored, kith.ranker.stats.items, own)
        tally.add(check.check_reply(_recommendation_section(text, stored[0].title), facts))
    kith.close()
    return tally.summary()


def demo_turns(kith: Kith, turns: int, seed: int) -> list[tuple[str, str]]:
    """(user id, message) for each turn: a demo user and a message, drawn by the seed."""
    rng = random.Random(seed)
    users = sorted(u.id for u in kith.users())
    return [(rng.choice(users), rng.choice(MESSAGES)) for _ in range(turns * DRAWS)]


def redial_messages(folder: Path, turns: int, seed: int) -> list[tuple[str, str]]:
    """Seekers' messages of ReDial dev and valid dialogues that ask for or talk about films (five
    words or more), drawn by the seed; each is a new person's first message."""
    messages = []
    for split in ("dev", "valid"):
        path = folder / f"{split}.jsonl"
        if not path.is_file():
            continue
        for _, conversation in read_conversations(path, []):
            titles = {str(k): v for k, v in (conversation.get("movieMentions") or {}).items() if v}
            messages += [t.text for t in redial_turns(conversation, titles) if t.role == "user" and len(t.text.split()) >= 5]
    chosen = random.Random(seed).sample(messages, min(turns * DRAWS, len(messages)))
    return [(f"faith-redial-{number}", text) for number, text in enumerate(chosen)]


class _Tally:
    """Sentences and turns checked, and the claims that failed."""

    def __init__(self) -> None:
        self.turns = self.sentences = self.supported = self.faithful_turns = 0
        self.failures: Counter[str] = Counter()

    def add(self, verdicts: list[tuple[str, Verdict]]) -> int:
        """Count one turn's verdicts; the number of its sentences that passed."""
        passed = sum(v.supported for _, v in verdicts)
        self.turns += 1
        self.sentences += len(verdicts)
        self.supported += passed
        self.faithful_turns += passed == len(verdicts)
        self.failures.update(claim for _, v in verdicts for claim in v.unsupported)
        return passed

    def summary(self) -> dict[str, Any]:
        return {"recommending_turns": self.turns, "sentences": self.sentences,
                "sentence_faithfulness": self.supported / max(self.sentences, 1),
                "turn_faithfulness": self.faithful_turns / max(self.turns, 1),
                "top_unsupported": self.failures.most_common(25)}


class _Rewrites(logging.Handler):
    """Counts the reply writer's rewrites (bot/reply.py logs each LLM sentence it does not keep,
    unfaithful or too short: "written again" or "replaced"), so that the LLM's own faithfulness
    shows beside the reply's."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        # ReplyWriter._written: "%s sentence (%s), %s: %s" % (why, claims, what it did, sentence)
        if record.msg == REWRITE_LOG and len(record.args or ()) == 4:
            self.counts[str(record.args[2])] += 1  # type: ignore[index]


def run(kith: Kith, turns: list[tuple[str, str]], prefix: str, wanted: int, log: Path | None = None) -> dict[str, Any]:
    """Play candidate turns until `wanted` of them recommended; measure those. With `log`, each
    measured turn is appended to it as a JSON line as it ends (a long run's progress)."""
    check = FaithfulnessCheck(kith.finder, {t for item in kith.ranker.stats.items.values() for t in item.tags})
    items = kith.ranker.stats.items
    kith.reply(f"{prefix}-warmup", "a film please")  # loads the LLMs; not measured
    rewrites = _Rewrites()
    writer_log = logging.getLogger("bot.reply")
    writer_log.addHandler(rewrites)
    writer_log.setLevel(logging.INFO)
    whole, first, records = [], [], []
    tally = _Tally()
    for user_id, message in turns:
        if tally.turns >= wanted:
            break
        started = time.perf_counter()
        before = dict(rewrites.counts)
        text, first_sentence, turn = "", None, None
        for piece in kith.stream(user_id, message):
            if isinstance(piece, str):
                text += piece
                if first_sentence is None and _has_pick_sentence(text, kith):
                    first_sentence = time.perf_counter() - started
            else:
                turn = piece
        whole.append(time.perf_counter() - started)
        if turn is None or not turn.recommendations or turn.asked_clarifying:
            continue
        first.append(first_sentence if first_sentence is not None else whole[-1])
        own = {*turn.profile.likes, *turn.profile.dislikes, *kith.ranker.own_history(user_id)[0],
               *(f.item_id for f in kith.finder.find(message))}
        facts = facts_for(turn.recommendations, items, own)
        verdicts = check.check_reply(_recommendation_section(turn.text, turn.recommendations[0].title), facts)
        passed = tally.add(verdicts)
        records.append({"user": user_id, "message": message, "reply": turn.text, "repaired": turn.repaired,
                        "sentences": len(verdicts), "supported": passed,
                        "rewrites": {k: n - before.get(k, 0) for k, n in rewrites.counts.items() if n > before.get(k, 0)},
                        "turn_s": whole[-1], "first_sentence_s": first[-1],
                        "unsupported": [[s, list(v.unsupported)] for s, v in verdicts if not v.supported]})
        if log is not None:
            with log.open("a") as lines:
                lines.write(json.dumps({"data": prefix, **records[-1]}, ensure_ascii=False) + "\n")
    writer_log.removeHandler(rewrites)
    picked = sorted(random.Random(f"samples:{len(records)}").sample(range(len(records)), min(SAMPLES, len(records))))
    return {
        "turns": len(whole), **tally.summary(),
        "turn_p50_s": _quantile(whole, 0.5), "turn_p95_s": _quantile(whole, 0.95),
        "first_sentence_p50_s": _quantile(first, 0.5), "first_sentence_p95_s": _quantile(first, 0.95),
        "repaired_turns": sum(r["repaired"] for r in records),
        # Unfaithful LLM sentences: written again once ("written again"), then replaced by one
        # from the facts ("replaced"); zero for a reply that does not check its sentences.
        "llm_rewrites": dict(rewrites.counts),
        "samples": [records[i] for i in picked],
        "unfaithful": [r for r in records if r["unsupported"]][:40],
    }


def _has_pick_sentence(text: str, kith: Kith) -> bool:
    """Whether the text so far holds a finished sentence that names a catalog item."""
    finished = [s for s in split_sentences(text) if s[-1:] in ".!?"]
    return any(kith.finder.find(s) for s in finished)


def _recommendation_section(text: str, top_title: str) -> str:
    """The reply from the paragraph that names the top pick on (a help answer before it is not
    about the picks)."""
    at = text.find(top_title)
    return text if at < 0 else text[text.rfind("\n\n", 0, at) + 2 if "\n\n" in text[:at] else 0:]


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "bot/reply.py", "prompts/reply.toml"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (reply changed since)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def print_summary(results: dict[str, Any]) -> None:
    print(f"faithfulness ({results['label']}, commit {results['commit']}, seed {results['seed']})")
    print(f"{'system':<8} {'data':<7} {'turns':>5} {'sentences':>9} {'sent.faith':>10} {'turn faith':>10} "
          f"{'turn p50':>8} {'turn p95':>8} {'1st p50':>8} {'1st p95':>8}")
    for name, system in results["systems"].items():
        for data, r in system.items():
            print(f"{name:<8} {data:<7} {r['recommending_turns']:>5} {r['sentences']:>9} {r['sentence_faithfulness']:>10.3f} "
                  f"{r['turn_faithfulness']:>10.3f} {r['turn_p50_s']:>8.3f} {r['turn_p95_s']:>8.3f} "
                  f"{r['first_sentence_p50_s']:>8.3f} {r['first_sentence_p95_s']:>8.3f}")
            print(f"  unfaithful LLM sentences written again {r['llm_rewrites'].get('written again', 0)}, "
                  f"then replaced {r['llm_rewrites'].get('replaced', 0)}; turns repaired {r['repaired_turns']}")
            print(f"  most unsupported claims: {', '.join(f'{c} ({n})' for c, n in r['top_unsupported'][:12])}")


if __name__ == "__main__":
    main()
