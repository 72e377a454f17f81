"""The FORCE sine job's figure, drawn from a run folder's files only (no simulation here).

Reads ``config.json``, ``metrics.json`` and ``force_sine.npz`` written by
:func:`spikesub.force_sine.run.run` (or by the earlier ``run_force_sine``, whose
``config.json`` holds the settings at its top level) and draws ``force_sine.png``:

* spike rasters of the recorded neurons over the last second before training and the last
  second of the run (after training);
* readout ``z`` against the target over the whole run, training window shaded, and close-ups
  of the second before training, the last second of training and the last second of the test;
* Frobenius norm of the decoder ``phi`` over time;
* membrane potentials of a few neurons before and after training, spikes drawn up to
  ``v_peak``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from spikesub.runs import load_npz, read_json, save_figure, saved_job, saved_settings

__all__ = ["FIGURE_NAME", "plot"]

FIGURE_NAME = "force_sine.png"
ARRAYS_NAME = "force_sine.npz"
_WINDOW_MS = 1000.0


def _load(run_dir: Path) -> tuple[dict, dict, dict]:
    """The folder's settings (with ``"neuron"``, the neuron parameters), metrics and arrays."""
    missing = [
        name
        for name in ("config.json", "metrics.json", ARRAYS_NAME)
        if not (run_dir / name).is_file()
    ]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a force_sine run folder: missing {missing}")
    saved = read_json(run_dir / "config.json")
    job = saved_job(saved) if isinstance(saved, dict) else None
    if job != "force_sine":
        raise ValueError(f"{run_dir} holds a {job or 'unknown'} run, not a force_sine run")
    return _settings(saved), read_json(run_dir / "metrics.json"), load_npz(run_dir / ARRAYS_NAME)


def _settings(saved: dict[str, Any]) -> dict[str, Any]:
    """The settings of a ``config.json``, with the neuron parameters under ``"neuron"`` (at
    the top level of the file, or among the settings of earlier folders)."""
    settings = saved_settings(saved)
    neuron = saved.get("neuron", settings.get("neuron"))
    if not isinstance(neuron, dict):
        raise ValueError("config.json of a force_sine run lacks its neuron parameters")
    return {**settings, "neuron": neuron}


def _windows(config: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    start, stop, end = config["train_start_ms"], config["train_stop_ms"], config["duration_ms"]
    before = (max(0.0, start - _WINDOW_MS), start)
    after = (max(stop, end - _WINDOW_MS), end)
    return before, after


def _raster(ax, arrays: dict, window: tuple[float, float], title: str) -> None:
    t = arrays["spike_times_ms"]
    idx = arrays["spike_neurons"]
    keep = (t > window[0]) & (t <= window[1])
    ax.plot(t[keep] / 1000.0, idx[keep], "|", color="black", markersize=4)
    ax.set_xlim(window[0] / 1000.0, window[1] / 1000.0)
    n = int(arrays["raster_neurons"].size)
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_ylabel("neuron")
    ax.set_title(title, fontsize=9)


def _readout(ax, arrays: dict, window: tuple[float, float] | None, config: dict) -> None:
    t_s = arrays["t_ms"] / 1000.0
    z = arrays["z"][:, 0]
    target = arrays["target"][:, 0]
    sel = slice(None)
    if window is not None:
        sel = (arrays["t_ms"] > window[0]) & (arrays["t_ms"] <= window[1])
    ax.plot(t_s[sel], target[sel], color="black", lw=1.5, label="target")
    ax.plot(t_s[sel], z[sel], color="tab:blue", lw=1.0, ls="--", label="z")
    if window is None:
        ax.axvspan(
            config["train_start_ms"] / 1000.0,
            config["train_stop_ms"] / 1000.0,
            color="tab:orange",
            alpha=0.15,
            label="RLS on",
        )
        ax.set_xlim(0.0, config["duration_ms"] / 1000.0)
    else:
        ax.set_xlim(window[0] / 1000.0, window[1] / 1000.0)


def _voltage(ax, arrays: dict, window: tuple[float, float], config: dict, title: str) -> None:
    t_ms = arrays["t_ms"]
    sel = (t_ms > window[0]) & (t_ms <= window[1])
    v = arrays["v"]
    neuron = config["neuron"]
    span = neuron["v_peak_mV"] - neuron["v_reset_mV"]
    spike_t = arrays["spike_times_ms"]
    spike_n = arrays["spike_neurons"]
    for col, idx in enumerate(arrays["v_neurons"]):
        offset = 1.2 * col
        ax.plot(t_ms[sel] / 1000.0, (v[sel, col] - neuron["v_reset_mV"]) / span + offset, lw=0.7)
        mine = (spike_n == idx) & (spike_t > window[0]) & (spike_t <= window[1])
        ax.vlines(spike_t[mine] / 1000.0, offset, offset + 1.0, lw=0.7, color="black")
    ax.set_xlim(window[0] / 1000.0, window[1] / 1000.0)
    ax.set_yticks([])
    ax.set_ylabel("v (scaled), 5 neurons")
    ax.set_title(title, fontsize=9)


def plot(run_dir: str | Path, *, path: str | Path | None = None) -> list[Path]:
    """Draw the figure of a FORCE sine run from its saved files.

    Args:
        run_dir: folder written by :func:`spikesub.force_sine.run.run`.
        path: PNG to write; default ``run_dir / "force_sine.png"``.

    Returns:
        the path of the PNG written (atomically), as a one-element list like the other
        jobs' figures.

    Raises:
        FileNotFoundError: the folder lacks ``config.json``, ``metrics.json`` or
            ``force_sine.npz``.
        ValueError: the folder holds another job's run, or a file is damaged.
    """
    run_dir = Path(run_dir)
    config, metrics, arrays = _load(run_dir)
    before, after = _windows(config)
    stop = config["train_stop_ms"]
    end_train = (max(config["train_start_ms"], stop - _WINDOW_MS), stop)

    fig = Figure(figsize=(12, 12), layout="constrained")
    grid = fig.add_gridspec(5, 6)
    ax = fig.add_subplot(grid[0, :3])
    _raster(ax, arrays, before, "spikes, last second before training")
    ax = fig.add_subplot(grid[0, 3:])
    _raster(ax, arrays, after, "spikes, last second of the test (after training)")

    ax = fig.add_subplot(grid[1, :])
    _readout(ax, arrays, None, config)
    ax.set_ylabel("z")
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    ax.set_title(
        f"readout and target; test relative RMSE {metrics['test_rel_rmse']:.3f} "
        f"(N = {config['n_neurons']}, {config['frequency_hz']:g} Hz target)",
        fontsize=9,
    )
    for col, (window, title) in enumerate(
        (
            (before, "before training"),
            (end_train, "end of training"),
            (after, "end of test (RLS off)"),
        )
    ):
        ax = fig.add_subplot(grid[2, 2 * col : 2 * col + 2])
        _readout(ax, arrays, window, config)
        ax.set_title(title, fontsize=9)
        ax.set_ylim(-1.6 * config["amplitude"], 1.6 * config["amplitude"])

    ax = fig.add_subplot(grid[3, :])
    ax.plot(arrays["t_ms"] / 1000.0, arrays["phi_norm"], color="tab:purple")
    ax.axvspan(config["train_start_ms"] / 1000.0, stop / 1000.0, color="tab:orange", alpha=0.15)
    ax.set_xlim(0.0, config["duration_ms"] / 1000.0)
    ax.set_ylabel("||phi||")
    ax.set_title("decoder norm", fontsize=9)

    ax = fig.add_subplot(grid[4, :3])
    _voltage(ax, arrays, before, config, "membrane potential before training")
    ax.set_xlabel("time (s)")
    ax = fig.add_subplot(grid[4, 3:])
    _voltage(ax, arrays, after, config, "membrane potential after training")
    ax.set_xlabel("time (s)")

    return [save_figure(fig, run_dir / FIGURE_NAME if path is None else path)]
