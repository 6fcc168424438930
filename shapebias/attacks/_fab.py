"""FAB (Croce & Hein 2020): the fast adaptive boundary attack, and its targeted form FAB-T."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

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
    check_real,
)
from shapebias.attacks._hyperplane import box_hyperplane_step
from shapebias.attacks._model_checks import input_gradient, refuse_stack
from shapebias.attacks._objectives import attack_succeeded, check_num_targets, target_sets
from shapebias.attacks._threat import NORMS
from shapebias.models import warn_if_train_mode

__all__ = ["FAB", "fab"]

_TINY = 1e-12


@dataclass(frozen=True)
class _Settings:
    """Validated settings of one :func:`fab` call; ``eps`` is ``(N, 1, 1, 1)``."""

    eps: torch.Tensor
    norm: str
    steps: int
    targeted: bool
    num_targets: int
    restarts: int
    alpha_max: float
    eta: float
    beta: float
    generator: torch.Generator | None


def _settings(
    model: Any,
    images: Any,
    labels: Any,
    *,
    eps: Any,
    norm: Any,
    steps: Any,
    targeted: Any,
    num_targets: Any,
    restarts: Any,
    alpha_max: Any,
    eta: Any,
    beta: Any,
    generator: Any,
) -> _Settings:
    check_model(model)
    refuse_stack(
        model,
        "fab",
        "later targets and restarts attack only the samples not yet broken, and in "
        "robust_accuracy a sample leaves at its first adversarial iterate",
    )
    check_images(images)
    check_labels(labels, images)
    check_choice(norm, "norm", NORMS)
    eps_t = check_eps(eps, images, pixel_bound=norm == "linf")
    check_int(steps, "steps", low=1)
    check_bool(targeted, "targeted")
    check_int(num_targets, "num_targets", low=1)
    check_int(restarts, "restarts", low=1)
    alpha = check_open_unit(alpha_max, "alpha_max", "0.1")
    overshoot = check_real(eta, "eta", low=1.0, finite=True)
    back = check_open_unit(beta, "beta", "0.9")
    check_generator(generator, images)
    return _Settings(
        eps_t, norm, steps, targeted, num_targets, restarts, alpha, overshoot, back, generator
    )


def _check_classes(num_classes: int, settings: _Settings) -> None:
    if num_classes < 2:
        raise ValueError(f"fab needs a model with at least 2 classes, got {num_classes}.")
    if settings.targeted:
        check_num_targets(settings.num_targets, num_classes)


def _norm(delta: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample norm of ``(M, ...)`` perturbations, shape ``(M,)``."""
    flat = delta.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


def _dual_norm(w: torch.Tensor, norm: str) -> torch.Tensor:
    """``||w||_q`` over the last axis with ``1/p + 1/q = 1``: L1 for L-inf, L2 for L2."""
    return w.abs().sum(-1) if norm == "linf" else w.norm(dim=-1)


def _linearise(
    model: Any, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, norm: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hyperplane FAB steps towards at ``x``: ``diff + <w, z - x> = 0``.

    Targeted: ``f_t - f_y`` and its input gradient (one backward pass). Untargeted: of
    the classes ``l != y``, the one whose linearised boundary ``f_l - f_y`` is closest,
    ``|f_l - f_y| / ||grad f_l - grad f_y||_q`` (one backward pass per class). Returns
    ``w`` flattened ``(M, d)`` and ``diff`` ``(M,)``.
    """
    rows = torch.arange(x.shape[0], device=x.device)
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        true = logits[rows, labels]
        if targets is not None:
            diff = logits[rows, targets] - true
            w = input_gradient(diff.sum(), x)
            return w.flatten(1), diff.detach()
        classes = logits.shape[1]
        jacobian = torch.stack(
            [
                input_gradient(logits[:, k].sum(), x, retain_graph=k < classes - 1)
                for k in range(classes)
            ],
            dim=1,
        ).flatten(2)
    w_all = jacobian - jacobian[rows, labels][:, None]
    diff_all = (logits - true[:, None]).detach()
    distance = diff_all.abs() / (_dual_norm(w_all, norm) + _TINY)
    closest = distance.scatter(1, labels[:, None], float("inf")).argmin(1)
    return w_all[rows, closest], diff_all[rows, closest]


def _step(
    x: torch.Tensor, clean: torch.Tensor, w: torch.Tensor, diff: torch.Tensor, s: _Settings
) -> torch.Tensor:
    """FAB's biased step: project ``x`` and ``clean`` onto the hyperplane (in the box),
    mix the overshot projections with ``alpha = min(|d| / (|d| + |d_orig|), alpha_max)``."""
    flat_x, flat_clean = x.flatten(1), clean.flatten(1)
    to_clean = (w * (flat_clean - flat_x)).sum(1)
    both = box_hyperplane_step(
        torch.cat([flat_x, flat_clean]), torch.cat([w, w]), torch.cat([-diff, -diff - to_clean]),
        s.norm,
    )  # fmt: skip
    step, step_clean = both.chunk(2)
    size = _norm(both, s.norm).clamp_min(_TINY)
    size_x, size_clean = size.chunk(2)
    alpha = (size_x / (size_x + size_clean)).clamp(max=s.alpha_max)[:, None]
    moved = (1 - alpha) * (flat_x + s.eta * step) + alpha * (flat_clean + s.eta * step_clean)
    return moved.clamp(0, 1).view_as(x)


def _run(
    model: Any,
    clean: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor | None,
    eps: torch.Tensor,
    start: torch.Tensor,
    s: _Settings,
    early_stop: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One FAB run (Croce & Hein, Algorithm 1) from ``start``: ``(best point, its norm)``.

    Per sample the adversarial iterate of smallest norm (norm ``inf`` and the clean
    image where none was found). Each adversarial iterate is recorded, then pulled
    back towards ``clean`` by ``beta``. With ``early_stop`` a sample leaves the batch
    at its first adversarial iterate within ``eps``.
    """
    n = clean.shape[0]
    best = clean.clone()
    best_norm = torch.full((n,), float("inf"), dtype=clean.dtype, device=clean.device)
    where = torch.arange(n, device=clean.device)
    x = start
    seen = clean.new_zeros(())  # NaN or inf once a step's logits were: checked after the run
    for step in range(s.steps):
        w, diff = _linearise(model, x, labels, targets, s.norm)
        if step == 0:  # once per run, as pgd does on its first step
            check_finite_gradient(w, "fab")
        x = _step(x, clean, w, diff, s)
        with torch.no_grad():
            logits = model(x)
        seen = seen + logits.sum()
        success = attack_succeeded(logits, labels, targeted=False)  # any wrong class
        size = _norm(x - clean, s.norm)
        better = success & (size < best_norm[where])
        best[where[better]] = x[better]
        best_norm[where[better]] = size[better]
        x = torch.where(success[:, None, None, None], clean + s.beta * (x - clean), x)
        if early_stop:
            keep = ~(better & (size <= eps.flatten()))
            if not bool(keep.all()):
                where, x, clean, labels, eps = (t[keep] for t in (where, x, clean, labels, eps))
                targets = None if targets is None else targets[keep]
            if where.numel() == 0:
                break
    check_finite_gradient(seen, "fab")
    return best, best_norm


def _random_start(
    clean: torch.Tensor, radius: torch.Tensor, norm: str, generator: torch.Generator | None
) -> torch.Tensor:
    """``clean + radius / 2 * t / ||t||`` in the box: ``t`` uniform in ``[-1, 1]^d`` (L-inf)
    or Gaussian (L2), the restart of FAB with ``radius = min(eps, best norm so far)``."""
    shape, dtype, device = clean.shape, clean.dtype, clean.device
    if norm == "linf":
        t = 2 * torch.rand(shape, generator=generator, dtype=dtype, device=device) - 1
    else:
        t = torch.randn(shape, generator=generator, dtype=dtype, device=device)
    t = t / _norm(t, norm).clamp_min(_TINY).view(-1, 1, 1, 1)
    return (clean + radius.view(-1, 1, 1, 1) / 2 * t).clamp(0, 1)


def run_fab(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    s: _Settings,
    *,
    active: torch.Tensor | None = None,
    early_stop: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every target and restart of a validated FAB call: ``(adversarial, broken)``.

    A sample is broken once a run finds an adversarial point within its ``eps``; later
    runs (targets, restarts) attack only the samples (of ``active``) not yet broken.
    Unbroken samples return the clean image. Random starts are drawn for the whole
    batch, so a sample's result does not depend on which others are attacked with it.
    """
    clean = images.detach()
    with torch.no_grad():
        logits = model(clean)
    check_logits(logits, clean.shape[0], labels)
    _check_classes(logits.shape[1], s)
    n = clean.shape[0]
    adversarial = clean.clone()
    broken = torch.zeros(n, dtype=torch.bool, device=clean.device)
    todo = torch.ones_like(broken) if active is None else active
    eps = s.eps.flatten()
    for targets in target_sets(logits, labels, s.targeted, s.num_targets):
        smallest = torch.full((n,), float("inf"), dtype=clean.dtype, device=clean.device)
        for restart in range(s.restarts):
            start = clean
            if restart > 0:
                start = _random_start(clean, torch.minimum(eps, smallest), s.norm, s.generator)
            run = (todo & ~broken).nonzero().squeeze(1)
            if run.numel() == 0:
                continue
            picked = None if targets is None else targets[run]
            best, size = _run(
                model, clean[run], labels[run], picked, s.eps[run], start[run], s, early_stop
            )
            smallest[run] = torch.minimum(smallest[run], size)
            won = size <= eps[run]
            adversarial[run[won]] = best[won]
            broken[run[won]] = True
    return adversarial, broken


def fab(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    norm: str = "linf",
    steps: int = 100,
    targeted: bool = True,
    num_targets: int = 9,
    restarts: int = 1,
    alpha_max: float = 0.1,
    eta: float = 1.05,
    beta: float = 0.9,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """FAB (Croce & Hein, 2020), the fast adaptive boundary attack, as an attack at budget ``eps``.

    FAB looks for the *smallest* adversarial perturbation. Each step linearises the
    classifier at the current point ``x``, takes the hyperplane where the linearised
    logit of the chosen class ``l`` equals that of the true class ``y`` (untargeted:
    the closest such hyperplane, ``|f_l - f_y| / ||grad f_l - grad f_y||_q`` with ``q``
    the dual norm; targeted: the target's), and projects onto it within the box
    ``[0, 1]^d`` both ``x`` and the clean image ``x0`` (exactly, by sorting: see
    :func:`~shapebias.attacks._hyperplane.box_hyperplane_step`), giving steps ``d`` and
    ``d0``. The next point is the biased step
    ``(1 - alpha) (x + eta d) + alpha (x0 + eta d0)``, clipped to the box, with
    ``alpha = min(||d|| / (||d|| + ||d0||), alpha_max)``. An adversarial iterate is
    recorded if it is the smallest so far and then pulled back to
    ``x0 + beta (x - x0)``. The first run starts at ``x0``; each further restart at
    ``x0 + r / 2 * t / ||t||`` (``t`` uniform in ``[-1, 1]^d`` for L-inf, Gaussian for
    L2, ``r`` the smaller of ``eps`` and the best norm found so far), as in the paper.

    As AutoAttack uses it, the result is the smallest adversarial point found if its
    norm is at most ``eps``, else the clean image. With ``targeted=True`` (FAB-T) the
    attack tries the ``num_targets`` classes ranked highest on the clean image (the
    label excluded) in turn, a sample stopping at the first run that breaks it within
    ``eps``. The target only steers the search: in both modes an iterate counts as
    adversarial when it is misclassified, whatever the class (as in AutoAttack's FAB-T
    and :func:`~shapebias.attacks.apgd`'s APGD-T, so that a robust accuracy counts every
    misclassification an attack finds). Targeted steps cost one forward
    and one input-backward pass plus one forward for the check; untargeted ones one
    backward pass per class.

    Args:
        model: any callable ``images -> logits (N, K)``, normally in eval mode.
        images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64 true labels (also in targeted mode).
        eps: budget in pixel units, a float or a per-sample ``(N,)`` tensor.
        norm: ``"linf"`` or ``"l2"``.
        steps: iterations per run (>= 1; AutoAttack: 100).
        targeted: FAB-T over the top ``num_targets`` other classes (default, as in
            AutoAttack); ``False``: untargeted FAB.
        num_targets: classes tried in targeted mode; below the number of classes.
        restarts: runs per target (or untargeted run), the later ones from random starts.
        alpha_max: the largest weight of the step towards the clean image, in ``(0, 1)``.
        eta: overshoot of the projections, ``>= 1``.
        beta: backward step after an adversarial iterate, in ``(0, 1)``.
        generator: source of the random starts; same state, same output.

    Returns:
        Detached images like ``images``: adversarial within ``eps`` and in ``[0, 1]``
        where the attack succeeded, the clean image elsewhere.

    Shape:
        images ``(N, C, H, W)``, labels ``(N,)``, output ``(N, C, H, W)``.

    Raises:
        TypeError: wrong kinds of arguments (as for :func:`~shapebias.attacks.pgd`).
        ValueError: bad shapes or ranges, unknown ``norm``, ``steps < 1``, ``alpha_max``
            or ``beta`` outside ``(0, 1)``, ``eta < 1``, ``num_targets`` not below the
            number of classes; as for :func:`~shapebias.attacks.apgd`, a
            :class:`~shapebias.models.StackedModels`, a model whose output does not
            depend on the images through autograd, or a NaN or inf input gradient
            behind finite logits.

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.attacks import fab
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(10).eval()
        >>> images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
        >>> adv = fab(model, images, labels, eps=8 / 255, steps=5, num_targets=2)
        >>> bool((adv - images).abs().max() <= 8 / 255)
        True

    References:
        Croce & Hein, "Minimally distorted adversarial examples with a fast adaptive
        boundary attack", ICML 2020; "Reliable evaluation of adversarial robustness with
        an ensemble of diverse parameter-free attacks", ICML 2020 (FAB-T).
    """
    settings = _settings(
        model, images, labels, eps=eps, norm=norm, steps=steps, targeted=targeted,
        num_targets=num_targets, restarts=restarts, alpha_max=alpha_max, eta=eta, beta=beta,
        generator=generator,
    )  # fmt: skip
    warn_if_train_mode(model, "fab")
    return run_fab(model, images, labels, settings)[0]


def fab_fooled(
    model: Any, images: torch.Tensor, labels: torch.Tensor, active: torch.Tensor, **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fooled, adversarial)``: which ``active`` samples a :func:`fab` call with ``kwargs``
    breaks (boolean ``(N,)``), and the images it returned.

    A sample leaves each run at its first adversarial iterate within ``eps``, so this
    is exactly which samples :func:`fab` would return adversarial, at less cost.
    """
    settings = _settings(model, images, labels, **kwargs)
    adversarial, fooled = run_fab(model, images, labels, settings, active=active, early_stop=True)
    return fooled, adversarial


@dataclass(frozen=True)
class FAB:
    """A configured :func:`fab` attack, called as ``attack(model, images, labels)``.

    Example:
        >>> import torch
        >>> from shapebias.attacks import FAB
        >>> from shapebias.models import small_cnn
        >>> attack = FAB(eps=8 / 255, steps=3, num_targets=2)
        >>> attack(small_cnn(10).eval(), torch.rand(2, 3, 32, 32), torch.tensor([1, 2])).shape
        torch.Size([2, 3, 32, 32])
    """

    eps: float | torch.Tensor
    norm: str = "linf"
    steps: int = 100
    targeted: bool = True
    num_targets: int = 9
    restarts: int = 1
    alpha_max: float = 0.1
    eta: float = 1.05
    beta: float = 0.9
    generator: torch.Generator | None = None

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return fab(model, images, labels, **config_kwargs(self))
