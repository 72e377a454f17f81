"""Measures of a prediction: peak timing, magnitude against probability, recovery after a
switch, and principal angles between readout weight subspaces; and, from them, the measures
of one trial (:func:`measure_trial`) and of a run (:func:`compute_metrics`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesub.whatwhen.config import METHODS
from spikesub.whatwhen.paradigm import WHAT, WHEN, Schedule, Trial, TrialTiming, expectation_window


def peak(signal: np.ndarray, *, dt_ms: float = 1.0, start: int = 0, stop: int | None = None):
    """Time and height of the maximum of a sampled signal.

    The maximum is searched over samples ``start:stop`` and refined by the vertex of the
    parabola through it and its two neighbours (when both exist), so a sampled Gaussian bump
    gives its centre to a small fraction of a step.

    Args:
        signal: ``(T,)`` samples, one every ``dt_ms``.
        dt_ms: sampling step in ms.
        start, stop: the search range in samples.

    Returns:
        ``(time_ms, height)``, the time measured from sample 0. ``(nan, nan)`` for an empty
        range or a signal that is not finite there.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"signal must be 1-D; got shape {x.shape}")
    stop = x.size if stop is None else min(int(stop), x.size)
    start = max(int(start), 0)
    seg = x[start:stop]
    if seg.size == 0 or not np.all(np.isfinite(seg)):
        return math.nan, math.nan
    i = int(np.argmax(seg))
    offset = 0.0
    height = float(seg[i])
    if 0 < i < seg.size - 1:
        y0, y1, y2 = seg[i - 1], seg[i], seg[i + 1]
        curvature = y0 - 2.0 * y1 + y2
        if curvature < 0:
            offset = 0.5 * (y0 - y2) / curvature
            height = float(y1 - 0.25 * (y0 - y2) * offset)
    return (start + i + offset) * dt_ms, height


def linear_fit(x: Any, y: Any) -> dict[str, float]:
    """Least-squares line ``y = slope x + intercept`` and Pearson correlation of ``x`` and ``y``.

    Pairs where either value is not finite are left out. Fewer than two usable pairs, or no
    spread in ``x``, give NaN for every field.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length; got {x.size} and {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    nan = {"slope": math.nan, "intercept": math.nan, "correlation": math.nan, "n": int(x.size)}
    if x.size < 2 or np.ptp(x) == 0:
        return nan
    xc, yc = x - x.mean(), y - y.mean()
    sxx = float(xc @ xc)
    slope = float(xc @ yc) / sxx
    syy = float(yc @ yc)
    corr = float(xc @ yc) / math.sqrt(sxx * syy) if syy > 0 else math.nan
    return {
        "slope": slope,
        "intercept": float(y.mean() - slope * x.mean()),
        "correlation": corr,
        "n": int(x.size),
    }


def trailing_mean(values: Any, window: int) -> np.ndarray:
    """Mean of each value and up to ``window - 1`` values before it (fewer at the start)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an integer >= 1; got {window!r}")
    c = np.concatenate([[0.0], np.cumsum(v)])
    i = np.arange(1, v.size + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def trials_to_recover(within: Any, run: int = 5) -> int | None:
    """Trials it takes to come back within tolerance and stay there.

    Args:
        within: ``(n,)`` bool, one entry per trial (of the switched cue) after a switch: is the
            measure within tolerance on that trial?
        run: how many consecutive trials within tolerance count as recovered.

    Returns:
        the index ``i`` of the first trial that starts ``run`` consecutive trials within
        tolerance (``0``: within tolerance from the first trial on), or ``None`` if that never
        happens in ``within``.
    """
    ok = np.asarray(within, dtype=bool).ravel()
    if isinstance(run, bool) or not isinstance(run, (int, np.integer)) or run < 1:
        raise ValueError(f"run must be an integer >= 1; got {run!r}")
    streak = 0
    for i, good in enumerate(ok):
        streak = streak + 1 if good else 0
        if streak == run:
            return i - run + 1
    return None


def _orthonormal_basis(rows: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (d, n) rows spanning a subspace; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    u, s, _ = np.linalg.svd(a.T, full_matrices=False)
    tol = s.max(initial=0.0) * max(a.shape) * np.finfo(np.float64).eps
    rank = int(np.count_nonzero(s > tol))
    if rank == 0:
        raise ValueError(f"{name} spans no subspace (all rows are zero)")
    return u[:, :rank]


def principal_angles_deg(a: Any, b: Any) -> np.ndarray:
    """Principal angles between the subspaces spanned by the rows of ``a`` and of ``b``.

    Args:
        a: ``(d_a, n)`` (or ``(n,)``) vectors spanning the first subspace.
        b: ``(d_b, n)`` (or ``(n,)``) vectors spanning the second.

    Returns:
        ``(min(rank a, rank b),)`` angles in degrees, ascending (the first is the smallest
        angle between any vector of one subspace and any vector of the other). Both bases are
        orthonormalised by SVD; the angles come from the singular values ``cos theta`` of
        ``Qa^T Qb`` and, for the accurate small angles, of the part of ``Qb`` outside ``a``.
    """
    qa = _orthonormal_basis(a, "a")
    qb = _orthonormal_basis(b, "b")
    if qa.shape[0] != qb.shape[0]:
        raise ValueError(
            f"a and b must live in the same space; got {qa.shape[0]} and {qb.shape[0]} dims"
        )
    if qa.shape[1] < qb.shape[1]:
        qa, qb = qb, qa
    cos = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0)
    residual = qb - qa @ (qa.T @ qb)
    sin = np.clip(np.linalg.svd(residual, compute_uv=False), 0.0, 1.0)
    k = qb.shape[1]
    sin = np.sort(sin)[:k]  # ascending sines pair with descending cosines
    angles = np.where(cos[:k] ** 2 < 0.5, np.arccos(cos[:k]), np.arcsin(sin))
    return np.sort(np.degrees(angles))


def random_subspace_angles_deg(
    n: int, d_a: int, d_b: int, *, n_draws: int = 200, seed: int | np.random.Generator = 0
) -> dict[str, float]:
    """Principal angles between random subspaces: the reference for "near-orthogonal".

    Draws ``d_a`` and ``d_b`` i.i.d. Gaussian vectors in ``n`` dimensions ``n_draws`` times.

    Returns:
        ``{"min_deg": mean smallest angle, "mean_deg": mean of the mean angle,
        "min_deg_p05": 5th percentile of the smallest angle}``.
    """
    for name, value in (("n", n), ("d_a", d_a), ("d_b", d_b), ("n_draws", n_draws)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    mins, means = [], []
    for _ in range(n_draws):
        ang = principal_angles_deg(rng.standard_normal((d_a, n)), rng.standard_normal((d_b, n)))
        mins.append(ang[0])
        means.append(ang.mean())
    return {
        "min_deg": float(np.mean(mins)),
        "mean_deg": float(np.mean(means)),
        "min_deg_p05": float(np.percentile(mins, 5)),
    }


# ----------------------------------------------------------------------------------------------
# Measures of a run: one trial, then the run's metrics from its per-trial measures


def measure_trial(
    outputs: np.ndarray, trial: Trial, timing: TrialTiming
) -> tuple[float, float, float, float]:
    """``(peak_time_ms, peak_height, magnitude_A, magnitude_B)`` of one trial's outputs.

    Args:
        outputs: ``(time, 3)`` the readout's "when", "what A" and "what B", one row per
            ``timing.dt_ms``.
        trial: the trial.
        timing: its layout.

    ``peak_time_ms`` is measured from cue onset and searched over the "when" window, from
    cue onset until the outcome is over (outcome time + ``gate_tail_sigmas`` bump widths): a
    peak after that would come after the event it predicts. The magnitudes are the means of
    the "what" outputs over the expectation window.
    """
    onset = int(round(timing.onset_ms / timing.dt_ms))
    end_ms = timing.onset_ms + trial.delay_ms + timing.gate_tail_sigmas * timing.bump_sigma_ms
    stop = int(math.floor(end_ms / timing.dt_ms)) + 1
    t_peak, height = peak(outputs[:, WHEN], dt_ms=timing.dt_ms, start=onset, stop=stop)
    window = expectation_window(trial.delay_ms, timing, outputs.shape[0])
    mag_a = float(outputs[window, WHAT[0]].mean())
    mag_b = float(outputs[window, WHAT[1]].mean())
    return t_peak - timing.onset_ms, height, mag_a, mag_b


def segments(schedule: Schedule) -> list[tuple[int, int]]:
    """Block ranges ``[start, stop)`` between switches."""
    bounds = sorted({0, schedule.n_blocks, *(s.block for s in schedule.switches)})
    return list(zip(bounds[:-1], bounds[1:], strict=False))


def _eval_mask(schedule: Schedule, eval_blocks: int, *, final_only: bool) -> np.ndarray:
    """``(trials,)`` bool: the trials of the last ``eval_blocks`` blocks of every stretch
    between switches (of the last stretch only with ``final_only``)."""
    block = schedule.arrays()["block"]
    mask = np.zeros(block.size, bool)
    segs = segments(schedule)
    if final_only:
        segs = segs[-1:]
    for start, stop in segs:
        mask |= (block >= max(start, stop - eval_blocks)) & (block < stop)
    return mask


@dataclass(frozen=True)
class _Selection:
    """What the measures of every method share: the schedule's columns and the trials each
    measure uses (``(trials,)`` arrays)."""

    cols: dict[str, np.ndarray]
    done: np.ndarray
    final_eval: np.ndarray
    all_eval: np.ndarray
    segment: np.ndarray


def _selection(schedule: Schedule, n_done: int, eval_blocks: int) -> _Selection:
    cols = schedule.arrays()
    done = np.arange(len(schedule)) < n_done
    seg_of_block = np.zeros(schedule.n_blocks, int)
    for s, (start, stop) in enumerate(segments(schedule)):
        seg_of_block[start:stop] = s
    return _Selection(
        cols=cols,
        done=done,
        final_eval=_eval_mask(schedule, eval_blocks, final_only=True) & done,
        all_eval=_eval_mask(schedule, eval_blocks, final_only=False) & done,
        segment=seg_of_block[cols["block"]],
    )


def compute_metrics(
    schedule: Schedule,
    per_trial: dict[str, dict[str, np.ndarray]],
    angles: dict[str, np.ndarray],
    n_done: int,
    config: Any,
) -> dict[str, Any]:
    """Timing, probability, recovery and subspace metrics from the per-trial measures.

    Args:
        schedule: the run's trials.
        per_trial: per method, ``(trials,)`` arrays of :func:`measure_trial`'s measures
            (``peak_time_ms``, ``peak_height``, ``magnitude_A``, ``magnitude_B``).
        angles: per method, ``(blocks,)`` the smallest what/when principal angle, degrees.
        n_done: trials done; only they count, and measures that need later trials are left
            out (``None``/NaN) until they are there.
        config: the run's :class:`~spikesub.whatwhen.config.WhatWhenConfig`.

    Returns:
        per method: ``timing`` (per cue), ``probability`` (fit of magnitude against p),
        ``recovery`` (per switch) and ``angles``.
    """
    sel = _selection(schedule, n_done, config.eval_blocks)
    out: dict[str, Any] = {}
    for m in METHODS:
        t = per_trial[m]
        res: dict[str, Any] = {"timing": _timing_rows(schedule, sel, t)}
        if res["timing"]:
            res["timing_max_abs_error_pct"] = max(r["abs_error_pct"] for r in res["timing"])
        res["probability"] = _probability_fit(schedule, sel, t)
        res["recovery"] = _recovery_rows(schedule, sel, t, config)
        res["angles"] = _angle_summary(angles[m])
        out[m] = res
    return out


def _timing_rows(schedule: Schedule, sel: _Selection, t: dict[str, np.ndarray]) -> list[dict]:
    """Peak time against the delay, per cue, on the final evaluation blocks."""
    cue, delay = sel.cols["cue"], sel.cols["delay_ms"]
    rows = []
    for c in range(schedule.n_cues):
        mask = sel.final_eval & (cue == c) & np.isfinite(t["peak_time_ms"])
        if not mask.any():
            continue
        err = t["peak_time_ms"][mask] - delay[mask]
        d = float(delay[mask][-1])
        rows.append(
            {
                "cue": c,
                "delay_ms": d,
                "n_trials": int(mask.sum()),
                "mean_peak_ms": float(t["peak_time_ms"][mask].mean()),
                "mean_abs_error_ms": float(np.abs(err).mean()),
                "mean_error_ms": float(err.mean()),
                "abs_error_pct": float(100.0 * np.abs(err).mean() / d),
                "abs_error_of_mean_pct": float(100.0 * abs(err.mean()) / d),
            }
        )
    return rows


def _probability_fit(
    schedule: Schedule, sel: _Selection, t: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Magnitude of "what" against p (A against p, B against 1 - p), per stretch and cue."""
    cue, prob = sel.cols["cue"], sel.cols["probability"]
    points_p, points_mag, trial_p, trial_mag = [], [], [], []
    levels = []
    for s in range(len(segments(schedule))):
        for c in range(schedule.n_cues):
            mask = sel.all_eval & (sel.segment == s) & (cue == c)
            if not mask.any():
                continue
            p = float(prob[mask][0])
            for name, level in (("magnitude_A", p), ("magnitude_B", 1.0 - p)):
                mags = t[name][mask]
                points_p.append(level)
                points_mag.append(float(mags.mean()))
                trial_p.extend([level] * mags.size)
                trial_mag.extend(mags.tolist())
            levels.append(
                {
                    "segment": s,
                    "cue": c,
                    "p": p,
                    "magnitude_A": float(t["magnitude_A"][mask].mean()),
                    "magnitude_B": float(t["magnitude_B"][mask].mean()),
                    "n_trials": int(mask.sum()),
                }
            )
    fit: dict[str, Any] = linear_fit(points_p, points_mag)
    fit["n_levels"] = int(len(set(np.round(points_p, 6))))
    fit["per_trial_correlation"] = linear_fit(trial_p, trial_mag)["correlation"]
    fit["levels"] = levels
    return fit


def _recovery_rows(
    schedule: Schedule, sel: _Selection, t: dict[str, np.ndarray], config: Any
) -> list[dict]:
    """Trials to recover after each switch, on the switched cue's trials of its stretch."""
    cue, block = sel.cols["cue"], sel.cols["block"]
    rows = []
    for sw, (start, stop) in zip(schedule.switches, segments(schedule)[1:], strict=False):
        mask = (cue == sw.cue) & (block >= start) & (block < stop)
        available = mask & sel.done
        complete = bool(mask.sum() == available.sum())
        if sw.kind == "delay":
            values = t["peak_time_ms"][available]
            within = np.abs(values - sw.value) <= config.timing_tolerance * sw.value
            tol = f"|peak - delay| <= {100 * config.timing_tolerance:g}% of {sw.value:g} ms"
        else:
            values = trailing_mean(t["magnitude_A"][available], config.recovery_run)
            within = np.abs(values - sw.value) <= config.probability_tolerance
            tol = (
                f"|mean magnitude of the last {config.recovery_run} trials - p| <= "
                f"{config.probability_tolerance:g}"
            )
        trials = trials_to_recover(within, config.recovery_run)
        rows.append(
            {
                **sw.to_dict(),
                "trials_to_recover": trials,
                "trials_observed": int(available.sum()),
                "trials_in_segment": int(mask.sum()),
                "complete": complete,
                "tolerance": tol,
                "never": trials is None and complete,
            }
        )
    return rows


def _angle_summary(a: np.ndarray) -> dict[str, Any]:
    """The what/when angle per block (``(blocks,)``, degrees, NaN before a block is done)."""
    finite = a[np.isfinite(a)]
    return {
        "per_block_deg": a.tolist(),
        "final_deg": float(finite[-1]) if finite.size else None,
        "min_over_learning_deg": float(finite.min()) if finite.size else None,
        "mean_over_learning_deg": float(finite.mean()) if finite.size else None,
    }


def targets_summary(methods: dict[str, Any], reference_angle: float) -> dict[str, Any]:
    """Which of the experiment's targets the three-factor readout met."""
    tf = methods["three_factor"]
    fo = methods["force"]
    timing = tf.get("timing_max_abs_error_pct")
    corr = tf["probability"]["correlation"]
    recovery = [
        {"kind": r_tf["kind"], "met": _recovered_faster(r_tf, r_fo)}
        for r_tf, r_fo in zip(tf["recovery"], fo["recovery"], strict=True)
    ]
    final_angle = tf["angles"]["final_deg"]
    return {
        "timing_error_within_5pct": None if timing is None else bool(timing <= 5.0),
        "magnitude_probability_correlation_ge_0.95": (
            None if not np.isfinite(corr) else bool(corr >= 0.95)
        ),
        "recovery_fifth_of_force": recovery,
        "min_angle_ge_70deg": None if final_angle is None else bool(final_angle >= 70.0),
        "random_reference_angle_deg": reference_angle,
    }


def _recovered_faster(r_tf: dict[str, Any], r_fo: dict[str, Any]) -> bool | None:
    """Did the three-factor readout recover in a fifth of FORCE's trials (None: not known
    yet)?"""
    if not r_tf["complete"]:
        return None
    if r_fo["trials_to_recover"] is None:
        return r_tf["trials_to_recover"] is not None
    if r_tf["trials_to_recover"] is None:
        return False
    return r_tf["trials_to_recover"] <= r_fo["trials_to_recover"] / 5.0
