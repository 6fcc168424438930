"""The low/high-band eps index: which frequency band fools a model on a smaller budget.

For every image, a per-sample bisection over a grid of budgets finds the smallest one at
which band-limited PGD (:func:`shapebias.attacks.pgd` with ``band=``) fools the model,
once in a low band and once in a high band. The index compares the two.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import torch
from tqdm import tqdm

from shapebias._batches import batch_count, iterate_batches
from shapebias._spectrum import checked_band_keep
from shapebias._validation import (
    check_bool,
    check_choice,
    check_int,
    check_logits,
    check_model,
    check_square,
)
from shapebias.attacks import PGD
from shapebias.models import check_unstacked, warn_if_train_mode

__all__ = ["BandEpsIndex", "band_eps_index", "default_eps_grid"]

NORMS = ("linf", "l2")
"""The norms the index searches in: those with a default budget grid (:func:`default_eps_grid`)."""


@dataclasses.dataclass(frozen=True)
class BandEpsIndex:
    """Result of :func:`band_eps_index`.

    Attributes:
        index: median over the evaluated images of ``log(eps_high / eps_low)`` (for an
            even count, the midpoint of the two middle values): positive when the low
            band fools the model on a smaller budget. ``+inf``/``-inf`` when over half
            the evaluated images were fooled in one band only; NaN when none was
            evaluated.
        low_first: share of the evaluated images fooled on a strictly smaller budget in
            the low band than in the high band, ties counted half.
        evaluated: images right on clean images and fooled in at least one band.
        total: number of images.
        clean_correct: images classified right (the only ones attacked).
        censored_low: clean-right images the low band never fooled on the grid.
        censored_high: likewise for the high band.
        eps_low: ``(total,)`` float64 on the CPU, in data order: the smallest grid budget
            at which the low-band attack fooled the model; ``inf`` if none did (censored
            at the top of the grid), NaN for images wrong on clean images.
        eps_high: likewise for the high band.
        low_band: the low band ``(low, high)``, cycles per image.
        high_band: the high band.
        eps_grid: the budgets searched, ascending.
    """

    index: float
    low_first: float
    evaluated: int
    total: int
    clean_correct: int
    censored_low: int
    censored_high: int
    eps_low: torch.Tensor = dataclasses.field(compare=False, repr=False)
    eps_high: torch.Tensor = dataclasses.field(compare=False, repr=False)
    low_band: tuple[float, float]
    high_band: tuple[float, float]
    eps_grid: tuple[float, ...]


def default_eps_grid(norm: str) -> tuple[float, ...]:
    """The default budgets of :func:`band_eps_index`: geometric grids in pixel units.

    ``"l2"``: 19 values ``10 ** (k / 6)``, ``k = -12 .. 6`` (0.01 to 10, six per decade);
    ``"linf"``: 17 values ``2 ** (k / 2)``, ``k = -20 .. -4`` (1/1024 to 1/4, two per
    octave). A bisection needs ``ceil(log2(G + 1))`` attack rounds, 5 for both.

    Example:
        >>> from shapebias.frequency import default_eps_grid
        >>> grid = default_eps_grid("l2")
        >>> len(grid), round(grid[0], 6), round(grid[-1], 6)
        (19, 0.01, 10.0)
    """
    check_choice(norm, "norm", NORMS)
    if norm == "l2":
        return tuple(10 ** (k / 6) for k in range(-12, 7))
    return tuple(2 ** (k / 2) for k in range(-20, -3))


def _check_grid(eps_grid: Any, norm: str) -> tuple[float, ...]:
    if eps_grid is None:
        return default_eps_grid(norm)
    values = eps_grid.tolist() if isinstance(eps_grid, torch.Tensor) else eps_grid
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(
            "eps_grid must be a 1-D list, tuple or tensor of budgets, got "
            f"{type(eps_grid).__name__}."
        )
    grid = tuple(float(v) for v in values)
    if not grid or not all(math.isfinite(v) and v > 0 for v in grid):
        raise ValueError(f"eps_grid must hold finite budgets > 0, got {list(grid)}.")
    if any(b <= a for a, b in itertools.pairwise(grid)):
        raise ValueError(
            f"eps_grid must be strictly increasing, got {list(grid)}. Sort it: sorted(set(grid))."
        )
    if norm == "linf" and grid[-1] > 1:
        raise ValueError(
            f"eps_grid is in [0, 1] pixel units for norm='linf', got a largest budget of "
            f"{grid[-1]:g}. Did you mean {grid[-1]:g}/255?"
        )
    return grid


def _smallest_fooling(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    correct: torch.Tensor,
    grid: torch.Tensor,
    attack: PGD,
) -> torch.Tensor:
    """Per image, the index of the smallest grid budget that fools the model (G: none).

    A vectorised bisection: ``below`` (a grid index known not to fool, ``-1`` at the
    start) and ``above`` (one known to fool, ``G`` at the start) close in, each round
    attacking every open image at its own midpoint budget in one batched early-stopping
    run (:meth:`PGD.fooled <shapebias.attacks.PGD.fooled>` with an ``active`` mask, as in
    :func:`~shapebias.attacks.robust_accuracy`). Exact if fooling is monotone in eps.
    """
    count = grid.numel()
    below = torch.full_like(labels, -1)
    above = torch.full_like(labels, count)
    while True:
        open_ = correct & (above - below > 1)
        if not bool(open_.any()):
            return above
        middle = torch.div(below + above, 2, rounding_mode="floor").clamp(0, count - 1)
        eps = grid[middle]
        at_middle = dataclasses.replace(attack, eps=eps, early_stop=True)
        fooled = at_middle.fooled(model, images, labels, active=open_)
        above = torch.where(open_ & fooled, middle, above)
        below = torch.where(open_ & ~fooled, middle, below)


def _budgets(found: torch.Tensor, grid: tuple[float, ...], correct: torch.Tensor) -> torch.Tensor:
    """Grid indices to budgets in float64 on the CPU: ``inf`` for none, NaN if wrong clean."""
    eps = torch.tensor([*grid, math.inf], dtype=torch.float64)[found.cpu()]
    return torch.where(correct.cpu(), eps, torch.tensor(math.nan, dtype=torch.float64))


def _summary(eps_low: torch.Tensor, eps_high: torch.Tensor) -> tuple[float, float, int]:
    """``(index, low_first, evaluated)`` over images fooled in at least one band."""
    evaluated = eps_low.isfinite() | eps_high.isfinite()
    low, high = eps_low[evaluated], eps_high[evaluated]
    if low.numel() == 0:
        return math.nan, math.nan, 0
    ratio = (high.log() - low.log()).sort().values
    below, above = ratio[(ratio.numel() - 1) // 2], ratio[ratio.numel() // 2]
    index = float(below) if bool(below == above) else float((below + above) / 2)
    low_first = float(((low < high).double() + 0.5 * (low == high).double()).mean())
    return index, low_first, int(low.numel())


def band_eps_index(
    model: Any,
    data: Any,
    *,
    low_band: tuple[float, float],
    high_band: tuple[float, float],
    norm: str = "l2",
    eps_grid: Any = None,
    steps: int = 20,
    random_start: bool = True,
    batch_size: int = 256,
    progress: bool = True,
    generator: torch.Generator | None = None,
) -> BandEpsIndex:
    """A stimulus-free shape-vs-texture index: the budget to fool through low vs high bands.

    For every image the model classifies right, and for each band, the smallest budget
    ``eps`` of ``eps_grid`` at which band-limited PGD (:func:`~shapebias.attacks.pgd`
    with ``band=``, early stopping) fools it: ``eps_low`` and ``eps_high``. The grid is
    searched by a per-image bisection, vectorised over the batch (``ceil(log2(G + 1))``
    batched attacks per band, each image at its own budget). The one-number summary is

    ``index = median over images of log(eps_high / eps_low)``

    over the images fooled in at least one band (a band that never fooled an image on
    the grid gives ``eps = inf``, so that image counts as ``+-inf``, on the right side
    of the median). ``index > 0``: the model is fooled on a smaller budget through low
    frequencies, the shape side of the Fourier picture (Yin et al. 2019: adversarial
    training makes models more sensitive to low and less to high frequencies);
    ``index < 0``: through high frequencies, the texture side. ``low_first`` is the
    share of images fooled on a strictly smaller budget in the low band (ties half).

    Caveats, to report beside the number:

    - *Resolution and censoring.* Each ``eps`` is the smallest grid budget that fooled
      (the true minimum lies between it and the grid value below it); images never
      fooled on the grid are censored at its top (``inf``), counted in
      ``censored_low``/``censored_high``. Extend the grid if many are.
    - *Attack strength, not robustness.* PGD gives an upper bound on the minimal
      budget; bisection assumes fooling is monotone in ``eps``, which a weak or
      gradient-masked attack breaks. Cross-check with more ``steps``.
    - *Band sizes and spectra.* Bands hold different numbers of frequencies, and with
      the same L2 budget a wide band spreads it thinner; natural images have most of
      their energy at low frequencies, so a low-band perturbation of a given norm is
      relatively smaller against the image. Compare models on the same bands, grid,
      norm and data, not the index against zero alone.
    - *Clipping.* The attack keeps the perturbation in its band exactly, except where
      the clip to ``[0, 1]`` moves a pixel (:func:`~shapebias.attacks.pgd`'s ``band``).

    Args:
        model: callable ``images -> logits``, normally in eval mode.
        data: a DataLoader (or iterable) of ``(images, labels)``, a Dataset or a tensor
            pair; square images.
        low_band: ``(low, high)`` in cycles per image (:func:`band_mask`).
        high_band: likewise; usually ``(f, math.inf)`` for the band above ``f``.
        norm: ``"l2"`` (default: the band projection is then exact) or ``"linf"``.
        eps_grid: strictly increasing positive budgets; default
            :func:`default_eps_grid` of ``norm``.
        steps: PGD steps per attack (step size ``2.5 * eps / steps``).
        random_start: PGD's random start (drawn from ``generator``).
        batch_size: batch size for a Dataset or a tensor pair.
        progress: show a tqdm progress bar over batches.
        generator: source of the random starts; same state, same result.

    Returns:
        A :class:`BandEpsIndex` with the index, the per-image budgets and counts.

    Raises:
        TypeError: ``model`` not callable or a
            :class:`~shapebias.models.StackedModels`, a band not a pair of numbers,
            ``eps_grid`` not a sequence of numbers, bad flags or ``data``.
        ValueError: non-square images, a band outside ``[0, Nyquist]``, ``low >= high``
            or empty, a grid not positive and increasing (or above 1 for L-inf), empty
            ``data``, or any input check of :func:`~shapebias.attacks.pgd`.

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import math, torch
        >>> from shapebias.frequency import band_eps_index
        >>> from shapebias.models import small_cnn
        >>> data = (torch.rand(4, 3, 16, 16), torch.randint(0, 3, (4,)))
        >>> result = band_eps_index(
        ...     small_cnn(3).eval(), data, low_band=(0, 4), high_band=(4, math.inf),
        ...     steps=3, progress=False, generator=torch.Generator().manual_seed(0))
        >>> result.eps_low.shape, 0.0 <= result.low_first <= 1.0 or result.evaluated == 0
        (torch.Size([4]), True)

    References:
        Yin et al., "A Fourier Perspective on Model Robustness in Computer Vision",
        NeurIPS 2019.
    """
    check_model(model)
    check_unstacked(model, "band_eps_index", "its bisection attacks a changing subset of images")
    check_choice(norm, "norm", NORMS)
    grid_values = _check_grid(eps_grid, norm)
    check_int(steps, "steps", low=1)
    check_int(batch_size, "batch_size", low=1)
    check_bool(random_start, "random_start")
    check_bool(progress, "progress")
    warn_if_train_mode(model, "band_eps_index")
    parts: dict[str, list[torch.Tensor]] = {"low": [], "high": [], "correct": []}
    batches = tqdm(
        iterate_batches(data, batch_size),
        total=batch_count(data, batch_size),
        desc="band eps index",
        disable=not progress,
        leave=False,
    )
    for images, labels in batches:
        size = check_square(images, "images", "band_eps_index")
        checked_band_keep(low_band, size, images.device, "low_band")
        checked_band_keep(high_band, size, images.device, "high_band")
        with torch.no_grad():
            logits = model(images)
        check_logits(logits, images.shape[0], labels)
        correct = logits.argmax(1) == labels
        grid = torch.tensor(grid_values, dtype=images.dtype, device=images.device)
        for name, band in (("low", low_band), ("high", high_band)):
            attack = PGD(
                eps=0.0,
                steps=steps,
                norm=norm,
                random_start=random_start,
                generator=generator,
                band=band,
            )
            found = _smallest_fooling(model, images, labels, correct, grid, attack)
            parts[name].append(_budgets(found, grid_values, correct))
        parts["correct"].append(correct.cpu())
    if not parts["correct"]:
        raise ValueError("data must hold at least one sample, got an empty dataset.")
    eps_low, eps_high = torch.cat(parts["low"]), torch.cat(parts["high"])
    correct_all = torch.cat(parts["correct"])
    index, low_first, evaluated = _summary(eps_low[correct_all], eps_high[correct_all])
    return BandEpsIndex(
        index=index,
        low_first=low_first,
        evaluated=evaluated,
        total=int(correct_all.numel()),
        clean_correct=int(correct_all.sum()),
        censored_low=int(eps_low[correct_all].isinf().sum()),
        censored_high=int(eps_high[correct_all].isinf().sum()),
        eps_low=eps_low,
        eps_high=eps_high,
        low_band=(float(low_band[0]), float(low_band[1])),
        high_band=(float(high_band[0]), float(high_band[1])),
        eps_grid=grid_values,
    )
