"""The reservoir-computing benchmark's figures, drawn from a run folder's files only.

Reads ``config.json``, ``metrics.json`` and ``rc.npz`` written by :func:`spikesub.rc.run.run`
and draws:

* ``rc_memory.png``: the memory capacity per delay on the test split, one line per model
  (the mean over seeds, the spread shaded), its sum in the legend;
* ``rc_predictions.png``: for NARMA-10 and Mackey-Glass one and 84 steps ahead, the first
  200 test samples of the target and of each model's prediction (first seed).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from spikesub.runs import load_npz, read_json, save_figure, saved_job

__all__ = ["MEMORY_NAME", "PREDICTIONS_NAME", "plot"]

MEMORY_NAME = "rc_memory.png"
PREDICTIONS_NAME = "rc_predictions.png"
ARRAYS_NAME = "rc.npz"
_SHOWN = 200
_LABELS = {"narma10": "NARMA-10", "mg1": "Mackey-Glass, 1 step", "mg84": "Mackey-Glass, 84 steps"}


def plot(run_dir: str | Path) -> list[Path]:
    """Draw the figures of an ``rc`` run folder; returns the paths written."""
    run_dir = Path(run_dir)
    missing = [
        n for n in ("config.json", "metrics.json", ARRAYS_NAME) if not (run_dir / n).is_file()
    ]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not an rc run folder: missing {missing}")
    job = saved_job(read_json(run_dir / "config.json"))
    if job != "rc":
        raise ValueError(f"{run_dir} holds a {job or 'unknown'} run, not an rc run")
    metrics = read_json(run_dir / "metrics.json")
    arrays = load_npz(run_dir / ARRAYS_NAME)
    paths = []
    if "mc" in metrics["tasks"]:
        paths.append(_memory(run_dir, metrics, arrays))
    shown = [t for t in ("narma10", "mg1", "mg84") if t in metrics["tasks"]]
    if shown:
        paths.append(_predictions(run_dir, metrics, arrays, shown))
    return paths


def _memory(run_dir: Path, metrics: dict, arrays: dict) -> Path:
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    for model, found in metrics["tasks"]["mc"].items():
        key = f"mc__{model}__capacity"
        if key not in arrays:
            continue
        curves = arrays[key]
        delays = range(1, curves.shape[1] + 1)
        mean, std = curves.mean(axis=0), curves.std(axis=0)
        (line,) = ax.plot(delays, mean, label=f"{model} (MC {found['test_mean']:.1f})")
        ax.fill_between(delays, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("delay k (samples)")
    ax.set_ylabel("capacity MC_k (test)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Memory capacity per delay (seeds {', '.join(map(str, metrics['seeds']))})")
    ax.legend()
    return save_figure(fig, run_dir / MEMORY_NAME)


def _predictions(run_dir: Path, metrics: dict, arrays: dict, tasks: list[str]) -> Path:
    fig = Figure(figsize=(10, 2.6 * len(tasks)), layout="constrained")
    axes = fig.subplots(len(tasks), 1, squeeze=False)[:, 0]
    for ax, task in zip(axes, tasks, strict=True):
        target = arrays[f"{task}__target"][:_SHOWN]
        ax.plot(target, color="black", linewidth=2.0, label="target")
        for model, found in metrics["tasks"][task].items():
            key = f"{task}__{model}__test_prediction"
            if key not in arrays:
                continue
            label = f"{model} (NRMSE {found['test_mean']:.3f})"
            ax.plot(arrays[key][0, :_SHOWN], linewidth=1.0, label=label)
        ax.set_title(f"{_LABELS[task]}: test split, first {len(target)} samples", fontsize=10)
        ax.set_xlabel("test sample")
        ax.legend(fontsize=8, loc="upper right")
    return save_figure(fig, run_dir / PREDICTIONS_NAME)
