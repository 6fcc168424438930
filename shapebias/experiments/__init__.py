"""The paper's protocol as a library: settings, the model roster, training of seed-paired
model sets, per-model evaluation, the claims as data, the comparison, tables and figures.

- :func:`reproduce` runs Zhang & Zhu (2019) end to end on its own ``small_cnn`` roster
  (``shapebias reproduce``), caching every stage by what decides it.
- :func:`compare` states the paper's claims (:data:`PAPER_CLAIMS`, or claims of your
  own) for any models against a baseline (``shapebias compare``).
- :func:`cue_robustness_map` sweeps texture contrast x shape deformation x the PGD-AT
  budget (``shapebias map``).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias.experiments._cache import RunFolder
    from shapebias.experiments._calibration import (
        CALIBRATION_GRID,
        CalibrationTargets,
        calibrate,
        calibration_table,
        read_calibration_records,
        summarise_calibration,
    )
    from shapebias.experiments._claims import PAPER_CLAIMS, Claim, claims_named
    from shapebias.experiments._compare import Comparison, compare
    from shapebias.experiments._comparison import SKIPPED, ClaimRow, claim_rows
    from shapebias.experiments._cue import CueBudget, cue_data, evaluate_cues, train_cue_models
    from shapebias.experiments._data import ExperimentData, dataset_axes, load_data
    from shapebias.experiments._evaluation import (
        PARTS,
        ModelResult,
        evaluate_model,
        paper_distortions,
    )
    from shapebias.experiments._map import (
        MapSettings,
        cue_robustness_map,
        map_figure,
        summarise_map,
    )
    from shapebias.experiments._reproduce import Reproduction, analyse, reproduce
    from shapebias.experiments._roster import BASELINE, ModelSpec, roster
    from shapebias.experiments._settings import (
        DATASETS,
        ROSTER_ENTRIES,
        RULES,
        DataSettings,
        EvaluationSettings,
        Settings,
        StatisticsSettings,
        TrainingSettings,
        describe_value,
        parse_setting,
        setting_help,
    )
    from shapebias.experiments._training import Trainer, fit_stacked
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "BASELINE",
    "CALIBRATION_GRID",
    "DATASETS",
    "PAPER_CLAIMS",
    "PARTS",
    "ROSTER_ENTRIES",
    "RULES",
    "SKIPPED",
    "CalibrationTargets",
    "Claim",
    "ClaimRow",
    "Comparison",
    "CueBudget",
    "DataSettings",
    "EvaluationSettings",
    "ExperimentData",
    "MapSettings",
    "ModelResult",
    "ModelSpec",
    "Reproduction",
    "RunFolder",
    "Settings",
    "StatisticsSettings",
    "Trainer",
    "TrainingSettings",
    "analyse",
    "calibrate",
    "calibration_table",
    "claim_rows",
    "claims_named",
    "compare",
    "cue_data",
    "cue_robustness_map",
    "dataset_axes",
    "describe_value",
    "evaluate_cues",
    "evaluate_model",
    "fit_stacked",
    "load_data",
    "map_figure",
    "paper_distortions",
    "parse_setting",
    "read_calibration_records",
    "reproduce",
    "roster",
    "setting_help",
    "summarise_calibration",
    "summarise_map",
    "train_cue_models",
]
