"""Run many perturbed copies of a batch through a model in bounded chunks.

SmoothGrad and Integrated Gradients both evaluate ``copies`` modified versions of every
image and sum a per-copy contribution. Here the ``copies * N`` rows are visited in a
fixed copy-major order and cut into chunks of at most ``batch_size`` rows, each built
only when it is needed, so peak memory follows ``batch_size`` (plus the ``(N, C, H, W)``
sum) while the rows, their random draws and the order in which contributions are
summed do not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
from tqdm import tqdm

from shapebias._validation import check_finite_gradient, check_int

__all__ = ["CPU_BATCH_SIZE", "Rows", "chunked_sum", "iter_rows", "resolve_batch_size"]

# Rows per model call on a CPU when ``batch_size=None``. Measured with
# benchmarks/bench_saliency.py (--chunks): on 2 threads, chunks of 16-64 images run a
# ResNet-18 and a small CNN at 32x32 faster than one batch of hundreds, which spills the
# caches and allocates every activation at once.
CPU_BATCH_SIZE = 32
# Elsewhere (GPUs), larger chunks keep the device busy; still bounded so that 100
# copies of a batch of ImageNet images do not exhaust its memory.
ACCELERATOR_BATCH_SIZE = 256


class Rows(NamedTuple):
    """One chunk: ``inputs`` ``(R, C, H, W)`` and, per row, its copy and image index."""

    inputs: torch.Tensor
    copy: torch.Tensor
    image: torch.Tensor


def resolve_batch_size(batch_size: Any, images: torch.Tensor) -> int:
    """Validate ``batch_size`` (an int >= 1 or ``None``) and fill in the default."""
    if batch_size is None:
        return CPU_BATCH_SIZE if images.device.type == "cpu" else ACCELERATOR_BATCH_SIZE
    return check_int(batch_size, "batch_size", low=1)


def _join(pieces: list[tuple[torch.Tensor, int, int]]) -> Rows:
    blocks = [block for block, _, _ in pieces]
    inputs = blocks[0] if len(blocks) == 1 else torch.cat(blocks)
    device = inputs.device
    copy = torch.cat(
        [torch.full((b.shape[0],), s, dtype=torch.int64, device=device) for b, s, _ in pieces]
    )
    image = torch.cat(
        [torch.arange(start, start + b.shape[0], device=device) for b, _, start in pieces]
    )
    return Rows(inputs, copy, image)


def iter_rows(
    make_rows: Callable[[int, int, int], torch.Tensor], copies: int, n: int, batch_size: int
) -> Iterator[Rows]:
    """Yield chunks of at most ``batch_size`` rows, copy by copy, image by image.

    ``make_rows(s, start, stop)`` builds images ``start:stop`` of copy ``s``, shape
    ``(stop - start, C, H, W)``. It is called in increasing ``(s, start)`` order over
    consecutive ranges that cover each copy's ``n`` images exactly once, so only one
    chunk is ever in memory and random draws made per row inside it follow one fixed
    sequence whatever ``batch_size`` is.
    """
    pieces: list[tuple[torch.Tensor, int, int]] = []
    filled = 0
    for s in range(copies):
        start = 0
        while start < n:
            take = min(n - start, batch_size - filled)
            pieces.append((make_rows(s, start, start + take), s, start))
            start += take
            filled += take
            if filled == batch_size:
                yield _join(pieces)
                pieces, filled = [], 0
    if pieces:
        yield _join(pieces)


def chunked_sum(
    contribution: Callable[[Rows, bool], torch.Tensor],
    make_rows: Callable[[int, int, int], torch.Tensor],
    copies: int,
    like: torch.Tensor,
    batch_size: int,
    *,
    progress: bool = False,
    desc: str = "",
) -> torch.Tensor:
    """Sum ``contribution(rows, first)`` over all copies, per image, chunk by chunk.

    Args:
        contribution: maps a chunk to one tensor per row ``(R, C, H, W)``; ``first`` is
            true for the first chunk only (where the model's output is validated).
        make_rows: builds a range of rows of one copy, see :func:`iter_rows`.
        copies: number of copies.
        like: the images; the sum has their shape, dtype and device.
        batch_size: the most rows per chunk.

    Returns:
        ``(N, C, H, W)``: for each image, its rows' contributions summed in copy order.

    Raises:
        ValueError: the sum is not finite (the model's gradient was NaN or inf on some
            row although its first chunk's logits were finite); checked once, at the end.
    """
    total = torch.zeros_like(like)
    n = like.shape[0]
    chunks = -(-copies * n // batch_size)
    rows_iter = iter_rows(make_rows, copies, n, batch_size)
    for index, rows in enumerate(tqdm(rows_iter, total=chunks, desc=desc, disable=not progress)):
        total.index_add_(0, rows.image, contribution(rows, index == 0))
    check_finite_gradient(total, desc or "saliency")
    return total
