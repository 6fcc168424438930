"""Clean and robust accuracy over a dataset, attacking only what is still classified right."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from tqdm.auto import tqdm

from shapebias._validation import (
    check_callable,
    check_images,
    check_int,
    check_labels,
    check_logits,
)
from shapebias.attacks._pgd import run_attack
from shapebias.models import warn_if_train_mode

__all__ = ["RobustAccuracy", "iterate_batches", "robust_accuracy"]


@dataclasses.dataclass(frozen=True)
class RobustAccuracy:
    """Counts and rates from :func:`robust_accuracy`.

    Attributes:
        clean: share of samples classified correctly.
        robust: share classified correctly *and* not fooled by the attack.
        total: number of samples.
        clean_correct: number classified correctly.
        robust_correct: number that survived the attack.
    """

    clean: float
    robust: float
    total: int
    clean_correct: int
    robust_correct: int


def iterate_batches(
    data: Any, batch_size: int, *, label_names: tuple[str, ...] = ("labels",)
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield checked ``(images, *labels)`` batches from tensors or from any iterable of batches.

    ``data`` is either a tuple ``(images, labels, ...)`` of tensors, checked once and cut
    into ``batch_size`` chunks, or an iterable (a :class:`~torch.utils.data.DataLoader`)
    of such tuples, each checked as it comes. Extra entries of a batch beyond
    ``1 + len(label_names)`` are ignored.

    Args:
        data: tensors or an iterable of batches.
        batch_size: chunk size for tensor input.
        label_names: names of the label tensors after the images, used in error messages
            (``("shape_labels", "texture_labels")`` for cue-conflict data).

    Example:
        >>> import torch
        >>> data = (torch.rand(5, 3, 4, 4), torch.zeros(5, dtype=torch.long))
        >>> [images.shape[0] for images, labels in iterate_batches(data, 2)]
        [2, 2, 1]
    """
    width = 1 + len(label_names)
    layout = "(" + ", ".join(("images", *label_names)) + ")"
    if _is_tensor_tuple(data):
        if len(data) != width:
            raise ValueError(f"data must be {layout}, got a tuple of {len(data)} tensors.")
        batch = _checked(data, label_names)
        for start in range(0, batch[0].shape[0], batch_size):
            yield tuple(t[start : start + batch_size] for t in batch)
        return
    if not isinstance(data, Iterable):
        raise TypeError(
            f"data must be a DataLoader (or any iterable) of {layout} batches or a tuple "
            f"{layout} of tensors, got {type(data).__name__}."
        )
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < width:
            raise TypeError(
                f"data must yield {layout} tuples, got a batch of type {type(batch).__name__}"
                + (f" with {len(batch)} entries." if isinstance(batch, (tuple, list)) else ".")
            )
        yield _checked(batch[:width], label_names)


def _is_tensor_tuple(data: Any) -> bool:
    """Whether ``data`` is a tuple of tensors ``(images, labels, ...)`` rather than batches."""
    return isinstance(data, (tuple, list)) and bool(data) and isinstance(data[0], torch.Tensor)


def _checked(batch: Any, label_names: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
    images, *labels = batch
    check_images(images)
    for name, label in zip(label_names, labels, strict=True):
        check_labels(label, images, name)
    return (images, *labels)


def _survivors(
    model: Any, attack: Any, images: torch.Tensor, labels: torch.Tensor, correct: torch.Tensor
) -> torch.Tensor:
    """Boolean ``(N,)``: correct on clean and still correct under the attack."""
    if hasattr(attack, "plan"):
        plan = dataclasses.replace(attack.plan(model, images, labels), early_stop=True)
        if plan.targeted:
            raise ValueError(
                "attack must be untargeted for robust_accuracy (labels are the true classes), "
                "got a targeted attack. Use targeted=False."
            )
        fooled = run_attack(model, images, labels, plan, active=correct).fooled
        if fooled is None:  # an active= mask makes run_attack evaluate the end points
            raise RuntimeError("robust_accuracy internal error: the attack left no outcome.")
        return correct & ~fooled
    survived = correct.clone()
    if bool(correct.any()):
        adversarial = attack(model, images[correct], labels[correct])
        if not isinstance(adversarial, torch.Tensor) or adversarial.shape != images[correct].shape:
            raise ValueError(
                "attack must return adversarial images shaped like its input, got "
                f"{getattr(adversarial, 'shape', type(adversarial).__name__)}."
            )
        with torch.no_grad():
            survived[correct] = model(adversarial).argmax(1) == labels[correct]
    return survived


def robust_accuracy(
    model: Any,
    data: Any,
    attack: Any,
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> RobustAccuracy:
    """Clean and robust accuracy of ``model`` on ``data`` under ``attack``.

    Only samples the model classifies correctly are attacked. With a shapebias attack
    (:class:`~shapebias.attacks.PGD`, :class:`~shapebias.attacks.FGSM`) a sample also
    leaves the batch at the first iterate that fools the model, so on a non-robust model
    most of the work is skipped; the count equals attacking every sample with
    ``early_stop=True`` (a sample is robust only if no iterate fooled the model). Any
    other callable ``attack(model, images, labels)`` is run on the correct samples.

    Args:
        model: callable ``images -> logits``, normally in eval mode.
        data: a DataLoader (or iterable) of ``(images, labels)`` or a tensor pair.
        attack: e.g. ``PGD(eps=8/255)``; must be untargeted.
        batch_size: chunk size when ``data`` is a tensor pair.
        progress: show a tqdm progress bar.

    Returns:
        A :class:`RobustAccuracy` with rates and counts over the whole dataset.

    Raises:
        ValueError: empty data, a targeted attack, or any input check of the attack.

    Example:
        >>> import torch
        >>> from shapebias.attacks import PGD, robust_accuracy
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(3).eval()
        >>> data = (torch.rand(8, 3, 16, 16), torch.randint(0, 3, (8,)))
        >>> result = robust_accuracy(model, data, PGD(eps=8 / 255, steps=3), progress=False)
        >>> 0.0 <= result.robust <= result.clean <= 1.0
        True
    """
    check_int(batch_size, "batch_size", low=1)
    check_callable(attack, "attack")
    warn_if_train_mode(model, "robust_accuracy")
    total = clean_correct = robust_correct = 0
    batches = tqdm(
        iterate_batches(data, batch_size),
        total=_length(data, batch_size),
        desc="robust accuracy",
        disable=not progress,
        leave=False,
    )
    for images, labels in batches:
        with torch.no_grad():
            logits = model(images)
        check_logits(logits, images.shape[0], labels)
        correct = logits.argmax(1) == labels
        survived = _survivors(model, attack, images, labels, correct)
        total += images.shape[0]
        clean_correct += int(correct.sum())
        robust_correct += int(survived.sum())
        batches.set_postfix(clean=clean_correct / total, robust=robust_correct / total)
    if total == 0:
        raise ValueError("data must hold at least one sample, got an empty dataset.")
    return RobustAccuracy(
        clean=clean_correct / total,
        robust=robust_correct / total,
        total=total,
        clean_correct=clean_correct,
        robust_correct=robust_correct,
    )


def _length(data: Any, batch_size: int) -> int | None:
    if _is_tensor_tuple(data):
        return -(-data[0].shape[0] // batch_size)
    try:
        return len(data)
    except TypeError:
        return None
