"""The simulation job's figures, drawn from a run folder's files only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikesub.models.network.monitors import SpikeTrains
from spikesub.plot import membrane_traces, raster
from spikesub.runs import load_npz, load_spikes

__all__ = ["plot"]


def plot(run_dir: str | Path) -> list[Path]:
    """Draw a simulation run folder's figures from its saved files.

    - ``spikes.npz`` (see :func:`spikesub.runs.save_spikes`) -> ``raster.png``;
    - ``state.npz`` with ``times_ms`` ``(samples,)``, ``indices`` ``(k,)`` and one
      ``(samples, k)`` array per variable (and optionally a scalar ``v_peak``) ->
      ``membrane.png``, showing ``v`` (or the first variable), with spikes marked when
      ``spikes.npz`` is there too.

    Returns:
        the paths written, in the order above.

    Raises:
        FileNotFoundError: the folder does not exist or holds neither file.
        ValueError: a file is damaged or lacks the arrays named above.
        MemoryBudgetError: the files' arrays, or the raster's per-neuron and per-bin arrays
            (a file claiming 1e12 neurons or an absurd duration), would exceed the memory
            budget; checked before they are allocated.
    """
    run_dir = Path(run_dir)
    spikes_path, state_path = run_dir / "spikes.npz", run_dir / "state.npz"
    if not spikes_path.exists() and not state_path.exists():
        raise FileNotFoundError(f"{run_dir} holds neither spikes.npz nor state.npz")
    written: list[Path] = []
    spikes = None
    if spikes_path.exists():
        spikes, excitatory = load_spikes(spikes_path)
        written.append(_raster(run_dir, spikes, excitatory))
    if state_path.exists():
        membrane = _membrane(run_dir, load_npz(state_path), state_path, spikes)
        if membrane is not None:
            written.append(membrane)
    return written


def _raster(run_dir: Path, spikes: SpikeTrains, excitatory: np.ndarray | None) -> Path:
    out = run_dir / "raster.png"
    raster(
        spikes.times_ms,
        spikes.indices,
        spikes.n_neurons,
        excitatory=excitatory,
        duration_ms=spikes.duration_ms if spikes.duration_ms > 0 else None,
        t_start_ms=spikes.t_start_ms,
        title=f"{run_dir.name}: {len(spikes):,} spikes, {spikes.n_neurons:,} neurons",
        path=out,
    )
    return out


def _membrane(
    run_dir: Path, state: dict[str, np.ndarray], path: Path, spikes: SpikeTrains | None
) -> Path | None:
    """``membrane.png`` from a ``state.npz`` (None when it records no variable)."""
    if "times_ms" not in state or "indices" not in state:
        raise ValueError(f"{path} must hold 'times_ms' and 'indices'")
    times_ms = state["times_ms"]
    recorded = state["indices"].astype(np.int64).reshape(-1)
    variables = sorted(
        key
        for key, array in state.items()
        if key not in ("times_ms", "indices", "v_peak")
        and array.ndim == 2
        and array.shape == (times_ms.shape[0], recorded.shape[0])
    )
    if not variables or not recorded.size:
        return None
    name = "v" if "v" in variables else variables[0]
    v_peak = float(state["v_peak"]) if "v_peak" in state and name == "v" else None
    out = run_dir / "membrane.png"
    membrane_traces(
        times_ms,
        state[name],
        recorded,
        variable=name,
        unit="mV" if name == "v" else "",
        v_peak=v_peak,
        spike_times=_spike_times_of(spikes, recorded) if spikes is not None else None,
        title=f"{run_dir.name}: {name} of recorded neurons",
        path=out,
    )
    return out


def _spike_times_of(spikes: SpikeTrains, neurons: np.ndarray) -> list[np.ndarray]:
    """The spike times (ms) of each neuron in ``neurons``."""
    order = np.argsort(spikes.indices, kind="stable")
    sorted_idx = spikes.indices[order]
    lo = np.searchsorted(sorted_idx, neurons, side="left")
    hi = np.searchsorted(sorted_idx, neurons, side="right")
    return [spikes.times_ms[order[a:b]] for a, b in zip(lo, hi, strict=True)]
