"""Tune the `redial` ranking weights without touching dev: cross-validation inside train.jsonl.

Each fold's held-out conversations are ranked with a catalog imported (for real, `kith ingest
--format redial`) from other training conversations only, so no held-out conversation's
co-mentions, requests or seeker likes are known to the ranking. Two ways to split (`--split`):

- `temporal` (the default): conversations in `conversationId` order (the order ReDial collected
  them in) are cut into K chunks, and each of the last two chunks is ranked by a catalog of every
  conversation before it. This is dev's situation: dev.jsonl's conversations all come after
  train.jsonl's (ids 20001-21049 against 464-19918) and share none of their crowd workers, while
  the films people talk about move on (2018 releases: 0.4% of train's first fifth's mentions,
  4.6% of its last fifth's). Its figures come close to dev's (README, "ReDial").
- `random`: fold f holds out every K-th conversation (line number mod K == f), and valid.jsonl
  is ranked with a catalog of all of train.jsonl. Held-out and known conversations interleave in
  time and share most crowd workers (in 76% of valid's conversations the seeker also works in
  train), so what one worker tends to suggest carries over: it overrates the signals learnt from
  dialogues, and dev's figures.

Each variant is the shipped `redial` weights with some weights changed; the shipped weights are
always measured first, in the same run. Metrics: ReDial's repeats-removed protocol
(evaluation/redial.py), pooled over the folds. The fold catalogs are imported once into `--work`
(~40 s each on 2 cores) and reused.

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
from evaluation.redial import load_turns
from retrieval.metrics import summarize
from retrieval.ranking import RankRequest

CATALOG = "redial"
# `temporal`: how many of the last chunks are held out, each ranked by the chunks before it.
TEMPORAL_FOLDS = 2


def _import(folder: Path, data_dir: Path, movielens: Path) -> None:
    if (data_dir / "kith.db").exists():
        return
    kith = Path(sys.executable).parent / "kith"  # the CLI of this environment
    command = [str(kith), "--data-dir", str(data_dir), "ingest", "--format", "redial",
               str(folder), "--movielens", str(movielens), "--catalog", CATALOG, "--no-progress"]
    subprocess.run(command, check=True)


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _fold(redial: Path, movielens: Path, folder: Path, known: list[str], held_out: list[str]) -> tuple[Path, Path]:
    """(data folder imported from `known`, file of the `held_out` conversations)."""
    source = folder / "source"
    _write(source / "train.jsonl", known)
    catalog_file = source / "movies_with_mentions.csv"
    if not catalog_file.exists():
        catalog_file.symlink_to((redial / "movies_with_mentions.csv").resolve())
    _import(source, folder / "data", movielens)
    return folder / "data", _write(folder / "held_out.jsonl", held_out)


def prepare(redial: Path, movielens: Path, work: Path, folds: int, split: str) -> list[tuple[Path, Path, str]]:
    """(data folder, held-out conversations, "folds" or "valid") for each catalog to rank with."""
    lines = [line.strip() for line in (redial / "train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    sets = []
    if split == "temporal":
        lines.sort(key=lambda line: int(json.loads(line)["conversationId"]))
        bounds = [round(len(lines) * n / folds) for n in range(folds + 1)]
        for chunk in range(folds - TEMPORAL_FOLDS, folds):
            known, held_out = lines[: bounds[chunk]], lines[bounds[chunk] : bounds[chunk + 1]]
            sets.append((*_fold(redial, movielens, work / f"temporal{chunk}", known, held_out), "folds"))
        return sets
    for fold in range(folds):
        known = [line for n, line in enumerate(lines) if n % folds != fold]
        held_out = [line for n, line in enumerate(lines) if n % folds == fold]
        sets.append((*_fold(redial, movielens, work / f"fold{fold}", known, held_out), "folds"))
    _import(redial, work / "full" / "data", movielens)
    sets.append((work / "full" / "data", redial / "valid.jsonl", "valid"))
    return sets


# Per held-out catalog: its Kith, each turn's request to the ranker (read once: it does not depend
# on the weights) with that turn's targets, and its group ("folds" or "valid").
Opened = tuple[Kith, list[tuple[RankRequest, list[str]]], str]


def measure(opened: list[Opened], update: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Metrics per group ("folds" pooled, "valid") with the shipped weights changed by `update`."""
    samples: dict[str, list[tuple[list[str], str]]] = {}
    for kith, requests, group in opened:
        ranker = kith.ranker.with_weights(kith.ranker.weights.model_copy(update=update))
        for request, targets in requests:
            ranked = [r.item_id for r in ranker.rank(request, 50).recommendations]
            samples.setdefault(group, []).extend((ranked, target) for target in targets)
    return {group: summarize(pairs, (1, 10, 50), 10) for group, pairs in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redial", type=Path, required=True, help="ReDial folder (train.jsonl, valid.jsonl, movies_with_mentions.csv)")
    parser.add_argument("--movielens", type=Path, required=True, help="MovieLens latest-small folder")
    parser.add_argument("--work", type=Path, required=True, help="where the fold catalogs are imported (reused)")
    parser.add_argument("--split", choices=("temporal", "random"), default="temporal")
    parser.add_argument("--folds", type=int, default=5, help="K: chunks (temporal) or folds (random)")
    parser.add_argument("--variant", action="append", default=[], help="JSON object of weights to change, e.g. '{\"tags\": 0.15}'")
    args = parser.parse_args()
    variants = [{}] + [json.loads(text) for text in args.variant]
    opened = []
    for data_dir, conversations, group in prepare(args.redial, args.movielens, args.work, args.folds, args.split):
        kith = Kith.open(data_dir, catalog=CATALOG)
        titles = {item.id: item.title for item in kith.ranker.stats.items.values()}
        turns = load_turns(conversations, titles)[0]
        opened.append((kith, [(kith.rank_request(t.context), t.targets_for("repeats_removed")) for t in turns], group))
    groups = list(dict.fromkeys(group for _, _, group in opened))
    print(f"{'variant':40s}" + " |".join(f" {g + ' R@1':>9s} {'R@10':>6s} {'R@50':>6s} {'n':>5s}" for g in groups))
    for update in variants:
        started = time.perf_counter()
        results = measure(opened, update)
        label = json.dumps(update) if update else "shipped redial weights"
        figures = " |".join(
            f" {r['recall@1']:9.3f} {r['recall@10']:6.3f} {r['recall@50']:6.3f} {r['samples']:5d}" for r in (results[g] for g in groups)
        )
        print(f"{label:40s}{figures}  ({time.perf_counter() - started:.0f} s)", flush=True)
    for kith, _, _ in opened:
        kith.close()


if __name__ == "__main__":
    main()
