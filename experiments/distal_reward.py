"""Distal reward (Izhikevich 2007, Cerebral Cortex 17:2443, Fig. 1): dopamine-modulated STDP
singles out one synapse among 80 000 although its reward comes seconds late.

800 excitatory and 200 inhibitory Izhikevich neurons, 100 synapses each, 1 ms steps, noise
U(-6.5, 6.5) per neuron and ms (``ss.PlasticNetwork.izhikevich_2007``); the excitatory
synapses learn by R-STDP as the published code (daspnet.m) steps it
(``ss.RewardSTDP.izhikevich_2007``: eligibility tau 1 s, dopamine tau 0.2 s, tonic dopamine
0.002, weights in [0, 4], all excitatory weights start at 1, a pre and a post spike in the
same step count as post-before-pre). One excitatory synapse n1 -> n2 is chosen at random
and set to 0. Whenever n2 fires within ``--window-ms`` after n1 (the published code's 20 ms
by default), a dopamine pulse of 0.5 is delivered 1-3 s later (uniform). The network runs
one second per call, the rewards being scheduled between calls (every delay is longer than
a call, so none is late).

The control (``--control``, run by default after the rewarded run): the same network, chosen
synapse and noise, with as many rewards as the rewarded run got but at uniformly random
times, tied to nothing the synapse does (``random``; the published code has no control
run), or with no reward at all (``none``); ``off`` skips it. Both runs are identical up to the first
reward.

Writes into the run folder: ``config.json``, ``metrics.json`` (for the rewarded run and,
under ``"control"``, the control: the chosen weight at the end, its rank among all 80 000
excitatory synapses, the other excitatory weights' mean and percentiles, the rewards, the
rates), ``distal_reward.npz`` (per second: the chosen weight and eligibility, the others'
mean and percentiles; the dopamine level every 10 ms; the reward times; the final weights;
the control's under the same names prefixed ``control_``) and ``distal_reward.png`` (the
chosen weight against the others over time, rewarded and control, the dopamine traces, the
final weight distributions).

Usage::

    python experiments/distal_reward.py --out runs/distal-reward            # 2 x 60 min
    python experiments/distal_reward.py --quick --out runs/distal-quick     # 2 x 20 s
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
RULE_W_MAX = ss.RewardSTDP.izhikevich_2007().stdp.w_max
CONTROLS = ("random", "none", "off")


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


def simulate(
    args: argparse.Namespace, control_rewards: np.ndarray | None = None
) -> dict[str, np.ndarray | list | float]:
    """Run the experiment; returns the recorded arrays and counts.

    ``control_rewards`` None: the rewarded run (a reward 1-3 s after each n1 -> n2 pairing).
    Otherwise the control: the same network, chosen synapse and noise, the rewards at the
    given steps whatever the synapse does (an empty array: no reward at all)."""
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
    rewarded = control_rewards is None
    # reward steps not delivered yet
    pending: list[int] = [] if rewarded else [int(s) for s in control_rewards]
    rec: dict[str, list] = {k: [] for k in ("w", "c", "mean", "p50", "p99", "p999", "max", "rate")}
    dopamine, reward_steps, coincidence_ms = [], [], []
    last_pre = -math.inf
    show = not args.quiet and sys.stderr.isatty()
    desc = "distal reward" if rewarded else "control"
    for _ in tqdm(range(n_chunks), disable=not show, unit="s", desc=desc):
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
            if rewarded:
                pending.append(int(round(t)) + int(rng.integers(*DELAY_MS, endpoint=True)))
        w = out.weights
        rest = w[others]
        rec["w"].append(w[slot])
        rec["c"].append(net.eligibility[slot])
        rec["mean"].append(rest.mean())
        p50, p99, p999 = np.percentile(rest, (50, 99, 99.9))
        rec["p50"].append(p50)
        rec["p99"].append(p99)
        rec["p999"].append(p999)
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


def control_reward_steps(n_rewards: int, args: argparse.Namespace) -> np.ndarray:
    """The control's reward steps: as many rewards as the rewarded run got, at uniformly
    random steps from the first possible reward (1 s) to the end, drawn from ``seed + 2``
    (tied to nothing the network does); none with ``--control none``."""
    if args.control == "none":
        return np.zeros(0, dtype=np.int64)
    total = int(round(args.minutes * 60_000.0))
    lo = min(int(DELAY_MS[0]), total - 1)
    rng = np.random.default_rng(args.seed + 2)
    return np.sort(rng.integers(lo, total, size=n_rewards))


def run_metrics(result: dict) -> dict:
    """The end of one run: the chosen weight against the other excitatory weights."""
    a = result["arrays"]
    rest = result["net"].weights_array()[result["others"]]
    chosen = float(a["w"][-1]) if a["w"].size else float("nan")
    return {
        "chosen_weight_final": chosen,
        "chosen_rank": 1 + int(np.count_nonzero(rest > chosen)),
        "chosen_percentile": float(100.0 * np.count_nonzero(rest < chosen) / rest.size),
        "others_mean_final": float(rest.mean()),
        "others_median_final": float(np.median(rest)),
        "others_p99_final": float(np.percentile(rest, 99)),
        "others_p999_final": float(np.percentile(rest, 99.9)),
        "others_max_final": float(rest.max()),
        "others_at_or_above_chosen": int(np.count_nonzero(rest >= chosen)),
        "others_at_max": int(np.count_nonzero(rest >= RULE_W_MAX)),
        "n_others": int(rest.size),
        "n_rewards": int(a["reward_ms"].size),
        "n_coincidences": int(a["coincidence_ms"].size),
        "mean_rate_hz": float(a["rate"].mean()) if a["rate"].size else 0.0,
    }


def metrics(result: dict, control: dict | None, args: argparse.Namespace, wall_s: float) -> dict:
    """The rewarded run's numbers at the top level, the control's under ``"control"``.

    ``chosen_rank``: 1 + the number of other excitatory synapses strictly stronger than the
    chosen one at the end (1 = the strongest, ties shared)."""
    m = {
        "simulated_minutes": args.minutes,
        "chosen_synapse": {"pre": result["pre"], "post": result["post"], "slot": result["slot"]},
        **run_metrics(result),
        "control_kind": args.control,
        "control": None if control is None else run_metrics(control),
        "wall_s": wall_s,
    }
    return m


def _runs(a: dict[str, np.ndarray]) -> list[tuple[str, str, str]]:
    """(label, key prefix, colour) of the runs recorded in ``a``."""
    runs = [("rewarded", "", "crimson")]
    if "control_w" in a:
        runs.append(("control", "control_", "tab:blue"))
    return runs


def figure(a: dict[str, np.ndarray], m: dict, path) -> None:
    fig = Figure(figsize=(11, 8))
    grid = fig.add_gridspec(2, 2, height_ratios=(1.3, 1.0))
    ax = fig.add_subplot(grid[0, :])
    minutes = a["time_s"] / 60.0
    for label, key, colour in _runs(a):
        mm = m if not key else m["control"]
        ax.plot(
            minutes, a[key + "w"], color=colour, linewidth=1.6,
            label=f"chosen synapse, {label} (rank {mm['chosen_rank']} at the end)",
        )  # fmt: skip
        ax.fill_between(
            minutes, a[key + "p50"], a[key + "p99"], color=colour, alpha=0.12,
            label=f"others, {label}: median to 99th percentile",
        )  # fmt: skip
        ax.plot(
            minutes, a[key + "p999"], color=colour, linestyle="--", linewidth=0.8,
            label=f"others, {label}: 99.9th percentile",
        )  # fmt: skip
        ax.plot(
            minutes, a[key + "max"], color=colour, linestyle=":", linewidth=0.8,
            label=f"others, {label}: max",
        )  # fmt: skip
    ax.set_xlabel("time (min)")
    ax.set_ylabel("synaptic weight")
    ax.set_title("distal reward: the chosen synapse against the other 79 999 excitatory ones")
    ax.legend(loc="center right", fontsize=7)
    ax = fig.add_subplot(grid[1, 0])
    for label, key, colour in _runs(a):
        dopa = a[key + "dopamine"]
        t_s = np.arange(dopa.size) * DOPAMINE_EVERY / 1000.0
        n = m["n_rewards"] if not key else m["control"]["n_rewards"]
        ax.plot(t_s / 60.0, dopa, color=colour, linewidth=0.5, label=f"{label}: {n} rewards")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("dopamine (phasic)")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, 1])
    bins = np.linspace(0.0, RULE_W_MAX, 81)
    for label, key, colour in _runs(a):
        mm = m if not key else m["control"]
        ax.hist(
            a[key + "final_weights"], bins=bins, color=colour, log=True, histtype="step",
            label=f"{label}: all excitatory",
        )  # fmt: skip
        ax.axvline(
            mm["chosen_weight_final"], color=colour, linestyle="--", label=f"{label}: chosen"
        )
    ax.set_xlabel("weight at the end")
    ax.set_ylabel("synapses")
    ax.legend(fontsize=8)
    fig.tight_layout()
    ss.runs.save_figure(fig, path)


def _summary(name: str, m: dict) -> str:
    return (
        f"{name}: chosen weight {m['chosen_weight_final']:.3f} (rank {m['chosen_rank']} of "
        f"{m['n_others'] + 1}); others mean {m['others_mean_final']:.3f}, median "
        f"{m['others_median_final']:.3f}, 99th percentile {m['others_p99_final']:.3f}, max "
        f"{m['others_max_final']:.3f} ({m['others_at_or_above_chosen']} at or above the "
        f"chosen one); {m['n_rewards']} rewards, {m['n_coincidences']} n1 -> n2 pairings; "
        f"mean rate {m['mean_rate_hz']:.2f} Hz"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes (60)")
    parser.add_argument("--window-ms", type=float, default=20.0, help="n1 -> n2 window (20)")
    parser.add_argument("--seed", type=int, default=1, help="network, noise and reward seed")
    parser.add_argument("--backend", default="numba", help="numpy, numba, cuda or auto")
    parser.add_argument("--quick", action="store_true", help="20 simulated seconds")
    parser.add_argument(
        "--control", choices=CONTROLS, default="random",
        help="the control run: 'random' (default: as many rewards as the rewarded run got, at "
        "random times), 'none' (no reward) or 'off' (no control run)",
    )  # fmt: skip
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
    keys = ("minutes", "window_ms", "seed", "backend", "quick", "control")
    config = {k: getattr(args, k) for k in keys}
    config.update(reward=REWARD, reward_delay_ms=list(DELAY_MS), chunk_ms=CHUNK_MS)
    ss.runs.write_json(out / "config.json", config)
    started = time.perf_counter()
    result = simulate(args)
    control = None
    if args.control != "off":
        steps = control_reward_steps(int(result["arrays"]["reward_ms"].size), args)
        control = simulate(args, control_rewards=steps)
    m = metrics(result, control, args, time.perf_counter() - started)
    ss.runs.write_json(out / "metrics.json", m)
    arrays = dict(result["arrays"])
    if control is not None:
        arrays.update({f"control_{k}": v for k, v in control["arrays"].items()})
    ss.runs.write_npz(out / "distal_reward.npz", **arrays)
    figure(arrays, m, out / "distal_reward.png")
    runs = "two runs" if control else "one run"
    print(f"{args.minutes:g} simulated min ({runs}) in {m['wall_s']:.0f} s")
    print(_summary("rewarded", m))
    if control is not None:
        print(_summary(f"control ({args.control})", m["control"]))
    print(f"run folder: {out}")


if __name__ == "__main__":
    run_script(main, "distal_reward.py")
