"""How much of a task's input energy the energy criterion's sample protects.

GPM and HLOP choose the number of directions ``k`` a task adds from the Gram matrix of a
few examples (``samples``, 300). This script takes the first task of a benchmark, chooses
``k`` at ``--energy-threshold`` on its first ``--samples`` training inputs, and reports which share
of the energy of ALL its training inputs each ``k``-dimensional subspace holds: the sample's
principal subspace (GPM's basis), the exact principal subspace of all the inputs, and the
subspace HLOP's lateral neurons learn by Oja's rule from ``--record`` inputs (with HLOP's
default Hebbian settings, 2 passes over the task's batches of 64). It also reports the ``k``
that the threshold asks for on all the inputs.

    python experiments/continual_energy_sample.py --benchmark pmnist \\
        --data-dir ../shared/data/mnist-10k --out runs/energy-sample
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from spikesub.continual.projection import residual_spectrum, select_k
from spikesub.continual.strategies import HLOP
from spikesub.continual.subspace import HebbianSubspace
from spikesub.continual.tasks import make_benchmark
from spikesub.runs import write_json
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script


def captured(gram: torch.Tensor, basis: torch.Tensor) -> float:
    """Share of ``trace(gram)`` inside the span of the orthonormal columns of ``basis``."""
    b = basis.double()
    return float((b * (gram @ b)).sum() / gram.trace())


def top_basis(gram: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` leading eigenvectors ``(n, k)`` of a Gram matrix."""
    return torch.linalg.eigh(gram)[1].flip(1)[:, :k]


def k_for(gram: torch.Tensor, energy_threshold: float) -> int:
    energies, _, total = residual_spectrum(gram, None)
    return select_k(energies, total, 0.0, energy_threshold)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmark", default="pmnist")
    p.add_argument("--data-dir", default=None, help="MNIST folder (pmnist, splitmnist)")
    p.add_argument(
        "--energy-threshold", type=float, default=0.98, help="energy threshold in (0, 1)"
    )
    p.add_argument("--samples", type=int, default=300, help="inputs the criterion sees")
    p.add_argument("--record", type=int, default=4000, help="inputs HLOP learns from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    add_job_arguments(p)
    args = p.parse_args(argv)
    apply_job_arguments(args)
    task = make_benchmark(args.benchmark, data_dir=args.data_dir, seed=args.seed)[0]
    x = torch.as_tensor(task.x_train, dtype=torch.float64)
    gram_all = x.T @ x
    sample = x[: args.samples]
    k = k_for(sample.T @ sample, args.energy_threshold)

    opts = HLOP.option_defaults
    hebbian = HebbianSubspace(
        x.shape[1], lr=opts["lr"], momentum=0.9, n_iters=opts["n_iters"], seed=args.seed
    )
    hebbian.add_neurons(k)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(args.seed))
    batches = list(x[order[: args.record]].float().split(64))
    n_batches = -(-x.shape[0] // 64)
    hebbian.learn(
        batches,
        epochs=opts["hebbian_epochs"],
        lr_final=opts["lr_final"],
        updates=opts["hebbian_epochs"] * n_batches,
    )
    result = {
        "benchmark": args.benchmark,
        "energy_threshold": args.energy_threshold,
        "samples": args.samples,
        "n_train": int(x.shape[0]),
        "k_from_samples": k,
        "k_from_all": k_for(gram_all, args.energy_threshold),
        "energy_sample_basis": captured(gram_all, top_basis(sample.T @ sample, k)),
        "energy_exact_basis": captured(gram_all, top_basis(gram_all, k)),
        "energy_hebbian": captured(gram_all, hebbian.basis(include_new=True)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "metrics.json", result)
    for key, value in result.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    run_script(main, "continual_energy_sample.py")
