"""Taps: record the presynaptic activity of ``nn.Linear`` / ``nn.Conv2d`` layers.

A weight gradient of a linear layer is a sum of outer products ``delta x^T`` over the rows
``x`` of its input, so the subspace spanned by those rows is what a projection method must
protect. An :class:`ActivityTap` collects these rows with a forward pre-hook while it is
started:

* ``nn.Linear``: the input of any shape ``(..., in_features)`` becomes ``(rows, in_features)``
  — ``(B, in)`` for a static input, ``(T * B, in)`` for :class:`~spikesub.models.snn.
  SpikingLinear`'s sequence input (called once), and ``B`` rows per call for an snnTorch
  time loop that calls the same ``nn.Linear`` ``T`` times;
* ``nn.Conv2d``: the input ``(N, C, H, W)`` is unfolded into its patches
  (:func:`torch.nn.functional.unfold`), one row ``(C * kh * kw,)`` per output position, in
  the order of the weight's ``(out, C * kh * kw)`` view.

Training code that computes a layer's output without calling the module (the online
trace-based training of :mod:`spikesub.continual.online`) feeds the activity it wants
protected with :func:`record_activity`.

Data-parallel runs: when a tap's :attr:`~ActivityTap.shard` says which part of a global batch
this process holds (:mod:`spikesub.continual.distributed`), the tap draws its row sample from
the global batch's rows, as a single process would, and keeps a zero-filled block of the
sampled rows with only its own rows filled in; the ranks' blocks summed give every rank the
rows a single process would have kept.
"""

from __future__ import annotations

import math
import time
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from spikesub.continual.distributed import Shard
from spikesub.models.memory import check_allocation

__all__ = [
    "ActivityTap",
    "activity_dim",
    "activity_rows",
    "activity_rows_at",
    "presynaptic_trace",
    "record_activity",
]

_ACTIVE: weakref.WeakKeyDictionary[nn.Module, list[ActivityTap]] = weakref.WeakKeyDictionary()


def _check_layer(module: nn.Module) -> None:
    if not isinstance(module, (nn.Linear, nn.Conv2d)):
        raise TypeError(f"module must be an nn.Linear or nn.Conv2d; got {type(module).__name__}")
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise ValueError(f"Conv2d with groups={module.groups} is not supported (groups=1 only)")
        if module.padding_mode != "zeros":
            raise ValueError(
                f"Conv2d padding_mode={module.padding_mode!r} is not supported ('zeros' only)"
            )


def activity_dim(module: nn.Module) -> int:
    """Length of one activity row: ``in_features``, or ``C * kh * kw`` for a Conv2d."""
    _check_layer(module)
    if isinstance(module, nn.Linear):
        return module.in_features
    kh, kw = module.kernel_size
    return module.in_channels * kh * kw


def _conv_padding(module: nn.Conv2d) -> tuple[int, int] | None:
    """Symmetric (ph, pw) padding, or None when 'same' needs an asymmetric pad."""
    pad = module.padding
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0)
        total = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size, strict=True)]
        if any(t % 2 for t in total):
            return None
        return (total[0] // 2, total[1] // 2)
    return tuple(pad)


def activity_rows(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The rows ``(n, activity_dim(module))`` of ``module``'s input ``x`` (see module doc)."""
    _check_layer(module)
    if isinstance(module, nn.Linear):
        return x.reshape(-1, module.in_features)
    x, padding = _conv_input(module, x)
    _check_unfold_memory(module, x, padding)
    patches = F.unfold(
        x, module.kernel_size, dilation=module.dilation, padding=padding, stride=module.stride
    )  # (N, C*kh*kw, L)
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])


def _conv_input(module: nn.Conv2d, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` as ``(N, C, H, W)`` and the symmetric padding left to apply: for ``'same'`` with
    an even total pad, ``x`` comes padded already (PyTorch pads the extra row and column at
    the end) and the padding left is zero."""
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"Conv2d input must have shape (N, C, H, W); got {tuple(x.shape)}")
    padding = _conv_padding(module)
    if padding is None:
        total = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size, strict=True)]
        pads = (total[1] // 2, total[1] - total[1] // 2, total[0] // 2, total[0] - total[0] // 2)
        return F.pad(x, pads), (0, 0)
    return x, padding


def _padded_conv_input(module: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``x`` as ``(N, C, H, W)``, zero-padded as the convolution pads it."""
    x, (ph, pw) = _conv_input(module, x)
    return F.pad(x, (pw, pw, ph, ph)) if ph or pw else x


def _conv_positions(
    module: nn.Conv2d, x: torch.Tensor, padding: tuple[int, int] = (0, 0)
) -> tuple[int, int]:
    """Output rows and columns of the convolution over ``x`` padded by ``padding``."""
    out = []
    for size, pad, dil, k, stride in zip(
        x.shape[2:], padding, module.dilation, module.kernel_size, module.stride, strict=True
    ):
        out.append(max(0, (size + 2 * pad - dil * (k - 1) - 1) // stride + 1))
    return out[0], out[1]


def activity_row_count(module: nn.Module, x: torch.Tensor) -> int:
    """How many rows :func:`activity_rows` gives for ``module``'s input ``x``."""
    _check_layer(module)
    if isinstance(module, nn.Linear):
        return x.numel() // module.in_features
    padded = _padded_conv_input(module, x)
    oh, ow = _conv_positions(module, padded)
    return padded.shape[0] * oh * ow


def activity_rows_at(module: nn.Module, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``activity_rows(module, x)[index]``, for a ``Conv2d`` gathered from the input without
    unfolding every patch (a sample of a few hundred rows out of the tens of thousands of a
    batch costs a fraction of a millisecond instead of the whole unfolding)."""
    _check_layer(module)
    if isinstance(module, nn.Linear):
        return x.reshape(-1, module.in_features)[index]
    padded = _padded_conv_input(module, x)
    oh, ow = _conv_positions(module, padded)
    image, position = index // (oh * ow), index % (oh * ow)
    sh, sw = module.stride
    dh, dw = module.dilation
    kh, kw = module.kernel_size
    device = padded.device
    rows = (position // ow)[:, None] * sh + torch.arange(kh, device=device)[None, :] * dh
    cols = (position % ow)[:, None] * sw + torch.arange(kw, device=device)[None, :] * dw
    channels = torch.arange(padded.shape[1], device=device)
    patches = padded[
        image[:, None, None, None],
        channels[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]  # (len(index), C, kh, kw): the order of unfold's C * kh * kw
    return patches.reshape(index.shape[0], -1)


def _check_unfold_memory(module: nn.Conv2d, x: torch.Tensor, padding: tuple[int, int]) -> None:
    """Refuse (MemoryBudgetError) an unfolding whose patches would exceed the memory budget:
    ``N x (C kh kw) x positions`` values, twice (the patches and their transposed copy)."""
    oh, ow = _conv_positions(module, x, padding)
    n_values = float(x.shape[0]) * activity_dim(module) * oh * ow
    check_allocation(
        f"the unfolded input patches of a Conv2d({module.in_channels}, {module.out_channels}, "
        f"kernel_size={tuple(module.kernel_size)}) for a batch of shape {tuple(x.shape)}",
        2.0 * n_values * x.element_size(),
    )


def _row_layout(module: nn.Module, x: torch.Tensor, n_rows: int) -> tuple[int, int]:
    """``(outer, inner)`` of the ``n_rows`` rows of ``module``'s input ``x``, a batch of ``B``
    examples: row ``(o * B + b) * inner + i`` is position ``i`` (a convolution's patch) of
    example ``b`` at outer index ``o`` (a time step). The batch axis is the second of an
    ``nn.Linear``'s 3-D input ``(T, B, in)``, else the first."""
    if x.dim() < 2 or (isinstance(module, nn.Conv2d) and x.dim() != 4):
        raise ValueError(
            f"a tap given a shard needs a batched input; got shape {tuple(x.shape)} for a "
            f"{type(module).__name__}"
        )
    axis = 1 if isinstance(module, nn.Linear) and x.dim() == 3 else 0
    outer = math.prod(x.shape[:axis])
    inner = n_rows // max(outer * int(x.shape[axis]), 1)
    return outer, inner


def presynaptic_trace(x: torch.Tensor, decay: float) -> torch.Tensor:
    """``tr_t = decay * tr_{t-1} + x_t`` along the first axis of ``x`` ``(T, ...)``.

    With ``decay`` the membrane decay of the LIF neurons a Linear feeds (reset aside), the
    membrane at step ``t`` is ``W tr_t``: a weight change that leaves ``W tr_t`` unchanged for
    an old input leaves that input's membrane trajectory unchanged.
    """
    out = torch.empty_like(x)
    acc = torch.zeros_like(x[0])
    for t in range(x.shape[0]):
        acc = decay * acc + x[t]
        out[t] = acc
    return out


def record_activity(module: nn.Module, x: torch.Tensor) -> None:
    """Feed ``x`` as presynaptic activity of ``module`` to its started taps (if any)."""
    for tap in _ACTIVE.get(module, ()):
        tap._add(x)


class ActivityTap:
    """Collects the presynaptic activity rows of one layer while started.

    Args:
        module: an ``nn.Linear`` or ``nn.Conv2d`` (groups=1, zero padding).
        max_rows: keep at most this many rows per forward call, drawn at random without
            replacement (None: all rows); bounds memory for conv patches and long sequences.
        seed: seed of the row subsampling (a ``torch.Generator``; its state is part of
            :meth:`state_dict`).
        trace_decay: when set, an ``nn.Linear``'s sequence input ``(T, B, in)`` is recorded
            as its :func:`presynaptic_trace` with this decay instead of the spikes of single
            steps (other inputs as they are).

    Attributes:
        gram: when set to a float64 ``(dim, dim)`` tensor, every recorded call adds
            ``X^T X`` of ALL its rows to it (before the ``max_rows`` subsampling).
        keep_rows: keep the (subsampled) rows for :meth:`pop` (default True).
        shard: None (default): a call's input is the whole batch. A
            :class:`~spikesub.continual.distributed.Shard`: it is this process's part of a
            global batch of ``shard.total`` examples (the batch axis is the second of an
            ``nn.Linear``'s 3-D input ``(T, B, in)``, else the first); the Gram matrix takes
            this part's rows, and the kept rows are the global batch's sample with the other
            parts' rows left zero (see the module's docstring). With an empty part, the call's
            input is one example of the batch, which only tells the rows per example.
        seconds: time spent recording so far (the hook's own cost, in seconds).

    Use::

        tap = ActivityTap(model.fc1)
        tap.start()
        model(x)
        rows = tap.pop()        # (n, in_features), detached, float
        tap.stop()
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        max_rows: int | None = None,
        seed: int = 0,
        trace_decay: float | None = None,
    ) -> None:
        _check_layer(module)
        if trace_decay is not None and (
            isinstance(trace_decay, bool)
            or not isinstance(trace_decay, (int, float))
            or not 0 <= trace_decay <= 1
        ):
            raise ValueError(f"trace_decay must be None or a number in [0, 1]; got {trace_decay!r}")
        self.trace_decay = None if trace_decay is None else float(trace_decay)
        if max_rows is not None and (
            isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1
        ):
            raise ValueError(f"max_rows must be None or an int >= 1; got {max_rows!r}")
        self.module = module
        self.dim = activity_dim(module)
        self.max_rows = max_rows
        self.generator = torch.Generator().manual_seed(int(seed))
        self._rows: list[torch.Tensor] = []
        self._handle = None
        self.gram: torch.Tensor | None = None
        self.keep_rows = True
        self.shard: Shard | None = None
        self.seconds = 0.0

    @property
    def started(self) -> bool:
        return self._handle is not None

    def start(self) -> ActivityTap:
        """Begin recording (registers the forward pre-hook)."""
        if self._handle is None:
            self._handle = self.module.register_forward_pre_hook(self._hook)
            _ACTIVE.setdefault(self.module, []).append(self)
        return self

    def stop(self) -> None:
        """Stop recording (removes the hook); rows recorded so far are kept."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
            taps = _ACTIVE.get(self.module, [])
            if self in taps:
                taps.remove(self)

    def __enter__(self) -> ActivityTap:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _hook(self, module: nn.Module, args: tuple) -> None:
        if args:
            self._add(args[0])

    def _add(self, x: torch.Tensor) -> None:
        start = time.perf_counter()
        x = x.detach()
        if self.trace_decay is not None and isinstance(self.module, nn.Linear) and x.dim() == 3:
            x = presynaptic_trace(x, self.trace_decay)
        if self._sample_before_unfolding(x):
            self.seconds += time.perf_counter() - start
            return
        rows = activity_rows(self.module, x)
        if self.shard is None:
            self._record_rows(rows)
        else:
            self._record_shard_rows(rows, _row_layout(self.module, x, rows.shape[0]))
        self.seconds += time.perf_counter() - start

    def _sample_before_unfolding(self, x: torch.Tensor) -> bool:
        """Keep a conv layer's row sample gathered straight from its input when nothing
        needs all the rows (no Gram matrix, a single process): the same rows, drawn with the
        same generator, as unfolding them all and subsampling would. False when it does not
        apply."""
        if not (
            isinstance(self.module, nn.Conv2d)
            and self.gram is None
            and self.keep_rows
            and self.shard is None
            and self.max_rows is not None
        ):
            return False
        n = activity_row_count(self.module, x)
        if n <= self.max_rows:
            return False
        keep = torch.randperm(n, generator=self.generator)[: self.max_rows]
        self._rows.append(activity_rows_at(self.module, x, keep.to(x.device)))
        return True

    def _record_rows(self, rows: torch.Tensor) -> None:
        if self.gram is not None:
            # products in the rows' precision (exact for spikes), the sum over calls in float64
            r = rows if rows.dtype == torch.float64 else rows.float()
            self.gram += (r.T @ r).to(self.gram.device, torch.float64)
        if self.keep_rows:
            self._rows.append(self.subsample(rows))

    def _record_shard_rows(self, rows: torch.Tensor, layout: tuple[int, int]) -> None:
        """Record this process's ``rows`` of a global batch (see :attr:`shard`); ``layout``
        is their ``(outer, inner)`` (see ``_row_layout``), the same for the global batch."""
        shard = self.shard
        outer, inner = layout
        own = rows if shard.size else rows[:0]
        if self.gram is not None and shard.size:
            r = own if own.dtype == torch.float64 else own.float()
            self.gram += (r.T @ r).to(self.gram.device, torch.float64)
        if not self.keep_rows:
            return
        keep = self._sample_indices(outer * shard.total * inner)
        per_step = shard.total * inner
        step, example, position = keep // per_step, keep % per_step // inner, keep % inner
        mine = (example >= shard.start) & (example < shard.stop)
        local = (step[mine] * shard.size + example[mine] - shard.start) * inner + position[mine]
        block = rows.new_zeros((keep.shape[0], rows.shape[1]))
        block[mine.to(rows.device)] = own[local.to(rows.device)]
        self._rows.append(block)

    def _sample_indices(self, n: int) -> torch.Tensor:
        """The indices of the rows :meth:`subsample` keeps of ``n`` rows, in its order."""
        if self.max_rows is None or n <= self.max_rows:
            return torch.arange(n)
        return torch.randperm(n, generator=self.generator)[: self.max_rows]

    def subsample(self, rows: torch.Tensor, max_rows: int | None = None) -> torch.Tensor:
        """At most ``max_rows`` (default: the tap's ``max_rows``) of ``rows`` ``(n, dim)``,
        drawn without replacement with the tap's generator; all of them when None."""
        limit = self.max_rows if max_rows is None else max_rows
        if limit is None or rows.shape[0] <= limit:
            return rows
        keep = torch.randperm(rows.shape[0], generator=self.generator)[:limit]
        return rows[keep.to(rows.device)]

    def pop_calls(self) -> list[torch.Tensor]:
        """The rows of each recorded call since the last pop, one tensor ``(n_i, dim)`` per
        call, and forget them."""
        calls, self._rows = self._rows, []
        return calls

    def pop(self) -> torch.Tensor:
        """All rows recorded since the last pop, ``(n, dim)``, and forget them."""
        if not self._rows:
            rows = torch.zeros((0, self.dim))
        elif len(self._rows) == 1:
            rows = self._rows[0]
        else:
            rows = torch.cat(self._rows)
        self._rows = []
        return rows

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
