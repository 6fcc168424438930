"""Error consistency between two observers (Geirhos et al. 2020): Cohen's kappa on errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from shapebias._seeds import derive_seed
from shapebias.metrics._bootstrap import Estimate, estimate, resample_counts
from shapebias.metrics._checks import check_bootstrap, check_outcomes

__all__ = ["ErrorConsistency", "cohen_kappa", "error_consistency"]

# Outcome cells per sample: index = 2 * right_a + right_b.
_BOTH_WRONG, _ONLY_B, _ONLY_A, _BOTH_RIGHT = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class ErrorConsistency:
    """Result of :func:`error_consistency`.

    Attributes:
        kappa: ``(c_obs - c_exp) / (1 - c_exp)``; 0 = as consistent as two independent
            observers with these accuracies, 1 = the same errors, negative = fewer shared
            errors than chance. NaN when ``c_exp == 1`` (both observers always right, or
            both always wrong: nothing to compare).
        observed: ``c_obs``, the share of samples on which both are right or both wrong.
        expected: ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)``, the agreement expected from
            independent observers with accuracies ``p_a`` and ``p_b``.
        accuracy_a: ``p_a``.
        accuracy_b: ``p_b``.
        total: number of samples.
    """

    kappa: Estimate
    observed: float
    expected: float
    accuracy_a: float
    accuracy_b: float
    total: int

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers."""
        return {**dataclasses.asdict(self), "kappa": self.kappa.to_dict()}


def cohen_kappa(
    observed: np.ndarray, accuracy_a: np.ndarray, accuracy_b: np.ndarray, *, degenerate: float
) -> np.ndarray:
    """Cohen's kappa from the observed agreement and the two accuracies, elementwise.

    ``(c_obs - c_exp) / (1 - c_exp)`` with ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)``. Where
    ``c_exp == 1`` (both observers always right, or both always wrong, so ``c_obs == 1``)
    the ratio is 0/0 and the result is ``degenerate``: NaN for :func:`error_consistency`
    (nothing to compare), 1 for the model-vs-human benchmark, which defines kappa as 1
    wherever ``c_obs == 1`` (elsewhere ``c_obs == 1`` gives exactly 1 anyway).
    """
    expected = accuracy_a * accuracy_b + (1 - accuracy_a) * (1 - accuracy_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - expected) / (1 - expected)
    return np.where(expected < 1, kappa, degenerate)


def _kappa(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(1)
    observed = (counts[:, _BOTH_RIGHT] + counts[:, _BOTH_WRONG]) / total
    p_a = (counts[:, _ONLY_A] + counts[:, _BOTH_RIGHT]) / total
    p_b = (counts[:, _ONLY_B] + counts[:, _BOTH_RIGHT]) / total
    return cohen_kappa(observed, p_a, p_b, degenerate=np.nan)


def error_consistency(
    correct_a: Any,
    correct_b: Any,
    *,
    seed: int = 0,
    confidence: float = 0.95,
    num_bootstrap: int = 1000,
) -> ErrorConsistency:
    """Error consistency: do two observers make their errors on the same samples?

    Cohen's kappa on trial-by-trial right/wrong outcomes, as Geirhos et al. (2020)
    define it: with ``c_obs`` the share of samples on which both are right or both are
    wrong and ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)`` the agreement expected by chance
    from the accuracies alone, ``kappa = (c_obs - c_exp) / (1 - c_exp)``. Two models of
    equal accuracy can thus be told apart by *which* images they get wrong. The interval
    is a percentile bootstrap over samples.

    Args:
        correct_a: bool (or 0/1 integer) tensor ``(N,)``: was observer A right on each
            sample? e.g. ``result.correct["shuffled4"]`` of a :class:`DistortionAccuracy`.
        correct_b: the same for observer B, on the same samples in the same order.
        seed: seeds the bootstrap.
        confidence: coverage of the interval.
        num_bootstrap: bootstrap replicates; 0 skips the interval.

    Returns:
        An :class:`ErrorConsistency`.

    Raises:
        TypeError: an input is not a tensor.
        ValueError: empty, not 1-D, values other than 0/1, or lengths that differ;
            ``num_bootstrap`` above ``MAX_BOOTSTRAP`` (10^6).

    Example:
        >>> import torch
        >>> from shapebias.metrics import error_consistency
        >>> a = torch.tensor([True, True, False, False])
        >>> error_consistency(a, a).kappa.value
        1.0
        >>> error_consistency(a, ~a).kappa.value
        -1.0

    References:
        Geirhos, Meding & Wichmann, "Beyond accuracy: quantifying trial-by-trial behaviour
        of CNNs and humans by measuring error consistency", NeurIPS 2020.
    """
    a = check_outcomes(correct_a, "correct_a")
    b = check_outcomes(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(
            f"correct_a and correct_b must have one outcome per sample for the same samples, "
            f"got lengths {a.shape[0]} and {b.shape[0]}."
        )
    check_bootstrap(confidence, num_bootstrap, seed)
    cells = np.bincount((2 * a.long() + b.long()).cpu().numpy(), minlength=4)
    resampled = resample_counts(cells, num_bootstrap, derive_seed(seed, "error_consistency"))
    total = int(cells.sum())
    p_a = (cells[_ONLY_A] + cells[_BOTH_RIGHT]) / total
    p_b = (cells[_ONLY_B] + cells[_BOTH_RIGHT]) / total
    return ErrorConsistency(
        kappa=estimate(_kappa, cells, resampled, confidence),
        observed=float((cells[_BOTH_RIGHT] + cells[_BOTH_WRONG]) / total),
        expected=float(p_a * p_b + (1 - p_a) * (1 - p_b)),
        accuracy_a=float(p_a),
        accuracy_b=float(p_b),
        total=total,
    )
