"""Training the roster: seed-paired model sets, stacked, resumable, cached by what shapes them."""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.experiments._cache import RunFolder
from shapebias.experiments._data import ExperimentData
from shapebias.experiments._roster import ModelSpec
from shapebias.experiments._settings import Settings
from shapebias.models import StackedLoader, StackedModels, eval_mode, small_cnn
from shapebias.training import (
    Callback,
    Recipe,
    StackedLoss,
    TrainingState,
    load_model,
    save_model,
)

__all__ = ["Trainer", "fit_stacked", "initial_model"]

log = logging.getLogger("shapebias.experiments")


def fit_stacked(
    models: Sequence[nn.Module], loaders: Sequence[Any], recipe: Recipe, **fit_kwargs: Any
) -> tuple[list[nn.Module], list[dict[str, Any]]]:
    """Train ``models[s]`` on ``loaders[s]`` with ``recipe``, all as one :class:`StackedModels`.

    Each member gets exactly the gradient, Adam update and batches of its separate run
    (:class:`~shapebias.training.StackedLoss`, :class:`~shapebias.models.StackedLoader`);
    only random attack starts differ, as they are drawn once for the stacked batch (same
    distribution, other draws). The recipe's own callbacks see the stack, so a stopping
    rule would pool the members: pass a recipe without one.

    Args:
        models: one model per seed, same architecture.
        loaders: one loader per model, with the same number of batches.
        recipe: the training recipe of every member.
        **fit_kwargs: keyword arguments of :meth:`~shapebias.training.Recipe.fit`.

    Returns:
        The trained members (new modules, in the mode the models had) and fit's history
        of the stack.
    """
    stack = StackedModels(models)
    stacked = dataclasses.replace(recipe, loss=StackedLoss(recipe.loss, len(models)))
    history = stacked.fit(stack, StackedLoader(tuple(loaders)), **fit_kwargs)
    return stack.unstack(), history


def initial_model(
    seed: int,
    num_classes: int,
    width: int,
    start: nn.Module | None = None,
    device: torch.device | None = None,
) -> nn.Module:
    """Seed ``seed``'s ``small_cnn`` before training: from the seed, or a copy of ``start``."""
    torch.manual_seed(seed)  # the initial weights are a function of the seed
    model = small_cnn(num_classes, width=width)
    if device is not None:
        model = model.to(device)
    if start is not None:
        model.load_state_dict(start.state_dict())
    return model


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
                label,
                state.epoch,
                self.epochs,
                metrics["loss"],
                accuracy,
                metrics["seconds"],
            )


def starts_of(
    chosen: Sequence[int], seeds: Sequence[int], starts: Sequence[nn.Module] | None
) -> list[nn.Module] | None:
    """The start models of the ``chosen`` seeds, from ``starts`` given per ``seeds``."""
    return None if starts is None else [starts[seeds.index(seed)] for seed in chosen]


@dataclasses.dataclass
class Trainer:
    """Trains (or loads) the roster's models of every seed into a :class:`RunFolder`.

    The single place that trains. The seeds of a stacked configuration train together,
    ``stack_size`` at a time, as one :class:`~shapebias.models.StackedModels`
    (:func:`fit_stacked`) per stack (several stacks run side by side in the worker
    processes): each seed
    keeps its own initialisation (``torch.manual_seed(seed)``), its own shuffling
    generator, its own start (an AT model fine-tunes its seed's standard model) and gets
    exactly the gradients and Adam updates of a separate run. Only random attack starts
    differ: they are drawn once for the stacked batch, so they are other draws of the
    same distribution. ``underfit`` trains one seed at a time: its stopping rule watches
    each seed's own validation accuracy, and a stack stops all members at once.

    A model's file is keyed by what shapes it (:meth:`RunFolder.model_path`), so a
    second run loads it and an interrupted run resumes from its last epoch.
    """

    settings: Settings
    data: ExperimentData
    folder: RunFolder
    device: torch.device
    metas: dict[tuple[str, int], dict[str, Any]] = dataclasses.field(default_factory=dict)
    on_model: Any = None  # called as on_model("train", name, seed) after each model

    def _done(self, name: str, seed: int) -> None:
        if self.on_model is not None:
            self.on_model("train", name, seed)

    def model(self, spec: ModelSpec, seed: int, start: nn.Module | None = None) -> nn.Module:
        """A fresh model of ``spec`` for ``seed`` (before training or loading)."""
        return initial_model(
            seed, self.data.num_classes, self.settings.training.width, start, self.device
        )

    def load(self, spec: ModelSpec, seed: int) -> nn.Module:
        """Seed ``seed``'s trained model of ``spec`` from its file, in eval mode."""
        model = self.model(spec, seed)
        path = self.folder.model_path(spec.name, seed)
        self.metas[spec.name, seed] = load_model(path, model, map_location=self.device)
        return model.eval()

    def train(
        self,
        spec: ModelSpec,
        starts: Sequence[nn.Module] | None = None,
        *,
        seeds: Sequence[int] | None = None,
        recipes: Sequence[Recipe] | None = None,
    ) -> list[nn.Module]:
        """Train (or load) ``spec`` for every seed; one model per seed, in order.

        Args:
            spec: the configuration.
            starts: per seed, the model to fine-tune from (``spec.start``'s models).
            seeds: the seeds (default: every seed of the settings).
            recipes: per seed, the recipe (default :meth:`recipe`; a worker process
                gets ``underfit``'s from the process that knows the stopping accuracy).
        """
        seeds = self.settings.seed_list() if seeds is None else list(seeds)
        if spec.stacked:
            return self._train_stacks(spec, seeds, starts)
        models = []
        for index, seed in enumerate(seeds):
            start = None if starts is None else starts[index]
            recipe = self.recipe(spec, seed) if recipes is None else recipes[index]
            models.append(self._train_one(spec, recipe, seed, start))
            self._done(spec.name, seed)
        return models

    def recipe(self, spec: ModelSpec, seed: int) -> Recipe:
        """``spec``'s recipe for ``seed``: for ``underfit`` with its seed's stopping accuracy."""
        if not spec.match_accuracy_of:
            return spec.recipe
        target = float(
            np.mean([self.metas[name, seed]["clean_accuracy"] for name in spec.match_accuracy_of])
        )
        recipe = Recipe.underfit(epochs=spec.recipe.epochs, match_accuracy=target, optimizer="adam")
        return dataclasses.replace(recipe, lr=spec.recipe.lr)

    def _loader(self, spec: ModelSpec, seed: int) -> DataLoader:
        """The training batches of one seed, shuffled by the seed's own generator."""
        return DataLoader(
            TensorDataset(*self.data.split(spec.train)),
            batch_size=self.settings.training.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )

    def stacks(self, seeds: Sequence[int]) -> list[list[int]]:
        """``seeds`` in stacks of at most ``stack_size``, in order (the same stacks whatever
        the number of worker processes, so the numbers do not depend on it)."""
        size = self.settings.training.stack_size
        return [list(seeds[i : i + size]) for i in range(0, len(seeds), size)]

    def _train_stacks(
        self, spec: ModelSpec, seeds: Sequence[int], starts: Sequence[nn.Module] | None
    ) -> list[nn.Module]:
        """Each stack of :meth:`stacks` trained, or loaded where every seed's file exists."""
        models: list[nn.Module] = []
        for stack in self.stacks(seeds):
            if all(self.folder.model_path(spec.name, seed).exists() for seed in stack):
                for seed in stack:
                    models.append(self.load(spec, seed))
                    self._done(spec.name, seed)
                continue
            models += self._train_stacked(spec, stack, starts_of(stack, seeds, starts))
        return models

    def _train_stacked(
        self, spec: ModelSpec, seeds: Sequence[int], starts: Sequence[nn.Module] | None
    ) -> list[nn.Module]:
        """Seeds ``seeds`` of ``spec`` as one stack; saves each seed's model and meta as alone."""
        recipe = spec.recipe
        labels = [f"{spec.name} seed {seed}" for seed in seeds]
        initial = starts or (None,) * len(seeds)
        models = [self.model(spec, seed, start) for seed, start in zip(seeds, initial, strict=True)]
        loaders = [self._loader(spec, seed) for seed in seeds]
        checkpoints = self.folder.checkpoint_dir(spec.name, f"stacked{seeds[0]}")
        torch.manual_seed(seeds[0])  # the stack's random attack starts: a function of the seeds
        began, began_cpu = time.perf_counter(), time.process_time()
        trained, history = fit_stacked(
            models,
            loaders,
            recipe,
            callbacks=(MemberAccuracy(self.data.split(spec.validation), labels, recipe.epochs),),
            checkpoint_dir=checkpoints,
            device=self.device,
            progress=False,
        )
        seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        for index, (seed, model) in enumerate(zip(seeds, trained, strict=True)):
            meta = recipe.meta(
                data=self.settings.dataset,
                seed=seed,
                fine_tuned_from=f"standard seed {seed}" if spec.start is not None else None,
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
            save_model(self.folder.model_path(spec.name, seed), model, meta=meta)
            self.metas[spec.name, seed] = meta
            self._done(spec.name, seed)
        shutil.rmtree(checkpoints, ignore_errors=True)
        return [model.eval() for model in trained]

    def _train_one(
        self, spec: ModelSpec, recipe: Recipe, seed: int, start: nn.Module | None
    ) -> nn.Module:
        label = f"{spec.name} seed {seed}"
        path = self.folder.model_path(spec.name, seed)
        model = self.model(spec, seed, start)
        if path.exists():
            self.metas[spec.name, seed] = load_model(path, model, map_location=self.device)
            log.info("loaded %s from %s", label, path)
            return model.eval()
        checkpoints = self.folder.checkpoint_dir(spec.name, f"seed{seed}")
        began, began_cpu = time.perf_counter(), time.process_time()
        history = recipe.fit(
            model,
            self._loader(spec, seed),
            eval_data=self.data.split(spec.validation),
            eval_attack=None,
            callbacks=(EpochLog(label, recipe.epochs),),
            checkpoint_dir=checkpoints,
            device=self.device,
            progress=False,
        )
        meta = recipe.meta(
            data=self.settings.dataset,
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
        shutil.rmtree(checkpoints, ignore_errors=True)
        self.metas[spec.name, seed] = meta
        return model.eval()
