"""Inhibitory homeostasis against a global E/I gain: memory capacity and NARMA-10 across the gain.

The claim tested (Srinivasan, Plenz & Girvan 2025, "Boosting reservoir computing with
brain-inspired adaptive dynamics"): a reservoir whose neurons each tune their inhibitory input
towards a target firing rate keeps its performance near that of the best globally tuned
reservoir over a wide range of E/I gains, while the reservoir without adaptation degrades away
from its optimum; heterogeneous target rates help further.

The reservoir (:data:`NETWORK`): ``n_neurons`` leaky integrate-and-fire neurons (80 %
excitatory, ``tau = 20`` ms, threshold 1, reset 0, 2 ms refractory, a bias current ``bias +-
bias_spread`` below threshold), Dale's-law weights with connection probability 0.1, scaled to a
spectral radius at E/I balance 1, then the inhibitory weights scaled so that the mean
inhibitory over excitatory input is the E/I gain ``g`` (:meth:`SparseWeights.with_ei_balance`);
exponential synapses. One input channel through a dense random encoder, each sample held for
``sample_ms``; the readout reads spike traces of three time constants. Three conditions per
gain:

* ``fixed``: no adaptation (the globally tuned reservoir at gain ``g``);
* ``adapted``: :class:`~spikesub.InhibitoryHomeostasis`, one target rate for all neurons;
* ``heterogeneous``: the same with log-normal targets of that mean (CV 1).

Each adapted reservoir first adapts for ``adapt_ms`` on an input of the task's kind; its gains
are then frozen (``learning_rate=0``) for the task, so that the readout reads a fixed
reservoir. Tasks: memory capacity (i.i.d. uniform input, delays 1 ..
``max_delay``) and NARMA-10 (predict ``y(t + 1)``), each series split into washout, training,
validation and test parts; the ridge penalty of each readout is chosen on the validation part
and the test part is reported, for each seed. Gains and seeds are those given: the claim is read
on every gain, nothing is chosen across gains.

    python experiments/rc_homeostasis.py --out runs/rc-homeostasis
    python experiments/rc_homeostasis.py --quick --out runs/rc-homeostasis-quick  # seconds
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import spikesub as ss
from spikesub.rc.model import SpikingReservoirModel, random_encoder
from spikesub.rc.readout import RidgePath, delayed_inputs, squared_correlations
from spikesub.rc.tasks import memory_capacity_input, narma, nrmse
from spikesub.runs import read_json, write_json
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script

CONDITIONS = ("fixed", "adapted", "heterogeneous")
RIDGES = tuple(10.0**k for k in range(-6, 4))
FULL: dict[str, Any] = {
    "n_neurons": 500,
    "gains": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
    "seeds": (1, 2),
    "washout": 200,
    "n_train": 1500,
    "n_valid": 500,
    "n_test": 500,
    "max_delay": 60,
    "adapt_ms": 4000.0,
}
QUICK: dict[str, Any] = {
    "n_neurons": 150,
    "gains": (0.25, 4.0),
    "seeds": (0,),
    "washout": 50,
    "n_train": 300,
    "n_valid": 100,
    "n_test": 100,
    "max_delay": 20,
    "adapt_ms": 1000.0,
}
NETWORK: dict[str, Any] = {
    "neuron": "lif",  # or "izhikevich" (the 2003 population and weights)
    "dt_ms": 0.25,
    "spectral_radius": 6.0,  # of the recurrent weights at E/I balance 1
    "tau_syn_ms": 5.0,
    "bias": 0.8,  # below the threshold of 1: the input and the network drive the spikes
    "bias_spread": 0.2,
    "input_scaling": 1.0,
    "sample_ms": 10.0,
    "target_rate_hz": 10.0,
    "homeostasis_tau_ms": 500.0,
    "learning_rate": 1.0,
    "homeostasis_neurons": "all",
}
"""The reservoir and homeostasis settings, chosen by hand on seed 0 of the quick series
(a few spectral radii, biases and adaptation variants); the full run reports seeds 1 and 2."""


def build_model(n: int, gain: float, condition: str, seed: int) -> SpikingReservoirModel:
    """The reservoir of ``condition`` at E/I gain ``gain`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=5)]
    n_exc = int(round(0.8 * n))
    if NETWORK["neuron"] == "izhikevich":
        population = ss.IzhikevichPopulation.izhikevich_2003(n_exc, n - n_exc, seed=seeds[0])
        excitatory = population.excitatory
        weights = ss.izhikevich_2003_weights(population, p=0.1, seed=seeds[1])
    else:
        excitatory = np.arange(n) < n_exc
        population = ss.LIFPopulation(
            n, tau_ms=20.0, v_rest=0.0, v_th=1.0, v_reset=0.0, refractory_ms=2.0,
            excitatory=excitatory,
        )  # fmt: skip
        conn = ss.random_connectivity(n, n, p=0.1, seed=seeds[0])
        weights = ss.dale_weights(conn, excitatory, w_exc=1.0, w_inh=1.0, seed=seeds[1])
    weights = weights.with_ei_balance(excitatory, 1.0)
    weights = weights.scaled_to_spectral_radius(NETWORK["spectral_radius"])
    weights = weights.with_ei_balance(excitatory, gain)
    homeostasis = None
    if condition != "fixed":
        target = NETWORK["target_rate_hz"]
        if condition == "heterogeneous":
            target = ss.lognormal_targets(n, target, cv=1.0, seed=seeds[2])
        homeostasis = ss.InhibitoryHomeostasis(
            target_rate_hz=target,
            tau_ms=NETWORK["homeostasis_tau_ms"],
            learning_rate=NETWORK["learning_rate"],
            gain_max=1000.0,
            neurons=NETWORK["homeostasis_neurons"],
        )
    bias = NETWORK["bias"] + NETWORK["bias_spread"] * rng.uniform(-1.0, 1.0, n)
    reservoir = ss.SpikingReservoir.for_population(
        population, weights, synapse="exponential", tau_syn_ms=NETWORK["tau_syn_ms"],
        bias_current=bias, dt_ms=NETWORK["dt_ms"], backend="numba", seed=seeds[3],
        homeostasis=homeostasis,
    )  # fmt: skip
    sample_ms = NETWORK["sample_ms"]
    encoder = random_encoder(n, 1, scaling=NETWORK["input_scaling"], seed=seeds[4])
    taus = (sample_ms / 2, 2 * sample_ms, 8 * sample_ms)
    return SpikingReservoirModel(reservoir, encoder, sample_ms=sample_ms, tau_ms=taus)


def _splits(settings: dict[str, Any]) -> dict[str, slice]:
    w, t, v = settings["washout"], settings["n_train"], settings["n_valid"]
    return {
        "train": slice(w, w + t),
        "valid": slice(w + t, w + t + v),
        "test": slice(w + t + v, w + t + v + settings["n_test"]),
    }


def _series_length(settings: dict[str, Any]) -> int:
    return sum(settings[k] for k in ("washout", "n_train", "n_valid", "n_test"))


def run_condition(
    settings: dict[str, Any], gain: float, condition: str, seed: int
) -> dict[str, Any]:
    """Memory capacity and NARMA-10 of one reservoir: test scores (ridge chosen on validation),
    the capacity per delay, and the firing rate and mean inhibitory gain during the tasks."""
    n_total = _series_length(settings)
    splits = _splits(settings)
    out: dict[str, Any] = {}
    rng = np.random.default_rng(1000 + seed)
    for task in ("mc", "narma10"):
        model = build_model(settings["n_neurons"], gain, condition, seed)
        reservoir = model.reservoir
        warm = rng.uniform(-1.0, 1.0, int(settings["adapt_ms"] / model.sample_ms))
        if condition != "fixed":
            model.run(warm)
            # the readout needs a reservoir that stays the same: the gains are frozen
            reservoir.set_homeostasis(replace(reservoir.homeostasis, learning_rate=0.0))
        if task == "mc":
            u = memory_capacity_input(n_total, seed=2000 + seed)
            signal = u
        else:
            u, y = narma(n_total + 1, seed=2000 + seed)
            signal = 4.0 * u[:n_total] - 1.0  # NARMA's input on [0, 0.5], centred to [-1, 1]
        states = model.run(signal)
        out[f"{task}_gain_mean"] = float(reservoir.inhibitory_gain.mean())
        out[f"{task}_rate_hz"] = _mean_rate(model, states)
        if task == "mc":
            out.update(_memory_capacity(states, u, splits, settings["max_delay"]))
        else:
            out.update(_narma_scores(states, y[1 : n_total + 1], splits))
    return out


def _mean_rate(model: SpikingReservoirModel, states: np.ndarray) -> float:
    """Mean firing rate during the task, Hz, from the slowest trace (each spike adds 1 and
    decays with ``tau``: its mean is the rate in spikes per ms times ``tau``)."""
    n = model.reservoir.n_neurons
    slow = states[:, -n:]
    return float(slow.mean() / model.tau_ms[-1] * 1000.0)


def _choose(path: RidgePath, x_valid: np.ndarray, score) -> float:
    """The penalty of :data:`RIDGES` with the best validation score (higher is better)."""
    return max(RIDGES, key=lambda ridge: score(path.predict(x_valid, ridge)))


def _memory_capacity(states, u, splits, max_delay) -> dict[str, Any]:
    rows = {name: np.arange(s.start, s.stop) for name, s in splits.items()}
    targets = {name: delayed_inputs(u, r, max_delay) for name, r in rows.items()}
    path = RidgePath(states[splits["train"]], targets["train"])

    def capacity(prediction, name="valid"):
        return float(squared_correlations(prediction, targets[name]).sum())

    ridge = _choose(path, states[splits["valid"]], capacity)
    per_delay = squared_correlations(path.predict(states[splits["test"]], ridge), targets["test"])
    return {"mc": float(per_delay.sum()), "mc_per_delay": per_delay.tolist(), "mc_ridge": ridge}


def _narma_scores(states, y_next, splits) -> dict[str, Any]:
    path = RidgePath(states[splits["train"]], y_next[splits["train"]])
    ridge = _choose(path, states[splits["valid"]], lambda p: -nrmse(y_next[splits["valid"]], p))
    prediction = path.predict(states[splits["test"]], ridge)
    return {"narma10_nrmse": nrmse(y_next[splits["test"]], prediction), "narma10_ridge": ridge}


def summarise(results: list[dict[str, Any]], gains) -> dict[str, Any]:
    """Per condition and gain, the mean and standard deviation over seeds; and the claim's
    numbers: for each condition, its worst and mean score over the gains relative to the best
    fixed reservoir's."""
    table: dict[str, dict[str, Any]] = {}
    for condition in CONDITIONS:
        rows = [r for r in results if r["condition"] == condition]
        table[condition] = {}
        for metric in ("mc", "narma10_nrmse", "mc_rate_hz", "mc_gain_mean"):
            per_gain = [[r[metric] for r in rows if r["gain"] == g] for g in gains]
            table[condition][metric] = [float(np.mean(v)) for v in per_gain]
            table[condition][f"{metric}_std"] = [float(np.std(v)) for v in per_gain]
    best_mc = max(table["fixed"]["mc"])
    best_nrmse = min(table["fixed"]["narma10_nrmse"])
    claim = {
        condition: {
            "worst_mc_over_best_fixed": min(table[condition]["mc"]) / best_mc,
            "mean_mc_over_best_fixed": float(np.mean(table[condition]["mc"])) / best_mc,
            "worst_nrmse_over_best_fixed": max(table[condition]["narma10_nrmse"]) / best_nrmse,
            "mean_nrmse_over_best_fixed": float(np.mean(table[condition]["narma10_nrmse"]))
            / best_nrmse,
        }
        for condition in CONDITIONS
    }
    return {"gains": list(gains), "by_condition": table, "claim": claim}


def plot(summary: dict[str, Any], path: Path) -> Path:
    """MC, NARMA-10 NRMSE and the firing rate against the E/I gain, one line per condition
    (mean over seeds, bars: standard deviation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikesub.runs import save_figure

    gains = summary["gains"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = (
        ("mc", "memory capacity (test)"),
        ("narma10_nrmse", "NARMA-10 NRMSE (test)"),
        ("mc_rate_hz", "mean rate during MC (Hz)"),
    )
    for ax, letter, (metric, label) in zip(axes, "abc", panels, strict=True):
        for condition in CONDITIONS:
            row = summary["by_condition"][condition]
            ax.errorbar(gains, row[metric], yerr=row[f"{metric}_std"], marker="o", capsize=3,
                        label=condition)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xticks(gains)
        ax.set_xticklabels([f"{g:g}" for g in gains])
        ax.minorticks_off()
        ax.set_xlabel("E/I gain (mean inhibitory / excitatory input)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.set_title(f"({letter})", loc="left")
    axes[0].legend(loc="lower right")
    fig.suptitle("Inhibitory homeostasis against a global E/I gain (LIF reservoir)")
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--quick", action="store_true", help="small and short (seconds)")
    parser.add_argument(
        "--plot-only", action="store_true", help="redraw the figure of the run folder OUT"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    apply_job_arguments(args)
    if args.plot_only:
        runs = read_json(args.out / "metrics.json")["runs"]
        gains = read_json(args.out / "config.json")["settings"]["gains"]
        summary = summarise(runs, gains)
        write_json(args.out / "metrics.json", {"summary": summary, "runs": runs})
        print(plot(summary, args.out / "homeostasis_sweep.png"))
        return 0
    settings = dict(QUICK if args.quick else FULL)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "config.json", {"settings": settings, "network": NETWORK,
                                          "conditions": CONDITIONS, "ridges": RIDGES})  # fmt: skip
    jobs = [
        (gain, condition, seed)
        for seed in settings["seeds"]
        for gain in settings["gains"]
        for condition in CONDITIONS
    ]
    results = []
    for gain, condition, seed in tqdm(jobs, disable=args.quiet, desc="reservoirs", unit="run"):
        scores = run_condition(settings, gain, condition, seed)
        results.append({"gain": gain, "condition": condition, "seed": seed, **scores})
    summary = summarise(results, settings["gains"])
    write_json(args.out / "metrics.json", {"summary": summary, "runs": results})
    plot(summary, args.out / "homeostasis_sweep.png")
    print(f"E/I gains: {', '.join(f'{g:g}' for g in settings['gains'])}")
    for condition in CONDITIONS:
        row = summary["by_condition"][condition]
        claim = summary["claim"][condition]
        print(
            f"{condition:>13}: MC "
            + " ".join(f"{x:5.2f}" for x in row["mc"])
            + " | NARMA-10 NRMSE "
            + " ".join(f"{x:5.3f}" for x in row["narma10_nrmse"])
            + f" | worst MC / best fixed {claim['worst_mc_over_best_fixed']:.2f}"
        )
    return 0


if __name__ == "__main__":
    run_script(main, "rc_homeostasis.py")
