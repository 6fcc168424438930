"""``shapebias calibrate``: the dataset calibration, from standard models only.

Runs :func:`shapebias.experiments.calibrate`: for each setting of
:data:`~shapebias.experiments.CALIBRATION_GRID` and each seed, one standard ``small_cnn``
trained like the reproduction's, measured against the calibration targets. Every run is
appended to ``--out``/calibration.jsonl (a rerun skips the runs recorded there);
``calibration.json`` and ``calibration.md`` hold the summary, and the tables are printed.
``docs/calibration.rst`` records the committed run::

    shapebias calibrate --out runs/calibration --seeds 2
    shapebias calibrate --settings calibrated_background0.25 calibrated_background0.5
    shapebias calibrate --quick       # a smoke run (under a minute), not a result
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shapebias.cli._errors import check_count, check_output_folder
from shapebias.experiments import CALIBRATION_GRID, CueBudget, calibrate, calibration_table

__all__ = ["QUICK_BUDGET", "add_parser"]

QUICK_BUDGET = CueBudget(train_size=256, test_size=64, width=8, standard_epochs=1)
"""``--quick``: one setting, one seed, this budget, no model cache (not a result)."""


def add_parser(commands: Any) -> None:
    """Register ``calibrate`` and its arguments on the sub-command action ``commands``."""
    parser = commands.add_parser(
        "calibrate",
        help="calibrate the dataset's axes from standard models (the calibration grid)",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, help="default runs/calibration (quick: runs/calibration_quick)"
    )
    parser.add_argument("--seeds", type=int, default=2, help="seeds per setting (default 2)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, ...")
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(CALIBRATION_GRID),
        metavar="SETTING",
        help=f"the grid's settings to run (default: all): {', '.join(CALIBRATION_GRID)}",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, not a result")
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    """Run ``shapebias calibrate``."""
    import torch

    check_count(args.seeds, "--seeds", 1)
    check_count(args.first_seed, "--first-seed", 0)
    settings = args.settings or list(CALIBRATION_GRID)
    budget, seeds = CueBudget(), args.seeds
    if args.quick:
        budget, settings, seeds = QUICK_BUDGET, settings[:1], 1
    out = check_output_folder(
        args.out or Path("runs/calibration_quick" if args.quick else "runs/calibration")
    )
    torch.set_num_threads(1)
    try:
        result = calibrate(
            out,
            settings=settings,
            seeds=seeds,
            first_seed=args.first_seed,
            budget=budget,
            cache_models=not args.quick,
        )
    except ValueError as error:
        args.parser.error(str(error))
    print(calibration_table(result))
    return 0
