"""The registry of jobs: each job's configuration, run function, figures and command by name.

Everything that runs jobs without knowing them in advance goes through here: ``spikesub
plot`` finds the figures of any run folder, and anything (a script, a sweep) runs any job
from its name and a dict of settings::

    from spikesub.jobs import run_job
    run_dir = run_job("simulate", {"n_exc": 400, "n_inh": 100, "seed": 3}, out="runs/s3")

Entries name their objects as ``"module:attribute"`` and are imported on first use, so the
registry costs nothing to import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JOBS", "Job", "figures_of", "get_job", "run_job"]


@dataclass(frozen=True)
class Job:
    """Where a job's pieces live (``"module:attribute"``; None where the job has none).

    Attributes:
        config: its configuration class (``from_dict`` or keyword arguments build it).
        run: ``run(config, out, **options)``, which writes the run folder.
        figures: ``figures(run_dir) -> list[Path]``, drawn from the run folder only.
        cli: the module with ``register(subparsers)`` and ``run_cli(args)``.
        description: one line.
    """

    config: str | None
    run: str | None
    figures: str | None
    cli: str | None
    description: str

    def load(self, part: str) -> Any:
        """The object named by ``part`` (``"config"``, ``"run"``, ``"figures"``)."""
        target = getattr(self, part)
        if target is None:
            raise ValueError(f"this job has no {part}")
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


JOBS: dict[str, Job] = {
    "simulate": Job(
        config="spikesub.simulate.config:SimulationConfig",
        run="spikesub.simulate.run:run",
        figures="spikesub.simulate.figures:plot",
        cli="spikesub.simulate.cli",
        description="an Izhikevich reservoir simulation: raster, membrane traces, rates",
    ),
    "whatwhen": Job(
        config="spikesub.whatwhen.config:WhatWhenConfig",
        run="spikesub.whatwhen.run:run",
        figures="spikesub.whatwhen.figures:plot",
        cli="spikesub.whatwhen.cli",
        description="readouts that predict what, when and how likely (three-factor vs FORCE)",
    ),
    "continual": Job(
        config="spikesub.continual.config:ContinualConfig",
        run="spikesub.continual.run:run",
        figures="spikesub.continual.figures:plot_continual",
        cli="spikesub.continual.cli",
        description="continual learning of a spiking network: HLOP, GPM, EWC, ...",
    ),
    "continual-summary": Job(
        config=None,
        run=None,
        figures="spikesub.continual.figures:plot_comparison",
        cli=None,
        description="the comparison of several continual-learning runs",
    ),
    "eventtrain": Job(
        config="spikesub.eventtrain.config:EventTrainConfig",
        run="spikesub.eventtrain.run:run",
        figures="spikesub.eventtrain.figures:plot",
        cli="spikesub.eventtrain.cli",
        description="a spiking network trained on an event dataset (SHD, N-MNIST, DVS Gesture)",
    ),
    "force_sine": Job(
        config="spikesub.force_sine.config:ForceSineConfig",
        run="spikesub.force_sine.run:run",
        figures="spikesub.force_sine.figures:plot",
        cli="spikesub.force_sine.cli",
        description="FORCE learning of a sine by a spiking network (Nicola & Clopath 2017)",
    ),
    "rc": Job(
        config="spikesub.rc.config:RcConfig",
        run="spikesub.rc.run:run",
        figures="spikesub.rc.figures:plot",
        cli="spikesub.rc.cli",
        description="reservoir-computing benchmark: MC, NARMA-10, Mackey-Glass; spiking vs ESN",
    ),
    "reservoir-continual": Job(
        config="spikesub.reservoir_continual.config:ReservoirContinualConfig",
        run="spikesub.reservoir_continual.run:run",
        figures="spikesub.reservoir_continual.figures:plot",
        cli="spikesub.reservoir_continual.cli",
        description="continual learning of a reservoir readout: three-factor rule, HLOP / GPM",
    ),
    "bench_reservoir": Job(
        config="spikesub.bench.reservoir.config:BenchReservoirConfig",
        run="spikesub.bench.reservoir.run:run",
        figures=None,
        cli="spikesub.bench.reservoir.cli",
        description="timing: the Izhikevich 2003 reservoir in spikesub, Brian2 (and NEST)",
    ),
    "bench_threads": Job(
        config="spikesub.bench.threads.config:BenchThreadsConfig",
        run="spikesub.bench.threads.run:run",
        figures="spikesub.bench.threads.figures:plot",
        cli="spikesub.bench.threads.cli",
        description="timing: the 10k reservoir on 1, 2 and automatic threads, quiet and loaded",
    ),
    "bench_snn": Job(
        config="spikesub.bench.snn.config:BenchSnnConfig",
        run="spikesub.bench.snn.run:run",
        figures=None,
        cli="spikesub.bench.snn.cli",
        description="timing: training SNNs with snnTorch, SpikingJelly and spikesub layers",
    ),
    "bench_snn_breakdown": Job(
        config="spikesub.bench.snn_breakdown.config:BenchSnnBreakdownConfig",
        run="spikesub.bench.snn_breakdown.run:run",
        figures=None,
        cli="spikesub.bench.snn_breakdown.cli",
        description="timing: spikesub's MLP training step, kernel by kernel",
    ),
    "bench_snntorch_swap": Job(
        config="spikesub.bench.snntorch_swap.config:BenchSnntorchSwapConfig",
        run="spikesub.bench.snntorch_swap.run:run",
        figures=None,
        cli="spikesub.bench.snntorch_swap.cli",
        description="timing: snnTorch's per-step loop with its own Leaky and after the swap",
    ),
    "crosscheck_brian2": Job(
        config="spikesub.bench.crosscheck_brian2.config:CrosscheckBrian2Config",
        run="spikesub.bench.crosscheck_brian2.run:run",
        figures="spikesub.bench.crosscheck_brian2.figures:plot",
        cli="spikesub.bench.crosscheck_brian2.cli",
        description="the Izhikevich 2003 network in spikesub and Brian2 on the same input",
    ),
    "sweep": Job(
        config=None,
        run=None,
        figures="spikesub.sweep.figures:plot",
        cli="spikesub.sweep.cli",
        description="the summary of a sweep's or a search's trials (spikesub sweep)",
    ),
}


def get_job(name: str) -> Job:
    """The job registered as ``name``; ValueError naming the jobs there are."""
    if not isinstance(name, str) or name not in JOBS:
        raise ValueError(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
    return JOBS[name]


def figures_of(name: str, run_dir: str | Path | None = None) -> Callable[[Path], list[Path]]:
    """The function that draws the figures of a run folder of job ``name``."""
    job = JOBS.get(name)
    if job is None or job.figures is None:
        where = f"{Path(run_dir) / 'config.json'} names job {name!r}; " if run_dir else ""
        drawn = ", ".join(n for n, j in JOBS.items() if j.figures)
        raise ValueError(f"{where}spikesub plot draws the runs of {drawn}")
    return job.load("figures")


def run_job(name: str, settings: Mapping[str, Any], out: str | Path | None = None, **options):
    """Run job ``name`` with ``settings`` (its configuration as a dict) into ``out``.

    Args:
        name: a key of :data:`JOBS`.
        settings: the job's settings by name; unknown names are refused.
        out: the run folder.
        options: run options of the job's ``run`` (``progress``, ``resume``, ...).

    Returns:
        what the job's ``run`` returns (its run folder, or its metrics with ``"run_dir"``).
    """
    job = get_job(name)
    config_class, run = job.load("config"), job.load("run")
    if hasattr(config_class, "from_dict"):
        config = config_class.from_dict(dict(settings))
    else:
        config = config_class(**dict(settings))
    return run(config, out, **options)
