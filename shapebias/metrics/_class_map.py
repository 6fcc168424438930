"""Map a model's classes onto coarser stimulus classes (ImageNet-1000 -> 16 categories)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import torch

from shapebias._validation import check_logits

__all__ = [
    "IMAGENET_16_CLASS_MAP",
    "aggregate_probabilities",
    "check_class_map",
    "mean_by_group",
    "member_index",
]

# The 16 entry-level categories of Geirhos et al. (2019), in alphabetical order, each
# with the ImageNet-1000 class indices (standard class order) that belong to it; 207 of
# the 1000 classes are mapped. The index lists are the ones in the authors' public
# texture-vs-shape and model-vs-human code (``HumanCategories.<category>_indices``);
# documented in docs/api/metrics.rst.
IMAGENET_16_CLASS_MAP: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "airplane": (404,),
        "bear": (294, 295, 296, 297),
        "bicycle": (444, 671),
        "bird": (
            8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81, 82, 83, 87, 88,
            89, 90, 91, 92, 93, 94, 95, 96, 98, 99, 100, 127, 128, 129, 130, 131, 132, 133,
            135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145,
        ),
        "boat": (472, 554, 625, 814, 914),
        "bottle": (440, 720, 737, 898, 899, 901, 907),
        "car": (436, 511, 817),
        "cat": (281, 282, 283, 284, 285, 286),
        "chair": (423, 559, 765, 857),
        "clock": (409, 530, 892),
        "dog": (
            *range(152, 192), *range(193, 204), *range(205, 227), *range(228, 242),
            *range(243, 251), *range(252, 258), 259, 261, 262, 263, *range(265, 269),
        ),
        "elephant": (385, 386),
        "keyboard": (508, 878),
        "knife": (499,),
        "oven": (766,),
        "truck": (555, 569, 656, 675, 717, 734, 864, 867),
    }
)  # fmt: skip


def check_class_map(class_map: Any) -> dict[str, tuple[int, ...]]:
    """Check ``class_map`` (stimulus class name -> model class indices); return a plain dict.

    Raises:
        TypeError: not a mapping of ``str`` to sequences of ``int``.
        ValueError: empty, a class with no members, a negative index, or a model class
            assigned to two stimulus classes.
    """
    if not isinstance(class_map, Mapping) or not class_map:
        raise TypeError(
            "class_map must be a non-empty dict mapping stimulus class names to lists of "
            f"model class indices, got {type(class_map).__name__}. "
            "Example: shapebias.metrics.IMAGENET_16_CLASS_MAP."
        )
    owner: dict[int, str] = {}
    checked = {}
    for name, members in class_map.items():
        valid = isinstance(members, Sequence) and not isinstance(members, str)
        if not isinstance(name, str) or not valid or not members:
            raise TypeError(
                f"class_map must map str names to non-empty lists of int indices, got "
                f"{name!r}: {members!r}."
            )
        for index in members:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise ValueError(
                    f"class_map[{name!r}] must hold non-negative int model class indices, "
                    f"got {index!r}."
                )
            if index in owner:
                raise ValueError(
                    f"class_map assigns model class {index} to both {owner[index]!r} and "
                    f"{name!r}; each model class may belong to one stimulus class at most."
                )
            owner[index] = name
        checked[name] = tuple(members)
    return checked


def aggregate_probabilities(
    logits: torch.Tensor, class_map: Mapping[str, Sequence[int]]
) -> torch.Tensor:
    """Stimulus-class scores: the mean softmax probability of each class's member outputs.

    Following Geirhos et al. (2019), the model's softmax over all its outputs is averaged
    within each stimulus class (classes outside the map are ignored); the decision is the
    ``argmax`` over the stimulus classes (ties go to the first class in map order).

    Args:
        logits: model outputs ``(N, K)``.
        class_map: stimulus class name -> model class indices, e.g.
            :data:`IMAGENET_16_CLASS_MAP`; its key order defines the stimulus class indices.

    Returns:
        ``(N, len(class_map))`` mean probabilities, dtype and device of ``logits``.

    Raises:
        ValueError: a member index is not below ``K`` (the map does not fit the model).

    Example:
        >>> import torch
        >>> from shapebias.metrics import aggregate_probabilities
        >>> logits = torch.log(torch.tensor([[0.1, 0.3, 0.6]]))
        >>> aggregate_probabilities(logits, {"a": [0, 1], "b": [2]})
        tensor([[0.2000, 0.6000]])

    References:
        Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing shape
        bias improves accuracy and robustness", ICLR 2019.
    """
    checked = check_class_map(class_map)
    check_logits(logits, logits.shape[0] if isinstance(logits, torch.Tensor) else -1)
    members, groups = member_index(checked, logits)
    return mean_by_group(logits.softmax(1), members, groups, len(checked))


def member_index(
    class_map: dict[str, tuple[int, ...]], logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat member indices and their stimulus class, checked against the logits' width."""
    num_outputs = logits.shape[1]
    largest = max(max(members) for members in class_map.values())
    if largest >= num_outputs:
        name = next(n for n, m in class_map.items() if largest in m)
        raise ValueError(
            f"class_map[{name!r}] refers to model class {largest}, but the model has only "
            f"{num_outputs} outputs. Use a class_map made for this model's classes."
        )
    device = logits.device
    members = torch.tensor([i for m in class_map.values() for i in m], device=device)
    groups = torch.tensor([g for g, m in enumerate(class_map.values()) for _ in m], device=device)
    return members, groups


def mean_by_group(
    probabilities: torch.Tensor, members: torch.Tensor, groups: torch.Tensor, num_groups: int
) -> torch.Tensor:
    shape = (probabilities.shape[0], num_groups)
    sums = probabilities.new_zeros(shape).index_add_(1, groups, probabilities[:, members])
    counts = torch.bincount(groups, minlength=num_groups).to(probabilities.dtype)
    return sums / counts
