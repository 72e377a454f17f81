"""Running the cross-check: the Izhikevich (2003) network in spikesub and in Brian2, same input.

800 excitatory + 200 inhibitory neurons, Izhikevich's parameters and weights (all to all),
dt = 0.1 ms, ``duration_ms`` (1 s); both simulators get the same thalamic input current
(5 N(0,1) excitatory, 2 N(0,1) inhibitory, drawn once per ms) as a (steps, neurons) array. For
each state precision of spikesub (float64, float32), the per-neuron spike counts and the
spike trains are compared with Brian2's (float64, Cython). The run folder gets
``config.json``, ``metrics.json`` (a row per seed and precision) and ``counts.npz`` (the
counts per neuron); :func:`spikesub.bench.crosscheck_brian2.figures.plot` draws
``counts.png`` from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import spikesub as ss
from spikesub.bench.crosscheck_brian2.config import CrosscheckBrian2Config
from spikesub.runs import prepare_run_dir, run_config_document, write_json, write_npz

__all__ = ["ARRAYS_NAME", "JOB", "compare", "first_difference_ms", "run", "thalamic_current"]

JOB = CrosscheckBrian2Config.job
ARRAYS_NAME = "counts.npz"
N_EXC, N_INH = 800, 200
DT_MS = 0.1


def thalamic_current(seed: int, duration_ms: float = 1000.0) -> np.ndarray:
    """``(steps, 1000)`` float64 input, one N(0,1) draw per neuron and ms, held for the ms."""
    rng = np.random.default_rng(seed)
    per_ms = np.concatenate(
        [
            5.0 * rng.standard_normal((int(duration_ms), N_EXC)),
            2.0 * rng.standard_normal((int(duration_ms), N_INH)),
        ],
        axis=1,
    )
    return np.repeat(per_ms, int(round(1.0 / DT_MS)), axis=0)


def first_difference_ms(a: ss.SpikeTrains, b: ss.SpikeTrains) -> float | None:
    """Time of the first spike that is not in both trains (None when they are identical)."""
    n = min(len(a), len(b))
    same = (np.rint(a.times_ms[:n] / DT_MS) == np.rint(b.times_ms[:n] / DT_MS)) & (
        a.indices[:n] == b.indices[:n]
    )
    if not same.all():
        first = int(np.argmin(same))
        return float(min(a.times_ms[first], b.times_ms[first]))
    if len(a) != len(b):
        return float((a if len(a) > n else b).times_ms[n])
    return None


def compare(ours: ss.SpikeTrains, ref: ss.SpikeTrains) -> dict[str, float | None]:
    """Spike totals, per-neuron count agreement and the first differing spike."""
    c_ours, c_ref = ours.counts(), ref.counts()
    return {
        "spikes": int(c_ours.sum()),
        "spikes_brian2": int(c_ref.sum()),
        "total_diff_pct": 100.0 * (c_ours.sum() - c_ref.sum()) / c_ref.sum(),
        "count_correlation": float(np.corrcoef(c_ours, c_ref)[0, 1]),
        "mean_abs_count_diff": float(np.abs(c_ours - c_ref).mean()),
        "max_abs_count_diff": int(np.abs(c_ours - c_ref).max()),
        "first_difference_ms": first_difference_ms(ours, ref),
    }


def row_line(row: dict) -> str:
    """One line of the comparison of a seed and precision."""
    first = row["first_difference_ms"]
    return (
        f"seed {row['seed']} {row['dtype']}: spikes {row['spikes']} vs Brian2 "
        f"{row['spikes_brian2']} ({row['total_diff_pct']:+.2f} %), per-neuron count correlation "
        f"{row['count_correlation']:.3f}, mean |diff| {row['mean_abs_count_diff']:.2f}, "
        "spike trains " + ("identical" if first is None else f"identical up to {first:.1f} ms")
    )


def run(
    config: CrosscheckBrian2Config,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
    quiet: bool = False,
) -> Path:
    """Run both simulators on every seed and write the run folder (see the module's
    docstring); prints a line per seed and precision to stdout unless ``quiet``.

    Args:
        config: what to run.
        out: the run folder (default ``runs/crosscheck-brian2-<time>``).
        progress: unused.
        quiet: print nothing.

    Returns:
        the run folder.
    """
    from spikesub.brian2_reference import brian2_available, run_brian2

    if not brian2_available():
        raise ValueError("Brian2 is not installed (pip install 'spikesub[reference]')")
    out = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="crosscheck-brian2")
    document = run_config_document(JOB, config.to_dict(), n_exc=N_EXC, n_inh=N_INH, dt_ms=DT_MS)
    write_json(out / "config.json", document)
    rows, arrays = [], {}
    for seed in config.seeds:
        current = thalamic_current(seed, config.duration_ms)
        reference = None
        for dtype in ("float64", "float32"):
            reservoir = ss.IzhikevichReservoir.izhikevich_2003(
                N_EXC, N_INH, p=1.0, dt_ms=DT_MS, noise_std_exc=0.0, noise_std_inh=0.0,
                dtype=np.dtype(dtype), backend="numba", seed=seed,
            )  # fmt: skip
            if reference is None:
                reference = run_brian2(reservoir, config.duration_ms, current=current).spikes
                arrays[f"brian2_seed{seed}"] = reference.counts()
            ours = reservoir.run(config.duration_ms, current=current, progress=False).spikes
            arrays[f"spikesub_{dtype}_seed{seed}"] = ours.counts()
            row = {"seed": seed, "dtype": dtype, **compare(ours, reference)}
            rows.append(row)
            if not quiet:
                print(row_line(row), file=sys.stdout, flush=True)
    write_json(out / "metrics.json", {"rows": rows})
    write_npz(out / ARRAYS_NAME, **arrays)
    return out
