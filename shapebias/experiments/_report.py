"""A reproduction's report: ``results.md`` (the tables) and ``results.json`` (every number)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import shapebias
import shapebias.data
from shapebias.experiments._comparison import ClaimRow
from shapebias.experiments._evaluation import ModelResult
from shapebias.experiments._settings import Settings
from shapebias.experiments._tables import (
    Robustness,
    claims_table,
    controls_table,
    frequency_table,
    per_seed_numbers,
    robustness_table,
    timing_table,
)

__all__ = ["SMOKE_RUN_BANNER", "plain", "write_results"]

SMOKE_RUN_BANNER = (
    "> **Smoke run, not a result.** `--quick` trains tiny models for a few epochs to check "
    "that the pipeline runs; its numbers say nothing about the paper."
)


def plain(value: Any) -> Any:
    """NaN -> None everywhere (strict JSON), recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def claim_record(row: ClaimRow) -> dict[str, Any]:
    """One claim row as ``results.json`` stores it: the claim, every seed, p and verdict."""
    record: dict[str, Any] = {
        "model": row.model,
        "claim": row.claim.name,
        "statistic": row.claim.statistic,
        "expected": row.claim.expected,
        "paper": row.claim.paper,
        "reference_accuracy": list(row.reference_accuracy),
    }
    if row.difference is not None:
        record.update(row.difference.to_dict())
    record["p_holm"] = None if math.isnan(row.p_holm) else row.p_holm
    record["verdict"] = row.verdict
    if row.reason:
        record["reason"] = row.reason
    return record


def write_results(
    results: Mapping[str, Sequence[ModelResult]],
    rows: Sequence[ClaimRow],
    robust: Robustness,
    settings: Settings,
    context: Mapping[str, Any],
    out: Path,
) -> str:
    """Write ``results.md`` and ``results.json`` into ``out``; return the Markdown report."""
    num_classes = context["num_classes"]
    numbers = {
        name: [per_seed_numbers(r, num_classes) for r in per_seed]
        for name, per_seed in results.items()
    }
    calibrated = hasattr(shapebias.data, "CALIBRATED_AXES")
    parts = [SMOKE_RUN_BANNER] if context["smoke_run"] else []
    trained, evaluated = context["trained"], context["evaluated"]
    total = sum(len(per_seed) for per_seed in results.values())
    parts += [
        "# Zhang & Zhu (2019) reproduced with shapebias",
        f"shapebias {shapebias.__version__}, wall time {context['seconds']:.0f} s (CPU "
        f"{context['cpu_seconds']:.0f} s with the worker processes; {context['workers']} "
        f"worker(s)); this run trained {len(trained)} and evaluated {len(evaluated)} of the "
        f"{total} models (the rest from the folder's cache), seeds "
        f"{settings.seed_list()}, settings: `{json.dumps(settings.flat())}`, "
        f"dataset settings "
        f"({'calibrated defaults' if calibrated else 'axis defaults (no CALIBRATED_AXES)'}): "
        f"`{json.dumps(context['axes'])}`.",
        "## The paper's claims, seed-paired\n\n" + claims_table(rows, settings),
        "## Controls: accuracy and shape bias\n\n"
        + controls_table(numbers, settings, 1.0 / num_classes),
        "## Frequency: band eps index\n\n" + frequency_table(results, settings),
        "## Robust accuracy\n\n" + robustness_table(robust, settings, results),
        "## Where the time went\n\n" + timing_table(context["timing"]),
    ]
    report = "\n\n".join(parts)
    (out / "results.md").write_text(report + "\n")
    seeds = settings.seed_list()
    payload = {
        "smoke_run": context["smoke_run"],
        "settings": settings.flat(),
        "dataset_axes": context["axes"],
        "calibrated_axes": calibrated,
        "shapebias_version": shapebias.__version__,
        "environment": shapebias.environment_record(),
        "wall_seconds": context["seconds"],
        "cpu_seconds": context["cpu_seconds"],
        "time_breakdown": context["timing"],
        "trained": [list(pair) for pair in trained],
        "evaluated": [list(pair) for pair in evaluated],
        "seeds": seeds,
        "models": {
            name: [
                {"seed": seed, "training": context["metas"].get((name, seed), {}), **n}
                for seed, n in zip(seeds, per_seed, strict=True)
            ]
            for name, per_seed in numbers.items()
        },
        "claims": [claim_record(row) for row in rows],
        "robustness": {
            name: {
                f"{round(eps * 255)}/255": {k: v.to_dict() for k, v in entry.items()}
                for eps, entry in per_eps.items()
            }
            for name, per_eps in robust.items()
        },
    }
    (out / "results.json").write_text(json.dumps(plain(payload), indent=2, allow_nan=False) + "\n")
    return report
