"""Figures of ``spikesub reservoir-continual``, drawn from a run folder's files only.

Reads ``config.json``, ``metrics.json`` and ``accuracy.npz`` written by
:func:`spikesub.reservoir_continual.run.run` and draws:

* ``accuracy_matrices.png``: the accuracy matrix of each method (mean over the seeds), one
  panel each, (a) to (d), the untrained upper triangle masked; each panel is the continual
  job's accuracy-matrix plot (:mod:`spikesub.continual.figures`) of that matrix; the ridge
  reference has only its diagonal (each task scored alone);
* ``subspace_angles.png``: (a) the smallest and the mean principal angle between the tasks'
  own trace subspaces (their top ``n_angles`` directions; mean over the seeds), (b) the
  principal angles between HLOP's and GPM's protected subspaces after each task (first
  seed);
* ``subspace_dims.png``: the subspace dimension added per task: HLOP's lateral neurons and
  GPM's basis vectors (mean over the seeds, the range as error bars).
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from spikesub.continual.figures import draw_accuracy_matrix
from spikesub.reservoir_continual.learning import LABELS, METHODS
from spikesub.runs import load_npz, read_json, save_figure, saved_job

__all__ = ["ANGLES_NAME", "DIMS_NAME", "MATRICES_NAME", "plot"]

MATRICES_NAME = "accuracy_matrices.png"
ANGLES_NAME = "subspace_angles.png"
DIMS_NAME = "subspace_dims.png"
ARRAYS_NAME = "accuracy.npz"
JOB = "reservoir-continual"


def plot(run_dir: str | Path) -> list[Path]:
    """Draw the figures of a ``reservoir-continual`` run folder; returns the paths written.

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        ValueError: the folder holds another job's run.
    """
    run_dir = Path(run_dir)
    missing = [
        n for n in ("config.json", "metrics.json", ARRAYS_NAME) if not (run_dir / n).is_file()
    ]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a {JOB} run folder: missing {missing}")
    job = saved_job(read_json(run_dir / "config.json"))
    if job != JOB:
        raise ValueError(f"{run_dir} holds a {job or 'unknown'} run, not a {JOB} run")
    metrics = read_json(run_dir / "metrics.json")
    arrays = load_npz(run_dir / ARRAYS_NAME)
    return [
        _matrices(run_dir, metrics, arrays),
        _angles(run_dir, arrays),
        _dims(run_dir, arrays),
    ]


def _seeds_text(arrays: dict) -> str:
    return ", ".join(str(int(s)) for s in arrays["seeds"])


def _matrices(run_dir: Path, metrics: dict, arrays: dict) -> Path:
    fig = Figure(figsize=(11, 10), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    for ax, letter, method in zip(axes, string.ascii_lowercase, METHODS, strict=False):
        entry = metrics["methods"][method]
        if method == "ridge":
            per_task = arrays["ridge"].mean(axis=0)
            R = np.full((per_task.size, per_task.size), np.nan)
            R[np.diag_indices(per_task.size)] = per_task
            scores = f"ACC {100 * entry['ACC_mean']:.1f} %"
        else:
            R = arrays[f"R__{method}"].mean(axis=0)
            scores = f"ACC {100 * entry['ACC_mean']:.1f} %, BWT {100 * entry['BWT_mean']:.1f} %"
        image = draw_accuracy_matrix(
            ax, R, f"({letter}) {LABELS[method]}: {scores}", colorbar=False
        )
        ax.title.set_horizontalalignment("left")
        ax.title.set_position((0.0, 1.0))
    fig.colorbar(image, ax=axes, label="test accuracy (%)", shrink=0.6)
    fig.suptitle(
        f"Accuracy matrices, mean over seeds {_seeds_text(arrays)} (upper triangle: not yet "
        "trained)",
        fontsize=11,
    )
    return save_figure(fig, run_dir / MATRICES_NAME)


def _angles(run_dir: Path, arrays: dict) -> Path:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    smallest = np.nanmean(arrays["task_angles"][..., 0], axis=0)
    mean = np.nanmean(arrays["task_angles"], axis=(0, 3))
    n = mean.shape[0]
    image = left.imshow(mean, vmin=0, vmax=90, cmap="magma")
    for i in range(n):
        for j in range(n):
            color = "white" if mean[i, j] < 45 else "black"
            text = f"{smallest[i, j]:.0f} / {mean[i, j]:.0f}"
            left.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=left, label="mean principal angle (degrees)")
    k = arrays["task_angles"].shape[-1]
    left.set_title(f"(a) tasks' trace subspaces (top {k} directions): smallest / mean angle",
                   loc="left", fontsize=10)  # fmt: skip
    left.set_xlabel("task")
    left.set_ylabel("task")
    left.set_xticks(range(n))
    left.set_yticks(range(n))
    hg = arrays["hlop_gpm_angles"][0]
    for t in range(hg.shape[0]):
        values = hg[t][np.isfinite(hg[t])]
        right.plot(np.arange(1, values.size + 1), values, color=f"C{t}", lw=1.2,
                   label=f"after task {t} ({values.size})")  # fmt: skip
    right.set_ylim(0, 90)
    right.set_xlabel("principal angle index")
    right.set_ylabel("principal angle (degrees)")
    right.set_title(
        f"(b) HLOP's lateral subspace vs GPM's basis (seed {int(arrays['seeds'][0])})",
        loc="left", fontsize=10,
    )  # fmt: skip
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    return save_figure(fig, run_dir / ANGLES_NAME)


def _dims(run_dir: Path, arrays: dict) -> Path:
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    for i, (method, label) in enumerate((("hlop", "HLOP lateral neurons"),
                                         ("gpm", "GPM basis vectors"))):  # fmt: skip
        k = arrays[f"k__{method}"].astype(float)
        mean = k.mean(axis=0)
        tasks = np.arange(mean.size)
        err = np.stack([mean - k.min(axis=0), k.max(axis=0) - mean])
        ax.bar(tasks + (i - 0.5) * 0.38, mean, width=0.38, yerr=err, capsize=3, label=label,
               color=f"C{i}")  # fmt: skip
    ax.set_xticks(range(arrays["k__hlop"].shape[1]))
    ax.set_xlabel("task")
    ax.set_ylabel("subspace dimension added")
    ax.set_title(f"Protected dimensions per task (seeds {_seeds_text(arrays)})", fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, run_dir / DIMS_NAME)
