"""The cue-robustness map: when does adversarial training raise or lower shape bias?

Sweeps texture contrast x shape deformation x the PGD-AT budget. In every cell and for
every seed a standard ``small_cnn`` is trained (a cell's seeds as one stack) and a PGD-AT
model is fine-tuned from that seed's standard model; the cell's value is the per-seed
difference in cue-conflict shape bias, AT minus standard, with its mean and sign count.
A cell is hatched where most AT seeds' shape bias is within noise of their texture-blind
null ``s / (s + (1 - s) / (K - 1))``: there it says only that the texture cue is gone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import shapebias
from shapebias._matplotlib import matplotlib_module
from shapebias.experiments._cue import CueBudget, cue_data, evaluate_cues, train_cue_models

__all__ = ["MapSettings", "cue_robustness_map", "map_figure", "summarise_map"]

log = logging.getLogger("shapebias.experiments")

# What must agree for runs of two sweeps to sit in one map (the cells may differ).
SHARED_SETTINGS = ("epochs", "finetune_epochs", "train_size", "test_size", "quick")
CELL_AXES = ("texture_contrast", "shape_deformation")


@dataclasses.dataclass(frozen=True)
class MapSettings:
    """One sweep of the map.

    Attributes:
        contrasts, deformations: the cells' ``texture_contrast`` and ``shape_deformation``.
        eps: the PGD-AT budgets, pixel units.
        seeds, first_seed: seeds ``first_seed, ...`` per cell.
        epochs, finetune_epochs, train_size, test_size: the training budget.
        base: the other ShapeTextureDataset axes.
        quick: a smoke run (width 8, no caches), not a result.
    """

    contrasts: tuple[float, ...] = (0.03, 0.1)
    deformations: tuple[float, ...] = (0.0, 0.2)
    eps: tuple[float, ...] = (2 / 255, 4 / 255)
    seeds: int = 2
    first_seed: int = 0
    epochs: int = 12
    finetune_epochs: int = 3
    train_size: int = 800
    test_size: int = 400
    base: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    quick: bool = False

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "finetune_epochs", "train_size", "test_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
        if not self.eps or any(not 0 < e <= 1 for e in self.eps):
            raise ValueError(
                f"eps must hold budgets in (0, 1] (pixel units, e.g. 4/255), got {self.eps}."
            )
        if not self.contrasts or not self.deformations:
            raise ValueError("contrasts and deformations must each hold at least one value.")

    def record(self) -> dict[str, Any]:
        """The settings as ``map.json`` stores them (budgets in /255 units, as typed)."""
        return {
            "contrasts": list(self.contrasts),
            "deformations": list(self.deformations),
            "eps": [round(e * 255, 6) for e in self.eps],
            "seeds": self.seeds,
            "first_seed": self.first_seed,
            "epochs": self.epochs,
            "finetune_epochs": self.finetune_epochs,
            "train_size": self.train_size,
            "test_size": self.test_size,
            "quick": self.quick,
            "base": dict(self.base),
        }


def check_included(
    settings: MapSettings, earlier: Mapping[str, Any], path: Path
) -> list[dict[str, Any]]:
    """The per-seed records of an earlier ``map.json``, checked against ``settings``.

    Raises:
        ValueError: other training settings or base axes, or a run made again.
    """
    mine = settings.record()
    theirs_settings = earlier.get("settings", {})
    ours = {name: mine[name] for name in SHARED_SETTINGS}
    theirs = {name: theirs_settings.get(name) for name in SHARED_SETTINGS}
    base = {k: v for k, v in mine["base"].items() if k not in CELL_AXES}
    their_base = {k: v for k, v in theirs_settings.get("base", {}).items() if k not in CELL_AXES}
    if ours != theirs or json.loads(json.dumps(base)) != their_base:
        raise ValueError(
            f"--include {path} was run with other settings ({theirs}, base axes "
            f"{their_base}) than this run ({ours}, {base}); rerun it with this run's "
            "settings or drop --include."
        )
    records: list[dict[str, Any]] = list(earlier["runs"])
    planned = {
        (contrast, deformation, f"{eps * 255:g}/255", seed)
        for contrast in settings.contrasts
        for deformation in settings.deformations
        for eps in settings.eps
        for seed in range(settings.first_seed, settings.first_seed + settings.seeds)
    }
    twice = sorted(planned & {_run_key(record) for record in records})
    if twice:
        raise ValueError(
            f"--include holds runs (contrast, deformation, eps, seed) that this run makes "
            f"again: {twice}; drop those cells from the command or from --include."
        )
    return records


def _run_key(record: Mapping[str, Any]) -> tuple[float, float, str, int]:
    return (record["texture_contrast"], record["shape_deformation"], record["eps"], record["seed"])


def run_map(settings: MapSettings, out: Path, *, progress: bool = True) -> list[dict[str, Any]]:
    """Train and evaluate every (cell, seed); one record per (cell, seed, eps).

    The seeds of a cell train together as one stack: first the standard models, then for
    each eps the PGD-AT models, each fine-tuned from its own seed's standard model.
    Models and evaluations are cached in ``out/models`` (not for a quick run).
    """
    budget = CueBudget(
        train_size=settings.train_size,
        test_size=settings.test_size,
        width=8 if settings.quick else 32,
        standard_epochs=settings.epochs,
        finetune_epochs=settings.finetune_epochs,
    )
    seeds = list(range(settings.first_seed, settings.first_seed + settings.seeds))
    cells = [(c, d) for d in settings.deformations for c in settings.contrasts]
    records = []
    models = out / "models"

    def caches(tags: list[str], suffix: str) -> list[Path] | None:
        return None if settings.quick else [models / f"{tag}{suffix}.pt" for tag in tags]

    def cached(tag: str) -> Path | None:
        return None if settings.quick else models / f"{tag}.json"

    with tqdm(
        total=len(cells) * (1 + len(settings.eps)), desc="stacks", disable=not progress
    ) as bar:
        for contrast, deformation in cells:
            axes = {**settings.base, "texture_contrast": contrast, "shape_deformation": deformation}
            datas = [cue_data(axes, seed, budget) for seed in seeds]
            tags = [f"c{contrast:g}_d{deformation:g}_seed{seed}" for seed in seeds]
            bar.set_postfix_str(f"standard c{contrast:g} d{deformation:g}")
            standard = train_cue_models(datas, seeds, budget, caches=caches(tags, ""))
            bar.update()
            before = [
                evaluate_cues(model, data, settings.eps, budget, cache=cached(tag))
                for model, data, tag in zip(standard, datas, tags, strict=True)
            ]
            for eps in settings.eps:
                suffix = f"_pgd{eps * 255:g}"
                bar.set_postfix_str(f"pgd {eps * 255:g}/255 c{contrast:g} d{deformation:g}")
                robust = train_cue_models(
                    datas, seeds, budget, starts=standard, eps=eps, caches=caches(tags, suffix)
                )
                bar.update()
                for seed, model, data, tag, start in zip(
                    seeds, robust, datas, tags, before, strict=True
                ):
                    after = evaluate_cues(
                        model, data, settings.eps, budget, cache=cached(tag + suffix)
                    )
                    records.append(
                        {
                            "texture_contrast": contrast,
                            "shape_deformation": deformation,
                            "eps": f"{eps * 255:g}/255",
                            "seed": seed,
                            "standard": start,
                            "adversarial": after,
                            "delta_shape_bias": after["shape_bias"]["value"]
                            - start["shape_bias"]["value"],
                        }
                    )
    return records


def _mean(runs: Sequence[Mapping[str, Any]], model: str, key: str) -> float:
    values = [r[model][key] for r in runs]
    return float(np.mean([v["value"] if isinstance(v, dict) else v for v in values]))


def summarise_map(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (contrast, deformation, eps): mean delta-SB, sign count, and the null flag."""
    cells: dict[tuple[float, float, str], list[Mapping[str, Any]]] = {}
    for record in records:
        key = (record["texture_contrast"], record["shape_deformation"], record["eps"])
        cells.setdefault(key, []).append(record)
    summary = []
    for (contrast, deformation, eps), runs in cells.items():
        deltas = [r["delta_shape_bias"] for r in runs]
        at_null = [  # the AT model's null inside its 95 % bootstrap interval of shape bias
            r["adversarial"]["shape_bias"]["low"]
            <= r["adversarial"]["texture_blind_null"]
            <= r["adversarial"]["shape_bias"]["high"]
            for r in runs
        ]
        summary.append(
            {
                "texture_contrast": contrast,
                "shape_deformation": deformation,
                "eps": eps,
                "seeds": len(runs),
                "mean_delta_shape_bias": float(np.mean(deltas)),
                "higher": sum(d > 0 for d in deltas),
                "lower": sum(d < 0 for d in deltas),
                "at_within_null": sum(at_null),
                "standard_shape_bias": _mean(runs, "standard", "shape_bias"),
                "adversarial_shape_bias": _mean(runs, "adversarial", "shape_bias"),
                "adversarial_null": _mean(runs, "adversarial", "texture_blind_null"),
            }
        )
    return summary


def map_figure(summary: Sequence[Mapping[str, Any]], path: Path) -> None:
    """One heat-map panel per deformation: eps (rows) x contrast (columns), hatched at the null."""
    figure_class = matplotlib_module("matplotlib.figure").Figure
    rectangle = matplotlib_module("matplotlib.patches").Rectangle
    deformations = sorted({s["shape_deformation"] for s in summary})
    contrasts = sorted({s["texture_contrast"] for s in summary})
    eps_values = sorted({s["eps"] for s in summary}, key=lambda e: float(e.split("/")[0]))
    limit = max(0.05, max(abs(s["mean_delta_shape_bias"]) for s in summary))
    figure = figure_class(figsize=(3.2 * len(deformations) + 1.2, 2.8))
    axes = figure.subplots(1, len(deformations), squeeze=False, sharey=True)
    image = None
    for axis, deformation in zip(axes[0], deformations, strict=True):
        grid = np.full((len(eps_values), len(contrasts)), np.nan)
        for cell in (s for s in summary if s["shape_deformation"] == deformation):
            row, column = eps_values.index(cell["eps"]), contrasts.index(cell["texture_contrast"])
            grid[row, column] = cell["mean_delta_shape_bias"]
            text = (
                f"{cell['mean_delta_shape_bias']:+.2f}\n{cell['higher']}/{cell['seeds']} up\n"
                f"at null {cell['at_within_null']}/{cell['seeds']}"
            )
            axis.text(column, row, text, ha="center", va="center", fontsize=7)
            if 2 * cell["at_within_null"] > cell["seeds"]:
                axis.add_patch(
                    rectangle(
                        (column - 0.5, row - 0.5),
                        1,
                        1,
                        fill=False,
                        hatch="///",
                        edgecolor="0.3",
                        linewidth=0,
                    )
                )
        image = axis.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, origin="lower")
        axis.set_xticks(range(len(contrasts)), [f"{c:g}" for c in contrasts])
        axis.set_yticks(range(len(eps_values)), eps_values)
        axis.set_xlabel("texture_contrast")
        if axis is axes[0][0]:  # one label for the shared eps axis, clear of the next panel
            axis.set_ylabel("PGD-AT eps")
        axis.set_title(f"shape_deformation {deformation:g}", fontsize=9)
    figure.colorbar(image, ax=axes[0].tolist(), label="mean ΔSB (AT - standard)")
    figure.suptitle(
        "PGD-AT shape-bias change, seed-paired; /// = most AT seeds at their texture-blind null",
        fontsize=8,
    )
    figure.savefig(path, dpi=120, bbox_inches="tight")


def cue_robustness_map(
    settings: MapSettings,
    out: str | Path,
    *,
    include: Sequence[str | Path] = (),
    progress: bool = True,
) -> dict[str, Any]:
    """Run the sweep; write ``map.json`` (every seed's numbers) and ``map.png`` into ``out``.

    Args:
        settings: the sweep.
        out: the output folder (models and evaluations are cached in ``out/models``).
        include: earlier ``map.json`` files with the same training settings whose runs
            join this map (extends a sweep by new cells without retraining old ones).
        progress: show a progress bar.

    Returns:
        What ``map.json`` holds: settings, environment, the cells and every run.

    Raises:
        ValueError: an ``include`` file of other settings, unreadable, or repeating runs.
    """
    folder = Path(out)
    earlier: list[dict[str, Any]] = []
    for path in map(Path, include):
        try:
            previous = json.loads(path.read_text())
            previous["runs"]
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"--include {path}: not a readable map.json ({error}).") from None
        earlier += check_included(settings, previous, path)
    began = time.perf_counter()
    records = earlier + run_map(settings, folder, progress=progress)
    seconds = time.perf_counter() - began
    summary = summarise_map(records)
    folder.mkdir(parents=True, exist_ok=True)
    result = {
        "smoke_run_not_a_result": settings.quick,
        "settings": settings.record(),
        "base_axes": dict(settings.base),
        "seconds": round(seconds, 1),
        "environment": shapebias.environment_record(),
        "cells": summary,
        "runs": records,
    }
    (folder / "map.json").write_text(json.dumps(result, indent=1, default=str))
    map_figure(summary, folder / "map.png")
    for cell in summary:
        log.info(
            "contrast %g deformation %g eps %s: mean dSB %+.3f (%d/%d higher), AT at null in %d",
            cell["texture_contrast"],
            cell["shape_deformation"],
            cell["eps"],
            cell["mean_delta_shape_bias"],
            cell["higher"],
            cell["seeds"],
            cell["at_within_null"],
        )
    return result
