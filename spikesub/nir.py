"""NIR (Neuromorphic Intermediate Representation) export and import of spiking models.

:func:`export` writes a model of spikesub layers (or a swapped snnTorch model) as an
``nir.NIRGraph``, :func:`load` builds spikesub layers from one (or from an NIR file),
:func:`export_reservoir` writes an LIF reservoir with its recurrent synapses. The mapping of
``beta`` to NIR's ``tau``, ``r`` and ``v_leak``, the ``dt`` assumed and the supported models
are documented in :mod:`spikesub.models.snn.nir`. Write and read files with ``nir.write`` and
:func:`read` (``nir.read`` with a clear error for a missing or corrupt file).
"""

from __future__ import annotations

from spikesub.models.snn.nir import (
    DEFAULT_DT_MS,
    LastMembrane,
    LeakyIntegrator,
    PerStep,
    SpikeCount,
    export,
    export_reservoir,
    load,
    read,
)

__all__ = [
    "DEFAULT_DT_MS",
    "LastMembrane",
    "LeakyIntegrator",
    "PerStep",
    "SpikeCount",
    "export",
    "export_reservoir",
    "load",
    "read",
]
