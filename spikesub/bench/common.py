"""What the benchmark jobs share: lists of names, the command a configuration stands for,
the parser of their scripts, and a description of the machine."""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spikesub.config import JobConfig, name_list
from spikesub.scripting import ArgumentParser

__all__ = [
    "DEFAULT_MNIST_DIR",
    "SERIAL_NOTE",
    "command_of",
    "make_parser",
    "names",
    "platform_info",
]

DEFAULT_MNIST_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-10k"
"""Where the SNN benchmarks look for MNIST when no ``data_dir`` is given."""

SERIAL_NOTE = (
    "A timing benchmark: never run two of its trials at once (a sweep over it takes "
    "--max-parallel 1)."
)


def names(setting: str, text: str, known: Sequence[str]) -> tuple[str, ...]:
    """The names of a comma-separated list, in the order given, each once
    (:func:`spikesub.config.name_list`)."""
    return name_list(setting, text, known)


def command_of(config: JobConfig, prog: str) -> str:
    """The script's command line that gives ``config``: ``prog`` and an option for each
    setting that differs from its default."""
    parts = [prog]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if value == default or not f.metadata.get("cli", False):
            continue
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (tuple, list)):
            parts += [flag, ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)]
        else:
            parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(parts)


def make_parser(
    config_class: type[JobConfig],
    *,
    prog: str,
    description: str,
    out_default: str | None,
    quiet_help: str = "no progress bars or progress lines",
    groups: Mapping[str, Sequence[str]] | None = None,
    parser: argparse.ArgumentParser | None = None,
) -> argparse.ArgumentParser:
    """The parser of a benchmark's script: the configuration's options, then ``--out`` and
    ``--quiet``."""
    if parser is None:
        parser = ArgumentParser(prog=prog, description=description)
    config_class.add_arguments(parser, groups=groups or {})
    run = parser.add_argument_group("run")
    shown = out_default or f"runs/{config_class.job.replace('_', '-')}-<time>"
    run.add_argument("--out", default=out_default, help=f"run folder to write (default {shown})")
    run.add_argument("--quiet", action="store_true", help=quiet_help)
    return parser


def register_bench(
    subparsers: Any, name: str, description: str, add_arguments: Callable[[Any], None]
) -> argparse.ArgumentParser:
    """Add benchmark ``name`` to a ``spikesub`` sub-parser set (its help: the description's
    first sentence) with the options ``add_arguments`` adds; returns its parser."""
    parser = subparsers.add_parser(name, help=description.split(".")[0])
    add_arguments(parser)
    return parser


def bench_main(
    prog: str,
    description: str,
    add_arguments: Callable[[Any], None],
    run_cli: Callable[[argparse.Namespace], int],
    argv: list[str] | None = None,
) -> int:
    """A benchmark's script entry point (``experiments/<prog>``): parse ``argv`` (default
    the command line) with its options and run it."""
    parser = ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    return run_cli(parser.parse_args(sys.argv[1:] if argv is None else argv))


def platform_info() -> dict[str, Any]:
    """Python, platform, processor and core count of this machine."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
