"""Cross-check: the Izhikevich (2003) network in spikesub and in Brian2, same input.

800 excitatory + 200 inhibitory neurons, Izhikevich's parameters and weights (all to all),
dt = 0.1 ms, 1 s; both simulators get the same thalamic input current (5 N(0,1) excitatory,
2 N(0,1) inhibitory, drawn once per ms) as a (steps, neurons) array. For each state precision
of spikesub (float64, float32), prints how the per-neuron spike counts and the spike trains
compare with Brian2's (float64, Cython), and writes ``metrics.json``, ``counts.npz`` and
``counts.png`` (spikesub against Brian2, one dot per neuron) into ``--out``.

Usage::

    python experiments/crosscheck_brian2.py --seeds 1,2,3 --out runs/crosscheck-brian2
"""

from __future__ import annotations

import argparse

import numpy as np
from matplotlib.figure import Figure

import spikesub as ss
from spikesub.brian2_reference import run_brian2
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script

N_EXC, N_INH = 800, 200
DT_MS = 0.1
DURATION_MS = 1000.0


def thalamic_current(seed: int) -> np.ndarray:
    """``(steps, 1000)`` float64 input, one N(0,1) draw per neuron and ms, held for the ms."""
    rng = np.random.default_rng(seed)
    per_ms = np.concatenate(
        [
            5.0 * rng.standard_normal((int(DURATION_MS), N_EXC)),
            2.0 * rng.standard_normal((int(DURATION_MS), N_INH)),
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="network/input seeds (default 1,2,3)")
    parser.add_argument("--out", default="runs/crosscheck-brian2", help="run folder")
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    apply_job_arguments(args)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers; got {args.seeds!r}")
    out = ss.runs.make_run_dir(args.out)
    ss.runs.write_json(
        out / "config.json",
        {"n_exc": N_EXC, "n_inh": N_INH, "dt_ms": DT_MS, "duration_ms": DURATION_MS,
         "seeds": seeds},
    )  # fmt: skip
    rows, arrays = [], {}
    for seed in seeds:
        current = thalamic_current(seed)
        reference = None
        for dtype in ("float64", "float32"):
            reservoir = ss.IzhikevichReservoir.izhikevich_2003(
                N_EXC, N_INH, p=1.0, dt_ms=DT_MS, noise_std_exc=0.0, noise_std_inh=0.0,
                dtype=np.dtype(dtype), backend="numba", seed=seed,
            )  # fmt: skip
            if reference is None:
                reference = run_brian2(reservoir, DURATION_MS, current=current).spikes
                arrays[f"brian2_seed{seed}"] = reference.counts()
            ours = reservoir.run(DURATION_MS, current=current).spikes
            arrays[f"spikesub_{dtype}_seed{seed}"] = ours.counts()
            row = {"seed": seed, "dtype": dtype, **compare(ours, reference)}
            rows.append(row)
            first = row["first_difference_ms"]
            print(
                f"seed {seed} {dtype}: spikes {row['spikes']} vs Brian2 {row['spikes_brian2']} "
                f"({row['total_diff_pct']:+.2f} %), per-neuron count correlation "
                f"{row['count_correlation']:.3f}, mean |diff| {row['mean_abs_count_diff']:.2f}, "
                "spike trains "
                + ("identical" if first is None else f"identical up to {first:.1f} ms")
            )
    ss.runs.write_json(out / "metrics.json", {"rows": rows})
    ss.runs.write_npz(out / "counts.npz", **arrays)
    figure = Figure(figsize=(8, 4))
    for ax, dtype in zip(figure.subplots(1, 2), ("float64", "float32"), strict=True):
        for seed in seeds:
            ax.scatter(
                arrays[f"brian2_seed{seed}"], arrays[f"spikesub_{dtype}_seed{seed}"], s=4,
                alpha=0.5, label=f"seed {seed}",
            )  # fmt: skip
        top = max(int(a.max()) for a in arrays.values()) + 1
        ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
        ax.set_xlabel("Brian2 spikes per neuron (1 s)")
        ax.set_ylabel(f"spikesub ({dtype}) spikes per neuron")
        ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    ss.runs.save_figure(figure, out / "counts.png")
    print(f"run folder: {out}")


if __name__ == "__main__":
    run_script(main, "crosscheck_brian2.py")
