"""The Square attack (Andriushchenko et al. 2020): score-based random search, no gradients."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from shapebias._config import config_kwargs
from shapebias._validation import (
    check_choice,
    check_eps,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_logits,
    check_model,
    check_real,
)
from shapebias.attacks._model_checks import refuse_stack
from shapebias.attacks._objectives import attack_objective
from shapebias.attacks._threat import NORMS
from shapebias.models import warn_if_train_mode

__all__ = ["Square", "square", "square_size"]

_TINY = 1e-12
# Andriushchenko et al.'s schedule, on iterations rescaled to a 10 000-query budget:
# p halves after each of these iteration counts.
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


@dataclass(frozen=True)
class _Settings:
    eps: torch.Tensor  # (N, 1, 1, 1)
    norm: str
    queries: int
    p_init: float
    generator: torch.Generator | None


def square_size(iteration: int, queries: int, p_init: float, height: int, width: int) -> int:
    """Side of the square that the Square attack changes at ``iteration`` (0-based).

    The share ``p`` of changed pixels starts at ``p_init`` and halves after iterations
    10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of a budget rescaled to 10 000
    queries (Andriushchenko et al., Sec. 3); the side is ``round(sqrt(p * H * W))``,
    at least 1 and at most ``min(H, W)``.

    Example:
        >>> from shapebias.attacks import square_size
        >>> [square_size(i, 5000, 0.8, 32, 32) for i in (0, 5, 6, 25, 26, 4999)]
        [29, 29, 20, 20, 14, 1]
    """
    rescaled = int(iteration / queries * 10000)
    p = p_init / 2 ** sum(rescaled > h for h in _HALVINGS)
    return min(max(round(math.sqrt(p * height * width)), 1), height, width)


def _settings(
    model: Any,
    images: Any,
    labels: Any,
    *,
    eps: Any,
    norm: Any,
    queries: Any,
    p_init: Any,
    generator: Any,
) -> _Settings:
    check_model(model)
    refuse_stack(model, "square", "a sample leaves at its first misclassifying query")
    check_images(images)
    check_labels(labels, images)
    check_choice(norm, "norm", NORMS)
    eps_t = check_eps(eps, images, pixel_bound=norm == "linf")
    check_int(queries, "queries", low=1)
    p = check_real(p_init, "p_init", low=0.0, high=1.0, low_inclusive=False)
    check_generator(generator, images)
    return _Settings(eps_t, norm, queries, p, generator)


def _signs(shape: tuple[int, ...], like: torch.Tensor, generator: Any) -> torch.Tensor:
    draw = torch.randint(0, 2, shape, device=like.device, generator=generator)
    return (2 * draw - 1).to(like.dtype)


def _window_masks(
    n: int, size: int, like: torch.Tensor, where: torch.Tensor, generator: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A uniformly placed ``size x size`` window per sample: bool ``(A, 1, H, W)`` masks.

    Corners are drawn for all ``n`` samples (so the generator advances the same way
    whoever is active) and kept for the active ones, ``where``. Also returns each
    pixel's row and column offsets from the window's corner, ``(A, H)`` and ``(A, W)``.
    """
    height, width = like.shape[-2:]
    top = torch.randint(0, height - size + 1, (n,), device=like.device, generator=generator)
    left = torch.randint(0, width - size + 1, (n,), device=like.device, generator=generator)
    rows = torch.arange(height, device=like.device)[None, :] - top[where, None]
    cols = torch.arange(width, device=like.device)[None, :] - left[where, None]
    inside = ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None]
    return inside[:, None], rows, cols


def _ring_pattern(rows: int, cols: int, like: torch.Tensor) -> torch.Tensor:
    """Concentric rectangles, ring ``k`` from the centre weighted ``sum_{j>=k} 1/(j+1)^2``."""
    if rows == 0:
        return like.new_zeros((0, cols))
    i = torch.arange(rows, device=like.device, dtype=like.dtype)[:, None]
    j = torch.arange(cols, device=like.device, dtype=like.dtype)[None, :]
    ring = torch.maximum((i - rows // 2).abs(), (j - cols // 2).abs())
    rings = max(rows // 2, cols // 2) + 1
    weights = 1.0 / torch.arange(1, rings + 1, device=like.device, dtype=like.dtype) ** 2
    tail = weights.flip(0).cumsum(0).flip(0)  # tail[k] = sum_{j >= k} w_j
    pattern = tail[ring.long()]
    return pattern / pattern.norm()


def _l2_pattern(size: int, like: torch.Tensor) -> torch.Tensor:
    """The L2 attack's unit-norm ``size x size`` pattern: rings of ``+`` over rings of ``-``."""
    half = size // 2
    pattern = torch.cat(
        [_ring_pattern(half, size, like), -_ring_pattern(size - half, size, like)], dim=0
    )
    return pattern / pattern.norm()


def _placed(
    pattern: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, transpose: torch.Tensor
) -> torch.Tensor:
    """``(N, 1, H, W)``: ``pattern`` (or its transpose, per sample) at each sample's window."""
    size = pattern.shape[0]
    both = torch.stack([pattern, pattern.T])
    r, c = rows.clamp(0, size - 1), cols.clamp(0, size - 1)
    return both[transpose[:, None, None], r[:, :, None], c[:, None, :]][:, None]


def _l2_norm(t: torch.Tensor, dims: tuple[int, ...] = (1, 2, 3)) -> torch.Tensor:
    return t.pow(2).sum(dims, keepdim=True).sqrt()


def _init(clean: torch.Tensor, settings: _Settings) -> torch.Tensor:
    """The starting point: vertical stripes of ``+-eps`` (L-inf) or a grid of L2 patterns."""
    n, channels, height, width = clean.shape
    gen = settings.generator
    if settings.norm == "linf":
        stripes = settings.eps * _signs((n, channels, 1, width), clean, gen)
        return (clean + stripes).clamp(0, 1)
    size = max(height // 5, 1)
    pattern = _l2_pattern(size, clean)
    delta = torch.zeros_like(clean)
    top0, left0 = (height - size * (height // size)) // 2, (width - size * (width // size)) // 2
    for top in range(top0, top0 + size * (height // size), size):
        for left in range(left0, left0 + size * (width // size), size):
            flip = torch.randint(0, 2, (n, 1, 1, 1), device=clean.device, generator=gen)
            oriented = torch.where(flip.bool(), pattern.T, pattern)
            cell = oriented * _signs((n, channels, 1, 1), clean, gen)
            delta[:, :, top : top + size, left : left + size] += cell
    return (clean + delta / _l2_norm(delta).clamp_min(_TINY) * settings.eps).clamp(0, 1)


def _linf_proposal(
    delta: torch.Tensor,
    eps: torch.Tensor,
    size: int,
    where: torch.Tensor,
    n: int,
    generator: Any,
) -> torch.Tensor:
    """Set one random square per sample to ``+-eps``, one sign per channel."""
    mask, _, _ = _window_masks(n, size, delta, where, generator)
    signs = _signs((n, delta.shape[1], 1, 1), delta, generator)
    return torch.where(mask, eps * signs[where], delta)


def _l2_proposal(
    delta: torch.Tensor,
    eps: torch.Tensor,
    size: int,
    where: torch.Tensor,
    n: int,
    generator: Any,
) -> torch.Tensor:
    """Move the mass of a second window into a new pattern in the first (Algorithm 3)."""
    channels = delta.shape[1]
    size = max(size, 3)
    size += 1 - size % 2  # odd, so the pattern has a centre
    if size > min(delta.shape[-2:]):
        size -= 2
    first_mask, rows, cols = _window_masks(n, size, delta, where, generator)
    second_mask, _, _ = _window_masks(n, size, delta, where, generator)
    transpose = torch.randint(0, 2, (n,), device=delta.device, generator=generator)
    signs = _signs((n, channels, 1, 1), delta, generator)
    first, second = first_mask.to(delta.dtype), second_mask.to(delta.dtype)
    pattern = _placed(_l2_pattern(size, delta), rows, cols, transpose[where]) * first
    image_norm = _l2_norm(delta)
    windows_norm = _l2_norm(delta * torch.maximum(first, second))
    old = delta * first
    new = pattern * signs[where] + old / _l2_norm(old, (2, 3)).clamp_min(_TINY)
    budget = ((eps**2 - image_norm**2).clamp_min(0) / channels + windows_norm**2).sqrt()
    new = new / _l2_norm(new, (2, 3)).clamp_min(_TINY) * budget
    moved = delta * (1 - first) * (1 - second) + new
    return moved / _l2_norm(moved).clamp_min(_TINY) * eps


def run_square(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: _Settings,
    *,
    active: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The random search on the ``active`` samples: ``(adversarial, fooled)``.

    All random draws are made for the whole batch, so a sample's result does not
    depend on which others are attacked with it. A sample stops at its first
    misclassifying query.
    """
    clean = images.detach()
    n = clean.shape[0]
    propose = _linf_proposal if settings.norm == "linf" else _l2_proposal
    adversarial = clean.clone()
    fooled = torch.zeros(n, dtype=torch.bool, device=clean.device)
    where = torch.arange(n, device=clean.device)
    if active is not None:
        where = where[active]
    with torch.no_grad():
        start = _init(clean, settings)
        clean, labels, eps, best = (t[where] for t in (clean, labels, settings.eps, start))
        if where.numel() == 0:
            return adversarial, fooled
        logits = model(best)
        check_logits(logits, best.shape[0], labels)
        best_objective = attack_objective(logits, labels, "margin", False)
        success = logits.argmax(1) != labels
        height, width = clean.shape[-2:]
        for iteration in range(settings.queries):
            if bool(success.any()):
                adversarial[where[success]] = best[success]
                fooled[where[success]] = True
                keep = ~success
                clean, labels, eps, best, best_objective, where = (
                    t[keep] for t in (clean, labels, eps, best, best_objective, where)
                )
            if iteration == settings.queries - 1 or where.numel() == 0:
                break
            size = square_size(iteration, settings.queries, settings.p_init, height, width)
            delta = propose(best - clean, eps, size, where, n, settings.generator)
            candidate = (clean + delta).clamp(0, 1)
            logits = model(candidate)
            objective = attack_objective(logits, labels, "margin", False)
            success = logits.argmax(1) != labels
            improved = (objective > best_objective) | success
            best = torch.where(improved[:, None, None, None], candidate, best)
            best_objective = torch.where(improved, objective, best_objective)
        adversarial[where] = best
    return adversarial, fooled


def square(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    norm: str = "linf",
    queries: int = 5000,
    p_init: float = 0.8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The Square attack (Andriushchenko et al., 2020): random search on the model's scores.

    It never takes a gradient, so it is the check against gradient masking: a model
    that Square breaks where gradient attacks fail hides its gradients. Each query
    changes one random square window of side ``square_size(...)`` (a share ``p`` of
    the pixels, ``p`` shrinking from ``p_init`` on the paper's schedule) and keeps the
    change when the margin ``max_{j != y} z_j - z_y`` grows. L-inf: the window is set to
    ``+-eps`` with one random sign per channel, starting from vertical stripes of
    ``+-eps``. L2: a ring pattern in the window takes the perturbation mass of a second
    window, the total norm staying at ``eps``, starting from a grid of such patterns.
    A sample stops at its first misclassifying query.

    Deviations from the reference code: window corners are drawn per sample over all
    positions (the reference shares one corner across the batch and never uses the last
    row/column), so a sample's result does not depend on its batch.

    Args:
        model: any callable ``images -> logits (N, K)``; only its outputs are used.
        images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64 true labels.
        eps: budget in pixel units, a float or a per-sample ``(N,)`` tensor.
        norm: ``"linf"`` or ``"l2"``.
        queries: model evaluations per sample, the starting point included (>= 1).
        p_init: initial share of pixels changed per query, in ``(0, 1]``.
        generator: source of all random choices; same state, same output.

    Returns:
        Detached adversarial images like ``images``: the first misclassifying query,
        else the highest-margin one; within ``eps`` and in ``[0, 1]``.

    Shape:
        images ``(N, C, H, W)``, labels ``(N,)``, output ``(N, C, H, W)``.

    Raises:
        TypeError: wrong kinds of arguments (as for :func:`~shapebias.attacks.pgd`).
        ValueError: bad shapes or ranges, unknown ``norm``, ``queries < 1``, ``p_init``
            outside ``(0, 1]``, a model that is or holds a
            :class:`~shapebias.models.StackedModels` (samples leave at their first
            misclassifying query: attack each member of ``stack.unstack()``).

    Example:
        >>> import torch
        >>> from shapebias.attacks import square
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(10).eval()
        >>> images, labels = torch.rand(2, 3, 32, 32), torch.tensor([0, 1])
        >>> adv = square(model, images, labels, eps=8 / 255, queries=20,
        ...              generator=torch.Generator().manual_seed(0))
        >>> bool((adv - images).abs().max() <= 8 / 255 + 1e-6)
        True

    References:
        Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient
        black-box adversarial attack via random search", ECCV 2020.
    """
    settings = _settings(
        model, images, labels, eps=eps, norm=norm, queries=queries, p_init=p_init,
        generator=generator,
    )  # fmt: skip
    warn_if_train_mode(model, "square")
    return run_square(model, images, labels, settings)[0]


def square_fooled(
    model: Any, images: torch.Tensor, labels: torch.Tensor, active: torch.Tensor, **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fooled, adversarial)``: which ``active`` samples a :func:`square` call with
    ``kwargs`` breaks (boolean ``(N,)``), and the images it returned."""
    settings = _settings(model, images, labels, **kwargs)
    adversarial, fooled = run_square(model, images, labels, settings, active=active)
    return fooled, adversarial


@dataclass(frozen=True)
class Square:
    """A configured :func:`square` attack, called as ``attack(model, images, labels)``.

    Example:
        >>> import torch
        >>> from shapebias.attacks import Square
        >>> from shapebias.models import small_cnn
        >>> attack = Square(eps=0.5, norm="l2", queries=10)
        >>> attack(small_cnn(10).eval(), torch.rand(2, 3, 32, 32), torch.tensor([1, 2])).shape
        torch.Size([2, 3, 32, 32])
    """

    eps: float | torch.Tensor
    norm: str = "linf"
    queries: int = 5000
    p_init: float = 0.8
    generator: torch.Generator | None = None

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return square(model, images, labels, **config_kwargs(self))
