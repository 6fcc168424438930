"""Run a command's work inside torchrun's process group (the sharded commands share it)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist

from shapebias.training import init_distributed


def in_process_group(work: Callable[[torch.device], int], device: str | None) -> int:
    """``work(device)`` with the process group joined when launched by torchrun.

    ``device`` is the ``--device`` flag (None: the rank's own device). A group this call
    joined is left afterwards, even on error; a group the caller had set up stays as it was.
    """
    joined = not dist.is_initialized()
    rank_device = init_distributed()
    try:
        return work(torch.device(device) if device else rank_device)
    finally:
        if joined and dist.is_initialized():  # the group this call joined, not a caller's
            dist.destroy_process_group()
