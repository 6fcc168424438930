"""Power of the reproduction's claims under the crossed interval: which design decides them.

Fixed beforehand: the smallest effect of interest is 3 points (0.03) of relative accuracy
or shape bias, AT minus standard, two-sided, family-wise alpha 0.05.

From the committed run (docs/_static/reproduce/full-2026-12-01/results.json, 3 seeds x 7
models, 1000 test images, 13 min on 2 cores) only *variance components* are taken, never
the effects:

* seed variance: the sample variance over seeds of the per-seed differences, pooled over
  the four AT configurations of a claim (4 x 2 = 8 degrees of freedom). It holds the
  training randomness plus the independent per-(seed, image) part (var(e) / 1000).
* image variance, per test image: the delta-method variance of each model's ratio from
  its counts (relative accuracy: r (1 - r) / clean accuracy; shape bias: b (1 - b) /
  cue-match share), summed over the two models with a between-model correlation rho of
  the per-image outcomes (rho = 0: no pairing benefit, the conservative bound; the two
  models see the same images and the AT model is fine-tuned from the standard one, so
  rho > 0 is expected, but results.json cannot measure it).
* which share of the image variance is *shared* across seeds is not identifiable from
  per-seed numbers; the planning case takes all of it as shared (the worst case: more
  seeds do not shrink it), so var(mean) = s2_seed / S + var_image / N.

Power of one row = the share of simulated experiments (1000 per cell, normal crossed
model at these planning values, true difference 3 points) in which the shipped
generalized-pivot p-value is <= alpha / m, m the size of the Holm family (the Bonferroni
level is Holm's first step, so this is a lower bound on Holm's power for a row).

Cost: per model and seed, training + evaluation CPU seconds from results.json's
timings (distortion evaluation scaled with the test-set size), plus the run's fixed cost,
turned into wall time on 2 cores with the run's own CPU/wall ratio.

Run: ``python benchmarks/power_paired.py`` (a second; prints the tables for
docs/guide/metrics.rst).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from shapebias.metrics._crossed import generalized_p, generalized_variances

RESULTS = (
    Path(__file__).resolve().parents[1] / "docs/_static/reproduce/full-2026-12-01/results.json"
)
EFFECT = 0.03
ALPHA = 0.05
BUDGET_WALL = 15 * 60
POWER_RUNS = 1000
AT_MODELS = ("pgd_linf_2", "pgd_linf_4", "pgd_l2", "fgsm_rs")
DECIDABLE = ("stylized", "saturated p=8", "saturated p=1024", "shuffled 2x2", "shape bias")


def _components(results, rho):
    """Per claim: (pooled seed variance, per-image variance of the paired difference)."""
    out = {}
    for claim in [*DECIDABLE, "shuffled 4x4", "low-pass"]:
        rows = [r for r in results["claims"] if r["claim"] == claim and r["model"] in AT_MODELS]
        per_seed = np.array([r["per_seed"] for r in rows])
        s2_seed = float(per_seed.var(axis=1, ddof=1).mean())
        image = []
        for r in rows:
            variances = []
            for name in (r["model"], "standard"):
                for entry in results["models"][name]:
                    variances.append(_item_variance(entry, claim))
            half = len(variances) // 2
            v_at, v_std = np.mean(variances[:half]), np.mean(variances[half:])
            image.append(v_at + v_std - 2 * rho * math.sqrt(v_at * v_std))
        out[claim] = (s2_seed, float(np.mean(image)))
    return out


def _item_variance(entry, claim):
    if claim == "shape bias":
        counts = entry["shape_bias"]
        decided = counts["shape_decisions"] + counts["texture_decisions"]
        share = decided / counts["conflict_images"]
        b = counts["shape_decisions"] / decided
        return b * (1 - b) / share
    accuracy = entry["distortion_accuracy"]
    clean = accuracy["clean"]["correct"] / accuracy["total"]
    r = accuracy["distortions"][claim]["relative"]["value"]
    return r * (1 - r) / clean


def _power(s2_seed, v_image, seeds, items, family, rng, runs=POWER_RUNS):
    """Share of experiments in which the shipped interval rejects at alpha / family.

    Under the normal crossed model the table enters the interval only through its grand
    mean and three independent mean squares, so those are drawn directly (the planning
    case: seed variance s2_seed, image variance v_image all shared, no residual) and fed
    to the library's generalized pivot (shapebias.metrics._crossed), as
    paired_difference does.
    """
    variance = s2_seed / seeds + v_image / items
    mean = EFFECT + rng.standard_normal(runs) * math.sqrt(variance)
    ms_seed = items * s2_seed * rng.chisquare(seeds - 1, runs) / (seeds - 1)
    ms_item = seeds * v_image * rng.chisquare(items - 1, runs) / (items - 1)
    ms_res = np.zeros(runs)
    p = np.concatenate(
        [
            generalized_p(
                np.abs(mean[c]),
                generalized_variances((ms_seed[c], ms_item[c], ms_res[c]), seeds, items, seed=0),
            )
            for c in (slice(i, i + 250) for i in range(0, runs, 250))
        ]
    )
    return float((p <= ALPHA / family).mean())


def _costs(results):
    """CPU seconds per (model, seed) at the run's test size, and the run's fixed cost."""
    per_model = {}
    for name, timing in results["time_breakdown"].items():
        evaluate = timing["evaluate_cpu_seconds"]
        per_model[name] = (
            timing["train_cpu_seconds"],
            evaluate["distortions"],
            sum(evaluate.values()),
        )
    seeds = len(results["seeds"])
    variable = seeds * sum(total + train for train, _, total in per_model.values())
    fixed = results["cpu_seconds"] - variable
    return per_model, max(fixed, 0.0), results["cpu_seconds"] / results["wall_seconds"]


def _wall(per_model, fixed, speedup, models, seeds, items, test_size, rendered):
    """Wall seconds of a design; extra test images also pay for their rendering, charged
    (an upper bound) at the run's whole fixed cost per rendered image."""
    cpu = fixed * (1 + max(items - test_size, 0) / rendered)
    for name in models:
        train, distortions, total = per_model[name]
        cpu += seeds * (train + total + distortions * (items / test_size - 1))
    return cpu / speedup


def main() -> None:
    results = json.loads(RESULTS.read_text())
    rng = np.random.default_rng(0)
    test_size = results["settings"]["test_size"]
    settings = results["settings"]
    rendered = settings["train_size"] + settings["validation_size"] + test_size
    per_model, fixed, speedup = _costs(results)
    print(f"fixed cost {fixed:.0f} CPU s; CPU/wall {speedup:.2f}; effect {EFFECT}; alpha {ALPHA}")
    for rho in (0.0, 0.5):
        print(f"\nvariance components (rho = {rho}): claim, seed sd, per-image sd (points)")
        for claim, (s2, v) in _components(results, rho).items():
            print(f"  {claim:18s} {100 * math.sqrt(s2):5.2f} {100 * math.sqrt(v):6.1f}")
    designs = [
        ("today: 4 AT + 2 controls, one family of 35", [*AT_MODELS, "shape_only", "underfit"], 35),
        ("4 AT + 2 controls, per claim (m = 5)", [*AT_MODELS, "shape_only", "underfit"], 5),
        ("4 AT, per claim (m = 4)", list(AT_MODELS), 4),
        ("2 AT (pgd_linf_4, pgd_l2), per claim (m = 2)", ["pgd_linf_4", "pgd_l2"], 2),
        ("1 AT (pgd_linf_4), per claim (m = 1)", ["pgd_linf_4"], 1),
    ]
    print("\ndesign | seeds | test images | wall min | power per claim (rho 0 / rho 0.5)")
    for label, models, family in designs:
        models = ["standard", *models]
        for items in (1000, 2000, 4000, 8000):
            best = None
            for seeds in range(2, 41):
                wall = _wall(per_model, fixed, speedup, models, seeds, items, test_size, rendered)
                if wall > BUDGET_WALL and seeds > 3:
                    break
                best = (seeds, wall)
                if label.startswith("today"):
                    best = (
                        3,
                        _wall(per_model, fixed, speedup, models, 3, items, test_size, rendered),
                    )
                    break
            seeds, wall = best
            powers = []
            for rho in (0.0, 0.5):
                comps = _components(results, rho)
                powers.append([_power(*comps[c], seeds, items, family, rng) for c in DECIDABLE])
            cells = ", ".join(
                f"{c.split()[0][:5]} {a:.2f}/{b:.2f}"
                for c, a, b in zip(DECIDABLE, *powers, strict=True)
            )
            print(f"{label} | {seeds} | {items} | {wall / 60:.1f} | {cells}")
            if label.startswith("today"):
                break


if __name__ == "__main__":
    main()
