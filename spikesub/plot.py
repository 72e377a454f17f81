"""Figures of saved results: spike rasters, population rates, membrane traces.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot, no global state),
so it works headless and from threads, and returns it. With ``path`` the figure is also saved
as PNG, atomically, with :func:`spikesub.runs.save_figure`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from spikesub.analysis import (
    _check_n_neurons,
    _check_spikes,
    _check_times,
    population_rate_hz,
)
from spikesub.models.memory import check_allocation
from spikesub.models.validation import check_int, check_real
from spikesub.runs import save_figure

EXCITATORY_COLOR = "tab:blue"
INHIBITORY_COLOR = "tab:red"
ALL_COLOR = "black"

# Above this many points the raster draws dots instead of ticks (faster, less ink).
_TICK_MARKER_LIMIT = 20_000
# Bytes the raster allocates per neuron (spike counts, group masks, and for a subset the random
# order, its cumulative counts and the row numbers) and per time bin and rate curve (the binned
# counts as int64 and float64, bin starts and centres, the rates, and matplotlib's copies).
_RASTER_BYTES_PER_NEURON = 48
_RASTER_BYTES_PER_BIN = 64


def _check_raster_memory(
    n_neurons: int, duration_ms: float, bin_ms: float, n_curves: int, what: str
) -> None:
    """Refuse (MemoryBudgetError) a raster whose per-neuron or per-bin arrays exceed the budget."""
    n_bins = duration_ms / bin_ms
    check_allocation(
        f"{what} (n_neurons={n_neurons:,}, duration_ms={duration_ms:g} in {n_bins:,.0f} bins "
        f"of bin_ms={bin_ms:g})",
        _RASTER_BYTES_PER_NEURON * float(n_neurons) + _RASTER_BYTES_PER_BIN * n_curves * n_bins,
    )


def _subsample_neurons(
    indices: np.ndarray, n_neurons: int, max_points: int, seed: int
) -> np.ndarray:
    """Boolean ``(n_neurons,)`` mask of a random set of neurons with at most ``max_points`` spikes.

    Neurons are taken in a seeded random order for as long as their spikes fit.
    """
    counts = np.bincount(indices, minlength=n_neurons)
    order = np.random.default_rng(seed).permutation(n_neurons)
    n_keep = int(np.searchsorted(np.cumsum(counts[order]), max_points, side="right"))
    chosen = np.zeros(n_neurons, dtype=bool)
    chosen[order[:n_keep]] = True
    return chosen


def raster(
    times_ms: np.ndarray,
    indices: np.ndarray,
    n_neurons: int,
    *,
    excitatory: np.ndarray | None = None,
    duration_ms: float | None = None,
    t_start_ms: float = 0.0,
    bin_ms: float = 1.0,
    max_points: int = 200_000,
    seed: int = 0,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Spike raster with the population rate below it.

    The top panel draws one mark per spike (excitatory and inhibitory neurons in two colours,
    the legend giving neuron and spike counts); the bottom panel, sharing the time axis, draws
    the population rate per neuron in Hz in bins of ``bin_ms`` (all neurons, and each group
    when ``excitatory`` is given).

    When there are more than ``max_points`` spikes, the raster shows a random subset of neurons
    (chosen with ``seed``, at most ``max_points`` spikes in all, rows renumbered in index
    order) and the title says so; the rate panel always uses every spike.

    Args:
        times_ms: ``(n_spikes,)`` spike times in ms.
        indices: ``(n_spikes,)`` int neuron index of each spike, in ``[0, n_neurons)``.
        n_neurons: population size (>= 1).
        excitatory: optional ``(n_neurons,)`` bool, True for excitatory neurons.
        duration_ms: length of the window in ms (> 0); ``None`` takes the last spike's bin.
        t_start_ms: start of the window in ms.
        bin_ms: bin width of the rate panel in ms (> 0).
        max_points: most spikes to draw (>= 1).
        seed: seed of the neuron subset.
        title: figure title; the default states spike, neuron and duration counts.
        path: if given, the figure is saved there as PNG.

    Returns:
        the figure, with two axes: raster, then rate.
    """
    n_neurons = _check_n_neurons(n_neurons)
    times_ms, indices = _check_spikes(times_ms, indices, n_neurons)
    t_start_ms = check_real("t_start_ms", t_start_ms)
    bin_ms = check_real("bin_ms", bin_ms, low=0.0, low_open=True)
    max_points = check_int("max_points", max_points, minimum=1)
    duration_ms = _raster_duration(times_ms, duration_ms, t_start_ms, bin_ms)
    n_curves = 1 if excitatory is None else 3
    _check_raster_memory(n_neurons, duration_ms, bin_ms, n_curves, "raster plot")
    excitatory = _check_excitatory(excitatory, n_neurons)
    if excitatory is None:
        groups = [("spikes", np.ones(n_neurons, dtype=bool), ALL_COLOR)]
    else:
        groups = [
            ("excitatory", excitatory, EXCITATORY_COLOR),
            ("inhibitory", ~excitatory, INHIBITORY_COLOR),
        ]

    drawn = _RasterPoints.choose(times_ms, indices, n_neurons, max_points, seed)
    fig = Figure(figsize=(10.0, 6.0), layout="constrained")
    ax_raster, ax_rate = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3.0, 1.0]})
    _draw_raster(ax_raster, drawn, np.bincount(indices, minlength=n_neurons), groups)
    window = (t_start_ms, duration_ms, bin_ms)
    _draw_rates(
        ax_rate, times_ms, indices, n_neurons, window, groups if excitatory is not None else []
    )
    n_spikes = int(times_ms.size)
    heading = (
        title
        if title is not None
        else f"{n_spikes:,} spikes, {n_neurons:,} neurons, {duration_ms:g} ms"
    )
    if drawn.subsampled:
        heading += (
            f"\nshowing a random subset of {drawn.n_rows:,} of {n_neurons:,} neurons "
            f"({drawn.t.size:,} of {n_spikes:,} spikes, seed {seed})"
        )
    fig.suptitle(heading)
    if path is not None:
        save_figure(fig, path)
    return fig


def _raster_duration(
    times_ms: np.ndarray, duration_ms: float | None, t_start_ms: float, bin_ms: float
) -> float:
    """The window's length: as given, or up to the end of the last spike's bin."""
    if duration_ms is None:
        if times_ms.size:
            last_bin = np.floor((times_ms.max() - t_start_ms) / bin_ms)
            duration_ms = float(max(last_bin + 1.0, 1.0) * bin_ms)
        else:
            duration_ms = bin_ms
    return check_real("duration_ms", duration_ms, low=0.0, low_open=True)


def _check_excitatory(excitatory: Any, n_neurons: int) -> np.ndarray | None:
    if excitatory is None:
        return None
    excitatory = np.asarray(excitatory)
    if excitatory.shape != (n_neurons,) or excitatory.dtype != np.bool_:
        raise ValueError(
            f"excitatory must be a bool array of shape (n_neurons,) = ({n_neurons},); got "
            f"{excitatory.dtype} {excitatory.shape}"
        )
    return excitatory


@dataclass
class _RasterPoints:
    """The spikes a raster draws: times, rows and neurons (all of them, or those of a random
    subset of neurons when there are more than ``max_points`` spikes, rows renumbered)."""

    t: np.ndarray
    row: np.ndarray
    neuron: np.ndarray
    n_rows: int
    subsampled: bool

    @classmethod
    def choose(cls, times_ms, indices, n_neurons: int, max_points: int, seed: int):
        if times_ms.size <= max_points:
            return cls(times_ms, indices, indices, n_neurons, False)
        chosen = _subsample_neurons(indices, n_neurons, max_points, seed)
        row_of = np.cumsum(chosen) - 1
        keep = chosen[indices]
        return cls(times_ms[keep], row_of[indices[keep]], indices[keep], int(chosen.sum()), True)


def _draw_raster(ax, drawn: _RasterPoints, counts: np.ndarray, groups: list) -> None:
    """One mark per drawn spike, a colour per group, the legend counting each group."""
    if drawn.t.size <= _TICK_MARKER_LIMIT:
        style = {"marker": "|", "markersize": 3.0, "markeredgewidth": 0.6}
    else:
        style = {"marker": ".", "markersize": 1.0, "markeredgewidth": 0.0}
    for name, members, color in groups:
        sel = members[drawn.neuron]
        label = f"{name}: {int(members.sum()):,} neurons, {int(counts[members].sum()):,} spikes"
        ax.plot(drawn.t[sel], drawn.row[sel], linestyle="none", color=color, label=label, **style)
    ax.set_ylim(-0.5, max(drawn.n_rows, 1) - 0.5)
    ax.set_ylabel("neuron (random subset)" if drawn.subsampled else "neuron")
    ax.legend(loc="upper right", fontsize="small", markerscale=3.0, framealpha=0.8)


def _draw_rates(ax, times_ms, indices, n_neurons: int, window: tuple, groups: list) -> None:
    """The population rate (every spike) and, per group, the group's rate, in Hz per neuron;
    ``window`` is ``(t_start_ms, duration_ms, bin_ms)``."""
    t_start_ms, duration_ms, bin_ms = window
    starts, rate = population_rate_hz(
        times_ms, n_neurons, duration_ms, bin_ms=bin_ms, t_start_ms=t_start_ms
    )
    centers = starts + 0.5 * bin_ms
    ax.plot(centers, rate, color=ALL_COLOR, linewidth=1.0, label="all", zorder=3)
    for name, members, color in groups:
        n_group = int(members.sum())
        if n_group == 0:
            continue
        _, group_rate = population_rate_hz(
            times_ms[members[indices]], n_group, duration_ms, bin_ms=bin_ms, t_start_ms=t_start_ms
        )
        ax.plot(centers, group_rate, color=color, linewidth=0.7, alpha=0.7, label=name)
    if groups:
        ax.legend(loc="upper right", fontsize="small", ncols=3)
    ax.set_ylabel(f"rate (Hz, {bin_ms:g} ms bins)")
    ax.set_xlabel("time (ms)")
    ax.set_xlim(t_start_ms, t_start_ms + duration_ms)
    ax.set_ylim(bottom=0.0)


def membrane_traces(
    times_ms: np.ndarray,
    values: np.ndarray,
    neuron_indices: Sequence[int] | np.ndarray,
    *,
    variable: str = "v",
    unit: str = "mV",
    v_peak: float | None = None,
    spike_times: Sequence[np.ndarray] | None = None,
    max_panels: int = 8,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Sampled state variable of a few neurons, one panel per neuron on a shared time axis.

    Args:
        times_ms: ``(samples,)`` sample times in ms.
        values: ``(samples, k)`` samples of ``variable``, column ``j`` for neuron
            ``neuron_indices[j]``; a 1-D ``(samples,)`` array is one neuron.
        neuron_indices: ``(k,)`` neuron index of each column (used in the labels).
        variable: name of the variable, for the axis labels.
        unit: its unit, for the axis labels.
        v_peak: spike cut-off; drawn as a dashed line, and spikes are drawn up to it.
        spike_times: optional ``k`` arrays of spike times in ms, one per column; each spike is
            drawn as a vertical line from the trace up to ``v_peak`` (or the panel's maximum).
        max_panels: most panels to draw (>= 1); further columns are left out, and the title
            says so.
        title: figure title.
        path: if given, the figure is saved there as PNG.

    Returns:
        the figure, with one axes per drawn neuron.
    """
    times_ms = _check_times(times_ms)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"values must be (samples, k); got shape {values.shape}")
    if values.shape[0] != times_ms.shape[0]:
        raise ValueError(
            f"values must have one row per sample time; got {values.shape[0]} rows and "
            f"{times_ms.shape[0]} times_ms"
        )
    neuron_indices = np.asarray(neuron_indices).reshape(-1)
    if neuron_indices.shape[0] != values.shape[1]:
        raise ValueError(
            f"neuron_indices must have one entry per column of values; got "
            f"{neuron_indices.shape[0]} for {values.shape[1]} columns"
        )
    k = values.shape[1]
    if k == 0:
        raise ValueError("values must have at least one column (neuron)")
    if spike_times is not None and len(spike_times) != k:
        raise ValueError(
            f"spike_times must hold one array per column of values; got {len(spike_times)} "
            f"for {k} columns"
        )
    if isinstance(max_panels, bool) or not isinstance(max_panels, Integral) or max_panels < 1:
        raise ValueError(f"max_panels must be an int >= 1; got {max_panels!r}")
    if v_peak is not None:
        v_peak = check_real("v_peak", v_peak)

    n_panels = min(k, int(max_panels))
    fig = Figure(figsize=(10.0, 1.2 + 1.5 * n_panels), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0])
    label = f"{variable} ({unit})" if unit else variable
    for j, ax in enumerate(axes):
        trace = values[:, j]
        ax.plot(times_ms, trace, color="black", linewidth=0.8)
        if v_peak is not None:
            ax.axhline(v_peak, color="gray", linestyle="--", linewidth=0.6)
        if spike_times is not None:
            spikes = np.asarray(spike_times[j], dtype=np.float64).reshape(-1)
            if times_ms.size:
                spikes = spikes[(spikes >= times_ms.min()) & (spikes <= times_ms.max())]
            if spikes.size and times_ms.size:
                top = v_peak if v_peak is not None else float(np.nanmax(trace))
                base = np.interp(spikes, times_ms, trace)
                ax.vlines(spikes, base, top, color="tab:red", linewidth=0.8)
        ax.set_ylabel(label)
        ax.text(
            0.005,
            0.95,
            f"neuron {neuron_indices[j]}",
            transform=ax.transAxes,
            va="top",
            fontsize="small",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0},
        )
    axes[-1].set_xlabel("time (ms)")
    if times_ms.size > 1:
        axes[-1].set_xlim(times_ms.min(), times_ms.max())
    heading = title if title is not None else f"{variable} of {k} neuron{'s' * (k != 1)}"
    if n_panels < k:
        heading += f" (first {n_panels} of {k} shown)"
    fig.suptitle(heading)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_run(run_dir: str | Path) -> list[Path]:
    """Draw the figures of a run folder from its saved files, with its job's figure module.

    The job is the one its ``config.json`` names (``"job"``, or ``"experiment"`` in older
    folders; a comparison of continual-learning runs has a ``summary.json``); a folder with
    neither is taken for a simulation run.

    Args:
        run_dir: the run folder.

    Returns:
        the paths written.

    Raises:
        FileNotFoundError: the folder does not exist, or holds nothing its job can draw.
        ValueError: its ``config.json`` names no job that draws figures, or a file is damaged.
        MemoryBudgetError: its arrays would exceed the memory budget.
    """
    from spikesub.jobs import figures_of

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    return list(figures_of(_job_of(run_dir) or "simulate", run_dir)(run_dir))


def _job_of(run_dir: Path) -> str | None:
    """The job named by the folder's ``config.json`` (or ``summary.json``), if any."""
    for name in ("config.json", "summary.json"):
        path = run_dir / name
        if path.exists():
            try:
                saved = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ValueError(f"{path} is not valid JSON: {error}") from None
            if isinstance(saved, dict):
                job = saved.get("job", saved.get("experiment"))
                return str(job) if job is not None else None
            return None
    return None
