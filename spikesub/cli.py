"""The ``spikesub`` command.

Every subcommand runs behind one error path (:func:`spikesub.scripting.run_command`): a bad
parameter, a missing or damaged file, an unavailable backend, a refused allocation or a
diverging simulation ends in one line on stderr and exit status 2 (no traceback); Ctrl-C in
one line and exit status 130, the run folder left resumable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from spikesub.scripting import EXIT_USAGE, ArgumentParser, prefer_passive_openmp, run_command

_DESCRIPTION = """\
spikesub: spiking neural networks on Numba CPU and CUDA kernels.

  spikesub demo                  simulate the Izhikevich (2003) network, 1 s, raster in runs/demo,
                                 then the what-and-when experiment (--quick) in runs/demo/whatwhen
  spikesub simulate --help       the reservoir simulation and its options
  spikesub whatwhen --help       readouts that predict what, when and how likely (three-factor
                                 rule against FORCE)
  spikesub continual --help      continual learning of a spiking MLP: HLOP, GPM, EWC, ...
  spikesub eventtrain --help     a recurrent LIF network on SHD, a spiking conv net on N-MNIST
                                 or DVS Gesture (event data read through tonic)
  spikesub force-sine --help     a spiking network learns a sine by FORCE (Nicola & Clopath 2017)
  spikesub rc --help             reservoir-computing benchmark (MC, NARMA-10, Mackey-Glass):
                                 spiking reservoirs against an echo-state network
  spikesub bench-reservoir       benchmarks (also bench-threads, bench-snn, bench-snn-breakdown,
                                 bench-snntorch-swap, crosscheck-brian2; as experiments/*.py)
  spikesub sweep FILE            many runs of a job (grid, seeds, an Optuna search) on Ray
  spikesub plot RUN_DIR          redraw the figures of a run folder from its saved results
  spikesub data verify DIR       check the dataset files in DIR (sizes, headers, checksums)
  spikesub info                  versions, threads and which backends can run here
"""


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="spikesub",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spikesub {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from spikesub import data_cli
    from spikesub.continual import cli as continual_cli
    from spikesub.eventtrain import cli as eventtrain_cli
    from spikesub.force_sine import cli as force_sine_cli
    from spikesub.rc import cli as rc_cli
    from spikesub.reservoir_continual import cli as reservoir_continual_cli
    from spikesub.simulate import cli as simulate_cli
    from spikesub.sweep import cli as sweep_cli
    from spikesub.whatwhen import cli as whatwhen_cli

    demo = sub.add_parser(
        "demo",
        help="the main job: a reservoir simulation with its raster plot, then the quick "
        "what-and-when experiment",
        description="Simulate the Izhikevich (2003) network of 800 excitatory and 200 inhibitory "
        "neurons for 1 s and write config, spikes, metrics, raster and membrane plots; then run "
        "the what-and-when prediction experiment (--quick) into OUT/whatwhen.",
    )
    simulate_cli.add_arguments(demo, out_default="runs/demo")
    simulate_cli.register(sub)

    plot = sub.add_parser("plot", help="redraw the figures of a run folder")
    plot.add_argument("run_dir", help="a folder written by 'spikesub simulate' or 'demo'")

    sub.add_parser("info", help="versions, threads and available backends")

    whatwhen_cli.register(sub)
    continual_cli.register(sub)
    eventtrain_cli.register(sub)
    force_sine_cli.register(sub)
    rc_cli.register(sub)
    reservoir_continual_cli.register(sub)
    for module in _bench_clis().values():
        module.register(sub)
    sweep_cli.register(sub)
    data_cli.register(sub)
    return parser


def _bench_clis() -> dict[str, object]:
    """The benchmarks' command modules by command (each a job of :mod:`spikesub.bench`)."""
    import importlib

    names = {
        "bench-reservoir": "reservoir",
        "bench-threads": "threads",
        "bench-snn": "snn",
        "bench-snn-breakdown": "snn_breakdown",
        "bench-snntorch-swap": "snntorch_swap",
        "crosscheck-brian2": "crosscheck_brian2",
    }
    return {
        command: importlib.import_module(f"spikesub.bench.{package}.cli")
        for command, package in names.items()
    }


def _version() -> str:
    from spikesub import __version__

    return __version__


def _run_demo(args: argparse.Namespace) -> int:
    """``spikesub demo``: the simulation, then the quick what-and-when experiment."""
    from spikesub.simulate import cli as simulate_cli

    status = simulate_cli.run_cli(args)
    seed = simulate_cli.config_from_args(args).seed
    return status or _run_demo_whatwhen(args, Path(args.out) / "whatwhen", seed)


def _run_demo_whatwhen(args: argparse.Namespace, out: Path, seed: int) -> int:
    """The second half of ``spikesub demo``: the what-and-when experiment, quick version."""
    from spikesub.whatwhen import cli as whatwhen_cli

    if not args.quiet:
        print("what-and-when prediction experiment (--quick, one to two and a half minutes):")
    options = ["--quick", "--out", str(out), "--seed", str(seed)]
    if args.quiet:
        options.append("--quiet")
    if args.resume:
        options.append("--resume")
    parser = argparse.ArgumentParser(prog="spikesub whatwhen")
    whatwhen_cli.add_arguments(parser)
    return whatwhen_cli.run_cli(parser.parse_args(options))


def _run_plot(args: argparse.Namespace) -> int:
    from spikesub.plot import plot_run

    for path in plot_run(args.run_dir):
        print(path)
    return 0


def _run_info(args: argparse.Namespace) -> int:
    import numba
    import numpy as np

    from spikesub.kernels.backends import cuda_available, cuda_simulator_enabled, gpu_present
    from spikesub.kernels.threads import describe_threads

    print(f"spikesub {_version()}")
    print(f"numpy {np.__version__}, numba {numba.__version__}")
    for line in describe_threads():
        print(line)
    print("  automatic: reservoirs from 2,048 neurons, one thread while threads measure slower")
    print("backends: numpy, numba" + (", cuda" if cuda_available() else ""))
    if gpu_present():
        from numba import cuda

        print(f"GPU: {cuda.get_current_device().name.decode()}")
    elif cuda_simulator_enabled():
        print("GPU: none (CUDA simulator on: NUMBA_ENABLE_CUDASIM=1)")
    else:
        print("GPU: none ('auto' runs on numba)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spikesub`` console command; returns the exit status."""
    prefer_passive_openmp()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from spikesub import data_cli
    from spikesub.continual import cli as continual_cli
    from spikesub.eventtrain import cli as eventtrain_cli
    from spikesub.force_sine import cli as force_sine_cli
    from spikesub.rc import cli as rc_cli
    from spikesub.reservoir_continual import cli as reservoir_continual_cli
    from spikesub.simulate import cli as simulate_cli
    from spikesub.sweep import cli as sweep_cli
    from spikesub.whatwhen import cli as whatwhen_cli

    handlers = {
        "demo": _run_demo,
        "simulate": simulate_cli.run_cli,
        "plot": _run_plot,
        "info": _run_info,
        "whatwhen": whatwhen_cli.run_cli,
        "continual": continual_cli.run_cli,
        "eventtrain": eventtrain_cli.run_cli,
        "force-sine": force_sine_cli.run_cli,
        "rc": rc_cli.run_cli,
        "reservoir-continual": reservoir_continual_cli.run_cli,
        "sweep": sweep_cli.run_cli,
        "data": data_cli.run_cli,
        **{command: module.run_cli for command, module in _bench_clis().items()},
    }
    hint = sweep_cli.INTERRUPTED_HINT if args.command == "sweep" else ""
    return run_command(
        handlers[args.command], args, prog=f"spikesub {args.command}", interrupted_hint=hint
    )


if __name__ == "__main__":
    sys.exit(main())
