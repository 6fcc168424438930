"""torch.distributed primitives for sharded evaluation (and the training loop's DDP plumbing).

Every helper is an identity when ``torch.distributed`` is not initialised, so the same
call runs alone or under ``torchrun``. Evaluation shards a dataset into contiguous,
non-overlapping blocks whose sizes differ by at most one (no padding duplicates, unlike
:class:`~torch.utils.data.DistributedSampler`), and gathers the per-item outcomes in
rank order, which is the dataset's order: the gathered result is the single-process one.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, SequentialSampler

from shapebias._device_loader import DeviceLoader

__all__ = [
    "all_reduce_sum",
    "gather_objects",
    "gather_tensor",
    "is_main_process",
    "local_only",
    "rank_and_world",
    "shard_bounds",
    "shard_data",
    "with_sampler",
]


_LOCAL = contextvars.ContextVar("shapebias_local_only", default=False)


@contextlib.contextmanager
def local_only() -> Iterator[None]:
    """Inside the block, every helper here acts as in a single process, ``(0, 1)``.

    For a caller that splits the work across processes at a coarser grain itself
    (:func:`shapebias.experiments.compare` evaluates whole models per process): the
    evaluation functions it calls then neither shard their data a second time nor wait on
    collectives that the other processes, busy with other models, never call. Leaving
    the block, also on error, restores the distributed view.
    """
    token = _LOCAL.set(True)
    try:
        yield
    finally:
        _LOCAL.reset(token)


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when not distributed or inside :func:`local_only`."""
    if not _LOCAL.get() and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0 and when not running distributed (the process that logs and saves).

    Inside :func:`local_only` every process is its own main process.
    """
    return rank_and_world()[0] == 0


def _collective_device() -> torch.device:
    """The device collectives run on: the current CUDA device under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def shard_bounds(total: int, rank: int, world: int) -> tuple[int, int]:
    """``[start, stop)`` of ``rank``'s contiguous block of ``total`` items.

    Blocks tile ``range(total)`` in rank order with no overlap and no padding; their
    sizes differ by at most one.

    Example:
        >>> [shard_bounds(7, rank, 2) for rank in range(2)]
        [(0, 3), (3, 7)]
    """
    return rank * total // world, (rank + 1) * total // world


def shard_data(data: Any, name: str = "data", *, active: bool = True) -> Any:
    """This process's contiguous block of ``data`` (``data`` itself when not distributed).

    ``data`` is a tuple of tensors (sliced along dim 0), a
    :class:`~torch.utils.data.DataLoader` with the default sequential sampler (rebuilt
    with the same settings over this rank's index block) or a
    :class:`~shapebias.data.DeviceLoader` around one. Concatenating the ranks'
    outcomes in rank order restores the dataset's order.

    ``active=False`` returns ``data`` as is (a caller that shards and reduces itself).

    Raises:
        TypeError: running distributed on another kind of ``data`` (which cannot be
            split without reading all of it in every process).
        ValueError: a shuffling or custom sampler, a custom ``batch_sampler``, or fewer
            items than processes.
    """
    rank, world = rank_and_world()
    if world == 1 or not active:
        return data
    if isinstance(data, DeviceLoader):  # a copy, so subclasses keep their own behaviour
        sharded = copy.copy(data)
        sharded.loader = shard_data(data.loader, name)
        return sharded
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor):
        start, stop = shard_bounds(_checked_total(data[0].shape[0], world, name), rank, world)
        return tuple(t[start:stop] for t in data)
    if not isinstance(data, DataLoader):
        raise TypeError(
            f"{name} must be a DataLoader or a tuple of tensors when running distributed, got "
            f"{type(data).__name__}: shapebias shards a DataLoader's dataset across processes."
        )
    if data.batch_size is None or not isinstance(data.sampler, SequentialSampler):
        raise ValueError(
            f"{name} must be a DataLoader with batch_size and shuffle=False (no sampler or "
            f"batch_sampler) when running distributed, got sampler "
            f"{type(data.sampler).__name__}. shapebias shards it itself, without the padding "
            "duplicates a DistributedSampler adds, so the result equals a single process's."
        )
    start, stop = shard_bounds(_checked_total(len(data.dataset), world, name), rank, world)  # type: ignore[arg-type]
    return with_sampler(data, range(start, stop))


def _checked_total(total: int, world: int, name: str) -> int:
    if total < world:
        raise ValueError(
            f"{name} holds {total} samples, fewer than the {world} processes; every process "
            f"needs at least one. Run with at most {max(total, 1)} processes."
        )
    return total


def with_sampler(loader: DataLoader, sampler: Any) -> DataLoader:
    """``loader`` rebuilt over the same dataset with ``sampler`` and otherwise its settings."""
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        persistent_workers=loader.persistent_workers,
        prefetch_factor=loader.prefetch_factor,
    )


def all_reduce_sum(
    values: list[float], device: torch.device | None = None, *, active: bool = True
) -> list[float]:
    """Sum a few numbers over all processes (identity when not distributed or not ``active``).

    Summed in float64, so integer counts below 2**53 come back exact.
    """
    if rank_and_world()[1] == 1 or not active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device or _collective_device())
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_objects(obj: Any) -> list[Any]:
    """Every process's ``obj``, indexed by rank (``[obj]`` when not distributed)."""
    world = rank_and_world()[1]
    if world == 1:
        return [obj]
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, obj)
    return gathered


def gather_tensor(tensor: torch.Tensor, *, active: bool = True) -> torch.Tensor:
    """Every process's ``tensor`` concatenated along dim 0 in rank order, on every process.

    Shards may differ in length. The result is on ``tensor``'s device, with its dtype
    (bool travels as uint8, which every backend supports). ``tensor`` itself when not
    distributed or not ``active``.
    """
    world = rank_and_world()[1]
    if world == 1 or not active:
        return tensor
    device = _collective_device()
    payload = tensor.to(device=device, dtype=torch.uint8 if tensor.dtype == torch.bool else None)
    size = torch.tensor([payload.shape[0]], device=device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    lengths = [int(s) for s in sizes]
    padded = payload.new_zeros((max(lengths), *payload.shape[1:]))
    padded[: payload.shape[0]] = payload
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    joined = torch.cat([part[:length] for part, length in zip(parts, lengths, strict=True)])
    return joined.to(device=tensor.device, dtype=tensor.dtype)
