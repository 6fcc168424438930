"""DistributedDataParallel plumbing for :func:`~shapebias.training.fit`.

``fit`` calls these helpers; they do nothing when ``torch.distributed`` is not
initialised, so the same script runs alone or under ``torchrun``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from shapebias._distributed import (
    all_reduce_sum,
    gather_objects,
    is_main_process,
    rank_and_world,
    with_sampler,
)

__all__ = [
    "all_reduce_sum",
    "gather_objects",
    "init_distributed",
    "is_main_process",
    "rank_and_world",
    "shard_loader",
    "sync_buffers",
    "unwrap",
    "wrap",
]

logger = logging.getLogger("shapebias.training")


def init_distributed(backend: str | None = None) -> torch.device:
    """Join the process group that ``torchrun`` describes and return this process's device.

    Reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment that
    ``torchrun`` sets. Without them (a plain ``python script.py``) nothing is
    initialised and the single-process device is returned, so one script serves both.

    Args:
        backend: ``"nccl"`` or ``"gloo"``; default nccl when CUDA is available, else gloo.

    Returns:
        ``cuda:LOCAL_RANK`` (also made the current CUDA device) or ``cpu``.

    Example:
        >>> from shapebias.training import init_distributed
        >>> init_distributed()  # not under torchrun: nothing to join
        device(type='cpu')
    """
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return device
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
        logger.info("joined process group: rank %d of %d", dist.get_rank(), dist.get_world_size())
    return device


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """Wrap ``model`` in DistributedDataParallel when running with more than one process."""
    if rank_and_world()[1] == 1 or isinstance(model, DistributedDataParallel):
        return model
    device_ids = [device] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: Any) -> Any:
    """The module inside DistributedDataParallel (attacks craft on it), else ``model``."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def shard_loader(loader: Any) -> Any:
    """Give every process its own share of ``loader``'s dataset (a DistributedSampler).

    A DataLoader that already uses a :class:`~torch.utils.data.DistributedSampler` is
    returned as is; one with the default sequential or random sampler is rebuilt with
    the same settings and a DistributedSampler (shuffling when the original shuffled).
    ``batch_size`` stays per process, as in every DDP script.
    """
    if rank_and_world()[1] == 1:
        return loader
    if not isinstance(loader, DataLoader):
        raise TypeError(
            "train_data must be a torch.utils.data.DataLoader when running distributed, got "
            f"{type(loader).__name__}; fit shards a DataLoader's dataset across processes."
        )
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    if loader.batch_size is None:
        raise ValueError(
            "train_data uses a custom batch_sampler, which fit cannot shard. Build the "
            "DataLoader with sampler=DistributedSampler(dataset) yourself."
        )
    sampler: DistributedSampler[int] = DistributedSampler(
        loader.dataset,
        shuffle=isinstance(loader.sampler, RandomSampler),
        drop_last=loader.drop_last,
    )
    return with_sampler(loader, sampler)


def sync_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics) to every process before evaluating."""
    if rank_and_world()[1] == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)
