"""The argument checks of spikesub.models.validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesub.models.validation import (
    as_real_array,
    check_bool,
    check_choice,
    check_finite_array,
    check_index_array,
    check_int,
    check_not_empty,
    check_real,
    first_nonfinite,
    format_index,
)

# -- scalars ----------------------------------------------------------------------------------


def test_check_int_accepts_python_and_numpy_integers():
    assert check_int("n", 3) == 3
    assert check_int("n", np.int64(3), minimum=1, maximum=3) == 3
    assert type(check_int("n", np.uint8(7))) is int


@pytest.mark.parametrize("value", [1.5, 2.0, True, "3", None, np.float64(2.0)])
def test_check_int_refuses_other_types_naming_the_argument(value):
    with pytest.raises(TypeError, match=r"^n_inputs must be an integer >= 1; got"):
        check_int("n_inputs", value, minimum=1)


@pytest.mark.parametrize(
    "value, bounds, allowed",
    [
        (0, {"minimum": 1}, ">= 1"),
        (10, {"maximum": 9}, "<= 9"),
        (-1, {"minimum": 0, "maximum": 5}, r"in \[0, 5\]"),
    ],
)
def test_check_int_refuses_values_out_of_range(value, bounds, allowed):
    with pytest.raises(ValueError, match=rf"^k must be an integer {allowed}; got {value}$"):
        check_int("k", value, **bounds)


def test_check_real_bounds_and_openness():
    assert check_real("lr", 1, low=0.0, low_open=True) == 1.0
    assert check_real("lr", np.float32(0.5), low=0.0, high=1.0) == 0.5
    with pytest.raises(ValueError, match=r"lr must be a finite number in \(0, 1\]; got 0.0"):
        check_real("lr", 0.0, low=0.0, high=1.0, low_open=True)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        check_real("p", 1.0, low=0.0, high=1.0, high_open=True)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400])
def test_check_real_refuses_non_finite_and_unrepresentable(value):
    with pytest.raises(ValueError, match="^alpha must be a finite number"):
        check_real("alpha", value)


@pytest.mark.parametrize("value", [True, "1.0", None, [1.0], 1j])
def test_check_real_refuses_other_types(value):
    with pytest.raises(TypeError, match="^alpha must be a real number"):
        check_real("alpha", value)


def test_check_bool_and_check_choice():
    assert check_bool("bias", np.bool_(True)) is True
    with pytest.raises(TypeError, match="bias must be True or False; got 1"):
        check_bool("bias", 1)
    assert check_choice("post", "none", ("none", "output")) == "none"
    with pytest.raises(ValueError, match=r"post must be one of \('none', 'output'\); got 'pre'"):
        check_choice("post", "pre", ("none", "output"))
    with pytest.raises(TypeError, match="post must be a string"):
        check_choice("post", ["none"], ("none", "output"))


# -- arrays -----------------------------------------------------------------------------------


def test_format_index():
    assert format_index("traces", (3, 17)) == "traces[3, 17]"
    assert format_index("x", ()) == "x"


def test_as_real_array_converts_integers_and_refuses_the_rest():
    assert as_real_array("x", [1, 2]).dtype == np.float64
    floats = np.zeros(3, np.float32)
    assert as_real_array("x", floats) is floats
    with pytest.raises(TypeError, match="x must be a real-valued array; got dtype <U1"):
        as_real_array("x", ["a"])
    with pytest.raises(TypeError, match="x must be a real-valued array"):
        as_real_array("x", [[1.0], [1.0, 2.0]])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_array_names_the_first_bad_index(bad):
    traces = np.zeros((5, 20))
    traces[3, 17] = bad
    traces[4, 0] = np.nan
    assert first_nonfinite(traces) == (3, 17)
    with pytest.raises(ValueError, match=rf"traces\[3, 17\] is {bad!r}"):
        check_finite_array("traces", traces)


def test_check_finite_array_passes_finite_arrays_whose_sum_overflows():
    big = np.full(4, np.finfo(np.float64).max)
    assert first_nonfinite(big) is None
    np.testing.assert_array_equal(check_finite_array("x", big), big)
    assert first_nonfinite(np.arange(3)) is None  # integers are finite


def test_check_finite_array_context():
    with pytest.raises(ValueError, match=r"x\[1\] is nan \(task 2\)"):
        check_finite_array("x", [0.0, np.nan], where="task 2")


def test_check_not_empty():
    check_not_empty("traces", np.zeros((1, 0)))
    with pytest.raises(ValueError, match=r"traces is empty: it has no time steps \(axis 0"):
        check_not_empty("traces", np.zeros((0, 4)), what="time steps")
    with pytest.raises(ValueError, match="axis 1"):
        check_not_empty("x", np.zeros(3), axis=1)
    with pytest.raises(ValueError, match="x is empty"):
        check_not_empty("x", torch.zeros(2, 0), axis=-1)


def test_check_index_array_accepts_integers_in_range():
    idx = check_index_array("record_indices", [0, 4, 2], 5)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [0, 4, 2])
    assert check_index_array("i", [], 5, allow_empty=True).size == 0


@pytest.mark.parametrize(
    "values, error, match",
    [
        ([1.5], TypeError, r"record_indices\[0\] is 1.5"),
        ([0, 2.0], TypeError, r"record_indices\[1\] is 2.0"),
        ([True], TypeError, r"record_indices\[0\] is True"),
        (["a"], TypeError, "must hold integers"),
        ([0, 5], ValueError, r"indices in \[0, 4\]; record_indices\[1\] is 5"),
        ([-1], ValueError, r"record_indices\[0\] is -1"),
        ([10**30], ValueError, r"record_indices\[0\] is 10{30}"),
        ([], ValueError, "record_indices is empty"),
    ],
)
def test_check_index_array_refuses(values, error, match):
    with pytest.raises(error, match=match):
        check_index_array("record_indices", values, 5)
