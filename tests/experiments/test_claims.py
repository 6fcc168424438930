"""The paper's claims as data: directions, ceilings, lookup by name, table labels."""

from __future__ import annotations

import torch

from shapebias.experiments import PAPER_CLAIMS, Claim, claims_named
from shapebias.experiments._compare import _skip_reasons

# Zhang & Zhu (ICML 2019): AT models keep more of their accuracy on stylized (Table 2),
# saturated (Table 3) and low-passed images, lose more on patch-shuffled ones (Table 4),
# are more shape-biased, and their saliency maps follow edges and are sparser (Fig. 1).
PAPER_DIRECTIONS = {
    "stylized": "higher",
    "saturated p=8": "higher",
    "saturated p=1024": "higher",
    "shuffled 2x2": "lower",
    "shuffled 4x4": "lower",
    "shuffled 8x8": "lower",
    "low-pass": "higher",
    "shape bias": "higher",
    "saliency edge alignment": "higher",
    "saliency concentration": "higher",
}


def test_every_paper_claim_points_the_papers_way():
    """Catches a claim whose expected direction was flipped (e.g. shuffled 'higher': the
    verdict would then call the paper's finding 'reversed')."""
    assert {claim.name: claim.expected for claim in PAPER_CLAIMS} == PAPER_DIRECTIONS
    for claim in PAPER_CLAIMS:
        if claim.measure == "relative accuracy":
            assert claim.test_set == claim.name


def test_only_accuracy_bounded_claims_have_a_ceiling():
    """Catches a ceiling on a saliency claim (a standard model near 100% would then read
    'cannot discriminate' although a saliency metric has room to move)."""
    for claim in PAPER_CLAIMS:
        bounded = claim.measure in ("relative accuracy", "shape bias")
        assert claim.ceiling == bounded, claim.name


def test_claims_named_keeps_the_requested_order_and_a_given_statistic_label():
    """Catches claims returned in PAPER_CLAIMS order instead of the caller's, and a
    statistic label given by the caller overwritten by the measure's default."""
    names = ["shape bias", "shuffled 2x2", "stylized"]
    assert [claim.name for claim in claims_named(names)] == names
    own = Claim("mine", "shape bias", "higher", "mine", statistic="S / (S + T), ours")
    assert own.statistic == "S / (S + T), ours"
    assert Claim("mine", "shape bias", "higher", "mine").statistic == "S / (S + T)"


def test_a_patch_grid_is_skipped_exactly_when_it_does_not_divide_the_side():
    """Catches the divisibility test written the wrong way round (``grid % side``): on
    16 px images every grid divides, on 12 px only 8x8 does not (12 = 8 + 4)."""
    shuffled = [c for c in PAPER_CLAIMS if (c.test_set or "").startswith("shuffled ")]
    assert _skip_reasons(shuffled, torch.zeros(1, 3, 16, 16)) == {}
    reasons = _skip_reasons(shuffled, torch.zeros(1, 3, 12, 12))
    assert list(reasons) == ["shuffled 8x8"] and "12 px" in reasons["shuffled 8x8"]
    stylized = claims_named(["stylized"])
    assert "colour" in _skip_reasons(stylized, torch.zeros(1, 1, 16, 16))["stylized"]
    assert _skip_reasons(stylized, torch.zeros(1, 3, 16, 16)) == {}
