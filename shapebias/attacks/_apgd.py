"""Auto-PGD (Croce & Hein 2020): PGD with momentum and a self-tuning step size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F

from shapebias._config import config_kwargs
from shapebias._validation import (
    check_bool,
    check_choice,
    check_eps,
    check_finite_gradient,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_logits,
    check_model,
    check_open_unit,
)
from shapebias.attacks._dlr import dlr_loss, targeted_dlr_loss
from shapebias.attacks._model_checks import input_gradient, refuse_stack
from shapebias.attacks._objectives import check_num_targets, target_sets
from shapebias.attacks._pgd import _better, _Outcome
from shapebias.attacks._threat import NORMS, ascent_step, project, random_start
from shapebias.models import warn_if_train_mode

__all__ = ["APGD", "apgd", "apgd_checkpoints"]

APGD_LOSSES = ("ce", "dlr")
_MOMENTUM = 0.75


@dataclass(frozen=True)
class _Settings:
    """Validated settings of one :func:`apgd` call; ``eps`` is ``(N, 1, 1, 1)``."""

    eps: torch.Tensor
    norm: str
    steps: int
    loss: str
    targeted: bool
    num_targets: int
    restarts: int
    rho: float
    generator: torch.Generator | None


def apgd_checkpoints(steps: int) -> list[int]:
    """The iterations after which APGD may halve its step size.

    Croce & Hein's ``w_j = ceil(p_j * steps)`` with ``p_0 = 0``, ``p_1 = 0.22`` and
    ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``, computed on whole iterations
    as their reference code does (period ``int(0.22 N)``, shrinking by ``int(0.03 N)``
    down to ``int(0.06 N)``, each at least 1).

    Args:
        steps: the number of iterations ``N``.

    Returns:
        Increasing iteration numbers in ``[1, steps]``.

    Example:
        >>> from shapebias.attacks import apgd_checkpoints
        >>> apgd_checkpoints(100)
        [22, 41, 57, 70, 80, 87, 93, 99]
    """
    period = max(int(0.22 * steps), 1)
    shrink, shortest = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    points, point = [], period
    while point <= steps:
        points.append(point)
        period = max(period - shrink, shortest)
        point += period
    return points


def _settings(
    model: Any,
    images: Any,
    labels: Any,
    *,
    eps: Any,
    norm: Any,
    steps: Any,
    loss: Any,
    targeted: Any,
    num_targets: Any,
    restarts: Any,
    rho: Any,
    generator: Any,
) -> _Settings:
    check_model(model)
    refuse_stack(
        model,
        "apgd",
        "a sample leaves at its first misclassifying iterate, and later runs attack only "
        "the samples still standing",
    )
    check_images(images)
    check_labels(labels, images)
    check_choice(norm, "norm", NORMS)
    eps_t = check_eps(eps, images, pixel_bound=norm == "linf")
    check_int(steps, "steps", low=0)
    check_choice(loss, "loss", APGD_LOSSES)
    check_bool(targeted, "targeted")
    check_int(num_targets, "num_targets", low=1)
    check_int(restarts, "restarts", low=1)
    rho_f = check_open_unit(rho, "rho", "0.75")
    check_generator(generator, images)
    return _Settings(eps_t, norm, steps, loss, targeted, num_targets, restarts, rho_f, generator)


def _check_classes(num_classes: int, settings: _Settings) -> None:
    """The class count each configuration needs, checked on the model's first output.

    The DLR loss's need comes first: with fewer classes than it needs, no ``num_targets``
    helps (and ``auto_attack``'s APGD-T always uses the targeted DLR loss).
    """
    needed = (4 if settings.targeted else 3) if settings.loss == "dlr" else 2
    if num_classes < needed:
        kind = "targeted DLR" if settings.targeted else "DLR"
        ensemble = (
            " auto_attack cannot: its APGD-T always uses the targeted DLR loss. For a "
            f"{num_classes}-class model pass the attacks to robust_accuracy yourself, e.g. "
            f"[APGD(eps=eps), APGD(eps=eps, targeted=True, num_targets={num_classes - 1}), "
            f"FAB(eps=eps, num_targets={num_classes - 1}), Square(eps=eps)]."
            if settings.targeted and num_classes >= 2
            else ""
        )
        raise ValueError(
            f"loss={settings.loss!r} needs a model with at least {needed} classes for the "
            f"{kind} loss, got {num_classes}. Use loss='ce'.{ensemble}"
        )
    if settings.targeted:
        check_num_targets(settings.num_targets, num_classes)


def _objective(
    logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, loss: str
) -> torch.Tensor:
    """What APGD ascends: CE or DLR of the true label, or their targeted forms."""
    if targets is None:
        if loss == "ce":
            return F.cross_entropy(logits, labels, reduction="none")
        return dlr_loss(logits, labels)
    if loss == "ce":
        return -F.cross_entropy(logits, targets, reduction="none")
    return targeted_dlr_loss(logits, labels, targets)


def _evaluate(
    model: Any,
    x: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor | None,
    loss: str,
    need_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Objective, its input gradient (when needed) and whether ``x`` is misclassified."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(need_grad)
        logits = model(x)
        objective = _objective(logits, labels, targets, loss)
        grad = input_gradient(objective.sum(), x) if need_grad else None
    return objective.detach(), grad, logits.detach().argmax(1) != labels


def _to_ball(x: torch.Tensor, s: dict[str, Any], norm: str) -> torch.Tensor:
    """Project onto the ball around ``s["clean"]`` and ``[0, 1]``.

    L-inf uses the per-pixel bounds ``s["low"]``, ``s["high"]`` computed once per run:
    two passes instead of five.
    """
    if norm == "linf":
        return torch.minimum(torch.maximum(x, s["low"]), s["high"])
    return (s["clean"] + project(x - s["clean"], s["eps"], norm)).clamp(0, 1)


def _pick(keep: torch.Tensor, state: dict[str, Any]) -> dict[str, Any]:
    return {k: v if v is None else v[keep] for k, v in state.items()}


def _run(
    model: Any,
    clean: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor | None,
    eps: torch.Tensor,
    start: torch.Tensor,
    settings: _Settings,
) -> _Outcome:
    """One APGD run (Croce & Hein, Algorithm 1) on every sample given, from ``clean + start``.

    A sample leaves the batch at the first iterate that misclassifies it (returned for
    it); the others return the point of highest objective ``x_max``.
    """
    n = clean.shape[0]
    adversarial = clean.clone()
    fooled = torch.zeros(n, dtype=torch.bool, device=clean.device)
    objective_out = torch.full((n,), float("-inf"), dtype=clean.dtype, device=clean.device)
    x = (clean + start).clamp(0, 1)
    f, grad, success = _evaluate(model, x, labels, targets, settings.loss, settings.steps > 0)
    if grad is not None:  # once per run, as pgd does on its first step
        check_finite_gradient(grad, "apgd")
    seen = f.sum()  # NaN or inf once an iterate's objective was: checked after the run
    s: dict[str, Any] = {
        "where": torch.arange(n, device=clean.device),
        "clean": clean,
        "labels": labels,
        "targets": targets,
        "eps": eps,
        "x": x,
        "prev": x,
        "grad": grad,
        "f": f,
        "best_x": x.clone(),  # updated in place below
        "best_f": f,
        "best_grad": None if grad is None else grad.clone(),
        "step": 2 * eps,
        "increases": torch.zeros(n, dtype=torch.long, device=clean.device),
        "best_checked": f,
        "reduced": torch.ones(n, dtype=torch.bool, device=clean.device),
    }
    if settings.norm == "linf":
        s["low"], s["high"] = (clean - eps).clamp_min(0), (clean + eps).clamp_max(1)
    checkpoints, last_check = set(apgd_checkpoints(settings.steps)), 0
    for k in range(1, settings.steps + 2):
        # Samples fooled by the iterate just evaluated leave with it.
        if bool(success.any()):
            leaving = s["where"][success]
            adversarial[leaving] = s["x"][success]
            fooled[leaving] = True
            objective_out[leaving] = s["f"][success]
            s = _pick(~success, s)
        if k > settings.steps or s["where"].numel() == 0:
            break
        alpha = 1.0 if k == 1 else _MOMENTUM
        x, prev = s["x"], s["prev"]
        z = _to_ball(x + ascent_step(s["grad"], s["step"], settings.norm), s, settings.norm)
        # x + alpha (z - x) + (1 - alpha) (x - prev), in three passes
        moved = z.mul_(alpha).add_(x, alpha=2 * (1 - alpha)).sub_(prev, alpha=1 - alpha)
        s["prev"], s["x"] = x, _to_ball(moved, s, settings.norm)
        f, grad, success = _evaluate(
            model, s["x"], s["labels"], s["targets"], settings.loss, k < settings.steps
        )
        seen = seen + f.sum()
        s["increases"] = s["increases"] + (f > s["f"])
        s["f"], s["grad"] = f, grad
        better = f > s["best_f"]
        s["best_f"] = torch.where(better, f, s["best_f"])
        if bool(better.any()):
            s["best_x"][better] = s["x"][better]
            if grad is not None:
                s["best_grad"][better] = grad[better]
        if k in checkpoints:  # the samples just fooled leave with this iterate, untouched
            _checkpoint(s, k - last_check, settings.rho, success)
            last_check = k
    check_finite_gradient(seen, "apgd")
    where = s["where"]
    adversarial[where] = s["best_x"]
    objective_out[where] = s["best_f"]
    return _Outcome(adversarial, fooled, objective_out)


def _checkpoint(s: dict[str, Any], period: int, rho: float, fooled: torch.Tensor) -> None:
    """Halve the step where progress stalled since the last checkpoint; restart from x_max.

    Condition 1: the objective rose on fewer than ``rho * period`` of the steps.
    Condition 2: the step was not halved at the last checkpoint and the best objective
    has not improved since.

    Samples ``fooled`` by the current iterate are left alone: they leave the batch with
    it. (Moving one back to ``x_max``, a point of higher objective that the model still
    classifies correctly, would return that point for a sample counted as broken.)
    """
    halve = (s["increases"] < rho * period) | (~s["reduced"] & (s["best_f"] <= s["best_checked"]))
    halve &= ~fooled
    wide = halve[:, None, None, None]
    s["step"] = torch.where(wide, s["step"] / 2, s["step"])
    s["x"] = torch.where(wide, s["best_x"], s["x"])
    s["f"] = torch.where(halve, s["best_f"], s["f"])
    if s["grad"] is not None:
        s["grad"] = torch.where(wide, s["best_grad"], s["grad"])
    s["reduced"], s["best_checked"] = halve, s["best_f"]
    s["increases"] = torch.zeros_like(s["increases"])


def run_apgd(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: _Settings,
    *,
    active: torch.Tensor | None = None,
) -> _Outcome:
    """Every target and restart of a validated APGD call; per sample the most successful.

    Each run attacks only the samples (of ``active``) no earlier run has fooled. Random
    starts are drawn for the whole batch, so a sample's result does not depend on which
    others are attacked with it.
    """
    clean = images.detach()
    with torch.no_grad():
        logits = model(clean)
    check_logits(logits, clean.shape[0], labels)
    _check_classes(logits.shape[1], settings)
    n = clean.shape[0]
    no = torch.zeros(n, dtype=torch.bool, device=clean.device)
    lowest = torch.full((n,), float("-inf"), dtype=clean.dtype, device=clean.device)
    best = _Outcome(clean.clone(), no, lowest)
    todo = ~no if active is None else active
    for targets in target_sets(logits, labels, settings.targeted, settings.num_targets):
        for _ in range(settings.restarts):
            start = random_start(clean, settings.eps, settings.norm, settings.generator)
            run = (todo & ~cast(torch.Tensor, best.fooled)).nonzero().squeeze(1)
            if run.numel() == 0:
                continue
            picked = None if targets is None else targets[run]
            outcome = _run(
                model, clean[run], labels[run], picked, settings.eps[run], start[run], settings
            )
            adversarial, fooled, objective = best.adversarial.clone(), no.clone(), lowest.clone()
            adversarial[run] = outcome.adversarial
            fooled[run] = cast(torch.Tensor, outcome.fooled)
            objective[run] = cast(torch.Tensor, outcome.objective)
            best = _better(best, _Outcome(adversarial, fooled, objective))
    return best


def apgd(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    norm: str = "linf",
    steps: int = 100,
    loss: str = "ce",
    targeted: bool = False,
    num_targets: int = 9,
    restarts: int = 1,
    rho: float = 0.75,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Auto-PGD (Croce & Hein, 2020): momentum PGD whose step size tunes itself.

    From a random start in the ball, the step begins at ``2 * eps``; each iterate is
    ``x + 0.75 (z - x) + 0.25 (x - x_prev)`` with ``z`` a projected steepest-ascent
    step (sign step for L-inf, normalised gradient for L2), projected onto the ball
    and ``[0, 1]``. At the checkpoints of :func:`apgd_checkpoints` a sample's step
    halves, and it restarts from its best point ``x_max``, when (1) its objective rose
    on fewer than ``rho`` of the steps since the last checkpoint, or (2) the step was
    not halved last time and the best objective has not improved since. Per-sample
    budgets, steps and bookkeeping throughout.

    A sample stops at the first iterate that misclassifies it and that iterate is
    returned (AutoAttack keeps any misclassifying iterate too, so robust accuracy is
    the same); unbroken samples return their highest-objective point. With
    ``targeted=True`` this is APGD-T: for each of the ``num_targets`` classes ranked
    highest on the clean image (the label excluded), a run ascends the targeted loss
    towards it; a sample counts as broken when it is misclassified (any class but the
    label), as in AutoAttack. Later runs (targets, restarts) attack only samples no
    earlier run broke.

    Args:
        model: any callable ``images -> logits (N, K)``, normally in eval mode.
        images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64 true labels (also in targeted mode).
        eps: budget in pixel units, a float or a per-sample ``(N,)`` tensor.
        norm: ``"linf"`` or ``"l2"``.
        steps: iterations per run (each one forward and one input-backward pass).
        loss: ``"ce"`` (cross-entropy) or ``"dlr"`` (:func:`dlr_loss`; targeted:
            :func:`targeted_dlr_loss`; needs 3, targeted 4, classes).
        targeted: APGD-T over the top ``num_targets`` other classes.
        num_targets: classes tried in targeted mode; below the number of classes.
        restarts: random restarts per target (or untargeted run).
        rho: the fraction of the paper's condition 1, in ``(0, 1)``.
        generator: source of the random starts; same state, same output.

    Returns:
        Detached adversarial images like ``images``, within ``eps`` and in ``[0, 1]``.

    Shape:
        images ``(N, C, H, W)``, labels ``(N,)``, output ``(N, C, H, W)``.

    Raises:
        TypeError: wrong kinds of arguments (as for :func:`~shapebias.attacks.pgd`).
        ValueError: bad shapes or ranges, unknown ``norm``/``loss``, ``rho`` outside
            ``(0, 1)``, ``num_targets`` not below the number of classes, a DLR loss on
            too few classes, a model that is or holds a
            :class:`~shapebias.models.StackedModels` (it drops samples: attack each member
            of ``stack.unstack()``), a model whose output does not depend on the images
            through autograd (a ``.detach()``, rounding or ``torch.no_grad()`` in its
            ``forward``), an input gradient that is NaN or inf behind finite logits
            (checked on the first gradient of each run and on the objectives after it).

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.attacks import apgd
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(10).eval()
        >>> images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
        >>> adv = apgd(model, images, labels, eps=8 / 255, steps=10,
        ...            generator=torch.Generator().manual_seed(0))
        >>> bool((adv - images).abs().max() <= 8 / 255 + 1e-6)
        True

    References:
        Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
        diverse parameter-free attacks", ICML 2020, Algorithm 1.
    """
    settings = _settings(
        model,
        images,
        labels,
        eps=eps,
        norm=norm,
        steps=steps,
        loss=loss,
        targeted=targeted,
        num_targets=num_targets,
        restarts=restarts,
        rho=rho,
        generator=generator,
    )
    warn_if_train_mode(model, "apgd")
    return run_apgd(model, images, labels, settings).adversarial


def apgd_fooled(
    model: Any, images: torch.Tensor, labels: torch.Tensor, active: torch.Tensor, **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fooled, adversarial)``: which ``active`` samples an :func:`apgd` call with
    ``kwargs`` breaks (boolean ``(N,)``), and the images it returned."""
    settings = _settings(model, images, labels, **kwargs)
    outcome = run_apgd(model, images, labels, settings, active=active)
    if outcome.fooled is None:  # an active= mask makes run_apgd evaluate the end points
        raise RuntimeError("apgd internal error: the attack left no outcome.")
    return outcome.fooled, outcome.adversarial


@dataclass(frozen=True)
class APGD:
    """A configured :func:`apgd` attack, called as ``attack(model, images, labels)``.

    Example:
        >>> import torch
        >>> from shapebias.attacks import APGD
        >>> from shapebias.models import small_cnn
        >>> attack = APGD(eps=8 / 255, steps=5, loss="dlr", targeted=True, num_targets=3)
        >>> attack(small_cnn(10).eval(), torch.rand(2, 3, 32, 32), torch.tensor([1, 2])).shape
        torch.Size([2, 3, 32, 32])
    """

    eps: float | torch.Tensor
    norm: str = "linf"
    steps: int = 100
    loss: str = "ce"
    targeted: bool = False
    num_targets: int = 9
    restarts: int = 1
    rho: float = 0.75
    generator: torch.Generator | None = None

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return apgd(model, images, labels, **config_kwargs(self))
