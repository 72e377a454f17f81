"""The figure of a thread benchmark's run folder: median wall time per setting, grouped by
layer and load, the range of the rounds as error bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikesub.bench.threads.config import AUTO
from spikesub.runs import read_json, save_figure

__all__ = ["FIGURE_NAME", "draw_figure", "plot", "setting_key"]

FIGURE_NAME = "bench_threads.png"


def setting_key(label: str) -> tuple[int, int]:
    """Sort key of a thread label: counts in order, then ``auto``."""
    return (1, 0) if label == AUTO else (0, int(label))


def plot(run_dir: str | Path) -> list[Path]:
    """Draw ``bench_threads.png`` from the folder's ``metrics.json``; returns its path."""
    run_dir = Path(run_dir)
    summary = read_json(run_dir / "metrics.json")["summary"]
    return [draw_figure(summary, run_dir / FIGURE_NAME)]


def draw_figure(summary: list[dict[str, Any]], path: Path) -> Path:
    """Median wall time per setting, grouped by layer and load; bars span the rounds' range."""
    from matplotlib.figure import Figure

    groups = list(dict.fromkeys((s["layer"], s["load"]) for s in summary))
    labels = sorted({s["threads"] for s in summary}, key=setting_key)
    width = 0.8 / len(labels)
    figure = Figure(figsize=(max(5.0, 1.6 * len(groups)), 3.6))
    ax = figure.subplots()
    for j, label in enumerate(labels):
        xs, medians, low, high = [], [], [], []
        for i, group in enumerate(groups):
            match = [s for s in summary if (s["layer"], s["load"]) == group]
            match = [s for s in match if s["threads"] == label]
            if match:
                s = match[0]
                xs.append(i + (j - (len(labels) - 1) / 2) * width)
                medians.append(s["median_s"])
                low.append(s["median_s"] - s["min_s"])
                high.append(s["max_s"] - s["median_s"])
        name = "automatic" if label == AUTO else f"{label} thread{'s' if label != '1' else ''}"
        ax.bar(xs, medians, width, yerr=[low, high], capsize=3, label=name)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{layer}\n{load}" for layer, load in groups], fontsize=8)
    ax.set_ylabel("wall time (s, median of rounds)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)
