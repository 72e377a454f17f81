"""Argument checks shared by the models and the package.

Every check takes its arguments in one order, ``(name, value, ...)``: ``name`` is the
argument's name as the caller wrote it (``"traces"``, ``"record_indices"``,
``"batches[3]"``), and every message starts with it and says what is allowed. A value of the
wrong type raises :class:`TypeError`, a value of the right type but outside what is allowed
raises :class:`ValueError`; an array's message names its first bad element
(``"traces[3, 17] is nan"``).

This module depends on NumPy only; the checks of torch tensors that the spiking layers use
live in :mod:`spikesub.models.snn.validation`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_dtype",
    "as_real_array",
    "check_bool",
    "check_choice",
    "check_finite_array",
    "check_index_array",
    "check_int",
    "check_not_empty",
    "check_real",
    "first_nonfinite",
    "format_index",
    "size_in_bytes",
]


# ---------------------------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------------------------


def _range_text(
    low: float | None, high: float | None, low_open: bool = False, high_open: bool = False
) -> str:
    """``"[0, 1)"``-style text of an interval; a missing bound is infinite."""
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as a Python int within ``[minimum, maximum]`` (a missing bound: none).

    Python and NumPy integers are accepted; ``bool`` and floats (even ``2.0``) are not.

    Raises:
        TypeError: ``value`` is not an integer.
        ValueError: it lies outside the bounds.
    """
    allowed = f"{name} must be an integer {_int_range(minimum, maximum)}".rstrip()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{allowed}; got {value!r} ({type(value).__name__})")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(f"{allowed}; got {number}")
    return number


def _int_range(minimum: int | None, maximum: int | None) -> str:
    """``">= 1"``, ``"<= 9"``, ``"in [1, 9]"`` or ``""`` for the bounds of an integer."""
    if maximum is None:
        return "" if minimum is None else f">= {minimum}"
    return f"<= {maximum}" if minimum is None else f"in [{minimum}, {maximum}]"


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the given bounds.

    ``low`` / ``high`` of None mean no bound; ``low_open`` / ``high_open`` exclude the bound
    itself. Python and NumPy reals are accepted (integers included), ``bool`` is not.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: it is NaN, infinite or outside the bounds.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = float("inf") if value > 0 else float("-inf")
    bad = not np.isfinite(number)
    if low is not None:
        bad = bad or (number <= low if low_open else number < low)
    if high is not None:
        bad = bad or (number >= high if high_open else number > high)
    if bad:
        allowed = _range_text(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number in {allowed}; got {value!r}")
    return number


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool (Python or NumPy bool only); TypeError otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value``, one of the strings ``choices``.

    Raises:
        TypeError: ``value`` is not a string.
        ValueError: it is not one of ``choices``.
    """
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a string, one of {tuple(choices)}; got {value!r} "
            f"({type(value).__name__})"
        )
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def as_dtype(name: str, value: Any) -> np.dtype:
    """``value`` as a NumPy dtype; TypeError naming ``name`` for anything NumPy cannot read as
    one (NumPy itself raises TypeError, ValueError or even SyntaxError for odd strings)."""
    try:
        return np.dtype(value)
    except (TypeError, ValueError, SyntaxError):
        raise TypeError(
            f"{name} must be a NumPy dtype such as float32 or float64; got {value!r}"
        ) from None


def size_in_bytes(*factors: int | float) -> float:
    """The product of sizes (and an item size) as a float for a memory check; an absurd
    product is capped at ``1e300`` bytes, so it compares as huge instead of overflowing."""
    product = 1
    for factor in factors:
        product *= int(factor)
    return float(min(product, 10**300))


# ---------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------


def format_index(name: str, index: tuple[int, ...]) -> str:
    """``"traces[3, 17]"`` from ``("traces", (3, 17))``; ``name`` alone for a 0-d index."""
    if not index:
        return name
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def as_real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a NumPy array of real numbers: floating arrays as they are, integer and
    bool arrays as float64.

    Raises:
        TypeError: ``value`` is not array-like, ragged, or not real-valued (strings, complex,
            objects).
    """
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"{name} must be a real-valued array; got {type(value).__name__} ({error})"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real-valued array; got dtype {array.dtype}")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    return array


def first_nonfinite(array: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN or infinite element of ``array`` (C order), or None.

    Costs one reduction when every element is finite (a finite sum proves it, since NaN and
    inf propagate); the element-wise scan only runs when the sum is not finite.
    """
    if array.dtype.kind not in "fc" or array.size == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(array.sum()):
            return None
    finite = np.isfinite(array)
    if finite.all():
        return None  # the sum overflowed; every element is finite
    flat = int(np.argmin(finite.ravel()))
    return tuple(int(i) for i in np.unravel_index(flat, array.shape))


def check_finite_array(name: str, array: Any, *, where: str = "") -> np.ndarray:
    """``array`` (as a real NumPy array, see :func:`as_real_array`) if every element is finite.

    Args:
        name: the argument's name, used in the message.
        array: any real array-like.
        where: optional context appended to the message (e.g. ``"task 2, layer 'fc1'"``).

    Raises:
        TypeError: not a real-valued array.
        ValueError: an element is NaN or infinite; the message names the first one, e.g.
            ``"traces contains a non-finite value: traces[3, 17] is nan; ..."``.
    """
    values = as_real_array(name, array)
    index = first_nonfinite(values)
    if index is not None:
        context = f" ({where})" if where else ""
        raise ValueError(
            f"{name} contains a non-finite value: {format_index(name, index)} is "
            f"{_plain(values[index])!r}{context}; every value must be finite (no NaN or inf)"
        )
    return values


def check_not_empty(name: str, array: Any, axis: int = 0, *, what: str = "entries") -> None:
    """Refuse an array with no elements along ``axis``.

    Args:
        name: the argument's name.
        array: anything with a ``shape`` (NumPy array, torch tensor) or array-like.
        axis: the axis that must not be empty.
        what: what the axis counts, for the message (``"time steps"``, ``"rows"``).

    Raises:
        ValueError: ``array`` has fewer than ``axis + 1`` dimensions or none along ``axis``.
    """
    shape = tuple(getattr(array, "shape", np.shape(array)))
    if len(shape) <= axis or axis < -len(shape):
        raise ValueError(f"{name} needs an axis {axis} of {what}; got shape {shape}")
    if shape[axis] == 0:
        raise ValueError(
            f"{name} is empty: it has no {what} (axis {axis} of shape {shape}); at least one "
            f"is needed"
        )


def check_index_array(
    name: str, values: Any, size: int, *, allow_empty: bool = False
) -> np.ndarray:
    """``values`` as a 1-D int64 array of indices into ``range(size)``.

    Only integers are accepted: ``1.5`` (or ``1.0``) is refused, as is a bool. The message
    names the first bad element, e.g. ``"record_indices[0] is 1.5"``.

    Raises:
        TypeError: an element is not an integer.
        ValueError: an index lies outside ``[0, size - 1]``, or ``values`` is empty and
            ``allow_empty`` is False.
    """
    try:
        flat = np.asarray(values).reshape(-1)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"{name} must be a sequence of integers; got {type(values).__name__} ({error})"
        ) from None
    if flat.size == 0:
        if not allow_empty:
            raise ValueError(f"{name} is empty; give at least one index in [0, {size - 1}]")
        return np.zeros(0, np.int64)
    if flat.dtype.kind not in "iu":
        flat = _integers_from_items(name, values, flat, size)
    out_of_range = (flat < 0) | (flat >= size)
    if out_of_range.any():
        bad = int(np.argmax(out_of_range))
        raise ValueError(
            f"{name} must hold indices in [0, {size - 1}]; "
            f"{format_index(name, (bad,))} is {int(flat[bad])}"
        )
    return flat.astype(np.int64)


def _integers_from_items(name: str, values: Any, flat: np.ndarray, size: int) -> np.ndarray:
    """The elements of a non-integer array (bool, float, object...) as int64, if every one is
    a Python or NumPy integer in ``[0, size - 1]``; else the error naming the first that is
    not. A flat list or tuple is read as given (``[0, 2.0]`` names ``2.0``, not ``0``)."""
    flat_sequence = isinstance(values, (list, tuple)) and len(values) == flat.size
    items = list(values) if flat_sequence else flat.tolist()
    for i, item in enumerate(items):
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Integral):
            raise TypeError(
                f"{name} must hold integers (indices in [0, {size - 1}]); "
                f"{format_index(name, (i,))} is {_plain(item)!r}"
            )
        if not 0 <= item < size:
            raise ValueError(
                f"{name} must hold indices in [0, {size - 1}]; "
                f"{format_index(name, (i,))} is {int(item)}"
            )
    return np.asarray(items, dtype=np.int64)


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python scalar it holds (for messages: ``1.5``, not
    ``np.float64(1.5)``)."""
    return value.item() if isinstance(value, np.generic) else value
