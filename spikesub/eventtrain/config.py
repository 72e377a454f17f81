"""The configuration of ``spikesub eventtrain``: one network trained on one event dataset.

Settings left unset take the dataset's defaults (:data:`DATASET_DEFAULTS`) or, with
``quick``, those of :data:`QUICK` (a run of seconds on synthetic files in each dataset's own
format, written into the run folder); ``config.json`` lists the values used. Nothing here
imports torch or tonic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spikesub.config import JobConfig, setting

__all__ = ["DATASETS", "DATASET_DEFAULTS", "MODELS", "QUICK", "EventTrainConfig"]

DATASETS: tuple[str, ...] = ("shd", "nmnist", "dvsgesture")
MODELS: tuple[str, ...] = ("auto", "rlif", "conv")
"""``rlif``: input -> recurrent LIF layer -> linear readout; ``conv``: two spiking
convolutions with average pooling -> LIF layer -> linear readout; ``auto``: ``rlif`` for SHD,
``conv`` for the cameras."""

DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    # SHD: 1 s in 100 bins of 10 ms, 700 channels pooled to 140
    "shd": dict(dt_ms=10.0, t_max_ms=1000.0, downsample=5, hidden=256, epochs=30,
                batch_size=64, lr=2e-3, channels=(16, 32)),
    # N-MNIST: the three saccades (about 300 ms) in 30 bins of 10 ms
    "nmnist": dict(dt_ms=10.0, t_max_ms=300.0, downsample=1, hidden=128, epochs=10,
                   batch_size=64, lr=1e-3, channels=(16, 32)),
    # DVS Gesture: 1.5 s from the first event in 30 bins of 50 ms, 128 x 128 pooled to 32 x 32
    "dvsgesture": dict(dt_ms=50.0, t_max_ms=1500.0, downsample=4, hidden=128, epochs=30,
                       batch_size=16, lr=1e-3, channels=(16, 32)),
}  # fmt: skip
"""Binning, network and training defaults of each dataset."""

QUICK: dict[str, Any] = dict(
    dt_ms=5.0, t_max_ms=50.0, hidden=32, channels=(4, 8), epochs=4, batch_size=16, lr=1e-2
)
"""A run of seconds on the synthetic files (overrides the dataset's defaults)."""

QUICK_PER_CLASS = 6
"""Synthetic samples per class and part written for a quick run."""


@dataclass(frozen=True)
class EventTrainConfig(JobConfig):
    """Everything that determines an event-data training run (the run folder's config.json)."""

    job: ClassVar[str] = "eventtrain"

    dataset: str = setting("shd", choices=DATASETS, help="the event dataset")
    data_dir: str | None = setting(
        None,
        help="the folder tonic keeps its datasets in (DATA_DIR/SHD/shd_train.h5, "
        "DATA_DIR/NMNIST/Train/..., DATA_DIR/DVSGesture/ibmGestureTrain/...)",
    )
    quick: bool = setting(
        False,
        help="synthetic files in the dataset's own format (written into the run folder), a "
        "tiny network, a few epochs: a smoke test in seconds, no download",
    )
    model: str = setting("auto", choices=MODELS, help="rlif (recurrent LIF), conv, or auto")
    seed: int = setting(0, low=0, high=2**63 - 1, help="seeds the weights, subsets, shuffles")
    dt_ms: float | None = setting(None, low=0.0, low_open=True, help="bin width, ms")
    t_max_ms: float | None = setting(
        None, low=0.0, low_open=True, help="duration kept per sample, ms (T = t_max_ms / dt_ms)"
    )
    downsample: int | None = setting(
        None, low=1, help="pool pixels (or SHD channels) by this factor"
    )
    hidden: int | None = setting(None, low=1, help="neurons of the (recurrent) hidden layer")
    channels: tuple[int, ...] | None = setting(
        None, low=1, help="channels of the two spiking convolutions (conv model), e.g. 16,32"
    )
    beta: float = setting(
        0.9, low=0.0, high=1.0, low_open=True, help="membrane decay per step of the LIF neurons"
    )
    threshold: float = setting(1.0, low=0.0, low_open=True, help="firing threshold")
    epochs: int | None = setting(None, low=1, help="passes over the training set")
    batch_size: int | None = setting(None, low=1, help="samples per Adam step")
    lr: float | None = setting(None, low=0.0, low_open=True, help="Adam learning rate")
    max_train: int | None = setting(None, low=1, help="at most N training samples (random)")
    max_test: int | None = setting(None, low=1, help="at most N test samples (random)")
    device: str = setting("cpu", choices=("cpu", "cuda", "auto"), help="torch device")

    def resolve(self) -> dict[str, Any]:
        values = {**DATASET_DEFAULTS[self.dataset], **(QUICK if self.quick else {})}
        resolved = {}
        for name, value in values.items():
            if getattr(self, name) is None:
                resolved[name] = value
        return resolved

    def check(self) -> None:
        if not self.quick and self.data_dir is None:
            raise ValueError(
                "data_dir must be set (--data-dir: the folder tonic keeps the datasets in; "
                "add --download to fetch them), or use --quick for synthetic files"
            )

    @property
    def model_kind(self) -> str:
        """``rlif`` or ``conv``: the model ``auto`` stands for."""
        if self.model != "auto":
            return self.model
        return "rlif" if self.dataset == "shd" else "conv"
