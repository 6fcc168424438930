"""``shapebias map``: the cue-robustness map (texture contrast x shape deformation x PGD-AT eps).

Runs :func:`shapebias.experiments.cue_robustness_map` and writes ``map.json`` and
``map.png`` into ``--out``; ``docs/calibration.rst`` describes the committed run::

    shapebias map --out runs/map --seeds 3 --contrasts 0.03 0.06 0.1 --deformations 0.2 \\
        --eps 2/255 4/255 --train-size 3000 --test-size 500
    shapebias map --quick       # a smoke run (under a minute), not a result
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shapebias.cli._arguments import budget
from shapebias.data import CALIBRATED_AXES, SHAPE_TEXTURE_AXES
from shapebias.experiments import MapSettings, cue_robustness_map

__all__ = ["add_parser"]


def add_parser(commands: Any) -> None:
    """Register ``map`` and its arguments on the sub-command action ``commands``."""
    parser = commands.add_parser(
        "map",
        help="the cue-robustness map: when does adversarial training raise shape bias?",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, help="default runs/map (quick: runs/map_quick)")
    parser.add_argument("--contrasts", type=float, nargs="+", default=[0.03, 0.1])
    parser.add_argument(
        "--deformations",
        type=float,
        nargs="+",
        help="default: 0 and CALIBRATED_AXES['shape_deformation']",
    )
    parser.add_argument(
        "--eps",
        type=budget,
        nargs="+",
        default=[2 / 255, 4 / 255],
        help="PGD-AT budgets, e.g. 2/255 4/255",
    )
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
        help="add the runs of an earlier map.json with the same training "
        "settings (extends a sweep without retraining its cells)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, not a result")
    parser.set_defaults(run=run, parser=parser)


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


def settings_from(args: argparse.Namespace) -> MapSettings:
    """The sweep's :class:`MapSettings` from the flags (``--quick`` shrinks everything)."""
    parser = args.parser
    for name in ("seeds", "epochs", "finetune_epochs", "train_size", "test_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    deformations = args.deformations
    if deformations is None:
        deformations = sorted({0.0, float(CALIBRATED_AXES.get("shape_deformation", 0.0))})
    values: dict[str, Any] = {
        "contrasts": tuple(args.contrasts),
        "deformations": tuple(deformations),
        "eps": tuple(args.eps),
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "epochs": args.epochs,
        "finetune_epochs": args.finetune_epochs,
        "train_size": args.train_size,
        "test_size": args.test_size,
        "base": _base_axes(parser, args.set),
        "quick": args.quick,
    }
    if args.quick:
        values.update(
            contrasts=values["contrasts"][:2],
            deformations=values["deformations"][:1],
            eps=values["eps"][:1],
            seeds=1,
            epochs=1,
            finetune_epochs=1,
            train_size=192,
            test_size=64,
        )
    if args.out is None:
        args.out = Path("runs/map_quick" if args.quick else "runs/map")
    return MapSettings(**values)


def run(args: argparse.Namespace) -> int:
    """Run ``shapebias map``."""
    import torch

    settings = settings_from(args)
    torch.set_num_threads(1)
    try:
        cue_robustness_map(settings, args.out, include=args.include)
    except ValueError as error:
        args.parser.error(str(error))
    return 0
