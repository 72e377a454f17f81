"""The event-data training job (``spikesub eventtrain``): a recurrent LIF network on SHD, a
spiking convolutional network on N-MNIST or DVS Gesture.

:class:`EventTrainConfig` says what to run, :func:`spikesub.eventtrain.run.run` trains into a
run folder (config.json, metrics.json, checkpoint while it runs), :func:`plot` draws the
learning curves from the folder::

    from spikesub.eventtrain import EventTrainConfig, plot
    from spikesub.eventtrain.run import run

    run_dir = run(EventTrainConfig(dataset="shd", quick=True), "runs/shd-quick")
    plot(run_dir)

The configuration imports nothing heavy; the run module loads torch and tonic.
"""

from __future__ import annotations

from spikesub.eventtrain.config import EventTrainConfig
from spikesub.kernels.lazy_exports import lazy_getattr

# the figures module imports matplotlib (a third of a second): loaded on first use, so that
# ``spikesub --help``, which imports every job's configuration, stays fast
_EXPORTS = {"plot": "spikesub.eventtrain.figures"}

__all__ = ["EventTrainConfig", "plot"]

__getattr__ = lazy_getattr("spikesub.eventtrain", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
