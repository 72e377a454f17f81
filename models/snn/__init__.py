"""Spiking layers for PyTorch on fused Numba / CUDA kernels, compatible with snnTorch.

The neuron is snnTorch's ``Leaky``: leaky integrate-and-fire with reset by subtraction or to
zero and a surrogate gradient of the spike (the equations are in
:mod:`~spikesub.models.snn.functional`). The package, split as Norse splits its functional
and module layers:

* :mod:`~spikesub.models.snn.surrogate`: surrogate gradients registered by name
  (:data:`surrogates`, :func:`register_surrogate`) and the spike function;
* :mod:`~spikesub.models.snn.functional`: :func:`lif_sequence`, the whole sequence in one
  call (Numba on CPU tensors, Numba CUDA on CUDA tensors, or the PyTorch reference loop), and
  its autograd function :class:`LIFSequenceFunction`;
* :mod:`~spikesub.models.snn.products`: the layers' products, dense through oneDNN
  (:func:`dense_linear`) and event-driven for spike inputs (:func:`event_linear`,
  :class:`EventLinear`);
* :mod:`~spikesub.models.snn.layers`: :class:`LIF`, :class:`SpikingLinear`,
  :class:`SpikingConv2d` and the readouts :func:`spike_count`, :func:`spike_rate`,
  :func:`last_membrane`;
* :mod:`~spikesub.models.snn.snntorch_interop`: :func:`from_snntorch_leaky`,
  :class:`LeakyStep` and :func:`swap_snntorch_leaky`;
* :mod:`~spikesub.models.snn.encoders`: spike encoders (direct, Poisson, latency);
* :mod:`~spikesub.models.snn.validation`: the argument checks these modules share.

Every public name is importable from here (``from spikesub.models.snn import LIF``). Nothing
is imported with the package: each name loads its module on first use, so the encoders and
the argument checks need torch only, and the layers load the Numba kernels when first used.
"""

from __future__ import annotations

from spikesub.kernels.lazy_exports import lazy_getattr

# Every public name and the module it comes from.
_EXPORTS: dict[str, str] = {
    "BUILTIN_SURROGATES": "surrogate",
    "SurrogateFn": "surrogate",
    "register_surrogate": "surrogate",
    "surrogates": "surrogate",
    "LARGE_OUTPUT_BYTES": "functional",
    "LIFSequenceFunction": "functional",
    "LIF_BACKENDS": "functional",
    "RESET_MODES": "functional",
    "lif_sequence": "functional",
    "DenseLinearFunction": "products",
    "EVENT_DENSITY_MAX": "products",
    "EVENT_INPUT_CHOICES": "products",
    "EventLinear": "products",
    "EventLinearFunction": "products",
    "dense_linear": "products",
    "event_linear": "products",
    "LIF": "layers",
    "MAX_CONV_SIZE": "layers",
    "OUTPUT_CHOICES": "layers",
    "SpikingConv2d": "layers",
    "SpikingLinear": "layers",
    "last_membrane": "layers",
    "spike_count": "layers",
    "spike_rate": "layers",
    "LeakyStep": "snntorch_interop",
    "from_snntorch_leaky": "snntorch_interop",
    "swap_snntorch_leaky": "snntorch_interop",
    "MAX_STEPS": "validation",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*__all__, *globals()})
