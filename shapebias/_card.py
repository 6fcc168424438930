"""A model card: clean, out-of-distribution and robust accuracy, shape bias, provenance."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from shapebias import attacks, metrics
from shapebias._distributed import is_main_process, rank_and_world
from shapebias._environment import environment_record
from shapebias._human_card import humans_markdown
from shapebias.data import CATEGORIES_16, DeviceLoader
from shapebias.metrics import IMAGENET_16_CLASS_MAP, CategoryModel, format_estimate

__all__ = [
    "CardSettings", "data_loader", "evaluate_card", "file_sha256", "stimulus_model", "write_card",
]  # fmt: skip

logger = logging.getLogger("shapebias.card")

_AUTOATTACK_TARGETS = 9  # AutoAttack's standard: the 9 highest-ranked other classes


@dataclasses.dataclass(frozen=True)
class CardSettings:
    """How the card's numbers are computed (all recorded in its provenance)."""

    batch_size: int = 64
    num_workers: int = 0
    seed: int = 0
    num_bootstrap: int = 1000
    eps: float | None = None
    attack: str = "autoattack"
    attack_steps: int = 100
    attack_queries: int = 5000
    attack_restarts: int = 1
    attack_images: int | None = None
    shape_only: str | None = None
    autocast: torch.dtype | None = None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stimulus_model(model: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> Any:
    """``model`` as a 16-category classifier: 1000 ImageNet outputs go through the 1000 -> 16 rule.

    Raises:
        ValueError: the model has neither 1000 nor 16 outputs.
    """
    with torch.no_grad():
        width = model(images[:1]).shape[1]
    if width == 1000:
        return CategoryModel(model, IMAGENET_16_CLASS_MAP)
    if width == len(CATEGORIES_16):
        return model
    raise ValueError(
        f"model must output 1000 ImageNet classes (mapped to the 16 categories with "
        f"IMAGENET_16_CLASS_MAP) or the 16 categories themselves, got {width} outputs. "
        "Check num_classes and the architecture."
    )


def data_loader(dataset: Dataset, settings: CardSettings, device: torch.device) -> DeviceLoader:
    """The card's loader: ``dataset`` in order, in batches, moved to ``device``."""
    loader = DataLoader(
        dataset,
        batch_size=settings.batch_size,
        num_workers=settings.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    return DeviceLoader(loader, device)


_loader = data_loader


def _first_images(datasets: Mapping[str, Dataset], device: torch.device) -> torch.Tensor:
    dataset = next(iter(datasets.values()))
    return dataset[0][0][None].to(device)


def evaluate_card(
    model: torch.nn.Module,
    *,
    clean: Dataset | None,
    ood: Mapping[str, Dataset],
    cue_conflict: Dataset | None,
    settings: CardSettings,
    device: torch.device,
    progress: bool = False,
) -> dict[str, Any]:
    """The card's numbers as plain JSON-ready data (the same on every process).

    ``clean`` and each ``ood`` condition give a 16-category accuracy with its bootstrap
    interval; ``cue_conflict`` the shape bias, its cue-match share and, when
    ``settings.shape_only`` names an OOD condition (e.g. silhouettes), the texture-blind
    null from that condition's accuracy; ``settings.eps`` the robust accuracy on
    ``clean`` (its first ``attack_images`` images) under the AutoAttack ensemble
    (``settings.attack == "autoattack"``: :func:`~shapebias.attacks.auto_attack_suite`'s
    APGD-CE, APGD-T, FAB-T and Square, ``attack_steps`` iterations and ``attack_queries``
    queries) or PGD with ``attack_restarts`` restarts (``"pgd"``).
    """
    datasets = {**({"clean": clean} if clean is not None else {}), **ood}
    if cue_conflict is not None:
        datasets.setdefault("cue-conflict", cue_conflict)
    if not datasets:
        raise ValueError("evaluate_card needs at least one of clean, ood or cue_conflict data.")
    if settings.shape_only is not None and settings.shape_only not in ood:
        raise ValueError(
            f"shape_only must name one of the OOD conditions {sorted(ood)}, got "
            f"{settings.shape_only!r}."
        )
    mapped = stimulus_model(model, _first_images(datasets, device))
    card: dict[str, Any] = {"accuracy": {}}
    for name, dataset in {**({"clean": clean} if clean is not None else {}), **ood}.items():
        result = metrics.distortion_accuracy(
            mapped, _loader(dataset, settings, device), {}, progress=progress,
            autocast=settings.autocast, seed=settings.seed, num_bootstrap=settings.num_bootstrap,
        )  # fmt: skip
        card["accuracy"][name] = {"images": result.total, **result.clean.to_dict()}
    if cue_conflict is not None:
        card["shape_bias"] = _shape_bias(mapped, cue_conflict, card, settings, device, progress)
    if settings.eps is not None and clean is not None:
        card["robust"] = _robust(mapped, clean, settings.eps, settings, device, progress)
    return card


def _shape_bias(
    mapped: Any,
    cue_conflict: Dataset,
    card: dict[str, Any],
    settings: CardSettings,
    device: torch.device,
    progress: bool,
) -> dict[str, Any]:
    result = metrics.shape_bias(
        mapped, _loader(cue_conflict, settings, device), class_names=CATEGORIES_16,
        seed=settings.seed, num_bootstrap=settings.num_bootstrap, progress=progress,
        autocast=settings.autocast,
    )  # fmt: skip
    summary = result.to_dict()
    if settings.shape_only is not None:
        accuracy = card["accuracy"][settings.shape_only]["value"]
        summary["null"] = {
            "shape_only_condition": settings.shape_only,
            "shape_only_accuracy": accuracy,
            "value": metrics.texture_blind_null(accuracy, len(CATEGORIES_16)),
        }
    return summary


def _robust(
    mapped: Any,
    clean: Dataset,
    eps: float,
    settings: CardSettings,
    device: torch.device,
    progress: bool,
) -> dict[str, Any]:
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    attack: Any
    if settings.attack == "autoattack":
        # 9 of the 15 other categories, as AutoAttack targets 9 for any number of classes.
        attack = attacks.auto_attack_suite(
            eps, steps=settings.attack_steps, queries=settings.attack_queries,
            num_targets=_AUTOATTACK_TARGETS, generator=generator,
        )  # fmt: skip
        described: dict[str, Any] = {
            "attack": "AutoAttack (APGD-CE, APGD-T, FAB-T, Square)",
            "steps": settings.attack_steps, "queries": settings.attack_queries,
            "num_targets": _AUTOATTACK_TARGETS,
        }  # fmt: skip
    else:
        attack = attacks.PGD(
            eps=eps, steps=settings.attack_steps, restarts=settings.attack_restarts,
            generator=generator,
        )  # fmt: skip
        described = {
            "attack": "PGD", "steps": settings.attack_steps, "restarts": settings.attack_restarts,
        }  # fmt: skip
    subset = clean
    if settings.attack_images is not None:
        subset = Subset(clean, range(min(settings.attack_images, len(clean))))  # type: ignore[arg-type]
    result = attacks.robust_accuracy(
        mapped, _loader(subset, settings, device), attack, progress=progress,
        autocast=settings.autocast,
    )  # fmt: skip
    counts = ("clean", "robust", "total", "clean_correct", "robust_correct")
    return {
        **described, "eps": eps, **{key: getattr(result, key) for key in counts},
        "diagnostics": result.diagnostics.to_dict(), "manifest": result.manifest,
    }  # fmt: skip


def provenance(
    arguments: Mapping[str, Any], weights: str | os.PathLike | None, settings: CardSettings
) -> dict[str, Any]:
    """Library version, arguments, weight-file hash, seed, software, kernels and date."""
    import shapebias

    return {
        "shapebias": shapebias.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "environment": environment_record(),
        "arguments": {k: v if _plain(v) else str(v) for k, v in arguments.items()},
        "weights_sha256": None if weights is None else file_sha256(weights),
        "seed": settings.seed,
        "world_size": rank_and_world()[1],
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list))


def card_markdown(card: Mapping[str, Any], title: str) -> str:
    """The card as Markdown: accuracy table, shape bias, robust accuracy, provenance."""
    pct = _percent
    lines = [f"# Model card: {title}", ""]
    if card["accuracy"]:
        lines += ["## Accuracy (16 categories)", "", "| test set | images | accuracy % |"]
        lines += ["| :--- | ---: | ---: |"]
        for name, row in card["accuracy"].items():
            lines.append(f"| {name} | {row['images']} | {pct(row)} |")
        lines.append("")
    if "shape_bias" in card:
        bias = card["shape_bias"]
        lines += ["## Shape bias (cue conflict)", ""]
        lines.append(f"- shape bias: {pct(bias['shape_bias'])} %")
        lines.append(f"- cue match (decisions for shape or texture): {pct(bias['cue_match'])} %")
        if "null" in bias:
            null = bias["null"]
            lines.append(
                f"- texture-blind null: {100 * null['value']:.1f} % (from "
                f"{100 * null['shape_only_accuracy']:.1f} % accuracy on "
                f"{null['shape_only_condition']!r})"
            )
        else:
            lines.append("- texture-blind null: not computed (no shape-only condition given)")
        lines.append(
            f"- {bias['shape_decisions']} shape and {bias['texture_decisions']} texture "
            f"decisions over {bias['conflict_images']} cue-conflict images "
            f"({bias['excluded']} with equal cues left out)"
        )
        lines.append("")
    if "robust" in card:
        robust = card["robust"]
        budget = (
            f" ({robust['steps']} steps, {robust['restarts']} restarts)"
            if "restarts" in robust
            else f" ({robust['steps']} steps per APGD run, {robust['queries']} Square queries)"
        )
        lines += ["## Robust accuracy", ""]
        lines.append(f"- attack: {robust['attack']} at L-inf eps {robust['eps']:.5g}{budget}")
        lines.append(
            f"- clean {100 * robust['clean']:.1f} %, robust {100 * robust['robust']:.1f} % "
            f"over {robust['total']} images"
        )
        if "diagnostics" in robust:
            lines.append(_diagnostics_line(robust["diagnostics"]))
        lines.append("")
    if "humans" in card:
        lines += humans_markdown(card["humans"])
    lines += ["## Provenance", "", "```json", json.dumps(card["provenance"], indent=2), "```", ""]
    lines.append("Intervals: percentile bootstrap over images, 95 %.")
    return "\n".join(lines)


def _diagnostics_line(d: Mapping[str, Any]) -> str:
    """One line of the robust accuracy's diagnostics (issue 25)."""
    verdict = (
        "SUSPECT (see the guide: Can I trust this robust accuracy?)" if d["suspect"] else "clean"
    )
    start = d.get("start_zero_gradient")  # absent from cards written before it existed
    at_start = (
        "" if start is None else f", {100 * start:.1f} % at the {d['start_attack']} start point"
    )
    return (
        f"- diagnostics: {verdict}; zero/non-finite input gradients "
        f"{100 * d['zero_gradient']:.1f} % of correct images at the clean point{at_start}, "
        f"black-box breaks {d['black_box_breaks']}, "
        f"stochastic {'yes' if d['stochastic'] else 'no'}, "
        f"verified robust count {d['verified']} ({d['disagreements']} disagreements)"
    )


def _percent(estimate: Mapping[str, Any]) -> str:
    """``estimate``'s ``value [low, high]`` in percent; JSON's None reads as NaN."""
    numbers = (estimate[key] for key in ("value", "low", "high"))
    return format_estimate(metrics.Estimate(*(float("nan") if v is None else v for v in numbers)))


def write_card(card: Mapping[str, Any], out: str | os.PathLike, title: str) -> list[Path]:
    """Write ``card.json``, ``card.md`` and (with matplotlib) ``card.png``; rank 0 only."""
    if not is_main_process():
        return []
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "card.json", folder / "card.md"]
    written[0].write_text(json.dumps(card, indent=2, allow_nan=False) + "\n")
    written[1].write_text(card_markdown(card, title) + "\n")
    figure = _figure(card, folder / "card.png", title)
    return written + ([figure] if figure is not None else [])


def _figure(card: Mapping[str, Any], path: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.info("matplotlib is not installed: no card.png (pip install shapebias[plot])")
        return None
    bars = {name: row["value"] for name, row in card["accuracy"].items()}
    if "shape_bias" in card:
        bars["shape bias"] = card["shape_bias"]["shape_bias"]["value"]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.6 * len(bars) + 2), 3.2))
    values = [float("nan") if v is None else 100 * v for v in bars.values()]
    axis.bar(range(len(bars)), values, color="#4c72b0")
    axis.set_xticks(range(len(bars)), list(bars), rotation=30, ha="right")
    axis.set_ylabel("%")
    axis.set_ylim(0, 100)
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
