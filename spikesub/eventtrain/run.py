"""Running ``spikesub eventtrain``: load the event dataset, build the network, train, write.

The run folder gets ``config.json`` (the settings, their fingerprint, where the data came
from and the tensor layout), ``checkpoint.pt`` after every epoch while the run lasts (a run
stopped by Ctrl-C continues with ``--resume``), then ``history.npz`` (per epoch: train and
test loss and accuracy), ``metrics.json`` and ``model.pt`` (the final weights). Every file
is written atomically.

Networks (time-first ``(T, B, ...)`` frames in, logits ``(B, classes)`` out, the readout a
linear map of the last hidden layer's spike rates):

* ``rlif``: frames ``(T, B, channels)`` -> :class:`~spikesub.models.snn.SpikingLinear`
  with a recurrent LIF layer of ``hidden`` neurons -> readout;
* ``conv``: frames ``(T, B, 2, H, W)`` -> two :class:`~spikesub.models.snn.SpikingConv2d`
  (5 x 5, each followed by 2 x 2 average pooling) -> ``SpikingLinear`` of ``hidden`` -> readout.

Each spiking layer is told the number of steps ``T`` of the loader, so a batch-first tensor
fed to it by mistake is refused with its shape named.
"""

from __future__ import annotations

import io
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from spikesub import events as ev
from spikesub.eventtrain.config import QUICK_PER_CLASS, EventTrainConfig
from spikesub.models.files import atomic_write_bytes
from spikesub.models.snn.layers import SpikingConv2d, SpikingLinear, spike_rate
from spikesub.runs import (
    RunInterrupted,
    prepare_run_dir,
    read_json,
    run_config_document,
    write_json,
    write_npz,
)

__all__ = ["HISTORY_NAME", "JOB", "EventNet", "build_model", "load_data", "run"]

JOB = EventTrainConfig.job
HISTORY_NAME = "history.npz"
CHECKPOINT = "checkpoint.pt"
SYNTHETIC_DIR = "synthetic-data"


class EventNet(nn.Module):
    """A spiking network over time-first event frames; ``forward(frames) -> logits``."""

    def __init__(self, kind: str, frame_shape: tuple[int, ...], n_classes: int, steps: int,
                 config: EventTrainConfig) -> None:  # fmt: skip
        super().__init__()
        self.kind = kind
        lif = dict(beta=config.beta, threshold=config.threshold)
        if kind == "rlif":
            if len(frame_shape) != 1:
                raise ValueError(
                    f"model rlif takes (T, B, channels) frames; frames are {frame_shape}"
                )
            self.features = nn.ModuleList(
                [SpikingLinear(frame_shape[0], config.hidden, steps=steps, recurrent=True, **lif)]
            )
        else:
            if len(frame_shape) != 3:
                raise ValueError(
                    f"model conv takes (T, B, C, H, W) frames; frames are {frame_shape}"
                )
            c1, c2 = (config.channels + config.channels)[:2]
            channels, height, width = frame_shape
            self.features = nn.ModuleList(
                [
                    SpikingConv2d(channels, c1, 5, padding=2, steps=steps, **lif),
                    SpikingConv2d(c1, c2, 5, padding=2, steps=steps, **lif),
                    SpikingLinear(c2 * (height // 4) * (width // 4), config.hidden, steps=steps,
                                  **lif),
                ]
            )  # fmt: skip
        self.readout = nn.Linear(config.hidden, n_classes)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames
        for layer in self.features:
            if isinstance(layer, SpikingLinear) and x.dim() == 5:
                x = x.flatten(2)
            x = layer(x)
            if isinstance(layer, SpikingConv2d):
                pooled = F.avg_pool2d(x.flatten(0, 1), 2)
                x = pooled.view(*x.shape[:2], *pooled.shape[1:])
        return self.readout(spike_rate(x))


def build_model(config: EventTrainConfig, frame_shape: tuple[int, ...], n_classes: int,
                steps: int) -> EventNet:  # fmt: skip
    """The network of ``config`` (weights drawn from ``torch.manual_seed(config.seed)``)."""
    torch.manual_seed(config.seed)
    return EventNet(config.model_kind, frame_shape, n_classes, steps, config)


def _subset(data: Any, limit: int | None, seed: int) -> Any:
    if limit is None or limit >= len(data):
        return data
    rng = np.random.default_rng(seed)
    return torch.utils.data.Subset(data, sorted(rng.choice(len(data), limit, replace=False)))


def load_data(config: EventTrainConfig, run_dir: Path | None, *, download: bool = False):
    """The training and test sets (binned as ``config`` says) and where they came from
    (``run_dir``: where a quick run writes its synthetic files; unused otherwise)."""
    if config.quick:
        root = run_dir / SYNTHETIC_DIR
        if not (root / ev.EVENT_DATASETS[config.dataset].tonic_name).exists():
            ev.write_synthetic_dataset(
                config.dataset, root, per_class=QUICK_PER_CLASS, seed=config.seed
            )
        source = f"synthetic files in the {config.dataset} format ({root})"
    else:
        root = Path(config.data_dir)
        source = str(root)
    binning = dict(dt_ms=config.dt_ms, t_max_ms=config.t_max_ms, downsample=config.downsample)
    train = ev.load_event_dataset(config.dataset, root, train=True, download=download, **binning)
    test = ev.load_event_dataset(config.dataset, root, train=False, download=download, **binning)
    return (
        _subset(train, config.max_train, config.seed),
        _subset(test, config.max_test, config.seed + 1),
        train,
        source,
    )


def _device(config: EventTrainConfig) -> torch.device:
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no GPU; use --device cpu")
    return torch.device(config.device)


def _epoch(model, loader, device, optimizer=None, *, desc: str, show: bool) -> tuple[float, float]:
    """One pass; trains when ``optimizer`` is given. Returns (mean loss, accuracy)."""
    model.train(optimizer is not None)
    total_loss, correct, count = 0.0, 0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for batch in tqdm(loader, desc=desc, disable=not show, leave=False, unit="batch"):
            frames, labels = batch.frames.to(device), batch.labels.to(device)
            logits = model(frames)
            loss = F.cross_entropy(logits, labels)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            count += len(labels)
    return total_loss / max(count, 1), correct / max(count, 1)


def _save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def run(config: EventTrainConfig, out: str | Path | None = None, *, resume: bool = False,
        progress: bool | None = None, download: bool = False) -> Path:  # fmt: skip
    """Train the network of ``config`` on its event dataset and write a run folder.

    Args:
        config: what to run.
        out: the run folder (default ``runs/eventtrain-<dataset>-<time>``).
        resume: continue the run in ``out`` from its last finished epoch.
        progress: progress bars (default: when stderr is a terminal).
        download: let tonic download a missing dataset into ``data_dir``.

    Returns:
        the run folder.

    Raises:
        DatasetNotFoundError: the dataset is not in ``data_dir``.
        EventFileError: a file of the dataset is not in its format.
        RunFolderError: ``out`` cannot take this run.
        RunInterrupted: Ctrl-C; the folder holds the last finished epoch.
    """
    # a dataset that is missing or damaged is refused before a run folder is made for it (the
    # quick run writes its synthetic files into the folder, so it makes the folder first)
    data = None if config.quick else load_data(config, None, download=download)
    run_dir = prepare_run_dir(
        out, job=JOB, config=config.to_dict(), prefix=f"eventtrain-{config.dataset}", resume=resume
    )
    document = run_config_document(JOB, config.to_dict())
    if resume and (run_dir / "metrics.json").exists() and not (run_dir / CHECKPOINT).exists():
        return run_dir  # finished already
    train, test, full, source = data or load_data(config, run_dir, download=download)
    steps = full.n_steps
    write_json(
        run_dir / "config.json",
        {**document, "data": source, "layout": "(T, B, ...)", "steps": steps,
         "frame_shape": list(full.frame_shape), "n_train": len(train), "n_test": len(test),
         "model_kind": config.model_kind},
    )  # fmt: skip
    device = _device(config)
    model = build_model(config, full.frame_shape, full.info.n_classes, steps).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: dict[str, list[float]] = {k: [] for k in ("train_loss", "train_acc", "test_loss",
                                                       "test_acc", "epoch_s")}  # fmt: skip
    checkpoint = run_dir / CHECKPOINT
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state.get("fingerprint") != document["fingerprint"]:
            from spikesub.models.errors import RunFolderError

            raise RunFolderError(f"{checkpoint} belongs to another run; remove it to start over")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = {k: list(v) for k, v in state["history"].items()}
    show = progress if progress is not None else sys.stderr.isatty()
    test_loader = ev.event_loader(test, config.batch_size)
    started = time.perf_counter()
    try:
        for epoch in range(len(history["train_loss"]), config.epochs):
            t0 = time.perf_counter()
            loader = ev.event_loader(
                train, config.batch_size, shuffle=True, seed=config.seed + epoch
            )
            tag = f"epoch {epoch + 1}/{config.epochs}"
            loss, acc = _epoch(model, loader, device, optimizer, desc=f"{tag} train", show=show)
            test_loss, test_acc = _epoch(model, test_loader, device, desc=f"{tag} test", show=show)
            for key, value in zip(history, (loss, acc, test_loss, test_acc,
                                            time.perf_counter() - t0), strict=True):  # fmt: skip
                history[key].append(value)
            state = {"fingerprint": document["fingerprint"], "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "history": history}  # fmt: skip
            _save(checkpoint, state)
            if show:
                tqdm.write(f"{tag}: train loss {loss:.3f} acc {acc:.3f}, test acc {test_acc:.3f}")
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir) from None
    _finish(run_dir, config, model, history, steps, source, time.perf_counter() - started)
    return run_dir


def _finish(run_dir: Path, config: EventTrainConfig, model: nn.Module, history: dict,
            steps: int, source: str, wall_s: float) -> None:  # fmt: skip
    write_npz(run_dir / HISTORY_NAME, epoch=np.arange(1, len(history["train_loss"]) + 1),
              **{k: np.asarray(v) for k, v in history.items()})  # fmt: skip
    _save(run_dir / "model.pt", model.state_dict())
    test_acc = history["test_acc"]
    write_json(
        run_dir / "metrics.json",
        {
            "job": JOB,
            "status": "complete",
            "dataset": config.dataset,
            "data": source,
            "model": config.model_kind,
            "steps": steps,
            "epochs": len(test_acc),
            "final_test_acc": test_acc[-1] if test_acc else math.nan,
            "best_test_acc": max(test_acc) if test_acc else math.nan,
            "final_train_acc": history["train_acc"][-1] if test_acc else math.nan,
            "chance": 1.0 / ev.EVENT_DATASETS[config.dataset].n_classes,
            "wall_s": wall_s,
            "history": history,
        },
    )
    (run_dir / CHECKPOINT).unlink(missing_ok=True)


def summary(run_dir: Path) -> str:
    """One line: the test accuracy of a finished run."""
    m = read_json(Path(run_dir) / "metrics.json")
    return (
        f"{m['model']} on {m['dataset']} ({m['data']}): test accuracy "
        f"{100 * m['final_test_acc']:.1f} % "
        f"(best {100 * m['best_test_acc']:.1f} %, chance {100 * m['chance']:.1f} %) after "
        f"{m['epochs']} epochs, {m['wall_s']:.1f} s"
    )
