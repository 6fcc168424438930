"""The exact projection onto a hyperplane intersected with the box ``[0, 1]^d`` (FAB's step)."""

from __future__ import annotations

import torch

__all__ = ["box_hyperplane_step"]

_TINY = 1e-12
NEWTON_STEPS = 3
"""Newton steps tried before sorting: on model gradients the box rarely binds near the
hyperplane, and the first or second step is already exact for nearly every row."""


def _solve_piecewise(
    slopes: torch.Tensor, breaks: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Per row, the smallest ``t >= 0`` with ``h(t) = sum_i slopes_i min(t, breaks_i) = target``.

    ``h`` is concave, non-decreasing and piecewise linear. Newton's method from
    ``t = 0`` never passes the root (a tangent of a concave function lies above it),
    and a step that crosses no kink lands on the root exactly (``h`` is linear there):
    such rows are done. The others (a kink crossed in each of ``NEWTON_STEPS`` steps, or
    no solution) are solved by sorting (:func:`_solve_by_sorting`).
    """
    t = torch.zeros_like(target)
    done = torch.zeros_like(target, dtype=torch.bool)
    for _ in range(NEWTON_STEPS):
        ahead = (breaks > t[:, None]) & (slopes > 0)
        slope = (slopes * ahead).sum(1)
        reached = (slopes * torch.minimum(breaks, t[:, None])).sum(1)
        new = t + ((target - reached) / slope.clamp_min(_TINY)).clamp_min(0)
        exact = (slope > 0) & ~(ahead & (breaks < new[:, None])).any(1)
        t = torch.where(done, t, new)
        done |= exact
        if bool(done.all()):
            return t
    rest = (~done).nonzero().squeeze(1)
    t[rest] = _solve_by_sorting(slopes[rest], breaks[rest], target[rest])
    return t


def _solve_by_sorting(
    slopes: torch.Tensor, breaks: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """:func:`_solve_piecewise` for any row, in ``O(d log d)``.

    Sort the kinks, evaluate ``h`` at each (``below_k + b_(k) * above_k``, with ``below_k``
    the sum of ``s_j b_j`` over the breaks before ``k`` and ``above_k`` the slopes from
    ``k`` on), find the segment where ``h`` reaches ``target`` and solve its linear
    equation. Where ``target`` exceeds ``h``'s maximum the largest break is returned.
    ``slopes``, ``breaks`` ``(M, d)`` non-negative; ``target`` ``(M,)`` non-negative.
    """
    ordered, order = breaks.sort(dim=1)
    weights = slopes.gather(1, order)
    mass = weights * ordered
    below = mass.cumsum(1) - mass
    above = weights.flip(1).cumsum(1).flip(1)
    at_breaks = below + ordered * above
    segment = (at_breaks < target[:, None]).sum(1, keepdim=True)
    inside = segment.clamp(max=breaks.shape[1] - 1)
    t = (target[:, None] - below.gather(1, inside)) / above.gather(1, inside).clamp_min(_TINY)
    low = torch.where(segment > 0, ordered.gather(1, (segment - 1).clamp(min=0)), 0.0)
    t = torch.minimum(t.clamp_min(0).maximum(low), ordered.gather(1, inside))
    return t.squeeze(1)


def box_hyperplane_step(
    points: torch.Tensor, w: torch.Tensor, change: torch.Tensor, norm: str
) -> torch.Tensor:
    """The smallest ``delta`` with ``<w, delta> = change`` and ``points + delta`` in ``[0, 1]``.

    The projection of FAB (Croce & Hein 2020, Sec. 3.1) of each point onto the
    hyperplane ``{z : <w, z - x> = change}`` intersected with the box, solved exactly
    per row. With ``change >= 0`` (else ``w`` flips sign) each coordinate can move by
    at most ``room_i`` (to 1 where ``w_i > 0``, to 0 where ``w_i < 0``) and the optimum
    is, for a scalar ``t`` that makes the constraint hold,

    - L-inf: ``delta_i = sign(w_i) min(t, room_i)`` (the largest ``<w, delta>`` in the
      ball of radius ``t``), ``<w, delta> = sum_i |w_i| min(t, room_i)``;
    - L2: ``delta_i = clip(t w_i)`` to the box (the KKT conditions),
      ``<w, delta> = sum_i w_i^2 min(t, room_i / |w_i|)``;

    both piecewise linear in ``t``, solved exactly per row by Newton steps (exact once a
    step crosses no kink) or else by sorting the kinks (``O(d log d)`` a row),
    vectorised over rows. Where no point of the box reaches the
    hyperplane, the step goes as far towards it as the box allows (``delta_i =
    sign(w_i) room_i``), as in the paper. Coordinates with ``w_i = 0`` do not move.

    Args:
        points: ``(M, d)`` points in ``[0, 1]``.
        w: ``(M, d)`` hyperplane normals.
        change: ``(M,)`` required ``<w, delta>``.
        norm: ``"linf"`` or ``"l2"``.

    Returns:
        ``delta`` ``(M, d)``, same dtype and device as ``points``.

    Example:
        >>> import torch
        >>> from shapebias.attacks._hyperplane import box_hyperplane_step
        >>> points, w = torch.tensor([[0.5, 0.9]]), torch.tensor([[1.0, 1.0]])
        >>> delta = box_hyperplane_step(points, w, torch.tensor([0.4]), "linf")
        >>> [round(v, 6) for v in delta[0].tolist()]  # the second pixel reaches the box
        [0.3, 0.1]
    """
    w = w * torch.where(change < 0, -1.0, 1.0).to(w.dtype)[:, None]
    target = change.abs()
    room = torch.where(w > 0, 1 - points, points)
    size = w.abs()
    if norm == "linf":
        t = _solve_piecewise(size, room, target)
        return w.sign() * torch.minimum(t[:, None], room)
    breaks = torch.where(size > 0, room / size.clamp_min(_TINY), 0.0)
    t = _solve_piecewise(size * size, breaks, target)
    return w.sign() * torch.minimum(t[:, None] * size, room)
