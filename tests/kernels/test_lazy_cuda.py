"""numba.cuda is imported when CUDA is first used, and the kernels then work as before."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spikesub.kernels import lazy_cuda


def _run_without_simulator(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_cpu_simulation_never_imports_numba_cuda():
    code = (
        "import sys, spikesub as ss\n"
        "print('numba.cuda' in sys.modules)\n"
        "r = ss.IzhikevichReservoir.izhikevich_2003(80, 20, backend='auto')\n"
        "r.run(5.0)\n"
        "print(r.backend, 'numba.cuda' in sys.modules)\n"
    )
    if _driver_installed():
        pytest.skip("an NVIDIA driver is installed: 'auto' looks for a GPU through numba.cuda")
    assert _run_without_simulator(code).splitlines() == ["False", "numba False"]


def _driver_installed() -> bool:
    from spikesub.kernels.backends import nvidia_driver_present

    return nvidia_driver_present()


@pytest.mark.cuda
def test_activation_puts_numbas_objects_in_place_of_the_stand_ins():
    from spikesub.kernels import izhikevich, network, rng

    real = lazy_cuda.activate()
    assert network.cuda is real and rng.cuda is real
    for kernel in (izhikevich.izhikevich2003_scalar_cuda, rng._mix_cuda, network._cuda_sample):
        assert not isinstance(kernel, lazy_cuda.LazyKernel)
    assert lazy_cuda.activate() is real  # idempotent


def test_a_stand_in_refuses_an_eager_signature():
    if lazy_cuda.active():
        pytest.skip("numba.cuda is active in this process: jit is Numba's own")
    with pytest.raises(TypeError, match="no signature"):
        lazy_cuda.cuda.jit("void(float32[:])")
