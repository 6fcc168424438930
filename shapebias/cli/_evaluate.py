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
from typing import Any

import torch
import torch.distributed as dist

from shapebias import _card
from shapebias._budget import parse_budget
from shapebias.data import CueConflictDataset, ood_datasets, stimulus_folder
from shapebias.models import load_pretrained
from shapebias.training import init_distributed

__all__ = ["add_parser"]

logger = logging.getLogger("shapebias.cli.evaluate")

_AUTOCAST = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _fraction(text: str) -> float:
    """``"4/255"`` or ``"0.0157"`` as a float (the package's one budget parser)."""
    try:
        return parse_budget(text, "--eps")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.485,0.456,0.406, got {text!r}"
        ) from error
    return values


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
    model.add_argument("--mean", type=_floats, help="input mean, default file's or ImageNet's")
    model.add_argument("--std", type=_floats, help="input std, default file's or ImageNet's")
    model.add_argument("--non-strict", action="store_true", help="tolerate missing/extra keys")
    data = evaluate.add_argument_group("stimuli")
    data.add_argument("--clean", help="folder <category>/<images>: clean 16-class test set")
    data.add_argument("--ood", help="folder <condition>/<category>/<images>")
    data.add_argument("--cue-conflict", help="folder <category>/<shape><i>-<texture><j>.png")
    data.add_argument("--shape-only", help="OOD condition for the null, e.g. silhouette")
    data.add_argument("--size", type=int, default=224, help="image side (default 224)")
    evaluation = evaluate.add_argument_group("evaluation")
    evaluation.add_argument(
        "--eps", type=_fraction, help="L-inf budget for robust accuracy, e.g. 4/255"
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
    if not (args.clean or args.ood or args.cue_conflict):
        raise SystemExit("shapebias evaluate: give at least one of --clean, --ood, --cue-conflict")
    joined = not dist.is_initialized()
    device = init_distributed()
    try:
        return _evaluate(args, torch.device(args.device) if args.device else device)
    finally:
        if joined and dist.is_initialized():  # the group this call joined, not a caller's
            dist.destroy_process_group()


def _evaluate(args: argparse.Namespace, device: torch.device) -> int:
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
    card = _card.evaluate_card(
        model,
        clean=stimulus_folder(args.clean, **folders) if args.clean else None,
        ood=ood_datasets(args.ood, **folders) if args.ood else {},
        cue_conflict=CueConflictDataset(args.cue_conflict, **folders)
        if args.cue_conflict
        else None,
        settings=settings,
        device=device,
        progress=args.progress,
    )
    card["provenance"] = _card.provenance(vars(args), args.weights, settings)
    for path in _card.write_card(card, args.out, f"{args.arch} ({args.weights})"):
        logger.info("wrote %s", path)
    return 0
