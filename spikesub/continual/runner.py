"""Train a spiking network on a sequence of tasks with one continual-learning method.

:func:`run_continual` trains, task after task, the spiking MLP of
:mod:`spikesub.continual.networks` with a strategy of :mod:`spikesub.continual.strategies`
(``"hlop"``, ``"gpm"``, ``"ewc"``, ``"finetune"``) and scores it on every task's test set after
each task, which fills row ``t`` of the accuracy matrix ``R`` (see
:mod:`spikesub.continual.metrics`). ``"multitask"`` trains once on the shuffled union of all
tasks (each sample's logits restricted to its own task's classes) and fills only the last row:
the joint-training upper reference.

Per task: ``strategy.begin_task``; ``epochs`` passes of minibatch SGD over the task's
training set (loss = cross-entropy + ``strategy.penalty()``; ``strategy.before_step()``
between ``backward`` and ``step``; a fresh SGD optimiser per task, so momentum never carries
one task's gradient into the next); ``strategy.end_task`` on the task's training data;
evaluation on all tasks. The shuffles come from a generator seeded with
``(seed, task, epoch)`` and torch is reseeded with ``(seed, task)`` at each task's start, so
a run resumed after task ``t`` repeats the uninterrupted run exactly.

Training methods: ``"bptt"`` back-propagates through time with surrogate gradients through the
fused LIF kernels; ``"online"`` uses the trace-based online method of
:mod:`spikesub.continual.online` (no backpropagation through time).

The run folder, rewritten atomically after every task:

``config.json``
    the :class:`ContinualConfig` with ``"experiment": "continual"``;
``checkpoint.pt``
    model, optimiser, strategy state, finished task index, accuracy matrix, times, RNG states
    (``torch.load(..., weights_only=True)`` reads it);
``accuracy.npz``
    ``R`` ``(T, T)`` (NaN where not evaluated) and per-task times in seconds: ``train_s``
    (whole SGD loop), ``projection_s`` (inside ``before_step`` and the strategy's recording
    hooks), ``penalty_s`` (computing the
    penalty), ``end_task_s`` (Hebbian learning / bases / Fisher; without the strategy's
    ``diagnostic_seconds``, e.g. HLOP's comparison with GPM, which only feeds a figure), ``eval_s``;
    ``subspace_angles_<layer>`` (degrees) when the strategy compared its subspaces with GPM;
``metrics.json``
    ACC and BWT of the tasks so far, the times, the strategy's summary, ``finished``.
"""

from __future__ import annotations

import dataclasses
import io
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spikesub.continual import metrics as metrics_mod
from spikesub.continual.names import (
    ACTIVITIES,
    LR_SCHEDULES,
    METHODS,
    NETWORKS,
    TRAINING_METHODS,
)
from spikesub.continual.networks import snntorch_mlp, spiking_mlp
from spikesub.continual.sizes import check_continual_memory
from spikesub.continual.tasks import BENCHMARKS, Task, make_benchmark
from spikesub.models.errors import RunFolderError, SpikesubError
from spikesub.runs import (
    atomic_write_bytes,
    check_checkpoint_fingerprint,
    config_fingerprint,
    prepare_run_dir,
    read_json,
    write_json,
    write_npz,
)

__all__ = [
    "ACTIVITIES",
    "METHODS",
    "NETWORKS",
    "TRAINING_METHODS",
    "ContinualConfig",
    "TrainingDivergedError",
    "benchmark_tasks",
    "build_model",
    "load_checkpoint",
    "run_continual",
    "summarize_runs",
]


_CHECKPOINT_FORMAT = 1
JOB = "continual"
_TIME_KEYS = ("train_s", "projection_s", "penalty_s", "end_task_s", "eval_s")

# Defaults by benchmark family; quick runs are tiny versions for tests and smoke checks.
# MNIST: lr 0.02 and HLOP's thresholds (0.98 for the input layer, 0.99 for the second
# layer's presynaptic traces, 0.9 for the readout) were chosen on a validation split of
# permuted MNIST (10 % of each task's training set held out, seeds 0 and 1); at lr 0.05
# every method forgot more and multitask training reached less.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": dict(
        hidden=(800, 800),
        steps=20,
        epochs=2,
        batch_size=64,
        lr=0.02,
        momentum=0.9,
        lr_schedule="constant",
    ),
    "digits": dict(
        hidden=(256, 256),
        steps=10,
        epochs=5,
        batch_size=32,
        lr=0.05,
        momentum=0.9,
        lr_schedule="constant",
    ),
    "quick": dict(
        hidden=(64,), steps=4, epochs=3, batch_size=32, lr=0.1, momentum=0.9, max_train=600
    ),
}


@dataclass(frozen=True)
class _ByLayer:
    """A per-layer default threshold: ``first`` for the layer fed by the input, ``hidden``
    for the deeper hidden layers (fed by spike trains), ``readout`` for the readout (fed by
    the last hidden layer's spike rates)."""

    first: float
    hidden: float
    readout: float

    def resolve(self, n_hidden: int) -> list[float]:
        if n_hidden == 0:
            return [self.first]
        return [self.first] + [self.hidden] * (n_hidden - 1) + [self.readout]


# Method options: config field -> (strategy option name, default, quick default).
_METHOD_OPTIONS: dict[str, dict[str, tuple[str, Any, Any]]] = {
    "ewc": {"ewc_lambda": ("lam", 300.0, 300.0)},
    "gpm": {
        "gpm_threshold": ("threshold", 0.97, 0.97),
        "gpm_activity": ("activity", "spikes", "spikes"),
    },
    "hlop": {
        "hlop_k": ("k_per_task", None, None),
        "hlop_threshold": ("threshold", _ByLayer(first=0.98, hidden=0.99, readout=0.9), 0.97),
        "hlop_activity": ("activity", "trace", "trace"),
        "hlop_epochs": ("hebbian_epochs", 2, 1),
        "hlop_record": ("record_examples", 4000, None),
        "hlop_lr": ("lr", None, None),
        "hlop_rule": ("rule", "oja", "oja"),
        "hlop_mode": ("mode", "rate", "rate"),
        "hlop_compare_gpm": ("compare_with_gpm", True, True),
    },
}


def _family(benchmark: str) -> str:
    return "mnist" if benchmark in ("pmnist", "splitmnist") else "digits"


@dataclass
class ContinualConfig:
    """Everything that determines a continual-learning run (the run folder's config.json).

    Fields left at ``None`` are filled in by the defaults of the benchmark (and of ``quick``)
    when the config is created, so a saved config lists the values actually used.

    Attributes:
        method: one of :data:`METHODS`.
        benchmark: one of :data:`spikesub.continual.tasks.BENCHMARKS`.
        data_dir: MNIST folder (pmnist, splitmnist).
        seed: seeds the permutations, the data split, the weights and the shuffles.
        n_tasks: train on the first ``n_tasks`` tasks only (default all).
        quick: a tiny run (small network, few steps, one epoch, at most ``max_train``
            training samples per task) for smoke tests.
        validation: hold out this fraction of every task's training set and report accuracy
            on it instead of the test set (for choosing hyperparameters).
        training: ``"bptt"`` or ``"online"``.
        epochs: passes over each task's training set (multitask: over the union).
        batch_size: samples per SGD step.
        lr, momentum: SGD learning rate and momentum (fresh optimiser per task).
        input_lr_scale: from the second task on, the input layer (the model's first
            ``nn.Linear`` / ``nn.Conv2d``) learns at ``lr * input_lr_scale`` (a slow input
            layer: its changes move every old task's spikes in the deeper layers).
        lr_schedule: ``"constant"``, or ``"cosine"``: within each task (multitask: over its
            one stage) the rate falls from ``lr`` towards 0 along half a cosine.
        steps: time steps per sample.
        hidden: hidden layer sizes.
        beta: membrane decay per step of the hidden LIF neurons.
        network: ``"spikesub"`` (:func:`~spikesub.continual.networks.spiking_mlp`, fused
            LIF kernels) or ``"snntorch"`` (:func:`~spikesub.continual.networks.snntorch_mlp`,
            ``snntorch.Leaky`` looped over time; slower, for cross-checks).
        max_train: at most this many training samples per task (seeded subsample).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
        ewc_lambda: EWC penalty strength.
        gpm_threshold: GPM energy threshold, in (0, 1), or a list of one per protected layer.
        hlop_k: HLOP lateral neurons added per layer and task (``None``: energy criterion).
        hlop_threshold: HLOP energy threshold when ``hlop_k`` is ``None``, or one per
            protected layer. Default (full runs): 0.98 for the first layer, which sees the
            input, 0.99 for the deeper hidden layers, which see spike trains (recorded as
            traces, ``hlop_activity``), and 0.9 for the readout, which sees spike rates.
            Chosen on permuted MNIST's validation split, seeds 0 and 1 (README).
        gpm_activity, hlop_activity: what the method records of a hidden layer's input spike
            trains (:data:`ACTIVITIES`): ``"trace"``, the presynaptic traces with the LIF
            decay ``beta``, whose subspace is the one that keeps old inputs' membranes
            unchanged, or ``"spikes"``, single steps' spikes. HLOP defaults to traces; GPM
            keeps the spikes of Saha et al.'s representation matrix.
        hlop_epochs: Hebbian learning per task, in passes over the task's batches.
        hlop_record: examples per task whose activity the recording pass keeps for the
            Hebbian learning (a random subset; replayed in turn for ``hlop_epochs``); 4000
            by default, which halves the pass on permuted MNIST's 8,006 digits per task and,
            on its validation split, protected as well as recording all of them.
        hlop_lr: Hebbian learning rate (``None``: the strategy's default).
        hlop_rule: ``"oja"`` or ``"gha"``; ``hlop_mode``: ``"rate"`` or ``"spiking"``.
        hlop_compare_gpm: also compute the GPM basis of the same activity and save the
            principal angles between it and each layer's Hebbian subspace.
        strategy_options: further keyword options passed to the strategy as they are.
    """

    method: str = "hlop"
    benchmark: str = "digits"
    data_dir: str | None = None
    seed: int = 0
    n_tasks: int | None = None
    quick: bool = False
    validation: float = 0.0
    training: str = "bptt"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    momentum: float | None = None
    lr_schedule: str | None = None
    input_lr_scale: float = 1.0
    steps: int | None = None
    hidden: tuple[int, ...] | None = None
    beta: float = 0.9
    network: str = "spikesub"
    max_train: int | None = None
    device: str = "cpu"
    ewc_lambda: float | None = None
    gpm_threshold: float | list[float] | None = None
    gpm_activity: str | None = None
    hlop_k: int | None = None
    hlop_threshold: float | list[float] | None = None
    hlop_activity: str | None = None
    hlop_epochs: int | None = None
    hlop_record: int | None = None
    hlop_lr: float | None = None
    hlop_rule: str | None = None
    hlop_mode: str | None = None
    hlop_compare_gpm: bool | None = None
    strategy_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.benchmark not in BENCHMARKS:
            raise ValueError(
                f"benchmark must be one of {tuple(BENCHMARKS)}; got {self.benchmark!r}"
            )
        if self.training not in TRAINING_METHODS:
            raise ValueError(f"training must be one of {TRAINING_METHODS}; got {self.training!r}")
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}; got {self.network!r}")
        if self.training == "online" and self.network != "spikesub":
            raise ValueError("training='online' needs network='spikesub' (SpikingLinear layers)")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'auto'; got {self.device!r}")
        if self.data_dir is not None:
            self.data_dir = str(self.data_dir)
        self.quick = bool(self.quick)
        defaults = dict(_DEFAULTS[_family(self.benchmark)])
        if self.quick:
            defaults.update(_DEFAULTS["quick"])
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        for method, options in _METHOD_OPTIONS.items():
            for name, (_, default, quick_default) in options.items():
                if self.method != method:
                    if getattr(self, name) is not None:
                        raise ValueError(
                            f"{name} is an option of method {method}, not of {self.method}"
                        )
                    continue
                if getattr(self, name) is None:
                    value = quick_default if self.quick else default
                    if isinstance(value, _ByLayer):
                        value = value.resolve(len(self.hidden))
                    setattr(self, name, value)
        self.hidden = tuple(int(h) for h in self.hidden)
        self.strategy_options = dict(self.strategy_options or {})
        self._validate()

    def _validate(self) -> None:
        def positive_int(name: str, value: Any, minimum: int = 1) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int >= {minimum}; got {value!r}")
            if value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}; got {value}")

        positive_int("seed", self.seed, 0)
        if self.seed > 2**64 - 1:
            raise ValueError(f"seed must be an int in [0, 2**64 - 1]; got {self.seed}")
        positive_int("epochs", self.epochs)
        positive_int("batch_size", self.batch_size)
        positive_int("steps", self.steps)
        if self.n_tasks is not None:
            positive_int("n_tasks", self.n_tasks)
            if self.n_tasks > BENCHMARKS[self.benchmark]:
                raise ValueError(
                    f"n_tasks must be in 1..{BENCHMARKS[self.benchmark]} for {self.benchmark}; "
                    f"got {self.n_tasks}"
                )
        if self.max_train is not None:
            positive_int("max_train", self.max_train)
        for h in self.hidden:
            positive_int("hidden", h)
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0; got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1); got {self.momentum}")
        if not (math.isfinite(self.input_lr_scale) and self.input_lr_scale >= 0):
            raise ValueError(f"input_lr_scale must be a number >= 0; got {self.input_lr_scale}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}; got {self.lr_schedule!r}")
        if not 0 < self.beta <= 1:
            raise ValueError(f"beta must be in (0, 1]; got {self.beta}")
        if not 0 <= self.validation < 1:
            raise ValueError(f"validation must be a fraction in [0, 1); got {self.validation}")
        for name in ("gpm_activity", "hlop_activity"):
            value = getattr(self, name)
            if value is not None and value not in ACTIVITIES:
                raise ValueError(f"{name} must be one of {ACTIVITIES}; got {value!r}")
        for name in ("gpm_threshold", "hlop_threshold"):
            value = getattr(self, name)
            values = value if isinstance(value, (list, tuple)) else [value]
            if value is not None and not all(
                isinstance(v, (int, float)) and 0 < v < 1 for v in values
            ):
                raise ValueError(
                    f"{name} must be in (0, 1), or a list of such (per layer); got {value}"
                )
        if self.ewc_lambda is not None and not self.ewc_lambda >= 0:
            raise ValueError(f"ewc_lambda must be >= 0; got {self.ewc_lambda}")
        if self.hlop_k is not None:
            positive_int("hlop_k", self.hlop_k)
        if self.hlop_epochs is not None:
            positive_int("hlop_epochs", self.hlop_epochs)
        if self.hlop_record is not None:
            positive_int("hlop_record", self.hlop_record)
        self._check_strategy_options()

    def _check_strategy_options(self) -> None:
        """``strategy_options`` checked against the method's declared options, so that a bad
        ``--option`` is refused before any data is read."""
        from spikesub.continual.strategies import STRATEGIES

        key = "finetune" if self.method == "multitask" else self.method
        strategy = STRATEGIES.get(key)
        if strategy is not None:
            strategy.check_options(self.strategy_kwargs())

    @property
    def n_tasks_total(self) -> int:
        """Number of tasks the run trains on."""
        return self.n_tasks if self.n_tasks is not None else BENCHMARKS[self.benchmark]

    def strategy_kwargs(self) -> dict[str, Any]:
        """Keyword options for :func:`~spikesub.continual.strategies.make_strategy`."""
        opts: dict[str, Any] = {}
        for name, (option, _, _) in _METHOD_OPTIONS.get(self.method, {}).items():
            value = getattr(self, name)
            if option == "activity":
                opts["trace_decay"] = self.beta if value == "trace" else None
            elif value is not None:
                opts[option] = value
        if self.method in ("gpm", "hlop"):
            opts["seed"] = self.seed
        opts.update(self.strategy_options)
        return opts

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContinualConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``, ``"experiment"`` is
        ignored."""
        data = {k: v for k, v in data.items() if k not in ("experiment", "job", "fingerprint")}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown continual config field(s): {', '.join(unknown)}")
        if data.get("hidden") is not None:
            data["hidden"] = tuple(data["hidden"])
        return cls(**data)

    def differences(self, other: ContinualConfig) -> list[str]:
        """``"name mine != theirs"`` for every field that differs from ``other``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{name} {_show(mine[name])} != {_show(theirs[name])}"
            for name in mine
            if mine[name] != theirs[name]
        ]


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# ---------------------------------------------------------------------------------------------
# Data


def _derived_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (for torch.manual_seed)."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def _subsample(tasks: list[Task], max_train: int | None, seed: int) -> list[Task]:
    if max_train is None:
        return tasks
    out = []
    for t, task in enumerate(tasks):
        n = len(task.y_train)
        if n <= max_train:
            out.append(task)
            continue
        keep = np.sort(np.random.default_rng([seed, t, 31337]).permutation(n)[:max_train])
        out.append(
            Task(
                name=task.name,
                x_train=task.x_train[keep],
                y_train=task.y_train[keep],
                x_test=task.x_test,
                y_test=task.y_test,
                classes=task.classes,
            )
        )
    return out


class _TrainData:
    """One training set as tensors, with the per-sample class masks ``(n, n_outputs)``."""

    def __init__(self, x: np.ndarray, y: np.ndarray, masks: torch.Tensor, device: torch.device):
        self.x = torch.from_numpy(np.ascontiguousarray(x)).to(device)
        self.y = torch.from_numpy(np.ascontiguousarray(y)).to(device)
        self.masks = masks.to(device)
        self.device = device

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def batches(self, batch_size: int, rng: np.random.Generator) -> Iterator[tuple]:
        order = torch.from_numpy(rng.permutation(len(self))).to(self.device)
        for start in range(0, len(self), batch_size):
            idx = order[start : start + batch_size]
            yield self.x[idx], self.y[idx], self.masks[idx]

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)


class _Passes:
    """Re-iterable ``(x, y)`` minibatches for ``strategy.end_task``: every pass over it is a
    new seeded shuffle, the same in every run with the same seed."""

    def __init__(self, data: _TrainData, batch_size: int, seed: int, task: int):
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.task = task
        self.passes = 0

    def __len__(self) -> int:
        return self.data.n_batches(self.batch_size)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.task, 1_000_003, self.passes])
        self.passes += 1
        for x, y, _ in self.data.batches(self.batch_size, rng):
            yield x, y


def _task_data(task: Task, n_outputs: int, device: torch.device) -> _TrainData:
    mask = metrics_mod.class_mask(task.classes, n_outputs)
    masks = mask.unsqueeze(0).expand(len(task.y_train), n_outputs)
    return _TrainData(task.x_train, task.y_train, masks, device)


def _joint_data(tasks: list[Task], n_outputs: int, device: torch.device) -> _TrainData:
    xs, ys, masks = [], [], []
    for task in tasks:
        xs.append(task.x_train)
        ys.append(task.y_train)
        mask = metrics_mod.class_mask(task.classes, n_outputs)
        masks.append(mask.unsqueeze(0).expand(len(task.y_train), n_outputs))
    return _TrainData(np.concatenate(xs), np.concatenate(ys), torch.cat(masks), device)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (the global state)
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_cached": float(cached),
    }


def _set_rng_states(states: Mapping[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    keys = states["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(  # noqa: NPY002
        ("MT19937", keys, states["numpy_pos"], states["numpy_has_gauss"], states["numpy_cached"])
    )


def load_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """Read a run folder's ``checkpoint.pt`` (tensors and plain values only)."""
    path = Path(run_dir) / "checkpoint.pt"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises many types, with long messages, for a damaged file
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        reason = " ".join(first.split())[:200] or type(exc).__name__
        raise RunFolderError(f"{path}: not a readable checkpoint ({reason})") from exc
    if not isinstance(state, dict):
        raise RunFolderError(f"{path}: not a continual-learning checkpoint")
    return state


def _save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(run_dir / "checkpoint.pt", buffer.getvalue())


# ---------------------------------------------------------------------------------------------
# The run


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def _show_progress(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


def _bar(iterable, *, show: bool, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not show, **kwargs)


def _prepare_folder(config: ContinualConfig, out: str | Path | None, resume: bool) -> Path:
    """The run folder: new, or (``resume``) one that holds this very run; a folder of another
    job, of another configuration, or (without ``resume``) of this run is refused."""
    run_dir = prepare_run_dir(
        out,
        job=JOB,
        config=config.to_dict(),
        prefix=f"continual-{config.method}-{config.benchmark}",
        resume=resume,
        allow_rerun=False,
    )
    if not resume and (run_dir / "checkpoint.pt").exists():
        raise RunFolderError(
            f"{run_dir} already holds a checkpoint.pt; pass --resume to continue its run or "
            "choose another --out"
        )
    return run_dir


def _restore_model(model: nn.Module, state: Mapping[str, Any], path: Path) -> None:
    """Load a checkpoint's weights, refusing one made for another architecture."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as error:
        first = next((line for line in str(error).splitlines() if line.strip()), "")
        raise RunFolderError(
            f"{path} was saved from another network ({first.strip()}); it does not belong "
            "to this run"
        ) from error


def _forward_fn(model, mask: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        return metrics_mod.masked_logits(model(x), mask)

    return forward


def _loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


class TrainingDivergedError(SpikesubError, FloatingPointError):
    """The weights became NaN or infinite during training."""


def _raise_if_diverged(model, config: ContinualConfig, task: int, epoch: int, exc) -> None:
    """Turn a non-finite-state error of the forward pass into a diagnosis of the training."""
    bad = [n for n, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad or isinstance(exc, str) or "non-finite" in str(exc):
        if bad:
            what = f"weights {', '.join(bad)} became non-finite"
        else:
            what = exc if isinstance(exc, str) else f"the network's {exc}"
        hint = " or ewc_lambda" if config.method == "ewc" else ""
        raise TrainingDivergedError(
            f"training diverged in task {task}, epoch {epoch + 1}: {what}; "
            f"lower lr ({config.lr}){hint}"
        ) from (exc if isinstance(exc, BaseException) else None)


def _online_trainer(model):
    """The trace-based online trainer of :mod:`spikesub.continual.online` for ``model``."""
    from spikesub.continual.online import make_online_trainer

    return make_online_trainer(model)


def _metrics(
    config: ContinualConfig,
    R: np.ndarray,
    times: dict[str, list[float]],
    done: int,
    strategy,
    n_train: list[int],
    device: torch.device,
) -> dict[str, Any]:
    n = R.shape[0]
    multitask = config.method == "multitask"
    if multitask:
        finished = done >= 1
        scores = R if finished else None
    else:
        finished = done >= n
        scores = R[:done, :done] if done else None
    acc_now = metrics_mod.acc(scores) if scores is not None else float("nan")
    bwt_now = metrics_mod.bwt(scores) if scores is not None else float("nan")
    train = np.asarray(times["train_s"], dtype=np.float64)
    proj = np.asarray(times["projection_s"], dtype=np.float64)
    pen = np.asarray(times["penalty_s"], dtype=np.float64)
    end = np.asarray(times["end_task_s"], dtype=np.float64)
    plain = train - proj - pen
    overhead = proj + pen + end
    ratio = (plain + overhead) / np.where(plain > 0, plain, np.nan)
    return {
        "experiment": "continual",
        "method": config.method,
        "benchmark": config.benchmark,
        "training": config.training,
        "seed": config.seed,
        "n_tasks": n,
        "tasks_done": n if (multitask and finished) else done,
        "finished": bool(finished),
        "ACC": acc_now,
        "BWT": bwt_now,
        "final_row": R[-1].tolist() if finished else None,
        "evaluated_on": "validation" if config.validation > 0 else "test",
        "n_train": n_train,
        "train_s": times["train_s"],
        "projection_s": times["projection_s"],
        "penalty_s": times["penalty_s"],
        "end_task_s": times["end_task_s"],
        "eval_s": times["eval_s"],
        "plain_train_s": plain.tolist(),
        "strategy_overhead_s": overhead.tolist(),
        "overhead_ratio": ratio.tolist(),
        "total_train_s": float(train.sum() + end.sum()),
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "strategy": strategy.summary(),
    }


def _angle_arrays(summary: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Per-layer principal angles (degrees) between HLOP and GPM subspaces, if reported."""
    angles = summary.get("principal_angles_deg") if isinstance(summary, Mapping) else None
    if not isinstance(angles, Mapping):
        return {}
    out = {}
    for layer, values in angles.items():
        if values is None:
            continue
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size:
            out[f"subspace_angles_{layer}"] = arr
    return out


def _write_results(
    run_dir: Path,
    config: ContinualConfig,
    R: np.ndarray,
    times: dict[str, list[float]],
    done: int,
    strategy,
    n_train: list[int],
    device: torch.device,
) -> dict[str, Any]:
    summary = strategy.summary()
    arrays = {"R": R, **{k: np.asarray(v, dtype=np.float64) for k, v in times.items()}}
    arrays.update(_angle_arrays(summary))
    write_npz(run_dir / "accuracy.npz", **arrays)
    result = _metrics(config, R, times, done, strategy, n_train, device)
    write_json(run_dir / "metrics.json", result)
    return result


N_OUTPUTS = 10  # every benchmark's digits share one 10-way head (split tasks mask it)


def benchmark_tasks(config: ContinualConfig, *, download: bool = False) -> list[Task]:
    """The tasks of ``config``'s benchmark as a run trains on them (seed, number of tasks,
    validation split, at most ``max_train`` training samples each)."""
    tasks = make_benchmark(
        config.benchmark,
        data_dir=config.data_dir,
        seed=config.seed,
        n_tasks=config.n_tasks,
        validation=config.validation,
        download=download,
    )
    return _subsample(tasks, config.max_train, config.seed)


def build_model(config: ContinualConfig, n_features: int) -> torch.nn.Module:
    """The untrained network of ``config`` (on the CPU) for inputs of ``n_features``; load a
    checkpoint's ``"model"`` into it to score saved weights."""
    sizes = (n_features, *config.hidden, N_OUTPUTS)
    if config.network == "snntorch":
        return snntorch_mlp(sizes, config.steps, beta=config.beta)
    return spiking_mlp(sizes, config.steps, beta=config.beta)


def run_continual(
    config: ContinualConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool | None = None,
    download: bool = False,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Run one method on one benchmark and write the run folder (see the module docstring).

    Args:
        config: the run's settings.
        out: run folder (created; ``None`` picks ``runs/continual-<method>-<benchmark>-<time>``).
            Without ``resume`` it must not hold a run already.
        resume: continue the run in ``out`` after its last finished task; ``config`` must
            equal the saved one (the error names every differing field).
        progress: tqdm bars over tasks and epochs (default: when stderr is a terminal).
        download: fetch missing MNIST files into ``config.data_dir`` first (needs internet).
        stop_after: return once this many tasks are finished (the folder can be resumed);
            ``None`` trains them all.

    Returns:
        the content of ``metrics.json``, plus ``"run_dir"``.

    Raises:
        ValueError: bad config, a folder that holds another run, a resume whose config
            differs, a corrupt data file.
        MemoryBudgetError: the network, a batch through time or the recorded activity would
            exceed the memory budget (:func:`~spikesub.continual.sizes.check_continual_memory`);
            checked before the run folder is made.
        FileNotFoundError: missing MNIST files or nothing to resume.
    """
    if not isinstance(config, ContinualConfig):
        raise TypeError(f"config must be a ContinualConfig; got {type(config).__name__}")
    if stop_after is not None and (
        isinstance(stop_after, bool) or not isinstance(stop_after, int) or stop_after < 1
    ):
        raise ValueError(f"stop_after must be an int >= 1 or None; got {stop_after!r}")
    from spikesub.continual.strategies import make_strategy

    show = _show_progress(progress)
    device = _resolve_device(config.device)
    tasks = benchmark_tasks(config, download=download)
    # refused before the run folder exists: an oversized network or batch leaves nothing behind
    stage_sizes = [len(task.y_train) for task in tasks]
    n_train = sum(stage_sizes) if config.method == "multitask" else max(stage_sizes)
    check_continual_memory(config, tasks[0].n_features, n_train, n_outputs=N_OUTPUTS)
    run_dir = _prepare_folder(config, out, resume)

    n_tasks = len(tasks)
    n_outputs = N_OUTPUTS
    torch.manual_seed(_derived_seed(config.seed, 0x5EED))
    model = build_model(config, tasks[0].n_features).to(device)
    online_step = _online_trainer(model) if config.training == "online" else None

    R = metrics_mod.accuracy_matrix(n_tasks)
    times: dict[str, list[float]] = {k: [] for k in _TIME_KEYS}
    n_train: list[int] = []
    start = 0
    multitask = config.method == "multitask"
    stages = 1 if multitask else n_tasks
    checkpoint_path = run_dir / "checkpoint.pt"
    fingerprint = config_fingerprint(JOB, config.to_dict())
    options = config.strategy_kwargs()
    state = None
    if resume and checkpoint_path.exists():
        state = load_checkpoint(run_dir)
        if state.get("format") != _CHECKPOINT_FORMAT:
            raise RunFolderError(
                f"{checkpoint_path}: unknown checkpoint format {state.get('format')}"
            )
        if "fingerprint" in state:  # checkpoints written before fingerprints have none
            check_checkpoint_fingerprint(checkpoint_path, state["fingerprint"], fingerprint)
        # every option the strategy ran with, its defaults included, so that a resumed run
        # repeats the interrupted one even if the strategy's defaults have changed since
        options = dict(state["strategy"]["options"])
    strategy = make_strategy(config.method, model, progress=show, **options)
    if not resume:
        # written once the options are known to be valid: a refused start leaves no run
        write_json(
            run_dir / "config.json",
            {"experiment": JOB, "job": JOB, "fingerprint": fingerprint, **config.to_dict()},
        )
    if state is not None:
        _restore_model(model, state["model"], checkpoint_path)
        strategy.load_state_dict(state["strategy"])
        R = state["R"].numpy().astype(np.float64)
        times = {k: [float(v) for v in state["times"][k]] for k in _TIME_KEYS}
        n_train = [int(v) for v in state["n_train"]]
        _set_rng_states(state["rng"])
        start = int(state["task"]) + 1

    stages_now = stages if stop_after is None else min(stages, stop_after)
    if start >= stages_now:
        result = _write_results(run_dir, config, R, times, start, strategy, n_train, device)
        return {**result, "run_dir": str(run_dir)}

    result: dict[str, Any] | None = None
    task_bar = _bar(
        range(start, stages_now),
        show=show,
        desc=f"{config.method} tasks",
        total=stages_now - start,
    )
    for t in task_bar:
        torch.manual_seed(_derived_seed(config.seed, t))
        if multitask:
            data = _joint_data(tasks, n_outputs, device)
        else:
            data = _task_data(tasks[t], n_outputs, device)
        n_train.append(len(data))
        strategy.begin_task(t)
        optimizer = torch.optim.SGD(
            _param_groups(model, config.input_lr_scale if t > 0 else 1.0),
            lr=config.lr,
            momentum=config.momentum,
        )
        total_steps = config.epochs * data.n_batches(config.batch_size)
        done_steps = 0
        model.train()
        proj_s = pen_s = 0.0
        t0 = time.perf_counter()
        for epoch in range(config.epochs):
            strategy.begin_epoch(epoch, config.epochs)
            rng = np.random.default_rng([config.seed, t, epoch])
            batch_bar = _bar(
                data.batches(config.batch_size, rng),
                show=show,
                total=data.n_batches(config.batch_size),
                desc=f"task {t} epoch {epoch + 1}/{config.epochs}",
                leave=False,
            )
            for x, y, mask in batch_bar:
                optimizer.zero_grad(set_to_none=True)
                tp = time.perf_counter()
                penalty = strategy.penalty()
                pen_s += time.perf_counter() - tp
                try:
                    if online_step is not None:
                        loss_value = online_step(x, y, mask, penalty, _loss_fn)
                    else:
                        logits = metrics_mod.masked_logits(model(x), mask)
                        loss = _loss_fn(logits, y) + penalty
                        loss.backward()
                        loss_value = float(loss.detach())
                except ValueError as exc:
                    _raise_if_diverged(model, config, t, epoch, exc)
                    raise
                if not math.isfinite(loss_value):
                    _raise_if_diverged(model, config, t, epoch, f"loss is {loss_value}")
                tp = time.perf_counter()
                strategy.before_step()
                proj_s += time.perf_counter() - tp
                rate = _scheduled_lr(config, done_steps, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = rate * group["lr_scale"]
                optimizer.step()
                done_steps += 1
        train_s = time.perf_counter() - t0
        # the strategy's recording hooks ran inside the training steps: its cost, not plain
        # training's
        proj_s += strategy.pop_hook_seconds()

        t0 = time.perf_counter()
        # online training: GPM / HLOP protect the presynaptic traces its weight gradients are
        # made of; EWC's Fisher needs gradients, which the model's own forward gives
        traces = online_step is not None and config.method in ("gpm", "hlop")
        net = online_step.forward if traces else model
        if multitask:
            forward = net
        else:
            forward = _forward_fn(net, metrics_mod.class_mask(tasks[t].classes, n_outputs))
        strategy.end_task(t, _Passes(data, config.batch_size, config.seed, t), forward, _loss_fn)
        end_s = time.perf_counter() - t0 - strategy.diagnostic_seconds

        t0 = time.perf_counter()
        row = metrics_mod.evaluate(model, tasks, device=device)
        eval_s = time.perf_counter() - t0
        R[n_tasks - 1 if multitask else t] = row
        for key, value in zip(_TIME_KEYS, (train_s, proj_s, pen_s, end_s, eval_s), strict=True):
            times[key].append(value)

        _save_checkpoint(
            run_dir,
            {
                "format": _CHECKPOINT_FORMAT,
                "fingerprint": fingerprint,
                "task": t,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "strategy": strategy.state_dict(),
                "R": torch.from_numpy(R.copy()),
                "times": {k: list(v) for k, v in times.items()},
                "n_train": list(n_train),
                "rng": _rng_states(),
            },
        )
        result = _write_results(run_dir, config, R, times, t + 1, strategy, n_train, device)
        if show:
            task_bar.set_postfix(acc=f"{np.nanmean(row[: t + 1]):.3f}")
    assert result is not None
    return {**result, "run_dir": str(run_dir)}


def _param_groups(model: nn.Module, input_scale: float) -> list[dict[str, Any]]:
    """SGD parameter groups, each with its ``lr_scale``: the input layer's weight (the first
    ``nn.Linear`` / ``nn.Conv2d`` in ``model.modules()``) at ``input_scale``, the rest at 1."""
    first = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    inputs = [p for p in first.parameters() if p.requires_grad]
    ids = {id(p) for p in inputs}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": rest, "lr_scale": 1.0}]
    if inputs:
        groups.append({"params": inputs, "lr_scale": float(input_scale)})
    return groups


def _scheduled_lr(config: ContinualConfig, step: int, total: int) -> float:
    """SGD rate of step ``step`` (0-based) of a task's ``total`` steps."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1)))
    return config.lr


def _mean_std(values: list[float | None]) -> tuple[float, float]:
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def summarize_runs(run_dirs: list[str | Path]) -> dict[str, Any]:
    """Collect finished continual runs into one table: per method, ACC and BWT of every seed
    with mean and standard deviation (``ddof=1``; 0 for a single seed), and times.

    Args:
        run_dirs: folders written by :func:`run_continual`; unfinished ones are skipped.

    Returns:
        ``{"experiment": "continual-summary", "benchmark", "order": [methods],
        "methods": {method: {"seeds", "run_dirs", "ACC", "BWT", "ACC_mean", "ACC_std",
        "BWT_mean", "BWT_std", "train_s", "end_task_s", "total_train_s",
        "overhead_ratio_mean"}}}``; times are per run, summed over its tasks, in seconds.

    Raises:
        ValueError: the runs are of different benchmarks.
    """
    methods: dict[str, dict[str, Any]] = {}
    benchmarks = set()
    for run_dir in run_dirs:
        path = Path(run_dir) / "metrics.json"
        if not path.exists():
            continue
        m = read_json(path)
        if m.get("experiment") != "continual" or not m.get("finished"):
            continue
        benchmarks.add(m["benchmark"])
        entry = methods.setdefault(
            m["method"],
            {
                "seeds": [],
                "run_dirs": [],
                "ACC": [],
                "BWT": [],
                "train_s": [],
                "end_task_s": [],
                "total_train_s": [],
                "overhead_ratio": [],
            },
        )
        entry["seeds"].append(m["seed"])
        entry["run_dirs"].append(str(run_dir))
        entry["ACC"].append(m["ACC"])
        entry["BWT"].append(m["BWT"])
        entry["train_s"].append(float(np.sum(m["train_s"])))
        entry["end_task_s"].append(float(np.sum(m["end_task_s"])))
        entry["total_train_s"].append(m["total_train_s"])
        ratios = [r for r in m["overhead_ratio"] if r is not None]
        entry["overhead_ratio"].append(float(np.mean(ratios)) if ratios else None)
    if len(benchmarks) > 1:
        raise ValueError(f"runs of different benchmarks: {sorted(benchmarks)}")
    for entry in methods.values():
        for key in ("ACC", "BWT", "total_train_s", "overhead_ratio"):
            mean, std = _mean_std(entry[key])
            entry[f"{key}_mean"] = mean
            entry[f"{key}_std"] = std
    order = [m for m in METHODS if m in methods]
    return {
        "experiment": "continual-summary",
        "benchmark": benchmarks.pop() if benchmarks else None,
        "order": order,
        "methods": methods,
    }
