"""Cache-sized chunks of dense tensors, for fusing elementwise passes on the CPU."""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["CHUNK_BYTES", "chunk_length", "flat_in_memory_order", "paired_chunks"]

#: Bytes per chunk. The three live chunks (input, output, scratch) stay in the last-level
#: cache, and each op on a chunk is large enough that its fixed cost (Python, waking the
#: intra-op threads) stays small. Measured (2026-12-01, 2-core EPYC, 1 MiB L2 per core,
#: 32 MiB L3; saturate p=8 on 256x3x224x224 float32, median ms): sizes from 256 KiB to
#: 16 MiB are within 10% of each other with 1 thread (253-279 ms, load ~5), 64 MiB and
#: one whole-tensor pass are 1.3-1.6x slower; so 4 MiB is not tuned to a knife edge and
#: needs no per-machine setting. Caveat: every op on a chunk is an OpenMP region that
#: waits for its slowest thread, so with 2+ threads on cores that other processes also
#: load, small chunks stall (256 KiB: 1438 ms vs 242 ms whole-tensor at 2 threads, load ~5).
CHUNK_BYTES = 4 << 20


def flat_in_memory_order(tensor: torch.Tensor) -> torch.Tensor | None:
    """A 1-D view of ``tensor``'s elements in memory order, or ``None`` if it has gaps.

    Works for any dense layout (contiguous, channels-last, permuted); ``torch.empty_like``
    of such a tensor has the same strides, so the two flat views pair element by element.
    """
    order = sorted(range(tensor.ndim), key=lambda dim: tensor.stride(dim), reverse=True)
    permuted = tensor.permute(order)
    return permuted.view(-1) if permuted.is_contiguous() else None


def chunk_length(flat: torch.Tensor, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Elements per chunk of the 1-D ``flat``: ``chunk_bytes`` worth on the CPU, else all.

    Off the CPU a kernel launch costs more than a cache miss, so there is one chunk.
    """
    if flat.device.type != "cpu":
        return max(flat.numel(), 1)
    return max(min(chunk_bytes // flat.element_size(), flat.numel()), 1)


def paired_chunks(*flats: torch.Tensor) -> Iterator[tuple[torch.Tensor, ...]]:
    """Matching :func:`chunk_length` slices of equally long 1-D tensors."""
    step = chunk_length(flats[0])
    for start in range(0, flats[0].numel(), step):
        yield tuple(flat[start : start + step] for flat in flats)
