"""Clean and robust accuracy over a dataset, attacking only what is still classified right."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from tqdm.auto import tqdm

from shapebias._batches import batch_count, iterate_batches
from shapebias._validation import check_callable, check_int, check_logits
from shapebias.attacks._pgd import run_attack
from shapebias.models import warn_if_train_mode

__all__ = ["RobustAccuracy", "robust_accuracy"]


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
        assert fooled is not None  # an active= mask makes run_attack evaluate the end points
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
        total=batch_count(data, batch_size),
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
