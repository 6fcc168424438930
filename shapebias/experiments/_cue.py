"""One standard model per (dataset setting, seed), its PGD-AT fine-tunes, and the cue numbers
the calibration and the cue-robustness map ask for (shape bias, shape-only and
texture-only accuracy, clean and under PGD), trained the way :func:`reproduce` trains."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.attacks import PGD, robust_accuracy
from shapebias.data import ShapeTextureDataset, dataset_tensors
from shapebias.experiments._training import fit_stacked, initial_model
from shapebias.metrics import distortion_accuracy, shape_bias, texture_blind_null
from shapebias.training import Recipe

__all__ = ["CueBudget", "cue_data", "evaluate_cues", "train_cue_models"]

CueData = dict[str, tuple[torch.Tensor, ...]]


@dataclasses.dataclass(frozen=True)
class CueBudget:
    """How each model is trained and evaluated (the reproduction's values by default)."""

    num_classes: int = 4
    image_size: int = 32
    train_size: int = 4000
    test_size: int = 500
    width: int = 32
    batch_size: int = 64
    standard_epochs: int = 12
    lr: float = 5e-3
    finetune_epochs: int = 3
    finetune_lr: float = 1e-3
    train_pgd_steps: int = 3
    eval_pgd_steps: int = 10


def cue_data(axes: Mapping[str, Any], seed: int, budget: CueBudget) -> CueData:
    """Train tensors and the test splits of one dataset setting and seed."""
    common: dict[str, Any] = {
        "num_classes": budget.num_classes,
        "image_size": budget.image_size,
        "seed": seed,
    }
    common.update(axes)
    splits = ("test", "shape_only", "texture_only", "cue_conflict")
    data = {s: dataset_tensors(ShapeTextureDataset(s, size=budget.test_size, **common))
            for s in splits}  # fmt: skip
    data["train"] = dataset_tensors(ShapeTextureDataset("train", size=budget.train_size, **common))
    return data


def _recipe(budget: CueBudget, eps: float | None) -> Recipe:
    """Standard training (``eps=None``) or PGD-AT fine-tuning at ``eps``, Adam one-cycle."""
    if eps is None:
        base = Recipe.standard(epochs=budget.standard_epochs, optimizer="adam")
        return dataclasses.replace(base, lr=budget.lr)
    base = Recipe.pgd_linf(
        eps, steps=budget.train_pgd_steps, epochs=budget.finetune_epochs, optimizer="adam"
    )
    return dataclasses.replace(base, lr=budget.finetune_lr)


def train_cue_models(
    datas: Sequence[CueData],
    seeds: Sequence[int],
    budget: CueBudget,
    *,
    starts: Sequence[nn.Module] | None = None,
    eps: float | None = None,
    caches: Sequence[Path] | None = None,
) -> list[nn.Module]:
    """Standard models (``starts=None``) or PGD-AT fine-tunes of ``starts`` at ``eps``, per seed.

    Seed ``seeds[i]`` trains on ``datas[i]["train"]`` with its own shuffling generator,
    from weights initialised under ``torch.manual_seed(seed)`` (or from ``starts[i]``);
    all seeds train together as one stack (:func:`fit_stacked`). With ``caches`` (one
    ``.pt`` path per seed) the weights are loaded when every cache exists and saved to
    them after training otherwise.
    """
    models = [
        initial_model(seed, budget.num_classes, budget.width, None if starts is None else starts[i])
        for i, seed in enumerate(seeds)
    ]
    if caches is not None and all(cache.exists() for cache in caches):
        for model, cache in zip(models, caches, strict=True):
            model.load_state_dict(torch.load(cache, weights_only=True))
        return [model.eval() for model in models]
    torch.manual_seed(seeds[0])  # the stacked random attack starts: a function of the seeds
    loaders = [
        DataLoader(
            TensorDataset(*data["train"][:2]),
            batch_size=budget.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        for data, seed in zip(datas, seeds, strict=True)
    ]
    trained, _ = fit_stacked(models, loaders, _recipe(budget, eps), progress=False)
    for model, cache in zip(trained, caches or (), strict=False):
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), cache)
    return [model.eval() for model in trained]


def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


def _plain(value: Any) -> Any:
    """An :class:`~shapebias.metrics.Estimate` as a JSON dict of value and interval."""
    if hasattr(value, "value"):
        return {"value": value.value, "low": value.low, "high": value.high}
    return value


def evaluate_cues(
    model: nn.Module,
    data: CueData,
    eps_list: Sequence[float],
    budget: CueBudget,
    *,
    distortions: Mapping[str, Callable[..., torch.Tensor]] | None = None,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Clean, shape-only, texture-only (clean and PGD) accuracies and the shape bias.

    With ``distortions`` (name -> a distortion of :mod:`shapebias.distortions`), also the
    accuracy on each distorted copy of the test split (``"distorted"``: name -> accuracy;
    the calibration's floor check). Estimates come back as ``{"value", "low", "high"}``
    dicts (JSON). With ``cache`` (a ``.json`` path) the result is read from it when it
    exists and written otherwise.
    """
    if cache is not None and cache.exists():
        result: dict[str, Any] = json.loads(cache.read_text())
        return result
    bias = shape_bias(model, data["cue_conflict"], progress=False)
    skill = _accuracy(model, *data["shape_only"][:2])
    result = {
        "clean_accuracy": _accuracy(model, *data["test"][:2]),
        "shape_only_accuracy": skill,
        "texture_only_accuracy": _accuracy(model, *data["texture_only"][:2]),
        "shape_bias": bias.shape_bias,
        "cue_match": bias.cue_match,
        "texture_blind_null": texture_blind_null(skill, budget.num_classes),
        "texture_only_pgd": {},
    }
    if distortions:
        accuracy = distortion_accuracy(
            model, data["test"][:2], distortions, seed=0, num_bootstrap=0, progress=False
        )
        result["distorted"] = {name: accuracy.accuracy[name].value for name in distortions}
    for eps in eps_list:
        attack = PGD(
            eps=eps, steps=budget.eval_pgd_steps, generator=torch.Generator().manual_seed(0)
        )
        robust = robust_accuracy(model, data["texture_only"][:2], attack, progress=False)
        result["texture_only_pgd"][f"{eps * 255:g}/255"] = robust.robust
    result = {key: _plain(value) for key, value in result.items()}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(result))
    return result
