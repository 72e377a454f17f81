"""Distal reward (Izhikevich 2007, Cerebral Cortex 17:2443, Fig. 1): dopamine-modulated STDP
singles out one synapse among 80 000 although its reward comes seconds late.

800 excitatory and 200 inhibitory Izhikevich neurons, 100 synapses each, 1 ms steps, noise
U(-6.5, 6.5) per neuron and ms (``ss.PlasticNetwork.izhikevich_2007``); the excitatory
synapses learn by R-STDP (``ss.RewardSTDP.izhikevich_2007``: eligibility tau 1 s, dopamine
tau 0.2 s, weights in [0, 4], all weights start at 1). One excitatory synapse n1 -> n2 is
chosen at random and set to 0. Whenever n2 fires within ``--window-ms`` after n1 (the
published code's 20 ms by default), a dopamine pulse of 0.5 is delivered 1-3 s later
(uniform). The network runs one second per call, the rewards being scheduled between calls
(every delay is longer than a call, so none is late).

Writes into the run folder: ``config.json``, ``metrics.json`` (the chosen weight at the end
against the other excitatory weights' mean and percentiles, the rewards, the rates),
``distal_reward.npz`` (per second: the chosen weight and eligibility, the others' mean and
percentiles; the dopamine level every 10 ms; the reward times; the final weights) and
``distal_reward.png`` (the chosen weight against the others over time, the dopamine trace,
the final weight distribution).

Usage::

    python experiments/distal_reward.py --out runs/distal-reward            # 60 min simulated
    python experiments/distal_reward.py --quick --out runs/distal-quick     # 20 s, seconds
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

import spikesub as ss
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script

CHUNK_MS = 1000.0
REWARD = 0.5
DELAY_MS = (1000.0, 3000.0)
DOPAMINE_EVERY = 10  # steps between saved dopamine samples
QUICK_MINUTES = 1.0 / 3.0


def choose_synapse(net: ss.PlasticNetwork, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random excitatory synapse: ``(pre, post, CSR slot)``."""
    slot = int(rng.choice(np.flatnonzero(net.plastic)))
    weights = net.sparse_weights()
    pre = int(np.searchsorted(weights.indptr, slot, side="right") - 1)
    return pre, int(weights.indices[slot]), slot


def coincidences(
    times_pre: np.ndarray, times_post: np.ndarray, last_pre: float, window_ms: float
) -> tuple[list[float], float]:
    """Spikes of n2 within ``window_ms`` after the latest spike of n1 (strictly after it).

    Returns the times of those n2 spikes and the latest n1 spike time so far."""
    hits = []
    pre_all = np.concatenate([[last_pre], times_pre])
    for t in times_post:
        before = pre_all[pre_all < t]
        if before.size and t - before[-1] < window_ms:
            hits.append(float(t))
    return hits, float(pre_all[-1])


def simulate(args: argparse.Namespace) -> dict[str, np.ndarray | list | float]:
    """Run the experiment; returns the recorded arrays and counts."""
    net = ss.PlasticNetwork.izhikevich_2007(seed=args.seed, backend=args.backend)
    rng = np.random.default_rng(args.seed + 1)
    n1, n2, slot = choose_synapse(net, rng)
    start = net.weights_array()
    start[slot] = 0.0
    net.reset(net.sparse_weights().with_weights(start))
    others = net.plastic.copy()
    others[slot] = False
    n_chunks = int(round(args.minutes * 60_000.0 / CHUNK_MS))
    steps = int(CHUNK_MS)
    pending: list[int] = []  # reward steps not delivered yet
    rec: dict[str, list] = {k: [] for k in ("w", "c", "mean", "p50", "p99", "max", "rate")}
    dopamine, reward_steps, coincidence_ms = [], [], []
    last_pre = -math.inf
    show = not args.quiet and sys.stderr.isatty()
    for _ in tqdm(range(n_chunks), disable=not show, unit="s", desc="distal reward"):
        step0 = net.step
        reward = np.zeros(steps)
        for s in [s for s in pending if s < step0 + steps]:
            reward[s - step0] += REWARD
            reward_steps.append(s)
        pending = [s for s in pending if s >= step0 + steps]
        out = net.run(CHUNK_MS, reward=reward)
        spikes = out.spikes
        hits, last_pre = coincidences(
            spikes.times_ms[spikes.indices == n1], spikes.times_ms[spikes.indices == n2],
            last_pre, args.window_ms,
        )  # fmt: skip
        for t in hits:
            coincidence_ms.append(t)
            pending.append(int(round(t)) + int(rng.integers(*DELAY_MS, endpoint=True)))
        w = out.weights
        rest = w[others]
        rec["w"].append(w[slot])
        rec["c"].append(net.eligibility[slot])
        rec["mean"].append(rest.mean())
        rec["p50"].append(np.percentile(rest, 50))
        rec["p99"].append(np.percentile(rest, 99))
        rec["max"].append(rest.max())
        rec["rate"].append(len(spikes) / net.n / (CHUNK_MS / 1000.0))
        dopamine.append(out.dopamine[::DOPAMINE_EVERY])
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in rec.items()}
    arrays["time_s"] = (np.arange(n_chunks) + 1) * CHUNK_MS / 1000.0
    arrays["dopamine"] = np.concatenate(dopamine) if dopamine else np.zeros(0)
    arrays["reward_ms"] = np.asarray(reward_steps, dtype=np.float64)
    arrays["coincidence_ms"] = np.asarray(coincidence_ms, dtype=np.float64)
    arrays["final_weights"] = net.weights_array()[net.plastic]
    return {"arrays": arrays, "pre": n1, "post": n2, "slot": slot, "others": others, "net": net}


def metrics(result: dict, args: argparse.Namespace, wall_s: float) -> dict:
    a = result["arrays"]
    rest = result["net"].weights_array()[result["others"]]
    chosen = float(a["w"][-1]) if a["w"].size else float("nan")
    return {
        "simulated_minutes": args.minutes,
        "chosen_synapse": {"pre": result["pre"], "post": result["post"], "slot": result["slot"]},
        "chosen_weight_final": chosen,
        "others_mean_final": float(rest.mean()),
        "others_median_final": float(np.median(rest)),
        "others_p99_final": float(np.percentile(rest, 99)),
        "others_max_final": float(rest.max()),
        "others_at_or_above_chosen": int(np.count_nonzero(rest >= chosen)),
        "n_others": int(rest.size),
        "n_rewards": int(a["reward_ms"].size),
        "n_coincidences": int(a["coincidence_ms"].size),
        "mean_rate_hz": float(a["rate"].mean()) if a["rate"].size else 0.0,
        "wall_s": wall_s,
    }


def figure(a: dict[str, np.ndarray], m: dict, path) -> None:
    fig = Figure(figsize=(10, 7))
    grid = fig.add_gridspec(2, 2, height_ratios=(1.3, 1.0))
    ax = fig.add_subplot(grid[0, :])
    minutes = a["time_s"] / 60.0
    ax.plot(minutes, a["w"], color="crimson", label="chosen synapse")
    ax.plot(minutes, a["mean"], color="black", label="others: mean")
    ax.plot(minutes, a["p99"], color="grey", linestyle="--", label="others: 99th percentile")
    ax.plot(minutes, a["max"], color="grey", linestyle=":", label="others: max")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("synaptic weight")
    ax.set_title("distal reward: the rewarded synapse against the other 80 000 excitatory ones")
    ax.legend(loc="center right", fontsize=8)
    ax = fig.add_subplot(grid[1, 0])
    t_s = np.arange(a["dopamine"].size) * DOPAMINE_EVERY / 1000.0
    ax.plot(t_s / 60.0, a["dopamine"], color="tab:blue", linewidth=0.5)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("dopamine (phasic)")
    ax.set_title(f"{m['n_rewards']} rewards")
    ax = fig.add_subplot(grid[1, 1])
    ax.hist(a["final_weights"], bins=80, color="grey", log=True)
    ax.axvline(m["chosen_weight_final"], color="crimson", label="chosen synapse")
    ax.set_xlabel("weight at the end")
    ax.set_ylabel("synapses")
    ax.legend(fontsize=8)
    fig.tight_layout()
    ss.runs.save_figure(fig, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes (60)")
    parser.add_argument("--window-ms", type=float, default=20.0, help="n1 -> n2 window (20)")
    parser.add_argument("--seed", type=int, default=1, help="network, noise and reward seed")
    parser.add_argument("--backend", default="numba", help="numpy, numba, cuda or auto")
    parser.add_argument("--quick", action="store_true", help="20 simulated seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--out", default=None, help="run folder (default runs/distal-reward-*)")
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    apply_job_arguments(args)
    if args.quick:
        args.minutes = QUICK_MINUTES
    if not (args.minutes > 0 and math.isfinite(args.minutes)):
        parser.error(f"--minutes must be > 0; got {args.minutes}")
    if not args.window_ms > 0:
        parser.error(f"--window-ms must be > 0; got {args.window_ms}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0; got {args.seed}")
    out = ss.runs.make_run_dir(args.out, prefix="distal-reward")
    config = {k: getattr(args, k) for k in ("minutes", "window_ms", "seed", "backend", "quick")}
    config.update(reward=REWARD, reward_delay_ms=list(DELAY_MS), chunk_ms=CHUNK_MS)
    ss.runs.write_json(out / "config.json", config)
    started = time.perf_counter()
    result = simulate(args)
    m = metrics(result, args, time.perf_counter() - started)
    ss.runs.write_json(out / "metrics.json", m)
    ss.runs.write_npz(out / "distal_reward.npz", **result["arrays"])
    figure(result["arrays"], m, out / "distal_reward.png")
    print(
        f"{args.minutes:g} simulated min in {m['wall_s']:.0f} s: chosen weight "
        f"{m['chosen_weight_final']:.3f}; others mean {m['others_mean_final']:.3f}, "
        f"99th percentile {m['others_p99_final']:.3f}, max {m['others_max_final']:.3f} "
        f"({m['others_at_or_above_chosen']} of {m['n_others']} at or above it); "
        f"{m['n_rewards']} rewards; mean rate {m['mean_rate_hz']:.2f} Hz"
    )
    print(f"run folder: {out}")


if __name__ == "__main__":
    run_script(main, "distal_reward.py")
