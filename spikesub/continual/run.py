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

Data-parallel training: started by ``torchrun`` (see :mod:`spikesub.continual.distributed`),
every rank draws the same global batches, trains on its shard of each (its mean loss
weighted by its share of the batch) and the gradients are summed over the ranks before the
strategy projects them, so every rank takes the same step that a single process takes on
the whole batch. The strategies combine their statistics over the ranks (see
:mod:`spikesub.continual.strategies`); evaluation is split over the ranks and its counts
summed. Rank 0 alone writes the run folder while the others wait; every rank reads the
checkpoint on ``resume``, whatever the number of ranks that wrote it. ``config.json`` records
the number of processes the run was started with (``world_size``), which is not part of the
configuration's fingerprint: the results do not depend on it beyond float rounding.
"""

from __future__ import annotations

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
from spikesub.continual.config import ContinualConfig
from spikesub.continual.distributed import DistributedContext, from_environment
from spikesub.continual.names import (
    ACTIVITIES,
    METHODS,
    NETWORKS,
    TRAINING_METHODS,
)
from spikesub.continual.networks import snntorch_mlp, spiking_convnet, spiking_mlp
from spikesub.continual.sizes import check_continual_memory, check_conv_memory
from spikesub.continual.tasks import (
    IMAGE_SHAPES,
    N_CLASSES,
    Task,
    class_incremental,
    make_benchmark,
)
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
    "run",
    "summarize_runs",
]


_CHECKPOINT_FORMAT = 1
JOB = ContinualConfig.job
_TIME_KEYS = ("train_s", "projection_s", "penalty_s", "end_task_s", "eval_s")

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


def n_outputs(config: ContinualConfig) -> int:
    """Width of the one readout every task of the benchmark shares (masked per task)."""
    return N_CLASSES[config.benchmark]


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
    tasks = _subsample(tasks, config.max_train, config.seed)
    return class_incremental(tasks) if config.scenario == "class" else tasks


def build_model(config: ContinualConfig, n_features: int) -> torch.nn.Module:
    """The untrained network of ``config`` (on the CPU) for inputs of ``n_features``; load a
    checkpoint's ``"model"`` into it to score saved weights."""
    if config.architecture != "mlp":
        shape = IMAGE_SHAPES[config.benchmark]
        if math.prod(shape) != n_features:
            raise ValueError(
                f"a {config.architecture} needs images of shape {shape}; the inputs have "
                f"{n_features} features"
            )
        return spiking_convnet(
            config.architecture, shape, n_outputs(config), config.steps,
            hidden=config.hidden or (),
            beta=config.beta,
        )  # fmt: skip
    sizes = (n_features, *config.hidden, n_outputs(config))
    if config.network == "snntorch":
        return snntorch_mlp(sizes, config.steps, beta=config.beta)
    return spiking_mlp(sizes, config.steps, beta=config.beta)


def run(
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
    _check_run_arguments(config, stop_after)
    session = _start(config, out, resume=resume, progress=progress, download=download)
    stages_now = session.stages if stop_after is None else min(session.stages, stop_after)
    if session.start >= stages_now:
        result = session.ranks.main_only(
            lambda: _write_results(session.run_dir, *session.results_args())
        )
        return {**result, "run_dir": str(session.run_dir)}
    task_bar = _bar(
        range(session.start, stages_now),
        show=session.show,
        desc=f"{config.method} tasks",
        total=stages_now - session.start,
    )
    result: dict[str, Any] | None = None
    for t in task_bar:
        row, optimizer = _learn_task(session, t)
        result = session.ranks.main_only(
            _write_task, session.run_dir, _checkpoint(session, t, optimizer),
            *session.results_args(finished=t + 1),
        )  # fmt: skip
        if session.show:
            task_bar.set_postfix(acc=f"{np.nanmean(row[: t + 1]):.3f}")
    assert result is not None
    return {**result, "run_dir": str(session.run_dir)}


def _check_run_arguments(config: Any, stop_after: Any) -> None:
    if not isinstance(config, ContinualConfig):
        raise TypeError(f"config must be a ContinualConfig; got {type(config).__name__}")
    if stop_after is not None and (
        isinstance(stop_after, bool) or not isinstance(stop_after, int) or stop_after < 1
    ):
        raise ValueError(f"stop_after must be an int >= 1 or None; got {stop_after!r}")


@dataclass
class _Session:
    """A run in progress: what it trains, where it writes, and what it has measured so far
    (the accuracy matrix ``R``, the seconds of each phase per task, the training set sizes,
    and ``start``, the first stage still to do)."""

    config: ContinualConfig
    ranks: DistributedContext
    device: torch.device
    show: bool
    tasks: list[Task]
    run_dir: Path
    fingerprint: str
    model: nn.Module
    online_step: Any
    strategy: Any
    R: np.ndarray
    times: dict[str, list[float]]
    n_train: list[int] = field(default_factory=list)
    start: int = 0

    @property
    def multitask(self) -> bool:
        return self.config.method == "multitask"

    @property
    def stages(self) -> int:
        """Tasks learnt one after the other (multitask learns them all in one stage)."""
        return 1 if self.multitask else len(self.tasks)

    def results_args(self, finished: int | None = None) -> tuple:
        """The arguments of :func:`_write_results` after the run folder, after ``finished``
        stages (default: the stages done before this session)."""
        done = self.start if finished is None else finished
        return (
            self.config, self.R, self.times, done, self.strategy, self.n_train, self.device,
        )  # fmt: skip


def _start(
    config: ContinualConfig, out: str | Path | None, *, resume: bool, progress: bool | None,
    download: bool,
) -> _Session:  # fmt: skip
    """Data, sizes checked, the run folder, the model and strategy (restored on resume)."""
    from spikesub.continual.strategies import make_strategy

    device = _resolve_device(config.device)
    ranks = from_environment(device)
    device = ranks.device(device)
    tasks = benchmark_tasks(config, download=download)
    # refused before the run folder exists: an oversized network or batch leaves nothing behind
    stage_sizes = [len(task.y_train) for task in tasks]
    n_train = sum(stage_sizes) if config.method == "multitask" else max(stage_sizes)
    if config.architecture == "mlp":
        check_continual_memory(config, tasks[0].n_features, n_train, n_outputs=n_outputs(config))
    torch.manual_seed(_derived_seed(config.seed, 0x5EED))
    model = build_model(config, tasks[0].n_features)
    if config.architecture != "mlp":  # the conv stages' activity, before anything is run
        check_conv_memory(model, config)
    run_dir = ranks.main_only(lambda: _prepare_folder(config, out, resume))
    model = model.to(device)
    ranks.broadcast_(model.state_dict().values())  # the same start on every rank, as DDP's
    online_step = _online_trainer(model) if config.training == "online" else None
    fingerprint = config_fingerprint(JOB, config.to_dict())
    saved = _saved_state(run_dir, fingerprint) if resume else None
    # on resume, every option the strategy ran with, its defaults included, so that the
    # resumed run repeats the interrupted one even if the strategy's defaults have changed
    options = dict(saved["strategy"]["options"]) if saved else config.strategy_kwargs()
    show = _show_progress(progress) and ranks.is_main
    strategy = make_strategy(
        config.method,
        model,
        progress=show,
        distributed=ranks if ranks.is_distributed else None,
        **options,
    )
    if not resume:
        # written once the options are known to be valid: a refused start leaves no run
        ranks.main_only(lambda: _write_config(run_dir, config, fingerprint, ranks.world_size))
    session = _Session(
        config=config, ranks=ranks, device=device, show=show, tasks=tasks, run_dir=run_dir,
        fingerprint=fingerprint, model=model,
        online_step=online_step,
        strategy=strategy, R=metrics_mod.accuracy_matrix(len(tasks)),
        times={k: [] for k in _TIME_KEYS},
    )  # fmt: skip
    if saved is not None:
        _restore(session, saved)
    return session


def _saved_state(run_dir: Path, fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint of the run to resume, checked against this configuration (None when
    no task had finished)."""
    checkpoint_path = run_dir / "checkpoint.pt"
    if not checkpoint_path.exists():
        return None
    state = load_checkpoint(run_dir)
    if state.get("format") != _CHECKPOINT_FORMAT:
        raise RunFolderError(f"{checkpoint_path}: unknown checkpoint format {state.get('format')}")
    if "fingerprint" in state:  # checkpoints written before fingerprints have none
        check_checkpoint_fingerprint(checkpoint_path, state["fingerprint"], fingerprint)
    return state


def _write_config(run_dir: Path, config: ContinualConfig, fingerprint: str, world: int) -> None:
    document = {
        "experiment": JOB,
        "job": JOB,
        "fingerprint": fingerprint,
        "world_size": world,
        **config.to_dict(),
    }
    write_json(run_dir / "config.json", document)


def _restore(session: _Session, state: Mapping[str, Any]) -> None:
    """Model, strategy, measurements and random generators as the checkpoint left them."""
    _restore_model(session.model, state["model"], session.run_dir / "checkpoint.pt")
    session.strategy.load_state_dict(state["strategy"])
    session.R = state["R"].numpy().astype(np.float64)
    session.times = {k: [float(v) for v in state["times"][k]] for k in _TIME_KEYS}
    session.n_train = [int(v) for v in state["n_train"]]
    _set_rng_states(state["rng"])
    session.start = int(state["task"]) + 1


def _learn_task(session: _Session, t: int) -> tuple[np.ndarray, torch.optim.Optimizer]:
    """Stage ``t``: train, let the strategy end the task, evaluate every task; the accuracy
    row and the seconds of each phase go into the session. Returns the row and the
    optimizer (for the checkpoint)."""
    config = session.config
    torch.manual_seed(_derived_seed(config.seed, t))
    if session.multitask:
        data = _joint_data(session.tasks, n_outputs(config), session.device)
    else:
        data = _task_data(session.tasks[t], n_outputs(config), session.device)
    session.n_train.append(len(data))
    if t > 0 and hasattr(session.model, "freeze_norm"):
        session.model.freeze_norm()  # batch norm learns on the first task only (HLOP's code)
    session.strategy.begin_task(t)
    optimizer, train_s, proj_s, pen_s = _train(session, t, data)
    session.strategy.set_shard(None)
    # the strategy's recording hooks ran inside the training steps: its cost, not plain
    # training's
    proj_s += session.strategy.pop_hook_seconds()
    end_s = _end_task(session, t, data)
    t0 = time.perf_counter()
    row = _evaluate(session.model, session.tasks, session.device, session.ranks)
    eval_s = time.perf_counter() - t0
    session.R[len(session.tasks) - 1 if session.multitask else t] = row
    for key, value in zip(_TIME_KEYS, (train_s, proj_s, pen_s, end_s, eval_s), strict=True):
        session.times[key].append(value)
    return row, optimizer


def _train(
    session: _Session, t: int, data: _TrainData
) -> tuple[torch.optim.Optimizer, float, float, float]:
    """The epochs of stage ``t``; returns the optimizer and the seconds of training, of the
    strategy's step (projection) and of its penalty."""
    config, model, strategy = session.config, session.model, session.strategy
    optimizer = torch.optim.SGD(
        _param_groups(model, config.input_lr_scale if t > 0 else 1.0),
        lr=_task_lr(config, t),
        momentum=config.momentum,
    )
    steps_per_epoch = data.n_batches(config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    done_steps = 0
    model.train()
    proj_s = pen_s = 0.0
    t0 = time.perf_counter()
    for epoch in range(config.epochs):
        strategy.begin_epoch(epoch, config.epochs)
        if t == 0 and epoch == config.epochs - 1 and hasattr(model, "average_norm_statistics"):
            model.average_norm_statistics()  # what freeze_norm keeps: this epoch's average
        rng = np.random.default_rng([config.seed, t, epoch])
        batch_bar = _bar(
            data.batches(config.batch_size, rng),
            show=session.show,
            total=data.n_batches(config.batch_size),
            desc=f"task {t} epoch {epoch + 1}/{config.epochs}",
            leave=False,
        )
        for batch in batch_bar:
            optimizer.zero_grad(set_to_none=True)
            tp = time.perf_counter()
            penalty = strategy.penalty()
            pen_s += time.perf_counter() - tp
            _backward(session, batch, penalty, t, epoch)
            tp = time.perf_counter()
            strategy.before_step()
            proj_s += time.perf_counter() - tp
            rate = _scheduled_lr(config, t, done_steps, total_steps, steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = rate * group["lr_scale"]
            optimizer.step()
            done_steps += 1
    return optimizer, time.perf_counter() - t0, proj_s, pen_s


def _backward(session: _Session, batch: tuple, penalty: torch.Tensor, t: int, epoch: int) -> None:
    """Gradients of one minibatch's loss plus ``penalty``: this process's shard under
    torchrun, through the online trainer, or by plain backpropagation through time; a
    diverged loss stops the run with advice."""
    model, online_step = session.model, session.online_step
    x, y, mask = batch
    try:
        if session.ranks.is_distributed:
            loss_value = _backward_shard(
                model, online_step, session.strategy, session.ranks, batch, penalty
            )
        elif online_step is not None:
            loss_value = online_step(x, y, mask, penalty, _loss_fn)
        else:
            logits = metrics_mod.masked_logits(model(x), mask)
            loss = _loss_fn(logits, y) + penalty
            loss.backward()
            loss_value = float(loss.detach())
    except ValueError as exc:
        _raise_if_diverged(model, session.config, t, epoch, exc)
        raise
    if not math.isfinite(loss_value):
        _raise_if_diverged(model, session.config, t, epoch, f"loss is {loss_value}")


def _end_task(session: _Session, t: int, data: _TrainData) -> float:
    """The strategy's end of stage ``t`` (subspaces, Fisher...); returns its seconds, less
    the diagnostics it timed apart."""
    config = session.config
    t0 = time.perf_counter()
    # online training: GPM / HLOP protect the presynaptic traces its weight gradients are
    # made of; EWC's Fisher needs gradients, which the model's own forward gives
    traces = session.online_step is not None and config.method in ("gpm", "hlop")
    net = session.online_step.forward if traces else session.model
    if session.multitask:
        forward = net
    else:
        mask = metrics_mod.class_mask(session.tasks[t].classes, n_outputs(session.config))
        forward = _forward_fn(net, mask)
    passes = _Passes(data, config.batch_size, config.seed, t)
    session.strategy.end_task(t, passes, forward, _loss_fn)
    return time.perf_counter() - t0 - session.strategy.diagnostic_seconds


def _checkpoint(session: _Session, t: int, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Everything a resume after stage ``t`` needs."""
    return {
        "format": _CHECKPOINT_FORMAT,
        "fingerprint": session.fingerprint,
        "task": t,
        "model": session.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "strategy": session.strategy.state_dict(),
        "R": torch.from_numpy(session.R.copy()),
        "times": {k: list(v) for k, v in session.times.items()},
        "n_train": list(session.n_train),
        "rng": _rng_states(),
    }


def _write_task(run_dir: Path, checkpoint: dict[str, Any], *args: Any) -> dict[str, Any]:
    """Write a finished task's checkpoint, then its results (``args`` of :func:`_write_results`)."""
    _save_checkpoint(run_dir, checkpoint)
    return _write_results(run_dir, *args)


def _backward_shard(
    model: nn.Module,
    online_step,
    strategy,
    ranks: DistributedContext,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    penalty: torch.Tensor,
) -> float:
    """One data-parallel step's gradients: this rank's shard of the global ``batch``, its
    mean loss weighted by its share of the batch and ``1 / world_size`` of the penalty, the
    gradients summed over the ranks. Returns the batch's loss (the same on every rank)."""
    shard = ranks.shard(len(batch[1]))
    strategy.set_shard(shard)
    x, y, mask = shard.take(*batch)
    penalty = penalty / ranks.world_size

    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _loss_fn(logits, target) * shard.share

    if shard.size == 0:
        if online_step is None:
            with torch.no_grad():  # the strategy's taps draw their samples, as on the others
                model(batch[0][:1])
        if penalty.requires_grad:
            penalty.backward()
        loss_value = float(penalty.detach())
    elif online_step is not None:
        loss_value = online_step(x, y, mask, penalty, loss_fn)
    else:
        loss = loss_fn(metrics_mod.masked_logits(model(x), mask), y) + penalty
        loss.backward()
        loss_value = float(loss.detach())
    total = torch.tensor([loss_value], dtype=torch.float64)
    ranks.sum_gradients(model.parameters(), values=total)
    return float(total[0])


def _evaluate(
    model: nn.Module, tasks: list[Task], device: torch.device, ranks: DistributedContext
) -> np.ndarray:
    """Accuracy on every task's test set; with several ranks, each scores its share of every
    test set and the counts are summed."""
    if not ranks.is_distributed:
        return metrics_mod.evaluate(model, tasks, device=device)

    def part(n: int) -> tuple[int, int]:
        shard = ranks.shard(n)
        return shard.start, shard.stop

    counts = metrics_mod.correct_counts(model, tasks, device=device, part=part)
    correct = ranks.all_reduce_sum(torch.from_numpy(counts.astype(np.float64))).numpy()
    sizes = np.array([len(task.y_test) for task in tasks], dtype=np.float64)
    return np.where(sizes > 0, correct / np.maximum(sizes, 1), np.nan)


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


def _task_lr(config: ContinualConfig, t: int) -> float:
    """The base SGD rate of task ``t``: ``lr`` for the first, ``lr_continual`` (if set) after."""
    return config.lr if t == 0 or config.lr_continual is None else config.lr_continual


def _scheduled_lr(
    config: ContinualConfig, t: int, step: int, total: int, steps_per_epoch: int
) -> float:
    """SGD rate of step ``step`` (0-based) of task ``t``'s ``total`` steps: a linear ramp
    over the first ``warmup_epochs`` epochs (``(step + 1) / warmup_steps`` of the rate, as
    the HLOP code's per-epoch ``(epoch + 1) / warmup``), then constant or cosine decay to 0
    over the remaining steps."""
    lr = _task_lr(config, t)
    warmup = min(config.warmup_epochs * steps_per_epoch, total)
    if step < warmup:
        return lr * (step + 1) / warmup
    if config.lr_schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))
    return lr


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
