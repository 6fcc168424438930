"""StackedLoader: seed-major batches for StackedModels from one loader per member."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from shapebias._validation import check_sequence

__all__ = ["StackedLoader"]


def _pair(batch: Any, member: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    pair = tuple(batch[:2]) if isinstance(batch, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(t, torch.Tensor) for t in pair):
        raise TypeError(
            f"loaders[{member}] must yield (images, labels) tensor pairs, got "
            f"{type(batch).__name__} at batch {step}."
        )
    return pair[0], pair[1]


@dataclass(frozen=True)
class StackedLoader:
    """Zip ``S`` loaders into seed-major batches for :class:`StackedModels`.

    Batch ``b`` is ``torch.cat`` of batch ``b`` of every loader, member 0 first: the
    images ``[s * N, (s + 1) * N)`` come from ``loaders[s]``, so model ``s`` of the stack
    sees exactly the batches it would see alone. Give each loader its own
    ``generator`` (``DataLoader(..., shuffle=True, generator=torch.Generator().manual_seed(seed))``)
    for per-seed shuffling; for evaluation pass one loader ``S`` times
    (``StackedLoader([val_loader] * S)``). It is re-iterable (one pass per epoch) and, as a
    dataclass of the loaders, lets :func:`~shapebias.training.fit` find and checkpoint
    the loaders' generators. Extra batch entries beyond ``(images, labels)`` are dropped.

    Args:
        loaders: ``S >= 1`` re-iterables of ``(images, labels)`` batches, one per stacked
            model, of equal length, yielding batches of equal size at each step.

    Raises:
        TypeError: ``loaders`` is not a sequence of iterables, or a loader yields
            something other than tensor pairs.
        ValueError: no loaders, loaders of different lengths, or (while iterating)
            batches of different sizes at one step.

    Example:
        >>> import torch
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> from shapebias.models import StackedLoader
        >>> data = TensorDataset(torch.rand(6, 3, 8, 8), torch.arange(6))
        >>> seeds = [torch.Generator().manual_seed(s) for s in range(3)]
        >>> loaders = [DataLoader(data, batch_size=4, shuffle=True, generator=g) for g in seeds]
        >>> [tuple(images.shape) for images, labels in StackedLoader(loaders)]
        [(12, 3, 8, 8), (6, 3, 8, 8)]
    """

    loaders: tuple[Any, ...]

    def __post_init__(self) -> None:
        loaders = check_sequence(
            self.loaders,
            "loaders",
            item=lambda x: isinstance(x, Iterable) and not isinstance(x, torch.Tensor),
            expected="a DataLoader (or re-iterable) of (images, labels) batches",
        )
        object.__setattr__(self, "loaders", loaders)
        lengths = self._lengths()
        if lengths is not None and len(set(lengths)) > 1:
            raise ValueError(
                f"loaders must have the same number of batches, got {lengths}. Use the same "
                "dataset size, batch_size and drop_last for every member."
            )

    def _lengths(self) -> list[int] | None:
        try:
            return [len(loader) for loader in self.loaders]
        except TypeError:
            return None

    def __len__(self) -> int:
        lengths = self._lengths()
        if lengths is None:
            raise TypeError("StackedLoader has no length: one of its loaders has none.")
        return lengths[0]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        iterators = [iter(loader) for loader in self.loaders]
        step = 0
        while True:
            batches = [next(iterator, None) for iterator in iterators]
            ended = [batch is None for batch in batches]
            if all(ended):
                return
            if any(ended):
                raise ValueError(
                    f"loaders {[i for i, e in enumerate(ended) if e]} ran out at batch {step} "
                    "while others did not; every member needs the same number of batches."
                )
            pairs = [_pair(batch, member, step) for member, batch in enumerate(batches)]
            sizes = [images.shape[0] for images, _ in pairs]
            if len(set(sizes)) > 1:
                raise ValueError(
                    f"loaders yielded batches of sizes {sizes} at batch {step}; the stack "
                    "needs the same number of images per member. Use equal dataset sizes "
                    "and batch_size (and drop_last) for every loader."
                )
            yield torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
            step += 1
