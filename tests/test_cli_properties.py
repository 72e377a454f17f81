"""Generated bad values thrown at every command's options: one error line and status 2, always.

Each option gets values that are wrong for it (negative counts, NaN, infinities, numbers too
large for the machine, text where a number belongs); whatever hypothesis picks, the command
must stop with status 2 and an ``error:`` line, never a traceback and never a run.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesub.cli import main

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NOT_A_NUMBER = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="0123456789.-+eE_ "), min_size=1
).filter(lambda s: not s.startswith("-"))
NEGATIVE_INT = st.integers(max_value=-1).map(str)
HUGE_INT = st.integers(min_value=10**13, max_value=10**40).map(str)
NON_FINITE = st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity"])


def real_outside(low: float, high: float) -> st.SearchStrategy[str]:
    """Reals outside [low, high], as text."""
    below = st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False)
    above = st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False)
    return st.one_of(below, above).filter(math.isfinite).map(repr)


def count(maximum: int | None = None) -> st.SearchStrategy[str]:
    """Bad values of an integer count option: negative, too large, not a number, a float."""
    options = [NEGATIVE_INT, NOT_A_NUMBER, st.sampled_from(["1.5", "2e3", "0x10"])]
    if maximum is not None:
        options.append(st.integers(min_value=maximum + 1, max_value=10**40).map(str))
    return st.one_of(*options)


def positive_real(maximum: float = math.inf) -> st.SearchStrategy[str]:
    bad = [NON_FINITE, NOT_A_NUMBER, st.floats(max_value=0.0, allow_nan=False).map(repr)]
    if math.isfinite(maximum):
        bad.append(st.floats(min_value=maximum, exclude_min=True, allow_nan=False).map(repr))
    return st.one_of(*bad)


SIMULATE = {
    "--n-exc": count(),
    "--n-inh": count(),
    "--p": st.one_of(real_outside(0.0, 1.0), NON_FINITE, NOT_A_NUMBER),
    "--in-degree": st.one_of(NEGATIVE_INT, st.integers(1001, 10**12).map(str), NOT_A_NUMBER),
    "--noise-exc": st.one_of(st.floats(max_value=-1e-9).map(repr), NON_FINITE),
    "--noise-inh": st.one_of(st.floats(max_value=-1e-9).map(repr), NON_FINITE),
    "--duration-ms": st.one_of(positive_real(), st.sampled_from(["1e300", "1e25"])),
    "--dt-ms": st.one_of(positive_real(), st.sampled_from(["1e-300", "1e-9", "5e-324"])),
    "--backend": NOT_A_NUMBER.filter(lambda s: s.lower() not in ("auto", "numpy", "numba")),
    "--dtype": NOT_A_NUMBER.filter(lambda s: s not in ("float32", "float64")),
    "--seed": st.one_of(NEGATIVE_INT, st.integers(2**64, 10**40).map(str), NOT_A_NUMBER),
    "--traces": count(),
    "--threads": count(),
    "--memory-budget": NOT_A_NUMBER.filter(lambda s: s.strip().lower() not in ("none", "")),
    # inf is valid here: no periodic checkpoints
    "--checkpoint-every-s": st.one_of(
        st.sampled_from(["nan", "-inf"]), NOT_A_NUMBER, st.floats(max_value=0.0).map(repr)
    ),
}

WHATWHEN = {
    "--n-neurons": st.one_of(count(), st.integers(-5, 9).map(str)),
    "--seed": st.one_of(NEGATIVE_INT, st.integers(2**64, 10**40).map(str)),
    "--backend": NOT_A_NUMBER.filter(lambda s: s.lower() not in ("auto", "numpy", "numba")),
    "--threads": count(),
}

CONTINUAL = {
    "--seed": st.one_of(NEGATIVE_INT, st.integers(2**64, 10**40).map(str), NOT_A_NUMBER),
    "--epochs": st.one_of(count(), st.just("0")),
    "--batch-size": st.one_of(count(), st.just("0")),
    "--lr": positive_real(),
    "--momentum": st.one_of(real_outside(0.0, 1.0), st.just("1.0"), NON_FINITE),
    "--steps": st.one_of(count(), st.just("0"), st.integers(10**9, 10**12).map(str)),
    "--hidden": st.one_of(
        st.sampled_from(["0", "-5", "a,b", ",", "800,x", "1e12", "100000000,100000000"])
    ),
    "--beta": st.one_of(real_outside(0.0, 1.0), NON_FINITE),
    "--max-train": st.one_of(count(), st.just("0")),
    "--validation": st.one_of(real_outside(0.0, 1.0), st.just("1.0"), NON_FINITE),
    "--n-tasks": st.one_of(count(), st.just("0"), st.integers(6, 10**6).map(str)),
    "--ewc-lambda": st.one_of(st.floats(max_value=-1e-9).map(repr), st.just("nan")),
    "--gpm-threshold": st.one_of(real_outside(0.0, 1.0), st.sampled_from(["0", "1"]), NOT_A_NUMBER),
    "--hlop-threshold": st.one_of(
        real_outside(0.0, 1.0), st.sampled_from(["0", "1"]), NOT_A_NUMBER
    ),
    "--hlop-k": st.one_of(NEGATIVE_INT, NOT_A_NUMBER, st.just("0")),
    "--hlop-epochs": st.one_of(NEGATIVE_INT, NOT_A_NUMBER, st.just("0")),
    "--hlop-record": st.one_of(NEGATIVE_INT, NOT_A_NUMBER, st.just("0")),
    "--hlop-lr": positive_real(),
    "--option": st.one_of(
        NOT_A_NUMBER.filter(lambda s: "=" not in s),
        st.sampled_from(
            [
                "=1",
                "orthonormalise=banana",
                "orthonormalise=1",
                "samples=1.5",
                "no_such_option=1",
                "lr=[1,2]",
                "threshold=NaN",
            ]
        ),
    ),
    "--threads": count(),
}

COMMANDS = {"simulate": SIMULATE, "whatwhen": WHATWHEN, "continual": CONTINUAL}
CASES = [(command, option) for command, options in COMMANDS.items() for option in options]


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:  # argparse's usage errors
        return int(stop.code)


@pytest.mark.parametrize(("command", "option"), CASES, ids=[f"{c} {o}" for c, o in CASES])
def test_bad_option_values_end_in_one_error_line(command, option, tmp_path_factory, capsys):
    strategy = COMMANDS[command][option]

    @SETTINGS
    @given(value=strategy)
    def check(value: str) -> None:
        out = tmp_path_factory.mktemp("run")
        extra = ["--quick", "--no-plots"] if command == "continual" else []
        extra += ["--quick"] if command == "whatwhen" else []
        argv = [command, f"{option}={value}", "--out", str(out / "r"), "--quiet", *extra]
        status = _run(argv)
        err = capsys.readouterr().err
        assert status == 2, (argv, err)
        assert "Traceback" not in err, (argv, err)
        last = err.strip().splitlines()[-1]
        assert f"spikesub {command}: error: " in last or "error: argument" in last, (argv, err)
        assert not (out / "r" / "metrics.json").exists()

    check()
