"""Optional reduced-precision evaluation: one autocast context for the evaluation loops."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["evaluation_autocast"]


def evaluation_autocast(
    dtype: torch.dtype | None, device: torch.device
) -> contextlib.AbstractContextManager[object]:
    """``torch.autocast`` to ``dtype`` on ``device``'s type, or a no-op when ``dtype`` is None.

    Evaluation forwards (clean predictions, decisions on distorted images) run inside it;
    attacks run outside it, so their input gradients stay in float32.
    """
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
