"""The paper's claims as data: test set, statistic, expected direction, where the paper says it."""

from __future__ import annotations

import dataclasses
from typing import Literal

__all__ = ["PAPER_CLAIMS", "Claim", "claims_named"]

Measure = Literal["relative accuracy", "shape bias", "edge_alignment", "concentration"]


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim: "adversarial training moves ``measure`` on ``test_set`` ``expected``".

    Attributes:
        name: the claim's name in tables (``"stylized"``, ``"shape bias"``).
        measure: the per-item statistic compared: ``"relative accuracy"`` (of the clean
            test images a model gets right, the share it still gets right on
            ``test_set``), ``"shape bias"`` (``S / (S + T)`` on cue-conflict images),
            ``"edge_alignment"`` or ``"concentration"`` (of SmoothGrad maps).
        expected: ``"higher"`` or ``"lower"`` for the model than for the baseline.
        paper: where the paper says it.
        test_set: the distorted test set of a relative-accuracy claim (a key of
            :func:`~shapebias.experiments.paper_distortions` or of the distortions
            passed to :func:`~shapebias.experiments.compare`); unused otherwise.
        statistic: how the statistic is named in tables.
        ceiling: whether the statistic is bounded by accuracy, so that a baseline near
            100% leaves no room (accuracy: yes; saliency metrics: no, only a model at
            chance has nothing to explain).

    Example:
        >>> from shapebias.experiments import Claim
        >>> claim = Claim("blurred", "relative accuracy", "higher", "mine", test_set="low-pass")
        >>> claim.statistic, claim.ceiling
        ('relative accuracy', True)
    """

    name: str
    measure: Measure
    expected: Literal["higher", "lower"]
    paper: str
    test_set: str | None = None
    statistic: str = ""
    ceiling: bool = True

    def __post_init__(self) -> None:
        measures = ("relative accuracy", "shape bias", "edge_alignment", "concentration")
        if self.measure not in measures:
            raise ValueError(
                f"Claim {self.name!r}: measure must be one of {', '.join(measures)}, got "
                f"{self.measure!r}."
            )
        if self.expected not in ("higher", "lower"):
            raise ValueError(
                f"Claim {self.name!r}: expected must be 'higher' or 'lower', got {self.expected!r}."
            )
        if self.measure == "relative accuracy" and not self.test_set:
            raise ValueError(
                f"Claim {self.name!r}: a relative-accuracy claim needs test_set (the name of a "
                "distorted test set, e.g. 'stylized')."
            )
        if not self.statistic:
            object.__setattr__(self, "statistic", _STATISTIC[self.measure])


_STATISTIC = {
    "relative accuracy": "relative accuracy",
    "shape bias": "S / (S + T)",
    "edge_alignment": "SmoothGrad mass on edges",
    "concentration": "Gini of SmoothGrad",
}


def _relative(test_set: str, expected: Literal["higher", "lower"], paper: str) -> Claim:
    return Claim(test_set, "relative accuracy", expected, paper, test_set=test_set)


PAPER_CLAIMS: tuple[Claim, ...] = (
    _relative("stylized", "higher", "AT keeps more (Table 2)"),
    _relative("saturated p=8", "higher", "AT keeps more (Table 3)"),
    _relative("saturated p=1024", "higher", "AT keeps more (Table 3)"),
    _relative("shuffled 2x2", "lower", "AT loses more (Table 4)"),
    _relative("shuffled 4x4", "lower", "AT loses more (Table 4)"),
    _relative("shuffled 8x8", "lower", "AT loses more (Table 4)"),
    _relative("low-pass", "higher", "AT keeps more (implied: low-frequency shape; no table)"),
    Claim("shape bias", "shape bias", "higher", "AT more shape-biased"),
    Claim(
        "saliency edge alignment",
        "edge_alignment",
        "higher",
        "AT maps follow edges (Fig. 1)",
        ceiling=False,
    ),
    Claim(
        "saliency concentration",
        "concentration",
        "higher",
        "AT maps sparser (Fig. 1)",
        ceiling=False,
    ),
)
"""The paper's claims, in the order of the claims table (Zhang & Zhu 2019)."""


def claims_named(names: list[str] | tuple[str, ...]) -> tuple[Claim, ...]:
    """The claims of :data:`PAPER_CLAIMS` called ``names``, in that order.

    Raises:
        ValueError: an unknown claim name (the message lists the known ones).

    Example:
        >>> from shapebias.experiments import claims_named
        >>> [c.name for c in claims_named(["stylized", "shape bias"])]
        ['stylized', 'shape bias']
    """
    known = {claim.name: claim for claim in PAPER_CLAIMS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"unknown claim(s) {', '.join(map(repr, unknown))}; the paper's claims are: "
            f"{', '.join(known)}. Pass a Claim of your own for anything else."
        )
    return tuple(known[name] for name in names)
