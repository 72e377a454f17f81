"""Continual-learning strategies: one interface for fine-tuning, EWC, GPM and HLOP.

A training loop drives a strategy through these calls::

    strategy = make_strategy("hlop", model)
    for task_id, task in enumerate(tasks):
        strategy.begin_task(task_id)
        for epoch in range(epochs):
            strategy.begin_epoch(epoch, epochs)  # optional: HLOP records the last epoch
            for x, y in batches:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y) + strategy.penalty()
                loss.backward()
                strategy.before_step()          # edits .grad (projection)
                optimizer.step()
        strategy.end_task(task_id, batches, model, loss_fn)   # bases / Fisher / Hebbian

Protected layers are, by default, every ``nn.Linear`` and ``nn.Conv2d`` of the model in
module order (for :class:`~spikesub.models.snn.SpikingLinear` that is its inner ``.linear``;
for an snnTorch model, its ``nn.Linear`` layers, which its time loop calls once per step).

Optimiser requirements of the projection methods (GPM, HLOP): plain SGD without weight
decay; with momentum, reset the momentum buffers at the start of each task (a fresh
optimiser per task does this), otherwise the buffers carry unprojected components of the
previous task's gradients into the next one.

Biases: projection acts on weights. The projection strategies freeze the biases of the
protected layers after the first task (their gradients are zeroed in :meth:`before_step`
for tasks > 0), because a bias shift changes the layer's output on old inputs whatever the
projection does; networks built for continual learning use ``bias=False`` on the protected
layers, which makes the question moot.

Data-parallel runs (``torchrun``; a strategy built with ``distributed=``, a
:class:`~spikesub.continual.distributed.DistributedContext`): every rank gets the same global
batches and works on its :class:`~spikesub.continual.distributed.Shard` of each; the loop
sums the gradients over the ranks before :meth:`Strategy.before_step` (which then projects
the summed gradient on every rank) and tells the strategy each training step's shard with
:meth:`Strategy.set_shard`. :meth:`Strategy.end_task` combines what it measures so that every
rank ends with what a single process would compute from the whole batches: GPM's and HLOP's
Gram matrices are summed over the ranks; EWC sums each batch's gradient over the ranks
before squaring it (the Fisher of a batch is not the sum of its parts'); HLOP's Hebbian rows
are the sample a single process would keep, assembled from every rank's rows (see
:mod:`spikesub.continual.taps`), so every rank runs the same Hebbian learning on the same
rows.
"""

from __future__ import annotations

import abc
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from spikesub.continual.distributed import SINGLE_PROCESS, DistributedContext, Shard
from spikesub.continual.projection import (
    GradientProjector,
    ProjectedLinearFunction,
    extend_basis,
    grad_matrix,
    principal_angles,
)
from spikesub.continual.strategy_defaults import (
    OPTION_DEFAULTS,
    OPTIONAL_OPTION_TYPES,
    ByLayer,
    check_option_type,
)
from spikesub.continual.subspace import HebbianSubspace
from spikesub.continual.taps import ActivityTap
from spikesub.models.snn.validation import check_finite_tensor
from spikesub.models.validation import check_int, check_real

__all__ = [
    "EWC",
    "GPM",
    "HLOP",
    "STRATEGIES",
    "FineTune",
    "Strategy",
    "make_strategy",
    "protected_layers",
]


MAX_TASK_ID = 2**31 - 1
"""Largest task index (far more tasks than any sequence has)."""


def _k_schedule(k: Any, n_layers: int) -> list[list[int]] | None:
    """``k_per_task`` as one list of per-layer counts per task (None stays None): an int is
    the same count for every layer and task, a flat list one count per layer for every task,
    a list of lists one entry per task (the last repeats)."""
    if k is None:
        return None
    if isinstance(k, (list, tuple)) and k and all(isinstance(v, (list, tuple)) for v in k):
        entries = [list(v) for v in k]
    elif isinstance(k, (list, tuple)):
        entries = [list(k)]
    else:
        entries = [[k] * n_layers]
    for t, counts in enumerate(entries):
        if len(counts) != n_layers:
            raise ValueError(
                f"k_per_task must be an int, one int per protected layer ({n_layers}), or a "
                f"list of such lists, one per task; entry {t} has {len(counts)} values"
            )
        for v in counts:
            check_int("k_per_task", v, minimum=0)
    return [[int(v) for v in counts] for counts in entries]


def protected_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every ``nn.Linear`` and ``nn.Conv2d`` of ``model``, named, in module order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv2d))
    ]


def _resolve_layers(
    model: nn.Module, layers: Sequence[nn.Module] | None
) -> list[tuple[str, nn.Module]]:
    if layers is None:
        found = protected_layers(model)
        if not found:
            raise ValueError("model has no nn.Linear or nn.Conv2d layer to protect")
        return found
    names = {id(module): name for name, module in model.named_modules()}
    resolved = []
    for i, module in enumerate(layers):
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            raise TypeError(
                f"layers[{i}] must be an nn.Linear or nn.Conv2d (for a SpikingLinear pass its "
                f".linear); got {type(module).__name__}"
            )
        if id(module) not in names:
            raise ValueError(f"layers[{i}] is not a submodule of model")
        resolved.append((names[id(module)], module))
    return resolved


RENAMED_OPTIONS = {
    "threshold": "energy_threshold",
    "threshold_increment": "energy_threshold_increment",
}
"""Options renamed since earlier versions: ``threshold`` said nothing of which threshold (the
spiking layers have firing thresholds); the old names are still taken, with a warning."""


def renamed_options(opts: dict[str, Any], *, warn: bool = True) -> dict[str, Any]:
    """``opts`` with the old option names of :data:`RENAMED_OPTIONS` replaced by the new ones
    (a ``DeprecationWarning`` per old name when ``warn``; checkpoints of earlier runs are
    read without one)."""
    renamed = dict(opts)
    for old, new in RENAMED_OPTIONS.items():
        if old not in renamed:
            continue
        if new in renamed:
            raise TypeError(f"give {new!r} or its old name {old!r}, not both")
        if warn:
            warnings.warn(
                f"the strategy option {old!r} is now {new!r}", DeprecationWarning, stacklevel=4
            )
        renamed[new] = renamed.pop(old)
    return renamed


class Strategy:
    """Base class: the calls a continual-learning loop makes; all of them do nothing here.

    Args:
        model: the network being trained.
        layers: the layers to protect (``nn.Linear`` / ``nn.Conv2d`` submodules of
            ``model``); default: all of them, in module order.
        progress: show a tqdm bar in :meth:`end_task` (only when stderr is a terminal).
        distributed: the data-parallel context of the run (default: a single process).
        **opts: options of the subclass; unknown names raise ``TypeError``.

    Attributes:
        name: registry name of the strategy.
        model: the model.
        layer_names: qualified names of the protected layers.
        layers: the protected modules, in the same order.
        task_id: the task being trained (-1 before the first :meth:`begin_task`).
        tasks_done: how many tasks :meth:`end_task` has finished.
        diagnostic_seconds: time the last :meth:`end_task` spent on diagnostics that the
            method does not need (HLOP's comparison with GPM); benchmarks leave it out of the
            method's cost.
    """

    name: str = "base"
    option_defaults: dict[str, Any] = {}
    # The type of each option whose default is None ("int", "real" or "int_or_list"); the
    # others take the type of their default.
    optional_option_types: dict[str, str] = {}

    def __init__(
        self,
        model: nn.Module,
        *,
        layers: Sequence[nn.Module] | None = None,
        progress: bool = False,
        distributed: DistributedContext | None = None,
        **opts: Any,
    ) -> None:
        opts = renamed_options(opts)
        self.check_options(opts)
        self.model = model
        self.distributed = SINGLE_PROCESS if distributed is None else distributed
        named = _resolve_layers(model, layers)
        self.layer_names = [name for name, _ in named]
        self.layers = [module for _, module in named]
        self.progress = bool(progress)
        self.options = {
            name: value.resolve(len(self.layers)) if isinstance(value, ByLayer) else value
            for name, value in {**self.option_defaults, **opts}.items()
        }
        self.task_id = -1
        self.tasks_done = 0
        self.end_task_seconds: list[float] = []
        self.diagnostic_seconds = 0.0

    @classmethod
    def check_options(cls, opts: dict[str, Any]) -> None:
        """Refuse unknown option names and values of the wrong type (before any model is
        built: the CLI checks ``--option`` values this way)."""
        opts = renamed_options(opts)
        unknown = sorted(set(opts) - set(cls.option_defaults))
        if unknown:
            allowed = ", ".join(sorted(cls.option_defaults)) or "none"
            raise TypeError(
                f"{cls.__name__} got unknown option(s) {', '.join(unknown)}; allowed: {allowed}"
            )
        for option, value in opts.items():
            check_option_type(
                option, value, cls.option_defaults[option], cls.optional_option_types.get(option)
            )

    # -- the loop's calls -------------------------------------------------------------------

    def begin_task(self, task_id: int) -> None:
        """Start training task ``task_id`` (0-based)."""
        self.task_id = check_int("task_id", task_id, minimum=0, maximum=MAX_TASK_ID)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        """Start pass ``epoch`` (0-based) of ``epochs`` over the current task's data.

        Optional: a strategy that records activity while the task trains (HLOP with
        ``record="training"``) starts its recording in the last pass; a loop that never
        calls it gets the strategy's fallback (a recording pass in :meth:`end_task`)."""
        epoch = check_int("epoch", epoch, minimum=0)
        epochs = check_int("epochs", epochs, minimum=0)
        if epoch >= epochs:
            raise ValueError(f"epoch must be < epochs ({epochs}); got {epoch}")

    def pop_hook_seconds(self) -> float:
        """Seconds the strategy's hooks spent inside training steps (recording activity)
        since the last call; benchmarks count them as the strategy's cost."""
        return 0.0

    def penalty(self) -> torch.Tensor:
        """Scalar added to the loss (EWC's quadratic penalty); zero here."""
        return self._zero()

    def before_step(self) -> None:
        """Edit the gradients (after ``loss.backward()``, before ``optimizer.step()``)."""

    def set_shard(self, shard: Shard | None) -> None:
        """The coming forward calls see this rank's ``shard`` of a global batch (None: the
        whole batch); a data-parallel loop calls it before each training step."""

    def end_task(
        self,
        task_id: int,
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
        forward: Callable[[torch.Tensor], torch.Tensor],
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> None:
        """Consolidate task ``task_id`` after its training.

        Args:
            task_id: the task just trained.
            batches: the task's training data, ``(x, y)`` pairs; iterated once per pass
                (a list, or an iterable that can be iterated several times).
            forward: ``forward(x) -> logits`` ``(B, classes)``; must run the protected
                layers (their activity is recorded by forward hooks while it runs).
            loss_fn: ``loss_fn(logits, y) -> scalar`` (mean over the batch).

        Raises:
            TypeError: ``batches`` is not an iterable of ``(x, y)`` pairs of tensors, or
                ``forward`` is not callable.
            ValueError: ``task_id`` < 0, ``batches`` is empty, a batch's ``x`` holds a NaN /
                inf, or a protected layer's activity does -- named with the task, the batch
                or layer and the first bad index, before any linear algebra.
        """
        task_id = check_int("task_id", task_id, minimum=0, maximum=MAX_TASK_ID)
        _check_batches(task_id, batches)
        if not callable(forward):
            raise TypeError(f"forward must be callable as forward(x); got {type(forward).__name__}")
        start = time.perf_counter()
        self.diagnostic_seconds = 0.0
        self._end_task(task_id, batches, forward, loss_fn)
        self.end_task_seconds.append(time.perf_counter() - start)
        self.tasks_done = max(self.tasks_done, task_id + 1)

    def _end_task(self, task_id, batches, forward, loss_fn) -> None:
        """Subclass hook of :meth:`end_task`."""

    # -- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything needed to continue exactly where this strategy is (tensors and numbers)."""
        return {
            "name": self.name,
            "options": dict(self.options),
            "layer_names": list(self.layer_names),
            "task_id": self.task_id,
            "tasks_done": self.tasks_done,
            "end_task_seconds": list(self.end_task_seconds),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output (same strategy, same protected layers)."""
        if state.get("name") != self.name:
            raise ValueError(f"state is of strategy {state.get('name')!r}, not {self.name!r}")
        if list(state.get("layer_names", [])) != self.layer_names:
            raise ValueError(
                f"state protects layers {state.get('layer_names')}, this strategy "
                f"{self.layer_names}"
            )
        self.options = renamed_options(dict(state["options"]), warn=False)
        self.task_id = int(state["task_id"])
        self.tasks_done = int(state["tasks_done"])
        self.end_task_seconds = [float(s) for s in state["end_task_seconds"]]

    def summary(self) -> dict:
        """JSON-able description: options, protected layers, time spent in :meth:`end_task`."""
        return {
            "strategy": self.name,
            "options": {k: _jsonable(v) for k, v in self.options.items()},
            "layers": list(self.layer_names),
            "tasks_done": self.tasks_done,
            "end_task_seconds": list(self.end_task_seconds),
        }

    # -- helpers ----------------------------------------------------------------------------

    def _zero(self) -> torch.Tensor:
        for p in self.model.parameters():
            return p.new_zeros(())
        return torch.zeros(())

    def _progress_bar(self, iterable: Iterable, total: int | None, desc: str):
        import sys

        from tqdm.auto import tqdm

        disable = not (self.progress and sys.stderr.isatty())
        return tqdm(iterable, total=total, desc=desc, leave=False, disable=disable)


def _check_batches(task_id: int, batches: Any) -> None:
    """Refuse, before any work, what cannot be a task's training batches: a tensor or another
    non-iterable, or a collection with no batch."""
    if isinstance(batches, (torch.Tensor, str, bytes)) or not isinstance(batches, Iterable):
        raise TypeError(
            f"batches (task {task_id}) must be an iterable of (x, y) pairs of tensors; got "
            f"{type(batches).__name__}"
        )
    if hasattr(batches, "__len__") and len(batches) == 0:
        raise ValueError(
            f"batches of task {task_id} is empty; end_task needs the task's training data, at "
            "least one (x, y) batch"
        )


def _batch_pair(task_id: int, index: int, batch: Any) -> tuple[torch.Tensor, Any]:
    """Batch ``index`` of ``batches`` as ``(x, y)``, checked: a pair whose ``x`` is a tensor of
    finite values (the message names the task, the batch and the first bad element)."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            f"batches[{index}] (task {task_id}) must be an (x, y) pair; got {type(batch).__name__}"
        )
    x, y = batch
    check_finite_tensor(f"batches[{index}][0]", x, where=f"the inputs of task {task_id}")
    if x.dim() == 0:
        raise ValueError(
            f"batches[{index}][0] (task {task_id}) must have a batch axis, shape (B, ...); got "
            "a 0-d tensor"
        )
    if isinstance(y, torch.Tensor) and y.dim() >= 1 and y.shape[0] != x.shape[0]:
        raise ValueError(
            f"batches[{index}] (task {task_id}) pairs {x.shape[0]} inputs with {y.shape[0]} "
            "targets; x and y must have the same batch size"
        )
    return x, y


def _no_batches(task_id: int) -> ValueError:
    return ValueError(
        f"batches of task {task_id} gave no examples; end_task needs the task's training "
        "data, at least one (x, y) batch"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return value


class FineTune(Strategy):
    """Plain training, no protection (the forgetting reference; multitask training is this
    strategy on the union of the tasks' data)."""

    name = "finetune"


class _TappedStrategy(Strategy, abc.ABC):
    """A strategy that records the protected layers' activity in :meth:`end_task` and, from
    the second task on, projects their weight gradients (GPM, HLOP).

    Projection: :meth:`before_step` right-multiplies each weight gradient by the layer's
    :class:`~spikesub.continual.projection.GradientProjector`. With ``activity_projection``
    (an option of the subclasses), an ``nn.Linear`` call with fewer input rows than the layer
    has outputs (a static input, computed once for all time steps) is projected on its
    input side instead, inside the backward pass (
    :class:`~spikesub.continual.projection.ProjectedLinearFunction`, by a forward hook that
    recomputes the call's output); a layer whose calls in a step were all projected so is
    not projected again.
    """

    def __init__(self, model, *, layers=None, progress=False, **opts) -> None:
        super().__init__(model, layers=layers, progress=progress, **opts)
        max_rows = self.options.get("max_rows")
        seed = int(self.options.get("seed", 0))
        self.taps = [
            ActivityTap(
                module,
                max_rows=max_rows,
                seed=seed + 7919 * i,
                trace_decay=self.options.get("trace_decay"),
            )
            for i, module in enumerate(self.layers)
        ]
        self.dims = [tap.dim for tap in self.taps]
        self._projectors: list[GradientProjector] | None = None
        self._hooks: list[Any] = []
        self._calls = [[0, 0] for _ in self.layers]  # per layer: calls projected / not
        self._hook_seconds = [0.0]

    @abc.abstractmethod
    def _make_projectors(self) -> list[GradientProjector]:
        """One projector per protected layer, on its weight's device and dtype."""

    def _ensure_projectors(self) -> list[GradientProjector]:
        if self._projectors is None:
            self._projectors = self._make_projectors()
        return self._projectors

    def begin_task(self, task_id: int) -> None:
        super().begin_task(task_id)
        self._projectors = None
        self._remove_hooks()
        self._calls = [[0, 0] for _ in self.layers]
        if self.tasks_done > 0 and self.options.get("activity_projection", False):
            for i, module in enumerate(self.layers):
                if isinstance(module, nn.Linear):
                    self._hooks.append(module.register_forward_hook(self._activity_hook(i)))

    def _remove_hooks(self) -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def _activity_hook(self, i: int):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor):
            if not args or not torch.is_grad_enabled() or not module.weight.requires_grad:
                return None
            start = time.perf_counter()
            rows = args[0].reshape(-1, module.in_features)
            if rows.shape[0] >= module.out_features:
                self._calls[i][1] += 1  # cheaper to project the gradient in before_step
                return None
            projector = self._ensure_projectors()[i]
            out = ProjectedLinearFunction.apply(
                rows, module.weight, module.bias, projector, self._hook_seconds
            )
            self._calls[i][0] += 1
            self._hook_seconds[0] += time.perf_counter() - start
            return out.view(output.shape)

        return hook

    def before_step(self) -> None:
        if self.tasks_done == 0:
            return
        for i, (module, projector) in enumerate(
            zip(self.layers, self._ensure_projectors(), strict=True)
        ):
            projected, unprojected = self._calls[i]
            self._calls[i] = [0, 0]
            if projected and not unprojected and not self.distributed.is_distributed:
                # every call of this step was projected on its input side; with several
                # ranks, the summed gradient is projected again (idempotent) on every rank,
                # whose own calls may have been projected otherwise
                continue
            g = grad_matrix(module)
            if g is not None:
                projector.apply_(g)  # idempotent: also right after a partial projection
        self._freeze_biases()

    def set_shard(self, shard: Shard | None) -> None:
        for tap in self.taps:
            tap.shard = shard

    def pop_hook_seconds(self) -> float:
        seconds = self._hook_seconds[0] + sum(tap.seconds for tap in self.taps)
        self._hook_seconds[0] = 0.0
        for tap in self.taps:
            tap.seconds = 0.0
        return seconds

    def end_task(self, task_id, batches, forward, loss_fn) -> None:
        self._remove_hooks()
        super().end_task(task_id, batches, forward, loss_fn)
        self._projectors = None
        for tap in self.taps:  # the recording passes are end_task's time, not training's
            tap.seconds = 0.0

    def _record(
        self,
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
        forward: Callable[[torch.Tensor], torch.Tensor],
        gram_examples: int,
        *,
        keep_rows: bool,
        keep_examples: int | None = None,
        desc: str = "activity",
        task_id: int = 0,
    ) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """One pass of ``forward`` over ``batches`` (no grad, eval mode) recording every
        protected layer's activity (``task_id`` names the task in error messages).

        Returns:
            ``(grams, rows)``: per layer the Gram matrix ``X^T X`` (float64, ``(n, n)``) of
            ALL the rows of the first ``gram_examples`` examples; and, with ``keep_rows``,
            per forward call the list of each layer's rows (subsampled to ``max_rows`` per
            call, on the CPU) over the whole pass, or over its batches up to the one that
            completes ``keep_examples`` examples (None: all) — without ``keep_rows`` the pass
            stops once the Gram matrices are complete.

        Raises:
            ValueError: a batch's input or a layer's activity holds a NaN / inf, or the pass
                saw no example (see :meth:`_check_activity`).
        """
        stop_after = gram_examples if not keep_rows else keep_examples
        if stop_after is not None:
            stop_after = max(stop_after, gram_examples)
        grams = [torch.zeros((d, d), dtype=torch.float64) for d in self.dims]
        recorded: list[list[torch.Tensor]] = []
        was_training = self.model.training
        self.model.eval()
        for tap in self.taps:
            tap.pop()
            tap.keep_rows = keep_rows
            tap.start()
        seen = 0
        try:
            total = len(batches) if hasattr(batches, "__len__") else None
            for index, batch in enumerate(self._progress_bar(batches, total, desc)):
                if stop_after is not None and seen >= stop_after:
                    break
                x, _ = _batch_pair(task_id, index, batch)
                parts = [x]
                if seen < gram_examples < seen + x.shape[0]:
                    # the Gram matrix takes exactly the first gram_examples examples
                    need = gram_examples - seen
                    parts = [x[:need], x[need:]] if keep_rows else [x[:need]]
                for part in parts:
                    for tap, gram in zip(self.taps, grams, strict=True):
                        tap.gram = gram if seen < gram_examples else None
                    self._recorded_forward(forward, part, probe=keep_rows)
                    seen += part.shape[0]
                    if keep_rows:
                        recorded.append([tap.pop().detach().cpu() for tap in self.taps])
        finally:
            for tap in self.taps:
                tap.stop()
                tap.pop()
                tap.gram = None
                tap.keep_rows = True
            self.set_shard(None)
            self.model.train(was_training)
        if seen == 0:
            raise _no_batches(task_id)
        self.distributed.all_reduce_sum_([*grams, *(rows for call in recorded for rows in call)])
        self._check_activity(task_id, grams, recorded)
        return grams, recorded

    def _recorded_forward(self, forward: Callable, x: torch.Tensor, *, probe: bool) -> None:
        """``forward`` (no grad) over this rank's shard of the batch ``x``; a rank whose shard
        is empty runs one example of it when ``probe`` (the taps draw their row samples of
        the whole batch, as the other ranks' taps do) and nothing otherwise."""
        if not self.distributed.is_distributed:
            with torch.no_grad():
                forward(x)
            return
        shard = self.distributed.shard(x.shape[0])
        self.set_shard(shard)
        (part,) = shard.take(x)
        if shard.size == 0:
            if not probe:
                return
            part = x[:1]
        with torch.no_grad():
            forward(part)

    def _grams(self, batches, forward, max_examples: int, task_id: int = 0) -> list[torch.Tensor]:
        """Gram matrices ``X^T X`` (float64, ``(n, n)``) of each layer's activity rows (all
        rows of the first ``max_examples`` examples)."""
        return self._record(batches, forward, max_examples, keep_rows=False, task_id=task_id)[0]

    def _check_activity(
        self, task_id: int, grams: list[torch.Tensor], recorded: list[list[torch.Tensor]]
    ) -> None:
        """Refuse a NaN / inf in any protected layer's recorded activity (its Gram matrix or
        its kept rows), naming the task and the layer, before any linear algebra."""
        for i, gram in enumerate(grams):
            where = f"X^T X of the activity of layer {self._layer_label(i)} in task {task_id}"
            check_finite_tensor("gram", gram, where=where)
        for call, rows in enumerate(recorded):
            for i, layer_rows in enumerate(rows):
                where = f"the activity of layer {self._layer_label(i)} in task {task_id}"
                check_finite_tensor(f"rows of forward call {call}", layer_rows, where=where)

    def _layer_label(self, i: int) -> str:
        """The protected layer ``i``'s name, quoted (its class for an unnamed root module)."""
        return repr(self.layer_names[i] or type(self.layers[i]).__name__)

    def _freeze_biases(self) -> None:
        if self.options.get("freeze_bias", True) and self.tasks_done > 0:
            for module in self.layers:
                if module.bias is not None and module.bias.grad is not None:
                    module.bias.grad.zero_()

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["taps"] = [tap.state_dict() for tap in self.taps]
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        for tap, tap_state in zip(self.taps, state["taps"], strict=True):
            tap.load_state_dict(tap_state)


def _threshold_for(options: dict, task_id: int, n_layers: int) -> list[float]:
    """Each protected layer's energy threshold for task ``task_id``."""
    base = options["energy_threshold"]
    bases = list(base) if isinstance(base, (list, tuple)) else [base] * n_layers
    step = float(options["energy_threshold_increment"]) * task_id
    return [min(1.0, float(b) + step) for b in bases]


def _check_thresholds(value, n_layers: int) -> None:
    """``energy_threshold``: a number in [0, 1], or one per protected layer."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_layers:
            raise ValueError(
                f"energy_threshold must be a number or one number per protected layer "
                f"({n_layers}); got {len(value)} values"
            )
        for v in value:
            check_real("energy_threshold", v, low=0.0, high=1.0)
    else:
        check_real("energy_threshold", value, low=0.0, high=1.0)


class GPM(_TappedStrategy):
    """Gradient Projection Memory (Saha et al., ICLR 2021).

    After each task, the activity of every protected layer on up to ``samples`` training
    examples (each example gives ``T`` rows for a sequence input, or one row per patch for a
    convolution) forms the representation matrix ``X``; the top directions of its residual
    after the existing basis are added until the basis captures ``energy_threshold`` of
    ``||X||^2`` (plus ``energy_threshold_increment`` per task, capped at 1). While later tasks
    train,
    :meth:`before_step` projects each weight gradient onto the orthogonal complement of the
    basis and (``freeze_bias``) zeroes the protected layers' bias gradients.

    Options: ``energy_threshold`` (0.97; or one value per protected layer),
    ``energy_threshold_increment`` (0.0), ``samples`` (300),
    ``max_rows`` (rows kept per forward call and layer, None: all), ``max_k`` (cap on the
    directions added per task and layer, None), ``activity_projection`` (True: see
    ``_TappedStrategy``; the same projection, computed where it is cheaper),
    ``freeze_bias`` (True), ``trace_decay`` (None; as HLOP's), ``seed`` (0).
    """

    name = "gpm"
    option_defaults = OPTION_DEFAULTS["gpm"]
    optional_option_types = OPTIONAL_OPTION_TYPES["gpm"]

    def __init__(self, model, *, layers=None, progress=False, **opts) -> None:
        super().__init__(model, layers=layers, progress=progress, **opts)
        _check_thresholds(self.options["energy_threshold"], len(self.layers))
        check_real(
            "energy_threshold_increment",
            self.options["energy_threshold_increment"],
            low=0.0,
            high=1.0,
        )
        check_int("samples", self.options["samples"], minimum=1)
        self.bases = [torch.zeros((d, 0)) for d in self.dims]
        self.history: list[dict] = []

    def _make_projectors(self) -> list[GradientProjector]:
        return [
            GradientProjector.from_basis(b).to(module.weight.device, module.weight.dtype)
            for b, module in zip(self.bases, self.layers, strict=True)
        ]

    def _end_task(self, task_id, batches, forward, loss_fn) -> None:
        grams = self._grams(batches, forward, self.options["samples"], task_id)
        thresholds = _threshold_for(self.options, task_id, len(self.layers))
        record = {"task": task_id, "energy_threshold": thresholds, "layers": []}
        for i, gram in enumerate(grams):
            self.bases[i], info = extend_basis(
                gram, self.bases[i], thresholds[i], max_k=self.options["max_k"]
            )
            info["k_total"] = int(self.bases[i].shape[1])
            record["layers"].append(info)
        self.history.append(record)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["bases"] = [b.clone() for b in self.bases]
        state["history"] = [dict(h) for h in self.history]
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.bases = [b.clone().float() for b in state["bases"]]
        self.history = [dict(h) for h in state["history"]]
        self._projectors = None

    def summary(self) -> dict:
        out = super().summary()
        out["subspace_dims"] = {
            name: int(b.shape[1]) for name, b in zip(self.layer_names, self.bases, strict=True)
        }
        out["input_dims"] = dict(zip(self.layer_names, self.dims, strict=True))
        out["history"] = _history_json(self.history, self.layer_names)
        return out


def _history_json(history: list[dict], names: list[str]) -> list[dict]:
    return [
        {
            "task": h["task"],
            **{k: h[k] for k in ("energy_threshold", "hebbian_seconds") if k in h},
            "layers": {
                name: {k: _jsonable(v) for k, v in info.items()}
                for name, info in zip(names, h["layers"], strict=True)
            },
        }
        for h in history
    ]


class HLOP(_TappedStrategy):
    """Hebbian learning based orthogonal projection (Xiao et al., ICLR 2024).

    One :class:`~spikesub.continual.subspace.HebbianSubspace` per protected layer. While task
    ``t > 0`` trains, :meth:`before_step` projects each weight gradient with the frozen lateral
    weights: ``G <- G - G Q Q^T`` with ``Q`` the QR basis of ``H_old^T`` (the default
    ``orthonormalise=True``; with False, ``G - G H_old^T H_old``), and (``freeze_bias``)
    zeroes the protected layers' bias gradients. After
    each task, :meth:`end_task`:

    1. takes each protected layer's activity rows of every forward call, subsampled to
       ``max_rows`` per call (the Hebbian rows; kept in memory, about
       ``batches * max_rows * sum(n)`` floats): with ``record="training"`` those its forward
       hooks recorded while the task's last epoch trained (the loop calls
       :meth:`begin_epoch`; the Gram matrix is then that of all the kept rows), otherwise
       (``record="pass"``, or a loop without :meth:`begin_epoch`) from one pass of the
       network over ALL the task's batches after training (the Gram matrix of the first
       ``samples`` examples' rows);
    2. picks the number of new lateral neurons — ``k_per_task`` (an int, one per layer, or
       a schedule: a list of per-layer lists, entry ``t`` for task ``t``, the last for every
       later task) or, when that is None, the energy criterion on the Gram matrix
       (``energy_threshold`` + ``energy_threshold_increment`` per task, as GPM's), capped by
       ``max_k`` — and adds them;
    3. runs the Hebbian rule over the recorded rows, as many batch updates as
       ``hebbian_epochs`` passes over the task's batches (rows recorded from fewer batches,
       ``record_examples``, are replayed in turn; no further forward passes), and freezes
       the new neurons. With ``compare_with_gpm`` a GPM basis
       of the same activity (same number of directions per task) is kept alongside, and the
       principal angles between it and span(H_old) are stored per layer.

    Options: ``k_per_task`` (None), ``energy_threshold`` (0.98; or one value per protected layer),
    ``energy_threshold_increment`` (0.0),
    ``max_k`` (None), ``samples`` (300), ``hebbian_epochs`` (2), ``rule`` ("oja"),
    ``mode`` ("rate"), ``lr`` (0.5), ``lr_final`` (0.05: the step
    decays linearly from ``lr`` to ``lr_final * lr`` over a task's Hebbian updates, when
    ``batches`` has a length), ``momentum`` (None: 0.9 for Oja, 0.0 for GHA, which diverges
    with large momentum), ``n_iters`` (5), ``clamp`` (None),
    ``spike_steps`` (32), ``step_norm`` ("top") — see
    :class:`~spikesub.continual.subspace.HebbianSubspace` —, ``max_rows`` (128: rows kept
    per forward call and layer, e.g. of the ``T * B`` rows of a sequence; None: all),
    ``orthonormalise`` (True: the rows of the less principal directions grow slowly from
    their small initial norm, so ``H_old^T H_old`` projects them only in part, and the exact
    projector onto their span protects better; False: the paper's ``G - G H^T H``),
    ``record`` ("pass": recording during the last training
    epoch is cheaper but sees weights that are still changing, and protected the final
    network less well on permuted MNIST), ``record_examples`` (None: the recording pass
    keeps the rows of every example of the task; an int stops it after the batch that
    completes that many examples, a random subset since each pass is shuffled — the
    pass costs about a third of a training epoch, and ``hebbian_epochs`` can replay fewer
    rows more often), ``activity_projection`` (True, as GPM's),
    ``compare_with_gpm`` (False), ``freeze_bias`` (True), ``trace_decay`` (None: a layer's
    sequence input is recorded as single steps' spikes; a decay, e.g. the LIF's ``beta``:
    as presynaptic traces, see :func:`~spikesub.continual.taps.presynaptic_trace`),
    ``seed`` (0).

    The Hebbian defaults were chosen on recorded training-set activity of the permuted-MNIST
    network (the learnt subspace's share of the activity energy against GPM's exact one, for
    a given time) and on a validation split of the digits benchmark: the learning is limited
    by the number of iterations rather than by the rows per batch, so few rows, several
    iterations and momentum converge fastest.
    """

    name = "hlop"
    option_defaults = OPTION_DEFAULTS["hlop"]
    optional_option_types = OPTIONAL_OPTION_TYPES["hlop"]

    def __init__(self, model, *, layers=None, progress=False, **opts) -> None:
        super().__init__(model, layers=layers, progress=progress, **opts)
        o = self.options
        if o["momentum"] is None:
            o["momentum"] = 0.0 if o["rule"] == "gha" else 0.9
        _check_thresholds(o["energy_threshold"], len(self.layers))
        check_real("energy_threshold_increment", o["energy_threshold_increment"], low=0.0, high=1.0)
        if o["record"] not in ("training", "pass"):
            raise ValueError(f"record must be 'training' or 'pass'; got {o['record']!r}")
        check_real("lr_final", o["lr_final"], low=0.0, high=1.0, low_open=True)
        check_int("samples", o["samples"], minimum=1)
        check_int("hebbian_epochs", o["hebbian_epochs"], minimum=0)
        if o["record_examples"] is not None:
            check_int("record_examples", o["record_examples"], minimum=1)
        self._k_schedule = _k_schedule(o["k_per_task"], len(self.layers))
        self.subspaces = [
            HebbianSubspace(
                d,
                rule=o["rule"],
                mode=o["mode"],
                lr=o["lr"],
                momentum=o["momentum"],
                n_iters=o["n_iters"],
                clamp=o["clamp"],
                spike_steps=o["spike_steps"],
                step_norm=o["step_norm"],
                seed=int(o["seed"]) * 1000 + i,
            )
            for i, d in enumerate(self.dims)
        ]
        self.gpm_bases = [torch.zeros((d, 0)) for d in self.dims]
        self.angles: list[torch.Tensor] = [torch.zeros(0, dtype=torch.float64) for _ in self.dims]
        self.history: list[dict] = []
        self.hebbian_seconds = 0.0
        self._recording = False

    def _projector(self, i: int, module: nn.Module) -> GradientProjector:
        sub = self.subspaces[i]
        if self.options["orthonormalise"]:
            projector = GradientProjector.from_basis(sub.basis())
        else:
            projector = GradientProjector.from_lateral(sub.H_old)
        return projector.to(module.weight.device, module.weight.dtype)

    def _make_projectors(self) -> list[GradientProjector]:
        return [self._projector(i, m) for i, m in enumerate(self.layers)]

    def begin_task(self, task_id: int) -> None:
        super().begin_task(task_id)
        self._stop_training_record()

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        super().begin_epoch(epoch, epochs)
        if self.options["record"] == "training" and epoch == epochs - 1:
            for tap in self.taps:
                tap.pop()
                tap.gram = None
                tap.keep_rows = True
                tap.start()
            self._recording = True

    def _stop_training_record(self) -> list[list[torch.Tensor]] | None:
        """Stop a recording started by :meth:`begin_epoch`; its rows per layer and call."""
        if not self._recording:
            return None
        self._recording = False
        calls = []
        for tap in self.taps:
            tap.stop()
            calls.append([rows.detach().cpu() for rows in tap.pop_calls()])
        # each rank's rows are its share of the sampled rows, the others' left zero
        self.distributed.all_reduce_sum_([rows for layer in calls for rows in layer])
        return calls

    def _end_task(self, task_id, batches, forward, loss_fn) -> None:
        o = self.options
        layer_calls = self._stop_training_record()
        if layer_calls is not None and all(layer_calls):
            # rows recorded while the task's last epoch trained: the Gram matrices are those
            # of all the kept rows (an unbiased sample of every batch's rows)
            grams = [_gram(calls) for calls in layer_calls]
            recorded = [list(rows) for rows in zip(*layer_calls, strict=True)]
            self._check_activity(task_id, grams, recorded)
        else:
            # one recording pass: the Gram matrices of the first `samples` examples (to
            # choose k and report the energy) and the Hebbian rows of every batch
            grams, recorded = self._record(
                batches,
                forward,
                o["samples"],
                keep_rows=True,
                keep_examples=o["record_examples"],
                task_id=task_id,
            )
        thresholds = _threshold_for(o, task_id, len(self.layers))
        ks = []
        for i, (sub, gram) in enumerate(zip(self.subspaces, grams, strict=True)):
            if self._k_schedule is not None:
                counts = self._k_schedule[min(task_id, len(self._k_schedule) - 1)]
                k = min(counts[i], sub.n_inputs - sub.k)
            else:
                k = sub.choose_k(energy_threshold=thresholds[i], gram=gram)
            if o["max_k"] is not None:
                k = min(k, int(o["max_k"]))
            sub.add_neurons(k)
            ks.append(k)
        energy_before = [
            _captured(gram, sub.basis()) for sub, gram in zip(self.subspaces, grams, strict=True)
        ]
        start = time.perf_counter()
        # hebbian_epochs counts passes over the task's batches: rows of fewer batches
        # (record_examples) are replayed in turn until as many updates are done
        n_batches = len(batches) if hasattr(batches, "__len__") else len(recorded)
        epochs = int(o["hebbian_epochs"])
        updates = epochs * n_batches if len(recorded) < n_batches else None
        if any(ks):
            for i, sub in enumerate(self.subspaces):
                sub.learn(
                    [rows[i] for rows in recorded],
                    epochs=epochs,
                    lr_final=float(o["lr_final"]),
                    updates=updates,
                )
        elapsed = time.perf_counter() - start
        self.hebbian_seconds += elapsed
        record = {
            "task": task_id,
            "energy_threshold": thresholds,
            "hebbian_seconds": elapsed,
            "layers": [],
        }
        for i, (sub, gram) in enumerate(zip(self.subspaces, grams, strict=True)):
            sub.freeze()
            info = {
                "k_new": ks[i],
                "k_total": sub.k,
                "energy_before": energy_before[i],
                "energy_after": _captured(gram, sub.basis()),
            }
            if o["compare_with_gpm"]:
                diag_start = time.perf_counter()
                self.gpm_bases[i], gpm_info = extend_basis(
                    gram, self.gpm_bases[i], 1.0, max_k=ks[i]
                )
                info["gpm_energy_after"] = gpm_info["energy_after"]
                self.angles[i] = principal_angles(sub.basis(), self.gpm_bases[i])
                if self.angles[i].numel():
                    info["angle_max_deg"] = float(self.angles[i].max())
                    info["angle_mean_deg"] = float(self.angles[i].mean())
                self.diagnostic_seconds += time.perf_counter() - diag_start
            record["layers"].append(info)
        self.history.append(record)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["subspaces"] = [sub.state_dict() for sub in self.subspaces]
        state["gpm_bases"] = [b.clone() for b in self.gpm_bases]
        state["angles"] = [a.clone() for a in self.angles]
        state["history"] = [dict(h) for h in self.history]
        state["hebbian_seconds"] = self.hebbian_seconds
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        for sub, sub_state in zip(self.subspaces, state["subspaces"], strict=True):
            sub.load_state_dict(sub_state)
        self.gpm_bases = [b.clone().float() for b in state["gpm_bases"]]
        self.angles = [a.clone() for a in state["angles"]]
        self.history = [dict(h) for h in state["history"]]
        self.hebbian_seconds = float(state["hebbian_seconds"])
        self._projectors = None

    def summary(self) -> dict:
        out = super().summary()
        out["subspace_dims"] = {
            name: sub.k_old for name, sub in zip(self.layer_names, self.subspaces, strict=True)
        }
        out["input_dims"] = dict(zip(self.layer_names, self.dims, strict=True))
        out["hebbian_seconds"] = self.hebbian_seconds
        out["history"] = _history_json(self.history, self.layer_names)
        if self.options["compare_with_gpm"]:
            out["principal_angles_deg"] = {
                name: a.tolist() for name, a in zip(self.layer_names, self.angles, strict=True)
            }
        return out


def _gram(calls: list[torch.Tensor]) -> torch.Tensor:
    """``X^T X`` (float64) of the rows of all ``calls`` ``(n_i, dim)``, products in float32."""
    rows = torch.cat(calls)
    r = rows if rows.dtype == torch.float64 else rows.float()
    return (r.T @ r).double()


def _captured(gram: torch.Tensor, basis: torch.Tensor) -> float:
    """Fraction of the activity energy ``trace(A)`` inside span(basis)."""
    total = float(gram.trace())
    if total <= 0 or basis.numel() == 0:
        return 0.0
    b = basis.double()
    return float((b * (gram @ b)).sum()) / total


class EWC(Strategy):
    """Elastic weight consolidation (Kirkpatrick et al., PNAS 2017).

    After each task the diagonal Fisher information of every trainable parameter is
    estimated on the task's training data (up to ``samples`` examples, the network in eval
    mode, so that batch norm's running statistics are used and left as they are) as the mean squared
    gradient of the log-likelihood of the LABELS (the empirical Fisher): per batch of size
    ``B`` the squared gradient of the batch's mean loss times ``B``, divided by the number of
    examples (the usual batched approximation). Fishers are summed over tasks and the anchor
    ``theta*`` is the parameters after the latest task; the penalty is
    ``lam / 2 * sum F (theta - theta*)^2``.

    Options: ``lam`` (penalty strength, default 1000.0), ``samples`` (None: all the task's data).
    """

    name = "ewc"
    option_defaults = OPTION_DEFAULTS["ewc"]
    optional_option_types = OPTIONAL_OPTION_TYPES["ewc"]

    def __init__(self, model, *, layers=None, progress=False, **opts) -> None:
        super().__init__(model, layers=layers, progress=progress, **opts)
        check_real("lam", self.options["lam"], low=0.0)
        if self.options["samples"] is not None:
            check_int("samples", self.options["samples"], minimum=1)
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.fisher: dict[str, torch.Tensor] = {}
        self.star: dict[str, torch.Tensor] = {}

    def penalty(self) -> torch.Tensor:
        if not self.fisher:
            return self._zero()
        total = self._zero()
        for name, p in self.params.items():
            total = total + (self.fisher[name] * (p - self.star[name]).pow(2)).sum()
        return 0.5 * float(self.options["lam"]) * total

    def _end_task(self, task_id, batches, forward, loss_fn) -> None:
        if not callable(loss_fn):
            raise TypeError(
                f"loss_fn must be callable as loss_fn(logits, y); got {type(loss_fn).__name__}"
            )
        saved = {n: (None if p.grad is None else p.grad.clone()) for n, p in self.params.items()}
        # in eval mode, as the network is scored: the passes must not move batch norm's
        # running statistics (in train mode they would, and change the model they measure)
        was_training = self.model.training
        self.model.eval()
        try:
            fisher, seen = self._fisher(task_id, batches, forward, loss_fn)
        finally:
            self.model.train(was_training)
            for n, p in self.params.items():
                p.grad = saved[n]
        if seen == 0:
            raise _no_batches(task_id)
        fisher = {n: f / seen for n, f in fisher.items()}
        for n, f in fisher.items():
            where = f"the loss gradients of task {task_id} overflowed"
            check_finite_tensor(f"fisher[{n!r}]", f, where=where)
        for n, p in self.params.items():
            self.fisher[n] = self.fisher[n] + fisher[n] if n in self.fisher else fisher[n]
            self.star[n] = p.detach().clone()

    def _fisher(self, task_id, batches, forward, loss_fn) -> tuple[dict, int]:
        """Summed ``B * grad^2`` per parameter over the first ``samples`` examples, and the
        number of examples seen (the parameters' ``.grad`` are overwritten)."""
        fisher = {n: torch.zeros_like(p) for n, p in self.params.items()}
        limit = self.options["samples"]
        seen = 0
        total = len(batches) if hasattr(batches, "__len__") else None
        for index, batch in enumerate(self._progress_bar(batches, total, "fisher")):
            if limit is not None and seen >= limit:
                break
            x, y = _batch_pair(task_id, index, batch)
            if limit is not None:
                x, y = x[: limit - seen], y[: limit - seen]
            self._batch_gradient(x, y, forward, loss_fn)
            for n, p in self.params.items():
                if p.grad is not None:
                    fisher[n] += p.grad.detach().pow(2) * x.shape[0]
            seen += x.shape[0]
        return fisher, seen

    def _batch_gradient(self, x, y, forward, loss_fn) -> None:
        """The gradient of the batch's mean loss in the parameters' ``.grad``; with several
        ranks, each computes its shard's part (its mean loss weighted by its share of the
        batch) and the parts are summed."""
        for p in self.params.values():
            p.grad = None
        if not self.distributed.is_distributed:
            loss = loss_fn(forward(x), y)
            loss.backward()
            return
        shard = self.distributed.shard(x.shape[0])
        if shard.size:
            x_part, y_part = shard.take(x, y)
            loss = loss_fn(forward(x_part), y_part) * shard.share
            loss.backward()
        self.distributed.sum_gradients(self.params.values())

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["fisher"] = {n: f.clone() for n, f in self.fisher.items()}
        state["star"] = {n: s.clone() for n, s in self.star.items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.fisher = {n: f.clone() for n, f in state["fisher"].items()}
        self.star = {n: s.clone() for n, s in state["star"].items()}

    def summary(self) -> dict:
        out = super().summary()
        out["fisher_mean"] = {n: float(f.mean()) for n, f in self.fisher.items()}
        return out


STRATEGIES: dict[str, type[Strategy]] = {
    "finetune": FineTune,
    "ewc": EWC,
    "gpm": GPM,
    "hlop": HLOP,
}
"""Registry: strategy name -> class."""


def make_strategy(name: str, model: nn.Module, **opts: Any) -> Strategy:
    """Build the strategy registered as ``name`` (see :data:`STRATEGIES`) for ``model``.

    ``"multitask"`` gives :class:`FineTune` (joint training is a choice of data).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {tuple(STRATEGIES)}; got {name!r}")
    key = name.lower()
    if key == "multitask":
        key = "finetune"
    if key not in STRATEGIES:
        raise ValueError(f"strategy name must be one of {(*STRATEGIES, 'multitask')}; got {name!r}")
    return STRATEGIES[key](model, **opts)
