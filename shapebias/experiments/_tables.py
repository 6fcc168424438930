"""The protocol's tables (Markdown) and its per-seed numbers (plain JSON-ready dicts)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from shapebias._markdown import markdown_table
from shapebias.experiments._comparison import SKIPPED, ClaimRow, Items, paired, seed_mean
from shapebias.experiments._evaluation import ModelResult
from shapebias.experiments._settings import Settings, StatisticsSettings
from shapebias.metrics import PairedDifference, texture_blind_null

__all__ = [
    "Robustness",
    "claims_table",
    "controls_table",
    "frequency_table",
    "per_seed_numbers",
    "robustness_summary",
    "robustness_table",
    "timing_table",
]

Robustness = dict[str, dict[float, dict[str, PairedDifference]]]


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}"


def _interval(difference: PairedDifference, *, signed: bool = False) -> str:
    e = difference.difference
    sign = "+" if signed and e.value > 0 else ""
    text = f"{sign}{_pct(e.value)}"
    if not math.isnan(e.low):
        text += f" [{_pct(e.low)}, {_pct(e.high)}]"
    return text


def _seed_summary(values: Sequence[float]) -> str:
    """Mean over seeds and the range of the seeds, in percent."""
    return f"{_pct(float(np.mean(values)))} ({_pct(min(values))}-{_pct(max(values))})"


def claims_table(
    rows: Sequence[ClaimRow],
    settings: Settings,
    *,
    baseline: str = "standard",
    note: str | None = None,
) -> str:
    """The claims table: one row per (model, claim), with the reading of its columns."""
    header = [
        "model",
        "claim",
        "paper",
        "statistic",
        baseline,
        "model value",
        f"model - {baseline} [interval]",
        "seeds",
        "p (Holm)",
        "verdict",
    ]
    if baseline == "standard":
        header[6] = "AT - standard [interval]"
    body = []
    for row in rows:
        claim, d = row.claim, row.difference
        verdict = row.verdict if d is not None else f"{SKIPPED}: {row.reason}"
        if d is None:
            body.append(
                [
                    row.model,
                    claim.name,
                    claim.paper,
                    claim.statistic,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    verdict,
                ]
            )
            continue
        p = row.p_holm
        body.append(
            [
                row.model,
                claim.name,
                claim.paper,
                claim.statistic,
                _pct(float(np.mean(d.baseline))),
                _pct(float(np.mean(d.at))),
                _interval(d, signed=True),
                d.sign_count,
                "-" if math.isnan(p) else f"{p:.3g}",
                verdict,
            ]
        )
    statistics = settings.statistics
    tested = [row for row in rows if not math.isnan(row.p_holm)]
    family = _family_text(tested, statistics)
    seeds = {row.difference.num_seeds for row in rows if row.difference is not None}
    seed_text = (
        f"{settings.seeds} seeds"
        if note is None
        else f"{', '.join(map(str, sorted(seeds)))} seed(s)"
    )
    text = markdown_table(header, body) + (
        f"\n\nPercent (percentage points for the difference). Each difference is the mean "
        f"over {seed_text} of (model - the {baseline} model of the same seed)"
    )
    text += (
        "; every AT model was fine-tuned from its own seed's standard model. "
        if note is None
        else f". {note} "
    )
    text += (
        f"Interval: {round(100 * statistics.confidence)}% crossed seeds x test images interval "
        f"(seed, shared-image and residual variance components, generalized pivotal quantity; "
        f"one seed: over test images only, training randomness not covered). p: the matching "
        f"two-sided p-value (at most 1 - confidence exactly when the interval excludes 0), "
        f"Holm-adjusted {family}. "
        f"Verdicts: *cannot discriminate* = the {baseline} model's accuracy on the test set "
        f"(for shape bias: either model's shape-only accuracy) within "
        f"{round(100 * statistics.floor)} points of chance or of 100% (saliency: the "
        f"{baseline} model's clean accuracy within that of chance; accuracy does not bound a "
        f"saliency metric, so there is no ceiling); *AT did not fit* = the "
        f"paired robust-accuracy gain at eps {round(statistics.fit_eps * 255)}/255 is not "
        f"clearly above {round(100 * statistics.min_robust_gain)} points; *no difference* = "
        f"not significant after Holm at this number of seeds and images."
    )
    if note is None:
        text += (
            " `underfit` is a control (standard training stopped at the AT models' clean "
            "accuracy), not a claim."
        )
    if 1 in seeds:
        text += (
            " A set of one model has no seed-to-seed variation to measure: its interval "
            "covers test images only."
        )
    return text


def _family_text(tested: Sequence[ClaimRow], statistics: StatisticsSettings) -> str:
    """What the Holm adjustment controls, in words, for the table's note."""
    alpha = statistics.alpha
    if statistics.holm_family == "table":
        return f"over the {len(tested)} rows that were tested together (alpha {alpha:g})"
    claims = len({row.claim.name for row in tested})
    anywhere = 1 - (1 - alpha) ** claims
    return (
        f"within each claim: the {len(tested)} tested rows form {claims} families, one per "
        f"claim, each at family-wise alpha {alpha:g} (a verdict is a statement about one "
        f"claim; over all {claims} claims the chance of some false verdict can reach "
        f"1 - (1 - {alpha:g})^{claims} = {anywhere:.2f})"
    )


def per_seed_numbers(result: ModelResult, num_classes: int) -> dict[str, Any]:
    """One model of one seed, as plain numbers (the JSON and the controls table)."""
    numbers: dict[str, Any] = {
        "timing": result.timing,
        "distortion_accuracy": result.accuracy,
        "shape_bias": result.shape_bias,
        "robust_accuracy": {
            f"{round(eps * 255)}/255": float(correct.double().mean())
            for eps, correct in result.robust.items()
        },
        # None: robust accuracy not measured, or evaluated before diagnostics were recorded
        "robust_diagnostics": None
        if result.robust_diagnostics is None
        else {
            f"{round(eps * 255)}/255": d.to_dict() for eps, d in result.robust_diagnostics.items()
        },
        "saliency": {
            key: float(np.nanmean(getattr(result, key).double().numpy()))
            for key in ("edge_alignment", "concentration")
            if getattr(result, key) is not None
        },
    }
    band, heat = result.band_index, result.heat_map
    if band is not None:
        numbers["band_eps_index"] = {
            "index": band.index if math.isfinite(band.index) else str(band.index),
            "low_first": band.low_first,
            **{k: getattr(band, k) for k in ("evaluated", "clean_correct", "censored_low")},
            "censored_high": band.censored_high,
        }
    if heat is not None:
        numbers["fourier_heat_map"] = {"eps": heat.eps, "error": heat.error.tolist()}
    for split in ("shape_only", "texture_only"):
        values = getattr(result, split)
        if values is not None:
            numbers[split] = float(values.double().mean())
    if "shape_only" in numbers:
        numbers["texture_blind_null"] = texture_blind_null(numbers["shape_only"], num_classes)
    return numbers


def controls_table(
    numbers: Mapping[str, Sequence[Mapping[str, Any]]], settings: Settings, chance: float
) -> str:
    """Shape bias always beside its texture-blind null, the cue-match share and the controls."""
    header = [
        "model",
        "clean",
        "shape-only",
        "texture-only",
        "shape bias",
        "texture-blind null",
        "cue match",
    ]
    body = []
    for name, per_seed in numbers.items():

        def column(
            get: Callable[[Mapping[str, Any]], float], seeds: Sequence[Mapping[str, Any]] = per_seed
        ) -> list[float]:
            return [get(n) for n in seeds]

        has_shape = "shape_only" in per_seed[0]
        shape_only = column(lambda n: n["shape_only"]) if has_shape else []
        at_chance = has_shape and float(np.mean(shape_only)) <= chance + settings.statistics.floor
        bias = column(lambda n: n["shape_bias"]["shape_bias"]["value"] or math.nan)
        body.append(
            [
                name,
                _seed_summary(
                    column(lambda n: n["distortion_accuracy"]["clean"]["accuracy"]["value"])
                ),
                _seed_summary(shape_only) if has_shape else "-",
                _seed_summary(column(lambda n: n["texture_only"])) if has_shape else "-",
                "n/a: shape-only at chance" if at_chance else _seed_summary(bias),
                _seed_summary(column(lambda n: n["texture_blind_null"])) if has_shape else "-",
                _seed_summary(column(lambda n: n["shape_bias"]["cue_match"]["value"])),
            ]
        )
    return markdown_table(header, body) + (
        f"\n\nPercent: mean over {settings.seeds} seeds (lowest-highest seed). Texture-blind "
        f"null: the shape bias of a model that ignores texture and has this shape-only "
        f"accuracy s, s / (s + (1 - s)/(K - 1)); a shape bias is about texture only where it "
        f"departs from it. Cue match: share of cue-conflict decisions that are the shape or "
        f"the texture class."
    )


def robustness_summary(
    results: Mapping[str, Sequence[ModelResult]], settings: Settings, baseline: str = "standard"
) -> Robustness:
    """Robust accuracy per model and eps, and its seed-paired gain over the baseline."""
    statistics, seed = settings.statistics, settings.seed
    table: Robustness = {}
    for name, per_seed in results.items():
        table[name] = {}
        for eps in settings.evaluation.robust_eps:
            items: Items = [(r.robust[eps], None) for r in per_seed]
            base: Items = [(r.robust[eps], None) for r in results[baseline]]
            table[name][eps] = {
                "accuracy": seed_mean(items, statistics, seed),
                "gain": paired(items, base, statistics, seed),
            }
    return table


def _attack_description(settings: Settings) -> str:
    evaluation = settings.evaluation
    if evaluation.eval_attack == "apgd":
        return (
            f"L-inf APGD-CE then APGD-T (DLR loss, up to 3 target classes), "
            f"{evaluation.eval_steps} iterations each (shapebias.attacks.auto_attack, "
            f"version='fast'; the paper's AutoAttack runs 100 and adds Square; APGD-CE alone "
            f"below four classes)"
        )
    return (
        f"L-inf PGD-{evaluation.eval_steps} with {evaluation.eval_restarts} random restart(s) "
        f"(step 2.5 eps / steps; an image counts as broken at the first iterate that fools "
        f"the model)"
    )


def _diagnostics_cell(
    name: str, per_seed: Sequence[ModelResult], seeds: Sequence[int]
) -> tuple[str, list[str]]:
    """A model's diagnostics column (over every seed and budget) and its notes."""
    pairs = list(zip(seeds, per_seed, strict=True))
    missing = [seed for seed, result in pairs if result.robust_diagnostics is None]
    notes, flagged = [], []
    for seed, result in pairs:
        for eps, d in sorted((result.robust_diagnostics or {}).items()):
            if d.suspect:
                notes.append(
                    f"{name}, seed {seed}, eps {round(eps * 255)}/255: {'; '.join(d.findings())}"
                )
                flagged.append(seed)
    parts = []
    if flagged:
        found = sorted(set(flagged))
        parts.append(f"SUSPECT in seed(s) {', '.join(map(str, found))} of {len(seeds)} (note)")
    if missing:
        parts.append(f"not recorded for seed(s) {', '.join(map(str, missing))}")
    return ("; ".join(parts) or f"clean ({len(seeds)}/{len(seeds)} seeds)"), notes


def robustness_table(
    robust: Robustness,
    settings: Settings,
    results: Mapping[str, Sequence[ModelResult]] | None = None,
) -> str:
    """Robust accuracy per model and budget, the gain over the standard model and, given
    the per-seed ``results``, each model's attack diagnostics over every seed and budget."""
    budgets = settings.evaluation.robust_eps
    epsilons = [f"{round(eps * 255)}/255" for eps in budgets]
    header = ["model", *[f"eps {e}" for e in epsilons], *[f"gain {e}" for e in epsilons]]
    if results is not None:
        header.append("diagnostics")
    body, notes = [], []
    for name, per_eps in robust.items():
        row = [
            name,
            *[_interval(per_eps[eps]["accuracy"]) for eps in budgets],
            *[
                "-" if name == "standard" else _interval(per_eps[eps]["gain"], signed=True)
                for eps in budgets
            ],
        ]
        if results is not None:
            cell, found = _diagnostics_cell(name, results[name], settings.seed_list())
            row.append(cell)
            notes += found
        body.append(row)
    text = markdown_table(header, body) + (
        f"\n\nRobust accuracy (percent) on the first {settings.evaluation.robust_size} test "
        f"images under {_attack_description(settings)}, mean over seeds "
        f"with the crossed interval; gain: seed-paired difference to the standard model "
        f"(points)."
    )
    if results is None:
        return text
    text += (
        " Diagnostics (shapebias.attacks.Diagnostics, per seed and budget, over the images "
        "attacked there): a zero or non-finite input gradient of a correctly classified "
        "image at the clean point or at the first attack's random start, black-box "
        "breaks, disagreements between the attacks' bookkeeping and the verified "
        "re-classification; *clean*: none fired for any seed or budget, so no sign that "
        "the attack failed (an attack can still be too weak: it is an upper bound). See "
        "the attacks guide, 'Can I trust this robust accuracy?'."
    )
    if notes:
        text += "\n\nSuspect evaluations:\n\n" + "\n".join(f"- {note}" for note in notes)
    return text


def _signed(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.2f}"


def _any_shared(a: Items, b: Items) -> bool:
    """Whether every seed has an item that is a number in both ``a`` and ``b``."""
    return all(bool((~(x.isnan() | y.isnan())).any()) for (x, _), (y, _) in zip(a, b, strict=True))


def _low_first(results: Sequence[ModelResult]) -> Items:
    items: Items = []
    for result in results:
        if result.low_first is None:
            raise KeyError("low_first")
        items.append((result.low_first, None))
    return items


def frequency_table(results: Mapping[str, Sequence[ModelResult]], settings: Settings) -> str:
    """The band eps index per model, and its seed-paired low-first share against standard."""
    evaluation, statistics, seed = settings.evaluation, settings.statistics, settings.seed
    header = [
        "model",
        "band index per seed",
        "low-first share",
        "model - standard [interval]",
        "seeds",
    ]
    body = []
    standard = _low_first(results["standard"])
    for name, per_seed in results.items():
        indices = ", ".join(
            _signed(r.band_index.index) for r in per_seed if r.band_index is not None
        )
        own = _low_first(per_seed)
        row = [name, indices, "-", "-", "-"]  # "-": a seed with no image fooled in a band
        if _any_shared(own, own):
            row[2] = _interval(seed_mean(own, statistics, seed))
        if name != "standard" and _any_shared(own, standard):
            d = paired(own, standard, statistics, seed)
            row[3:] = [_interval(d, signed=True), d.sign_count]
        body.append(row)
    return markdown_table(header, body) + (
        f"\n\nOn the first {evaluation.frequency_images} test images: per image, the smallest "
        f"L2 budget of band-limited PGD ({evaluation.band_steps} steps per bisection round, "
        f"the default grid of shapebias.frequency.default_eps_grid) that fools the model "
        f"through the low band [0, {evaluation.band_split:g}) or the high band "
        f"[{evaluation.band_split:g}, Nyquist] cycles per image. Band index: median of "
        f"log(eps_high / eps_low) (> 0: fooled more cheaply through low frequencies, the "
        f"side Yin et al. 2019 find adversarial training moves models to). Low-first share: "
        f"images fooled on a smaller budget in the low band (ties half), percent, mean over "
        f"seeds with the crossed interval; the difference is seed-paired. Not one of "
        f"the paper's claims, so not in the Holm family."
    )


def time_breakdown(
    results: Mapping[str, Sequence[ModelResult]], metas: Mapping[tuple[str, int], Mapping[str, Any]]
) -> dict[str, Any]:
    """CPU seconds per model (mean over seeds): training, and each evaluation part."""
    table: dict[str, Any] = {}
    for name, per_seed in results.items():
        parts: dict[str, float] = {}
        for result in per_seed:
            for part, seconds in result.timing["cpu_seconds"].items():
                parts[part] = parts.get(part, 0.0) + seconds / len(per_seed)
        trained = [m.get("train_cpu_seconds", math.nan) for (n, _), m in metas.items() if n == name]
        table[name] = {
            "train_cpu_seconds": float(np.mean(trained)) if trained else math.nan,
            "stacked": any("stacked_seeds" in m for (n, _), m in metas.items() if n == name),
            "evaluate_cpu_seconds": parts,
        }
    return table


def timing_table(breakdown: Mapping[str, Any]) -> str:
    """The CPU-time breakdown as a Markdown table (per model, mean over seeds)."""
    rows = breakdown.values()
    parts = list(dict.fromkeys(p for row in rows for p in row["evaluate_cpu_seconds"]))
    header = ["model", "train", "stacked", *parts, "evaluation total"]
    body = [
        [
            name,
            f"{row['train_cpu_seconds']:.1f}",
            "yes" if row["stacked"] else "no",
            *[f"{row['evaluate_cpu_seconds'].get(p, 0.0):.1f}" for p in parts],
            f"{sum(row['evaluate_cpu_seconds'].values()):.1f}",
        ]
        for name, row in breakdown.items()
    ]
    return markdown_table(header, body) + (
        "\n\nCPU seconds per model and seed (time.process_time of the whole process, all "
        "threads), mean over seeds; a stacked model's training is its stack's CPU time "
        "divided by the number of seeds. A cached model or evaluation shows its original "
        "time. On a shared machine CPU time is the steadier measure; wall time is in the "
        "header."
    )
