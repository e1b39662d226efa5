"""Evaluation reports: `report.json` (metrics, configuration, data hashes, timings) and PNG plots.

Every report says what produced it: the command's parameters, the configuration, the model and
adapter, and a SHA-256 of each data file, so a figure can always be traced to its inputs.
"""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.datafiles import file_sha256


def timing_summary(samples: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
    """Per stage: p50 and p95 in seconds, and how many samples."""
    summary = {}
    for stage, values in samples.items():
        if not values:
            continue
        ordered = sorted(values)
        summary[stage] = {
            "p50_s": statistics.median(ordered),
            "p95_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "n": len(ordered),
        }
    return summary


def write_report(out_dir: Path, kind: str, payload: dict[str, Any], data_files: Sequence[Path] = ()) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "kind": kind,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "data": {str(p): file_sha256(p) for p in data_files},
        **payload,
    }
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return path


def _pyplot():  # matplotlib without a display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path: Path, title: str, curves: Mapping[str, Sequence[float]], x_label: str, y_label: str) -> Path:
    """One line per system: y over x = 1..len(y) (e.g. recall@k over k)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, values in curves.items():
        axes.plot(range(1, len(values) + 1), values, label=name, linewidth=2 if name.startswith("kith") else 1.2)
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_bars(path: Path, title: str, groups: Mapping[str, Mapping[str, float]], y_label: str) -> Path:
    """Grouped bars: for each group (e.g. a stage), one bar per series (e.g. p50, p95)."""
    plt = _pyplot()
    names = list(groups)
    series = sorted({s for values in groups.values() for s in values})
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    width = 0.8 / max(len(series), 1)
    for index, name in enumerate(series):
        axes.bar(
            [n + index * width for n in range(len(names))],
            [groups[g].get(name, 0.0) for g in names],
            width=width,
            label=name,
        )
    axes.set_xticks([n + width * (len(series) - 1) / 2 for n in range(len(names))], names, rotation=20)
    axes.set_title(title)
    axes.set_ylabel(y_label)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_latency(path: Path, title: str, timings: Mapping[str, Mapping[str, float]]) -> Path:
    """p50 and p95 per stage (or system), from `timing_summary`, in milliseconds."""
    groups = {stage: {"p50": t["p50_s"] * 1000, "p95": t["p95_s"] * 1000} for stage, t in timings.items()}
    return plot_bars(path, title, groups, "milliseconds")


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table for the terminal."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
