"""Coverage and type-I error of shapebias.metrics.paired_difference in the crossed design.

Simulates the design the reproduction runs: S seeds, each AT model and its seed's
standard model evaluated on ONE shared test set of N images. Per-item outcomes are 0/1
from a probit model; the AT model's latent score carries a seed effect (training
randomness, shared by the seed's images), a shared image effect (the image favours AT
whatever the seed) and an independent per-(seed, image) effect, on top of an image
difficulty common to both models (the pairing)::

    standard right on image i:  Bernoulli(Phi(mu_std + h[i]))
    AT of seed s right:         Bernoulli(Phi(mu_at + h[i] + a[s] + b[i] + e[s, i]))

"mean": accuracy (mean of 0/1). "ratio": relative accuracy, right on both / right on
clean, with clean ~ Bernoulli(0.8) per model and item. E[Phi(mu + Z)] = Phi(mu / sqrt(1 +
var Z)) gives the population values, so the truth is exact. Coverage is measured at an
effect (mu_at = mu_std + 0.3, ~10 points), type-I error with mu_at chosen so the
population difference is exactly 0 (the verdict's test: p <= 1 - confidence).

The inference is the library's own code path (shapebias.metrics._crossed, vectorised over
the simulated experiments; ``paired_difference`` calls the same functions), so the table
measures what ships. ``--nested N`` adds the old nested bootstrap (250 replicates) on N
experiments of the mean statistic at 3 and 5 seeds for comparison (slower: one bootstrap each).

Run: ``python benchmarks/sim_paired_coverage.py`` (about 2 minutes on one idle core at
the default 2000 experiments per cell). Prints an RST list-table for docs/guide/metrics.rst.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

from shapebias.metrics import paired_difference
from shapebias.metrics._crossed import (
    decompose_batch,
    generalized_p,
    generalized_variances,
    mean_squares,
    pseudo_values,
)

SEEDS = (2, 3, 5, 10)
ITEMS = 200
CONFIDENCES = (0.9, 0.95)
# (seed sd, shared image sd, independent image sd) on the probit scale.
SCENARIOS = {
    "seed only": (0.3, 0.0, 0.0),
    "shared image only": (0.0, 1.0, 0.0),
    "independent image only": (0.0, 0.0, 1.0),
    "all three": (0.3, 1.0, 1.0),
}
MU_STD, DIFFICULTY, EFFECT, CLEAN = 0.3, 0.5, 0.3, 0.8
_CHUNK = 250  # experiments per block of pivot draws (250 x 8192 floats)


def _population(mu: float, variance: float) -> float:
    return float(stats.norm.cdf(mu / math.sqrt(1.0 + variance)))


def _outcomes(rng, runs, seeds, sds, mu_at, ratio):
    """(at values, at den, std values, std den) as (R, S, N) float arrays."""
    seed_sd, shared_sd, independent_sd = sds
    hard = rng.normal(0.0, DIFFICULTY, (runs, 1, ITEMS))
    at_latent = (
        mu_at
        + hard
        + rng.normal(0.0, 1.0, (runs, seeds, 1)) * seed_sd
        + rng.normal(0.0, 1.0, (runs, 1, ITEMS)) * shared_sd
        + rng.normal(0.0, 1.0, (runs, seeds, ITEMS)) * independent_sd
    )
    shape = (runs, seeds, ITEMS)
    at = rng.random(shape) < stats.norm.cdf(at_latent)
    std = rng.random(shape) < stats.norm.cdf(MU_STD + hard)
    if not ratio:
        return at.astype(float), None, std.astype(float), None
    at_clean, std_clean = rng.random(shape) < CLEAN, rng.random(shape) < CLEAN
    return (
        (at & at_clean).astype(float),
        at_clean.astype(float),
        (std & std_clean).astype(float),
        std_clean.astype(float),
    )


def _pseudo(values, denominator):
    if denominator is None:
        return values
    flat = values.reshape(-1, values.shape[-1])
    den = denominator.reshape(flat.shape)
    sums = den.sum(axis=1)
    good = sums > 0  # a seed with nothing right on clean: practically never at N = 200
    out = np.full_like(flat, np.nan)
    out[good] = pseudo_values(flat[good], den[good])
    return out.reshape(values.shape)


def _cell(rng, runs, seeds, sds, ratio):
    """Coverage of the truth and rejections of a true null, per method and confidence."""
    variance = DIFFICULTY**2 + sum(sd**2 for sd in sds)
    truth = _population(MU_STD + EFFECT, variance) - _population(MU_STD, DIFFICULTY**2)
    null_mu = MU_STD * math.sqrt(1.0 + variance) / math.sqrt(1.0 + DIFFICULTY**2)
    results = {}
    for label, mu_at, target in (("coverage", MU_STD + EFFECT, truth), ("type I", null_mu, 0.0)):
        at, at_den, std, std_den = _outcomes(rng, runs, seeds, sds, mu_at, ratio)
        table = _pseudo(at, at_den) - _pseudo(std, std_den)
        table = table[~np.isnan(table).any(axis=(1, 2))]
        distance = np.abs(table.mean(axis=(1, 2)) - target)
        # The default (generalized pivot): the target is inside the interval exactly when
        # its p-value at that distance is >= 1 - confidence.
        p = np.concatenate(
            [
                generalized_p(
                    distance[i : i + _CHUNK],
                    generalized_variances(
                        mean_squares(table[i : i + _CHUNK])[1:], seeds, ITEMS, seed=0
                    ),
                )
                for i in range(0, len(table), _CHUNK)
            ]
        )
        _, se, df, *_ = decompose_batch(table)
        for confidence in CONFIDENCES:
            quantile = stats.t.ppf(0.5 + confidence / 2.0, df)
            with np.errstate(invalid="ignore"):
                satterthwaite = distance <= quantile * se
            for method, covered in (("generalized", p >= 1 - confidence), ("t", satterthwaite)):
                share = float(covered.mean())
                results[(method, label, confidence)] = share if label == "coverage" else 1 - share
    return results


def _nested(rng, runs, seeds, sds, ratio, confidence=0.9, num_bootstrap=250):
    variance = DIFFICULTY**2 + sum(sd**2 for sd in sds)
    truth = _population(MU_STD + EFFECT, variance) - _population(MU_STD, DIFFICULTY**2)
    at, at_den, std, std_den = _outcomes(rng, runs, seeds, sds, MU_STD + EFFECT, ratio)
    hits = 0
    for r in range(runs):
        extra = {}
        if ratio:
            extra = {"at_denominator": list(at_den[r]), "baseline_denominator": list(std_den[r])}
        d = paired_difference(
            list(at[r]),
            list(std[r]),
            confidence=confidence,
            num_bootstrap=num_bootstrap,
            seed=r,
            method="nested bootstrap",
            **extra,
        ).difference
        hits += d.low <= truth <= d.high
    return hits / runs


def _mc(p: float, runs: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="experiments per cell")
    parser.add_argument("--nested", type=int, default=0, help="experiments for the old method")
    args = parser.parse_args()
    rng = np.random.default_rng(20261207)
    start = time.perf_counter()
    rows = []
    for statistic in ("mean", "ratio"):
        for scenario, sds in SCENARIOS.items():
            for seeds in SEEDS:
                cell = _cell(rng, args.runs, seeds, sds, statistic == "ratio")
                nested = (
                    _nested(rng, args.nested, seeds, sds, statistic == "ratio")
                    if args.nested and seeds in (3, 5) and statistic == "mean"
                    else None
                )
                rows.append((statistic, scenario, seeds, cell, nested))
    elapsed = time.perf_counter() - start
    print(f"{args.runs} experiments per cell, {ITEMS} images, {elapsed:.0f} s\n")
    header = ["statistic", "design", "seeds", "coverage 90%", "coverage 95%",
              "type I at 10%", "type I at 5%", "Satterthwaite t: coverage 90% / 95%"]  # fmt: skip
    if args.nested:
        header.append("nested bootstrap: coverage 90%")
    print(".. list-table::\n   :header-rows: 1\n")
    print("\n".join(("   * - " if i == 0 else "     - ") + h for i, h in enumerate(header)))
    worst = {}
    for statistic, scenario, seeds, cell, nested in rows:
        values = [
            cell[("generalized", "coverage", 0.9)],
            cell[("generalized", "coverage", 0.95)],
            cell[("generalized", "type I", 0.9)],
            cell[("generalized", "type I", 0.95)],
        ]
        cells = [statistic, scenario, str(seeds)] + [
            f"{v:.3f} ± {_mc(v, args.runs):.3f}" for v in values
        ]
        t90, t95 = cell[("t", "coverage", 0.9)], cell[("t", "coverage", 0.95)]
        cells.append(f"{t90:.3f} / {t95:.3f}")
        if args.nested:
            cells.append("" if nested is None else f"{nested:.3f} ± {_mc(nested, args.nested):.3f}")
        print("\n".join(("   * - " if i == 0 else "     - ") + c for i, c in enumerate(cells)))
        where = (statistic, scenario, seeds)
        for name, shortfall in (
            ("generalized 90%", values[0] - 0.9),
            ("generalized 95%", values[1] - 0.95),
            ("Satterthwaite t 90%", t90 - 0.9),
            ("Satterthwaite t 95%", t95 - 0.95),
        ):
            worst[name] = min(worst.get(name, (1.0,)), (shortfall, where))
    print()
    for name, (shortfall, where) in worst.items():
        print(f"lowest coverage minus nominal, {name}: {shortfall:+.3f} at {where}")


if __name__ == "__main__":
    main()
