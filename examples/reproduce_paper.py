"""Reproduce Zhang & Zhu (ICML 2019), "Interpreting Adversarially Trained CNNs", in one command.

Trains, for each of several seeds, a standard CNN and adversarially trained CNNs (PGD-Linf
at two budgets, PGD-L2, fast FGSM), each fine-tuned from the standard model of its own
seed, plus two controls (an underfit standard model matched to the adversarially trained
models' clean accuracy, and a model trained on shape alone). It measures every model on
stylized, saturated, patch-shuffled and low-passed test sets, cue-conflict shape bias,
robust accuracy at several budgets and the edge alignment and concentration of its
SmoothGrad maps, and states each of the paper's claims as a seed-paired difference
(adversarially trained minus standard) with an interval over seeds and test images, a
sign count, a Holm-adjusted p-value and a verdict. By default everything runs on
``ShapeTextureDataset`` (no download); real data sets run the same protocol from
``--data-root``.

Outputs in ``--out``: ``results.json`` (every seed's numbers and the claims),
``results.md`` (the claims table, the controls and the robustness table),
``saliency.png``, ``paired_differences.png`` and the trained models in ``models/``. A
second run reuses the trained models; an interrupted run resumes from its last epoch.

    python examples/reproduce_paper.py            # default run: 3 seeds x 7 models
    python examples/reproduce_paper.py --quick    # a smoke run (not a result)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import shapebias
import shapebias.data
from shapebias.attacks import PGD, auto_attack_suite, robust_accuracy
from shapebias.data import (
    SHAPE_TEXTURE_AXES,
    ShapeTextureDataset,
    caltech256,
    cifar10,
    image_folder,
    sample_images,
    tiny_imagenet,
)
from shapebias.distortions import LowPass, PatchShuffle, Saturate, Stylize, cue_conflict
from shapebias.frequency import (
    BandEpsIndex,
    FourierHeatMap,
    band_eps_index,
    fourier_heat_map,
    plot_fourier_heat_map,
)
from shapebias.metrics import (
    AT_DID_NOT_FIT,
    CANNOT_DISCRIMINATE,
    PairedDifference,
    concentration,
    distortion_accuracy,
    edge_alignment,
    holm,
    paired_difference,
    shape_bias,
    texture_blind_null,
    verdict,
)
from shapebias.models import eval_mode, small_cnn
from shapebias.saliency import smoothgrad, to_heatmap
from shapebias.training import Callback, Recipe, TrainingState, load_model, save_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cue_experiment import fit_stacked  # the examples' shared helpers

log = logging.getLogger("reproduce_paper")
DATASETS = ("shapetexture", "cifar10", "tinyimagenet", "caltech256", "folder")


def _setting(default: Any, help: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that decides the results; stored in ``config.json`` beside them."""

    dataset: str = _setting("shapetexture", "data set (--dataset)")
    seeds: int = _setting(3, "training seeds per model (--seeds)")
    seed: int = _setting(0, "first seed; seeds are seed, seed+1, ... (--seed)")
    num_classes: int = _setting(4, "ShapeTextureDataset classes")
    image_size: int = _setting(32, "image side in pixels")
    train_size: int = _setting(4000, "training images")
    validation_size: int = _setting(
        500, "validation images (per-epoch evaluation, underfit stopping; no test image)"
    )
    test_size: int = _setting(1000, "test images of each test split")
    width: int = _setting(32, "small_cnn width")
    batch_size: int = _setting(64, "training batch size")
    standard_epochs: int = _setting(12, "epochs of the standard, shape-only, underfit models")
    finetune_epochs: int = _setting(3, "epochs of adversarial fine-tuning")
    train_pgd_steps: int = _setting(3, "PGD steps in adversarial training")
    lr: float = _setting(5e-3, "peak learning rate (Adam, one-cycle) from scratch")
    finetune_lr: float = _setting(1e-3, "peak learning rate of fine-tuning")
    eps_linf: tuple[float, ...] = _setting((2 / 255, 4 / 255), "PGD-Linf training budgets")
    eps_l2: float = _setting(0.25, "PGD-L2 training budget")
    eps_fgsm: float = _setting(4 / 255, "FGSM-RS training budget")
    robust_eps: tuple[float, ...] = _setting(
        (1 / 255, 2 / 255, 4 / 255, 8 / 255), "L-inf budgets of the robustness table"
    )
    robust_size: int = _setting(500, "test images attacked for robust accuracy")
    eval_attack: str = _setting(
        "apgd",
        "evaluation attack: apgd (APGD-CE then APGD-T, auto_attack version='fast') or pgd",
    )
    eval_steps: int = _setting(10, "iterations of each evaluation attack run")
    eval_restarts: int = _setting(2, "random restarts of the evaluation attack (pgd only)")
    fit_eps: float = _setting(2 / 255, "budget at which AT must beat the standard model")
    min_robust_gain: float = _setting(
        0.02, "AT did not fit unless its robust gain's interval clears this"
    )
    floor: float = _setting(
        0.05, "cannot discriminate: the standard model within this of chance or 100%"
    )
    saliency_images: int = _setting(64, "test images whose SmoothGrad maps are scored")
    saliency_samples: int = _setting(50, "SmoothGrad noisy copies (n)")
    noise_level: float = _setting(0.15, "SmoothGrad noise level (of each image's range)")
    confidence: float = _setting(0.95, "coverage of every interval")
    alpha: float = _setting(0.05, "family-wise error rate of the Holm-adjusted claims")
    num_bootstrap: int = _setting(2000, "bootstrap replicates")
    frequency_images: int = _setting(
        100, "test images of the Fourier heat map and the band eps index (per model)"
    )
    heat_map_size: int = _setting(11, "Fourier heat map: the size x size lowest frequencies")
    heat_map_eps: float = _setting(
        2.0, "Fourier heat map: L2 norm per channel of each sinusoid (pixel units)"
    )
    band_split: float = _setting(
        4.0, "band eps index: low band [0, f), high band [f, Nyquist], cycles per image"
    )
    band_steps: int = _setting(5, "band eps index: L2 PGD steps per bisection attack")
    stack_seeds: bool = _setting(
        True,
        "train the seeds of a configuration as one StackedModels (false: one at a time; "
        "same numbers but for the random attack starts' draws)",
    )


PRESETS = {
    "default": Settings(),
    "quick": Settings(
        seeds=2,
        image_size=16,
        train_size=800,
        validation_size=100,
        test_size=200,
        width=16,
        standard_epochs=4,
        finetune_epochs=1,
        train_pgd_steps=1,
        robust_eps=(2 / 255, 8 / 255),
        robust_size=100,
        eval_steps=3,
        eval_restarts=1,
        saliency_images=8,
        saliency_samples=4,
        num_bootstrap=300,
        frequency_images=24,
        heat_map_size=5,
        heat_map_eps=1.0,
        band_split=2.0,
        band_steps=2,
    ),
}
# Settings the command line sets through their own flags, not --set.
_FLAGS = {"dataset", "seeds", "seed"}


def dataset_defaults() -> dict[str, Any]:
    """ShapeTextureDataset settings: each axis's default, then the calibrated values."""
    calibrated = getattr(shapebias.data, "CALIBRATED_AXES", {})
    return {axis.name: calibrated.get(axis.name, axis.default) for axis in SHAPE_TEXTURE_AXES}


# --------------------------------------------------------------------------- data


def _tensors(dataset: Dataset, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
    """Materialise (part of) a map-style dataset of tuples into stacked tensors."""
    items = [dataset[i] for i in (range(len(dataset)) if indices is None else indices)]  # type: ignore[arg-type]
    return tuple(
        torch.stack(column) if isinstance(column[0], torch.Tensor) else torch.tensor(column)
        for column in zip(*items, strict=True)
    )


def _resize(size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def transform(image: torch.Tensor) -> torch.Tensor:
        resized = nn.functional.interpolate(
            image[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        return resized[0].clamp(0, 1)

    return transform


def load_data(settings: Settings, axes: dict[str, Any], data_root: Path | None) -> dict[str, Any]:
    """Train tensors, a validation split disjoint from every test split, and the test sets.

    ``shape_only``/``texture_only`` (and the shape-only control's splits) exist only for
    ShapeTextureDataset.
    """
    if settings.dataset == "shapetexture":
        return _shape_texture_data(settings, axes)
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
    test_tensors = _tensors(
        test, torch.randperm(len(test), generator=generator)[: settings.test_size].tolist()
    )
    # The validation images come from the training split: never a test image.
    order = torch.randperm(len(train), generator=generator).tolist()
    validation = order[: settings.validation_size]
    training = order[settings.validation_size : settings.validation_size + settings.train_size]
    images, labels = test_tensors
    other = torch.roll(torch.arange(len(labels)), 1)
    conflict = cue_conflict(
        images, images[other], labels, labels[other], pairing="zip", generator=generator
    )
    return {
        "train": _tensors(train, training),
        "validation": _tensors(train, validation),
        "test": test_tensors,
        "cue_conflict": tuple(conflict),
        "num_classes": int(labels.max()) + 1,
    }


def _shape_texture_data(settings: Settings, axes: dict[str, Any]) -> dict[str, Any]:
    common = {
        "num_classes": settings.num_classes,
        "image_size": settings.image_size,
        "seed": settings.seed,
        **axes,
    }
    train_count, validation_count, test_count = (
        settings.train_size,
        settings.validation_size,
        settings.test_size,
    )
    # Validation: the last items of the train split (its own random stream, never a
    # test split's). Shape-only: test items first, then validation, then training.
    train = ShapeTextureDataset("train", size=train_count + validation_count, **common)
    shape_only = ShapeTextureDataset(
        "shape_only", size=test_count + validation_count + train_count, **common
    )
    return {
        "train": _tensors(train, range(train_count)),
        "validation": _tensors(train, range(train_count, len(train))),
        "train_shape_only": _tensors(
            shape_only, range(test_count + validation_count, len(shape_only))
        ),
        "validation_shape_only": _tensors(
            shape_only, range(test_count, test_count + validation_count)
        ),
        "test": _tensors(ShapeTextureDataset("test", size=test_count, **common)),
        "shape_only": _tensors(shape_only, range(test_count)),
        "texture_only": _tensors(ShapeTextureDataset("texture_only", size=test_count, **common)),
        "cue_conflict": _tensors(ShapeTextureDataset("cue_conflict", size=test_count, **common)),
        "num_classes": settings.num_classes,
    }


# ------------------------------------------------------------------------- models


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One model configuration, trained once per seed by :func:`train_seeds`.

    Attributes:
        name: the model's name (``pgd_linf_4``).
        recipes: the recipe of each seed (the same for all but ``underfit``, whose
            stopping accuracy is its own seed's adversarial models').
        train: the data key of the training tensors.
        validation: the data key of the per-epoch evaluation tensors.
        starts: per seed, the model to fine-tune from (None: from scratch).
        stacked: train all seeds as one stack (False: one seed at a time, for a
            per-seed stopping rule).
    """

    name: str
    recipes: tuple[Recipe, ...]
    train: str = "train"
    validation: str = "validation"
    starts: tuple[nn.Module, ...] | None = None
    stacked: bool = True


@dataclasses.dataclass
class RunContext:
    """What every training call shares: settings, data, output folder, the progress bar."""

    settings: Settings
    data: dict[str, Any]
    out: Path
    device: torch.device
    bar: Any
    total: int
    done: int = 0
    metas: dict[tuple[str, int], dict[str, Any]] = dataclasses.field(default_factory=dict)
    pool: Any = None  # worker processes (None: everything runs in this process)

    def step(self, what: str, name: str, seed: int) -> None:
        """Name the next model on the bar: ``train model 5/21: pgd_linf_4 seed 1``."""
        self.done += 1
        self.bar.set_description(f"{what} model {self.done}/{self.total}: {name} seed {seed}")


class EpochLog(Callback):
    """Logs one line per epoch naming the model and seed."""

    def __init__(self, label: str, epochs: int) -> None:
        self.label, self.epochs = label, epochs

    def on_epoch_end(self, state: TrainingState) -> None:
        metrics = state.history[-1]
        log.info(
            "%s epoch %d/%d: loss %.4f, validation accuracy %.3f, %.1f s",
            self.label,
            state.epoch,
            self.epochs,
            metrics["loss"],
            metrics.get("clean_accuracy", math.nan),
            metrics["seconds"],
        )


def model_configs(settings: Settings) -> dict[str, TrainConfig]:
    """The configurations trained from scratch; adversarial ones come from :func:`adversarial`."""
    recipe = _scratch(Recipe.standard(epochs=settings.standard_epochs, optimizer="adam"), settings)
    seeds = settings.seeds
    return {
        "standard": TrainConfig("standard", (recipe,) * seeds, stacked=settings.stack_seeds),
        "shape_only": TrainConfig(
            "shape_only",
            (recipe,) * seeds,
            "train_shape_only",
            "validation_shape_only",
            stacked=settings.stack_seeds,
        ),
    }


def _scratch(recipe: Recipe, settings: Settings) -> Recipe:
    return dataclasses.replace(recipe, lr=settings.lr)


def adversarial_configs(settings: Settings, standard: list[nn.Module]) -> list[TrainConfig]:
    """The paper's adversarially trained models, each fine-tuned from its seed's standard."""
    steps, epochs = settings.train_pgd_steps, settings.finetune_epochs
    recipes = {
        **{
            f"pgd_linf_{round(eps * 255)}": Recipe.pgd_linf(
                eps, steps=steps, epochs=epochs, optimizer="adam"
            )
            for eps in settings.eps_linf
        },
        "pgd_l2": Recipe.pgd_l2(settings.eps_l2, steps=steps, epochs=epochs, optimizer="adam"),
        "fgsm_rs": Recipe.fgsm(
            settings.eps_fgsm, random_start=True, epochs=epochs, optimizer="adam"
        ),
    }
    return [
        TrainConfig(
            name,
            (dataclasses.replace(recipe, lr=settings.finetune_lr),) * settings.seeds,
            starts=tuple(standard),
            stacked=settings.stack_seeds,
        )
        for name, recipe in recipes.items()
    ]


def underfit_config(settings: Settings, run: RunContext, names: list[str]) -> TrainConfig:
    """Standard training stopped at the mean validation accuracy of its seed's AT models."""
    recipes = []
    for seed in seed_list(settings):
        target = float(np.mean([run.metas[name, seed]["clean_accuracy"] for name in names]))
        recipe = Recipe.underfit(
            epochs=settings.standard_epochs, match_accuracy=target, optimizer="adam"
        )
        recipes.append(_scratch(recipe, settings))
    return TrainConfig("underfit", tuple(recipes), stacked=False)


def seed_list(settings: Settings) -> list[int]:
    return list(range(settings.seed, settings.seed + settings.seeds))


def train_seeds(config: TrainConfig, seeds: Sequence[int], run: RunContext) -> list[nn.Module]:
    """Train (or load) one configuration for every seed; one model per seed, in order.

    The single place that trains. All seeds of a configuration train together as one
    :class:`~shapebias.models.StackedModels` (:func:`_cue_experiment.fit_stacked`): each
    seed keeps its own initialisation (``torch.manual_seed(seed)``), its own shuffling
    generator, its own start (an AT model fine-tunes its seed's standard model) and gets
    exactly the gradients and Adam updates of a separate run. Only random attack starts
    differ: they are drawn once for the stacked batch, so they are other draws of the
    same distribution. ``underfit`` trains one seed at a time (:func:`_train_one`): its
    stopping rule watches each seed's own validation accuracy, and a stack stops all
    members at once.
    """
    paths = [_model_path(run, config.name, seed) for seed in seeds]
    if config.stacked and not all(path.exists() for path in paths):
        return _train_stacked(config, seeds, run)
    models = []
    for index, seed in enumerate(seeds):
        run.step("train", config.name, seed)
        start = None if config.starts is None else config.starts[index]
        models.append(_train_one(config, config.recipes[index], seed, start, run))
        run.bar.update()
    return models


def _model_path(run: RunContext, name: str, seed: int) -> Path:
    return run.out / "models" / f"{name}_seed{seed}.pt"


def _initial(seed: int, start: nn.Module | None, run: RunContext) -> nn.Module:
    """Seed ``seed``'s model before training: initialised from the seed, or ``start``'s copy."""
    torch.manual_seed(seed)  # the initial weights are a function of the seed
    model = small_cnn(run.data["num_classes"], width=run.settings.width).to(run.device)
    if start is not None:
        model.load_state_dict(start.state_dict())
    return model


def _loader(config: TrainConfig, seed: int, run: RunContext) -> DataLoader:
    """The training batches of one seed, shuffled by the seed's own generator."""
    return DataLoader(
        TensorDataset(*run.data[config.train]),
        batch_size=run.settings.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )


class MemberAccuracy(Callback):
    """Each stacked seed's clean accuracy on the validation split, after every epoch.

    Adds ``member_accuracy`` (one value per seed) to the epoch's history entry and logs
    one line per seed, as :class:`EpochLog` does for a model trained alone.
    """

    def __init__(self, validation: tuple[torch.Tensor, ...], labels: list[str], epochs: int):
        self.images, self.targets = validation[0], validation[1]
        self.labels, self.epochs = labels, epochs

    def on_epoch_end(self, state: TrainingState) -> None:
        members = len(self.labels)
        correct = torch.zeros(members)
        with eval_mode(state.model), torch.no_grad():
            for images, labels in zip(self.images.split(256), self.targets.split(256), strict=True):
                logits = state.model(images.repeat(members, 1, 1, 1))
                hits = logits.argmax(1) == labels.repeat(members)
                correct += hits.view(members, -1).sum(1).cpu()
        metrics = state.history[-1]
        metrics["member_accuracy"] = (correct / len(self.targets)).tolist()
        for label, accuracy in zip(self.labels, metrics["member_accuracy"], strict=True):
            log.info(
                "%s epoch %d/%d: loss %.4f (stack mean), validation accuracy %.3f, %.1f s",
                label, state.epoch, self.epochs, metrics["loss"], accuracy, metrics["seconds"],
            )  # fmt: skip


def _train_stacked(config: TrainConfig, seeds: Sequence[int], run: RunContext) -> list[nn.Module]:
    """Every seed of ``config`` as one stack; saves each seed's model and meta as alone."""
    settings = run.settings
    recipe = config.recipes[0]
    labels = [f"{config.name} seed {seed}" for seed in seeds]
    run.bar.set_description(f"train {config.name} seeds {seeds[0]}-{seeds[-1]} (stacked)")
    starts = config.starts or (None,) * len(seeds)
    models = [_initial(seed, start, run) for seed, start in zip(seeds, starts, strict=True)]
    loaders = [_loader(config, seed, run) for seed in seeds]
    checkpoints = run.out / "checkpoints" / f"{config.name}_stacked"
    torch.manual_seed(seeds[0])  # the stack's random attack starts: a function of the seeds
    began, began_cpu = time.perf_counter(), time.process_time()
    trained, history = fit_stacked(
        models,
        loaders,
        recipe,
        callbacks=(MemberAccuracy(run.data[config.validation], labels, recipe.epochs),),
        checkpoint_dir=checkpoints,
        device=run.device,
        progress=False,
    )
    seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    for index, (seed, model) in enumerate(zip(seeds, trained, strict=True)):
        meta = recipe.meta(
            data=settings.dataset,
            seed=seed,
            fine_tuned_from=f"standard seed {seed}" if config.starts is not None else None,
            epochs_run=len(history),
            clean_accuracy=history[-1]["member_accuracy"][index],
            evaluated_on="validation split",
            stacked_seeds=list(seeds),
            train_seconds=seconds / len(seeds),
            train_cpu_seconds=cpu / len(seeds),
            stack_train_seconds=seconds,
            stack_train_cpu_seconds=cpu,
            history=[
                {
                    "epoch": h["epoch"],
                    "stack_mean_loss": h["loss"],
                    "lr": h["lr"],
                    "seconds": h["seconds"],
                    "clean_accuracy": h["member_accuracy"][index],
                }
                for h in history
            ],
        )
        save_model(_model_path(run, config.name, seed), model, meta=meta)
        run.metas[config.name, seed] = meta
        run.step("train", config.name, seed)
        run.bar.update()
    shutil.rmtree(checkpoints, ignore_errors=True)
    return [model.eval() for model in trained]


def _train_one(
    config: TrainConfig, recipe: Recipe, seed: int, start: nn.Module | None, run: RunContext
) -> nn.Module:
    settings, data = run.settings, run.data
    label = f"{config.name} seed {seed}"
    path = _model_path(run, config.name, seed)
    model = _initial(seed, start, run)
    if path.exists():
        run.metas[config.name, seed] = load_model(path, model, map_location=run.device)
        log.info("loaded %s from %s", label, path)
        return model.eval()
    loader = _loader(config, seed, run)
    began, began_cpu = time.perf_counter(), time.process_time()
    history = recipe.fit(
        model,
        loader,
        eval_data=data[config.validation],
        eval_attack=None,
        callbacks=(EpochLog(label, recipe.epochs),),
        checkpoint_dir=run.out / "checkpoints" / f"{config.name}_seed{seed}",
        device=run.device,
        progress=False,
    )
    meta = recipe.meta(
        data=settings.dataset,
        seed=seed,
        fine_tuned_from=f"standard seed {seed}" if start is not None else None,
        epochs_run=len(history),
        clean_accuracy=history[-1]["clean_accuracy"],
        evaluated_on="validation split",
        train_seconds=time.perf_counter() - began,
        train_cpu_seconds=time.process_time() - began_cpu,
        history=[{k: v for k, v in h.items() if isinstance(v, (int, float))} for h in history],
    )
    save_model(path, model, meta=meta)
    shutil.rmtree(run.out / "checkpoints" / f"{config.name}_seed{seed}", ignore_errors=True)
    run.metas[config.name, seed] = meta
    return model.eval()


def train_all(run: RunContext) -> dict[str, list[nn.Module]]:
    """Every configuration for every seed: name -> one model per seed."""
    settings = run.settings
    configs = []
    for name, config in model_configs(settings).items():
        if config.train not in run.data:
            log.info("skipping %s: %s has no %s split", name, settings.dataset, config.train)
            continue
        configs.append(config)
    models = _train_configs(configs, run)
    adversarial = adversarial_configs(settings, models["standard"])
    models.update(_train_configs(adversarial, run))
    underfit = underfit_config(settings, run, [c.name for c in adversarial])
    models.update(_train_configs([underfit], run))
    return models


def _train_configs(configs: list[TrainConfig], run: RunContext) -> dict[str, list[nn.Module]]:
    """Train configurations that do not depend on each other; name -> one model per seed.

    With worker processes, each stacked configuration (or each seed of an unstacked one)
    is one job; the models are then loaded here from the files the workers saved.
    """
    seeds = seed_list(run.settings)
    if run.pool is not None:
        jobs = [
            (config, seeds)
            if config.stacked
            else (dataclasses.replace(config, recipes=(config.recipes[i],)), [seed])
            for config in configs
            for i, seed in enumerate(seeds if not config.stacked else seeds[:1])
            if not all(_model_path(run, config.name, s).exists() for s in seeds)
        ]
        for (config, job_seeds), _ in _parallel(_train_job, jobs, run):
            log.info("trained %s seeds %s in a worker process", config.name, job_seeds)
    return {config.name: train_seeds(config, seeds, run) for config in configs}


def _train_job(job: tuple[TrainConfig, list[int]], run: RunContext) -> None:
    config, seeds = job
    train_seeds(config, seeds, run)


def _parallel(
    function: Callable[[Any, RunContext], Any], jobs: Sequence[Any], run: RunContext
) -> Iterator[tuple[Any, Any]]:
    """``(job, function(job, run))`` for every job, in order of completion.

    In this process when ``run.pool`` is None, else in the pool's worker processes (each
    with its own :class:`RunContext` from :func:`_init_worker`).
    """
    if run.pool is None:
        for job in jobs:
            yield job, function(job, run)
        return
    futures = {run.pool.submit(_in_worker, function, job): job for job in jobs}
    for future in concurrent.futures.as_completed(futures):
        yield futures[future], future.result()


_WORKER: dict[str, RunContext] = {}


def _init_worker(settings: Settings, axes: dict[str, Any], data_root: Path | None, out: Path,
                 device: str) -> None:  # fmt: skip
    """A worker process: one thread, its own copy of the data, no progress bar."""
    torch.set_num_threads(1)
    _configure_logging()
    data = _on_device(load_data(settings, axes, data_root), torch.device(device))
    bar = tqdm(total=0, disable=True)
    _WORKER["run"] = RunContext(settings, data, out, torch.device(device), bar, total=0)


def _in_worker(function: Callable[[Any, RunContext], Any], job: Any) -> Any:
    return function(job, _WORKER["run"])


def _pool(workers: int, settings: Settings, axes: dict[str, Any], args: argparse.Namespace):
    """``workers`` processes of one thread each (None for 1: all in this process)."""
    if workers == 1:
        return contextlib.nullcontext(None)
    return concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(settings, axes, args.data_root, args.out, args.device),
    )


def _on_device(data: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: tuple(t.to(device) for t in v) if isinstance(v, tuple) else v for k, v in data.items()
    }


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("shapebias.training").setLevel(logging.WARNING)  # EpochLog names the model


def num_models(settings: Settings, data: dict[str, Any]) -> int:
    configs = len(model_configs(settings)) + len(settings.eps_linf) + 3  # l2, fgsm, underfit
    if "train_shape_only" not in data:
        configs -= 1
    return configs * settings.seeds


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


@torch.no_grad()
def robust_correct(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, settings: Settings
) -> torch.Tensor:
    """Per image: still classified right under the evaluation attack at ``eps``.

    The one place that defines the evaluation attack: by default the AutoAttack-style
    ensemble without Square (APGD-CE, then APGD-T with the DLR loss over up to three
    target classes, each image attacked until the first attack breaks it); ``pgd`` is
    PGD with random restarts, the most damaging restart kept per image.
    """
    generator = torch.Generator(images.device).manual_seed(settings.seed)
    if settings.eval_attack == "apgd":
        num_classes = model(images[:1]).shape[1]  # a real data set sets its own
        attacks = auto_attack_suite(
            eps,
            version="fast",
            steps=settings.eval_steps,
            num_targets=num_classes - 1,
            generator=generator,
        )
        # The targeted DLR loss needs four classes; below that APGD-CE runs alone.
        result = robust_accuracy(
            model, (images, labels), attacks if num_classes >= 4 else attacks[:1], progress=False
        )
        return (result.correct & (result.broken_by < 0)).to(labels.device)
    attack = PGD(
        eps=eps, steps=settings.eval_steps, restarts=settings.eval_restarts, generator=generator
    )
    right = torch.empty(len(labels), dtype=torch.bool, device=labels.device)
    for chunk in torch.arange(len(labels), device=labels.device).split(256):
        adversarial = attack(model, images[chunk], labels[chunk])
        right[chunk] = model(adversarial).argmax(1) == labels[chunk]
    return right


@torch.no_grad()
def robust_curve(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: Settings
) -> dict[float, torch.Tensor]:
    """Per budget (ascending), per image: right on the clean image and under every attack
    up to that budget.

    An adversarial example found within a smaller ball lies in every larger one, so an
    image broken at one budget counts as broken at all larger ones and only the survivors
    are attacked again (the same numbers as attacking all, for less work).
    """
    alive = model(images).argmax(1) == labels
    curve = {}
    for eps in sorted(settings.robust_eps):
        index = alive.nonzero().flatten()
        if len(index):
            alive[index] = robust_correct(model, images[index], labels[index], eps, settings)
        curve[eps] = alive.cpu().clone()
    return curve


def _saliency(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: Settings):
    return smoothgrad(
        model,
        images,
        labels,
        output="loss",
        n_samples=settings.saliency_samples,
        noise_level=settings.noise_level,
        generator=torch.Generator(images.device).manual_seed(settings.seed),
    )


@contextlib.contextmanager
def _cpu_clock(parts: dict[str, float], name: str) -> Iterator[None]:
    """Add the CPU seconds (``time.process_time``) of the block to ``parts[name]``."""
    began = time.process_time()
    try:
        yield
    finally:
        parts[name] = parts.get(name, 0.0) + time.process_time() - began


def frequency_measures(
    model: nn.Module, test: tuple[torch.Tensor, ...], settings: Settings
) -> tuple[FourierHeatMap, BandEpsIndex]:
    """The Fourier heat map and the low/high band eps index on the first test images.

    Settings fixed from cost and the standard model alone: ``heat_map_eps`` 2.0 at 32 px
    is the peak amplitude (0.088) of the gallery example's 1.0 at 16 px; the bands split
    at ``band_split`` cycles per image as in the frequency guide; L2 PGD with
    ``band_steps`` steps per bisection round on the library's default budget grid.
    """
    images, labels = (t[: settings.frequency_images] for t in test[:2])
    generator = torch.Generator(images.device).manual_seed(settings.seed)
    heat = fourier_heat_map(
        model,
        (images, labels),
        eps=settings.heat_map_eps,
        size=min(settings.heat_map_size, images.shape[-1]),
        generator=generator,
        progress=False,
    )
    band = band_eps_index(
        model,
        (images, labels),
        low_band=(0.0, settings.band_split),
        high_band=(settings.band_split, math.inf),
        steps=settings.band_steps,
        generator=generator,
        progress=False,
    )
    return heat, band


def _low_first(band: BandEpsIndex) -> torch.Tensor:
    """Per image: 1 if the low band fooled on a smaller budget, 0.5 on a tie, 0 if the high
    band did, NaN where the image was not evaluated (wrong when clean, or never fooled)."""
    low, high = band.eps_low, band.eps_high
    share = (low < high).double() + 0.5 * (low == high).double()
    never = torch.isinf(low) & torch.isinf(high)
    return share.masked_fill(low.isnan() | high.isnan() | never, math.nan)


def evaluate(model: nn.Module, data: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Every number the paper reports for one model, per test item and summarised.

    ``result["timing"]["cpu_seconds"]`` holds the CPU seconds of each part.
    """
    seed = settings.seed  # the same distorted images and attacks for every model
    parts: dict[str, float] = {}
    with _cpu_clock(parts, "distortions"):
        accuracy = distortion_accuracy(
            model, data["test"], test_distortions(settings), seed=seed, progress=False
        )
    with _cpu_clock(parts, "cue conflict"):
        bias = shape_bias(model, data["cue_conflict"], seed=seed, progress=False)
    conflict = bias.shape_labels != bias.texture_labels
    images, labels = (t[: settings.robust_size] for t in data["test"])
    saliency_images, saliency_labels = (t[: settings.saliency_images] for t in data["test"])
    with _cpu_clock(parts, "robustness"):
        robust = robust_curve(model, images, labels, settings)
    with _cpu_clock(parts, "saliency"):
        saliency = _saliency(model, saliency_images, saliency_labels, settings)
        alignment, concentrated = edge_alignment(saliency, saliency_images), concentration(saliency)
    result = {
        "accuracy": accuracy,
        "shape_bias": bias,
        "items": {
            "clean": accuracy.correct["clean"],
            "distorted": accuracy.correct,
            "shape": (bias.decisions == bias.shape_labels)[conflict],
            "texture": (bias.decisions == bias.texture_labels)[conflict],
            "robust": robust,
            "edge_alignment": alignment.cpu(),
            "concentration": concentrated.cpu(),
        },
    }
    with _cpu_clock(parts, "frequency"):
        result["heat_map"], band = frequency_measures(model, data["test"], settings)
    result["band_index"] = band
    result["items"]["low_first"] = _low_first(band)
    with _cpu_clock(parts, "shape/texture only"):
        for split in ("shape_only", "texture_only"):
            if split in data:
                result["items"][split] = distortion_accuracy(
                    model, data[split], {}, seed=seed, progress=False
                ).correct["clean"]
    result["timing"] = {"cpu_seconds": parts}
    return result


def evaluate_all(
    models: dict[str, list[nn.Module]], run: RunContext
) -> dict[str, list[dict[str, Any]]]:
    """Every model of every seed evaluated (in the worker processes, if any)."""
    seeds = seed_list(run.settings)
    jobs = [(name, seed) for name in models for seed in seeds]
    results: dict[str, list[Any]] = {name: [None] * len(seeds) for name in models}
    for (name, seed), result in _parallel(_evaluate_job, jobs, run):
        run.step("evaluate", name, seed)
        parts = result["timing"]["cpu_seconds"]
        log.info(
            "evaluated %s seed %d: CPU %s",
            name, seed, ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()),
        )  # fmt: skip
        results[name][seeds.index(seed)] = result
        run.bar.update()
    return results


def _evaluate_job(job: tuple[str, int], run: RunContext) -> dict[str, Any]:
    """Evaluate one saved model (read from its file, so a worker process can do it)."""
    name, seed = job
    model = _initial(seed, None, run)
    load_model(_model_path(run, name, seed), model, map_location=run.device)
    began = time.perf_counter()
    result = evaluate(model.eval(), run.data, run.settings)
    result["timing"]["evaluate_seconds"] = time.perf_counter() - began
    return result


def time_breakdown(results: dict[str, list[dict[str, Any]]], metas: dict) -> dict[str, Any]:
    """CPU seconds per model (mean over seeds): training, and each evaluation part."""
    table: dict[str, Any] = {}
    for name, per_seed in results.items():
        parts: dict[str, float] = {}
        for result in per_seed:
            for part, seconds in result["timing"]["cpu_seconds"].items():
                parts[part] = parts.get(part, 0.0) + seconds / len(per_seed)
        trained = [m.get("train_cpu_seconds", math.nan) for (n, _), m in metas.items() if n == name]
        table[name] = {
            "train_cpu_seconds": float(np.mean(trained)) if trained else math.nan,
            "stacked": any("stacked_seeds" in m for (n, _), m in metas.items() if n == name),
            "evaluate_cpu_seconds": parts,
        }
    return table


def timing_table(breakdown: dict[str, Any]) -> str:
    """The CPU-time breakdown as a Markdown table (per model, mean over seeds)."""
    rows = breakdown.values()
    parts = list(dict.fromkeys(p for row in rows for p in row["evaluate_cpu_seconds"]))
    header = ["model", "train", "stacked", *parts, "evaluation total"]
    body = [
        [
            name,
            f"{row['train_cpu_seconds']:.1f}",
            "yes" if row["stacked"] else "no",
            *[f"{row['evaluate_cpu_seconds'].get(p, 0.0):.1f}" for p in parts],
            f"{sum(row['evaluate_cpu_seconds'].values()):.1f}",
        ]
        for name, row in breakdown.items()
    ]
    return _table(header, body) + (
        "\n\nCPU seconds per model and seed (time.process_time of the whole process, all "
        "threads), mean over seeds; a stacked model's training is its stack's CPU time "
        "divided by the number of seeds. On a shared machine CPU time is the steadier "
        "measure; wall time is in the header."
    )


# ------------------------------------------------------------------------ claims


@dataclasses.dataclass(frozen=True)
class Claim:
    """One of the paper's claims: a per-item statistic that AT should move one way."""

    name: str
    statistic: str
    expected: str
    paper: str
    items: Callable[[dict[str, Any]], tuple[torch.Tensor, torch.Tensor | None]]
    reference: Callable[[dict[str, list[dict[str, Any]]], str], list[float]]
    # Accuracy bounds the statistic, so a reference near 100% leaves no room either;
    # not so for saliency metrics, where only a model at chance has nothing to explain.
    ceiling: bool = True


def _relative(test_set: str) -> Callable[[dict[str, Any]], tuple[torch.Tensor, torch.Tensor]]:
    def items(result: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        clean = result["items"]["clean"]
        return clean & result["items"]["distorted"][test_set], clean

    return items


def _standard_accuracy(
    test_set: str,
) -> Callable[[dict[str, list[dict[str, Any]]], str], list[float]]:
    """The standard model's (mean) accuracy on the claim's test set: the floor check."""

    def reference(results: dict[str, list[dict[str, Any]]], model: str) -> list[float]:
        return [
            float(np.mean([r["accuracy"].accuracy[test_set].value for r in results["standard"]]))
        ]

    return reference


def _shape_only_accuracy(results: dict[str, list[dict[str, Any]]], model: str) -> list[float]:
    """Both models' shape-only accuracy: no shape-bias verdict for a model at chance."""
    return [
        float(np.mean([r["items"]["shape_only"].float().mean() for r in results[name]]))
        for name in ("standard", model)
    ]


def _clean_accuracy(results: dict[str, list[dict[str, Any]]], model: str) -> list[float]:
    return [float(np.mean([r["accuracy"].clean.value for r in results["standard"]]))]


def _shape_decisions(result: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    shape, texture = result["items"]["shape"], result["items"]["texture"]
    return shape, shape | texture


def _per_image(key: str) -> Callable[[dict[str, Any]], tuple[torch.Tensor, None]]:
    def items(result: dict[str, Any]) -> tuple[torch.Tensor, None]:
        return result["items"][key], None

    return items


def claims(settings: Settings, data: dict[str, Any]) -> list[Claim]:
    """The paper's claims, in the order of the claims table."""
    rows = [
        Claim(
            test_set,
            "relative accuracy",
            direction,
            paper,
            _relative(test_set),
            _standard_accuracy(test_set),
        )
        for test_set, direction, paper in (
            ("stylized", "higher", "AT keeps more (Table 2)"),
            ("saturated p=8", "higher", "AT keeps more (Table 3)"),
            ("saturated p=1024", "higher", "AT keeps more (Table 3)"),
            ("shuffled 2x2", "lower", "AT loses more (Table 4)"),
            ("shuffled 4x4", "lower", "AT loses more (Table 4)"),
            ("shuffled 8x8", "lower", "AT loses more (Table 4)"),
            ("low-pass", "higher", "AT keeps more (implied: low-frequency shape; no table)"),
        )
        if test_set in test_distortions(settings)
    ]
    if "shape_only" in data:
        rows.append(
            Claim(
                "shape bias",
                "S / (S + T)",
                "higher",
                "AT more shape-biased",
                _shape_decisions,
                _shape_only_accuracy,
            )
        )
    rows += [
        Claim(
            "saliency edge alignment",
            "SmoothGrad mass on edges",
            "higher",
            "AT maps follow edges (Fig. 1)",
            _per_image("edge_alignment"),
            _clean_accuracy,
            ceiling=False,
        ),
        Claim(
            "saliency concentration",
            "Gini of SmoothGrad",
            "higher",
            "AT maps sparser (Fig. 1)",
            _per_image("concentration"),
            _clean_accuracy,
            ceiling=False,
        ),
    ]
    return rows


def _items(
    results: list[dict[str, Any]],
    items: Callable[[dict[str, Any]], tuple[torch.Tensor, torch.Tensor | None]],
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    return [items(result) for result in results]


def paired(
    at: list[tuple[torch.Tensor, torch.Tensor | None]],
    baseline: list[tuple[torch.Tensor, torch.Tensor | None]],
    settings: Settings,
) -> PairedDifference:
    """Seed-paired difference of per-item (values, denominators), crossed seeds x images.

    An item that is NaN for either model of any seed is dropped from every seed, so all
    seeds keep the same test items (the crossed interval needs them aligned).
    """
    at_values, at_den, base_values, base_den = [], [], [], []
    keep = torch.stack([v.double().isnan() for pair in (at, baseline) for v, _ in pair])
    keep = ~keep.any(dim=0)
    for (va, da), (vb, db) in zip(at, baseline, strict=True):
        at_values.append(va[keep])
        base_values.append(vb[keep])
        if da is not None and db is not None:
            at_den.append(da[keep])
            base_den.append(db[keep])
    return paired_difference(
        at_values,
        base_values,
        at_denominator=at_den or None,
        baseline_denominator=base_den or None,
        confidence=settings.confidence,
        num_bootstrap=settings.num_bootstrap,
        seed=settings.seed,
    )


def seed_mean(
    values: list[tuple[torch.Tensor, torch.Tensor | None]], settings: Settings
) -> PairedDifference:
    """A model set's own mean over seeds with the crossed interval (paired with 0)."""
    zeros = [(torch.zeros(len(v), dtype=torch.float64), d) for v, d in values]
    return paired(values, zeros, settings)


def _robust_items(eps: float) -> Callable[[dict[str, Any]], tuple[torch.Tensor, None]]:
    def items(result: dict[str, Any]) -> tuple[torch.Tensor, None]:
        return result["items"]["robust"][eps], None

    return items


def robustness(
    results: dict[str, list[dict[str, Any]]], settings: Settings
) -> dict[str, dict[float, dict[str, PairedDifference]]]:
    """Robust accuracy per model and eps, and its seed-paired gain over the standard model."""
    table: dict[str, dict[float, dict[str, PairedDifference]]] = {}
    for name, per_seed in results.items():
        table[name] = {}
        for eps in settings.robust_eps:
            items = _robust_items(eps)
            table[name][eps] = {
                "accuracy": seed_mean(_items(per_seed, items), settings),
                "gain": paired(
                    _items(per_seed, items), _items(results["standard"], items), settings
                ),
            }
    return table


def adversarial_names(settings: Settings) -> list[str]:
    linf = [f"pgd_linf_{round(eps * 255)}" for eps in settings.eps_linf]
    return [*linf, "pgd_l2", "fgsm_rs"]


def claim_rows(
    results: dict[str, list[dict[str, Any]]],
    robust: dict[str, dict[float, dict[str, PairedDifference]]],
    settings: Settings,
    data: dict[str, Any],
) -> list[dict[str, Any]]:
    """Every (model, claim): paired difference, Holm-adjusted p over the table, verdict."""
    chance = 1.0 / data["num_classes"]
    rows = []
    for model in [*adversarial_names(settings), "underfit"]:
        gain = None if model == "underfit" else robust[model][settings.fit_eps]["gain"]
        for claim in claims(settings, data):
            difference = paired(
                _items(results[model], claim.items),
                _items(results["standard"], claim.items),
                settings,
            )
            decide = {
                "expected": claim.expected,
                "reference_accuracy": claim.reference(results, model),
                "chance": chance,
                "floor": settings.floor,
                "robust_gain": gain,
                "min_robust_gain": settings.min_robust_gain,
                "alpha": settings.alpha,
                "ceiling": claim.ceiling,
            }
            rows.append(
                {
                    "model": model,
                    "claim": claim,
                    "difference": difference,
                    "decide": decide,
                    # p = 0 only asks whether the floors or the fit check decide already.
                    "screen": verdict(difference, p_value=0.0, **decide),
                }
            )
    tested = [row for row in rows if row["screen"] not in (AT_DID_NOT_FIT, CANNOT_DISCRIMINATE)]
    adjusted = holm([row["difference"].p_value for row in tested], alpha=settings.alpha)
    for row, p in zip(tested, adjusted.adjusted, strict=True):
        row["p_holm"] = p
    for row in rows:
        row.setdefault("p_holm", math.nan)
        row["verdict"] = verdict(row["difference"], p_value=row["p_holm"], **row["decide"])
    return rows


# ------------------------------------------------------------------------ outputs


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}"


def _interval(difference: PairedDifference, *, signed: bool = False) -> str:
    e = difference.difference
    sign = "+" if signed and e.value > 0 else ""
    text = f"{sign}{_pct(e.value)}"
    if not math.isnan(e.low):
        text += f" [{_pct(e.low)}, {_pct(e.high)}]"
    return text


def _seed_summary(values: Sequence[float]) -> str:
    """Mean over seeds and the range of the seeds, in percent."""
    return f"{_pct(float(np.mean(values)))} ({_pct(min(values))}-{_pct(max(values))})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, [":---"] + ["---:"] * (len(header) - 1), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def claims_table(rows: list[dict[str, Any]], settings: Settings) -> str:
    header = [
        "model", "claim", "paper", "statistic", "standard", "model value",
        "AT - standard [interval]", "seeds", "p (Holm)", "verdict",
    ]  # fmt: skip
    body = []
    for row in rows:
        d, claim = row["difference"], row["claim"]
        p = row["p_holm"]
        body.append(
            [
                row["model"], claim.name, claim.paper, claim.statistic,
                _pct(float(np.mean(d.baseline))), _pct(float(np.mean(d.at))),
                _interval(d, signed=True), d.sign_count,
                "-" if math.isnan(p) else f"{p:.3g}", row["verdict"],
            ]
        )  # fmt: skip
    tested = sum(not math.isnan(row["p_holm"]) for row in rows)
    return _table(header, body) + (
        f"\n\nPercent (percentage points for the difference). Each difference is the mean "
        f"over {settings.seeds} seeds of (model - the standard model of the same seed); "
        f"every AT model was fine-tuned from its own seed's standard model. Interval: "
        f"{round(100 * settings.confidence)}% crossed seeds x test images t interval "
        f"(seed, shared-image and residual variance, Satterthwaite degrees of freedom; one "
        f"seed: over test images only, training randomness not covered). p: the matching "
        f"two-sided t test, Holm-"
        f"adjusted over the {tested} claims that were tested (alpha {settings.alpha:g}). "
        f"Verdicts: *cannot discriminate* = the standard model's accuracy on the test set "
        f"(for shape bias: either model's shape-only accuracy) within "
        f"{round(100 * settings.floor)} points of chance or of 100% (saliency: the standard "
        f"model's clean accuracy within that of chance; accuracy does not bound a saliency "
        f"metric, so there is no ceiling); *AT did not fit* = the "
        f"paired robust-accuracy gain at eps {round(settings.fit_eps * 255)}/255 is not "
        f"clearly above {round(100 * settings.min_robust_gain)} points; *no difference* = "
        f"not significant after Holm at this number of seeds and images. `underfit` is a "
        f"control (standard training stopped at the AT models' clean accuracy), not a claim."
    )


def per_seed_numbers(result: dict[str, Any], num_classes: int) -> dict[str, Any]:
    """One model of one seed, as plain numbers (the JSON and the controls table)."""
    items = result["items"]
    numbers: dict[str, Any] = {
        "timing": result.get("timing", {}),
        "distortion_accuracy": result["accuracy"].to_dict(),
        "shape_bias": result["shape_bias"].to_dict(),
        "robust_accuracy": {
            f"{round(eps * 255)}/255": float(correct.double().mean())
            for eps, correct in items["robust"].items()
        },
        "saliency": {
            key: float(np.nanmean(items[key].double().numpy()))
            for key in ("edge_alignment", "concentration")
        },
    }
    band, heat = result["band_index"], result["heat_map"]
    numbers["band_eps_index"] = {
        "index": band.index if math.isfinite(band.index) else str(band.index),
        "low_first": band.low_first,
        **{k: getattr(band, k) for k in ("evaluated", "clean_correct", "censored_low")},
        "censored_high": band.censored_high,
    }
    numbers["fourier_heat_map"] = {"eps": heat.eps, "error": heat.error.tolist()}
    for split in ("shape_only", "texture_only"):
        if split in items:
            numbers[split] = float(items[split].double().mean())
    if "shape_only" in numbers:
        numbers["texture_blind_null"] = texture_blind_null(numbers["shape_only"], num_classes)
    return numbers


def controls_table(
    numbers: dict[str, list[dict[str, Any]]], settings: Settings, chance: float
) -> str:
    """Shape bias always beside its texture-blind null, the cue-match share and the controls."""
    header = [
        "model", "clean", "shape-only", "texture-only", "shape bias",
        "texture-blind null", "cue match",
    ]  # fmt: skip
    body = []
    for name, per_seed in numbers.items():

        def column(get: Callable[[dict[str, Any]], float], seeds=per_seed) -> list[float]:
            return [get(n) for n in seeds]

        has_shape = "shape_only" in per_seed[0]
        shape_only = column(lambda n: n["shape_only"]) if has_shape else []
        at_chance = has_shape and float(np.mean(shape_only)) <= chance + settings.floor
        bias = column(lambda n: n["shape_bias"]["shape_bias"]["value"] or math.nan)
        body.append(
            [
                name,
                _seed_summary(
                    column(lambda n: n["distortion_accuracy"]["clean"]["accuracy"]["value"])
                ),
                _seed_summary(shape_only) if has_shape else "-",
                _seed_summary(column(lambda n: n["texture_only"])) if has_shape else "-",
                "n/a: shape-only at chance" if at_chance else _seed_summary(bias),
                _seed_summary(column(lambda n: n["texture_blind_null"])) if has_shape else "-",
                _seed_summary(column(lambda n: n["shape_bias"]["cue_match"]["value"])),
            ]
        )
    return _table(header, body) + (
        f"\n\nPercent: mean over {settings.seeds} seeds (lowest-highest seed). Texture-blind "
        f"null: the shape bias of a model that ignores texture and has this shape-only "
        f"accuracy s, s / (s + (1 - s)/(K - 1)); a shape bias is about texture only where it "
        f"departs from it. Cue match: share of cue-conflict decisions that are the shape or "
        f"the texture class."
    )


def robustness_table(
    robust: dict[str, dict[float, dict[str, PairedDifference]]], settings: Settings
) -> str:
    epsilons = [f"{round(eps * 255)}/255" for eps in settings.robust_eps]
    header = ["model", *[f"eps {e}" for e in epsilons], *[f"gain {e}" for e in epsilons]]
    body = []
    for name, per_eps in robust.items():
        body.append(
            [
                name,
                *[_interval(per_eps[eps]["accuracy"]) for eps in settings.robust_eps],
                *[
                    "-" if name == "standard" else _interval(per_eps[eps]["gain"], signed=True)
                    for eps in settings.robust_eps
                ],
            ]
        )
    return _table(header, body) + (
        f"\n\nRobust accuracy (percent) on the first {settings.robust_size} test images under "
        f"{_attack_description(settings)}, mean over seeds "
        f"with the crossed interval; gain: seed-paired difference to the standard model "
        f"(points)."
    )


def _attack_description(settings: Settings) -> str:
    if settings.eval_attack == "apgd":
        return (
            f"L-inf APGD-CE then APGD-T (DLR loss, up to 3 target classes), "
            f"{settings.eval_steps} iterations each (shapebias.attacks.auto_attack, "
            f"version='fast'; the paper's AutoAttack runs 100 and adds Square; APGD-CE alone "
            f"below four classes)"
        )
    return (
        f"L-inf PGD-{settings.eval_steps} with {settings.eval_restarts} random restart(s) "
        f"(step 2.5 eps / steps; the most damaging restart kept per image)"
    )


def frequency_table(results: dict[str, list[dict[str, Any]]], settings: Settings) -> str:
    """The band eps index per model, and its seed-paired low-first share against standard."""
    header = ["model", "band index per seed", "low-first share", "model - standard [interval]",
              "seeds"]  # fmt: skip
    low_first = _per_image("low_first")
    body = []
    standard = _items(results["standard"], low_first)
    for name, per_seed in results.items():
        indices = ", ".join(_signed(r["band_index"].index) for r in per_seed)
        own = _items(per_seed, low_first)
        row = [name, indices, "-", "-", "-"]  # "-": a seed with no image fooled in a band
        if _any_shared(own, own):
            row[2] = _interval(seed_mean(own, settings))
        if name != "standard" and _any_shared(own, standard):
            d = paired(own, standard, settings)
            row[3:] = [_interval(d, signed=True), d.sign_count]
        body.append(row)
    return _table(header, body) + (
        f"\n\nOn the first {settings.frequency_images} test images: per image, the smallest "
        f"L2 budget of band-limited PGD ({settings.band_steps} steps per bisection round, "
        f"the default grid of shapebias.frequency.default_eps_grid) that fools the model "
        f"through the low band [0, {settings.band_split:g}) or the high band "
        f"[{settings.band_split:g}, Nyquist] cycles per image. Band index: median of "
        f"log(eps_high / eps_low) (> 0: fooled more cheaply through low frequencies, the "
        f"side Yin et al. 2019 find adversarial training moves models to). Low-first share: "
        f"images fooled on a smaller budget in the low band (ties half), percent, mean over "
        f"seeds with the crossed interval; the difference is seed-paired. Not one of "
        f"the paper's claims, so not in the Holm family."
    )


def _signed(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.2f}"


def _any_shared(
    a: list[tuple[torch.Tensor, torch.Tensor | None]],
    b: list[tuple[torch.Tensor, torch.Tensor | None]],
) -> bool:
    """Whether every seed has an item that is a number in both ``a`` and ``b``."""
    return all(bool((~(x.isnan() | y.isnan())).any()) for (x, _), (y, _) in zip(a, b, strict=True))


def fourier_figure(
    results: dict[str, list[dict[str, Any]]], settings: Settings, path: Path
) -> None:
    """Fourier heat maps (error rate) of every model of the first seed, on one colour scale."""
    names, columns = list(results), 4
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(2.3 * columns + 1.0, 2.4 * rows + 0.7), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for ax, name in zip(axes.flat, names, strict=False):
        plot_fourier_heat_map(results[name][0]["heat_map"], ax, colorbar=False, title=name)
        ax.set_xlabel("horizontal j", fontsize=7)
        ax.set_ylabel("vertical i", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    fig.colorbar(axes.flat[0].images[0], ax=axes, label="error rate", shrink=0.8)
    fig.supxlabel(
        f"Fourier heat maps (Yin et al. 2019), seed {settings.seed}: error rate under "
        f"clip(x + {settings.heat_map_eps:g} r U_ij) per frequency (i, j) in cycles per "
        f"image, DC in the middle, on the first {settings.frequency_images} test images; "
        f"{settings.image_size}x{settings.image_size} px, the "
        f"{settings.heat_map_size}x{settings.heat_map_size} lowest frequencies.",
        fontsize=7, wrap=True,
    )  # fmt: skip
    fig.savefig(path, dpi=110)
    plt.close(fig)


def saliency_figure(
    models: dict[str, list[nn.Module]], data: dict[str, Any], settings: Settings, path: Path
) -> None:
    """SmoothGrad maps of every model (first seed) on the same test images, with a caption."""
    count = min(4, settings.saliency_images)
    images, labels = (t[:count] for t in data["test"])
    names = list(models)
    fig, axes = plt.subplots(
        len(names) + 1, count, figsize=(1.9 * count + 1.2, 1.9 * (len(names) + 1) + 1.0),
        squeeze=False,
    )  # fmt: skip
    for j in range(count):
        axes[0, j].imshow(images[j].permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
        axes[0, j].set_title(f"class {int(labels[j])}", fontsize=9)
    shown = None
    for i, name in enumerate(names, start=1):
        heat = to_heatmap(_saliency(models[name][0], images, labels, settings)).cpu()
        for j in range(count):
            shown = axes[i, j].imshow(
                heat[j].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest"
            )
        axes[i, 0].set_ylabel(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(
        shown, ax=axes[1:, :].ravel().tolist(), shrink=0.6, label="|gradient| / 99th percentile"
    )
    fig.text(
        0.02, 0.005,
        f"SmoothGrad, n = {settings.saliency_samples} noisy copies, noise level "
        f"{settings.noise_level:g} of each image's range; gradient of the cross-entropy loss "
        f"of the true class (the class above each column); |g| summed over channels, divided "
        f"by its 99th percentile, clipped to [0, 1]. Models of seed {settings.seed}; "
        f"{settings.image_size}x{settings.image_size} px shown with nearest-neighbour pixels.",
        fontsize=7, wrap=True,
    )  # fmt: skip
    fig.savefig(path, dpi=110)
    plt.close(fig)


def differences_figure(rows: list[dict[str, Any]], path: Path) -> None:
    """One panel per claim: each model's seed-paired difference to the standard model."""
    names = list(dict.fromkeys(row["claim"].name for row in rows))
    columns, rows_of_panels = 4, math.ceil(len(names) / 4)
    fig, axes = plt.subplots(
        rows_of_panels, columns, figsize=(13, 2.4 * rows_of_panels), squeeze=False
    )
    for ax, name in zip(axes.flat, names, strict=False):
        chosen = [row for row in rows if row["claim"].name == name]
        for y, row in enumerate(chosen):
            e = row["difference"].difference
            error = (
                [[100 * (e.value - e.low)], [100 * (e.high - e.value)]]
                if not math.isnan(e.low)
                else None
            )
            ax.errorbar(100 * e.value, y, xerr=error, fmt="o", capsize=3)
            ax.plot(
                100 * np.array(row["difference"].per_seed),
                [y] * row["difference"].num_seeds,
                "k.",
                ms=3,
            )
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(
            range(len(chosen)), [f"{r['model']} ({r['verdict']})" for r in chosen], fontsize=7
        )
        ax.set_title(f"{name}: {chosen[0]['claim'].expected} expected", fontsize=8)
        ax.set_xlabel("model - standard (points)", fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


QUICK_BANNER = (
    "> **Smoke run, not a result.** `--quick` trains tiny models for a few epochs to check "
    "that the pipeline runs; its numbers say nothing about the paper."
)


def write_results(
    results: dict[str, list[dict[str, Any]]],
    rows: list[dict[str, Any]],
    robust: dict[str, dict[float, dict[str, PairedDifference]]],
    context: dict[str, Any],
    out: Path,
) -> str:
    settings: Settings = context["settings"]
    num_classes = context["num_classes"]
    numbers = {
        name: [per_seed_numbers(r, num_classes) for r in per_seed]
        for name, per_seed in results.items()
    }
    calibrated = (
        "calibrated defaults" if context["calibrated"] else "axis defaults (no CALIBRATED_AXES)"
    )
    parts = [QUICK_BANNER] if context["quick"] else []
    parts += [
        "# Zhang & Zhu (2019) reproduced with shapebias",
        f"shapebias {shapebias.__version__}, wall time {context['seconds']:.0f} s (CPU "
        f"{context['cpu_seconds']:.0f} s with the worker processes; {context['workers']} "
        f"worker(s)), seeds "
        f"{seed_list(settings)}, settings: `{json.dumps(dataclasses.asdict(settings))}`, "
        f"dataset settings ({calibrated}): `{json.dumps(context['axes'])}`.",
        "## The paper's claims, seed-paired\n\n" + claims_table(rows, settings),
        "## Controls: accuracy and shape bias\n\n"
        + controls_table(numbers, settings, 1.0 / num_classes),
        "## Frequency: band eps index\n\n" + frequency_table(results, settings),
        "## Robust accuracy\n\n" + robustness_table(robust, settings),
        "## Where the time went\n\n" + timing_table(context["timing"]),
    ]
    report = "\n\n".join(parts)
    (out / "results.md").write_text(report + "\n")
    seeds = seed_list(settings)
    payload = {
        "smoke_run": context["quick"],
        "settings": dataclasses.asdict(settings),
        "dataset_axes": context["axes"],
        "calibrated_axes": context["calibrated"],
        "shapebias_version": shapebias.__version__,
        "environment": shapebias.environment_record(),
        "wall_seconds": context["seconds"],
        "cpu_seconds": context["cpu_seconds"],
        "time_breakdown": context["timing"],
        "seeds": seeds,
        "models": {
            name: [
                {"seed": seed, "training": context["metas"][name, seed], **n}
                for seed, n in zip(seeds, per_seed, strict=True)
            ]
            for name, per_seed in numbers.items()
        },
        "claims": [
            {
                "model": row["model"],
                "claim": row["claim"].name,
                "statistic": row["claim"].statistic,
                "expected": row["claim"].expected,
                "paper": row["claim"].paper,
                "reference_accuracy": row["decide"]["reference_accuracy"],
                **row["difference"].to_dict(),
                "p_holm": None if math.isnan(row["p_holm"]) else row["p_holm"],
                "verdict": row["verdict"],
            }
            for row in rows
        ],
        "robustness": {
            name: {
                f"{round(eps * 255)}/255": {k: v.to_dict() for k, v in entry.items()}
                for eps, entry in per_eps.items()
            }
            for name, per_eps in robust.items()
        },
    }
    (out / "results.json").write_text(json.dumps(_plain(payload), indent=2, allow_nan=False) + "\n")
    return report


def _plain(value: Any) -> Any:
    """NaN -> None everywhere (strict JSON), recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- main


_PER_255 = re.compile(r"(\d+(?:\.\d+)?)/255")


def _describe_default(value: Any, *, budget: bool = False) -> str:
    """A default as the user would type it; budgets (``eps`` names) as ``k/255``."""
    if isinstance(value, float):
        steps = value * 255
        if budget and 0 < value < 1 and steps >= 0.5 and abs(steps - round(steps)) < 1e-6:
            return f"{round(steps)}/255"
        return f"{value:.6g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_describe_default(v, budget=budget) for v in value) + "]"
    return json.dumps(value)


def settings_help() -> str:
    """The --set names with their defaults and meaning (the --help epilog)."""
    default = PRESETS["default"]
    lines = ["settings (--set NAME=VALUE, JSON values, lists as [a, b], budgets also as 4/255):"]
    for f in dataclasses.fields(Settings):
        if f.name not in _FLAGS:
            value = _describe_default(getattr(default, f.name), budget="eps" in f.name)
            lines.append(f"  {f.name} = {value}: {f.metadata['help']}")
    source = (
        "shapebias.data.CALIBRATED_AXES"
        if hasattr(shapebias.data, "CALIBRATED_AXES")
        else "the axis defaults, as shapebias.data.CALIBRATED_AXES is not defined"
    )
    lines.append(
        "dataset settings (ShapeTextureDataset keywords from shapebias.data.SHAPE_TEXTURE_AXES;"
        f" defaults from {source}):"
    )
    defaults = dataset_defaults()
    for axis in SHAPE_TEXTURE_AXES:
        lines.append(f"  {axis.name} = {_describe_default(defaults[axis.name])}: {axis.help}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: tiny models, not a result"
    )
    parser.add_argument("--dataset", default="shapetexture", choices=DATASETS)
    parser.add_argument("--data-root", type=Path, help="folder of a real data set")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default runs/reproduce, --quick: runs/reproduce-quick)",
    )
    parser.add_argument("--seed", type=int, default=0, help="first training seed")
    parser.add_argument("--seeds", type=int, help="number of training seeds (default 3; --quick 2)")
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
        help="delete results of a different configuration in --out and start over",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one setting (listed below), e.g. --set standard_epochs=12",
    )
    args = parser.parse_args(argv)
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
        args.out = Path("runs/reproduce-quick" if args.quick else "runs/reproduce")
    return args


def _convert(name: str, text: str, default: Any) -> Any:
    """A --set value parsed as JSON and checked against the type of its default."""
    try:
        value = json.loads(_PER_255.sub(lambda m: repr(float(m.group(1)) / 255), text))
    except json.JSONDecodeError:
        value = text
    numbers = (int, float)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, numbers) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple):
        ok = (
            isinstance(value, list)
            and bool(value)
            and all(isinstance(v, numbers) and not isinstance(v, bool) for v in value)
        )
        value = tuple(float(v) for v in value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        kind = "a list of numbers" if isinstance(default, tuple) else f"a {type(default).__name__}"
        raise SystemExit(
            f"--set {name}={text}: {name} must be {kind} (default "
            f"{_describe_default(default)}), got {text!r}. Nothing was trained."
        )
    return value


def check_settings(settings: Settings) -> None:
    """Ranges of the script's settings; a clear error before anything trains."""
    problems = []
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        counts = isinstance(value, int) and not isinstance(value, bool)
        if counts and f.name != "seed" and value < 1:
            problems.append(f"{f.name} must be >= 1, got {value}")
    positive = ("lr", "finetune_lr", "eps_l2", "noise_level")
    problems += [
        f"{n} must be > 0, got {getattr(settings, n):g}"
        for n in positive
        if not getattr(settings, n) > 0
    ]
    for name in ("eps_fgsm", "fit_eps"):
        if not 0 < getattr(settings, name) <= 1:
            problems.append(f"{name} must lie in (0, 1] (pixel units, e.g. 4/255 = 0.0157)")
    for name in ("eps_linf", "robust_eps"):
        if not all(0 < e <= 1 for e in getattr(settings, name)):
            problems.append(f"{name} must hold budgets in (0, 1] (pixel units)")
    if settings.fit_eps not in settings.robust_eps:
        problems.append(f"fit_eps ({settings.fit_eps:.6g}) must be one of robust_eps")
    for name in ("confidence", "alpha"):
        if not 0 < getattr(settings, name) < 1:
            problems.append(f"{name} must lie in (0, 1), got {getattr(settings, name):g}")
    if not 0 <= settings.floor < 0.5:
        problems.append(f"floor must lie in [0, 0.5), got {settings.floor:g}")
    if not -1 <= settings.min_robust_gain <= 1:
        problems.append(f"min_robust_gain must lie in [-1, 1], got {settings.min_robust_gain:g}")
    if settings.num_classes < 2:
        problems.append(f"num_classes must be >= 2, got {settings.num_classes}")
    if settings.eval_attack not in ("apgd", "pgd"):
        problems.append(f"eval_attack must be 'apgd' or 'pgd', got {settings.eval_attack!r}")
    if problems:
        raise SystemExit("Refused settings (nothing was trained): " + "; ".join(problems) + ".")


def check_dataset(settings: Settings, axes: dict[str, Any]) -> None:
    """Let ShapeTextureDataset refuse impossible settings before anything trains."""
    if settings.dataset != "shapetexture":
        return
    try:
        ShapeTextureDataset(
            "train", size=1, num_classes=settings.num_classes, image_size=settings.image_size,
            seed=settings.seed, **axes,
        )[0]  # fmt: skip
    except (TypeError, ValueError) as error:
        raise SystemExit(f"Refused dataset settings (nothing was trained): {error}") from None


def build_settings(args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    """Settings and dataset settings from the preset, the flags and every --set."""
    settings = PRESETS["quick" if args.quick else "default"]
    overrides: dict[str, Any] = {"dataset": args.dataset, "seed": args.seed}
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    axes = dataset_defaults()
    fields = {f.name for f in dataclasses.fields(Settings)} - _FLAGS
    for item in args.set:
        name, equals, text = item.partition("=")
        if not equals:
            raise SystemExit(f"--set {item}: expected NAME=VALUE, e.g. --set standard_epochs=12.")
        if name in fields:
            overrides[name] = _convert(name, text, getattr(settings, name))
        elif name in axes:
            overrides_axis = _convert(name, text, axes[name])
            axes[name] = overrides_axis
        else:
            hint = f" (use --{name})" if name in _FLAGS else ""
            raise SystemExit(
                f"--set {item}: unknown setting {name!r}{hint}; known settings: "
                f"{', '.join(sorted(fields))}; dataset settings: {', '.join(axes)}. "
                "See --help for defaults and meanings."
            )
    settings = dataclasses.replace(settings, **overrides)
    check_settings(settings)
    check_dataset(settings, axes)
    return settings, axes


def prepare_output(out: Path, config: dict[str, Any], fresh: bool) -> None:
    """Refuse to mix results of two configurations in one folder (or, with --fresh, wipe)."""
    path = out / "config.json"
    wanted = json.loads(json.dumps(config))
    if path.exists():
        found = json.loads(path.read_text())
        if found != wanted:
            flat_wanted = {**wanted["settings"], **wanted["dataset_axes"]}
            flat_found = {**found.get("settings", {}), **found.get("dataset_axes", {})}
            changed = sorted(
                k
                for k in flat_wanted.keys() | flat_found.keys()
                if flat_wanted.get(k) != flat_found.get(k)
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
    path.write_text(json.dumps(wanted, indent=2) + "\n")


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main(argv: list[str] | None = None) -> int:
    _configure_logging()
    args = parse_args(argv)
    settings, axes = build_settings(args)
    prepare_output(
        args.out, {"settings": dataclasses.asdict(settings), "dataset_axes": axes}, args.fresh
    )
    device = torch.device(args.device)
    began, began_cpu = time.perf_counter(), time.process_time()
    data = _on_device(load_data(settings, axes, args.data_root), device)
    total = num_models(settings, data)
    # Log lines go through tqdm.write, so they never break the bar's line.
    with (
        logging_redirect_tqdm(),
        tqdm(total=2 * total, unit="model", file=sys.stderr) as bar,
        _pool(args.workers, settings, axes, args) as pool,
    ):
        run = RunContext(settings, data, args.out, device, bar, total, pool=pool)
        models = train_all(run)
        run.done = 0
        results = evaluate_all(models, run)
    robust = robustness(results, settings)
    rows = claim_rows(results, robust, settings, data)
    saliency_figure(models, data, settings, args.out / "saliency.png")
    differences_figure(rows, args.out / "paired_differences.png")
    fourier_figure(results, settings, args.out / "fourier_heat_maps.png")
    context = {
        "settings": settings,
        "axes": axes,
        "calibrated": hasattr(shapebias.data, "CALIBRATED_AXES"),
        "quick": args.quick,
        "workers": args.workers,
        "num_classes": data["num_classes"],
        "seconds": time.perf_counter() - began,
        "cpu_seconds": _cpu_seconds() - began_cpu,
        "metas": run.metas,
        "timing": time_breakdown(results, run.metas),
    }
    report = write_results(results, rows, robust, context, args.out)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
