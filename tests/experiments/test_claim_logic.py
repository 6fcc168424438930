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


def test_only_a_set_of_one_carries_the_one_seed_note():
    """Catches the note "one seed: ..." written on every row: with several seeds the
    interval covers seed-to-seed variation and the row has no reason."""
    (row,) = rows({"standard": [std(stylized=0.4)] * 2, "at": [result(stylized=0.7)] * 2})
    assert row.difference.num_seeds == 2 and row.reason == ""


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


SALIENCY = claims_named(["saliency edge alignment"])[0]
SHAPE_BIAS = claims_named(["shape bias"])[0]


def test_a_nan_item_of_either_model_is_dropped_from_every_seed_of_both():
    """Catches a NaN mask built from the AT model alone (a baseline NaN then reaches
    paired_difference) or per seed (the seeds would keep different items).

    Saliency metrics are NaN for an all-zero map; here the baseline of seed 1 has one on
    item 2 and the AT model of seed 0 one on item 0: items 0 and 2 leave every seed.
    """
    at_maps = [[math.nan, 0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7, 0.9]]
    base_maps = [[0.1, 0.2, 0.3, 0.2, 0.3], [0.1, 0.2, math.nan, 0.1, 0.3]]
    results: dict[str, list[ModelResult]] = {"standard": [], "at": []}
    for name, maps in (("at", at_maps), ("standard", base_maps)):
        for values in maps:
            value = std() if name == "standard" else result()
            value.edge_alignment = torch.tensor(values, dtype=torch.float64)
            results[name].append(value)
    (row,) = rows(results, claims=[SALIENCY])
    assert row.difference.at == pytest.approx(((0.5 + 0.7 + 0.8) / 3, (0.5 + 0.7 + 0.9) / 3))
    assert row.difference.baseline == pytest.approx(((0.2 + 0.2 + 0.3) / 3, (0.2 + 0.1 + 0.3) / 3))


def test_relative_accuracy_counts_only_images_right_on_clean_over_each_models_own_clean():
    """Catches the distorted hits counted on images the model got wrong on clean, and the
    baseline's ratio divided by the AT model's clean hits (its denominator swapped).

    AT: right on clean on items 0-319, on the distorted copy on 200-399: 120 of its 320
    clean hits survive (0.375; 200 / 320 if the clean filter is lost). Baseline: clean
    0-199, distorted 0-159: 160 / 200 = 0.8 (160 / 320 over the AT model's clean hits).
    """
    at = result()
    at.clean, at.distorted = _bits(0.8), {"stylized": _bits(0.5, offset=200)}
    base = std()
    base.clean, base.distorted = _bits(0.5), {"stylized": _bits(0.4)}
    (row,) = rows({"standard": [base, base], "at": [at, at]})
    assert row.difference.at == pytest.approx((0.375, 0.375))
    assert row.difference.baseline == pytest.approx((0.8, 0.8))
    assert row.difference.difference.value == pytest.approx(0.375 - 0.8)


def test_shape_bias_is_shape_over_shape_or_texture_decisions():
    """Catches a shape-bias denominator of texture decisions alone (S / T) or of every
    cue-conflict image: images decided for neither cue do not count.

    200 images: shape decisions on 0-59, texture on 60-139, neither on 140-199, so
    S / (S + T) = 60 / 140 (S / T = 0.75, S / N = 0.3).
    """
    results = {"standard": [], "at": []}
    for name in results:
        value = std(shape_only=0.8) if name == "standard" else result(shape_only=0.8)
        value.shape, value.texture = _bits(0.3, 200), _bits(0.4, 200, offset=60)
        results[name].append(value)
    (row,) = rows(results, claims=[SHAPE_BIAS])
    assert row.baseline_value == pytest.approx(60 / 140)
    assert row.model_value == pytest.approx(60 / 140)


def test_saliency_floor_reads_the_baseline_clean_accuracy_and_has_no_ceiling():
    """Catches the saliency floor read from the AT model instead of the standard model,
    and a ceiling applied to saliency claims (accuracy does not bound a saliency metric).
    """

    def saliency_results(base_clean, at_clean):
        results = {"standard": [std(clean=base_clean)], "at": [result(clean=at_clean)]}
        for index, name in enumerate(("standard", "at")):
            results[name][0].concentration = torch.linspace(0.1, 0.5, 50) + 0.3 * index
        return results

    concentration = claims_named(["saliency concentration"])
    (at_chance,) = rows(saliency_results(0.26, 0.9), claims=concentration)
    assert at_chance.verdict == "cannot discriminate"
    assert at_chance.reference_accuracy == pytest.approx((0.26,))
    (at_top,) = rows(saliency_results(0.99, 0.26), claims=concentration)
    assert at_top.verdict == "holds" and at_top.reference_accuracy == pytest.approx((0.99,))


def test_a_requirement_missing_in_the_compared_model_alone_skips_the_claim():
    """Catches the requirements checked on the baseline only: the AT models lack the
    stylized test set, so the claim is skipped with its reason, not a KeyError."""
    at = [result() for _ in range(2)]
    for value in at:
        value.distorted = {}
    (row,) = rows({"standard": [std(), std()], "at": at})
    assert row.verdict == SKIPPED and "'stylized'" in row.reason


def test_chance_is_one_over_the_number_of_classes():
    """Catches chance taken as 1 / (K - 1) (or any other count): floor 0.125 and a
    baseline at 0.4375 on the test set are off the floor for 4 classes (chance 0.25,
    0.25 + 0.125 < 0.4375) and on it for 2 (chance 0.5)."""
    statistics = SETTINGS.replace(floor=0.125).statistics
    results = {"standard": [std(stylized=0.4375)] * 2, "at": [result(stylized=0.75)] * 2}

    def decide(num_classes):
        return claim_rows(
            results,
            baseline="standard",
            models=["at"],
            claims=[STYLIZED],
            statistics=statistics,
            num_classes=num_classes,
        )[0].verdict

    assert decide(4) == "holds"
    assert decide(2) == "cannot discriminate"


def test_seeds_are_paired_by_position():
    """Catches a pairing other than seed s with seed s (e.g. one list reversed or sorted):
    each AT model is the baseline of its own seed plus 0.0625 relative accuracy, while
    the baselines differ by 0.25 between seeds."""
    shares = (0.3, 0.5, 0.7)
    standard = [std(stylized=share) for share in shares]
    at = [result(stylized=share + 0.05) for share in shares]
    (row,) = rows({"standard": standard, "at": at})
    assert row.difference.baseline == pytest.approx(tuple(s / 0.8 for s in shares))
    assert row.difference.per_seed == pytest.approx((0.0625,) * 3)
    assert row.difference.sign_count == "3/3 higher"


def test_fit_check_reads_the_fit_budget_and_the_minimum_gain():
    """Catches the fit check at another measured budget than ``fit_eps`` and a
    ``min_robust_gain`` setting that is not passed on (0 used instead).

    At ``fit_eps`` the AT models gain 0.6 robust accuracy (interval ~0.5-0.7); at a
    larger budget they gain nothing.
    """
    larger = 4 * FIT
    standard = [std(stylized=0.4) for _ in range(3)]
    at = [result(stylized=0.7) for _ in range(3)]
    for value in standard + at:
        value.robust[larger] = _bits(0.1, 100)
    (row,) = rows({"standard": standard, "at": at})
    assert row.verdict == "holds"
    # The same models against a gain they cannot reach (0.7 > the 0.6 measured).
    demanding = SETTINGS.replace(min_robust_gain=0.7).statistics
    (row,) = rows({"standard": standard, "at": at}, statistics=demanding)
    assert row.verdict == "AT did not fit"


def test_seed_mean_is_the_sets_mean_statistic():
    """Catches seed_mean pairing the set with anything but zeros (it is the set's own
    mean over seeds of its statistic, with the crossed interval)."""
    from shapebias.experiments._comparison import seed_mean

    values = [(_bits(0.3, 40).double(), _bits(0.6, 40)), (_bits(0.4, 40).double(), _bits(0.8, 40))]
    mean = seed_mean(values, SETTINGS.statistics, 0)
    assert mean.at == pytest.approx((12 / 24, 16 / 32))
    assert mean.difference.value == pytest.approx((0.5 + 0.5) / 2)


def test_the_verdict_reads_the_holm_adjusted_p_not_the_raw_one():
    """Catches a verdict decided on each row's unadjusted p-value.

    One seed (the paired t over images), two saliency claims in one table-wide family,
    both with the per-image differences ``m + z`` (``z`` = +-0.5 alternating):
    ``m`` is set so that the raw two-sided p is 0.03. Holm doubles both to 0.06 > 0.05:
    "no difference", although either claim alone would hold.
    """
    from scipy import stats

    n = 50
    z = 0.5 * (-1.0) ** torch.arange(n, dtype=torch.float64)  # mean 0, sd 0.5 sqrt(n/(n-1))
    m = float(stats.t.isf(0.015, n - 1)) * 0.5 * math.sqrt(n / (n - 1)) / math.sqrt(n)
    standard, at = std(), result()
    for value, shift in ((standard, torch.zeros(n)), (at, z + m)):
        value.edge_alignment = 0.5 + shift
        value.concentration = 0.5 + shift
    claims = claims_named(["saliency edge alignment", "saliency concentration"])
    table = SETTINGS.replace(holm_family="table").statistics
    for row in rows({"standard": [standard], "at": [at]}, claims=claims, statistics=table):
        assert row.difference.p_value == pytest.approx(0.03, rel=1e-6)
        assert row.p_holm == pytest.approx(0.06, rel=1e-6)
        assert row.verdict == "no difference"
