"""Robust accuracy at several budgets, attacking only the images that survived the smaller ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch

from shapebias._validation import check_callable, check_images, check_labels, check_sequence
from shapebias.attacks._diagnostics import Diagnostics
from shapebias.attacks._robust_accuracy import robust_accuracy

__all__ = ["SurvivalCurve", "survival_curve"]


class SurvivalCurve(dict[float, torch.Tensor]):
    """What :func:`survival_curve` returns: ``{eps: (N,) bool}``, and its diagnostics.

    A plain dict of the per-image survival (so code that reads the curve as a dict keeps
    working) that also carries, per budget, the :class:`~shapebias.attacks.Diagnostics`
    of the evaluation run there (on the images that survived the smaller budgets).

    Attributes:
        diagnostics: ``{eps: Diagnostics}`` for every budget at which some image was
            attacked; a budget with no survivor left to attack has none.

    Example:
        >>> import torch
        >>> from shapebias.attacks import SurvivalCurve
        >>> curve = SurvivalCurve({0.0: torch.tensor([True])})
        >>> curve[0.0].tolist(), curve.diagnostics
        ([True], {})
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.diagnostics: dict[float, Diagnostics] = {}


@torch.no_grad()
def survival_curve(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps_values: Sequence[float],
    attack: Callable[[float], Any],
    *,
    batch_size: int = 256,
) -> SurvivalCurve:
    """Per budget (ascending), per image: right on the clean image and under every attack
    up to that budget.

    An adversarial example found within a smaller ball lies in every larger one, so an
    image broken at one budget counts as broken at every larger one, and only the
    survivors are attacked again: the robust accuracy at each budget of attacking all
    images there, for the work of the survivors. (:func:`robustness_curve` instead runs
    the whole ensemble at every budget and warns where robust accuracy rises with the
    budget, a sign of gradient masking; use it to diagnose, this to measure.)

    Args:
        model: callable ``images -> logits``, in eval mode.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64.
        eps_values: the budgets, pixel units; any order.
        attack: ``attack(eps)`` returns the attack (or list of attacks, run in order as
            by :func:`robust_accuracy`) at budget ``eps``, e.g.
            ``lambda eps: auto_attack_suite(eps, version="fast")``.
        batch_size: images per forward and per attack batch.

    Returns:
        A :class:`SurvivalCurve`, ``{eps: (N,) bool}`` on the CPU, ascending in ``eps``:
        survived every attack up to ``eps``; its ``diagnostics`` hold each budget's
        :class:`~shapebias.attacks.Diagnostics` (masked gradients at the clean and the
        start point, the verified count, ...) over the images attacked there.

    Raises:
        ValueError: no budget; bad images or labels.
        TypeError: ``attack`` is not callable.

    Example:
        >>> import torch
        >>> from shapebias.attacks import PGD, survival_curve
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(10).eval()
        >>> images, labels = torch.rand(4, 3, 16, 16), torch.randint(0, 10, (4,))
        >>> curve = survival_curve(model, images, labels, [8 / 255, 2 / 255],
        ...                        lambda eps: PGD(eps=eps, steps=2))
        >>> [round(eps * 255) for eps in curve], bool((curve[8 / 255] <= curve[2 / 255]).all())
        ([2, 8], True)
    """
    check_images(images)
    check_labels(labels, images)
    check_callable(attack, "attack")
    budgets = check_sequence(
        eps_values,
        "eps_values",
        item=lambda e: isinstance(e, (int, float)) and not isinstance(e, bool) and e >= 0,
        expected="a budget >= 0 in pixel units",
    )
    predictions = torch.cat([model(chunk).argmax(1) for chunk in images.split(batch_size)])
    alive = predictions == labels
    curve = SurvivalCurve()
    for eps in sorted(float(e) for e in budgets):
        index = alive.nonzero().flatten()
        if len(index):
            result = robust_accuracy(
                model,
                (images[index], labels[index]),
                attack(eps),
                batch_size=batch_size,
                progress=False,
            )
            survived = cast(torch.Tensor, result.correct) & (
                cast(torch.Tensor, result.broken_by) < 0
            )
            alive[index] = survived.to(labels.device)
            curve.diagnostics[eps] = result.diagnostics
        curve[eps] = alive.cpu().clone()
    return curve
