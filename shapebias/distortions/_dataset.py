"""A dataset wrapper applying a distortion reproducibly per item."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from shapebias._validation import check_callable, check_int

__all__ = ["DistortedDataset", "item_generator"]


def item_generator(seed: int, index: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator seeded from ``(seed, index)`` by NumPy's SeedSequence hash."""
    state = np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state) >> 1)


def _accepts_generator(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "generator" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class DistortedDataset(Dataset):
    """Wrap a map-style dataset so that item ``i`` comes back distorted, reproducibly.

    Item ``i``'s distortion gets its own generator seeded from ``(seed, i)``, so the
    distorted image depends only on ``seed`` and ``i``: not on the DataLoader's batch
    size, shuffling, ``num_workers`` or which items were read before. The distortion is
    called on a batch of one, ``distortion(image[None], generator=g)[0]`` (without
    ``generator`` if its signature has none), so plain functions such as
    ``functools.partial(saturate, p=8)`` and the Module twins both work.

    Args:
        dataset: any map-style dataset whose items are an image tensor ``(C, H, W)`` in
            ``[0, 1]`` or a tuple/list whose first element is one (labels and any other
            fields pass through unchanged).
        distortion: callable ``(1, C, H, W) -> (1, C, H, W)``.
        seed: non-negative int.

    Raises:
        TypeError: ``distortion`` is not callable, ``seed`` not an int, or an item's
            image is not a tensor.
        ValueError: ``seed < 0``.

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> from shapebias.distortions import DistortedDataset, PatchShuffle
        >>> data = TensorDataset(torch.rand(4, 3, 8, 8), torch.arange(4))
        >>> shuffled = DistortedDataset(data, PatchShuffle(2), seed=0)
        >>> image, label = shuffled[1]
        >>> torch.equal(image, shuffled[1][0]), int(label)
        (True, 1)
    """

    def __init__(self, dataset: Any, distortion: Callable[..., Any], *, seed: int) -> None:
        self.dataset = dataset
        self.distortion = check_callable(distortion, "distortion")
        self.seed = check_int(seed, "seed", low=0)
        self._pass_generator = _accepts_generator(distortion)

    def __len__(self) -> int:
        return len(self.dataset)

    def _distort(self, image: Any, index: int) -> torch.Tensor:
        if not isinstance(image, torch.Tensor) or image.ndim != 3:
            raise TypeError(
                f"dataset[{index}] must give an image tensor (C, H, W) (alone or first in a "
                f"tuple), got {type(image).__name__}; add a ToTensor-like transform."
            )
        kwargs = {}
        if self._pass_generator:
            kwargs["generator"] = item_generator(self.seed, index, image.device)
        return self.distortion(image.unsqueeze(0), **kwargs).squeeze(0)

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            if not item:
                raise TypeError(f"dataset[{index}] is an empty {type(item).__name__}.")
            return (self._distort(item[0], index), *item[1:])
        return self._distort(item, index)
