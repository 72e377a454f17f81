"""What every command and experiment script shares: one error path, threads, memory budget.

A command (a ``spikesub`` subcommand, or a script under ``experiments/``) runs through
:func:`run_command`. Whatever a user can cause ends in one line on stderr naming the command,
and an exit status:

* ``0``: done;
* ``2``: refused or failed because of an argument, a file or the machine's limits (our own
  :class:`~spikesub.models.errors.SpikesubError`, ``ValueError``, ``TypeError``, ``OSError``,
  a damaged archive, an integer too large, memory exhausted);
* ``130``: interrupted (Ctrl-C); long jobs leave their run folder consistent and resumable.

Warnings raised while a command runs are held back and shown once it has finished, so that
a failing command prints its error line alone, never after a screen of numerical warnings.

Options that every job takes come from here too: ``--threads N`` (0 or absent: automatic) and
``--memory-budget SIZE``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = [
    "ArgumentParser",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_job_arguments",
    "add_run_arguments",
    "apply_job_arguments",
    "config_from_options",
    "error_line",
    "prefer_passive_openmp",
    "run_command",
    "run_script",
    "set_threads",
]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_MAX_LINE = 400


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types a user can cause with an argument, a file or the machine's limits."""
    from spikesub.models.errors import SpikesubError

    types: list[type[BaseException]] = [
        SpikesubError,
        ValueError,
        TypeError,
        OSError,
        EOFError,
        OverflowError,
        MemoryError,
        zipfile.BadZipFile,
        zlib.error,
    ]
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "OutOfMemoryError"):
        types.append(torch.OutOfMemoryError)
    return tuple(types)


def error_line(error: BaseException) -> str:
    """One line that says what went wrong.

    Our own messages are one line already; others (torch's, zipfile's) may span many, of
    which the first says what happened. Memory errors say how to ask for less.
    """
    text = str(error).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    message = " ".join(first.split()) or type(error).__name__
    if isinstance(error, zipfile.BadZipFile):
        message = f"damaged archive: {message}"
    elif isinstance(error, MemoryError) and not _is_budget_error(error):
        message = (
            f"out of memory: {message}; ask for less (fewer neurons, steps or recorded "
            "neurons), or run where more memory is free"
        )
    elif _is_torch_oom(error):
        message = f"out of GPU memory: {message}; lower the batch size or the layer sizes"
    elif isinstance(error, OverflowError):
        message = f"a number is too large: {message}"
    if len(message) > _MAX_LINE:
        message = message[: _MAX_LINE - 3] + "..."
    return message


def _is_budget_error(error: BaseException) -> bool:
    from spikesub.models.errors import MemoryBudgetError

    return isinstance(error, MemoryBudgetError)


def _is_torch_oom(error: BaseException) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(error, getattr(torch, "OutOfMemoryError", ()))


def run_command(
    handler: Callable[..., int], *args: Any, prog: str, interrupted_hint: str = ""
) -> int:
    """Run ``handler(*args)`` behind the one error path; returns the exit status.

    Args:
        handler: the command; returns its exit status.
        args: passed to ``handler``.
        prog: the command's name, e.g. ``"spikesub simulate"``, at the start of every line.
        interrupted_hint: added to the "interrupted" line, e.g. how to resume.
    """
    with warnings.catch_warnings(record=True) as held:
        warnings.simplefilter("default")
        try:
            status = handler(*args)
        except KeyboardInterrupt as interrupt:
            run_dir = getattr(interrupt, "run_dir", None)
            if run_dir is not None:
                interrupted_hint = f"continue with --resume --out {run_dir}"
            hint = f" ({interrupted_hint})" if interrupted_hint else ""
            print(f"{prog}: interrupted{hint}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except _user_error_types() as error:
            print(f"{prog}: error: {error_line(error)}", file=sys.stderr)
            return EXIT_USAGE
    _show_held_warnings(held)
    return EXIT_OK if status is None else int(status)


def _show_held_warnings(held: list[warnings.WarningMessage]) -> None:
    """Show each distinct warning once, after the command's own output."""
    seen: set[tuple[str, str]] = set()
    for item in held:
        key = (type(item.message).__name__, str(item.message))
        if key in seen:
            continue
        seen.add(key)
        warnings.showwarning(item.message, item.category, item.filename, item.lineno)


def run_script(main: Callable[[], int | None], prog: str) -> NoReturn:
    """Exit the process with ``main()``'s status, through :func:`run_command`'s error path.

    For scripts under ``experiments/``: ``if __name__ == "__main__": run_script(main, "x.py")``.
    """
    sys.exit(run_command(main, prog=prog))


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line, as every other error of
    a command: ``prog: error: message (see prog --help)``, exit status 2. Sub-parsers made by
    its ``add_subparsers`` are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------------------------------------
# Options every job takes


def _threads_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an integer >= 0 (0: automatic); got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0: automatic); got {value}")
    return value


def _budget_value(text: str) -> int | None:
    from spikesub.models.memory import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_job_arguments(parser: argparse.ArgumentParser, *, threads_help: str = "") -> None:
    """Add ``--threads`` and ``--memory-budget`` to a job's parser."""
    parser.add_argument(
        "--threads",
        type=_threads_value,
        default=None,
        metavar="N",
        help=threads_help
        or "CPU threads for Numba and torch (0 or absent: automatic, from the cores this "
        "process may use; 'spikesub info' says what that is here)",
    )
    parser.add_argument(
        "--memory-budget",
        type=_budget_value,
        default=None,
        metavar="SIZE",
        help="refuse allocations above SIZE (e.g. 8G, 500M; 'none' for no limit; default: "
        "a share of the free memory, or $SPIKESUB_MEMORY_BUDGET)",
    )


def add_run_arguments(group: Any, *, out_default: str, resume_help: str) -> None:
    """A resumable job's run options on ``group`` (a parser or argument group): ``--out``
    (shown default ``out_default``), ``--resume`` (``resume_help``: what it keeps), ``--quiet``,
    ``--threads`` and ``--memory-budget``."""
    group.add_argument("--out", default=None, help=f"run folder to write (default {out_default})")
    group.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the interrupted run in --out: {resume_help} (options not given keep "
        "the run's saved values)",
    )
    group.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_job_arguments(group)


def report_run(run_dir: Any, results_name: str, figures: list, quiet: bool) -> None:
    """Print a finished run's results table (``run_dir / results_name``) and where its
    figures are, unless ``quiet``."""
    if quiet:
        return
    from pathlib import Path

    print((Path(run_dir) / results_name).read_text().rstrip())
    print(f"-> {run_dir} ({', '.join(Path(f).name for f in figures)})")


def config_from_options(config_class: Any, args: argparse.Namespace, preset: dict | None = None):
    """A job's configuration from its command's options: the options given, on top of the
    ``--quick`` ``preset`` when ``args.quick`` is set, on top of the run folder's saved
    settings with ``--resume --out DIR``."""
    from spikesub.runs import resume_base

    base = resume_base(getattr(args, "out", None), getattr(args, "resume", False))
    if preset is not None and getattr(args, "quick", False):
        base = {**base, **preset}
    return config_class.from_args(args, base=base)


def apply_job_arguments(args: argparse.Namespace) -> None:
    """Act on ``--threads`` and ``--memory-budget`` when they were given."""
    budget = getattr(args, "memory_budget", None)
    if budget is not None:
        from spikesub.models.memory import set_memory_budget

        set_memory_budget(budget)
    threads = getattr(args, "threads", None)
    if threads is not None:
        set_threads(threads)


def prefer_passive_openmp() -> None:
    """Let torch's idle OpenMP threads sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE``)
    unless the user chose otherwise; takes effect only before torch is first imported.

    spikesub's layers alternate torch's products (OpenMP threads) with Numba's kernels (TBB
    threads) many times per training step; spinning OpenMP threads take the cores from the
    Numba threads that follow: with two threads, an MLP training step took 145-200 ms with
    torch's default and 22-40 ms with PASSIVE (README, "Benchmark: spiking layers").
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def set_threads(n: int | None) -> int:
    """Use ``n`` CPU threads in Numba's kernels, the reservoir and torch; returns the count.

    torch's count is set when torch has been imported (jobs that train import it first), so
    that a simulation does not pay for importing it.

    Args:
        n: threads; ``None`` or 0 picks automatically from the cores this process may use.
            A count above them is used as given, with one warning.

    Raises:
        ValueError / TypeError: ``n`` negative or not an integer.
    """
    from spikesub.kernels.threads import resolve_threads, set_default_threads

    count = resolve_threads(n)  # checks n, and warns once when it is above the cores
    set_default_threads(count if n else None)  # None keeps the automatic mode
    torch = sys.modules.get("torch")  # a job that trains has imported it by now
    if torch is not None:
        torch.set_num_threads(count)
    return count
