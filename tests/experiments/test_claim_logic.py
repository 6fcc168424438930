"""The claim logic on synthetic typed results: floors, the fit check, Holm, verdicts,
one-seed sets and skipped claims."""

from __future__ import annotations

import math

import pytest
import torch

from shapebias.experiments import (
    PAPER_CLAIMS,
    SKIPPED,
    Claim,
    ModelResult,
    Settings,
    claim_rows,
    claims_named,
)
from shapebias.metrics import holm

SETTINGS = Settings.quick().replace(num_bootstrap=400)
FIT = SETTINGS.statistics.fit_eps
STYLIZED = claims_named(["stylized"])[0]
N = 400


def _bits(share: float, n: int = N, offset: int = 0) -> torch.Tensor:
    """``n`` booleans, the first ``round(share * n)`` true (rolled by ``offset``)."""
    bits = torch.arange(n) < round(share * n)
    return bits.roll(offset)


def result(*, clean=0.8, stylized=0.6, robust=0.8, shape=None, shape_only=None) -> ModelResult:
    """A ModelResult with the given accuracies (stylized: of all images, within clean);
    robust at the fit budget by default well above :func:`std`'s."""
    right = _bits(clean)
    distorted = right & _bits(stylized)
    value = ModelResult(
        accuracy={
            "clean": {"accuracy": {"value": clean}},
            "distortions": {"stylized": {"accuracy": {"value": stylized}}},
        },
        clean=right,
        distorted={"stylized": distorted},
        robust={FIT: _bits(robust, 100)},
    )
    if shape is not None:
        value.shape, value.texture = _bits(shape, 200), ~_bits(shape, 200)
    if shape_only is not None:
        value.shape_only = _bits(shape_only)
    return value


def std(**kwargs) -> ModelResult:
    """A baseline: robust accuracy 0.2 unless given."""
    return result(**{"robust": 0.2, **kwargs})


def rows(results, claims=(STYLIZED,), models=("at",), **kwargs):
    return claim_rows(
        results,
        baseline="standard",
        models=list(models),
        claims=list(claims),
        statistics=kwargs.pop("statistics", SETTINGS.statistics),
        num_classes=4,
        **kwargs,
    )


def test_a_clear_difference_holds_and_its_reverse_is_reversed():
    standard = [std(stylized=0.4) for _ in range(3)]
    higher = [result(stylized=0.7) for _ in range(3)]
    (row,) = rows({"standard": standard, "at": higher})
    assert row.verdict == "holds" and row.p_holm < 0.05
    assert row.difference.difference.value == pytest.approx(0.7 / 0.8 - 0.4 / 0.8)
    assert row.baseline_value == pytest.approx(0.5) and row.model_value == pytest.approx(0.875)
    swapped = {"standard": [std(stylized=0.7)] * 3, "at": [result(stylized=0.4)] * 3}
    (row,) = rows(swapped)
    assert row.verdict == "reversed"
    # A "lower" claim reads the same data the other way round.
    lower = Claim("mine", "relative accuracy", "lower", "mine", test_set="stylized")
    (row,) = rows(swapped, claims=[lower])
    assert row.verdict == "holds"


def test_no_difference_when_the_models_agree():
    (row,) = rows({"standard": [std()] * 3, "at": [result()] * 3})
    assert row.verdict == "no difference" and row.difference.difference.value == 0


def test_floor_decides_before_the_test_and_leaves_the_holm_family():
    """A baseline at chance (0.25) or at 100% on the test set cannot discriminate."""
    standard = [std(stylized=0.26) for _ in range(3)]
    results = {"standard": standard, "at": [result(stylized=0.7) for _ in range(3)]}
    (row,) = rows(results)
    assert row.verdict == "cannot discriminate" and math.isnan(row.p_holm)
    at_ceiling = {"standard": [std(clean=1.0, stylized=0.97)] * 3, "at": results["at"]}
    assert rows(at_ceiling)[0].verdict == "cannot discriminate"
    # With floor 0 the same numbers are tested.
    loose = SETTINGS.replace(floor=0.0).statistics
    assert rows(results, statistics=loose)[0].verdict == "holds"


def test_at_did_not_fit_unless_clearly_more_robust_and_controls_are_exempt():
    standard = [std(stylized=0.4, robust=0.3) for _ in range(3)]
    not_robust = [result(stylized=0.7, robust=0.3) for _ in range(3)]
    results = {"standard": standard, "at": not_robust, "control": not_robust}
    at, control = rows(results, models=("at", "control"), controls=("control",))
    assert at.verdict == "AT did not fit" and math.isnan(at.p_holm)
    assert control.verdict == "holds"


@pytest.mark.parametrize("family", ["claim", "table"])
def test_holm_adjusts_over_exactly_the_tested_rows_of_each_family(family):
    standard = [std(stylized=0.4, shape=0.5, shape_only=0.8) for _ in range(3)]
    results = {
        "standard": standard,
        "a": [result(stylized=0.45, shape=0.55, shape_only=0.8) for _ in range(3)],
        "b": [result(stylized=0.26, shape=0.6, shape_only=0.8) for _ in range(3)],
        "chance": [result(stylized=0.5, shape=0.6, shape_only=0.26) for _ in range(3)],
    }
    claims = claims_named(["stylized", "shape bias"])
    statistics = SETTINGS.replace(holm_family=family).statistics
    table = rows(results, claims=claims, models=("a", "b", "chance"), statistics=statistics)
    tested = [row for row in table if not math.isnan(row.p_holm)]
    # The shape-only floor takes the model at chance on shape-only out of the family.
    assert [(r.model, r.claim.name) for r in table if math.isnan(r.p_holm)] == [
        ("chance", "shape bias")
    ]
    names = [c.name for c in claims] if family == "claim" else [None]
    families = [[r for r in tested if name in (None, r.claim.name)] for name in names]
    assert sum(map(len, families)) == len(tested) == 5
    for members in families:
        adjusted = holm([row.difference.p_value for row in members], alpha=statistics.alpha)
        assert [row.p_holm for row in members] == pytest.approx(list(adjusted.adjusted))
        for row, rejected in zip(members, adjusted.rejected, strict=True):
            assert (row.verdict in ("holds", "reversed")) == rejected
    # The two families differ: one claim's rows are adjusted for fewer comparisons.
    raw = {id(row): row.difference.p_value for row in tested}
    factor = max(row.p_holm / raw[id(row)] for row in tested if 0 < row.p_holm < 1)
    assert factor <= (3 if family == "claim" else 5) + 1e-9


def test_a_set_of_one_is_compared_and_says_its_interval_covers_images_only():
    (row,) = rows({"standard": [std(stylized=0.4)], "at": [result(stylized=0.7)]})
    assert row.difference.num_seeds == 1 and "one seed" in row.reason
    assert row.verdict == "holds"  # 400 test images decide even with one seed
    assert row.to_dict()["seeds"] == 1


def test_missing_requirements_are_skipped_with_the_reason_and_not_tested():
    standard = [std() for _ in range(2)]
    results = {"standard": standard, "at": [result(stylized=0.7) for _ in range(2)]}
    claims = claims_named(["stylized", "shuffled 8x8", "shape bias", "saliency concentration"])
    table = rows(results, claims=claims, reasons={"shuffled 8x8": "grid does not divide"})
    by_name = {row.claim.name: row for row in table}
    assert by_name["stylized"].verdict == "holds"
    assert by_name["shuffled 8x8"].reason == "grid does not divide"
    assert "cue-conflict" in by_name["shape bias"].reason
    assert "saliency" in by_name["saliency concentration"].reason
    for name in ("shuffled 8x8", "shape bias", "saliency concentration"):
        row = by_name[name]
        assert row.verdict == SKIPPED and row.difference is None and math.isnan(row.p_holm)
        assert row.to_dict()["difference"] is None
    # Holm family of one: the stylized claim's p is unadjusted.
    assert by_name["stylized"].p_holm == pytest.approx(by_name["stylized"].difference.p_value)
    assert len(rows(results, claims=claims, keep_skipped=False)) == 1


def test_an_unknown_claim_name_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown claim\(s\) 'stylised'; the paper's claims are: stylized,"
    ):
        claims_named(["stylised"])
    with pytest.raises(ValueError, match="needs test_set"):
        Claim("x", "relative accuracy", "higher", "mine")
    with pytest.raises(ValueError, match="expected must be 'higher' or 'lower'"):
        Claim("x", "shape bias", "up", "mine")
    assert [c.name for c in PAPER_CLAIMS][:3] == ["stylized", "saturated p=8", "saturated p=1024"]


def test_results_round_trip_through_their_cache_file(tmp_path):
    original = result(shape=0.6, shape_only=0.7)
    original.save(tmp_path / "r.pt")
    loaded = ModelResult.load(tmp_path / "r.pt")
    assert torch.equal(loaded.clean, original.clean) and torch.equal(loaded.shape, original.shape)
    assert loaded.robust.keys() == original.robust.keys() and loaded.accuracy == original.accuracy
