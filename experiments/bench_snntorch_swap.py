"""Benchmark: snnTorch's per-step training loop, with its own ``Leaky`` and after
``swap_snntorch_leaky`` (the same loop on spikesub's kernels).

The MLP 784-800-800-10 of ``bench_snn.py``'s ``mlp`` workload (Linear + ``Leaky`` per layer,
``init_hidden=True``, T = 20 steps of a static input, batch 64, cross-entropy on the
time-averaged membrane of the output layer, forward and backward). Both models start from the
same weights and run in one process, taking turns step by step (snnTorch, swapped, snnTorch,
...), so that a machine whose speed drifts slows both alike; the medians and their ratio are
printed. Usage::

    python experiments/bench_snntorch_swap.py --rounds 30 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

import spikesub as ss


def build(seed: int = 0) -> torch.nn.Sequential:
    import snntorch as snn

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 800),
        snn.Leaky(beta=0.9, init_hidden=True),
        torch.nn.Linear(800, 800),
        snn.Leaky(beta=0.9, init_hidden=True),
        torch.nn.Linear(800, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )


def train_step(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    from snntorch import utils

    utils.reset(net)
    mems = []
    for _ in range(steps):
        _, mem = net(x)
        mems.append(mem)
    loss = torch.nn.functional.cross_entropy(torch.stack(mems).mean(0), y)
    net.zero_grad()
    loss.backward()
    return float(loss.detach())


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed steps per model")
    parser.add_argument("--steps", type=int, default=20, help="time steps T")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    reference = build()
    swapped = ss.swap_snntorch_leaky(copy.deepcopy(reference))
    torch.manual_seed(1)
    x = torch.rand(args.batch, 784)
    y = torch.randint(0, 10, (args.batch,))
    models = {"snntorch": reference, "swapped": swapped}
    losses = {name: train_step(m, x, y, args.steps) for name, m in models.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            train_step(model, x, y, args.steps)
            times[name].append(time.perf_counter() - start)
    result = {f"{name}_ms": 1000 * statistics.median(t) for name, t in times.items()}
    result["ratio_snntorch_over_swapped"] = result["snntorch_ms"] / result["swapped_ms"]
    result["loss_difference"] = abs(losses["snntorch"] - losses["swapped"])
    for key, value in result.items():
        print(f"{key}: {value:.4g}")
    return result


if __name__ == "__main__":
    main()
