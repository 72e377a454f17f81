"""Measures of a prediction: peak timing, magnitude against probability, recovery after a
switch, and principal angles between readout weight subspaces."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


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
