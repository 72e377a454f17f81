"""Spike-train statistics: firing rates, ISI irregularity, population rate, synchrony.

All functions take spikes as two aligned arrays, ``times_ms`` ``(n_spikes,)`` (float, ms) and
``indices`` ``(n_spikes,)`` (int, the neuron that fired), plus the population size
``n_neurons``. Spikes need not be sorted.

Binned statistics use bins of ``bin_ms`` that start at ``t_start_ms``; only complete bins inside
the window ``[t_start_ms, t_start_ms + duration_ms)`` are used (a last partial bin is dropped,
as in :meth:`spikesub.models.network.monitors.SimulationResult.population_rate_hz`), and spikes
outside them are ignored. A spike within ``1e-9`` of a bin width below a bin edge counts in the
later bin, so that times computed as ``step * dt_ms`` land in the bin their step belongs to.
"""

from __future__ import annotations

import math

import numpy as np

from spikesub.models.memory import check_allocation
from spikesub.models.validation import check_int, check_real, size_in_bytes

# Relative tolerance (in bins) for placing spike times on bin edges.
_EDGE_TOL = 1e-9


def _check_n_neurons(n_neurons: int) -> int:
    # neuron indices are int64
    return check_int("n_neurons", n_neurons, minimum=1, maximum=np.iinfo(np.int64).max)


def _check_neuron_arrays(n_neurons: int, n_arrays: int) -> None:
    """Refuse ``n_arrays`` float64 arrays of ``n_neurons`` over the memory budget."""
    check_allocation(
        f"per-neuron arrays of n_neurons = {n_neurons:,}", size_in_bytes(8, n_neurons, n_arrays)
    )


def _check_indices(indices: np.ndarray, n_neurons: int) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.ndim != 1:
        raise ValueError(f"indices must be 1-D (n_spikes,); got shape {indices.shape}")
    if indices.size == 0:
        return indices.astype(np.int64)
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"indices must be an integer array; got dtype {indices.dtype}")
    lo, hi = int(indices.min()), int(indices.max())
    if lo < 0 or hi >= n_neurons:
        raise ValueError(
            f"indices must lie in [0, n_neurons - 1] = [0, {n_neurons - 1}]; got values in "
            f"[{lo}, {hi}]"
        )
    return indices


def _check_times(times_ms: np.ndarray) -> np.ndarray:
    times_ms = np.asarray(times_ms)
    if times_ms.ndim != 1:
        raise ValueError(f"times_ms must be 1-D (n_spikes,); got shape {times_ms.shape}")
    if times_ms.size and not (
        np.issubdtype(times_ms.dtype, np.floating) or np.issubdtype(times_ms.dtype, np.integer)
    ):
        raise TypeError(f"times_ms must be a numeric array; got dtype {times_ms.dtype}")
    times_ms = times_ms.astype(np.float64, copy=False)
    if times_ms.size and not np.all(np.isfinite(times_ms)):
        raise ValueError("times_ms must be finite (no NaN or inf)")
    return times_ms


def _check_spikes(
    times_ms: np.ndarray, indices: np.ndarray, n_neurons: int
) -> tuple[np.ndarray, np.ndarray]:
    times_ms = _check_times(times_ms)
    indices = _check_indices(indices, n_neurons)
    if times_ms.shape != indices.shape:
        raise ValueError(
            f"times_ms and indices must have the same length; got {times_ms.shape[0]} and "
            f"{indices.shape[0]}"
        )
    return times_ms, indices


def _n_full_bins(duration_ms: float, bin_ms: float) -> int:
    """Complete bins in the window; refused when their counts would not fit the memory
    budget (a ``bin_ms`` far too small for ``duration_ms``)."""
    ratio = duration_ms / bin_ms + _EDGE_TOL
    what = f"the bins of duration_ms / bin_ms = {duration_ms:g} / {bin_ms:g}"
    if not math.isfinite(ratio):
        raise ValueError(f"{what} are too many to count; use a larger bin_ms")
    check_allocation(what, 24.0 * ratio)  # counts, rates and bin starts, float64
    return int(math.floor(ratio))


def _bin_of(times_ms: np.ndarray, t_start_ms: float, bin_ms: float, n_bins: int) -> np.ndarray:
    """Bin number of every spike, ``-1`` for spikes outside the ``n_bins`` complete bins."""
    pos = np.floor((times_ms - t_start_ms) / bin_ms + _EDGE_TOL)
    inside = (pos >= 0) & (pos < n_bins)
    return np.where(inside, pos, -1).astype(np.int64)


def _gaussian_smooth_counts(counts: np.ndarray, sigma_bins: float) -> np.ndarray:
    """Mass-conserving Gaussian smoothing of a 1-D histogram.

    Each bin's content is spread over its neighbours with a Gaussian truncated at 4 sigma and
    renormalised to the bins that exist, so nothing is lost at the edges and the total is kept.
    """
    if counts.size == 0:
        return counts.astype(np.float64)
    # offsets beyond the histogram's length land nowhere: a kernel that wide adds nothing
    spread = 4.0 * sigma_bins
    half = counts.size - 1 if spread >= counts.size else int(math.ceil(spread))
    if half == 0:
        return counts.astype(np.float64)
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma_bins) ** 2)
    n = counts.size
    # Weight each source bin by 1 / (kernel mass that falls inside the histogram).
    inside_mass = np.convolve(np.ones(n), kernel)[half : half + n]
    full = np.convolve(counts / inside_mass, kernel)
    return full[half : half + n]


def firing_rates_hz(indices: np.ndarray, n_neurons: int, duration_ms: float) -> np.ndarray:
    """Mean firing rate of every neuron.

    Args:
        indices: ``(n_spikes,)`` int, neuron index of each spike, in ``[0, n_neurons)``.
        n_neurons: population size (>= 1).
        duration_ms: length of the recording in ms (> 0).

    Returns:
        ``(n_neurons,)`` float64 rates in Hz (spike count / duration).
    """
    n_neurons = _check_n_neurons(n_neurons)
    duration_ms = check_real("duration_ms", duration_ms, low=0.0, low_open=True)
    indices = _check_indices(indices, n_neurons)
    _check_neuron_arrays(n_neurons, 2)
    counts = np.bincount(indices, minlength=n_neurons).astype(np.float64)
    return counts / (duration_ms / 1000.0)


def isi_cv(
    times_ms: np.ndarray, indices: np.ndarray, n_neurons: int, *, min_spikes: int = 3
) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of every neuron.

    CV = std(ISI) / mean(ISI), with the population standard deviation (``ddof=0``). It is 0 for
    a perfectly regular train and close to 1 for a Poisson train.

    Args:
        times_ms: ``(n_spikes,)`` spike times in ms.
        indices: ``(n_spikes,)`` int neuron index of each spike, in ``[0, n_neurons)``.
        n_neurons: population size (>= 1).
        min_spikes: neurons with fewer spikes get NaN (>= 2, since two spikes make one interval).

    Returns:
        ``(n_neurons,)`` float64 CV per neuron; NaN where the neuron has fewer than
        ``min_spikes`` spikes or all its intervals are zero.
    """
    n_neurons = _check_n_neurons(n_neurons)
    times_ms, indices = _check_spikes(times_ms, indices, n_neurons)
    min_spikes = check_int("min_spikes", min_spikes, minimum=2)
    _check_neuron_arrays(n_neurons, 6)

    cv = np.full(n_neurons, np.nan)
    n_spikes = np.bincount(indices, minlength=n_neurons)
    if times_ms.size < 2:
        return cv
    order = np.lexsort((times_ms, indices))
    idx_sorted = indices[order]
    t_sorted = times_ms[order]
    same = idx_sorted[1:] == idx_sorted[:-1]
    isi = np.diff(t_sorted)[same]
    owner = idx_sorted[1:][same]

    n_isi = np.bincount(owner, minlength=n_neurons).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, weights=isi, minlength=n_neurons) / n_isi
        dev = isi - mean[owner]
        var = np.bincount(owner, weights=dev * dev, minlength=n_neurons) / n_isi
        ok = (n_spikes >= min_spikes) & (mean > 0)
        cv[ok] = np.sqrt(var[ok]) / mean[ok]
    return cv


def population_rate_hz(
    times_ms: np.ndarray,
    n_neurons: int,
    duration_ms: float,
    *,
    bin_ms: float = 1.0,
    t_start_ms: float = 0.0,
    smooth_ms: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Population firing rate per neuron, binned and optionally smoothed.

    Args:
        times_ms: ``(n_spikes,)`` spike times in ms (of any neurons of the population).
        n_neurons: population size (>= 1); the rate is per neuron.
        duration_ms: length of the window in ms (> 0).
        bin_ms: bin width in ms (> 0).
        t_start_ms: start of the window in ms.
        smooth_ms: standard deviation in ms of a Gaussian kernel applied to the binned counts
            (>= 0; 0 means no smoothing). The smoothing keeps the total spike count.

    Returns:
        ``(bin_start_ms, rate_hz)``, both ``(n_bins,)`` float64, ``n_bins`` the number of
        complete bins in the window. ``sum(rate_hz) * bin_ms / 1000 * n_neurons`` equals the
        number of spikes in those bins.
    """
    n_neurons = _check_n_neurons(n_neurons)
    times_ms = _check_times(times_ms)
    duration_ms = check_real("duration_ms", duration_ms, low=0.0, low_open=True)
    bin_ms = check_real("bin_ms", bin_ms, low=0.0, low_open=True)
    t_start_ms = check_real("t_start_ms", t_start_ms)
    smooth_ms = check_real("smooth_ms", smooth_ms, low=0.0)

    n_bins = _n_full_bins(duration_ms, bin_ms)
    bins = _bin_of(times_ms, t_start_ms, bin_ms, n_bins)
    counts = np.bincount(bins[bins >= 0], minlength=n_bins).astype(np.float64)
    if smooth_ms > 0:
        counts = _gaussian_smooth_counts(counts, smooth_ms / bin_ms)
    starts = t_start_ms + np.arange(n_bins, dtype=np.float64) * bin_ms
    return starts, counts / (n_neurons * bin_ms / 1000.0)


def synchrony_chi(
    times_ms: np.ndarray,
    indices: np.ndarray,
    n_neurons: int,
    duration_ms: float,
    *,
    bin_ms: float = 1.0,
    t_start_ms: float = 0.0,
) -> float:
    """Golomb's synchrony measure chi of binned spike counts.

    ``chi**2 = Var_t(A) / mean_i Var_t(c_i)``, where ``c_i(t)`` is the spike count of neuron
    ``i`` in bin ``t`` and ``A(t) = mean_i c_i(t)`` the population-averaged count. chi is 1 when
    all neurons have identical trains and about ``1 / sqrt(n_neurons)`` for independent Poisson
    trains.

    The statistic is computed exactly, from integer sums, over all neurons (no sampling) and
    without a dense ``(n_neurons, n_bins)`` matrix: the per-neuron variances come from
    ``sum_t c_i`` (a bincount over neurons) and ``sum_{i,t} c_i(t)**2`` (run lengths of the
    sorted ``(neuron, bin)`` keys of the spikes). Memory is ``O(n_spikes + n_neurons + n_bins)``.

    Args:
        times_ms: ``(n_spikes,)`` spike times in ms.
        indices: ``(n_spikes,)`` int neuron index of each spike, in ``[0, n_neurons)``.
        n_neurons: population size (>= 1); silent neurons count with zero variance.
        duration_ms: length of the window in ms (> 0).
        bin_ms: bin width in ms (> 0).
        t_start_ms: start of the window in ms.

    Returns:
        chi as a float in ``[0, 1]`` (up to rounding), NaN when undefined: fewer than two
        complete bins, or no neuron's count varies over time.
    """
    n_neurons = _check_n_neurons(n_neurons)
    times_ms, indices = _check_spikes(times_ms, indices, n_neurons)
    duration_ms = check_real("duration_ms", duration_ms, low=0.0, low_open=True)
    bin_ms = check_real("bin_ms", bin_ms, low=0.0, low_open=True)
    t_start_ms = check_real("t_start_ms", t_start_ms)

    n_bins = _n_full_bins(duration_ms, bin_ms)
    if n_bins < 2:
        return float("nan")
    _check_neuron_arrays(n_neurons, 1)
    if n_neurons * n_bins >= 2**63:
        raise ValueError(
            f"n_neurons x bins = {n_neurons:,} x {n_bins:,} is more (neuron, bin) pairs than "
            "64-bit keys can number; use a larger bin_ms"
        )
    bins = _bin_of(times_ms, t_start_ms, bin_ms, n_bins)
    keep = bins >= 0
    bins = bins[keep]
    neurons = indices[keep].astype(np.int64)

    # Population count per bin: P_t = sum_i c_i(t).
    pop = np.bincount(bins, minlength=n_bins).astype(np.int64)
    # Spike count per neuron: S_i = sum_t c_i(t).
    per_neuron = np.bincount(neurons, minlength=n_neurons).astype(np.int64)
    # sum_{i,t} c_i(t)^2 from the multiplicity of each (neuron, bin) pair.
    keys = neurons * n_bins + bins
    keys.sort()
    if keys.size:
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        run = np.diff(np.append(starts, keys.size)).astype(np.int64)
        sum_sq_pairs = int(np.dot(run, run))
    else:
        sum_sq_pairs = 0
    del keys

    T = n_bins
    total = int(pop.sum())
    # T^2 N^2 Var_t(A) = T * sum_t P_t^2 - (sum_t P_t)^2
    num = T * int(np.dot(pop, pop)) - total * total
    # T^2 N mean_i Var_t(c_i) = T * sum_{i,t} c^2 - sum_i S_i^2
    den = T * sum_sq_pairs - int(np.dot(per_neuron, per_neuron))
    if den <= 0:
        return float("nan")
    return math.sqrt(max(num, 0) / (n_neurons * den))


def spike_metrics(
    times_ms: np.ndarray,
    indices: np.ndarray,
    n_neurons: int,
    duration_ms: float,
    *,
    excitatory: np.ndarray | None = None,
    t_start_ms: float = 0.0,
    bin_ms: float = 1.0,
) -> dict[str, float]:
    """Summary statistics of a population's spikes, ready for ``metrics.json``.

    Only spikes in the window ``[t_start_ms, t_start_ms + duration_ms)`` count.

    Args:
        times_ms: ``(n_spikes,)`` spike times in ms.
        indices: ``(n_spikes,)`` int neuron index of each spike, in ``[0, n_neurons)``.
        n_neurons: population size (>= 1).
        duration_ms: length of the window in ms (> 0).
        excitatory: optional ``(n_neurons,)`` bool, True for excitatory neurons.
        t_start_ms: start of the window in ms.
        bin_ms: bin width in ms for the synchrony and the peak population rate (> 0).

    Returns:
        Plain Python numbers: ``n_spikes`` (int), ``mean_rate_hz``, ``mean_rate_exc_hz`` and
        ``mean_rate_inh_hz`` (only when ``excitatory`` is given; NaN for an empty group),
        ``cv_isi_mean`` (mean ISI CV over neurons with >= 3 spikes, NaN if none),
        ``synchrony_chi``, ``fraction_active`` (neurons with >= 1 spike) and
        ``peak_population_rate_hz`` (highest binned population rate per neuron, NaN if the
        window holds no complete bin).
    """
    n_neurons = _check_n_neurons(n_neurons)
    times_ms, indices = _check_spikes(times_ms, indices, n_neurons)
    duration_ms = check_real("duration_ms", duration_ms, low=0.0, low_open=True)
    bin_ms = check_real("bin_ms", bin_ms, low=0.0, low_open=True)
    t_start_ms = check_real("t_start_ms", t_start_ms)
    if excitatory is not None:
        excitatory = np.asarray(excitatory)
        if excitatory.shape != (n_neurons,):
            raise ValueError(
                f"excitatory must have shape (n_neurons,) = ({n_neurons},); got {excitatory.shape}"
            )
        if excitatory.dtype != np.bool_:
            raise TypeError(f"excitatory must be a bool array; got dtype {excitatory.dtype}")

    end_ms = t_start_ms + duration_ms
    inside = (times_ms >= t_start_ms) & (times_ms < end_ms)
    times_ms, indices = times_ms[inside], indices[inside]

    rates = firing_rates_hz(indices, n_neurons, duration_ms)
    metrics: dict[str, float] = {
        "n_spikes": int(times_ms.size),
        "mean_rate_hz": float(rates.mean()),
    }
    if excitatory is not None:
        for key, group in (("mean_rate_exc_hz", excitatory), ("mean_rate_inh_hz", ~excitatory)):
            metrics[key] = float(rates[group].mean()) if group.any() else float("nan")
    cv = isi_cv(times_ms, indices, n_neurons, min_spikes=3)
    metrics["cv_isi_mean"] = (
        float(cv[np.isfinite(cv)].mean()) if np.isfinite(cv).any() else (float("nan"))
    )
    metrics["synchrony_chi"] = synchrony_chi(
        times_ms, indices, n_neurons, duration_ms, bin_ms=bin_ms, t_start_ms=t_start_ms
    )
    metrics["fraction_active"] = float(np.count_nonzero(rates > 0) / n_neurons)
    _, pop_rate = population_rate_hz(
        times_ms, n_neurons, duration_ms, bin_ms=bin_ms, t_start_ms=t_start_ms
    )
    metrics["peak_population_rate_hz"] = float(pop_rate.max()) if pop_rate.size else float("nan")
    return metrics
