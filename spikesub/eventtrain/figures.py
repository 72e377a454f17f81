"""The learning curves of an event-data training run, drawn from its run folder only.

Reads ``config.json`` and ``history.npz`` (or, for a run still going, ``checkpoint.pt`` is
not read: only finished epochs written to ``history.npz`` are drawn) and writes
``curves.png``: loss and accuracy per epoch, training and test, chance level dashed.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from spikesub.runs import load_npz, read_json, save_figure, saved_job, saved_settings

__all__ = ["FIGURE_NAME", "plot"]

FIGURE_NAME = "curves.png"
_CLASSES = {"shd": 20, "nmnist": 10, "dvsgesture": 11}


def plot(run_dir: str | Path) -> list[Path]:
    """Draw ``curves.png`` into ``run_dir``; returns the figure's path in a list."""
    run_dir = Path(run_dir)
    missing = [n for n in ("config.json", "history.npz") if not (run_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a finished eventtrain run: missing {missing}")
    saved = read_json(run_dir / "config.json")
    if not isinstance(saved, dict) or saved_job(saved) != "eventtrain":
        raise ValueError(f"{run_dir} does not hold an eventtrain run")
    settings = saved_settings(saved)
    history = load_npz(run_dir / "history.npz")
    epoch = history["epoch"]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for split, style in (("train", "-o"), ("test", "-s")):
        loss_ax.plot(epoch, history[f"{split}_loss"], style, label=split, markersize=3)
        acc_ax.plot(epoch, 100 * history[f"{split}_acc"], style, label=split, markersize=3)
    chance = 100.0 / _CLASSES.get(settings.get("dataset"), 1)
    acc_ax.axhline(chance, color="gray", linestyle="--", linewidth=1, label="chance")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    for ax in (loss_ax, acc_ax):
        ax.legend(fontsize=8)
    data = "synthetic files" if settings.get("quick") else settings.get("data_dir")
    fig.suptitle(
        f"{saved.get('model_kind', settings.get('model'))} on {settings.get('dataset')} "
        f"({data}), dt {settings.get('dt_ms')} ms, T = {saved.get('steps')}",
        fontsize=10,
    )
    return [save_figure(fig, run_dir / FIGURE_NAME)]
