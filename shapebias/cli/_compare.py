"""``shapebias compare``: the paper's claims on local checkpoints against a baseline.

Repeat ``--baseline`` / ``--model`` with the same name for several seeds (paired by
position)::

    shapebias compare --baseline standard=resnet18:std_seed0.pt \\
        --baseline standard=resnet18:std_seed1.pt \\
        --model pgd=resnet18:pgd_seed0.pt --model pgd=resnet18:pgd_seed1.pt \\
        --data cifar_test/ --cue-conflict conflict/ --shape-only silhouettes/ --out cmp/

Runs :func:`shapebias.experiments.compare` and writes ``comparison.md``, ``.json``,
``.csv`` and ``.png`` into ``--out``.

Sharded over processes with ``torchrun`` like ``shapebias evaluate``: each process
evaluates its block of the models (one seed of one set at a time), the per-item results
of all models are gathered onto every process and the claims computed from them, and rank
0 writes the files: the table equals the single-process one exactly::

    torchrun --nproc_per_node=4 -m shapebias.cli compare ...   # one node, 4 GPUs
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shapebias._distributed import is_main_process
from shapebias.cli._arguments import floats
from shapebias.cli._errors import UsageError
from shapebias.cli._process_group import in_process_group
from shapebias.data import CueConflictDataset, dataset_tensors, image_folder, stimulus_transform
from shapebias.experiments import PAPER_CLAIMS, Settings, compare, parse_setting
from shapebias.models import load_pretrained, resnet18, small_cnn

__all__ = ["add_parser", "parse_model"]

log = logging.getLogger("shapebias.cli.compare")

# shapebias' own architectures, besides torchvision and timm names.
_OWN = {"small_cnn": small_cnn, "resnet18_cifar": resnet18}


def parse_model(text: str) -> tuple[str, str, Path]:
    """``NAME=ARCH:WEIGHTS`` as ``(name, arch, weights)``.

    Raises:
        argparse.ArgumentTypeError: not of that form.
    """
    name, equals, rest = text.partition("=")
    arch, colon, weights = rest.partition(":")
    if not (equals and colon and name and arch and weights):
        raise argparse.ArgumentTypeError(
            f"expected NAME=ARCH:WEIGHTS such as standard=resnet18:std_seed0.pt, got {text!r}"
        )
    return name, arch, Path(weights)


def add_parser(commands: Any) -> None:
    """Register ``compare`` and its arguments on the sub-command action ``commands``."""
    parser = commands.add_parser(
        "compare",
        help="the paper's claims on local checkpoints, each against a baseline",
        description=__doc__.split("\n\n")[0],
        epilog="sharded: torchrun --nproc_per_node=N -m shapebias.cli compare ...\n"
        "  splits the models across the processes (a seed of a set at a time), gathers\n"
        "  their per-item results and computes the claims from all of them: the table\n"
        "  equals a single process's exactly; rank 0 writes --out. More processes than\n"
        "  models leave the extra ones idle.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--baseline",
        type=parse_model,
        action="append",
        required=True,
        metavar="NAME=ARCH:WEIGHTS",
        help="the baseline (standard) model; repeat for several seeds",
    )
    parser.add_argument(
        "--model",
        type=parse_model,
        action="append",
        required=True,
        metavar="NAME=ARCH:WEIGHTS",
        help="a compared model; repeat a name for several seeds",
    )
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="clean test images: one sub-folder per class, in output order",
    )
    parser.add_argument(
        "--cue-conflict", type=Path, help="folder <class>/<shape><i>-<texture><j>.png (shape bias)"
    )
    parser.add_argument(
        "--shape-only", type=Path, help="shape-only images, one sub-folder per class"
    )
    parser.add_argument("--size", type=int, default=224, help="image side (default 224)")
    parser.add_argument(
        "--num-classes", type=int, help="outputs of each network (default: the data's classes)"
    )
    parser.add_argument("--mean", type=floats, help="input mean, default file's or ImageNet's")
    parser.add_argument("--std", type=floats, help="input std, default file's or ImageNet's")
    parser.add_argument(
        "--claims",
        nargs="+",
        metavar="CLAIM",
        help=f"a subset of the paper's claims: {', '.join(c.name for c in PAPER_CLAIMS)}",
    )
    parser.add_argument("--quick", action="store_true", help="the quick preset's evaluation sizes")
    parser.add_argument("--seed", type=int, default=0, help="seeds distortions, attacks, bootstrap")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an evaluation or statistics setting of shapebias reproduce",
    )
    parser.add_argument(
        "--device", help="e.g. cpu, cuda:0; default: cuda:LOCAL_RANK when available, else cpu"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for comparison.*")
    parser.set_defaults(run=run)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.preset("quick" if args.quick else "default")
    known = dict(settings.items())
    changes: dict[str, Any] = {"seed": args.seed}
    for item in args.set:
        name, equals, text = item.partition("=")
        group = settings.group_of(name)
        if not equals or group not in ("evaluation", "statistics"):
            raise UsageError(
                f"--set {item}: expected NAME=VALUE with an evaluation or statistics setting "
                "(see shapebias reproduce --help), e.g. --set alpha=0.01."
            )
        changes[name] = parse_setting(name, text, known[name])
    return settings.replace(**changes)


def _load(
    args: argparse.Namespace,
    entries: list[tuple[str, str, Path]],
    num_classes: int,
    device: torch.device,
) -> dict[str, list[nn.Module]]:
    sets: dict[str, list[nn.Module]] = {}
    for name, arch, weights in entries:
        architecture: Any = _OWN.get(arch, arch)
        model = load_pretrained(
            weights,
            architecture,
            num_classes=args.num_classes or num_classes,
            mean=args.mean,
            std=args.std,
        ).to(device)
        sets.setdefault(name, []).append(model)
    return sets


def run(args: argparse.Namespace) -> int:
    """Run ``shapebias compare``; print the claims table (rank 0 under torchrun)."""
    return in_process_group(lambda device: _compare(args, device), args.device)


def _compare(args: argparse.Namespace, device: torch.device) -> int:
    try:
        settings = _settings(args)
    except ValueError as error:
        raise UsageError(str(error)) from None
    baselines = {name for name, _, _ in args.baseline}
    if len(baselines) != 1:
        raise UsageError(f"--baseline must name one model set, got {sorted(baselines)}.")
    baseline = baselines.pop()
    if baseline in {name for name, _, _ in args.model}:
        raise UsageError(f"--model {baseline!r} is the baseline's name; give it another name.")
    transform = stimulus_transform(args.size)
    data = image_folder(args.data, transform=transform)
    test = tuple(t.to(device) for t in dataset_tensors(data))
    try:
        models = _load(args, args.baseline + args.model, len(data.classes), device)
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(
            f"shapebias compare: {error} (--num-classes sets the networks' outputs; by default "
            f"--data's {len(data.classes)} classes)"
        ) from None
    with torch.no_grad():
        outputs = {int(m(test[0][:1]).shape[1]) for ms in models.values() for m in ms}
    if outputs != {len(data.classes)}:
        raise UsageError(
            f"shapebias compare: --data has {len(data.classes)} classes "
            f"({', '.join(data.classes)}) but the models output "
            f"{', '.join(map(str, sorted(outputs)))}: give --data one sub-folder per model "
            "output, named so that their sorted order is the output order, or map the models' "
            "outputs onto the data's classes in Python (shapebias.experiments.compare with a "
            "wrapped model, e.g. shapebias.metrics.CategoryModel for ImageNet -> 16)."
        )
    conflict = shapes = None
    if args.cue_conflict is not None:
        stimuli = CueConflictDataset(args.cue_conflict, categories=data.classes, size=args.size)
        conflict = tuple(t.to(device) for t in dataset_tensors(stimuli))
    if args.shape_only is not None:
        shape_folder = image_folder(args.shape_only, transform=transform)
        if shape_folder.classes != data.classes:
            raise UsageError(
                f"--shape-only classes {shape_folder.classes} differ from --data classes "
                f"{data.classes}; give both folders the same class sub-folders."
            )
        shapes = tuple(t.to(device) for t in dataset_tensors(shape_folder))
    try:
        result = compare(
            models,
            test,
            baseline=baseline,
            claims=args.claims or PAPER_CLAIMS,
            cue_conflict=conflict,
            shape_only=shapes,
            settings=settings,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    if is_main_process():
        result.save(args.out)
        print(result.markdown())
        log.info(
            "wrote %s",
            ", ".join(str(args.out / f"comparison.{e}") for e in ("md", "json", "csv", "png")),
        )
    return 0
