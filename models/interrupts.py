"""Ctrl-C while compiled code runs.

A SIGINT that arrives while a Numba kernel runs is only seen by Python when control comes
back to the interpreter, which may be inside one of Numba's own callbacks: the
``KeyboardInterrupt`` then surfaces there and Numba turns it into a ``SystemError`` traceback,
with the simulation's state half updated. :func:`deferred_interrupt` holds the interrupt back
until the compiled call has returned and the state is consistent, then raises
``KeyboardInterrupt`` from plain Python code, where the job's handlers can save what was done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["deferred_interrupt"]


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back while the block runs; raise ``KeyboardInterrupt`` once it has ended.

    Only the main thread receives signals: elsewhere, or when SIGINT is not Python's default
    handler (an application installed its own, or it is ignored), the block runs unguarded.
    """
    guard = threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if not guard:
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt
