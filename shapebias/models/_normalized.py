"""NormalizedModel: put input normalisation inside the model, where it belongs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shapebias._validation import check_module

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "IMAGENET_MEAN", "IMAGENET_STD", "NormalizedModel"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def _as_channel_vector(values: Sequence[float] | torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, torch.Tensor)):
        raise TypeError(
            f"{name} must be a sequence of per-channel floats such as (0.485, 0.456, 0.406), "
            f"got {type(values).__name__}."
        )
    vector = torch.as_tensor(values, dtype=torch.get_default_dtype()).detach().clone()
    if vector.ndim != 1 or vector.numel() == 0:
        raise ValueError(f"{name} must be one value per channel, got shape {tuple(vector.shape)}.")
    if not torch.isfinite(vector).all():
        raise ValueError(f"{name} must be finite, got {vector.tolist()}.")
    return vector


class NormalizedModel(nn.Module):
    """Wrap a network so that it takes images in ``[0, 1]`` and normalises them itself.

    Attack budgets, noise levels and distortions are then all in pixel units, and
    nobody has to remember which tensors are normalised.

    Args:
        model: the network expecting normalised inputs.
        mean: per-channel mean, e.g. :data:`IMAGENET_MEAN`.
        std: per-channel standard deviation, all positive.

    Shape:
        Input ``(N, C, H, W)`` with ``C == len(mean)``; output whatever ``model`` returns.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, or ``mean`` or ``std`` is not a
            sequence; in ``forward``, integer (e.g. uint8) images.
        ValueError: ``mean`` and ``std`` differ in length or ``std`` has a value <= 0; in
            ``forward``, images whose channels do not match ``mean``.

    Example:
        >>> import torch
        >>> from shapebias.models import NormalizedModel, small_cnn
        >>> model = NormalizedModel(small_cnn(10), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        model: nn.Module,
        mean: Sequence[float] | torch.Tensor,
        std: Sequence[float] | torch.Tensor,
    ) -> None:
        super().__init__()
        check_module(model)
        mean_vector = _as_channel_vector(mean, "mean")
        std_vector = _as_channel_vector(std, "std")
        if mean_vector.shape != std_vector.shape:
            raise ValueError(
                f"mean and std must have one value per channel each, got {mean_vector.numel()} "
                f"and {std_vector.numel()} values."
            )
        if not (std_vector > 0).all():
            raise ValueError(f"std must be positive for every channel, got {std_vector.tolist()}.")
        self.model = model
        self.register_buffer("mean", mean_vector.view(1, -1, 1, 1))
        self.register_buffer("std", std_vector.view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not images.is_floating_point():
            # An integer std (0.229 -> 0) would divide by zero: NaN logits, not an error.
            raise TypeError(
                f"images must be a floating-point tensor with values in [0, 1], got "
                f"{images.dtype}. Convert uint8 images with images.float() / 255."
            )
        if images.ndim != 4 or images.shape[1] != self.mean.shape[1]:
            raise ValueError(
                f"images must have shape (N, {self.mean.shape[1]}, H, W) to match the "
                f"{self.mean.shape[1]} normalisation channels, got {tuple(images.shape)}."
            )
        mean = self.mean.to(dtype=images.dtype)
        std = self.std.to(dtype=images.dtype)
        return self.model((images - mean) / std)

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"
