"""Running the swap benchmark: snnTorch's per-step training loop, with its own ``Leaky`` and
after ``swap_snntorch_leaky`` (the same loop on spikesub's kernels).

The MLP 784-800-800-10 of ``bench_snn``'s ``mlp`` workload (Linear + ``Leaky`` per layer,
``init_hidden=True``, T = 20 steps of a static input, batch 64, cross-entropy on the
time-averaged membrane of the output layer, forward and backward). Both models start from the
same weights and run in one process, taking turns step by step (snnTorch, swapped, snnTorch,
...), so that a machine whose speed drifts slows both alike. The run folder gets
``config.json`` and ``metrics.json``: the median step of each (``snntorch_ms``,
``swapped_ms``), their ratio and the difference of their first losses.

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path

from spikesub.bench.common import platform_info
from spikesub.bench.snntorch_swap.config import BenchSnntorchSwapConfig
from spikesub.runs import prepare_run_dir, run_config_document, write_json

__all__ = ["JOB", "build", "measure", "run", "train_step"]

JOB = BenchSnntorchSwapConfig.job


def build(seed: int = 0):
    """snnTorch's MLP 784-800-800-10 with ``Leaky(beta=0.9, init_hidden=True)`` neurons."""
    import snntorch as snn
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 800),
        snn.Leaky(beta=0.9, init_hidden=True),
        torch.nn.Linear(800, 800),
        snn.Leaky(beta=0.9, init_hidden=True),
        torch.nn.Linear(800, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )


def train_step(net, x, y, steps: int) -> float:
    """One forward and backward pass of snnTorch's per-step loop; returns the loss."""
    import torch
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


def measure(config: BenchSnntorchSwapConfig) -> dict[str, float]:
    """The two models taking turns: their median step in ms, the ratio, the loss difference."""
    import torch

    import spikesub as ss

    reference = build()
    swapped = ss.swap_snntorch_leaky(copy.deepcopy(reference))
    torch.manual_seed(1)
    x = torch.rand(config.batch, 784)
    y = torch.randint(0, 10, (config.batch,))
    models = {"snntorch": reference, "swapped": swapped}
    losses = {name: train_step(m, x, y, config.steps) for name, m in models.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(config.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            train_step(model, x, y, config.steps)
            times[name].append(time.perf_counter() - start)
    result = {f"{name}_ms": 1000 * statistics.median(t) for name, t in times.items()}
    result["ratio_snntorch_over_swapped"] = result["snntorch_ms"] / result["swapped_ms"]
    result["loss_difference"] = abs(losses["snntorch"] - losses["swapped"])
    return result


def run(
    config: BenchSnntorchSwapConfig,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
) -> Path:
    """Time both models and write the run folder (see the module's docstring).

    Args:
        config: what to run.
        out: the run folder (default ``runs/bench-snntorch-swap-<time>``).
        progress: unused (the run takes seconds).

    Returns:
        the run folder.
    """
    import torch

    out = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="bench-snntorch-swap")
    previous = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        document = run_config_document(
            JOB, config.to_dict(), torch_threads=torch.get_num_threads(), **platform_info()
        )
        write_json(out / "config.json", document)
        result = measure(config)
    finally:
        torch.set_num_threads(previous)
    write_json(out / "metrics.json", result)
    return out
