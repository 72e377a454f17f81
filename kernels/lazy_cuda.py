"""``numba.cuda``, imported when CUDA is first used rather than when spikesub is imported.

Importing ``numba.cuda`` costs a quarter of a second and looks for a driver, which a machine
without a GPU should not pay for a CPU simulation or for ``spikesub --help``. The kernel modules
therefore import ``cuda`` from here instead of from Numba: a stand-in whose ``jit`` records
the function and its options, and whose other attributes (``to_device``, ``device_array``,
...) import Numba's CUDA module on first use.

The first time any CUDA kernel is launched or any CUDA function is called, :func:`activate`
imports ``numba.cuda``, compiles every recorded function into a real dispatcher (in the order
they were defined, so device functions come before the kernels that call them) and puts the
dispatchers and the real module in place of the stand-ins in every ``spikesub`` module's
namespace. A kernel body that calls a device function or ``cuda.grid`` then finds Numba's own
objects when Numba compiles it, as it would with a plain ``from numba import cuda``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["activate", "active", "cuda"]

_lock = threading.RLock()
_pending: list[LazyKernel] = []
_real: Any = None


class LazyKernel:
    """A function waiting to be compiled by ``numba.cuda.jit(**options)``."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = fn
        self.options = options
        self.dispatcher: Any = None
        self.__name__ = getattr(fn, "__name__", "kernel")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__module__ = getattr(fn, "__module__", __name__)

    def _compiled(self) -> Any:
        activate()
        return self.dispatcher

    def __getitem__(self, launch: Any) -> Any:  # kernel[blocks, threads](...)
        return self._compiled()[launch]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiled()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._compiled(), name)

    def __repr__(self) -> str:
        state = "compiled" if self.dispatcher is not None else "not compiled yet"
        return f"<CUDA kernel {self.__name__} ({state})>"


class _LazyCudaModule:
    """Stands for ``numba.cuda`` until :func:`activate` replaces it."""

    def jit(self, fn: Callable[..., Any] | None = None, **options: Any) -> Any:
        """``cuda.jit``, ``cuda.jit(device=True)`` or ``cuda.jit(**options)(fn)``."""
        if _real is not None:
            return _real.jit(fn, **options) if fn is not None else _real.jit(**options)
        if isinstance(fn, str) or (fn is not None and not callable(fn)):
            raise TypeError("spikesub's lazy cuda.jit takes no signature; compile lazily")

        def record(function: Callable[..., Any]) -> LazyKernel:
            kernel = LazyKernel(function, options)
            with _lock:
                _pending.append(kernel)
            return kernel

        return record(fn) if fn is not None else record

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(activate(), name)

    def __repr__(self) -> str:
        return "<numba.cuda, imported on first use>"


cuda = _LazyCudaModule()


def active() -> bool:
    """Has ``numba.cuda`` been imported and the kernels compiled into dispatchers?"""
    return _real is not None


def activate() -> Any:
    """Import ``numba.cuda``, make every recorded kernel a dispatcher and put the real objects
    in place of the stand-ins in spikesub's modules; returns ``numba.cuda``. Idempotent."""
    global _real
    with _lock:
        if _real is not None:
            return _real
        from numba import cuda as real

        replacements: dict[int, Any] = {id(cuda): real}
        for kernel in _pending:
            kernel.dispatcher = real.jit(**kernel.options)(kernel.py_func)
            replacements[id(kernel)] = kernel.dispatcher
        _replace_in_modules(replacements)
        _real = real
        return real


def _replace_in_modules(replacements: dict[int, Any]) -> None:
    """Swap stand-ins for the real objects in the namespaces of spikesub's loaded modules."""
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("spikesub"):
            continue
        namespace = vars(module)
        for key, value in list(namespace.items()):
            real = replacements.get(id(value))
            if real is not None:
                namespace[key] = real
