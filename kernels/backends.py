"""Backend names and GPU detection.

Backends are chosen by name: ``"numpy"`` (reference, vectorised NumPy),
``"numba"`` (Numba CPU, compiled and multi-threaded) and ``"cuda"`` (Numba CUDA).
``"auto"`` picks ``"cuda"`` when a real GPU is present, else ``"numba"``.
"""

from __future__ import annotations

import ctypes
import os

from spikesub.kernels.errors import SpikesubError

BACKENDS: tuple[str, ...] = ("numpy", "numba", "cuda")
BACKEND_CHOICES: tuple[str, ...] = ("auto", *BACKENDS)


class BackendUnavailableError(SpikesubError, RuntimeError):
    """A backend was asked for by name but cannot run on this machine."""


def cuda_simulator_enabled() -> bool:
    """True when Numba's CUDA simulator is switched on (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def nvidia_driver_present() -> bool:
    """True when the NVIDIA driver library loads: the cheap test, before ``numba.cuda`` is
    imported (which costs a quarter of a second), of whether a GPU may be there at all."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll", "libcuda.dylib"):
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def cuda_available() -> bool:
    """True when CUDA kernels can run: a real GPU with a driver, or the CUDA simulator.

    Without the simulator and without an NVIDIA driver this answers without importing
    ``numba.cuda``, so a CPU-only machine never pays for it.
    """
    if not cuda_simulator_enabled() and not nvidia_driver_present():
        return False
    try:
        from spikesub.kernels.lazy_cuda import activate

        cuda = activate()
    except ImportError:  # numba-cuda not installed
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install counts as no GPU
        return False


def gpu_present() -> bool:
    """True only for a real GPU (the CUDA simulator does not count)."""
    return cuda_available() and not cuda_simulator_enabled()


def resolve_backend(backend: str, supported: tuple[str, ...] = BACKENDS) -> str:
    """Turn a backend name into one of ``supported`` (a subset of :data:`BACKENDS`).

    The one resolver of the toolkit: the reservoir takes every backend, the readouts and the
    FORCE loop ``("numpy", "numba")``. ``"auto"`` is ``"cuda"`` when a real GPU is present and
    CUDA is supported, else ``"numba"`` (else the first supported backend).

    Raises:
        TypeError: ``backend`` is not a string.
        ValueError: ``backend`` is not ``"auto"`` nor one of ``supported``.
        BackendUnavailableError: ``"cuda"`` was asked for and no GPU (nor the simulator) is present.
    """
    choices = ("auto", *supported)
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, one of {choices}; got {backend!r}")
    name = backend.lower()
    if name not in choices:
        raise ValueError(f"backend must be one of {choices}; got {backend!r}")
    if name == "auto":
        if "cuda" in supported and gpu_present():
            return "cuda"
        return "numba" if "numba" in supported else supported[0]
    if name == "cuda" and not cuda_available():
        raise BackendUnavailableError(
            "backend='cuda' needs an NVIDIA GPU with a working CUDA driver, and none was found; "
            "use backend='numba' (compiled CPU kernels) or backend='auto' "
            "(for testing CUDA kernels without a GPU, set NUMBA_ENABLE_CUDASIM=1)"
        )
    return name
