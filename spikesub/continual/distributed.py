"""Data-parallel runs under ``torchrun``: the process group and the collectives a job uses.

``torchrun --nproc_per_node N`` starts one process per rank and tells each where it stands
through its environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``). :func:`from_environment` reads it, joins the process group
(``gloo`` on the CPU; ``nccl`` when every local rank has a GPU of its own, else ``gloo``,
which also reduces CUDA tensors) and returns a :class:`DistributedContext`. Without that
environment, or with a world of one process, it returns :data:`SINGLE_PROCESS`, whose
collectives return at once and change nothing: a job calls the same code either way.

Every rank draws the same global batch (the same seeded shuffle on every rank) and takes its
:class:`Shard` of it: an even split of consecutive examples, so the union of the ranks' parts
is exactly the batch a single process would train on.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from spikesub.models.errors import SpikesubError

__all__ = [
    "SINGLE_PROCESS",
    "DistributedContext",
    "Shard",
    "even_shard",
    "from_environment",
    "is_main_process",
    "shutdown",
]

T = TypeVar("T")

BUCKET_BYTES = 32 * 2**20
"""Largest message of one all-reduce; longer lists of tensors go in several (as DDP's
gradient buckets), so that a reduction never doubles the memory of what it reduces."""


@dataclass(frozen=True)
class Shard:
    """This process's part ``[start, stop)`` of a global batch of ``total`` examples."""

    start: int
    stop: int
    total: int

    @property
    def size(self) -> int:
        """Examples in this part (0 when the batch has fewer examples than there are ranks)."""
        return self.stop - self.start

    @property
    def share(self) -> float:
        """This part's fraction of the batch: the weight of its mean loss in the batch's."""
        return self.size / self.total if self.total else 0.0

    def take(self, *batch: Any) -> tuple[Any, ...]:
        """This part of each of ``batch``'s tensors (sliced along their first axis)."""
        return tuple(item[self.start : self.stop] for item in batch)


def even_shard(total: int, rank: int, world_size: int) -> Shard:
    """Rank ``rank``'s part of ``total`` examples split as evenly as possible over
    ``world_size`` ranks, in order (the first ``total % world_size`` ranks take one more)."""
    base, extra = divmod(int(total), int(world_size))
    start = rank * base + min(rank, extra)
    return Shard(start, start + base + (1 if rank < extra else 0), int(total))


class DistributedContext:
    """One process's place in a data-parallel run, and the collectives between the ranks.

    The single-process context (:data:`SINGLE_PROCESS`) is rank 0 of 1: its shard of a batch
    is the whole batch, its reductions leave their tensors as they are, and
    :meth:`main_only` just calls its function.

    Args:
        rank: this process's rank, ``0 <= rank < world_size``.
        world_size: the number of processes.
        local_rank: the rank among the processes of this machine (picks its GPU).
        backend: the process group's backend (``"gloo"`` or ``"nccl"``; None alone).
    """

    def __init__(
        self, rank: int = 0, world_size: int = 1, local_rank: int = 0, backend: str | None = None
    ) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size); got {rank} of {world_size}")
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.local_rank = int(local_rank)
        self.backend = backend

    def __repr__(self) -> str:
        return (
            f"DistributedContext(rank={self.rank}, world_size={self.world_size}, "
            f"backend={self.backend!r})"
        )

    @property
    def is_distributed(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run folder and shows progress."""
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        """Where this rank computes: ``requested``, with a CUDA device spread over the local
        ranks (``cuda:local_rank``, modulo the GPUs this machine has)."""
        if requested.type != "cuda" or not self.is_distributed:
            return requested
        return torch.device("cuda", self.local_rank % max(torch.cuda.device_count(), 1))

    def shard(self, total: int) -> Shard:
        """This rank's part of a global batch of ``total`` examples (all of it when alone)."""
        return even_shard(total, self.rank, self.world_size)

    # -- collectives ----------------------------------------------------------------------------

    def all_reduce_sum_(self, tensors: Iterable[torch.Tensor]) -> None:
        """Sum each tensor over the ranks, in place; tensors of one dtype and device travel
        together in messages of at most :data:`BUCKET_BYTES`."""
        if not self.is_distributed:
            return
        groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for tensor in tensors:
            groups.setdefault((tensor.dtype, tensor.device), []).append(tensor)
        for group in groups.values():
            for bucket in _buckets(group, BUCKET_BYTES):
                self._reduce_bucket(bucket)

    def _reduce_bucket(self, bucket: list[torch.Tensor]) -> None:
        flat = torch.cat([t.reshape(-1) for t in bucket]).to(self._wire_device(bucket[0]))
        dist.all_reduce(flat)
        offset = 0
        for tensor in bucket:
            n = tensor.numel()
            tensor.copy_(flat[offset : offset + n].view_as(tensor))
            offset += n

    def _wire_device(self, tensor: torch.Tensor) -> torch.device:
        """NCCL moves CUDA tensors only; gloo moves what it is given."""
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return tensor.device

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the ranks (in place; returned)."""
        self.all_reduce_sum_([tensor])
        return tensor

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` averaged over the ranks (in place; returned)."""
        if self.is_distributed:
            self.all_reduce_sum_([tensor])
            tensor.div_(self.world_size)
        return tensor

    def sum_gradients(
        self, parameters: Iterable[torch.Tensor], values: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """Sum the parameters' ``.grad`` over the ranks (with ``values``, e.g. the loss, in
        the same messages); returns the summed ``values``.

        A parameter without a gradient counts as zeros; it keeps ``None`` only when no rank
        has a gradient for it, so every rank ends with the same gradients.
        """
        if not self.is_distributed:
            return values
        params = [p for p in parameters if p.requires_grad]
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        flags = torch.tensor([p.grad is not None for p in params], dtype=torch.float64)
        extra = [flags] if values is None else [flags, values]
        self.all_reduce_sum_([*grads, *extra])
        for p, grad, flag in zip(params, grads, flags.tolist(), strict=True):
            p.grad = grad if flag > 0 else None
        return values

    def broadcast_(self, tensors: Iterable[torch.Tensor]) -> None:
        """Give every rank rank 0's values of ``tensors`` (in place)."""
        if not self.is_distributed:
            return
        for tensor in tensors:
            wire = tensor.detach()
            device = self._wire_device(tensor)
            moved = wire.device != device or not wire.is_contiguous()
            if moved:
                wire = wire.to(device).contiguous()
            dist.broadcast(wire, src=0)
            if moved:
                tensor.detach().copy_(wire)

    def broadcast_object(self, obj: T) -> T:
        """Rank 0's ``obj`` (a picklable value) on every rank."""
        if not self.is_distributed:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait until every rank has arrived here."""
        if self.is_distributed:
            dist.barrier()

    def main_only(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` on rank 0 only (writing the run folder) while the others wait;
        every rank returns its result, and every rank raises the error it raised."""
        if not self.is_distributed:
            return fn(*args)
        outcome: tuple[bool, Any] = (True, None)
        if self.is_main:
            try:
                outcome = (True, fn(*args))
            except Exception as error:  # every rank must hear of it, or the others wait
                outcome = (False, _picklable(error))
                self.broadcast_object(outcome)
                raise
        ok, value = self.broadcast_object(outcome)
        if not ok:
            raise value
        return value


def _buckets(tensors: Sequence[torch.Tensor], limit: int) -> Iterable[list[torch.Tensor]]:
    """Consecutive groups of ``tensors`` of at most ``limit`` bytes (one tensor if larger)."""
    bucket: list[torch.Tensor] = []
    size = 0
    for tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        if bucket and size + nbytes > limit:
            yield bucket
            bucket, size = [], 0
        bucket.append(tensor)
        size += nbytes
    if bucket:
        yield bucket


def _picklable(error: Exception) -> Exception:
    """``error``, or a :class:`SpikesubError` with its message when it cannot travel."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return SpikesubError(f"{type(error).__name__}: {error}")
    return error


SINGLE_PROCESS = DistributedContext()
"""The context of a run without ``torchrun``: rank 0 of 1."""

_CURRENT: DistributedContext | None = None


def _environment_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer; got {value!r}") from None


def is_main_process() -> bool:
    """Is this process rank 0 (or alone)? Read from the environment ``torchrun`` sets."""
    return _environment_int("RANK", 0) == 0


def _backend(device: torch.device, local_world_size: int) -> str:
    if device.type == "cuda" and torch.cuda.device_count() >= local_world_size:
        return "nccl"
    return "gloo"


def from_environment(device: torch.device | str = "cpu") -> DistributedContext:
    """This process's context: joins ``torchrun``'s process group on the first call.

    Args:
        device: where the job computes; a CUDA device with a GPU for each local rank picks
            the ``nccl`` backend, anything else ``gloo``.

    Returns:
        :data:`SINGLE_PROCESS` when ``WORLD_SIZE`` is unset or 1; else the rank's context
        (the same object on later calls).
    """
    global _CURRENT
    world_size = _environment_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return SINGLE_PROCESS
    if _CURRENT is not None:
        return _CURRENT
    rank = _environment_int("RANK", 0)
    local_rank = _environment_int("LOCAL_RANK", 0)
    local_world_size = _environment_int("LOCAL_WORLD_SIZE", world_size)
    device = torch.device(device)
    if dist.is_initialized():
        backend = dist.get_backend()
    else:
        backend = _backend(device, local_world_size)
        if backend == "nccl":
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    _CURRENT = DistributedContext(rank, world_size, local_rank, backend)
    return _CURRENT


def shutdown() -> None:
    """Leave the process group joined by :func:`from_environment` (if any)."""
    global _CURRENT
    if _CURRENT is not None and dist.is_initialized():
        # every rank reaches the end before any tears the group down: a rank that leaves
        # while another still talks to it can abort gloo's threads (seen under heavy load)
        dist.barrier()
        dist.destroy_process_group()
    _CURRENT = None
