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

from spikesub.scripting import EXIT_USAGE, add_job_arguments, apply_job_arguments, run_command

_DESCRIPTION = """\
spikesub: spiking neural networks on Numba CPU and CUDA kernels.

  spikesub demo                  simulate the Izhikevich (2003) network, 1 s, raster in runs/demo,
                                 then the what-and-when experiment (--quick) in runs/demo/whatwhen
  spikesub simulate --help       the reservoir simulation and its options
  spikesub whatwhen --help       readouts that predict what, when and how likely (three-factor
                                 rule against FORCE)
  spikesub continual --help      continual learning of a spiking MLP: HLOP, GPM, EWC, ...
  spikesub plot RUN_DIR          redraw the figures of a run folder from its saved results
  spikesub data verify DIR       check the dataset files in DIR (sizes, headers, checksums)
  spikesub info                  versions, threads and which backends can run here
"""


def _add_simulate_options(parser: argparse.ArgumentParser, *, out_default: str | None) -> None:
    net = parser.add_argument_group("network (Izhikevich 2003, heterogeneous E/I)")
    net.add_argument("--n-exc", type=int, default=800, help="excitatory neurons (default 800)")
    net.add_argument("--n-inh", type=int, default=200, help="inhibitory neurons (default 200)")
    conn = net.add_mutually_exclusive_group()
    conn.add_argument(
        "--p",
        type=float,
        default=None,
        help="connection probability (default: 1.0 up to 1000 neurons, else 0.1)",
    )
    conn.add_argument(
        "--in-degree", type=int, default=None, help="fixed number of inputs per neuron"
    )
    net.add_argument(
        "--noise-exc", type=float, default=5.0, help="thalamic noise std, excitatory (default 5)"
    )
    net.add_argument(
        "--noise-inh", type=float, default=2.0, help="thalamic noise std, inhibitory (default 2)"
    )
    sim = parser.add_argument_group("simulation")
    sim.add_argument(
        "--duration-ms", type=float, default=1000.0, help="biological time (default 1000)"
    )
    sim.add_argument("--dt-ms", type=float, default=0.1, help="time step in ms (default 0.1)")
    sim.add_argument(
        "--backend",
        default="auto",
        help="auto (CUDA if a GPU is present, else numba), numpy, numba or cuda",
    )
    sim.add_argument("--dtype", default="float32", help="state precision: float32 or float64")
    sim.add_argument("--seed", type=int, default=0, help="seed of network and noise (default 0)")
    sim.add_argument(
        "--traces", type=int, default=4, help="neurons whose membrane potential is plotted"
    )
    parser.add_argument(
        "--out",
        default=out_default,
        help="run folder to write"
        + (f" (default {out_default})" if out_default else " (default runs/simulate-<time>)"),
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its last checkpoint (same settings)",
    )
    parser.add_argument(
        "--checkpoint-every-s",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds of wall time between checkpoints; Ctrl-C also writes one (default 30)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_job_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikesub",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spikesub {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="the main job: a reservoir simulation with its raster plot, then the quick "
        "what-and-when experiment",
        description="Simulate the Izhikevich (2003) network of 800 excitatory and 200 inhibitory "
        "neurons for 1 s and write config, spikes, metrics, raster and membrane plots; then run "
        "the what-and-when prediction experiment (--quick) into OUT/whatwhen.",
    )
    _add_simulate_options(demo, out_default="runs/demo")

    simulate = sub.add_parser(
        "simulate",
        help="simulate an Izhikevich reservoir and write a run folder",
        description="Simulate the Izhikevich (2003) network, scaled to any size, and write a run "
        "folder: config.json, spikes.npz, state.npz, metrics.json (mean rate, CV of ISIs, "
        "synchrony), raster.png, membrane.png.",
    )
    _add_simulate_options(simulate, out_default=None)

    plot = sub.add_parser("plot", help="redraw the figures of a run folder")
    plot.add_argument("run_dir", help="a folder written by 'spikesub simulate' or 'demo'")

    sub.add_parser("info", help="versions, threads and available backends")

    from spikesub import data_cli
    from spikesub.continual import cli as continual_cli
    from spikesub.prediction import cli as whatwhen_cli

    whatwhen_cli.register(sub)
    continual_cli.register(sub)
    data_cli.register(sub)
    return parser


def _version() -> str:
    from spikesub import __version__

    return __version__


def _run_simulate(args: argparse.Namespace) -> int:
    from spikesub.simulation import SimulationConfig, simulate

    apply_job_arguments(args)
    config = SimulationConfig(
        n_exc=args.n_exc,
        n_inh=args.n_inh,
        p=args.p,
        in_degree=args.in_degree,
        duration_ms=args.duration_ms,
        dt_ms=args.dt_ms,
        noise_std_exc=args.noise_exc,
        noise_std_inh=args.noise_inh,
        backend=args.backend,
        dtype=args.dtype,
        seed=args.seed,
        n_traces=args.traces,
    )
    run_dir, metrics = simulate(
        config,
        args.out,
        progress=False if args.quiet else None,
        resume=args.resume,
        checkpoint_every_s=args.checkpoint_every_s,
    )
    if not args.quiet:
        print(
            f"{metrics['n_neurons']} neurons, {metrics['n_synapses']} synapses, "
            f"{metrics['duration_ms']:.0f} ms on {metrics['backend']} "
            f"({metrics.get('n_threads', 1)} threads) in {metrics['wall_time_s']:.2f} s "
            "(compilation included on first use)"
        )
        print(
            f"mean rate {metrics['mean_rate_hz']:.2f} Hz "
            f"(exc {metrics['mean_rate_exc_hz']:.2f}, inh {metrics['mean_rate_inh_hz']:.2f}), "
            f"CV of ISIs {metrics['cv_isi_mean']:.2f}, synchrony chi {metrics['synchrony_chi']:.2f}"
        )
        print(f"run folder: {run_dir}  (raster: {Path(run_dir) / 'raster.png'})")
    if args.command == "demo":
        return _run_demo_whatwhen(args, Path(run_dir) / "whatwhen")
    return 0


def _run_demo_whatwhen(args: argparse.Namespace, out: Path) -> int:
    """The second half of ``spikesub demo``: the what-and-when experiment, quick version."""
    from spikesub.prediction import cli as whatwhen_cli

    if not args.quiet:
        print("what-and-when prediction experiment (--quick, under a minute):")
    options = ["--quick", "--out", str(out), "--seed", str(args.seed)]
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from spikesub import data_cli
    from spikesub.continual import cli as continual_cli
    from spikesub.prediction import cli as whatwhen_cli

    handlers = {
        "demo": _run_simulate,
        "simulate": _run_simulate,
        "plot": _run_plot,
        "info": _run_info,
        "whatwhen": whatwhen_cli.run_cli,
        "continual": continual_cli.run_cli,
        "data": data_cli.run_cli,
    }
    return run_command(handlers[args.command], args, prog=f"spikesub {args.command}")


if __name__ == "__main__":
    sys.exit(main())
