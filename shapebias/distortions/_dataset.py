"""A dataset wrapper applying a distortion reproducibly per item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

from shapebias._protocol import apply_distortion
from shapebias._seeds import seeded_generator
from shapebias._validation import check_callable, check_int

__all__ = ["DistortedDataset", "item_generator"]


def item_generator(seed: int, index: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of item ``index``: seeded with ``derive_seed(seed, index)``.

    Args:
        seed: the dataset's seed.
        index: the item's index.
        device: where the generator lives (the image's device).

    Returns:
        A fresh :class:`torch.Generator`; equal arguments give equal streams.

    Example:
        >>> from shapebias.distortions import item_generator
        >>> a, b = item_generator(0, 3), item_generator(0, 3)
        >>> a.initial_seed() == b.initial_seed() != item_generator(0, 4).initial_seed()
        True
    """
    return seeded_generator(seed, index, device=device)


class DistortedDataset(Dataset):
    """Wrap a map-style dataset so that item ``i`` comes back distorted, reproducibly.

    Item ``i``'s distortion gets its own generator seeded from ``(seed, i)``, so the
    distorted image depends only on ``seed`` and ``i``: not on the DataLoader's batch
    size, shuffling, ``num_workers`` or which items were read before. The distortion is
    always called on a batch of one as ``distortion(image[None], generator=g)[0]``: every
    function and Module of :mod:`shapebias.distortions` takes ``generator=`` (the
    deterministic ones ignore it), so ``functools.partial(saturate, p=8)`` and
    ``Saturate(8)`` work alike; your own callable must accept it too
    (``lambda x, generator=None: ...``).

    Args:
        dataset: any map-style dataset whose items are an image tensor ``(C, H, W)`` in
            ``[0, 1]`` or a tuple/list whose first element is one (labels and any other
            fields pass through unchanged).
        distortion: callable ``(images (1, C, H, W), *, generator) -> (1, C, H, W)``.
        seed: non-negative int.

    Shape:
        Items keep their image's shape ``(C, H, W)``.

    Raises:
        TypeError: ``distortion`` is not callable or does not accept ``generator=``,
            ``seed`` not an int, or an item's image is not a tensor.
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

    def __len__(self) -> int:
        return len(self.dataset)

    def _distort(self, image: Any, index: int) -> torch.Tensor:
        if not isinstance(image, torch.Tensor) or image.ndim != 3:
            raise TypeError(
                f"dataset[{index}] must give an image tensor (C, H, W) (alone or first in a "
                f"tuple), got {type(image).__name__}; add a ToTensor-like transform."
            )
        generator = item_generator(self.seed, index, image.device)
        distorted = apply_distortion(self.distortion, image.unsqueeze(0), generator, "distortion")
        return distorted.squeeze(0)

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            if not item:
                raise TypeError(f"dataset[{index}] is an empty {type(item).__name__}.")
            return (self._distort(item[0], index), *item[1:])
        return self._distort(item, index)
