"""Tune the `redial` ranking weights without touching dev: K-fold cross-validation inside
train.jsonl, plus valid.jsonl.

Fold f holds out every K-th training conversation (line number mod K == f) and ranks them with a
catalog imported (for real, `kith ingest --format redial`) from the other conversations, so no
held-out conversation's co-mentions or seeker likes are known to the ranking. valid.jsonl is
ranked with a catalog imported from all of train.jsonl. Each variant is the shipped `redial`
weights with some weights changed; the shipped weights are always measured first, in the same
run. Metrics: ReDial's repeats-removed protocol (bot/redial_eval.py), pooled over the folds.

The fold catalogs are imported once into `--work` (~40 s each on 2 cores) and reused.

Run from the repository root with the project's environment, e.g.
    .venv/bin/python bench/redial_cv.py --redial ../shared/data/redial \\
        --movielens ../shared/data/movielens-latest-small --work /tmp/redial-cv \\
        --variant '{"tags": 0.15}' --variant '{"comention": 0.35}'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.kith import Kith
from bot.redial_eval import RecommenderTurn, load_turns
from retrieval.metrics import summarize

CATALOG = "redial"


def _import(folder: Path, data_dir: Path, movielens: Path) -> None:
    if (data_dir / "kith.db").exists():
        return
    kith = Path(sys.executable).parent / "kith"  # the CLI of this environment
    command = [str(kith), "--data-dir", str(data_dir), "ingest", "--format", "redial",
               str(folder), "--movielens", str(movielens), "--catalog", CATALOG, "--no-progress"]
    subprocess.run(command, check=True)


def prepare(redial: Path, movielens: Path, work: Path, folds: int) -> list[tuple[Path, Path]]:
    """(data folder, held-out conversations) per fold, then (full-train data folder, valid.jsonl)."""
    lines = [line for line in (redial / "train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    sets = []
    for fold in range(folds):
        source = work / f"fold{fold}" / "source"
        source.mkdir(parents=True, exist_ok=True)
        (source / "train.jsonl").write_text("".join(f"{l}\n" for n, l in enumerate(lines) if n % folds != fold), encoding="utf-8")
        held_out = work / f"fold{fold}" / "held_out.jsonl"
        held_out.write_text("".join(f"{l}\n" for n, l in enumerate(lines) if n % folds == fold), encoding="utf-8")
        catalog_file = source / "movies_with_mentions.csv"
        if not catalog_file.exists():
            catalog_file.symlink_to((redial / "movies_with_mentions.csv").resolve())
        _import(source, work / f"fold{fold}" / "data", movielens)
        sets.append((work / f"fold{fold}" / "data", held_out))
    _import(redial, work / "full" / "data", movielens)
    sets.append((work / "full" / "data", redial / "valid.jsonl"))
    return sets


def measure(opened: list[tuple[Kith, list[RecommenderTurn]]], update: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """(pooled over the folds, valid) metrics with the shipped weights changed by `update`."""
    folds: list[tuple[list[str], str]] = []
    valid: list[tuple[list[str], str]] = []
    for number, (kith, turns) in enumerate(opened):
        shipped = kith.ranker.weights
        kith.ranker.weights = shipped.model_copy(update=update)
        try:
            for turn in turns:
                ranked = [r.item_id for r in kith.rank(turn.context, k=50)]
                samples = valid if number == len(opened) - 1 else folds
                samples += [(ranked, target) for target in turn.targets_for("repeats_removed")]
        finally:
            kith.ranker.weights = shipped
    return summarize(folds, (1, 10, 50), 10), summarize(valid, (1, 10, 50), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redial", type=Path, required=True, help="ReDial folder (train.jsonl, valid.jsonl, movies_with_mentions.csv)")
    parser.add_argument("--movielens", type=Path, required=True, help="MovieLens latest-small folder")
    parser.add_argument("--work", type=Path, required=True, help="where the fold catalogs are imported (reused)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--variant", action="append", default=[], help="JSON object of weights to change, e.g. '{\"tags\": 0.15}'")
    args = parser.parse_args()
    variants = [{}] + [json.loads(text) for text in args.variant]
    opened = []
    for data_dir, conversations in prepare(args.redial, args.movielens, args.work, args.folds):
        kith = Kith.open(data_dir, catalog=CATALOG)
        titles = {item.id: item.title for item in kith.ranker.stats.items.values()}
        opened.append((kith, load_turns(conversations, titles)[0]))
    print(f"{'variant':40s} {'folds R@1':>9s} {'R@10':>6s} {'R@50':>6s} {'n':>5s} | {'valid R@1':>9s} {'R@10':>6s} {'R@50':>6s} {'n':>4s}")
    for update in variants:
        started = time.perf_counter()
        folds, valid = measure(opened, update)
        label = json.dumps(update) if update else "shipped redial weights"
        print(f"{label:40s} {folds['recall@1']:9.3f} {folds['recall@10']:6.3f} {folds['recall@50']:6.3f} {folds['samples']:5d} | "
              f"{valid['recall@1']:9.3f} {valid['recall@10']:6.3f} {valid['recall@50']:6.3f} {valid['samples']:4d}  "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    for kith, _ in opened:
        kith.close()


if __name__ == "__main__":
    main()
