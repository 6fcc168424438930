"""Reproduce Zhang & Zhu (ICML 2019), "Interpreting Adversarially Trained CNNs", in one command.

Trains a standard CNN and adversarially trained CNNs (PGD-Linf at two budgets, PGD-L2,
fast FGSM), plus the controls that make the comparison mean something (an underfit
standard model matched to the adversarially trained models' clean accuracy, and a model
trained on shape alone), then measures each on stylized, saturated, patch-shuffled and
low-passed test sets, cue-conflict shape bias and robust accuracy, and draws SmoothGrad
maps. By default everything runs on ``ShapeTextureDataset`` (no download); real data
sets run the same protocol from ``--data-root``.

Outputs in ``--out``: ``results.json``, ``results.md`` (the tables and the findings),
``saliency_dataset.png``, ``saliency_photos.png``, ``relative_accuracy.png``, and the
trained models in ``models/``. A second run reuses the trained models; an interrupted
run resumes from its last epoch checkpoint.

    python examples/reproduce_paper.py            # default run, 5-8 minutes on 2 CPU cores
    python examples/reproduce_paper.py --quick    # a smoke run, about 30 seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

import shapebias
from shapebias.attacks import PGD, robust_accuracy
from shapebias.data import (
    ShapeTextureDataset,
    caltech256,
    cifar10,
    image_folder,
    sample_images,
    tiny_imagenet,
)
from shapebias.distortions import LowPass, PatchShuffle, Saturate, Stylize, cue_conflict
from shapebias.metrics import accuracy_table, distortion_accuracy, shape_bias, shape_bias_table
from shapebias.models import small_cnn
from shapebias.saliency import plot_saliency_grid
from shapebias.training import Recipe, load_model, save_model

log = logging.getLogger("reproduce_paper")
DATASETS = ("shapetexture", "cifar10", "tinyimagenet", "caltech256", "folder")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that decides the results; stored in ``config.json`` beside them."""

    dataset: str = "shapetexture"
    num_classes: int = 4
    image_size: int = 32
    texture_correlation: float = 0.8
    train_size: int = 4000
    test_size: int = 1000
    width: int = 32
    batch_size: int = 64
    standard_epochs: int = 12
    finetune_epochs: int = 3
    train_pgd_steps: int = 3
    lr: float = 5e-3
    finetune_lr: float = 1e-3
    eps_linf: tuple[float, float] = (2 / 255, 4 / 255)
    eps_l2: float = 0.25
    eps_fgsm: float = 4 / 255
    eval_pgd_steps: int = 10
    saliency_samples: int = 50
    seed: int = 0


PRESETS = {
    "default": Settings(),
    "quick": Settings(
        train_size=1500,
        test_size=300,
        width=16,
        standard_epochs=8,
        finetune_epochs=1,
        train_pgd_steps=2,
        eval_pgd_steps=5,
        saliency_samples=16,
    ),
}


# --------------------------------------------------------------------------- data


def _tensors(dataset: Dataset, limit: int | None = None) -> tuple[torch.Tensor, ...]:
    """Materialise a map-style dataset of tuples into stacked tensors."""
    count = len(dataset) if limit is None else min(limit, len(dataset))
    items = [dataset[i] for i in range(count)]
    return tuple(
        torch.stack(column) if isinstance(column[0], torch.Tensor) else torch.tensor(column)
        for column in zip(*items, strict=True)
    )


def _resize(size: int):
    def transform(image: torch.Tensor) -> torch.Tensor:
        resized = nn.functional.interpolate(
            image[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        return resized[0].clamp(0, 1)

    return transform


def load_data(settings: Settings, data_root: Path | None) -> dict[str, Any]:
    """Train loader and test tensors; ``shape_only``/``texture_only`` only for ShapeTexture."""
    if settings.dataset == "shapetexture":
        return _shape_texture_data(settings)
    transform = _resize(settings.image_size)
    root = data_root
    if settings.dataset == "cifar10":
        train, test = cifar10(root, train=True), cifar10(root, train=False)
    elif settings.dataset == "tinyimagenet":
        train = tiny_imagenet(root, split="train", transform=transform)
        test = tiny_imagenet(root, split="val", transform=transform)
    elif settings.dataset == "caltech256":
        train = caltech256(root, split="train", seed=settings.seed, transform=transform)
        test = caltech256(root, split="test", seed=settings.seed, transform=transform)
    else:
        train = image_folder(root / "train", transform=transform)
        test = image_folder(root / "test", transform=transform)
    generator = torch.Generator().manual_seed(settings.seed)
    test_index = torch.randperm(len(test), generator=generator)[: settings.test_size]
    test_tensors = _tensors(Subset(test, test_index.tolist()))
    train_subset = Subset(
        train, torch.randperm(len(train), generator=generator)[: settings.train_size].tolist()
    )
    images, labels = test_tensors
    other = torch.roll(torch.arange(len(labels)), 1)
    conflict = cue_conflict(
        images, images[other], labels, labels[other], pairing="zip", generator=generator
    )
    return {
        "train": _loader(train_subset, settings),
        "test": test_tensors,
        "cue_conflict": tuple(conflict),
        "num_classes": int(labels.max()) + 1,
    }


def _shape_texture_data(settings: Settings) -> dict[str, Any]:
    common = {
        "num_classes": settings.num_classes,
        "image_size": settings.image_size,
        "texture_correlation": settings.texture_correlation,
        "seed": settings.seed,
    }
    train = ShapeTextureDataset("train", size=settings.train_size, **common)
    shape_only = ShapeTextureDataset(
        "shape_only", size=settings.test_size + settings.train_size, **common
    )
    test_range = list(range(settings.test_size))
    return {
        "train": _loader(TensorDataset(*_tensors(train)), settings),
        # The shape-only control trains on items the shape-only test set never uses.
        "train_shape_only": _loader(
            TensorDataset(
                *_tensors(Subset(shape_only, range(settings.test_size, len(shape_only))))
            ),
            settings,
        ),
        "test": _tensors(ShapeTextureDataset("test", size=settings.test_size, **common)),
        "shape_only": _tensors(Subset(shape_only, test_range)),
        "texture_only": _tensors(
            ShapeTextureDataset("texture_only", size=settings.test_size, **common)
        ),
        "cue_conflict": _tensors(
            ShapeTextureDataset("cue_conflict", size=settings.test_size, **common)
        ),
        "num_classes": settings.num_classes,
    }


def _loader(dataset: Dataset, settings: Settings) -> DataLoader:
    generator = torch.Generator().manual_seed(settings.seed)
    return DataLoader(dataset, batch_size=settings.batch_size, shuffle=True, generator=generator)


# ------------------------------------------------------------------------- models


def model_specs(settings: Settings) -> dict[str, dict[str, Any]]:
    """The paper's model set plus the controls, in training order."""
    small, large = settings.eps_linf
    steps, epochs = settings.train_pgd_steps, settings.finetune_epochs
    return {
        "standard": {"recipe": Recipe.standard(epochs=settings.standard_epochs)},
        "shape_only": {
            "recipe": Recipe.standard(epochs=settings.standard_epochs),
            "train": "train_shape_only",
        },
        f"pgd_linf_{round(small * 255)}": {
            "recipe": Recipe.pgd_linf(small, steps=steps, epochs=epochs),
            "finetune": True,
        },
        f"pgd_linf_{round(large * 255)}": {
            "recipe": Recipe.pgd_linf(large, steps=steps, epochs=epochs),
            "finetune": True,
        },
        "pgd_l2": {
            "recipe": Recipe.pgd_l2(settings.eps_l2, steps=steps, epochs=epochs),
            "finetune": True,
        },
        "fgsm_rs": {
            "recipe": Recipe.fgsm(settings.eps_fgsm, random_start=True, epochs=epochs),
            "finetune": True,
        },
        "underfit": {"recipe": None},  # built once the adversarial models' accuracy is known
    }


def train_all(settings: Settings, data: dict[str, Any], out: Path, device: torch.device) -> dict:
    """Train (or load) every model; returns name -> (model, meta)."""
    models: dict[str, tuple[nn.Module, dict[str, Any]]] = {}
    specs = model_specs(settings)
    for name, spec in specs.items():
        if spec.get("train", "train") not in data:
            log.info("skipping %s: %s has no %s split", name, settings.dataset, spec["train"])
            continue
        recipe = spec["recipe"]
        if name == "underfit":
            recipe = _underfit_recipe(settings, models)
        start = models["standard"][0] if spec.get("finetune") else None
        models[name] = _train_or_load(
            name, recipe, settings, data, data[spec.get("train", "train")], out, device, start
        )
    return models


def _underfit_recipe(settings: Settings, models: dict[str, Any]) -> Recipe:
    """Standard training stopped at the mean clean accuracy of the adversarial models."""
    adversarial = [
        meta["clean_accuracy"] for n, (_, meta) in models.items() if "_" in n and n != "shape_only"
    ]
    target = sum(adversarial) / len(adversarial)
    return Recipe.underfit(epochs=settings.standard_epochs, match_accuracy=target)


def _train_or_load(
    name: str,
    recipe: Recipe,
    settings: Settings,
    data: dict[str, Any],
    loader: DataLoader,
    out: Path,
    device: torch.device,
    start: nn.Module | None,
) -> tuple[nn.Module, dict[str, Any]]:
    path = out / "models" / f"{name}.pt"
    torch.manual_seed(settings.seed)  # the initial weights are a function of the seed
    model = small_cnn(data["num_classes"], width=settings.width).to(device)
    if path.exists():
        meta = load_model(path, model, map_location=device)
        log.info("loaded %s from %s", name, path)
        return model.eval(), meta
    if start is not None:
        model.load_state_dict(start.state_dict())
    # The recipes' SGD schedule is made for 100-epoch runs; in a CPU budget of a few
    # epochs Adam with a one-cycle schedule is what learns (measured before any
    # adversarial model was trained).
    lr = settings.finetune_lr if start is not None else settings.lr
    recipe = dataclasses.replace(recipe, lr=lr, momentum=0.0, weight_decay=0.0, milestones=())
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=recipe.epochs * len(loader)
    )
    eval_images, eval_labels = (t[:256] for t in data["test"])
    began = time.perf_counter()
    history = recipe.fit(
        model,
        loader,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_step="batch",
        eval_data=(eval_images, eval_labels),
        eval_attack=None,
        checkpoint_dir=out / "checkpoints" / name,
        device=device,
    )
    meta = recipe.meta(
        optimizer=f"Adam, one-cycle max lr {lr:g}",
        data=settings.dataset,
        fine_tuned_from="standard" if start is not None else None,
        epochs_run=len(history),
        clean_accuracy=history[-1]["clean_accuracy"],
        train_seconds=time.perf_counter() - began,
        history=[{k: v for k, v in h.items() if isinstance(v, (int, float))} for h in history],
    )
    save_model(path, model, meta=meta)
    shutil.rmtree(out / "checkpoints" / name, ignore_errors=True)
    return model.eval(), meta


# --------------------------------------------------------------------- evaluation


def test_distortions(settings: Settings) -> dict[str, Any]:
    """The paper's test sets: stylized, saturated, patch-shuffled, low-passed."""
    photos = sample_images(settings.image_size)
    styles = torch.stack(list(photos.values()))
    shuffles = [g for g in (2, 4, 8) if settings.image_size % g == 0]
    return {
        "stylized": Stylize(styles, method="fourier"),
        "saturated p=8": Saturate(8),
        "saturated p=1024": Saturate(1024),
        **{f"shuffled {g}x{g}": PatchShuffle(g) for g in shuffles},
        "low-pass": LowPass(sigma=1.0),
    }


def evaluate(
    name: str, model: nn.Module, meta: dict[str, Any], data: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Every number the paper reports for one model, with bootstrap intervals."""
    seed = settings.seed
    accuracy = distortion_accuracy(
        model, data["test"], test_distortions(settings), seed=seed, progress=False
    )
    bias = shape_bias(model, data["cue_conflict"], seed=seed, progress=False)
    eps = settings.eps_linf[0]
    robust = robust_accuracy(
        model,
        data["test"],
        PGD(eps=eps, steps=settings.eval_pgd_steps, generator=torch.Generator().manual_seed(seed)),
        progress=False,
    )
    chance = 1.0 / data["num_classes"]
    result = {
        "meta": meta,
        "accuracy": accuracy,
        "shape_bias": bias,
        "robust_accuracy": {"eps": eps, "steps": settings.eval_pgd_steps, "value": robust.robust},
        # Near chance: the clean accuracy's 95% interval reaches within 5 points of chance.
        "learned_nothing": accuracy.clean.low <= chance + 0.05,
    }
    for split in ("shape_only", "texture_only"):
        if split in data:
            result[split] = distortion_accuracy(
                model, data[split], {}, seed=seed, progress=False
            ).clean
    log.info("evaluated %s: clean %.3f", name, accuracy.clean.value)
    return result


# ------------------------------------------------------------------------ outputs


def _fmt(estimate: Any) -> str:
    return f"{100 * estimate.value:.1f} [{100 * estimate.low:.1f}, {100 * estimate.high:.1f}]"


def controls_table(results: dict[str, dict[str, Any]]) -> str:
    """Shape bias beside the numbers that say whether it means anything."""
    header = [
        "model",
        "clean",
        "shape-only",
        "texture-only",
        "shape bias",
        "cue match",
        "PGD robust",
        "note",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in results.items():
        bias = r["shape_bias"]
        note = (
            "near chance: learned nothing, shape bias not meaningful"
            if r["learned_nothing"]
            else ""
        )
        cells = [
            name,
            _fmt(r["accuracy"].clean),
            _fmt(r["shape_only"]) if "shape_only" in r else "-",
            _fmt(r["texture_only"]) if "texture_only" in r else "-",
            "n/a" if r["learned_nothing"] else _fmt(bias.shape_bias),
            _fmt(bias.cue_match),
            f"{100 * r['robust_accuracy']['value']:.1f}",
            note,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    eps = next(iter(results.values()))["robust_accuracy"]["eps"]
    rows.append(
        f"\nPercent, 95% bootstrap intervals. PGD robust: L-inf eps {round(eps * 255)}/255."
    )
    return "\n".join(rows)


def _compare(ours: Any, theirs: Any, sign: int) -> str:
    """``holds`` when the 95% intervals are apart in the claimed direction."""
    if ours.low > theirs.high or ours.high < theirs.low:
        return "holds" if sign * (ours.value - theirs.value) > 0 else "reversed"
    return "undecided (intervals overlap)"


def findings(results: dict[str, dict[str, Any]]) -> str:
    """The paper's claims checked one by one against the standard model, with intervals."""
    standard = results["standard"]
    claims = {
        "keeps more on stylized": ("stylized", +1),
        "keeps more on saturated p=8": ("saturated p=8", +1),
        "keeps more on saturated p=1024": ("saturated p=1024", +1),
        "loses more on shuffled 4x4": ("shuffled 4x4", -1),
    }
    lines = []
    for name, r in results.items():
        if name in ("standard", "shape_only", "underfit") or r["learned_nothing"]:
            continue
        verdicts = []
        for claim, (test_set, sign) in claims.items():
            if test_set not in r["accuracy"].relative:
                continue
            ours, theirs = r["accuracy"].relative[test_set], standard["accuracy"].relative[test_set]
            verdict = _compare(ours, theirs, sign)
            verdicts.append(f"{claim}: {verdict} ({_fmt(ours)} vs standard {_fmt(theirs)})")
        bias, base = r["shape_bias"].shape_bias, standard["shape_bias"].shape_bias
        verdicts.append(
            f"more shape-biased: {_compare(bias, base, +1)} ({_fmt(bias)} vs standard {_fmt(base)})"
        )
        lines.append(f"- **{name}** (relative accuracy, shape bias): " + "; ".join(verdicts) + ".")
    return "\n".join(lines) or "- No adversarially trained model learned anything."


def relative_accuracy_figure(results: dict[str, dict[str, Any]], path: Path) -> None:
    test_sets = list(next(iter(results.values()))["accuracy"].relative)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / len(results)
    for i, (name, r) in enumerate(results.items()):
        values = [100 * r["accuracy"].relative[t].value for t in test_sets]
        errors = [
            [
                100 * (r["accuracy"].relative[t].value - r["accuracy"].relative[t].low)
                for t in test_sets
            ],
            [
                100 * (r["accuracy"].relative[t].high - r["accuracy"].relative[t].value)
                for t in test_sets
            ],
        ]
        positions = [j + (i - (len(results) - 1) / 2) * width for j in range(len(test_sets))]
        ax.bar(positions, values, width, yerr=errors, label=name, capsize=1.5)
    ax.set_xticks(range(len(test_sets)), test_sets, rotation=20)
    ax.set_ylabel("relative accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def saliency_figures(
    models: dict[str, nn.Module], data: dict[str, Any], settings: Settings, out: Path
) -> None:
    """SmoothGrad maps of every model on the same images: the paper's Figure 1."""
    shown = {n: m for n, m in models.items() if n != "underfit"}
    images, labels = (t[:6] for t in data["test"])
    kwargs = {
        "output": "loss",
        "n_samples": settings.saliency_samples,
        "noise_level": 0.15,
        "generator": torch.Generator().manual_seed(settings.seed),
    }
    figure = plot_saliency_grid(shown, images, labels, method="smoothgrad", method_kwargs=kwargs)
    figure.savefig(out / "saliency_dataset.png", dpi=110)
    photos = torch.stack(
        list(
            sample_images(64, names=["astronaut", "chelsea", "coffee", "rocket", "camera"]).values()
        )
    )
    kwargs = {**kwargs, "output": "logit"}
    figure = plot_saliency_grid(shown, photos, None, method="smoothgrad", method_kwargs=kwargs)
    figure.savefig(out / "saliency_photos.png", dpi=110)


def write_results(
    results: dict[str, dict[str, Any]], settings: Settings, out: Path, seconds: float
) -> str:
    accuracy = {n: r["accuracy"] for n, r in results.items()}
    report = "\n\n".join(
        [
            "# Zhang & Zhu (2019) reproduced with shapebias",
            f"shapebias {shapebias.__version__}, wall time {seconds:.0f} s, settings: "
            f"`{json.dumps(dataclasses.asdict(settings))}`.",
            "## Accuracy and relative accuracy on distorted test sets\n\n"
            + accuracy_table(accuracy),
            "## Shape bias and controls\n\n" + controls_table(results),
            "## Cue-conflict shape bias\n\n"
            + shape_bias_table({n: r["shape_bias"] for n, r in results.items()}),
            "## Findings (generated from the numbers above)\n\n" + findings(results),
        ]
    )
    (out / "results.md").write_text(report + "\n")
    payload = {
        "settings": dataclasses.asdict(settings),
        "shapebias_version": shapebias.__version__,
        "wall_seconds": seconds,
        "models": {
            name: {
                "training": r["meta"],
                "distortion_accuracy": r["accuracy"].to_dict(),
                "shape_bias": r["shape_bias"].to_dict(),
                "robust_accuracy": r["robust_accuracy"],
                "learned_nothing": r["learned_nothing"],
                **{s: r[s].to_dict() for s in ("shape_only", "texture_only") if s in r},
            }
            for name, r in results.items()
        },
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return report


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run (about 30 s on 2 cores)")
    parser.add_argument("--dataset", default="shapetexture", choices=DATASETS)
    parser.add_argument("--data-root", type=Path, help="folder of a real data set")
    parser.add_argument("--out", type=Path, default=Path("runs/reproduce"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="e.g. cpu, cuda, cuda:1")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="delete results of a different configuration in --out and start over",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one setting, e.g. --set standard_epochs=12",
    )
    args = parser.parse_args(argv)
    if args.dataset != "shapetexture" and args.data_root is None:
        parser.error(f"--dataset {args.dataset} needs --data-root PATH (nothing is downloaded)")
    if args.data_root is not None and not args.data_root.exists():
        parser.error(f"--data-root {args.data_root} does not exist")
    return args


def build_settings(args: argparse.Namespace) -> Settings:
    settings = PRESETS["quick" if args.quick else "default"]
    overrides: dict[str, Any] = {"dataset": args.dataset, "seed": args.seed}
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"--set {item}: unknown setting {name!r}; known: {sorted(fields)}")
        overrides[name] = json.loads(value)
        if isinstance(overrides[name], list):
            overrides[name] = tuple(overrides[name])
    return dataclasses.replace(settings, **overrides)


def prepare_output(out: Path, settings: Settings, fresh: bool) -> None:
    """Refuse to mix results of two configurations in one folder (or, with --fresh, wipe)."""
    config = out / "config.json"
    wanted = json.loads(json.dumps(dataclasses.asdict(settings)))
    if config.exists():
        found = json.loads(config.read_text())
        if found != wanted:
            changed = sorted(
                k for k in wanted.keys() | found.keys() if wanted.get(k) != found.get(k)
            )
            if not fresh:
                raise SystemExit(
                    f"{out} holds results of a different configuration (differs in: "
                    f"{', '.join(changed)}). Nothing was changed. Use --fresh to delete them "
                    "and start over, or --out to choose another folder."
                )
            log.warning("--fresh: deleting the results in %s (differs in: %s)", out, changed)
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(wanted, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    settings = build_settings(args)
    prepare_output(args.out, settings, args.fresh)
    device = torch.device(args.device)
    began = time.perf_counter()
    data = load_data(settings, args.data_root)
    trained = train_all(settings, data, args.out, device)
    if device.type != "cpu":
        data = {
            k: tuple(t.to(device) for t in v) if isinstance(v, tuple) else v
            for k, v in data.items()
        }
    results = {
        name: evaluate(name, model, meta, data, settings) for name, (model, meta) in trained.items()
    }
    saliency_figures({n: m for n, (m, _) in trained.items()}, data, settings, args.out)
    relative_accuracy_figure(results, args.out / "relative_accuracy.png")
    report = write_results(results, settings, args.out, time.perf_counter() - began)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
