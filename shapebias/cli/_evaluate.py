"""``shapebias evaluate``: a model card (clean, OOD, robust accuracy, shape bias) for local weights.

Run alone, or sharded over processes with ``torchrun`` (each rank evaluates its block of
every stimulus set; rank 0 writes the card)::

    shapebias evaluate --arch resnet50 --weights resnet50_l2_eps3.ckpt \\
        --cue-conflict texture-vs-shape/stimuli/style-transfer-preprocessed-512 \\
        --ood model-vs-human-folders --shape-only silhouette \\
        --clean imagenet16-val --eps 4/255 --out card/
    torchrun --nproc_per_node=8 -m shapebias.cli evaluate ...   # one node, 8 GPUs
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch

from shapebias import _card, _human_card
from shapebias._distributed import is_main_process
from shapebias.cli._arguments import floats, number
from shapebias.cli._errors import (
    UsageError,
    check_count,
    check_existing,
    check_finite,
    check_output_folder,
)
from shapebias.cli._process_group import in_process_group
from shapebias.data import CueConflictDataset, ood_datasets, read_raw_trials, stimulus_folder
from shapebias.models import check_architecture_name, load_pretrained

__all__ = ["add_parser"]

logger = logging.getLogger("shapebias.cli.evaluate")

_AUTOCAST = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def add_parser(commands: Any) -> None:
    """Register ``evaluate`` and its arguments on the sub-command action ``commands``."""
    evaluate = commands.add_parser(
        "evaluate",
        help="write a model card (JSON, Markdown, figure) for a model with local weights",
        description="Clean, OOD and robust accuracy and cue-conflict shape bias of a model "
        "with local weights, on stimulus folders, with bootstrap intervals and provenance.",
    )
    model = evaluate.add_argument_group("model")
    model.add_argument("--arch", required=True, help="torchvision or timm name, e.g. resnet50")
    model.add_argument("--weights", required=True, help="local weight file (never downloaded)")
    model.add_argument("--num-classes", type=int, help="outputs of the network (default: arch's)")
    model.add_argument("--mean", type=floats, help="input mean, default file's or ImageNet's")
    model.add_argument("--std", type=floats, help="input std, default file's or ImageNet's")
    model.add_argument("--non-strict", action="store_true", help="tolerate missing/extra keys")
    data = evaluate.add_argument_group("stimuli")
    data.add_argument("--clean", help="folder <category>/<images>: clean 16-class test set")
    data.add_argument("--ood", help="folder <condition>/<category>/<images>")
    data.add_argument("--cue-conflict", help="folder <category>/<shape><i>-<texture><j>.png")
    data.add_argument("--shape-only", help="OOD condition for the null, e.g. silhouette")
    data.add_argument("--size", type=int, default=224, help="image side (default 224)")
    data.add_argument(
        "--humans", help="model-vs-human raw-data folder: compare the decisions on every --ood "
        "set (and --cue-conflict) of the same name with its human trials",
    )  # fmt: skip
    data.add_argument(
        "--name", help="the model's decision-maker name in the raw trials written to "
        "OUT/raw-data (default: the weight file's name, '_' as '-')",
    )  # fmt: skip
    evaluation = evaluate.add_argument_group("evaluation")
    evaluation.add_argument(
        "--eps", type=number, help="L-inf budget for robust accuracy, e.g. 4/255"
    )
    evaluation.add_argument(
        "--attack", choices=("autoattack", "pgd"), default="autoattack",
        help="robust-accuracy attack: the AutoAttack ensemble (APGD-CE, APGD-T, FAB-T, Square) "
        "or PGD",
    )  # fmt: skip
    evaluation.add_argument(
        "--attack-steps", type=int, default=100, help="iterations per attack run"
    )
    evaluation.add_argument("--attack-queries", type=int, default=5000, help="Square's queries")
    evaluation.add_argument("--attack-restarts", type=int, default=1, help="PGD restarts")
    evaluation.add_argument(
        "--attack-images", type=int, help="attack only the first N clean images"
    )
    evaluation.add_argument("--batch-size", type=int, default=64)
    evaluation.add_argument("--workers", type=int, default=4, help="DataLoader worker processes")
    evaluation.add_argument("--device", help="default: cuda:LOCAL_RANK when available, else cpu")
    evaluation.add_argument("--autocast", choices=sorted(_AUTOCAST), default="none")
    evaluation.add_argument(
        "--channels-last", action="store_true", help="channels_last model weights"
    )
    evaluation.add_argument(
        "--seed", type=int, default=0, help="seeds the attack and the bootstrap"
    )
    evaluation.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates")
    evaluation.add_argument("--progress", action="store_true", help="show progress bars")
    evaluate.add_argument("--out", required=True, help="folder for card.json, card.md, card.png")
    evaluate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``shapebias evaluate`` with parsed arguments; returns the exit status."""
    check_arguments(args)
    return in_process_group(lambda device: _evaluate(args, device), args.device)


_COUNTS = {
    "num_classes": 1, "size": 1, "attack_steps": 1, "attack_queries": 1,
    "attack_restarts": 1, "attack_images": 1, "batch_size": 1, "workers": 0, "seed": 0,
    "bootstrap": 0,
}  # fmt: skip


def check_arguments(args: argparse.Namespace) -> None:
    """Every argument and the output folder, before a model is loaded or data touched.

    Raises:
        UsageError: the first argument that cannot work, with what would.
    """
    if not (args.clean or args.ood or args.cue_conflict):
        raise UsageError("give at least one of --clean, --ood, --cue-conflict.")
    try:
        check_architecture_name(args.arch)
    except ValueError as error:
        raise UsageError(f"--arch: {error}") from error
    check_existing(
        args.weights, "--weights", "file", " shapebias never downloads weights: pass a local file."
    )
    for option in ("clean", "ood", "cue_conflict"):
        check_existing(getattr(args, option), f"--{option.replace('_', '-')}", "folder")
    for name, low in _COUNTS.items():
        check_count(getattr(args, name), f"--{name.replace('_', '-')}", low)
    for option in ("mean", "std"):
        values = getattr(args, option)
        check_finite(values, f"--{option}")
        if values is not None and len(values) != 3:
            raise UsageError(
                f"--{option} needs one value per RGB channel (the stimuli are read as RGB), "
                f"got {len(values)}: {','.join(map(str, values))}."
            )
    if args.std is not None and min(args.std) <= 0:
        raise UsageError(f"--std must be positive, got {','.join(map(str, args.std))}.")
    if args.eps is not None:
        if not 0 <= args.eps <= 1:
            fix = f" Did you mean --eps {args.eps:g}/255?" if args.eps > 1 else ""
            raise UsageError(
                f"--eps is an L-inf budget in [0, 1] pixel units, got {args.eps:g}.{fix}"
            )
        if args.clean is None:
            raise UsageError("--eps needs --clean: robust accuracy is measured on the clean set.")
    if args.shape_only is not None:
        if args.ood is None:
            raise UsageError("--shape-only names an OOD condition, so it needs --ood.")
        check_existing(Path(args.ood) / args.shape_only, "--shape-only", "folder",
                       f" It must be a condition folder of --ood {args.ood}.")  # fmt: skip
    if args.humans is not None:
        check_existing(args.humans, "--humans", "folder")
        if not (args.ood or args.cue_conflict):
            raise UsageError("--humans needs --ood and/or --cue-conflict stimuli to compare on.")
    if args.device is not None:
        _check_device(args.device)
    check_output_folder(args.out)


def _check_device(text: str) -> None:
    try:
        device = torch.device(text)
    except RuntimeError as error:
        raise UsageError(
            f"--device {text!r} is not a device ({error}); e.g. cpu, cuda:0."
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {text} asks for CUDA, which is not available here; use cpu.")


def _evaluate(args: argparse.Namespace, device: torch.device) -> int:
    raw = read_raw_trials(args.humans) if args.humans else None  # bad raw data fails first
    model = load_pretrained(
        args.weights, args.arch, num_classes=args.num_classes, mean=args.mean, std=args.std,
        strict=not args.non_strict,
    ).to(device)  # fmt: skip
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    folders: dict[str, Any] = {"size": args.size}
    settings = _card.CardSettings(
        batch_size=args.batch_size, num_workers=args.workers, seed=args.seed,
        num_bootstrap=args.bootstrap, eps=args.eps, attack=args.attack,
        attack_steps=args.attack_steps, attack_queries=args.attack_queries,
        attack_restarts=args.attack_restarts, attack_images=args.attack_images,
        shape_only=args.shape_only, autocast=_AUTOCAST[args.autocast],
    )  # fmt: skip
    ood = ood_datasets(args.ood, **folders) if args.ood else {}
    cue_conflict = CueConflictDataset(args.cue_conflict, **folders) if args.cue_conflict else None
    human_sets = {**ood, **({"cue-conflict": cue_conflict} if cue_conflict is not None else {})}
    if raw is not None:  # misaligned stimuli fail before the model runs
        _human_card.check_stimuli(human_sets, raw, _name(args))
    card = _card.evaluate_card(
        model,
        clean=stimulus_folder(args.clean, **folders) if args.clean else None,
        ood=ood,
        cue_conflict=cue_conflict,
        settings=settings,
        device=device,
        progress=args.progress,
    )
    trials: list[Any] = []
    if raw is not None:
        card["humans"], trials = _compare_with_humans(
            args, model, human_sets, raw, settings, device
        )
    card["provenance"] = _card.provenance(vars(args), args.weights, settings)
    for path in _card.write_card(card, args.out, f"{args.arch} ({args.weights})"):
        logger.info("wrote %s", path)
    if is_main_process():
        for path in _human_card.write_trials(trials, args.out):
            logger.info("wrote %s", path)
    return 0


def _compare_with_humans(
    args: argparse.Namespace,
    model: Any,
    datasets: dict[str, Any],
    raw: Any,
    settings: _card.CardSettings,
    device: torch.device,
) -> tuple[dict[str, Any], list[Any]]:
    """``--humans``: the model's decisions on each stimulus set with human trials."""
    first = next(iter(datasets.values()))[0][0][None].to(device)
    mapped = _card.stimulus_model(model, first)
    return _human_card.human_section(
        mapped, datasets, raw, _name(args), lambda d: _card.data_loader(d, settings, device),
        settings,
    )  # fmt: skip


def _name(args: argparse.Namespace) -> str:
    return args.name or _human_card.model_name(args.weights)
