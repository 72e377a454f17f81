"""A memory budget: large allocations are estimated and refused before they are made.

A typo such as an extra zero in a network size should end in one clear line, not in hours of
work followed by a ``MemoryError`` (or the operating system killing the process). Code that is
about to make a large allocation estimates its size and calls :func:`check_allocation`, which
raises :class:`~spikesub.models.errors.MemoryBudgetError` when the estimate is over the budget.

The budget, in order of precedence:

1. :func:`set_memory_budget` (the API; the command line's ``--memory-budget SIZE``);
2. the environment variable ``SPIKESUB_MEMORY_BUDGET`` (e.g. ``32G``, ``500M``, ``1048576``);
3. by default, :data:`DEFAULT_BUDGET_FRACTION` of the memory available when the check runs
   (:func:`available_memory_bytes`).

``none`` (or ``0``) means no limit. Sizes are parsed by :func:`parse_size`: a number of bytes,
optionally followed by ``K``, ``M``, ``G``, ``T`` or ``P`` (powers of 1024, with or without a
trailing ``B`` or ``iB``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from spikesub.models.errors import MemoryBudgetError

__all__ = [
    "BUDGET_ENV_VAR",
    "DEFAULT_BUDGET_FRACTION",
    "available_memory_bytes",
    "check_allocation",
    "format_bytes",
    "memory_budget",
    "memory_budget_bytes",
    "parse_size",
    "set_memory_budget",
]

BUDGET_ENV_VAR = "SPIKESUB_MEMORY_BUDGET"

DEFAULT_BUDGET_FRACTION = 0.8
"""Share of the available memory that one allocation may take by default.

Not all of it: the estimates cover the large arrays only, and a job also needs room for the
temporaries it makes around them, for the interpreter and its libraries, and for the page
cache that keeps the machine responsive. An estimate above 80 % of what is free is a job that
would swap or be killed, so it is refused; one below it gets the benefit of the doubt.
"""

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGTP]?)(?:I?B)?\s*$", re.IGNORECASE)
_NO_LIMIT_WORDS = ("none", "unlimited", "off")
_HOW_TO_RAISE = (
    f"raise it with --memory-budget SIZE or {BUDGET_ENV_VAR}=SIZE (e.g. 64G; 'none' for no limit)"
)

# The budget set with set_memory_budget: _UNSET (use the environment or the default), None (no
# limit) or a number of bytes.
_UNSET = object()
_override: object = _UNSET


# ----------------------------------------------------------------------------------------------
# Sizes


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` in binary units with three significant digits: ``"146 TiB"``, ``"512 B"``."""
    n = float(n_bytes)
    if not math.isfinite(n):
        return f"{n} B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(n) < 1024 or unit == "EiB":
            break
        n /= 1024
    if unit == "B":
        return f"{int(n)} B"
    return f"{n:.3g} {unit}" if abs(n) < 999.5 else f"{n:,.0f} {unit}"


def parse_size(text: str) -> int:
    """Bytes from a size written as ``"32G"``, ``"500M"``, ``"1.5GiB"``, ``"4096"``.

    Units ``K``, ``M``, ``G``, ``T``, ``P`` are powers of 1024; a trailing ``B`` or ``iB`` is
    allowed and case does not matter. ``"none"``, ``"unlimited"``, ``"off"`` and ``"0"`` mean no
    limit and return 0.

    Raises:
        ValueError: ``text`` is not such a size (the message shows what is accepted).
    """
    if not isinstance(text, str):
        raise TypeError(f"size must be a string such as '32G'; got {type(text).__name__}")
    if text.strip().lower() in _NO_LIMIT_WORDS:
        return 0
    match = _SIZE_PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"memory size {text!r} is not a size: write bytes, optionally with K, M, G, T or P "
            "(powers of 1024), e.g. 32G, 500M or 1048576, or 'none' for no limit"
        )
    number, unit = match.groups()
    n_bytes = int(float(number) * _UNITS[unit.upper()])
    return n_bytes if n_bytes or float(number) == 0 else 1  # a fraction of a byte is not "none"


# ----------------------------------------------------------------------------------------------
# Available memory


def _meminfo_available(path: Path = Path("/proc/meminfo")) -> int | None:
    """``MemAvailable`` of Linux's ``/proc/meminfo`` in bytes, or None."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes the process's memory cgroup (a container's limit) still allows, or None."""
    for limit_name, usage_name in (
        ("memory.max", "memory.current"),  # cgroup v2
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),  # cgroup v1
    ):
        try:
            limit_text = (root / limit_name).read_text().strip()
            usage = int((root / usage_name).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max":
            return None
        limit = int(limit_text)
        if limit >= 1 << 60:  # cgroup v1 writes "no limit" as a huge number
            return None
        return max(limit - usage, 0)
    return None


def _sysconf_available() -> int | None:
    """Free physical memory from ``os.sysconf`` (most Unix systems), or None."""
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages < 0 or page_size <= 0:
        return None
    return int(pages) * int(page_size)


def available_memory_bytes() -> int | None:
    """Memory a new allocation can get without swapping, in bytes (None when unknown).

    Linux's ``MemAvailable`` (free memory plus the caches the kernel can drop), capped by what a
    container's memory cgroup still allows; elsewhere the free physical pages that
    ``os.sysconf`` reports.
    """
    available = _meminfo_available()
    if available is None:
        available = _sysconf_available()
    headroom = _cgroup_headroom()
    if headroom is not None:
        available = headroom if available is None else min(available, headroom)
    return available


# ----------------------------------------------------------------------------------------------
# The budget


def _as_budget(name: str, value: int | float | str | None) -> int | None:
    """A budget in bytes (None: no limit) from bytes or a size string."""
    if isinstance(value, str):
        n_bytes = parse_size(value)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of bytes or a size such as '32G'; got {value!r}")
    elif not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a number of bytes >= 0; got {value}")
    else:
        n_bytes = int(value)
    return None if n_bytes == 0 else n_bytes


def set_memory_budget(budget: int | float | str | None) -> None:
    """Set the budget that :func:`check_allocation` enforces, for the whole process.

    Args:
        budget: bytes, or a size string (:func:`parse_size`); ``0`` or ``"none"`` for no limit;
            ``None`` to go back to the default (``SPIKESUB_MEMORY_BUDGET`` if set, else
            :data:`DEFAULT_BUDGET_FRACTION` of the available memory).
    """
    global _override
    _override = _UNSET if budget is None else _as_budget("memory budget", budget)


@contextmanager
def memory_budget(budget: int | float | str | None) -> Iterator[None]:
    """Within the block, the budget is ``budget`` (as :func:`set_memory_budget` takes it);
    the previous setting comes back afterwards."""
    global _override
    saved = _override
    set_memory_budget(budget)
    try:
        yield
    finally:
        _override = saved


def _budget_and_source() -> tuple[int | None, str]:
    """The budget in bytes (None: no limit) and where it comes from, in words."""
    if _override is not _UNSET:
        return _override, "set by --memory-budget / set_memory_budget"  # type: ignore[return-value]
    text = os.environ.get(BUDGET_ENV_VAR)
    if text is not None and text.strip():
        try:
            return _as_budget(BUDGET_ENV_VAR, text), f"{BUDGET_ENV_VAR}={text.strip()}"
        except ValueError as error:
            raise ValueError(f"{BUDGET_ENV_VAR}: {error}") from None
    available = available_memory_bytes()
    if available is None:
        return None, "no default: available memory unknown"
    fraction = f"{DEFAULT_BUDGET_FRACTION:.0%}"
    return int(available * DEFAULT_BUDGET_FRACTION), f"default: {fraction} of available memory"


def memory_budget_bytes() -> int | None:
    """The budget now in force, in bytes; None means no limit.

    Raises:
        ValueError: ``SPIKESUB_MEMORY_BUDGET`` holds something that is not a size.
    """
    return _budget_and_source()[0]


def check_allocation(
    what: str, n_bytes: float, *, parts: Mapping[str, float] | None = None
) -> None:
    """Refuse an allocation of about ``n_bytes`` bytes if it is over the memory budget.

    Args:
        what: what would be allocated, naming the arguments that set its size (it starts the
            error message), e.g. ``"recording buffers of run(duration_ms=1e12)"``.
        n_bytes: its estimated size in bytes (a float is fine: estimates of absurd sizes do
            not fit in 64 bits).
        parts: optionally, the estimate's parts in bytes by name; the message ends with them,
            largest first (after the budget and how to raise it, should a caller shorten it).

    Raises:
        MemoryBudgetError: over the budget; the one-line message gives the estimate, the
            budget, the available memory and how to raise the budget.
        ValueError: ``SPIKESUB_MEMORY_BUDGET`` holds something that is not a size.
    """
    n = float(n_bytes)
    if math.isnan(n) or n < 0:
        raise ValueError(f"n_bytes must be a size >= 0; got {n_bytes!r} for {what}")
    budget, source = _budget_and_source()
    if budget is None or n <= budget:
        return
    available = available_memory_bytes()
    free = "unknown" if available is None else format_bytes(available)
    by_part = ""
    if parts:
        largest_first = sorted(parts.items(), key=lambda item: -item[1])
        by_part = "; by part: " + ", ".join(f"{k} {format_bytes(v)}" for k, v in largest_first)
    raise MemoryBudgetError(
        f"{what} would need about {format_bytes(n)}, over the memory budget of "
        f"{format_bytes(budget)} ({source}; {free} available); {_HOW_TO_RAISE}, or use "
        f"smaller sizes{by_part}",
        what=what,
        n_bytes=int(min(math.ceil(n), 2**63 - 1)),  # whole bytes, rounded up
        budget_bytes=budget,
    )
