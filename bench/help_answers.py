"""The help desk on a labelled set of customer questions (bench/help/questions.yaml): how often
the article that answers is the one quoted, and how often a question no article covers gets none,
for the search by meaning alone and for the hybrid search that counts the question's own words
too (`HELP_WORD_WEIGHT`), in the same run on the demo help centre.

Run from the repository root (a scratch data folder gets the bundled demo catalog on first use):
    HF_HUB_OFFLINE=1 .venv/bin/python bench/help_answers.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from bot import Kith
from bot.helpdesk import HELP_WORD_WEIGHT, HelpDesk
from evaluation.reports import table

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--questions", type=Path, default=HERE / "help" / "questions.yaml")
    args = parser.parse_args()
    labelled = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kith-help-"))
    kith = Kith.open(data_dir, "demo")
    rows = []
    for name, weight in (("meaning alone", 0.0), (f"meaning + words ({HELP_WORD_WEIGHT})", HELP_WORD_WEIGHT)):
        desk = HelpDesk(kith.catalog, kith.stores.database, kith.stores.vectors, kith.embedder, word_weight=weight)
        found = {entry["question"]: (answer.article_id if (answer := desk.answer(entry["question"])) else None)
                 for entry in labelled}
        covered = [e for e in labelled if e["article"]]
        right = sum(found[e["question"]] == e["article"] for e in covered)
        none = sum(found[e["question"]] is None for e in labelled if not e["article"])
        rows.append({"search": name, "right article": f"{right}/{len(covered)}",
                     "none where none covers": f"{none}/{len(labelled) - len(covered)}",
                     "accuracy": f"{(right + none) / len(labelled):.3f}"})
        for entry in labelled:
            if found[entry["question"]] != entry["article"]:
                print(f"  {name}: {entry['question']!r} -> {found[entry['question']]} (expected {entry['article']})")
    print(table(rows, ["search", "right article", "none where none covers", "accuracy"]))
    kith.close()


if __name__ == "__main__":
    main()
