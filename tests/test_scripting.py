"""The one error path every command and script shares, and the options every job takes."""

from __future__ import annotations

import argparse
import warnings
import zipfile

import numpy as np
import pytest

from spikesub.models.errors import MemoryBudgetError, RunFolderError
from spikesub.runs import RunInterrupted
from spikesub.scripting import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_job_arguments,
    error_line,
    run_command,
)


def _raises(error: BaseException):
    def handler() -> int:
        raise error

    return handler


def _stderr_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError("n_exc must be >= 0; got -1"), "n_exc must be >= 0; got -1"),
        (RunFolderError("runs/x holds a whatwhen run"), "runs/x holds a whatwhen run"),
        (FileNotFoundError("no such file: data/x"), "no such file: data/x"),
        (zipfile.BadZipFile("File is not a zip file"), "damaged archive: File is not a zip file"),
        (OverflowError("Python int too large to convert to C long"), "a number is too large"),
        (MemoryError("Unable to allocate 146. TiB"), "out of memory: Unable to allocate 146. TiB"),
        (EOFError("Ran out of input"), "Ran out of input"),
    ],
)
def test_user_errors_become_one_line_and_status_2(capsys, error, expected):
    assert run_command(_raises(error), prog="spikesub simulate") == EXIT_USAGE
    lines = _stderr_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith("spikesub simulate: error: ") and expected in lines[0]


def test_a_budget_refusal_is_not_called_out_of_memory():
    error = MemoryBudgetError("recording buffers need 146 TiB; the budget is 18 GiB")
    assert error_line(error) == "recording buffers need 146 TiB; the budget is 18 GiB"


def test_a_multi_line_foreign_message_keeps_its_first_line():
    error = ValueError(
        "checkpoint.pt: not a readable checkpoint\n  Weights only load failed.\n  Traceback..."
    )
    assert error_line(error) == "checkpoint.pt: not a readable checkpoint"


def test_a_bug_still_shows_its_traceback():
    with pytest.raises(ZeroDivisionError):
        run_command(_raises(ZeroDivisionError("division by zero")), prog="x")


def test_interrupt_is_one_line_and_status_130(capsys, tmp_path):
    assert run_command(_raises(KeyboardInterrupt()), prog="spikesub whatwhen") == EXIT_INTERRUPTED
    assert _stderr_lines(capsys) == ["spikesub whatwhen: interrupted"]
    status = run_command(_raises(RunInterrupted(tmp_path / "run")), prog="spikesub simulate")
    assert status == EXIT_INTERRUPTED
    assert _stderr_lines(capsys) == [
        f"spikesub simulate: interrupted (continue with --resume --out {tmp_path / 'run'})"
    ]


def test_warnings_of_a_failing_command_are_not_shown(capsys):
    def handler() -> int:
        with np.errstate(over="warn"):
            np.float32(1e38) * np.float32(10)  # RuntimeWarning: overflow
        raise ValueError("noise_exc must be finite")

    assert run_command(handler, prog="spikesub simulate") == EXIT_USAGE
    assert _stderr_lines(capsys) == ["spikesub simulate: error: noise_exc must be finite"]


def test_warnings_of_a_finished_command_are_shown_once_after_it(monkeypatch):
    events = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *rest: events.append(message))

    def handler() -> int:
        events.append("result")
        for _ in range(3):
            warnings.warn("threads = 8 is more than the 2 cores", RuntimeWarning, stacklevel=1)
        return 0

    assert run_command(handler, prog="x") == 0
    assert [str(e) for e in events] == ["result", "threads = 8 is more than the 2 cores"]


def test_status_of_the_handler_is_returned():
    assert run_command(lambda: 3, prog="x") == 3
    assert run_command(lambda: None, prog="x") == 0


def _job_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="job")
    add_job_arguments(parser)
    return parser


@pytest.mark.parametrize("value", ["-1", "two", "1.5", ""])
def test_bad_thread_counts_are_usage_errors(capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        _job_parser().parse_args(["--threads", value])
    assert exit_info.value.code == EXIT_USAGE
    assert "argument --threads: must be an integer >= 0 (0: automatic)" in capsys.readouterr().err


def test_thread_count_and_budget_parse():
    args = _job_parser().parse_args(["--threads", "0", "--memory-budget", "2G"])
    assert args.threads == 0 and args.memory_budget == 2 * 1024**3
    args = _job_parser().parse_args([])
    assert args.threads is None and args.memory_budget is None


def test_bad_memory_budget_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        _job_parser().parse_args(["--memory-budget", "lots"])
    assert "--memory-budget" in capsys.readouterr().err


def test_commands_let_torchs_idle_threads_sleep_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = (
        "import os; from spikesub.scripting import prefer_passive_openmp; "
        "prefer_passive_openmp(); print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stdout.strip() == "ACTIVE"
