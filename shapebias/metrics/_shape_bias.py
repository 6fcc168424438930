"""Shape bias on cue-conflict images (Geirhos et al. 2019)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from shapebias._batches import iterate_batches
from shapebias._distributed import gather_tensor, shard_data
from shapebias._precision import evaluation_autocast
from shapebias._seeds import derive_seed
from shapebias._validation import (
    check_autocast,
    check_bool,
    check_int,
    check_logits,
    check_model,
)
from shapebias.metrics._bootstrap import Estimate, estimate, resample_counts, share
from shapebias.metrics._checks import CUE_CONFLICT_LABELS, check_bootstrap, require_samples
from shapebias.metrics._class_map import check_class_map, mean_by_group, member_index
from shapebias.metrics._tables import MISSING, check_results, format_estimate, markdown_table
from shapebias.models import check_unstacked, warn_if_train_mode

__all__ = ["ShapeBias", "shape_bias", "shape_bias_table", "summarise_decisions"]

# Outcome of one cue-conflict image: which cue the decision matched.
_SHAPE, _TEXTURE, _OTHER = 0, 1, 2
_OUTCOMES = 3


@dataclasses.dataclass(frozen=True)
class ShapeBias:
    """Result of :func:`shape_bias`.

    Attributes:
        shape_bias: ``S / (S + T)`` over the cue-conflict images, S (T) the number of
            decisions for the shape (texture) class.
        cue_match: ``(S + T) / conflict_images``, the share of decisions that match either
            cue; a low value means the shape bias rests on few decisions.
        per_class: shape bias of the images of each shape class (NaN where no decision
            matched a cue), keyed by class name.
        shape_decisions: S.
        texture_decisions: T.
        conflict_images: images whose shape and texture classes differ (the only ones
            counted).
        excluded: images whose shape and texture classes are equal, left out.
        class_names: the stimulus class names, in class-index order.
        decisions: the model's stimulus-class decision for every image, CPU ``(N,)``.
        shape_labels: CPU ``(N,)``.
        texture_labels: CPU ``(N,)``.
        confidence: coverage of the bootstrap intervals.
    """

    shape_bias: Estimate
    cue_match: Estimate
    per_class: dict[str, Estimate]
    shape_decisions: int
    texture_decisions: int
    conflict_images: int
    excluded: int
    class_names: tuple[str, ...]
    decisions: torch.Tensor
    shape_labels: torch.Tensor
    texture_labels: torch.Tensor
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers: counts and every estimate with its interval."""
        return {
            "shape_bias": self.shape_bias.to_dict(),
            "cue_match": self.cue_match.to_dict(),
            "per_class": {name: e.to_dict() for name, e in self.per_class.items()},
            "shape_decisions": self.shape_decisions,
            "texture_decisions": self.texture_decisions,
            "conflict_images": self.conflict_images,
            "excluded": self.excluded,
            "confidence": self.confidence,
        }

    def to_markdown(
        self,
        name: str = "model",
        *,
        intervals: bool = True,
        per_class: bool = True,
        digits: int = 1,
    ) -> str:
        """A one-row table; see :func:`shape_bias_table` for several models."""
        return shape_bias_table(
            {name: self}, intervals=intervals, per_class=per_class, digits=digits
        )


def shape_bias(
    model: Callable[[torch.Tensor], torch.Tensor],
    data: Any,
    *,
    class_map: Mapping[str, Sequence[int]] | None = None,
    class_names: Sequence[str] | None = None,
    batch_size: int = 256,
    seed: int = 0,
    confidence: float = 0.95,
    num_bootstrap: int = 1000,
    progress: bool = True,
    autocast: torch.dtype | None = None,
    distributed: bool = True,
) -> ShapeBias:
    """Shape bias of ``model`` on cue-conflict images: ``S / (S + T)``.

    Each image carries the class of its shape and the class of its texture. Over the
    images whose two classes differ, S counts decisions for the shape class and T those
    for the texture class; decisions matching neither are left out of the ratio but
    reported in :attr:`ShapeBias.cue_match`. Per-class values group images by their
    shape class. Intervals are percentile bootstrap intervals over images.

    Args:
        model: callable ``images -> logits``, normally in eval mode.
        data: a DataLoader (or iterable) of ``(images, shape_labels, texture_labels)``
            batches, or a tuple of those three tensors. Labels index the stimulus classes.
        class_map: maps the model's outputs to the stimulus classes (name -> model class
            indices; key order = stimulus class index). A decision is the class with the
            highest mean softmax probability of its members, as Geirhos et al. do, e.g.
            :data:`IMAGENET_16_CLASS_MAP` for an ImageNet model on their 16-class stimuli.
            ``None``: the model's classes are the stimulus classes (argmax of logits).
        class_names: names of the model's classes when ``class_map`` is ``None``
            (default ``"0"``, ``"1"``, ...).
        batch_size: chunk size when ``data`` is a tuple of tensors.
        seed: seeds the bootstrap.
        confidence: coverage of the intervals.
        num_bootstrap: bootstrap replicates; 0 skips the intervals.
        progress: show a tqdm progress bar.
        autocast: ``torch.bfloat16`` or ``torch.float16`` runs the model under
            :func:`torch.autocast` (decisions from its float32 softmax).
        distributed: under ``torchrun``, evaluate this process's block of ``data`` and
            combine the processes' results (default); ``False`` evaluates ``data`` as
            given on this process alone, for callers that shard and reduce themselves.

    Under ``torchrun`` each process decides its contiguous block of ``data`` and the
    decisions are gathered in dataset order, so every process returns the
    single-process result, intervals included (see :doc:`/guide/real_models`).

    Returns:
        A :class:`ShapeBias`.

    Raises:
        TypeError: bad ``class_map`` or ``data``, ``progress`` not a ``bool``, a model
            that is or holds a :class:`~shapebias.models.StackedModels` (measure its
            ``unstack()`` members).
        ValueError: empty data; no image whose shape and texture classes differ; labels
            not below the number of stimulus classes; ``class_map`` indices beyond the
            model's outputs; both ``class_map`` and ``class_names`` given;
            ``num_bootstrap`` above ``MAX_BOOTSTRAP`` (10^6); NaN/inf logits.

    Example:
        >>> import torch
        >>> from shapebias.metrics import shape_bias
        >>> from shapebias.models import small_cnn
        >>> shapes, textures = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 2, 0, 2])
        >>> data = (torch.rand(4, 3, 16, 16), shapes, textures)
        >>> result = shape_bias(small_cnn(3).eval(), data, progress=False)
        >>> result.conflict_images
        4

    References:
        Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing shape
        bias improves accuracy and robustness", ICLR 2019.
    """
    check_model(model)
    check_unstacked(model, "shape_bias", "it evaluates the data in batches of batch_size")
    check_int(batch_size, "batch_size", low=1)
    check_bootstrap(confidence, num_bootstrap, seed)
    check_bool(progress, "progress")
    checked_map = None if class_map is None else check_class_map(class_map)
    if checked_map is not None and class_names is not None:
        raise ValueError(
            "class_names must be None when class_map is given: the stimulus class names "
            "are the keys of class_map."
        )
    check_autocast(autocast)
    check_bool(distributed, "distributed")
    warn_if_train_mode(model, "shape_bias")
    data = shard_data(data, active=distributed)
    decide = _Decider(checked_map)
    parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    batches = tqdm(
        iterate_batches(data, batch_size, label_names=CUE_CONFLICT_LABELS),
        desc="shape bias",
        disable=not progress,
    )
    with torch.no_grad():
        for images, shape_labels, texture_labels in batches:
            with evaluation_autocast(autocast, images.device):
                decisions = decide(model(images), images.shape[0])
            parts.append((decisions, shape_labels, texture_labels))
    require_samples(len(parts), "data")
    decisions, shapes, textures = (
        gather_tensor(torch.cat(column), active=distributed).cpu()
        for column in zip(*parts, strict=True)
    )
    decide.check_labels(shapes, textures)
    names = _class_names(checked_map, class_names, decide.num_classes)
    return summarise_decisions(
        decisions, shapes, textures, names, seed=seed, confidence=confidence,
        num_bootstrap=num_bootstrap,
    )  # fmt: skip


class _Decider:
    """Logits -> stimulus-class decisions, with the label and class-map checks."""

    def __init__(self, class_map: dict[str, tuple[int, ...]] | None) -> None:
        self.class_map = class_map
        self.index: tuple[torch.Tensor, torch.Tensor] | None = None
        self.num_classes = 0 if class_map is None else len(class_map)

    def __call__(self, logits: Any, batch_size: int) -> torch.Tensor:
        check_logits(logits, batch_size)
        if self.class_map is None:
            self.num_classes = logits.shape[1]
            scores = logits
        else:
            if self.index is None:
                self.index = member_index(self.class_map, logits)
            scores = mean_by_group(logits.softmax(1), *self.index, self.num_classes)
        return scores.argmax(1)

    def check_labels(self, shape_labels: torch.Tensor, texture_labels: torch.Tensor) -> None:
        """Once, on all labels: both must index the stimulus classes."""
        largest = int(torch.maximum(shape_labels.max(), texture_labels.max()))
        if largest >= self.num_classes:
            source = "class_map's" if self.class_map is not None else "the model's"
            raise ValueError(
                f"shape_labels and texture_labels must be stimulus class indices below "
                f"{source} {self.num_classes} classes, got {largest}. Pass a class_map that "
                "maps the model's outputs to the stimulus classes."
            )


def _class_names(
    class_map: dict[str, tuple[int, ...]] | None, class_names: Any, num_classes: int
) -> tuple[str, ...]:
    if class_map is not None:
        return tuple(class_map)
    if class_names is None:
        return tuple(str(i) for i in range(num_classes))
    names = tuple(class_names)
    if len(names) != num_classes or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"class_names must be {num_classes} strings, one per model output, "
            f"got {len(names)} entries."
        )
    return names


def summarise_decisions(
    decisions: torch.Tensor,
    shapes: torch.Tensor,
    textures: torch.Tensor,
    names: tuple[str, ...],
    *,
    seed: int,
    confidence: float,
    num_bootstrap: int,
) -> ShapeBias:
    conflict = shapes != textures
    if not bool(conflict.any()):
        raise ValueError(
            f"data must contain cue-conflict images whose shape and texture classes differ; "
            f"all {len(shapes)} images have equal shape_labels and texture_labels."
        )
    outcome = torch.full_like(decisions, _OTHER)
    outcome[decisions == textures] = _TEXTURE
    outcome[decisions == shapes] = _SHAPE
    present, group = torch.unique(shapes[conflict], return_inverse=True)
    cells = np.bincount(
        (_OUTCOMES * group + outcome[conflict]).numpy(), minlength=_OUTCOMES * len(present)
    )
    resampled = resample_counts(cells, num_bootstrap, derive_seed(seed, "shape_bias"))

    def cells_of(kind: int, groups: Sequence[int]) -> list[int]:
        return [_OUTCOMES * g + kind for g in groups]

    def bias(groups: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
        return share(
            cells_of(_SHAPE, groups), cells_of(_SHAPE, groups) + cells_of(_TEXTURE, groups)
        )

    every = range(len(present))
    decided = cells_of(_SHAPE, every) + cells_of(_TEXTURE, every)
    statistics = {"shape_bias": bias(every), "cue_match": share(decided, list(range(len(cells))))}
    per_class = {
        names[int(c)]: estimate(bias([g]), cells, resampled, confidence)
        for g, c in enumerate(present)
    }
    return ShapeBias(
        **{key: estimate(s, cells, resampled, confidence) for key, s in statistics.items()},
        per_class=per_class,
        shape_decisions=int(cells[cells_of(_SHAPE, every)].sum()),
        texture_decisions=int(cells[cells_of(_TEXTURE, every)].sum()),
        conflict_images=int(conflict.sum()),
        excluded=int((~conflict).sum()),
        class_names=names,
        decisions=decisions,
        shape_labels=shapes,
        texture_labels=textures,
        confidence=confidence,
    )


def shape_bias_table(
    results: Mapping[str, Any],
    *,
    intervals: bool = True,
    per_class: bool = False,
    digits: int = 1,
) -> str:
    """Combine several :class:`ShapeBias` results into one table, one row per model.

    Columns: shape bias, the share of decisions matching either cue, and (with
    ``per_class``) the shape bias of each shape class, all in percent.

    Example:
        >>> import torch
        >>> from shapebias.metrics import shape_bias, shape_bias_table
        >>> from shapebias.models import small_cnn
        >>> data = (torch.rand(8, 3, 16, 16), torch.arange(8) % 2, 1 - torch.arange(8) % 2)
        >>> result = shape_bias(small_cnn(2).eval(), data, progress=False)
        >>> print(shape_bias_table({"standard": result}).splitlines()[0])
        | model | shape bias | cue match |
    """
    results = check_results(results, ShapeBias, "shape_bias")
    check_int(digits, "digits", low=0)
    check_bool(intervals, "intervals")
    check_bool(per_class, "per_class")
    classes = list(dict.fromkeys(c for r in results.values() for c in r.per_class))
    header = ["model", "shape bias", "cue match", *(classes if per_class else [])]
    rows = []
    for model, r in results.items():
        values = [r.shape_bias, r.cue_match]
        cells = [format_estimate(v, digits=digits, intervals=intervals) for v in values]
        if per_class:
            cells += [
                format_estimate(r.per_class[c], digits=digits, intervals=intervals)
                if c in r.per_class
                else MISSING
                for c in classes
            ]
        rows.append([model, *cells])
    return markdown_table(header, rows)
