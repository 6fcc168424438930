"""Shared pieces of ``calibrate_dataset.py`` and ``cue_robustness_map.py`` (not a gallery example).

One standard ``small_cnn`` per (dataset setting, seed), trained the way
``reproduce_paper.py`` trains it (Adam, one-cycle, lr 5e-3, width 32, batch 64), PGD-AT
models fine-tuned from the same seed's standard model, and the three numbers the
calibration asks for: cue-conflict shape bias, shape-only accuracy and texture-only
accuracy (clean and under PGD), all through the library's public API.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.attacks import PGD, robust_accuracy
from shapebias.data import ShapeTextureDataset
from shapebias.metrics import shape_bias, texture_blind_null
from shapebias.models import StackedLoader, StackedModels, small_cnn
from shapebias.training import Recipe, StackedLoss

log = logging.getLogger("cue_experiment")


@dataclasses.dataclass(frozen=True)
class Budget:
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


def tensors(dataset: ShapeTextureDataset) -> tuple[torch.Tensor, ...]:
    """Every item of ``dataset`` stacked: images, then one int64 tensor per label."""
    items = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([item[0] for item in items])
    labels = [torch.tensor([item[k] for item in items]) for k in range(1, len(items[0]))]
    return (images, *labels)


def make_data(axes: dict[str, Any], seed: int, budget: Budget) -> dict[str, Any]:
    """Train tensors and the test splits of one dataset setting and seed."""
    common = {"num_classes": budget.num_classes, "image_size": budget.image_size, "seed": seed}
    common.update(axes)
    train = tensors(ShapeTextureDataset("train", size=budget.train_size, **common))
    splits = ("test", "shape_only", "texture_only", "cue_conflict")
    data = {s: tensors(ShapeTextureDataset(s, size=budget.test_size, **common)) for s in splits}
    data["train"] = train
    return data


def _loader(train: tuple[torch.Tensor, ...], seed: int, budget: Budget) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(*train[:2]), batch_size=budget.batch_size, shuffle=True, generator=generator
    )


def recipe(budget: Budget, eps: float | None = None) -> Recipe:
    """Standard training (``eps=None``) or PGD-AT fine-tuning at ``eps``, Adam one-cycle."""
    if eps is None:
        base = Recipe.standard(epochs=budget.standard_epochs, optimizer="adam")
        return dataclasses.replace(base, lr=budget.lr)
    base = Recipe.pgd_linf(
        eps, steps=budget.train_pgd_steps, epochs=budget.finetune_epochs, optimizer="adam"
    )
    return dataclasses.replace(base, lr=budget.finetune_lr)


def fit_stacked(
    models: Sequence[nn.Module], loaders: Sequence[Any], recipe: Recipe, **fit_kwargs: Any
) -> tuple[list[nn.Module], list[dict[str, Any]]]:
    """Train ``models[s]`` on ``loaders[s]`` with ``recipe``, all as one :class:`StackedModels`.

    Each member gets exactly the gradient, Adam update and batches of its separate run
    (:class:`StackedLoss`, :class:`StackedLoader`); only random attack starts differ, as
    they are drawn once for the stacked batch (same distribution, other draws). The
    recipe's own callbacks see the stack, so a stopping rule would pool the members:
    pass a recipe without one. Returns the trained members (new modules, in the mode the
    models had) and fit's history of the stack.
    """
    stack = StackedModels(models)
    stacked = dataclasses.replace(recipe, loss=StackedLoss(recipe.loss, len(models)))
    history = stacked.fit(stack, StackedLoader(tuple(loaders)), **fit_kwargs)
    return stack.unstack(), history


def train_seeds(
    datas: Sequence[dict[str, Any]],
    seeds: Sequence[int],
    budget: Budget,
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
    models = []
    for index, seed in enumerate(seeds):
        torch.manual_seed(seed)  # the initial weights are a function of the seed
        models.append(small_cnn(budget.num_classes, width=budget.width))
        if starts is not None:
            models[-1].load_state_dict(starts[index].state_dict())
    if caches is not None and all(cache.exists() for cache in caches):
        for model, cache in zip(models, caches, strict=True):
            model.load_state_dict(torch.load(cache, weights_only=True))
        return [model.eval() for model in models]
    torch.manual_seed(seeds[0])  # the stacked random attack starts: a function of the seeds
    loaders = [
        _loader(data["train"], seed, budget) for data, seed in zip(datas, seeds, strict=True)
    ]
    trained, _ = fit_stacked(models, loaders, recipe(budget, eps), progress=False)
    for model, cache in zip(trained, caches or (), strict=False):
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), cache)
    return [model.eval() for model in trained]


def train(
    data: dict[str, Any],
    seed: int,
    budget: Budget,
    *,
    start: nn.Module | None = None,
    eps: float | None = None,
    cache: Path | None = None,
) -> nn.Module:
    """One seed of :func:`train_seeds` (a stack of one, exactly a separate run)."""
    return train_seeds(
        [data],
        [seed],
        budget,
        starts=None if start is None else [start],
        eps=eps,
        caches=None if cache is None else [cache],
    )[0]


def _accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


def _plain(value: Any) -> Any:
    """An :class:`~shapebias.metrics.Estimate` as a JSON dict of value and interval."""
    if hasattr(value, "value"):
        return {"value": value.value, "low": value.low, "high": value.high}
    return value


def evaluate(
    model: torch.nn.Module,
    data: dict[str, Any],
    eps_list: tuple[float, ...],
    budget: Budget,
    *,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Clean, shape-only, texture-only (clean and PGD) accuracies and the shape bias.

    Estimates come back as ``{"value", "low", "high"}`` dicts (JSON). With ``cache`` (a
    ``.json`` path) the result is read from it when it exists and written otherwise.
    """
    if cache is not None and cache.exists():
        return json.loads(cache.read_text())
    bias = shape_bias(model, data["cue_conflict"], progress=False)
    skill = _accuracy(model, *data["shape_only"])
    result: dict[str, Any] = {
        "clean_accuracy": _accuracy(model, *data["test"]),
        "shape_only_accuracy": skill,
        "texture_only_accuracy": _accuracy(model, *data["texture_only"]),
        "shape_bias": bias.shape_bias,
        "cue_match": bias.cue_match,
        "texture_blind_null": texture_blind_null(skill, budget.num_classes),
        "texture_only_pgd": {},
    }
    for eps in eps_list:
        attack = PGD(
            eps=eps, steps=budget.eval_pgd_steps, generator=torch.Generator().manual_seed(0)
        )
        robust = robust_accuracy(model, data["texture_only"], attack, progress=False)
        result["texture_only_pgd"][f"{eps * 255:g}/255"] = robust.robust
    result = {key: _plain(value) for key, value in result.items()}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(result))
    return result


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (a run survives an interruption of the sweep)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines written by :func:`append_record` (none when the file is missing)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def timed(label: str):
    """A context manager that logs how long its block took."""

    class _Timer:
        def __enter__(self) -> _Timer:
            self.began = time.perf_counter()
            return self

        def __exit__(self, *exc: object) -> None:
            self.seconds = time.perf_counter() - self.began
            log.info("%s: %.1f s", label, self.seconds)

    return _Timer()
