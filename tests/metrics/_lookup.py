"""Hand-built "models" whose predictions are set per image, for exact expected numbers.

Image ``i`` is a ``(2, 1, 1)`` tensor: channel 0 holds ``i / 255`` (its id), channel 1
is 0 for a clean image and 1 once :func:`mark` has "distorted" it. The lookup model
returns the prediction chosen for that id and that state.
"""

from __future__ import annotations

import torch
from torch import nn


def id_images(n: int) -> torch.Tensor:
    """``n <= 256`` clean images carrying their index."""
    images = torch.zeros(n, 2, 1, 1)
    images[:, 0, 0, 0] = torch.arange(n) / 255
    return images


def mark(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """The "distortion": flag every image as distorted (a new tensor); deterministic."""
    marked = images.clone()
    marked[:, 1] = 1.0
    return marked


class LookupModel(nn.Module):
    """Predicts ``clean[i]`` for clean image ``i`` and ``distorted[i]`` for a marked one."""

    def __init__(
        self, clean: list[int], distorted: list[int] | None = None, num_classes: int = 3
    ) -> None:
        super().__init__()
        self.register_buffer("clean", torch.tensor(clean))
        self.register_buffer("distorted", torch.tensor(distorted if distorted else clean))
        self.num_classes = num_classes

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        ids = (images[:, 0, 0, 0] * 255).round().long()
        marked = images[:, 1, 0, 0] > 0.5
        predictions = torch.where(marked, self.distorted[ids], self.clean[ids])
        # Logits, not probabilities: negative entries everywhere but the prediction.
        return 4.0 * nn.functional.one_hot(predictions, self.num_classes).float() - 1.0


class LogitsModel(nn.Module):
    """Returns preset logits row ``i`` for image ``i`` (ids as in :func:`id_images`)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("logits", logits)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits[(images[:, 0, 0, 0] * 255).round().long()]
