"""The dataset calibration: which ShapeTextureDataset setting hosts the paper's question?

For each setting of a small grid (:data:`CALIBRATION_GRID`) and each seed, a standard
``small_cnn`` is trained the way :func:`reproduce` trains its standard model and measured
against :class:`CalibrationTargets`: cue-conflict shape bias (texture-biased like an
ImageNet CNN), shape-only accuracy (the shape is learnable), texture-only accuracy under
PGD (the texture is erasable) and, since 2026-12-07, the floors (the standard model is off
chance on 4x4 patch-shuffled and on low-passed test images). No adversarially trained model
is trained. Every run is appended as one JSON line to ``calibration.jsonl`` (a rerun skips
the (setting, seed) pairs recorded there); :func:`summarise_calibration` takes the seed
means and applies the decision rule. ``docs/calibration.rst`` records the committed run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import shapebias
from shapebias._markdown import markdown_table
from shapebias._validation import check_bool, check_int
from shapebias.data import SHAPE_TEXTURE_AXES
from shapebias.distortions import LowPass, PatchShuffle
from shapebias.experiments._cue import CueBudget, cue_data, evaluate_cues, train_cue_models

__all__ = [
    "CALIBRATION_GRID",
    "CalibrationTargets",
    "calibrate",
    "calibration_table",
    "read_calibration_records",
    "summarise_calibration",
]

log = logging.getLogger("shapebias.experiments")

RECORDS = "calibration.jsonl"
RESULT = "calibration.json"
TABLES = "calibration.md"

# The grid's axes are written out as they were run (not derived from CALIBRATED_AXES,
# which the floors calibration itself later changed), so the names keep their meaning.
_HARD_SHAPE: dict[str, Any] = {
    "texture_correlation": 1.0,
    "texture_cycles": 8.0,
    "shape_deformation": 0.2,
    "occlusion": 0.25,
}
# CALIBRATED_AXES of 2026-12-01 (= hard_shape_c0.06_no_occlusion with object_size spelled
# out): the base of the floors grid.
_CHOSEN_2026_12_01: dict[str, Any] = {
    "texture_correlation": 1.0,
    "texture_contrast": 0.06,
    "texture_cycles": 8.0,
    "object_size": (0.28, 0.45),
    "shape_deformation": 0.2,
    "occlusion": 0.0,
}

CALIBRATION_GRID: Mapping[str, Mapping[str, Any]] = {
    "reproduction": {"texture_correlation": 0.8, "texture_contrast": 0.06},
    "hard_shape_c0.06": {"texture_contrast": 0.06, **_HARD_SHAPE},
    "hard_shape_c0.1": {"texture_contrast": 0.1, **_HARD_SHAPE},
    "hard_shape_c0.06_no_occlusion": {"texture_contrast": 0.06, **_HARD_SHAPE, "occlusion": 0.0},
    "calibrated_cycles16": {**_CHOSEN_2026_12_01, "texture_cycles": 16.0},
    **{
        f"calibrated_background{m:g}": {**_CHOSEN_2026_12_01, "background_match": m}
        for m in (0.25, 0.5, 1.0)
    },
}
"""The calibration grid: setting name -> :class:`~shapebias.data.ShapeTextureDataset` axes
(the other axes at their defaults), in the order the tables list them.

The first four settings (2026-12-01) chose texture and shape difficulty; the last four
(2026-12-07, the floors) each change one axis of the setting then chosen
(``hard_shape_c0.06_no_occlusion``): a finer texture (``texture_cycles`` 16) or the
fill's texture family on the background too (``background_match``). The axes are the
ones recorded in ``docs/_static/map/calibration-2026-12-07.json``."""


@dataclasses.dataclass(frozen=True)
class CalibrationTargets:
    """The calibration's targets, as margins over chance (``1 / num_classes``).

    Attributes:
        max_shape_bias: target 1, texture-biased like ImageNet CNNs: cue-conflict shape
            bias at most this (Geirhos et al. 2019 measure about 0.22).
        min_shape_margin: target 2, the shape is learnable: shape-only accuracy at least
            chance + this.
        max_erased_margin: target 3, the texture is erasable: texture-only accuracy under
            PGD at every budget of ``eps`` at most chance + this.
        eps: the PGD budgets of target 3, pixel units.
        min_floor_margin: the floors: the standard model's accuracy on the
            ``shuffle_floor_grid`` patch-shuffled test split, and on a low-passed one, at
            least chance + this.
        shuffle_grids: the patch-shuffle grids measured (the test set ``"shuffled GxG"``).
        shuffle_floor_grid: the grid whose accuracy decides the shuffle floor.
        low_pass_sigmas: the low-pass blurs measured (``"low-pass SIGMA"``); the rule
            takes the largest that meets the floor.
    """

    max_shape_bias: float = 0.35
    min_shape_margin: float = 0.15
    max_erased_margin: float = 0.10
    eps: tuple[float, ...] = (2 / 255, 4 / 255)
    min_floor_margin: float = 0.10
    shuffle_grids: tuple[int, ...] = (2, 4, 8)
    shuffle_floor_grid: int = 4
    low_pass_sigmas: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 1.0)

    def __post_init__(self) -> None:
        for name in ("max_shape_bias", "min_shape_margin", "max_erased_margin"):
            _check_share(getattr(self, name), name)
        _check_share(self.min_floor_margin, "min_floor_margin")
        if not self.eps or not all(_is_real(e) and 0 < e <= 1 for e in self.eps):
            raise ValueError(
                f"eps must hold PGD budgets in (0, 1] (pixel units, e.g. 4/255), got {self.eps}."
            )
        if not all(isinstance(g, int) and g >= 1 for g in self.shuffle_grids):
            raise ValueError(f"shuffle_grids must hold ints >= 1, got {self.shuffle_grids}.")
        if self.shuffle_floor_grid not in self.shuffle_grids:
            raise ValueError(
                f"shuffle_floor_grid must be one of shuffle_grids {self.shuffle_grids}, got "
                f"{self.shuffle_floor_grid!r}; add it to shuffle_grids."
            )
        if not all(_is_real(s) and s > 0 for s in self.low_pass_sigmas):
            raise ValueError(
                f"low_pass_sigmas must hold blurs > 0 (pixels), got {self.low_pass_sigmas}."
            )

    @property
    def shuffle_test(self) -> str:
        """The name of the test set that decides the shuffle floor (``"shuffled 4x4"``)."""
        return _shuffled(self.shuffle_floor_grid)

    def distortions(self) -> dict[str, PatchShuffle | LowPass]:
        """The floors' test sets: test-set name -> distortion, as the records name them."""
        return {
            **{_shuffled(grid): PatchShuffle(grid) for grid in self.shuffle_grids},
            **{_low_pass(sigma): LowPass(sigma=sigma) for sigma in self.low_pass_sigmas},
        }

    def measured(self) -> dict[str, Any]:
        """What decides a run's numbers (not the thresholds): budgets and test sets."""
        return {
            "eps": [f"{e * 255:g}/255" for e in self.eps],
            "distorted": list(self.distortions()),
        }


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_share(value: Any, name: str) -> None:
    if not (_is_real(value) and 0 <= value <= 1):
        raise ValueError(f"{name} must be a number in [0, 1] (a share or margin), got {value!r}.")


def _shuffled(grid: int) -> str:
    return f"shuffled {grid}x{grid}"


def _low_pass(sigma: float) -> str:
    return f"low-pass {sigma:g}"


def check_grid(grid: Any) -> dict[str, dict[str, Any]]:
    """A grid (name -> ShapeTextureDataset axes) as plain dicts, every axis name checked.

    Raises:
        ValueError: an empty grid, a name that is not a string, or an unknown axis.
    """
    known = [axis.name for axis in SHAPE_TEXTURE_AXES]
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            f"grid must map setting names to ShapeTextureDataset axes, got {grid!r}; e.g. "
            '{"contrast0.1": {"texture_contrast": 0.1}}.'
        )
    checked = {}
    for name, axes in grid.items():
        if not isinstance(name, str) or not isinstance(axes, Mapping):
            raise ValueError(
                f"grid must map setting names (str) to axes (a mapping), got {name!r}: {axes!r}."
            )
        unknown = sorted(set(axes) - set(known))
        if unknown:
            raise ValueError(
                f"grid[{name!r}] sets {unknown}, which are not ShapeTextureDataset axes; "
                f"use axes of {known}."
            )
        checked[name] = dict(axes)
    return checked


def _check_settings(settings: Iterable[str] | None, grid: Mapping[str, Any]) -> list[str]:
    if settings is None:
        return list(grid)
    if isinstance(settings, str):
        raise ValueError(f"settings must be a list of setting names, got the string {settings!r}.")
    chosen = list(settings)
    unknown = [name for name in chosen if name not in grid]
    if unknown or not chosen:
        raise ValueError(
            f"settings must name settings of the grid ({', '.join(grid)}), got {chosen}"
            + (f" (unknown: {unknown})." if unknown else ".")
        )
    return list(dict.fromkeys(chosen))


def append_record(path: Path, record: Mapping[str, Any]) -> None:
    """Append one JSON line (a run survives an interruption of the sweep)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def read_calibration_records(path: str | Path) -> list[dict[str, Any]]:
    """The runs of a ``calibration.jsonl`` file, in file order (none when it is missing).

    Args:
        path: the ``calibration.jsonl`` that :func:`calibrate` appends to.

    Returns:
        One dict per run: ``setting``, ``axes``, ``seed``, the numbers of
        :func:`evaluate_cues` and ``seconds``.

    Raises:
        ValueError: a line that is not JSON (say which, so it can be removed).

    Example:
        >>> read_calibration_records("no/such/calibration.jsonl")
        []
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as error:
            raise ValueError(
                f"{path} line {number} is not a JSON record ({error}); an interrupted write? "
                "Delete that line and rerun: the run it held is made again."
            ) from None
    return records


def summarise_calibration(
    records: Sequence[Mapping[str, Any]],
    num_classes: int,
    targets: CalibrationTargets | None = None,
) -> dict[str, dict[str, Any]]:
    """Per setting: the seed means, which targets they meet, the shortfall and the floors.

    The shortfall is the summed distance, in accuracy or shape-bias points, by which the
    seed means miss targets 1-3 (0 when all are met); the rule picks a setting that meets
    all three, else the one with the smallest shortfall. The floors: whether the
    shuffled test set's mean is at least chance + ``min_floor_margin``, and the largest
    low-pass blur whose mean is (``None`` when none is).

    Args:
        records: runs as :func:`read_calibration_records` gives them (any order; a
            setting's seeds keep the order they come in).
        num_classes: the number of classes (chance is ``1 / num_classes``).
        targets: the targets (default :class:`CalibrationTargets`).

    Returns:
        setting -> ``axes``, ``distorted`` (test set -> mean accuracy), ``low_pass_sigma``,
        ``shuffle_floor_met``, ``seeds``, ``shape_bias``, ``shape_only_accuracy``,
        ``texture_only_accuracy``, ``texture_only_pgd`` (budget -> mean accuracy),
        ``targets_met`` (``shape_bias``, ``shape_only``, ``texture_erased`` -> bool) and
        ``shortfall``, in the order the settings first appear.

    Raises:
        ValueError: ``num_classes`` under 2.

    Example:
        >>> run = {"setting": "a", "axes": {}, "seed": 0, "shape_bias": {"value": 0.3},
        ...        "shape_only_accuracy": 0.5, "texture_only_accuracy": 0.9,
        ...        "texture_only_pgd": {"2/255": 0.2}}
        >>> cell = summarise_calibration([run], num_classes=4)["a"]
        >>> cell["targets_met"], cell["shortfall"]
        ({'shape_bias': True, 'shape_only': True, 'texture_erased': True}, 0.0)
    """
    check_int(num_classes, "num_classes", low=2)
    targets = CalibrationTargets() if targets is None else targets
    chance = 1 / num_classes
    floor = chance + targets.min_floor_margin
    summary = {}
    for name in dict.fromkeys(r["setting"] for r in records):
        runs = [r for r in records if r["setting"] == name]
        bias = float(np.mean([r["shape_bias"]["value"] for r in runs]))
        skill = float(np.mean([r["shape_only_accuracy"] for r in runs]))
        erased = {
            eps: float(np.mean([r["texture_only_pgd"][eps] for r in runs]))
            for eps in runs[0]["texture_only_pgd"]
        }
        misses = {
            "shape_bias": max(0.0, bias - targets.max_shape_bias),
            "shape_only": max(0.0, chance + targets.min_shape_margin - skill),
            "texture_erased": max(0.0, max(erased.values()) - chance - targets.max_erased_margin),
        }
        distorted = {
            test: float(np.mean([r["distorted"][test] for r in runs]))
            for test in runs[0].get("distorted", {})
        }
        sigmas = [s for s in targets.low_pass_sigmas if distorted.get(_low_pass(s), 0) >= floor]
        summary[name] = {
            "axes": runs[0]["axes"],
            "distorted": distorted,
            "low_pass_sigma": max(sigmas, default=None),
            "shuffle_floor_met": distorted.get(targets.shuffle_test, 0) >= floor,
            "seeds": [r["seed"] for r in runs],
            "shape_bias": bias,
            "shape_only_accuracy": skill,
            "texture_only_accuracy": float(np.mean([r["texture_only_accuracy"] for r in runs])),
            "texture_only_pgd": erased,
            "targets_met": {k: v == 0 for k, v in misses.items()},
            "shortfall": sum(misses.values()),
        }
    return summary


def calibration_table(result: Mapping[str, Any], targets: CalibrationTargets | None = None) -> str:
    """The runs and the per-setting summary of a ``calibration.json``, as Markdown tables.

    Args:
        result: what :func:`calibrate` returns (or ``calibration.json`` holds):
            ``budget`` (for the number of classes), ``summary`` and ``runs``.
        targets: the targets the column heads quote (default :class:`CalibrationTargets`).

    Returns:
        Two Markdown tables: every run, then the seed means against the targets.

    Example:
        >>> run = {"setting": "a", "axes": {}, "seed": 0, "shape_bias": {"value": 0.3},
        ...        "shape_only_accuracy": 0.5, "texture_only_accuracy": 0.9,
        ...        "texture_only_pgd": {"2/255": 0.2}, "clean_accuracy": 0.95}
        >>> summary = summarise_calibration([run], num_classes=4)
        >>> text = calibration_table({"budget": {"num_classes": 4}, "summary": summary,
        ...                           "runs": [run]})
        >>> print(text.splitlines()[2])
        | a | 0 | 0.30 | 0.50 | 0.90 | 0.20 | 0.95 |
    """
    targets = CalibrationTargets() if targets is None else targets
    chance = 1 / result["budget"]["num_classes"]
    runs, summary = result["runs"], result["summary"]
    budgets = list(dict.fromkeys(b for r in runs for b in r["texture_only_pgd"]))
    tests = list(dict.fromkeys(t for r in runs for t in r.get("distorted", {})))
    run_rows = [
        [
            r["setting"],
            str(r["seed"]),
            f"{r['shape_bias']['value']:.2f}",
            f"{r['shape_only_accuracy']:.2f}",
            f"{r['texture_only_accuracy']:.2f}",
            *(_number(r["texture_only_pgd"].get(b)) for b in budgets),
            f"{r['clean_accuracy']:.2f}",
            *(_number(r.get("distorted", {}).get(t)) for t in tests),
        ]
        for r in runs
    ]
    run_head = ["setting", "seed", "shape bias", "shape-only", "texture-only",
                *(f"texture-only, PGD {b}" for b in budgets), "clean",
                *tests]  # fmt: skip
    floor = chance + targets.min_floor_margin
    setting_rows = [
        [
            name,
            ", ".join(map(str, cell["seeds"])),
            f"{cell['shape_bias']:.3f}",
            f"{cell['shape_only_accuracy']:.3f}",
            f"{max(cell['texture_only_pgd'].values()):.3f}",
            ", ".join(k for k, v in cell["targets_met"].items() if v) or "none",
            f"{cell['shortfall']:.3f}",
            "yes" if cell["shuffle_floor_met"] else "no",
            "-" if cell["low_pass_sigma"] is None else f"{cell['low_pass_sigma']:g}",
        ]
        for name, cell in summary.items()
    ]
    setting_head = [
        "setting",
        "seeds",
        f"shape bias (<= {targets.max_shape_bias:.2f})",
        f"shape-only (>= {chance + targets.min_shape_margin:.2f})",
        f"texture-only under PGD, worst (<= {chance + targets.max_erased_margin:.2f})",
        "targets met",
        "shortfall",
        f"{targets.shuffle_test} >= {floor:.2f}",
        f"largest low-pass sigma >= {floor:.2f}",
    ]
    return markdown_table(run_head, run_rows) + "\n\n" + markdown_table(setting_head, setting_rows)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _run_line(record: Mapping[str, Any]) -> str:
    pgd = " ".join(f"{k}:{v:.2f}" for k, v in record["texture_only_pgd"].items())
    return (
        f"{record['setting']} seed {record['seed']}: shape bias "
        f"{record['shape_bias']['value']:.2f}, shape-only {record['shape_only_accuracy']:.2f}, "
        f"texture-only {record['texture_only_accuracy']:.2f} (under PGD {pgd}), clean "
        f"{record['clean_accuracy']:.2f}"
    )


@dataclasses.dataclass(frozen=True)
class _Sweep:
    """What decides a sweep's records: the grid's axes, the budget and the targets."""

    grid: Mapping[str, Mapping[str, Any]]
    budget: CueBudget
    targets: CalibrationTargets

    def check_folder(self, folder: Path, records: Sequence[Mapping[str, Any]]) -> None:
        """Refuse to resume a folder whose runs were made with another budget, test sets or
        axes (their numbers would be averaged with this sweep's)."""
        if not records:
            return
        path = folder / RESULT
        if path.exists():
            earlier = json.loads(path.read_text())
            ours = dataclasses.asdict(self.budget)
            differ = {
                key: f"{value} there, {ours.get(key)} here"
                for key, value in earlier.get("budget", {}).items()
                if ours.get(key) != value
            }
            if differ:
                raise ValueError(
                    f"out {folder} holds runs of another budget ({differ}); give another out "
                    "folder (a --quick run writes runs/calibration_quick)."
                )
            measured = earlier.get("targets", {}).get("measured")
            if measured is not None and measured != self.targets.measured():
                raise ValueError(
                    f"out {folder} holds runs measured at {measured}, this run measures "
                    f"{self.targets.measured()}; give another out folder."
                )
        for record in records:
            axes = self.grid.get(record["setting"])
            if axes is not None and json.loads(json.dumps(axes)) != record["axes"]:
                raise ValueError(
                    f"out {folder} holds a run of {record['setting']!r} with axes "
                    f"{record['axes']}, but the grid gives it {dict(axes)}; give another out "
                    "folder or another setting name."
                )

    def write(
        self, folder: Path, records: Sequence[Mapping[str, Any]], environment: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Write ``calibration.json`` and ``.md`` for ``records`` (grid order, then seed)."""
        order = list(self.grid)
        runs = sorted(
            records,
            key=lambda r: (
                order.index(r["setting"]) if r["setting"] in self.grid else len(order),
                r["seed"],
            ),
        )
        result = {
            "budget": dataclasses.asdict(self.budget),
            "environment": dict(environment),
            "targets": {**dataclasses.asdict(self.targets), "measured": self.targets.measured()},
            "summary": summarise_calibration(runs, self.budget.num_classes, self.targets),
            "runs": runs,
        }
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RESULT).write_text(json.dumps(result, indent=1))
        (folder / TABLES).write_text(calibration_table(result, self.targets) + "\n")
        return result


def calibrate(
    out: str | Path,
    *,
    settings: Iterable[str] | None = None,
    seeds: int = 2,
    first_seed: int = 0,
    budget: CueBudget | None = None,
    grid: Mapping[str, Mapping[str, Any]] | None = None,
    targets: CalibrationTargets | None = None,
    cache_models: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the calibration sweep; write ``calibration.jsonl``, ``.json`` and ``.md`` to ``out``.

    Every (setting, seed) not yet in ``out/calibration.jsonl`` trains one standard model
    (:func:`train_cue_models`), is measured (:func:`evaluate_cues` with the floors' test
    sets) and is appended there at once, so an interrupted sweep resumes where it
    stopped. ``calibration.json`` then holds ``budget``, ``environment``, ``targets``,
    ``summary`` (:func:`summarise_calibration` over every recorded run) and ``runs``;
    ``calibration.md`` the tables of :func:`calibration_table`.

    Args:
        out: the output folder (models cached in ``out/models``).
        settings: names of ``grid`` to run (default: all of them, in grid order).
        seeds: seeds per setting, ``first_seed, first_seed + 1, ...``.
        first_seed: the first seed (>= 0).
        budget: how each model trains and is evaluated (default :class:`CueBudget`, the
            reproduction's).
        grid: setting name -> ShapeTextureDataset axes (default :data:`CALIBRATION_GRID`).
        targets: the targets (default :class:`CalibrationTargets`).
        cache_models: save each model to ``out/models/SETTING_seedSEED.pt`` (and load it
            from there when present).
        progress: show a progress bar over the runs.

    Returns:
        What ``calibration.json`` holds.

    Raises:
        TypeError: ``budget`` or ``targets`` of another type, a flag that is not a bool.
        ValueError: an unknown setting name, ``seeds`` < 1, ``first_seed`` < 0, a grid
            entry with an axis ShapeTextureDataset does not have, or an ``out`` folder
            whose runs were made with another budget, targets or axes.

    Example:
        >>> import tempfile
        >>> tiny = CueBudget(train_size=32, test_size=16, width=4, standard_epochs=1)
        >>> with tempfile.TemporaryDirectory() as out:
        ...     result = calibrate(out, settings=["reproduction"], seeds=1, budget=tiny,
        ...                        cache_models=False, progress=False)
        >>> list(result["summary"]), result["summary"]["reproduction"]["seeds"]
        (['reproduction'], [0])
    """
    checked_grid = check_grid(CALIBRATION_GRID if grid is None else grid)
    names = _check_settings(settings, checked_grid)
    check_int(seeds, "seeds", low=1)
    check_int(first_seed, "first_seed", low=0)
    check_bool(cache_models, "cache_models")
    check_bool(progress, "progress")
    budget = CueBudget() if budget is None else budget
    targets = CalibrationTargets() if targets is None else targets
    for value, name, kind in (
        (budget, "budget", CueBudget),
        (targets, "targets", CalibrationTargets),
    ):
        if not isinstance(value, kind):
            raise TypeError(
                f"{name} must be a {kind.__name__} (or None for the default), got "
                f"{type(value).__name__}."
            )
    folder = Path(out)
    records_path = folder / RECORDS
    records = read_calibration_records(records_path)
    sweep = _Sweep(checked_grid, budget, targets)
    sweep.check_folder(folder, records)
    done = {(r["setting"], r["seed"]) for r in records}
    todo = [
        (name, seed)
        for name in names
        for seed in range(first_seed, first_seed + seeds)
        if (name, seed) not in done
    ]
    log.info("calibration: %d runs to make, %d recorded in %s", len(todo), len(done), folder)
    distortions = targets.distortions()
    environment = shapebias.environment_record()
    with logging_redirect_tqdm(), tqdm(total=len(todo), unit="model", disable=not progress) as bar:
        for name, seed in todo:
            bar.set_postfix_str(f"{name} seed {seed}")
            began = time.perf_counter()
            data = cue_data(checked_grid[name], seed, budget)
            caches = [folder / "models" / f"{name}_seed{seed}.pt"] if cache_models else None
            (model,) = train_cue_models([data], [seed], budget, caches=caches)
            numbers = evaluate_cues(model, data, targets.eps, budget, distortions=distortions)
            record = {"setting": name, "axes": checked_grid[name], "seed": seed, **numbers}
            record["seconds"] = round(time.perf_counter() - began, 1)
            append_record(records_path, record)
            records.append(json.loads(json.dumps(record)))  # as a rerun reads it back
            log.info("%s (%.1f s)", _run_line(record), record["seconds"])
            sweep.write(folder, records, environment)
            bar.update()
    result = sweep.write(folder, records, environment)
    for name, cell in result["summary"].items():
        met = ", ".join(k for k, v in cell["targets_met"].items() if v) or "none"
        log.info(
            "%s, seeds %s: shortfall %.3f, met: %s; %s floor met: %s; low-pass sigma: %s",
            name,
            cell["seeds"],
            cell["shortfall"],
            met,
            targets.shuffle_test,
            cell["shuffle_floor_met"],
            cell["low_pass_sigma"],
        )
    return result
