"""Launch configuration shared by the CUDA kernels."""

from __future__ import annotations

THREADS_PER_BLOCK = 128


def array_length(array) -> int:
    """First dimension of a NumPy array, a device array or a ``__cuda_array_interface__``."""
    shape = getattr(array, "shape", None)
    if shape is None:
        shape = array.__cuda_array_interface__["shape"]
    return int(shape[0])
