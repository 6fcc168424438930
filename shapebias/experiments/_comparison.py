"""From per-model results to claim rows: seed-paired differences, floors, Holm, verdicts."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from shapebias.experiments._claims import Claim
from shapebias.experiments._evaluation import ModelResult
from shapebias.experiments._settings import StatisticsSettings
from shapebias.metrics import (
    AT_DID_NOT_FIT,
    CANNOT_DISCRIMINATE,
    PairedDifference,
    holm,
    paired_difference,
    verdict,
)

__all__ = ["SKIPPED", "ClaimRow", "claim_rows", "missing_requirement", "paired", "seed_mean"]

SKIPPED = "skipped"

Items = list[tuple[torch.Tensor, torch.Tensor | None]]
Results = Mapping[str, Sequence[ModelResult]]


@dataclasses.dataclass(frozen=True)
class ClaimRow:
    """One (model, claim) of a comparison.

    Attributes:
        model: the compared model set's name.
        claim: the :class:`Claim`.
        difference: the seed-paired difference model - baseline (None if skipped).
        reference_accuracy: the accuracies the floor check read.
        p_holm: the Holm-adjusted p-value (NaN where not tested).
        verdict: one of :data:`~shapebias.metrics.VERDICTS`, or ``"skipped"``.
        reason: why a claim was skipped, or a note on the interval (one seed).
    """

    model: str
    claim: Claim
    difference: PairedDifference | None
    reference_accuracy: tuple[float, ...] = ()
    p_holm: float = math.nan
    verdict: str = SKIPPED
    reason: str = ""

    @property
    def baseline_value(self) -> float:
        """The baseline's statistic, mean over seeds (NaN if skipped)."""
        return math.nan if self.difference is None else float(np.mean(self.difference.baseline))

    @property
    def model_value(self) -> float:
        """The model's statistic, mean over seeds (NaN if skipped)."""
        return math.nan if self.difference is None else float(np.mean(self.difference.at))

    def to_dict(self) -> dict[str, Any]:
        """``{"model", "claim", "baseline_value", "model_value", "difference", "low",
        "high", "seeds", "p_holm", "verdict", "reason"}``; NaN as None."""
        d = self.difference
        estimate = None if d is None else d.difference
        row = {
            "model": self.model,
            "claim": self.claim.name,
            "baseline_value": self.baseline_value,
            "model_value": self.model_value,
            "difference": math.nan if estimate is None else estimate.value,
            "low": math.nan if estimate is None else estimate.low,
            "high": math.nan if estimate is None else estimate.high,
            "seeds": 0 if d is None else d.num_seeds,
            "p_holm": self.p_holm,
            "verdict": self.verdict,
            "reason": self.reason,
        }
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def paired(
    at: Items, baseline: Items, statistics: StatisticsSettings, seed: int
) -> PairedDifference:
    """Seed-paired difference of per-item (values, denominators), crossed seeds x images.

    An item that is NaN for either model of any seed is dropped from every seed, so all
    seeds keep the same test items (the crossed interval needs them aligned).
    """
    at_values, at_den, base_values, base_den = [], [], [], []
    missing = torch.stack([v.double().isnan() for pair in (at, baseline) for v, _ in pair])
    keep = ~missing.any(dim=0)
    for (va, da), (vb, db) in zip(at, baseline, strict=True):
        at_values.append(va[keep])
        base_values.append(vb[keep])
        if da is not None and db is not None:
            at_den.append(da[keep])
            base_den.append(db[keep])
    return paired_difference(
        at_values,
        base_values,
        at_denominator=at_den or None,
        baseline_denominator=base_den or None,
        confidence=statistics.confidence,
        num_bootstrap=statistics.num_bootstrap,
        seed=seed,
    )


def seed_mean(values: Items, statistics: StatisticsSettings, seed: int) -> PairedDifference:
    """A model set's own mean over seeds with the crossed interval (paired with 0)."""
    zeros = [(torch.zeros(len(v), dtype=torch.float64), d) for v, d in values]
    return paired(values, zeros, statistics, seed)


def claim_items(result: ModelResult, claim: Claim) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The per-item (values, denominator) of ``claim``'s statistic in one result."""
    if claim.measure == "relative accuracy":
        clean = _need(result.clean)
        return clean & result.distorted[str(claim.test_set)], clean
    if claim.measure == "shape bias":
        shape, texture = _need(result.shape), _need(result.texture)
        return shape, shape | texture
    return _need(getattr(result, claim.measure)), None


def _need(value: torch.Tensor | None) -> torch.Tensor:
    if value is None:
        raise KeyError("a measurement the claim needs was not made")
    return value


def missing_requirement(
    claim: Claim,
    results: Results,
    baseline: str,
    model: str,
    reasons: Mapping[str, str] | None = None,
) -> str:
    """Why ``claim`` cannot be tested on these results ("" when it can)."""
    for result in (*results[baseline], *results[model]):
        if claim.measure == "relative accuracy":
            if result.clean is None or claim.test_set not in result.distorted:
                reason = (reasons or {}).get(str(claim.test_set))
                return reason or f"no {claim.test_set!r} test set for these images"
        elif claim.measure == "shape bias":
            if result.shape is None:
                return "no cue-conflict images (pass cue_conflict)"
            if result.shape_only is None:
                return "no shape-only images (pass shape_only): no shape-bias verdict without them"
        elif getattr(result, claim.measure) is None:
            return "no saliency maps measured"
    return ""


def _reference(claim: Claim, results: Results, baseline: str, model: str) -> list[float]:
    """The accuracies the floor check reads: the baseline's on the claim's test set (shape
    bias: both models' shape-only accuracy; saliency: the baseline's clean accuracy)."""
    if claim.measure == "relative accuracy":
        return [float(np.mean([r.test_accuracy(str(claim.test_set)) for r in results[baseline]]))]
    if claim.measure == "shape bias":
        return [
            float(np.mean([_need(r.shape_only).float().mean() for r in results[name]]))
            for name in (baseline, model)
        ]
    return [float(np.mean([r.test_accuracy("clean") for r in results[baseline]]))]


def robust_gain(
    results: Results,
    baseline: str,
    model: str,
    eps: float,
    statistics: StatisticsSettings,
    seed: int,
) -> PairedDifference | None:
    """The seed-paired robust-accuracy gain at ``eps`` (None where not measured)."""
    if any(eps not in r.robust for r in (*results[model], *results[baseline])):
        return None
    return paired(
        [(r.robust[eps], None) for r in results[model]],
        [(r.robust[eps], None) for r in results[baseline]],
        statistics,
        seed,
    )


def holm_families(rows: Sequence[Any], family: str) -> list[list[Any]]:
    """The tested rows grouped into Holm families: one per claim (``"claim"``, in the
    order claims first appear) or all rows together (``"table"``)."""
    if family == "table":
        return [list(rows)] if rows else []
    by_claim: dict[str, list[Any]] = {}
    for row in rows:
        by_claim.setdefault(row["claim"].name, []).append(row)
    return list(by_claim.values())


def claim_rows(
    results: Results,
    *,
    baseline: str,
    models: Sequence[str],
    claims: Sequence[Claim],
    statistics: StatisticsSettings,
    num_classes: int,
    seed: int = 0,
    controls: Collection[str] = (),
    keep_skipped: bool = True,
    reasons: Mapping[str, str] | None = None,
) -> list[ClaimRow]:
    """Every (model, claim): paired difference, Holm-adjusted p, verdict.

    A model not in ``controls`` must be clearly more robust than the baseline at
    ``statistics.fit_eps`` (when robust accuracy was measured there), else its claims
    read "AT did not fit". Claims whose test set or requirement is missing are skipped
    (kept as rows with the reason when ``keep_skipped``) and left out of the Holm family,
    as are claims the floor or fit checks decide. The Holm families are
    ``statistics.holm_family``: the tested rows of each claim (each claim at ``alpha``)
    or every tested row at once. ``reasons`` says why a test set is missing (by its name).
    """
    chance = 1.0 / num_classes
    rows: list[dict[str, Any]] = []
    for model in models:
        gain = (
            None
            if model in controls
            else robust_gain(results, baseline, model, statistics.fit_eps, statistics, seed)
        )
        for claim in claims:
            missing = missing_requirement(claim, results, baseline, model, reasons)
            if missing:
                if keep_skipped:
                    rows.append({"row": ClaimRow(model, claim, None, reason=missing)})
                continue
            difference = paired(
                [claim_items(r, claim) for r in results[model]],
                [claim_items(r, claim) for r in results[baseline]],
                statistics,
                seed,
            )
            decide: dict[str, Any] = {
                "expected": claim.expected,
                "reference_accuracy": _reference(claim, results, baseline, model),
                "chance": chance,
                "floor": statistics.floor,
                "robust_gain": gain,
                "min_robust_gain": statistics.min_robust_gain,
                "alpha": statistics.alpha,
                "ceiling": claim.ceiling,
            }
            note = (
                "one seed: the interval covers test images only, not seed-to-seed variation"
                if difference.num_seeds == 1
                else ""
            )
            rows.append(
                {
                    "model": model,
                    "claim": claim,
                    "difference": difference,
                    "decide": decide,
                    "note": note,
                    # p = 0 only asks whether the floors or the fit check decide already.
                    "screen": verdict(difference, p_value=0.0, **decide),
                }
            )
    tested = [
        row
        for row in rows
        if "row" not in row and row["screen"] not in (AT_DID_NOT_FIT, CANNOT_DISCRIMINATE)
    ]
    for family in holm_families(tested, statistics.holm_family):
        adjusted = holm([row["difference"].p_value for row in family], alpha=statistics.alpha)
        for row, p in zip(family, adjusted.adjusted, strict=True):
            row["p_holm"] = p
    out = []
    for row in rows:
        if "row" in row:
            out.append(row["row"])
            continue
        p = row.get("p_holm", math.nan)
        out.append(
            ClaimRow(
                row["model"],
                row["claim"],
                row["difference"],
                tuple(row["decide"]["reference_accuracy"]),
                p,
                verdict(row["difference"], p_value=p, **row["decide"]),
                row["note"],
            )
        )
    return out
