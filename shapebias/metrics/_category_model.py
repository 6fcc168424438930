"""A model over many classes seen as a model over coarser stimulus categories."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from shapebias._validation import check_callable, check_logits
from shapebias.metrics._class_map import (
    IMAGENET_16_CLASS_MAP,
    check_class_map,
    mean_by_group,
    member_index,
)

__all__ = ["CategoryModel"]


class CategoryModel(nn.Module):
    """Wrap an ImageNet-1000 model so it outputs scores for the 16 categories (or any map).

    The output is the log of each category's mean softmax probability over its member
    classes, Geirhos et al.'s 1000 -> 16 decision rule: its ``argmax`` is their decision,
    its softmax the renormalised category probabilities, so accuracy, robust accuracy and
    attacks work on the category labels of :func:`shapebias.data.stimulus_folder`.

    Args:
        model: callable ``images -> logits (N, K)``.
        class_map: category name -> member class indices (below ``K``), default
            :data:`IMAGENET_16_CLASS_MAP`; its key order is the category order.

    Shape:
        Input whatever ``model`` takes; output ``(N, len(class_map))``.

    Example:
        >>> import torch
        >>> from shapebias.metrics import CategoryModel
        >>> model = CategoryModel(lambda x: torch.log(x.flatten(1)), {"a": [0, 1], "b": [2]})
        >>> model(torch.tensor([[[[0.1, 0.3, 0.6]]]])).exp()
        tensor([[0.2000, 0.6000]])

    References:
        Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing shape
        bias improves accuracy and robustness", ICLR 2019.
    """

    def __init__(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        class_map: Mapping[str, Sequence[int]] = IMAGENET_16_CLASS_MAP,
    ) -> None:
        super().__init__()
        self.model = check_callable(model, "model")
        self.class_map = check_class_map(class_map)
        self._checked = False  # check the logits once, not on every batch

    @property
    def categories(self) -> tuple[str, ...]:
        """The category names, in output order."""
        return tuple(self.class_map)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.model(images)
        if not self._checked:
            check_logits(logits, images.shape[0])
            self._checked = True
        members, groups = member_index(self.class_map, logits)
        mean = mean_by_group(logits.softmax(1), members, groups, len(self.class_map))
        return mean.clamp_min(torch.finfo(mean.dtype).tiny).log()
