"""Figures of continual-learning runs, drawn from the saved files only.

:func:`plot_continual` draws a run folder written by
:func:`spikesub.continual.run.run_continual`; :func:`plot_comparison` draws the
``summary.json`` of several runs (see :func:`spikesub.continual.run.summarize_runs`).
Figures are built on :class:`matplotlib.figure.Figure` (no pyplot state) and saved atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from spikesub.runs import load_npz, read_json, save_figure

__all__ = ["plot_comparison", "plot_continual"]

_ANGLE_PREFIX = "subspace_angles_"


def _title(metrics: dict) -> str:
    def pct(value) -> str:
        return "n/a" if value is None else f"{100 * value:.1f} %"

    head = f"{metrics.get('method', '?')} on {metrics.get('benchmark', '?')}"
    return f"{head}: ACC {pct(metrics.get('ACC'))}, BWT {pct(metrics.get('BWT'))}"


def draw_accuracy_matrix(ax, R: np.ndarray, title: str, *, colorbar: bool = True):
    """Draw an accuracy matrix ``R`` (``(tasks, tasks)``, fractions; NaN where not measured,
    e.g. the untrained upper triangle, left blank) on ``ax``: cells coloured and labelled in
    percent, rows the task just trained, columns the task evaluated. Returns the image."""
    n = R.shape[0]
    image = ax.imshow(100 * R, vmin=0, vmax=100, cmap="viridis", origin="upper")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="test accuracy (%)", shrink=0.85)
    fontsize = 9 if n <= 6 else 7 if n <= 10 else 5
    for i in range(n):
        for k in range(n):
            if np.isfinite(R[i, k]):
                value = 100 * R[i, k]
                ax.text(
                    k,
                    i,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color="black" if value > 60 else "white",
                )
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("evaluated on task k")
    ax.set_ylabel("after training task i")
    ax.set_title(title, fontsize=10)
    return image


def _accuracy_matrix_figure(R: np.ndarray, title: str) -> Figure:
    size = max(4.0, 0.55 * R.shape[0] + 2.0)
    fig = Figure(figsize=(size + 0.8, size))
    draw_accuracy_matrix(fig.add_subplot(), R, title)
    fig.tight_layout()
    return fig


def _task_curves_figure(R: np.ndarray, title: str) -> Figure:
    n = R.shape[0]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    colors = [f"C{k % 10}" for k in range(n)]
    after = np.arange(n)
    for k in range(n):
        seen = after >= k
        ax.plot(after[seen], 100 * R[seen, k], "o-", color=colors[k], ms=3, lw=1.2, label=f"{k}")
        if k > 0 and np.isfinite(R[:k, k]).any():
            ax.plot(after[: k + 1], 100 * R[: k + 1, k], ":", color=colors[k], lw=0.8)
    mean_seen = [
        np.nanmean(R[i, : i + 1]) if np.isfinite(R[i, : i + 1]).any() else np.nan for i in range(n)
    ]
    ax.plot(after, 100 * np.asarray(mean_seen), "k-", lw=2.5, label="mean of seen")
    ax.set_xticks(range(n))
    ax.set_xlabel("after training task")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 101)
    ax.set_title(title, fontsize=10)
    ax.legend(title="task", fontsize=7, ncol=2, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _final_row_figure(R: np.ndarray, title: str) -> Figure:
    row = R[-1]
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    ax.bar(np.arange(len(row)), 100 * row, color="C0")
    ax.set_xticks(range(len(row)))
    ax.set_xlabel("task")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 101)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def _angles_figure(angles: dict[str, np.ndarray], title: str) -> Figure:
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for i, (layer, values) in enumerate(angles.items()):
        values = np.sort(values)
        ax.plot(np.arange(1, len(values) + 1), values, "o-", ms=2.5, color=f"C{i}", label=layer)
    ax.set_xlabel("principal angle index")
    ax.set_ylabel("principal angle (degrees)")
    ax.set_ylim(0, 90)
    ax.set_title(title, fontsize=10)
    ax.legend(title="layer", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_continual(run_dir: str | Path) -> list[Path]:
    """Draw the figures of a continual-learning run folder.

    - ``accuracy_matrix.png``: ``R`` as a heatmap, each cell annotated in percent;
    - ``task_accuracy.png``: the accuracy of every task after each training stage (dotted
      before the task was trained) with the mean over the tasks seen so far; for a multitask
      run, which fills only the last row, a bar chart of that row instead;
    - ``subspace_angles.png``: the principal angles between each layer's Hebbian (HLOP)
      subspace and the GPM basis of the same activity, when the run saved them
      (``subspace_angles_<layer>`` arrays in ``accuracy.npz``).

    Args:
        run_dir: a folder written by :func:`spikesub.continual.run.run_continual`.

    Returns:
        the paths written, in the order above.

    Raises:
        FileNotFoundError: the folder or its ``accuracy.npz`` / ``metrics.json`` is missing.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    for name in ("accuracy.npz", "metrics.json"):
        if not (run_dir / name).exists():
            raise FileNotFoundError(f"{run_dir} holds no {name}; is it a continual run folder?")
    arrays = load_npz(run_dir / "accuracy.npz")
    metrics = read_json(run_dir / "metrics.json")
    R = np.asarray(arrays["R"], dtype=np.float64)
    title = _title(metrics)
    written = [save_figure(_accuracy_matrix_figure(R, title), run_dir / "accuracy_matrix.png")]
    rows_filled = np.isfinite(R).any(axis=1)
    if metrics.get("method") == "multitask" or not rows_filled[:-1].any():
        curves = _final_row_figure(R, title)
    else:
        curves = _task_curves_figure(R, title)
    written.append(save_figure(curves, run_dir / "task_accuracy.png"))
    angles = {
        key[len(_ANGLE_PREFIX) :]: np.asarray(value, dtype=np.float64)
        for key, value in arrays.items()
        if key.startswith(_ANGLE_PREFIX) and np.asarray(value).size
    }
    if angles:
        figure = _angles_figure(angles, "Hebbian (HLOP) subspace vs GPM basis, last task")
        written.append(save_figure(figure, run_dir / "subspace_angles.png"))
    return written


def plot_comparison(summary_dir: str | Path) -> list[Path]:
    """Bar chart of ACC and BWT per method (mean ± std over seeds, each seed a dot).

    Args:
        summary_dir: folder holding a ``summary.json`` written from
            :func:`spikesub.continual.run.summarize_runs` (comparisons made before sweeps;
            a sweep's folder is drawn by :mod:`spikesub.sweep.figures`).

    Returns:
        ``[summary_dir / "comparison.png"]``.
    """
    summary_dir = Path(summary_dir)
    path = summary_dir / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{summary_dir} holds no summary.json")
    summary = read_json(path)
    methods = summary.get("methods", {})
    names = [m for m in summary.get("order", list(methods)) if m in methods]
    if not names:
        raise ValueError(f"{path} lists no finished runs")
    fig = Figure(figsize=(max(6.4, 1.6 * len(names) + 2), 4.0))
    for j, metric in enumerate(("ACC", "BWT")):
        ax = fig.add_subplot(1, 2, j + 1)
        for i, name in enumerate(names):
            entry = methods[name]
            values = np.array(
                [np.nan if v is None else v for v in entry.get(metric, [])], dtype=np.float64
            )
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8)
                continue
            mean = 100 * finite.mean()
            std = 100 * finite.std(ddof=1) if finite.size > 1 else 0.0
            ax.bar(i, mean, yerr=std, color=f"C{i % 10}", alpha=0.8, capsize=4)
            jitter = np.linspace(-0.15, 0.15, finite.size) if finite.size > 1 else [0.0]
            ax.plot(i + np.asarray(jitter), 100 * finite, "k.", ms=4)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right")
        ax.set_ylabel(f"{metric} (%)")
        ax.axhline(0, color="black", lw=0.6)
        ax.grid(alpha=0.3, axis="y")
        if metric == "ACC":
            ax.set_ylim(0, 100)
    n_seeds = max(len(methods[m].get("seeds", [])) for m in names)
    fig.suptitle(
        f"{summary.get('benchmark', '?')}: mean ± std over up to {n_seeds} seed(s)", fontsize=10
    )
    fig.tight_layout()
    return [save_figure(fig, summary_dir / "comparison.png")]
