"""Seed-paired comparisons of two model sets: crossed-design intervals, Holm, verdicts.

A comparison "does adversarial training (AT) change statistic X?" has three sources of
noise: which seed a model was trained with, which test images it was measured on, and
how the two interact. Each AT model is fine-tuned from (or trained beside) the baseline
model of its own seed, so the comparison is made per seed, ``AT_s - baseline_s``, and
summarised over seeds. Every seed is evaluated on the same test images: seeds x images is
a *crossed* design, in which an image's effect on the difference is shared by every seed.
The default interval (:mod:`shapebias.metrics._crossed`) decomposes the per-(seed, image)
differences into seed, image and residual variance and builds a generalized pivotal
interval from their mean squares; the earlier nested bootstrap (seeds, then images
independently within each seed) is kept as ``method="nested bootstrap"`` for model sets
that really were tested on independent test sets per seed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from numbers import Real
from typing import Any, Literal

import numpy as np
import torch

from shapebias._seeds import derive_seed
from shapebias._validation import check_bool, check_choice, check_open_unit, check_real
from shapebias.metrics._bootstrap import Estimate, estimate
from shapebias.metrics._checks import check_bootstrap
from shapebias.metrics._crossed import (
    decompose,
    generalized_interval,
    generalized_variances,
    mean_squares,
    pseudo_values,
    sign_flip_p,
    t_interval,
)

__all__ = [
    "AT_DID_NOT_FIT",
    "CANNOT_DISCRIMINATE",
    "HOLDS",
    "IMAGES_ONLY",
    "METHODS",
    "NO_DIFFERENCE",
    "ONE_SEED",
    "REVERSED",
    "VERDICTS",
    "Holm",
    "PairedDifference",
    "holm",
    "paired_difference",
    "verdict",
]

HOLDS = "holds"
REVERSED = "reversed"
NO_DIFFERENCE = "no difference"
CANNOT_DISCRIMINATE = "cannot discriminate"
AT_DID_NOT_FIT = "AT did not fit"
VERDICTS = (HOLDS, REVERSED, NO_DIFFERENCE, CANNOT_DISCRIMINATE, AT_DID_NOT_FIT)
"""Every verdict :func:`verdict` returns."""

# Bootstrap weights are drawn in chunks of at most this many entries (bounds memory).
_CHUNK = 1 << 22


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """Result of :func:`paired_difference`: ``AT - baseline``, paired by seed.

    Attributes:
        difference: mean over seeds of ``at[s] - baseline[s]``, with the interval of
            ``method``.
        at: the statistic of each AT model, one per seed.
        baseline: the statistic of each baseline model, one per seed.
        lower: number of seeds where the AT model's value is below its baseline's.
        higher: number of seeds where it is above.
        p_value: two-sided p-value of "no difference", consistent with the interval
            (``p <= 1 - confidence`` exactly when the interval excludes 0; for the nested
            bootstrap, twice the smaller share of replicates on either side of 0). NaN
            without an interval. Feed several to :func:`holm`.
        confidence: coverage of the interval.
        num_bootstrap: bootstrap replicates (0 for the t-based methods).
        method: ``"crossed"``, ``"images"`` or ``"nested bootstrap"`` (see
            :func:`paired_difference`).
        standard_error: estimated standard error of the difference (NaN for the nested
            bootstrap).
        degrees_of_freedom: degrees of freedom of ``standard_error``: Satterthwaite's for
            the crossed method (descriptive; the interval is the generalized pivot), the
            t interval's ``N - 1`` for the image-level one (NaN for the nested bootstrap).
        sign_flip_p: with 6 seeds or more, the exact two-sided sign-flip permutation
            p-value of the per-seed differences, a robustness check that covers training
            randomness for this test set (NaN with fewer seeds).
        note: what the interval does not cover, to show beside it in a table: ``"one
            seed: training randomness not covered"`` for a single seed (e.g. a
            downloaded checkpoint pair), ``""`` when it covers seeds and images.

    Example:
        >>> from shapebias.metrics import Estimate, PairedDifference
        >>> d = PairedDifference(Estimate(-0.1, -0.2, -0.05), (0.5, 0.6), (0.6, 0.7),
        ...                      2, 0, 0.01, 0.95, 0)
        >>> d.num_seeds, d.sign_count
        (2, '2/2 lower')
    """

    difference: Estimate
    at: tuple[float, ...]
    baseline: tuple[float, ...]
    lower: int
    higher: int
    p_value: float
    confidence: float
    num_bootstrap: int
    method: str = "crossed"
    standard_error: float = math.nan
    degrees_of_freedom: float = math.nan
    sign_flip_p: float = math.nan
    note: str = ""

    @property
    def num_seeds(self) -> int:
        """Number of seed pairs."""
        return len(self.at)

    @property
    def per_seed(self) -> tuple[float, ...]:
        """``at[s] - baseline[s]`` for every seed."""
        return tuple(a - b for a, b in zip(self.at, self.baseline, strict=True))

    @property
    def sign_count(self) -> str:
        """``"3/3 lower"``: how many seeds moved in the more common direction.

        A tie reads ``"1/2 higher, 1/2 lower"``; no seed moving reads ``"0/2 changed"``.
        """
        n = self.num_seeds
        if self.higher > self.lower:
            return f"{self.higher}/{n} higher"
        if self.lower > self.higher:
            return f"{self.lower}/{n} lower"
        if self.lower == 0:
            return f"0/{n} changed"
        return f"{self.higher}/{n} higher, {self.lower}/{n} lower"

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers (NaN and infinity as ``None``)."""

        def plain(number: float) -> float | None:
            return None if not math.isfinite(number) else number

        return {
            "difference": self.difference.to_dict(),
            "at": list(self.at),
            "baseline": list(self.baseline),
            "per_seed": list(self.per_seed),
            "lower": self.lower,
            "higher": self.higher,
            "sign_count": self.sign_count,
            "p_value": plain(self.p_value),
            "confidence": self.confidence,
            "num_bootstrap": self.num_bootstrap,
            "method": self.method,
            "standard_error": plain(self.standard_error),
            "degrees_of_freedom": plain(self.degrees_of_freedom),
            "sign_flip_p": plain(self.sign_flip_p),
            "note": self.note,
        }


METHODS = ("auto", "crossed", "images", "nested bootstrap")
"""The interval methods :func:`paired_difference` accepts."""

ONE_SEED = "one seed: training randomness not covered"
IMAGES_ONLY = "images only: training randomness not covered"
_MIN_SIGN_FLIP_SEEDS = 6


def paired_difference(
    at: Sequence[Any],
    baseline: Sequence[Any],
    *,
    at_denominator: Sequence[Any] | None = None,
    baseline_denominator: Sequence[Any] | None = None,
    confidence: float = 0.95,
    num_bootstrap: int = 2000,
    seed: int = 0,
    method: str = "auto",
) -> PairedDifference:
    """Seed-paired difference ``AT - baseline`` of a per-item statistic, with its interval.

    For every seed ``s`` the statistic of a model is ``sum(values) / sum(denominator)``
    over its test items: with no denominator, the mean of the per-item values (accuracy
    from 0/1 outcomes, mean edge alignment of saliency maps); with one, a ratio such as
    relative accuracy (values: right on clean and on the distorted copy, denominator:
    right on clean) or shape bias (values: shape decisions, denominator: shape or texture
    decisions). The result is the mean over seeds of ``at_s - baseline_s``.

    Methods (``method``):

    * ``"crossed"``: every seed was evaluated on the *same* test items, in the same order
      (seeds x images crossed, as the paper's protocol runs). The per-(seed, item) paired
      differences (for a ratio, their delta-method pseudo-values) are decomposed into
      seed, shared-image and residual variance. The interval is the generalized pivot
      ``mean - Z sqrt(V*)``, where ``V*`` redraws the variance of the mean from the
      mean squares' chi-square distributions (8192 stratified draws, their order from
      ``seed``); the p-value is the pivot's two-sided tail at 0, so ``p <= 1 -
      confidence`` exactly when the interval excludes 0. With seed variation alone it
      is the t interval over seeds. It covers training randomness and the sampling of
      the one test set, also with 2 or 3 seeds (docs/guide/metrics.rst shows the
      simulation). Needs 2 seeds.
    * ``"images"``: the trained models are held fixed; only the test items are sampled
      (a paired t over items of the mean over seeds). The only interval a single seed
      allows; its result carries ``note`` ``"one seed: training randomness not
      covered"`` (or ``"images only: ..."`` with several seeds).
    * ``"auto"`` (default): ``"crossed"`` with 2 seeds or more, ``"images"`` with one.
    * ``"nested bootstrap"``: the earlier percentile bootstrap that resamples seeds, then
      items independently within each drawn seed. It assumes an independent test set per
      seed: on one shared test set it divides the image variance by the number of seeds,
      and with few seeds its seed level is too narrow (coverage 0.6-0.75 at nominal 0.9
      in the simulation). Seeds may have different numbers of items.

    With 6 seeds or more, ``sign_flip_p`` adds the exact sign-flip permutation p-value of
    the per-seed differences as a robustness check.

    Args:
        at: per seed, the per-item values of the AT model (1-D tensors or arrays, bool or
            real, finite).
        baseline: per seed, the baseline model's values on the same items, in the same
            order (same length as ``at[s]``).
        at_denominator: per seed, per-item non-negative weights of the ratio (None: the
            statistic is a mean).
        baseline_denominator: the same for the baseline (required with
            ``at_denominator``).
        confidence: coverage of the interval, in ``(0, 1)``.
        num_bootstrap: bootstrap replicates of ``"nested bootstrap"`` (0: no interval and
            NaN p-value there); ignored by the t-based methods.
        seed: seed of the nested bootstrap's generator, of the order of the crossed
            interval's stratified draws and of the Monte-Carlo sign-flip test above 16
            seeds (same seed, same result).
        method: ``"auto"``, ``"crossed"``, ``"images"`` or ``"nested bootstrap"``.

    Returns:
        A :class:`PairedDifference`.

    Shape:
        ``at[s]``, ``baseline[s]`` and their denominators: ``(N_s,)``; the crossed and
        image-level methods need the same ``N`` (the same items) in every seed.

    Raises:
        TypeError: a per-seed entry is not a tensor or array, or the arguments are not
            sequences.
        ValueError: no seeds, different numbers of seeds or of items, empty, non-finite
            or negative denominators, a seed whose denominator sums to 0, ``confidence``
            outside ``(0, 1)``, bad bootstrap settings, an unknown ``method``,
            ``"crossed"`` with one seed, or seeds with different numbers of items for
            the crossed or image-level method.

    Example:
        >>> import torch
        >>> from shapebias.metrics import paired_difference
        >>> at = [torch.tensor([1, 0, 0, 1]), torch.tensor([0, 0, 1, 0])]
        >>> base = [torch.tensor([1, 1, 0, 1]), torch.tensor([1, 0, 1, 1])]
        >>> d = paired_difference(at, base)
        >>> round(d.difference.value, 3), d.sign_count, d.method
        (-0.375, '2/2 lower', 'crossed')
        >>> paired_difference(at[:1], base[:1]).note
        'one seed: training randomness not covered'
    """
    check_bootstrap(confidence, num_bootstrap, seed)
    check_choice(method, "method", METHODS)
    at_values = _per_seed(at, "at")
    base_values = _per_seed(baseline, "baseline", like=at_values, like_name="at")
    if (at_denominator is None) != (baseline_denominator is None):
        raise ValueError(
            "at_denominator and baseline_denominator must be given together (a ratio "
            "statistic for both model sets) or both be None (a mean), got only "
            + ("at_denominator." if baseline_denominator is None else "baseline_denominator.")
        )
    if at_denominator is None:
        at_den = [np.ones_like(v) for v in at_values]
        base_den = [np.ones_like(v) for v in base_values]
    else:
        at_den = _denominators(at_denominator, "at_denominator", at_values)
        base_den = _denominators(baseline_denominator, "baseline_denominator", at_values)
    at_stat = [float(v.sum() / d.sum()) for v, d in zip(at_values, at_den, strict=True)]
    base_stat = [float(v.sum() / d.sum()) for v, d in zip(base_values, base_den, strict=True)]
    differences = np.subtract(at_stat, base_stat)
    observed = float(differences.mean())
    if method == "auto":
        method = "crossed" if len(at_values) > 1 else "images"
    if method == "nested bootstrap":
        replicates = _hierarchical_replicates(
            [
                (a, ad, b, bd)
                for a, ad, b, bd in zip(at_values, at_den, base_values, base_den, strict=True)
            ],
            num_bootstrap,
            seed,
        )
        interval = estimate(
            lambda columns: columns[:, 0], np.array([observed]), replicates[:, None], confidence
        )
        p, standard_error, df, note = _two_sided_p(replicates), math.nan, math.nan, ""
    else:
        if method == "crossed" and len(at_values) < 2:
            raise ValueError(
                f"method='crossed' needs at least 2 seeds (a seed-level interval), got "
                f"{len(at_values)}. For one seed (e.g. a downloaded checkpoint pair) use "
                "method='images' or 'auto': an image-level interval that does not cover "
                "training randomness."
            )
        _require_shared_items(at_values, method)
        table = pseudo_values(np.stack(at_values), np.stack(at_den)) - pseudo_values(
            np.stack(base_values), np.stack(base_den)
        )
        parts = decompose(table, seeds_random=method == "crossed")
        standard_error, df = parts.standard_error, parts.degrees_of_freedom
        if method == "crossed":
            _, *squares = mean_squares(table[None])
            variances = generalized_variances(
                (squares[0], squares[1], squares[2]),
                *table.shape,
                seed=derive_seed(seed, "crossed pivot"),
            )[0]
            low, high, p = generalized_interval(observed, variances, float(confidence))
        else:
            low, high, p = t_interval(observed, standard_error, df, float(confidence))
        interval = Estimate(observed, low, high)
        note = "" if method == "crossed" else ONE_SEED if len(at_values) == 1 else IMAGES_ONLY
    return PairedDifference(
        difference=interval,
        at=tuple(at_stat),
        baseline=tuple(base_stat),
        lower=int((differences < 0).sum()),
        higher=int((differences > 0).sum()),
        p_value=p,
        confidence=float(confidence),
        num_bootstrap=int(num_bootstrap) if method == "nested bootstrap" else 0,
        method=method,
        standard_error=standard_error,
        degrees_of_freedom=df,
        sign_flip_p=(
            sign_flip_p(differences, seed=derive_seed(seed, "sign flip"))
            if len(differences) >= _MIN_SIGN_FLIP_SEEDS
            else math.nan
        ),
        note=note,
    )


def _require_shared_items(values: list[np.ndarray], method: str) -> None:
    sizes = [array.size for array in values]
    if len(set(sizes)) > 1:
        raise ValueError(
            f"at must hold the same test items in every seed for method={method!r} (seeds "
            f"x images crossed), got {sizes} items per seed. Evaluate every seed on the "
            "same items in the same order (drop an item that is missing in one seed from "
            "every seed), or use method='nested bootstrap' if each seed had its own "
            "independent test set."
        )


def _per_seed(
    values: Any, name: str, *, like: list[np.ndarray] | None = None, like_name: str = ""
) -> list[np.ndarray]:
    """Check a per-seed sequence of 1-D finite per-item values; return float64 arrays."""
    if isinstance(values, (torch.Tensor, np.ndarray, str)) or not isinstance(values, Sequence):
        raise TypeError(
            f"{name} must be a list with one 1-D tensor of per-item values per seed, got "
            f"{type(values).__name__}. For one seed, pass [values]; for a (seeds, items) "
            f"tensor, pass list(tensor)."
        )
    if not values:
        raise ValueError(f"{name} must hold at least one seed, got an empty list.")
    if like is not None and len(values) != len(like):
        raise ValueError(
            f"{name} must hold one entry per seed like {like_name} ({len(like)} seeds), got "
            f"{len(values)}. Pair every AT model with the baseline of its own seed."
        )
    arrays = []
    for index, item in enumerate(values):
        label = f"{name}[{index}]"
        if isinstance(item, torch.Tensor):
            item = item.detach().cpu().numpy()
        if not isinstance(item, np.ndarray):
            raise TypeError(f"{label} must be a 1-D tensor or array, got {type(item).__name__}.")
        if item.ndim != 1 or item.size == 0:
            raise ValueError(
                f"{label} must be a non-empty 1-D tensor, one value per test item, got shape "
                f"{tuple(item.shape)}."
            )
        if item.dtype.kind not in "biuf":
            raise TypeError(f"{label} must hold bool or real numbers, got dtype {item.dtype}.")
        array = item.astype(np.float64)
        if not np.isfinite(array).all():
            raise ValueError(
                f"{label} holds NaN or infinite values. Drop those items from both models "
                "of the seed (e.g. an all-zero saliency map) before comparing."
            )
        if like is not None and array.shape != like[index].shape:
            raise ValueError(
                f"{label} must have one value per item of {like_name}[{index}] "
                f"({like[index].size}), got {array.size}. Evaluate both models on the same "
                "test items, in the same order."
            )
        arrays.append(array)
    return arrays


def _denominators(values: Any, name: str, like: list[np.ndarray]) -> list[np.ndarray]:
    arrays = _per_seed(values, name, like=like, like_name="at")
    for index, array in enumerate(arrays):
        if (array < 0).any() or array.sum() == 0:
            raise ValueError(
                f"{name}[{index}] must be non-negative with a positive sum (the statistic's "
                f"denominator), got sum {array.sum():g} and minimum {array.min():g}. A seed "
                "with nothing in the denominator has no value; leave it out of both lists."
            )
    return arrays


def _hierarchical_replicates(
    seeds: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    num_bootstrap: int,
    seed: int,
) -> np.ndarray:
    """``(B,)`` replicates: resample seeds, then every drawn seed's items, independently."""
    rng = np.random.default_rng(derive_seed(seed, "paired seeds"))
    draws = rng.integers(len(seeds), size=(num_bootstrap, len(seeds)))
    per_draw = np.empty(draws.shape, dtype=np.float64)
    for index, (at, at_den, base, base_den) in enumerate(seeds):
        where = draws == index
        item_rng = np.random.default_rng(derive_seed(seed, "paired items", index))
        per_draw[where] = _item_replicates(
            item_rng, np.stack([at, at_den, base, base_den]), int(where.sum())
        )
    with np.errstate(invalid="ignore"):
        return per_draw.mean(axis=1)


def _item_replicates(rng: np.random.Generator, columns: np.ndarray, count: int) -> np.ndarray:
    """``count`` bootstrap values of ``at - baseline`` over one seed's resampled items.

    ``columns`` is ``(4, N)``: AT values, AT denominators, baseline values, baseline
    denominators. Resampling N items with replacement = multinomial item weights.
    """
    items = columns.shape[1]
    chunk = max(1, _CHUNK // items)
    out = np.empty(count, dtype=np.float64)
    uniform = np.full(items, 1.0 / items)
    for start in range(0, count, chunk):
        weights = rng.multinomial(items, uniform, size=min(chunk, count - start))
        sums = weights.astype(np.float64) @ columns.T  # (chunk, 4)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + len(weights)] = sums[:, 0] / sums[:, 1] - sums[:, 2] / sums[:, 3]
    return out


def _two_sided_p(replicates: np.ndarray) -> float:
    replicates = replicates[~np.isnan(replicates)]
    if replicates.size == 0:
        return math.nan
    below = int((replicates <= 0).sum()) + 1
    above = int((replicates >= 0).sum()) + 1
    return min(1.0, 2.0 * min(below, above) / (replicates.size + 1))


@dataclasses.dataclass(frozen=True)
class Holm:
    """Result of :func:`holm`.

    Attributes:
        adjusted: Holm-adjusted p-values, in the input's order (NaN where the input was
            NaN: not part of the family).
        rejected: per input, whether its null hypothesis is rejected at ``alpha``.
        alpha: the family-wise error rate.
    """

    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]
    alpha: float


def holm(p_values: Sequence[float], *, alpha: float = 0.05) -> Holm:
    """Holm-Bonferroni step-down adjustment: family-wise error control over several claims.

    With the ``m`` p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted
    value of the ``i``-th is ``max_{j <= i} min(1, (m - j + 1) p_(j))``; a claim is
    rejected when its adjusted value is ``<= alpha``. This controls the chance of any
    false rejection among the ``m`` at ``alpha`` under any dependence between them. NaN
    entries (claims that were not tested, e.g. "cannot discriminate") are left out of
    the family: they do not count in ``m`` and are never rejected.

    Args:
        p_values: the claims' unadjusted p-values, each in ``[0, 1]`` or NaN.
        alpha: the family-wise error rate, in ``(0, 1)``.

    Returns:
        A :class:`Holm` with the adjusted p-values and the rejections, in input order.

    Raises:
        TypeError: ``p_values`` is not a sequence of real numbers.
        ValueError: a p-value outside ``[0, 1]``, or ``alpha`` outside ``(0, 1)``.

    References:
        Holm, "A simple sequentially rejective multiple test procedure", Scandinavian
        Journal of Statistics 6 (1979).

    Example:
        >>> from shapebias.metrics import holm
        >>> result = holm([0.01, 0.04, 0.03, 0.005])
        >>> [round(p, 3) for p in result.adjusted], result.rejected
        ([0.03, 0.06, 0.06, 0.02], (True, False, False, True))
    """
    _check_alpha(alpha)
    if isinstance(p_values, (str, bytes)) or not isinstance(p_values, (Sequence, np.ndarray)):
        raise TypeError(f"p_values must be a list of p-values, got {type(p_values).__name__}.")
    array = np.array(
        [_check_p(p, f"p_values[{index}]") for index, p in enumerate(p_values)], dtype=np.float64
    )
    tested = np.flatnonzero(~np.isnan(array))
    order = tested[np.argsort(array[tested], kind="stable")]
    scaled = np.minimum(1.0, (len(order) - np.arange(len(order))) * array[order])
    adjusted = np.full(len(array), math.nan)
    adjusted[order] = np.maximum.accumulate(scaled) if len(order) else scaled
    rejected = tuple(bool(p <= alpha) for p in adjusted)  # NaN <= alpha is False
    return Holm(tuple(float(p) for p in adjusted), rejected, float(alpha))


def _check_alpha(alpha: Any) -> float:
    return check_open_unit(alpha, "alpha", "0.05")


def _check_p(p: Any, name: str) -> float:
    """A p-value in [0, 1], or NaN for a claim that was not tested."""
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"{name} must be a real number (a p-value), got {type(p).__name__}.")
    if math.isnan(p):
        return math.nan
    return check_real(p, name, low=0.0, high=1.0)


def verdict(
    difference: PairedDifference,
    *,
    expected: Literal["higher", "lower"],
    reference_accuracy: float | Sequence[float],
    chance: float,
    floor: float,
    p_value: float | None = None,
    alpha: float = 0.05,
    robust_gain: PairedDifference | None = None,
    min_robust_gain: float = 0.0,
    ceiling: bool = True,
) -> str:
    """The verdict on one claim "AT makes the statistic ``expected`` than the baseline".

    Checked in this order:

    1. ``"AT did not fit"``: ``robust_gain`` (the paired difference of robust accuracy,
       AT - baseline) is given and its interval's lower end is not above
       ``min_robust_gain``: the AT models are not clearly more robust, so they are not
       the models the claim is about.
    2. ``"cannot discriminate"``: a ``reference_accuracy`` (e.g. the baseline's accuracy
       on the claim's test set; for shape bias, both models' shape-only accuracy) lies
       within ``floor`` of ``chance`` or (with ``ceiling``) of 1: the test leaves no room
       to move.
    3. ``"holds"`` / ``"reversed"``: ``p_value`` (default ``difference.p_value``; pass the
       Holm-adjusted one from :func:`holm`) is ``<= alpha`` and the mean difference
       points the ``expected`` way / the other way.
    4. ``"no difference"``: otherwise (no difference detected at this number of seeds
       and test images; not a proof of equality).

    Args:
        difference: the claim's :class:`PairedDifference`.
        expected: the paper's direction, ``"higher"`` or ``"lower"``.
        reference_accuracy: accuracy (or accuracies) that must be off the floor and the
            ceiling for the test to discriminate, fractions in ``[0, 1]``.
        chance: chance accuracy, e.g. ``1 / num_classes``.
        floor: the explicit margin, e.g. ``0.05`` for "within 5 points".
        p_value: the p-value to decide with (None: ``difference.p_value``).
        alpha: the significance level.
        robust_gain: the paired robust-accuracy difference (None: not checked).
        min_robust_gain: the gain in robust accuracy the interval must clear.
        ceiling: whether a reference accuracy near 1 also leaves no room. Pass
            ``False`` for statistics that accuracy does not bound (saliency metrics):
            there only a model near chance, which has learned nothing to explain, is
            off the floor.

    Returns:
        One of :data:`VERDICTS`.

    Raises:
        TypeError: ``difference`` or ``robust_gain`` is not a :class:`PairedDifference`.
        ValueError: ``expected`` is not ``"higher"``/``"lower"``, or a number is out of
            range.

    Example:
        >>> from shapebias.metrics import Estimate, PairedDifference, verdict
        >>> d = PairedDifference(Estimate(0.1, 0.05, 0.15), (0.6,), (0.5,), 0, 1, 0.002,
        ...                      0.95, 1000)
        >>> verdict(d, expected="higher", reference_accuracy=0.7, chance=0.25, floor=0.05)
        'holds'
        >>> verdict(d, expected="higher", reference_accuracy=0.27, chance=0.25, floor=0.05)
        'cannot discriminate'
    """
    for value, name in ((difference, "difference"), (robust_gain, "robust_gain")):
        if value is not None and not isinstance(value, PairedDifference):
            raise TypeError(
                f"{name} must be a PairedDifference (from paired_difference), got "
                f"{type(value).__name__}."
            )
    check_choice(expected, "expected", ("higher", "lower"))
    check_real(chance, "chance", low=0.0, high=1.0)
    check_real(floor, "floor", low=0.0, high=0.5)
    _check_alpha(alpha)
    check_real(min_robust_gain, "min_robust_gain", low=-1.0, high=1.0)
    references = (
        [reference_accuracy]
        if not isinstance(reference_accuracy, Sequence)
        else list(reference_accuracy)
    )
    if not references:
        raise ValueError("reference_accuracy must hold at least one accuracy, got none.")
    for index, accuracy in enumerate(references):
        check_real(accuracy, f"reference_accuracy[{index}]", low=0.0, high=1.0)
    if robust_gain is not None and not robust_gain.difference.low > min_robust_gain:
        return AT_DID_NOT_FIT
    check_bool(ceiling, "ceiling")
    if any(
        accuracy <= chance + floor or (ceiling and accuracy >= 1.0 - floor)
        for accuracy in references
    ):
        return CANNOT_DISCRIMINATE
    p = difference.p_value if p_value is None else _check_p(p_value, "p_value")
    if math.isnan(p) or p > alpha or difference.difference.value == 0:
        return NO_DIFFERENCE
    went_up = difference.difference.value > 0
    return HOLDS if went_up == (expected == "higher") else REVERSED
