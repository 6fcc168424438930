"""The cue-robustness map: when does adversarial training raise or lower shape bias?

Sweeps texture contrast x shape deformation (the dataset's shape-difficulty axis) x the
PGD-AT budget eps. In every cell and for every seed a standard ``small_cnn`` is trained
(the way ``reproduce_paper.py`` trains it; a cell's seeds as one stack) and a PGD-AT
model is fine-tuned *from that seed's standard model*; the cell's value is the per-seed
difference in cue-conflict shape bias, AT minus standard, summarised by its mean and
sign count. A cell is hatched where the AT models' shape bias is within noise of their
texture-blind null ``s / (s + (1 - s) / (K - 1))`` (``s`` = shape-only accuracy): there
the shape bias says only that the texture cue is gone, not that shape is used more.

All other dataset axes come from ``shapebias.data.CALIBRATED_AXES``. Every seed's
numbers go to ``OUT/map.json`` and the heat map to ``OUT/map.png``; ``docs/calibration.rst``
describes the committed run. Not a gallery example: a real sweep takes tens of minutes.

Usage::

    python examples/cue_robustness_map.py --out runs/map --seeds 3 --contrasts 0.03 0.06 0.1 \
        --deformations 0.2 --eps 2 4 --train-size 3000 --test-size 500   # committed row 1
    python examples/cue_robustness_map.py --out runs/map_d0 --seeds 3 --contrasts 0.03 0.06 \
        0.1 --deformations 0 --eps 2 4 --train-size 3000 --test-size 500 \
        --include runs/map/map.json                                      # row 2, added
    python examples/cue_robustness_map.py --quick       # < 60 s smoke run, not a result
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cue_experiment as ce

import shapebias
from shapebias.data import CALIBRATED_AXES, SHAPE_TEXTURE_AXES

log = logging.getLogger("cue_robustness_map")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="default runs/map (quick: runs/map_quick)"
    )
    parser.add_argument("--contrasts", type=float, nargs="+", default=[0.03, 0.1])
    parser.add_argument(
        "--deformations",
        type=float,
        nargs="+",
        default=None,
        help="default: 0 and CALIBRATED_AXES['shape_deformation']",
    )
    parser.add_argument("--eps", type=float, nargs="+", default=[2.0, 4.0], help="in /255")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, ...")
    parser.add_argument("--epochs", type=int, default=12, help="standard training epochs")
    parser.add_argument("--finetune-epochs", type=int, default=3, help="PGD-AT epochs")
    parser.add_argument("--train-size", type=int, default=800)
    parser.add_argument("--test-size", type=int, default=400)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a base axis of CALIBRATED_AXES (numbers; object_size as LOW,HIGH)",
    )
    parser.add_argument(
        "--include",
        type=Path,
        action="append",
        default=[],
        metavar="MAP_JSON",
        help="add the runs of an earlier map.json with the same training settings "
        "(extends a sweep by new cells without retraining the old ones)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, not a result")
    args = parser.parse_args(argv)
    for name in ("seeds", "epochs", "finetune_epochs", "train_size", "test_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if any(not 0 < e <= 32 for e in args.eps):
        parser.error(f"--eps values must be in (0, 32] (units of 1/255), got {args.eps}")
    args.base = _base_axes(parser, args.set)
    if args.deformations is None:
        args.deformations = sorted({0.0, float(CALIBRATED_AXES.get("shape_deformation", 0.0))})
    if args.quick:
        args.contrasts, args.deformations, args.eps = (
            args.contrasts[:2],
            args.deformations[:1],
            args.eps[:1],
        )
        args.seeds, args.epochs, args.finetune_epochs = 1, 1, 1
        args.train_size, args.test_size = 192, 64
    if args.out is None:
        args.out = Path("runs/map_quick" if args.quick else "runs/map")
    try:
        args.earlier = included_runs(args)
    except ValueError as error:
        parser.error(str(error))
    return args


def _base_axes(parser: argparse.ArgumentParser, assignments: list[str]) -> dict[str, Any]:
    """CALIBRATED_AXES with the ``--set`` overrides applied (checked by the dataset later)."""
    known = {axis.name: axis.default for axis in SHAPE_TEXTURE_AXES}
    base = dict(CALIBRATED_AXES)
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in known or not value:
            parser.error(
                f"--set takes NAME=VALUE with NAME one of {sorted(known)}, got {assignment!r}"
            )
        try:
            numbers = tuple(float(v) for v in value.split(","))
        except ValueError:
            parser.error(f"--set {name} takes a number (or LOW,HIGH), got {value!r}")
        base[name] = numbers if isinstance(known[name], tuple) else numbers[0]
    return base


# What must agree for runs of two sweeps to sit in one map (the cells may differ).
_SHARED_SETTINGS = ("epochs", "finetune_epochs", "train_size", "test_size", "quick")
_CELL_AXES = ("texture_contrast", "shape_deformation")


def included_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The per-seed records of every ``--include`` file, checked against this run's settings."""
    records = []
    for path in args.include:
        try:
            earlier = json.loads(path.read_text())
            settings, runs = earlier["settings"], earlier["runs"]
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"--include {path}: not a readable map.json ({error}).") from None
        mine = {name: getattr(args, name) for name in _SHARED_SETTINGS}
        theirs = {name: settings.get(name) for name in _SHARED_SETTINGS}
        base = {k: v for k, v in args.base.items() if k not in _CELL_AXES}
        their_base = {k: v for k, v in settings.get("base", {}).items() if k not in _CELL_AXES}
        if mine != theirs or json.loads(json.dumps(base)) != their_base:
            raise ValueError(
                f"--include {path} was run with other settings ({theirs}, base axes "
                f"{their_base}) than this run ({mine}, {base}); rerun it with this run's "
                "settings or drop --include."
            )
        records += runs
    planned = {
        (contrast, deformation, f"{eps:g}/255", seed)
        for contrast in args.contrasts
        for deformation in args.deformations
        for eps in args.eps
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    }
    twice = sorted(planned & {_run_key(record) for record in records})
    if twice:
        raise ValueError(
            f"--include holds runs (contrast, deformation, eps, seed) that this run makes "
            f"again: {twice}; drop those cells from the command or from --include."
        )
    return records


def _run_key(record: dict[str, Any]) -> tuple[float, float, str, int]:
    return (record["texture_contrast"], record["shape_deformation"], record["eps"], record["seed"])


def _cell_axes(base: dict[str, Any], contrast: float, deformation: float) -> dict[str, Any]:
    axes = dict(base)
    axes.update(texture_contrast=contrast, shape_deformation=deformation)
    return axes


def _json(models: Path, tag: str, args: argparse.Namespace) -> Path | None:
    return None if args.quick else models / f"{tag}.json"


def _caches(models: Path, tags: list[str], suffix: str, args: argparse.Namespace):
    return None if args.quick else [models / f"{tag}{suffix}.pt" for tag in tags]


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train and evaluate every (cell, seed); return one record per (cell, seed, eps).

    The seeds of a cell train together as one stack (``_cue_experiment.train_seeds``):
    first the standard models, then for each eps the PGD-AT models, each fine-tuned from
    its own seed's standard model.
    """
    budget = ce.Budget(
        train_size=args.train_size,
        test_size=args.test_size,
        width=8 if args.quick else 32,
        standard_epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
    )
    eps_list = tuple(e / 255 for e in args.eps)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    cells = [(c, d) for d in args.deformations for c in args.contrasts]
    records = []
    bar = tqdm(total=len(cells) * (1 + len(eps_list)), desc="stacks", disable=None)
    models = args.out / "models"
    for contrast, deformation in cells:
        axes = _cell_axes(args.base, contrast, deformation)
        datas = [ce.make_data(axes, seed, budget) for seed in seeds]
        tags = [f"c{contrast:g}_d{deformation:g}_seed{seed}" for seed in seeds]
        bar.set_postfix_str(f"standard c{contrast:g} d{deformation:g}")
        with ce.timed(f"standard c{contrast:g} d{deformation:g}, {len(seeds)} seeds stacked"):
            standard = ce.train_seeds(datas, seeds, budget, caches=_caches(models, tags, "", args))
        bar.update()
        before = [
            ce.evaluate(model, data, eps_list, budget, cache=_json(models, tag, args))
            for model, data, tag in zip(standard, datas, tags, strict=True)
        ]
        for eps in eps_list:
            suffix = f"_pgd{eps * 255:g}"
            bar.set_postfix_str(f"pgd {eps * 255:g}/255 c{contrast:g} d{deformation:g}")
            with ce.timed(f"pgd {eps * 255:g}/255 c{contrast:g} d{deformation:g}"):
                robust = ce.train_seeds(
                    datas, seeds, budget, starts=standard, eps=eps,
                    caches=_caches(models, tags, suffix, args),
                )  # fmt: skip
            bar.update()
            for seed, model, data, tag, start in zip(
                seeds, robust, datas, tags, before, strict=True
            ):
                after = ce.evaluate(
                    model, data, eps_list, budget, cache=_json(models, tag + suffix, args)
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
    bar.close()
    return records


def _mean(runs: list[dict[str, Any]], model: str, key: str) -> float:
    values = [r[model][key] for r in runs]
    return float(np.mean([v["value"] if isinstance(v, dict) else v for v in values]))


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (contrast, deformation, eps): mean delta-SB, sign count, and the null flag."""
    cells: dict[tuple[float, float, str], list[dict[str, Any]]] = {}
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


def plot(summary: list[dict[str, Any]], path: Path) -> None:
    """One heat-map panel per deformation: eps (rows) x contrast (columns), hatched at the null."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    deformations = sorted({s["shape_deformation"] for s in summary})
    contrasts = sorted({s["texture_contrast"] for s in summary})
    eps_values = sorted({s["eps"] for s in summary}, key=lambda e: float(e.split("/")[0]))
    limit = max(0.05, max(abs(s["mean_delta_shape_bias"]) for s in summary))
    figure, axes = plt.subplots(
        1,
        len(deformations),
        figsize=(3.2 * len(deformations) + 1.2, 2.8),
        squeeze=False,
        sharey=True,
    )
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
                    plt.Rectangle(
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
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the sweep, write ``map.json`` and ``map.png`` under ``--out``."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    with ce.timed("map") as timer:
        records = args.earlier + run(args)
    summary = summarise(records)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "smoke_run_not_a_result": args.quick,
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "earlier")},
        "base_axes": args.base,
        "seconds": round(timer.seconds, 1),
        "environment": shapebias.environment_record(),
        "cells": summary,
        "runs": records,
    }
    (args.out / "map.json").write_text(json.dumps(result, indent=1, default=str))
    plot(summary, args.out / "map.png")
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


if __name__ == "__main__":
    main()
