"""``shapebias reproduce``: Zhang & Zhu (ICML 2019) end to end, in one command.

Trains, for each of several seeds, a standard CNN and adversarially trained CNNs, each
fine-tuned from the standard model of its own seed (by default PGD-Linf 4/255; ``--full``
adds PGD-Linf 2/255, PGD-L2, fast FGSM and two controls: an underfit standard model
matched to the adversarially trained models' clean accuracy, and a model trained on shape
alone); measures every model on
stylized, saturated, patch-shuffled and low-passed test sets, cue-conflict shape bias,
robust accuracy and its SmoothGrad maps; and states each of the paper's claims as a
seed-paired difference with an interval, a sign count, a Holm-adjusted p-value and a
verdict (:func:`shapebias.experiments.reproduce`)::

    shapebias reproduce            # default run: 6 seeds x 2 models, 8000 test images
    shapebias reproduce --full     # the whole roster: 3 seeds x 7 models, 1000 test images
    shapebias reproduce --quick    # a smoke run (not a result), under a minute
    shapebias reproduce --set alpha=0.01   # re-analysis: no model trains again
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from shapebias.cli._errors import UsageError
from shapebias.data import SHAPE_TEXTURE_AXES, ShapeTextureDataset
from shapebias.experiments import (
    DATASETS,
    Settings,
    dataset_axes,
    describe_value,
    parse_setting,
    reproduce,
    setting_help,
)

__all__ = ["add_parser", "build_settings", "settings_help"]

# Settings the command line sets through their own flags, not --set.
FLAGS = ("dataset", "seeds", "seed")


def settings_help() -> str:
    """The --set names with their defaults and meaning (the --help epilog)."""
    import shapebias.data

    default = Settings.default()
    lines = ["settings (--set NAME=VALUE, JSON values, lists as [a, b], budgets also as 4/255):"]
    for name, value in default.items():
        if name not in FLAGS:
            group = default.group_of(name)
            lines.append(
                f"  {name} = {describe_value(value, budget='eps' in name)}: "
                f"{setting_help(name)} [{group}]"
            )
    source = (
        "shapebias.data.CALIBRATED_AXES"
        if hasattr(shapebias.data, "CALIBRATED_AXES")
        else "the axis defaults, as shapebias.data.CALIBRATED_AXES is not defined"
    )
    lines.append(
        "dataset settings (ShapeTextureDataset keywords from shapebias.data.SHAPE_TEXTURE_AXES;"
        f" defaults from {source}):"
    )
    defaults = dataset_axes()
    for axis in SHAPE_TEXTURE_AXES:
        lines.append(f"  {axis.name} = {describe_value(defaults[axis.name])}: {axis.help}")
    lines.append(
        "A changed statistics setting re-analyses the cached evaluations in seconds; an "
        "evaluation setting evaluates again; a data or training setting trains the models "
        "it shapes. Nothing is deleted without --fresh."
    )
    return "\n".join(lines)


def add_parser(commands: Any) -> None:
    """Register ``reproduce`` and its arguments on the sub-command action ``commands``."""
    parser = commands.add_parser(
        "reproduce",
        help="reproduce Zhang & Zhu (2019): train the roster, evaluate, state the claims",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=run, parser=parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``shapebias reproduce`` (and of ``examples/reproduce_paper.py``)."""
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument(
        "--quick", action="store_true", help="a smoke run: tiny models, not a result"
    )
    preset.add_argument(
        "--full",
        action="store_true",
        help="the whole roster (7 models x 3 seeds, 1000 test images): every configuration "
        "and control, too few seeds to decide a 3-point effect",
    )
    parser.add_argument("--dataset", default="shapetexture", choices=DATASETS)
    parser.add_argument("--data-root", type=Path, help="folder of a real data set")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default runs/reproduce; --full, --quick: runs/reproduce-full, "
        "runs/reproduce-quick)",
    )
    parser.add_argument("--seed", type=int, default=0, help="first training seed")
    parser.add_argument(
        "--seeds", type=int, help="number of training seeds (default 6; --full 3, --quick 2)"
    )
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda, cuda:1")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes of one thread each that train configurations and evaluate "
        "models side by side (default 2; 1: everything in this process, torch's threads)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="delete this command's files in --out (models, evaluations, results; each "
        "named in the log) and start over",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one setting (listed below), e.g. --set standard_epochs=12",
    )


def preset_name(args: argparse.Namespace) -> str:
    """``"quick"``, ``"full"`` or ``"default"``, from the flags."""
    return "quick" if args.quick else "full" if args.full else "default"


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse bad flags before anything is read or trained (``parser.error``)."""
    if args.seeds is not None and args.seeds < 1:
        parser.error(
            f"--seeds must be >= 1, got {args.seeds}: every comparison is paired by seed "
            "(3 or more give a sign count worth reading)"
        )
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers} (1 runs everything here)")
    if args.dataset != "shapetexture" and args.data_root is None:
        parser.error(f"--dataset {args.dataset} needs --data-root PATH (nothing is downloaded)")
    if args.data_root is not None and not args.data_root.exists():
        parser.error(f"--data-root {args.data_root} does not exist")
    if args.out is None:
        name = preset_name(args)
        args.out = Path("runs/reproduce" if name == "default" else f"runs/reproduce-{name}")


def build_settings(args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    """Settings and dataset settings from the preset, the flags and every --set.

    Raises:
        UsageError: an unknown or ill-typed setting, or one outside its range (nothing
            is trained).
    """
    settings = Settings.preset(preset_name(args))
    overrides: dict[str, Any] = {"dataset": args.dataset, "seed": args.seed}
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    axes = dataset_axes()
    known = dict(settings.items())
    fields = set(known) - set(FLAGS)
    try:
        for item in args.set:
            name, equals, text = item.partition("=")
            if not equals:
                raise UsageError(
                    f"--set {item}: expected NAME=VALUE, e.g. --set standard_epochs=12."
                )
            if name in fields:
                overrides[name] = parse_setting(name, text, known[name])
            elif name in axes:
                axes[name] = parse_setting(name, text, axes[name])
            else:
                hint = f" (use --{name})" if name in FLAGS else ""
                raise UsageError(
                    f"--set {item}: unknown setting {name!r}{hint}; known settings: "
                    f"{', '.join(sorted(fields))}; dataset settings: {', '.join(axes)}. "
                    "See --help for defaults and meanings."
                )
        settings = settings.replace(**overrides)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if settings.dataset == "shapetexture":
        data = settings.data
        try:
            ShapeTextureDataset(
                "train",
                size=1,
                num_classes=data.num_classes,
                image_size=data.image_size,
                seed=settings.seed,
                **axes,
            )[0]
        except (TypeError, ValueError) as error:
            raise UsageError(f"Refused dataset settings (nothing was trained): {error}") from None
    return settings, axes


def run(args: argparse.Namespace) -> int:
    """Run ``shapebias reproduce``; print the report."""
    check_arguments(args.parser, args)
    settings, axes = build_settings(args)
    logging.getLogger("shapebias.training").setLevel(logging.WARNING)  # epoch lines name it
    result = reproduce(
        settings,
        args.out,
        axes=axes,
        data_root=args.data_root,
        device=args.device,
        workers=args.workers,
        fresh=args.fresh,
        smoke_run=args.quick,
    )
    print(result.report)
    return 0
