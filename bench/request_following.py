"""Request-following on the demo catalog: top-3 precision of ranked items that satisfy every
requirement a request states (category, required tags, forbidden tags, budget), for a guest and
for demo users with histories.

Each request of the labelled set (bench/requests/, README there) is one opening message, read
and ranked as a turn does it: the understanding (`Kith.rank_request`: the configured reader,
the rules by default) -> the profile -> `RankRequest` -> `Ranker.rank`, with the turn's number
of picks; the first 3 picks are judged against the label, never against what the ranker returns.

Run from the repository root (a scratch data folder gets the bundled demo catalog on first use):
    HF_HUB_OFFLINE=1 .venv/bin/python bench/request_following.py [--requests FILE] [--data-dir DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot import Kith
from evaluation.reports import table

TOP = 3
KINDS = ("category", "required", "forbidden", "budget")
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Label:
    """What a request asks for, in the catalog's terms (bench/requests/README.md)."""

    id: str
    message: str
    categories: tuple[str, ...]
    required: tuple[tuple[str, ...], ...]  # each group: any one of its tags will do
    forbidden: tuple[str, ...]
    max_price: float | None

    @classmethod
    def read(cls, entry: dict[str, Any]) -> Label:
        category = entry.get("category")
        categories = () if category is None else (category,) if isinstance(category, str) else tuple(category)
        required = tuple((group,) if isinstance(group, str) else tuple(group) for group in entry.get("required", []))
        return cls(entry["id"], entry["message"], categories, required, tuple(entry.get("forbidden", [])),
                   entry.get("max_price"))

    def kinds(self) -> list[str]:
        """The kinds of requirement this request states."""
        stated = {"category": bool(self.categories), "required": bool(self.required),
                  "forbidden": bool(self.forbidden), "budget": self.max_price is not None}
        return [kind for kind in KINDS if stated[kind]]

    def broken(self, category: str, tags: list[str], price: float | None) -> list[str]:
        """The kinds of requirement an item fails (empty: it satisfies every one)."""
        failed = []
        if self.categories and category not in self.categories:
            failed.append("category")
        if any(not set(group) & set(tags) for group in self.required):
            failed.append("required")
        if set(self.forbidden) & set(tags):
            failed.append("forbidden")
        if self.max_price is not None and price is not None and price > self.max_price:
            failed.append("budget")
        return failed


def load(path: Path) -> tuple[dict[str, str | None], list[Label]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    labels = [Label.read(entry) for entry in data["requests"]]
    ids = [label.id for label in labels]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise SystemExit(f"{path}: request ids used twice: {', '.join(duplicated)}")
    return data["personas"], labels


def judge(kith: Kith, personas: dict[str, str | None], labels: list[Label]) -> list[dict[str, Any]]:
    """One row per request and persona: the top picks and what each of them breaks."""
    rows = []
    for persona, user_id in personas.items():
        for label in labels:
            messages = [{"role": "user", "text": label.message}]
            request = kith.rank_request(messages, user_id)
            picks = kith.ranker.rank(request, kith.config.recommendations).recommendations[:TOP]
            judged = [{"item_id": p.item_id, "title": p.title, "category": p.category, "tags": p.tags,
                       "price": p.price, "reasons": p.reasons, "broken": label.broken(p.category, p.tags, p.price)}
                      for p in picks]
            rows.append({
                "persona": persona, "user_id": user_id, "request": label.id, "message": label.message,
                "kinds": label.kinds(), "picks": judged,
                "read": {"categories": list(request.categories), "required_tags": list(getattr(request, "required_tags", [])),
                         "liked_tags": list(request.liked_tags), "excluded_tags": list(request.excluded_tags),
                         "max_price": request.max_price},
            })
    return rows


def precision(rows: list[dict[str, Any]], kind: str | None = None) -> tuple[float, int]:
    """Share of the TOP slots (an empty slot fails) holding an item that satisfies every
    requirement, or the requirement `kind` only (over the requests that state it)."""
    rows = [row for row in rows if kind is None or kind in row["kinds"]]
    if not rows:
        return float("nan"), 0
    good = sum(1 for row in rows for pick in row["picks"]
               if (not pick["broken"] if kind is None else kind not in pick["broken"]))
    return good / (TOP * len(rows)), len(rows)


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = {"guest": [r for r in rows if r["user_id"] is None],
              "with history": [r for r in rows if r["user_id"] is not None]}
    groups.update({f"  {persona}": [r for r in rows if r["persona"] == persona]
                   for persona in dict.fromkeys(r["persona"] for r in rows if r["user_id"] is not None)})
    table_rows = []
    for name, selected in groups.items():
        line: dict[str, Any] = {"who": name, "requests": len(selected), "p@3": round(precision(selected)[0], 3)}
        for kind in KINDS:
            value, count = precision(selected, kind)
            line[kind] = f"{value:.3f} ({count})"
        table_rows.append(line)
    return table_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=Path, default=HERE / "requests" / "requests.yaml")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="a data folder with the demo catalog (default: a new scratch folder)")
    parser.add_argument("--out", type=Path, default=None, help="write summary.json and rows.json here")
    args = parser.parse_args()

    personas, labels = load(args.requests)
    with tempfile.TemporaryDirectory(prefix="kith-requests-") as scratch:
        kith = Kith.open(args.data_dir or Path(scratch), "demo")
        try:
            picks = kith.config.recommendations
            rows = judge(kith, personas, labels)
        finally:
            kith.close()
    lines = summary(rows)
    print(f"Request-following: {len(labels)} requests of {args.requests} x {len(personas)} personas, top {TOP}")
    print(table(lines, ["who", "requests", "p@3", *KINDS]))
    failures = [(row, pick) for row in rows for pick in row["picks"] if pick["broken"]]
    short = [row for row in rows if len(row["picks"]) < TOP]
    print(f"\nFailures ({len(failures)} picks; {len(short)} rankings with fewer than {TOP} picks):")
    for row, pick in failures:
        print(f"  {row['request']} {row['persona']:<7} {pick['title'][:38]:<38} breaks {','.join(pick['broken'])}"
              f"  | {row['message'][:60]}  | read {row['read']}")
    for row in short:
        print(f"  {row['request']} {row['persona']:<7} only {len(row['picks'])} picks | {row['message'][:60]}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(
            {"requests_file": str(args.requests), "requests": len(labels), "personas": personas, "top": TOP,
             "recommendations": picks, "table": lines}, indent=2), encoding="utf-8")
        (args.out / "rows.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
