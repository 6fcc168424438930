"""The AutoAttack ensemble: APGD-CE, APGD-T, FAB-T and Square with early exit across attacks."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch

from shapebias._validation import check_choice, check_eps, check_int, check_sequence
from shapebias.attacks._apgd import APGD
from shapebias.attacks._fab import FAB
from shapebias.attacks._masking import warn_if_not_monotone
from shapebias.attacks._robust_accuracy import RobustAccuracy, robust_accuracy
from shapebias.attacks._square import Square
from shapebias.attacks._threat import NORMS

__all__ = ["VERSIONS", "auto_attack", "auto_attack_suite", "robustness_curve"]

VERSIONS = ("standard", "fast")


def auto_attack_suite(
    eps: float | torch.Tensor,
    *,
    norm: str = "linf",
    version: str = "standard",
    steps: int = 100,
    num_targets: int = 9,
    queries: int = 5000,
    generator: torch.Generator | None = None,
) -> tuple[Any, ...]:
    """The attacks :func:`auto_attack` runs, in order, as configured attack objects.

    ``"standard"`` (Croce & Hein's standard AutoAttack): APGD-CE (``steps``
    iterations), APGD-T with the targeted DLR loss over ``num_targets`` classes
    (``steps`` each), FAB-T over the same ``num_targets`` classes (``steps`` each, one
    run per target, :class:`~shapebias.attacks.FAB`), Square (``queries`` queries).
    ``"fast"``: APGD-CE and APGD-T over ``min(3, num_targets)`` classes, no FAB-T and
    no Square (so no black-box check).

    Args:
        eps: budget in pixel units, float or per-sample ``(N,)`` tensor.
        norm: ``"linf"`` or ``"l2"``.
        version: ``"standard"`` or ``"fast"``.
        steps: APGD and FAB iterations per run (the paper: 100).
        num_targets: APGD-T's and FAB-T's target classes; below the number of classes
            (9 for 10).
        queries: Square's queries (the paper: 5000).
        generator: shared by all attacks; same state, same result.

    Returns:
        A tuple of attacks for :func:`~shapebias.attacks.robust_accuracy`.

    Raises:
        TypeError: ``num_targets``, ``steps`` or ``queries`` not an int, ``eps`` not a
            number or tensor.
        ValueError: unknown ``version`` or ``norm``, ``steps``, ``queries`` or
            ``num_targets`` below 1, a negative, NaN or infinite ``eps`` or one above 1 in
            L-inf (``8`` for ``8/255``). All are checked here, before any image is attacked.

    Example:
        >>> from shapebias.attacks import attack_name, auto_attack_suite
        >>> [attack_name(a) for a in auto_attack_suite(8 / 255)]
        ['APGD-CE', 'APGD-T', 'FAB-T', 'Square']
    """
    check_choice(version, "version", VERSIONS)
    check_choice(norm, "norm", NORMS)
    check_int(num_targets, "num_targets", low=1)
    check_int(steps, "steps", low=1)  # FAB-T needs a step; APGD with 0 steps attacks nothing
    check_int(queries, "queries", low=1)
    if not isinstance(eps, torch.Tensor):  # a per-sample budget is checked against its batch
        check_eps(eps, torch.zeros(1, 1, 1, 1), pixel_bound=norm == "linf")
    apgd_ce = APGD(eps=eps, norm=norm, steps=steps, loss="ce", generator=generator)
    targets = min(3, num_targets) if version == "fast" else num_targets
    apgd_t = dataclasses.replace(apgd_ce, loss="dlr", targeted=True, num_targets=targets)
    if version == "fast":
        return (apgd_ce, apgd_t)
    fab_t = FAB(eps=eps, norm=norm, steps=steps, num_targets=num_targets, generator=generator)
    square = Square(eps=eps, norm=norm, queries=queries, generator=generator)
    return (apgd_ce, apgd_t, fab_t, square)


def auto_attack(
    model: Any,
    data: Any,
    *,
    eps: float | torch.Tensor,
    norm: str = "linf",
    version: str = "standard",
    steps: int = 100,
    num_targets: int = 9,
    queries: int = 5000,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    progress: bool = True,
    eot: int | None = None,
) -> RobustAccuracy:
    """Robust accuracy under the AutoAttack ensemble (Croce & Hein, 2020).

    Runs :func:`auto_attack_suite`'s attacks in order, each on the samples that are
    classified right and that every earlier attack left standing; within an attack a
    sample leaves at its first misclassifying iterate. The result is exactly the
    robust accuracy of running every attack on every sample. ``"standard"`` runs all
    four attacks of standard AutoAttack (APGD-CE, APGD-T, FAB-T, Square).

    Args:
        model: callable ``images -> logits``, in eval mode.
        data: as for :func:`~shapebias.attacks.robust_accuracy` (DataLoader, Dataset or
            ``(images, labels)``).
        eps, norm, version, steps, num_targets, queries, generator: as for
            :func:`auto_attack_suite`.
        batch_size: batch size for a Dataset or a tensor pair.
        progress: show a tqdm progress bar.
        eot: for a stochastic model, forward passes per expectation and per verification,
            as for :func:`~shapebias.attacks.robust_accuracy` (``None`` refuses one).

    Returns:
        A :class:`~shapebias.attacks.RobustAccuracy` (with its ``diagnostics`` and
        ``manifest``): clean and robust accuracy, robust
        accuracy after each attack (``robust_after``, named in ``attacks``) and the
        attack that broke each sample (``broken_by``).

    Raises:
        ValueError: unknown ``version``, ``num_targets`` not below the number of classes,
            or any input check of the attacks.

    Warns:
        GradientMaskingWarning: Square broke samples that the gradient attacks did not.

    Example:
        >>> import torch
        >>> from shapebias.attacks import auto_attack
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(10).eval()
        >>> data = (torch.rand(8, 3, 16, 16), torch.randint(0, 10, (8,)))
        >>> result = auto_attack(model, data, eps=8 / 255, steps=5, queries=20,
        ...                      generator=torch.Generator().manual_seed(0), progress=False)
        >>> result.attacks
        ('APGD-CE', 'APGD-T', 'FAB-T', 'Square')
        >>> result.robust == result.robust_after[-1] <= result.robust_after[0] <= result.clean
        True

    References:
        Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
        diverse parameter-free attacks", ICML 2020.
    """
    suite = auto_attack_suite(
        eps,
        norm=norm,
        version=version,
        steps=steps,
        num_targets=num_targets,
        queries=queries,
        generator=generator,
    )
    return robust_accuracy(model, data, suite, batch_size=batch_size, progress=progress, eot=eot)


def robustness_curve(
    model: Any, data: Any, eps_values: Sequence[float], **kwargs: Any
) -> dict[float, RobustAccuracy]:
    """:func:`auto_attack` at each budget, checking that robust accuracy falls with ``eps``.

    Args:
        model: callable ``images -> logits``, in eval mode.
        data: as for :func:`auto_attack`.
        eps_values: the budgets, floats in pixel units.
        **kwargs: keyword arguments of :func:`auto_attack` (``norm``, ``version``, ...).

    Returns:
        ``{eps: RobustAccuracy}`` in the order given; with several budgets each result's
        ``diagnostics.monotone`` says whether robust accuracy fell (or stayed) with ``eps``.

    Raises:
        TypeError: ``eps_values`` is not a list or tuple of numbers (one float: use
            ``[eps]``, or :func:`auto_attack`).
        ValueError: ``eps_values`` is empty or holds a budget :func:`auto_attack` refuses
            (negative, NaN, infinite, above 1 in L-inf); all are checked before the first
            evaluation. Any other check of :func:`auto_attack`.

    Warns:
        GradientMaskingWarning: robust accuracy rises with a larger ``eps``, or Square
            broke samples the gradient attacks did not.

    Example:
        >>> import torch
        >>> from shapebias.attacks import robustness_curve
        >>> from shapebias.models import small_cnn
        >>> data = (torch.rand(4, 3, 16, 16), torch.randint(0, 10, (4,)))
        >>> curve = robustness_curve(small_cnn(10).eval(), data, [0.0, 4 / 255], version="fast",
        ...                          steps=3, progress=False)
        >>> sorted(curve)
        [0.0, 0.01568627450980392]
    """
    _check_budgets(eps_values, kwargs.get("norm", "linf"))
    curve = {float(eps): auto_attack(model, data, eps=eps, **kwargs) for eps in eps_values}
    robust = {eps: result.robust for eps, result in curve.items()}
    warn_if_not_monotone(robust)
    if len(curve) < 2:
        return curve
    ordered = [robust[eps] for eps in sorted(robust)]
    monotone = all(high <= low for low, high in itertools.pairwise(ordered))
    return {
        eps: dataclasses.replace(
            result, diagnostics=dataclasses.replace(result.diagnostics, monotone=monotone)
        )
        for eps, result in curve.items()
    }


def _check_budgets(eps_values: Any, norm: Any) -> None:
    """Every budget of a curve, checked before the first (long) evaluation."""
    if isinstance(eps_values, Real) or (
        isinstance(eps_values, torch.Tensor) and eps_values.ndim == 0
    ):
        raise TypeError(
            f"eps_values must be a list or tuple of budgets, got one number {float(eps_values):g}. "
            f"Use [{float(eps_values):g}], or auto_attack(model, data, eps=...) for one budget."
        )
    if isinstance(eps_values, Sequence) and len(eps_values) == 0:
        raise ValueError("eps_values must hold at least one budget, got an empty sequence.")
    budgets = check_sequence(
        eps_values,
        "eps_values",
        item=lambda value: isinstance(value, Real) and not isinstance(value, bool),
        expected="a budget in pixel units (a float such as 8/255)",
    )
    one = torch.zeros(1, 1, 1, 1)
    for index, eps in enumerate(budgets):
        check_eps(eps, one, name=f"eps_values[{index}]", pixel_bound=norm == "linf")
