"""A DataLoader whose batches arrive on a device, and which sharded evaluation can still split."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

__all__ = ["DeviceLoader"]


class DeviceLoader:
    """Iterate ``loader`` with every tensor of each batch moved to ``device``.

    The evaluation functions never move data themselves; wrap the loader instead. Under
    ``torchrun`` they shard the wrapped loader (:class:`~torch.utils.data.DataLoader`
    with ``shuffle=False``) exactly as the bare one. Copies are ``non_blocking``, which
    overlaps them with compute when the loader uses ``pin_memory=True``.

    Args:
        loader: a DataLoader of tuples of tensors.
        device: where the batches go, e.g. ``"cuda"``.

    Example:
        >>> import torch
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> from shapebias.data import DeviceLoader
        >>> data = TensorDataset(torch.rand(4, 3, 8, 8), torch.zeros(4, dtype=torch.long))
        >>> loader = DeviceLoader(DataLoader(data, batch_size=2), "cpu")
        >>> [images.device.type for images, _ in loader]
        ['cpu', 'cpu']
    """

    def __init__(self, loader: DataLoader, device: torch.device | str) -> None:
        if not isinstance(loader, DataLoader):
            raise TypeError(f"loader must be a DataLoader, got {type(loader).__name__}.")
        self.loader = loader
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for batch in self.loader:
            yield tuple(
                t.to(self.device, non_blocking=True) if isinstance(t, torch.Tensor) else t
                for t in batch
            )
