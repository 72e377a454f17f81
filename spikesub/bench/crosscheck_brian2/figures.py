"""The figure of a cross-check's run folder: spikes per neuron in spikesub against Brian2, one
dot per neuron, a panel per precision."""

from __future__ import annotations

from pathlib import Path

from spikesub.runs import load_npz, read_json, save_figure, saved_settings

__all__ = ["FIGURE_NAME", "plot"]

FIGURE_NAME = "counts.png"


def plot(run_dir: str | Path) -> list[Path]:
    """Draw ``counts.png`` from the folder's ``counts.npz``; returns its path."""
    from matplotlib.figure import Figure

    run_dir = Path(run_dir)
    settings = saved_settings(read_json(run_dir / "config.json"))
    seeds, seconds = settings["seeds"], settings["duration_ms"] / 1000.0
    arrays = load_npz(run_dir / "counts.npz")
    figure = Figure(figsize=(8, 4))
    for ax, dtype in zip(figure.subplots(1, 2), ("float64", "float32"), strict=True):
        for seed in seeds:
            ax.scatter(
                arrays[f"brian2_seed{seed}"], arrays[f"spikesub_{dtype}_seed{seed}"], s=4,
                alpha=0.5, label=f"seed {seed}",
            )  # fmt: skip
        top = max(int(a.max()) for a in arrays.values()) + 1
        ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
        ax.set_xlabel(f"Brian2 spikes per neuron ({seconds:g} s)")
        ax.set_ylabel(f"spikesub ({dtype}) spikes per neuron")
        ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return [save_figure(figure, run_dir / FIGURE_NAME)]
