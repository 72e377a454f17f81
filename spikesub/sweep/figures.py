"""Figures of a sweep, drawn from its ``summary.json`` (and a search's ``search.json``) only.

``summary.png``
    each measure per group of settings: bars at the mean over the seeds, the sample std as
    error bars, each seed a dot (for a continual-learning sweep: ACC and BWT per method);
``versus_<setting>.png``
    each measure against a swept numeric setting: one line per combination of the other
    swept settings, mean ± std over the seeds (a search: every trial a dot);
``search_history.png``
    a search's measure trial by trial, with the best so far.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from spikesub.runs import read_json, save_figure
from spikesub.sweep.metrics import Metric
from spikesub.sweep.summary import cell

__all__ = ["plot", "plot_bars", "plot_history", "plot_versus"]


def plot(sweep_dir: str | Path) -> list[Path]:
    """Draw every figure that fits the sweep in ``sweep_dir``; returns the paths written.

    Raises:
        FileNotFoundError: the folder holds no ``summary.json``.
    """
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{sweep_dir} holds no summary.json: run the sweep first")
    summary = read_json(path)
    paths = []
    if any(g["trials"] for g in summary["groups"]):
        if summary["kind"] == "grid":
            paths.append(plot_bars(summary, sweep_dir / "summary.png"))
        for key in _numeric_keys(summary):
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", key)
            paths.append(plot_versus(summary, key, sweep_dir / f"versus_{name}.png"))
    search_path = sweep_dir / "search.json"
    if search_path.exists():
        search = read_json(search_path)
        metric = next((m for m in _metrics(summary) if m.name == search["metric"]), None)
        paths.append(plot_history(search, sweep_dir / "search_history.png", metric))
    return paths


def _metrics(summary: Mapping[str, Any]) -> list[Metric]:
    return [Metric(**m) for m in summary["metrics"]]


def _numeric_keys(summary: Mapping[str, Any]) -> list[str]:
    """The swept settings whose values are all numbers, at least two of them."""
    keys = []
    for key in summary["varied"]:
        values = [g["settings"].get(key) for g in summary["groups"]]
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
        if numeric and len(set(values)) > 1:
            keys.append(key)
    return keys


def _panels(n: int, width: float = 4.2) -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=(max(6.0, width * n), 4.0))
    return fig, [fig.add_subplot(1, n, i + 1) for i in range(n)]


def _values(stats: Mapping[str, Any], scale: float) -> np.ndarray:
    values = np.array([np.nan if v is None else v for v in stats["values"]], dtype=np.float64)
    return scale * values[np.isfinite(values)]


def plot_bars(summary: Mapping[str, Any], path: Path) -> Path:
    """Each measure per group: mean ± std over the seeds, each seed a dot."""
    metrics = _metrics(summary)
    groups = [g for g in summary["groups"] if g["trials"]]
    fig, axes = _panels(len(metrics), width=max(4.2, 0.9 * len(groups) + 1.5))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, group in enumerate(groups):
            values = _values(group["metrics"][metric.name], metric.scale)
            if not values.size:
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8)
                continue
            std = values.std(ddof=1) if values.size > 1 else 0.0
            ax.bar(i, values.mean(), yerr=std, color=f"C{i % 10}", alpha=0.8, capsize=4)
            jitter = np.linspace(-0.15, 0.15, values.size) if values.size > 1 else [0.0]
            ax.plot(i + np.asarray(jitter), values, "k.", ms=4)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([_short(g) for g in groups], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(metric.label)
        ax.axhline(0, color="black", lw=0.6)
        ax.grid(alpha=0.3, axis="y")
    n_seeds = max(len(g["trials"]) for g in groups)
    fig.suptitle(
        f"{summary['sweep']} ({summary['trial_job']}): mean ± std over up to {n_seeds} seed(s)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def _short(group: Mapping[str, Any]) -> str:
    settings = group["settings"]
    if not settings:
        return "all"
    if len(settings) == 1:
        return cell(next(iter(settings.values())))
    return ", ".join(f"{k}={cell(v)}" for k, v in settings.items())


def plot_versus(summary: Mapping[str, Any], key: str, path: Path) -> Path:
    """Each measure against the numeric setting ``key``; one line per combination of the
    other swept settings (a search's trials as dots)."""
    metrics = _metrics(summary)
    search = summary["kind"] == "search"
    series = _series(summary, key, split=not search)
    fig, axes = _panels(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, (label, groups) in enumerate(series.items()):
            x, mean, std = _curve(groups, key, metric)
            if search:
                ax.plot(x, mean, "o", color="C0", ms=5)
            else:
                ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, color=f"C{i % 10}",
                            label=label or None)  # fmt: skip
        ax.set_xlabel(key)
        ax.set_ylabel(metric.label)
        ax.grid(alpha=0.3)
        if _log_scale([g["settings"][key] for g in summary["groups"]]):
            ax.set_xscale("log")
        if len(series) > 1 and not search:
            ax.legend(fontsize=7)
    fig.suptitle(f"{summary['sweep']}: against {key}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _series(summary: Mapping[str, Any], key: str, *, split: bool) -> dict[str, list]:
    out: dict[str, list] = {}
    for group in summary["groups"]:
        if not group["trials"]:
            continue
        others = {k: v for k, v in group["settings"].items() if k != key} if split else {}
        label = ", ".join(f"{k}={cell(v)}" for k, v in others.items())
        out.setdefault(label, []).append(group)
    return out


def _curve(groups: list, key: str, metric: Metric) -> tuple[np.ndarray, ...]:
    rows = []
    for group in sorted(groups, key=lambda g: g["settings"][key]):
        values = _values(group["metrics"][metric.name], metric.scale)
        if values.size:
            std = values.std(ddof=1) if values.size > 1 else 0.0
            rows.append((group["settings"][key], values.mean(), std))
    if not rows:
        return np.array([]), np.array([]), np.array([])
    return tuple(np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))


def _log_scale(values: list[float]) -> bool:
    values = [v for v in values if v is not None]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 20


def plot_history(search: Mapping[str, Any], path: Path, metric: Metric | None = None) -> Path:
    """A search's measure per trial (dots) and the best so far (line), scaled and labelled
    as ``metric`` says."""
    direction = search["direction"]
    scale = metric.scale if metric is not None else 1.0
    label = metric.label if metric is not None else search["metric"]
    points = [(t["number"], scale * t["value"]) for t in search["trials"] if t["value"] is not None]
    fig, (ax,) = _panels(1)
    if points:
        numbers_, values = (np.array(col, dtype=np.float64) for col in zip(*points, strict=True))
        best = (np.maximum if direction == "maximize" else np.minimum).accumulate(values)
        ax.plot(numbers_, values, "o", color="C0", ms=5, label="trial")
        ax.step(numbers_, best, where="post", color="C1", label="best so far")
        ax.legend(fontsize=8)
    failed = [t["number"] for t in search["trials"] if t["state"] == "FAIL"]
    for number in failed:
        ax.axvline(number, color="C3", alpha=0.3, lw=1)
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"{label} on the validation split ({direction})")
    ax.grid(alpha=0.3)
    fig.suptitle(f"search: {len(points)} trials scored, {len(failed)} failed", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
