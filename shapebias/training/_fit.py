"""``fit``: one small, resumable, observable training loop that also runs under torchrun."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from shapebias._validation import check_choice, check_int, check_logits, check_module
from shapebias._version import __version__
from shapebias.attacks import iterate_batches, robust_accuracy
from shapebias.models import eval_mode, train_mode
from shapebias.training._callbacks import Callback, TrainingState
from shapebias.training._checkpoint import (
    CHECKPOINT_FORMAT,
    atomic_save,
    capture_rng,
    checkpoint_path,
    latest_checkpoint,
    load_state_strict,
    prune_checkpoints,
    restore_rng,
)
from shapebias.training._checks import check_loss_value, check_optimizer
from shapebias.training._distributed import (
    all_reduce_sum,
    gather_objects,
    is_main_process,
    rank_and_world,
    shard_loader,
    sync_buffers,
    wrap,
)
from shapebias.training._schedules import Step, resolve_loss

__all__ = ["fit"]

logger = logging.getLogger("shapebias.training")

_SCHEDULER_STEPS = ("epoch", "batch")
_POSTFIX_EVERY = 10


@dataclasses.dataclass
class _Run:
    """Everything one ``fit`` call works with, validated."""

    model: nn.Module
    trained: nn.Module  # the model or its DistributedDataParallel wrapper
    loader: Any
    loss: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scheduler_step: str
    eval_data: Any
    eval_attack: Any
    eval_batch_size: int
    callbacks: list[Callback]
    generators: list[torch.Generator]
    device: torch.device
    progress: bool


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for buffer in model.buffers():
        return buffer.device
    return torch.device("cpu")


def _find_generators(obj: Any, found: dict[int, torch.Generator], depth: int = 0) -> None:
    """Collect torch.Generator objects held by losses, attacks, callbacks and loaders."""
    if depth > 6 or obj is None:
        return
    if isinstance(obj, torch.Generator):
        found.setdefault(id(obj), obj)
        return
    if isinstance(obj, (tuple, list)):
        for item in obj:
            _find_generators(item, found, depth + 1)
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            _find_generators(getattr(obj, field.name), found, depth + 1)
        return
    for name in ("generator", "sampler", "batch_sampler", "fgsm", "pgd"):
        if name in getattr(obj, "__dict__", {}):
            _find_generators(vars(obj)[name], found, depth + 1)


def _all_generators(*sources: Any) -> list[torch.Generator]:
    found: dict[int, torch.Generator] = {}
    for source in sources:
        _find_generators(source, found)
    return list(found.values())


def _check_loss(loss: Any) -> Any:
    if not (callable(loss) or hasattr(loss, "at")):
        raise TypeError(
            f"loss must be callable as loss(model, images, labels) or a schedule with .at(step), "
            f"got {type(loss).__name__}. Use e.g. shapebias.training.StandardLoss()."
        )
    return loss


def _check_scheduler(scheduler: Any) -> Any:
    if scheduler is not None and not all(
        hasattr(scheduler, name) for name in ("step", "state_dict", "load_state_dict")
    ):
        raise TypeError(
            "scheduler must be a torch.optim.lr_scheduler object (with step, state_dict and "
            f"load_state_dict) or None, got {type(scheduler).__name__}."
        )
    return scheduler


def _check_callbacks(callbacks: Any) -> list[Callback]:
    callbacks = list(callbacks)
    for index, callback in enumerate(callbacks):
        if not callable(getattr(callback, "on_epoch_end", None)):
            raise TypeError(
                f"callbacks[{index}] must have an on_epoch_end(state) method (subclass "
                f"shapebias.training.Callback), got {type(callback).__name__}."
            )
    return callbacks


def _check_train_data(train_data: Any) -> Any:
    if not isinstance(train_data, Iterable) or isinstance(train_data, torch.Tensor):
        raise TypeError(
            "train_data must be a DataLoader (or any re-iterable) of (images, labels) batches, "
            f"got {type(train_data).__name__}. Wrap tensors with "
            "DataLoader(TensorDataset(images, labels), batch_size=128, shuffle=True)."
        )
    return train_data


def _to_device(batch: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(images, labels)`` of a batch, moved to ``device`` (fit's job, not the losses')."""
    pair = tuple(batch[:2]) if isinstance(batch, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(t, torch.Tensor) for t in pair):
        found = ", ".join(type(t).__name__ for t in pair) if pair else type(batch).__name__
        raise TypeError(f"train_data must yield (images, labels) tensor pairs, got ({found}).")
    return pair[0].to(device, non_blocking=True), pair[1].to(device, non_blocking=True)


def _preflight(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Once per fit: the model is a classifier returning ``(N, K)`` logits for this data."""
    sample = slice(0, 2)
    with eval_mode(model), torch.no_grad():
        logits = model(images[sample])
    check_logits(logits, images[sample].shape[0], labels[sample])


def _batches(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _train_epoch(run: _Run, state: TrainingState, global_step: int) -> tuple[float, int, int]:
    """One pass over the training data; returns (loss summed over samples, samples, steps)."""
    sampler: Any = getattr(run.loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(state.epoch)
    batches = _batches(run.loader)
    loss_sum = torch.zeros((), dtype=torch.float64, device=run.device)
    seen = 0
    bar = tqdm(
        run.loader,
        total=batches,
        desc=f"epoch {state.epoch + 1}",
        disable=not run.progress,
        leave=False,
    )
    for index, batch in enumerate(bar):
        images, labels = _to_device(batch, run.device)
        if state.epoch == 0 and index == 0:
            _preflight(run.model, images, labels)
        step = Step(state.epoch, index, batches, global_step)
        value = check_loss_value(resolve_loss(run.loss, step)(run.trained, images, labels))
        run.optimizer.zero_grad(set_to_none=True)
        value.backward()
        run.optimizer.step()
        if run.scheduler is not None and run.scheduler_step == "batch":
            run.scheduler.step()
        loss_sum += value.detach() * images.shape[0]
        seen += images.shape[0]
        global_step += 1
        if run.progress and index % _POSTFIX_EVERY == 0:
            bar.set_postfix(loss=f"{float(loss_sum) / seen:.4f}")
    bar.close()
    return float(loss_sum), seen, global_step


def _shard(data: Any) -> Any:
    """A tensor pair is split across processes; any other iterable is evaluated whole."""
    rank, world = rank_and_world()
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return data[0][rank::world], data[1][rank::world]
    return data


def _evaluate(run: _Run) -> dict[str, float]:
    """Clean (and robust, with ``eval_attack``) accuracy on ``eval_data``, in eval mode."""
    sync_buffers(run.model)
    sharded = isinstance(run.eval_data, (tuple, list))
    counts = [0.0, 0.0, 0.0]  # total, clean correct, robust correct
    with eval_mode(run.model):
        for images, labels in iterate_batches(_shard(run.eval_data), run.eval_batch_size):
            images, labels = images.to(run.device), labels.to(run.device)
            if run.eval_attack is None:
                with torch.no_grad():
                    correct = int((run.model(images).argmax(1) == labels).sum())
                counts = [counts[0] + images.shape[0], counts[1] + correct, 0.0]
                continue
            result = robust_accuracy(run.model, (images, labels), run.eval_attack, progress=False)
            counts = [
                counts[0] + result.total,
                counts[1] + result.clean_correct,
                counts[2] + result.robust_correct,
            ]
    if sharded:
        counts = all_reduce_sum(counts, run.device)
    if counts[0] == 0:
        raise ValueError("eval_data must hold at least one sample, got none.")
    metrics = {"clean_accuracy": counts[1] / counts[0]}
    if run.eval_attack is not None:
        metrics["robust_accuracy"] = counts[2] / counts[0]
    return metrics


def _checkpoint_record(run: _Run, state: TrainingState, global_step: int) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "epoch": state.epoch,
        "global_step": global_step,
        "stopped": state.stop,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": None if run.scheduler is None else run.scheduler.state_dict(),
        "history": state.history,
        "rng": gather_objects(capture_rng(run.generators)),
        "callbacks": [
            callback.state_dict() if hasattr(callback, "state_dict") else {}
            for callback in run.callbacks
        ],
        "world_size": rank_and_world()[1],
        "library_version": __version__,
    }


def _resume(run: _Run, state: TrainingState, directory: Any) -> tuple[int, bool]:
    """Load the newest good checkpoint into the run; returns (global_step, stopped)."""
    record = latest_checkpoint(directory, map_location=run.device)
    if record is None:
        return 0, False
    load_state_strict(run.model, record["model"], "the checkpoint")
    run.optimizer.load_state_dict(record["optimizer"])
    if (run.scheduler is None) != (record["scheduler"] is None):
        raise ValueError(
            "the checkpoint was written with"
            + (" a scheduler" if record["scheduler"] is not None else "out a scheduler")
            + " but this run has"
            + ("" if run.scheduler is not None else " none")
            + ". Resume with the same configuration, or pass resume=False."
        )
    if run.scheduler is not None:
        run.scheduler.load_state_dict(record["scheduler"])
    for callback, saved in zip(run.callbacks, record["callbacks"], strict=False):
        if hasattr(callback, "load_state_dict"):
            callback.load_state_dict(saved)
    rank, world = rank_and_world()
    if record["world_size"] != world:
        logger.warning(
            "the checkpoint was written by %d processes, this run has %d: random streams "
            "will differ from an uninterrupted run",
            record["world_size"],
            world,
        )
    restore_rng(record["rng"][min(rank, len(record["rng"]) - 1)], run.generators)
    state.epoch = record["epoch"]
    state.history = list(record["history"])
    return record["global_step"], record["stopped"]


def _log_epoch(metrics: dict[str, Any]) -> None:
    if is_main_process():
        shown = ", ".join(
            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
        )
        logger.info("epoch %s", shown)


def fit(
    model: nn.Module,
    train_data: Any,
    *,
    loss: Any,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    scheduler: Any = None,
    scheduler_step: str = "epoch",
    eval_data: Any = None,
    eval_attack: Any = None,
    eval_batch_size: int = 256,
    callbacks: Sequence[Any] = (),
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    keep_checkpoints: int = 2,
    generators: Sequence[torch.Generator] = (),
    progress: bool = True,
    device: torch.device | str | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` for ``epochs`` epochs; resumable, observable, and DDP-ready.

    Each epoch: every batch goes to ``device``, the loss (or the loss a schedule gives
    for this step) is computed in training mode, back-propagated and stepped; then the
    scheduler steps (``scheduler_step="epoch"``), ``eval_data`` is scored in eval mode,
    callbacks run, and a checkpoint is written. Every submodule's mode is restored when
    ``fit`` returns or raises.

    **Checkpoints and resume.** With ``checkpoint_dir``, after every epoch a file
    ``checkpoint-NNNNN.pt`` is written atomically (temporary file, fsync, rename)
    holding the model, optimizer, scheduler, epoch, history, callback states and every
    RNG state a run uses: the torch CPU RNG (DataLoader shuffling and worker seeds
    draw from it), CUDA RNGs, and each :class:`torch.Generator` found in the loss,
    attacks, callbacks, the DataLoader and its sampler, plus ``generators``. The
    ``keep_checkpoints`` newest files are kept. With ``resume=True`` the newest readable
    checkpoint is loaded (a corrupt one is logged and skipped) and training continues
    at the next epoch, so an interrupted run ends with exactly the weights of an
    uninterrupted one on CPU. Resume granularity is the epoch: work done in an
    unfinished epoch is redone.

    **Distributed.** Under ``torchrun`` (after :func:`init_distributed`) the model is
    wrapped in DistributedDataParallel, a DataLoader gets a DistributedSampler (its
    ``batch_size`` is per process), losses and counts are all-reduced, BatchNorm buffers
    are taken from rank 0 before evaluating, a tensor-pair ``eval_data`` is split across
    processes, and only rank 0 logs, shows progress and writes checkpoints.

    Args:
        model: an ``nn.Module`` classifier ``images -> logits (N, K)``.
        train_data: a DataLoader (or re-iterable) of ``(images, labels)`` batches.
        loss: ``loss(model, images, labels) -> scalar`` (e.g. :class:`AdversarialLoss`)
            or a schedule with ``.at(step)`` (:class:`EpsWarmup`, :class:`Alternating`).
        optimizer: a :class:`torch.optim.Optimizer` over the model's parameters.
        epochs: total number of epochs (including any already done when resuming).
        scheduler: an LR scheduler or None.
        scheduler_step: ``"epoch"`` or ``"batch"`` (one-cycle schedules).
        eval_data: a tensor pair ``(images, labels)`` (a fixed evaluation batch) or a
            DataLoader, scored after every epoch.
        eval_attack: an attack (e.g. ``PGD(eps=8/255)``) for ``robust_accuracy`` on
            ``eval_data``; None records clean accuracy only.
        eval_batch_size: chunk size for a tensor-pair ``eval_data``.
        callbacks: :class:`Callback` objects, e.g. :class:`CatastrophicOverfittingMonitor`.
        checkpoint_dir: folder for checkpoints; None writes none.
        resume: continue from the newest checkpoint in ``checkpoint_dir``.
        keep_checkpoints: how many checkpoints to keep, ``>= 1`` (2 keeps a fallback).
        generators: further generators whose states must be checkpointed.
        progress: show a tqdm bar per epoch with the running loss (rank 0 only).
        device: where to train; None uses the model's device.

    Returns:
        The history: one dict per epoch with ``epoch``, ``loss`` (mean training loss),
        ``lr``, ``seconds``, and with ``eval_data`` ``clean_accuracy`` (plus
        ``robust_accuracy`` with ``eval_attack``), plus whatever callbacks add.

    Raises:
        TypeError: a model that is not an ``nn.Module``, a loss that is not callable, a
            loss returning a non-tensor, a bad optimizer, scheduler or callback.
        ValueError: ``epochs < 1``, a non-scalar loss, an empty ``train_data``, a model
            that does not return ``(N, K)`` logits, a checkpoint of another architecture.

    Example:
        >>> import torch
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> from shapebias.models import small_cnn
        >>> from shapebias.training import StandardLoss, fit
        >>> images, labels = torch.rand(32, 3, 16, 16), torch.randint(0, 2, (32,))
        >>> model = small_cnn(2, width=8)
        >>> history = fit(
        ...     model,
        ...     DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True),
        ...     loss=StandardLoss(),
        ...     optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        ...     epochs=2,
        ...     eval_data=(images, labels),
        ...     progress=False,
        ... )
        >>> [entry["epoch"] for entry in history]
        [1, 2]
    """
    check_module(model)
    check_int(epochs, "epochs", low=1)
    check_int(keep_checkpoints, "keep_checkpoints", low=1)
    check_int(eval_batch_size, "eval_batch_size", low=1)
    check_choice(scheduler_step, "scheduler_step", _SCHEDULER_STEPS)
    device = _model_device(model) if device is None else torch.device(device)
    loader = shard_loader(_check_train_data(train_data))
    callbacks = _check_callbacks(callbacks)
    run = _Run(
        model=model,
        trained=wrap(model, device),
        loader=loader,
        loss=_check_loss(loss),
        optimizer=check_optimizer(optimizer),
        scheduler=_check_scheduler(scheduler),
        scheduler_step=scheduler_step,
        eval_data=eval_data,
        eval_attack=eval_attack,
        eval_batch_size=eval_batch_size,
        callbacks=callbacks,
        generators=_all_generators(loss, loader, eval_attack, callbacks, list(generators)),
        device=device,
        progress=progress and is_main_process(),
    )
    state = TrainingState(model=model, optimizer=optimizer, device=device)
    global_step, stopped = 0, False
    if checkpoint_dir is not None and resume:
        global_step, stopped = _resume(run, state, checkpoint_dir)
    with train_mode(model):
        while state.epoch < epochs and not stopped:
            global_step, stopped = _run_epoch(run, state, global_step, checkpoint_dir)
            if checkpoint_dir is not None and is_main_process():
                prune_checkpoints(checkpoint_dir, keep_checkpoints)
    return state.history


def _run_epoch(
    run: _Run, state: TrainingState, global_step: int, checkpoint_dir: Any
) -> tuple[int, bool]:
    start = time.perf_counter()
    loss_sum, seen, global_step = _train_epoch(run, state, global_step)
    if seen == 0:
        raise ValueError(
            "train_data yielded no batches; nothing was trained. Check the dataset is not "
            "empty and that drop_last does not drop the only batch."
        )
    if run.scheduler is not None and run.scheduler_step == "epoch":
        run.scheduler.step()
    total_loss, total_seen = all_reduce_sum([loss_sum, float(seen)], run.device)
    state.epoch += 1
    metrics: dict[str, Any] = {
        "epoch": state.epoch,
        "loss": total_loss / total_seen,
        "lr": run.optimizer.param_groups[0]["lr"],
    }
    if run.eval_data is not None:
        metrics.update(_evaluate(run))
    metrics["seconds"] = time.perf_counter() - start
    state.history.append(metrics)
    for callback in run.callbacks:
        callback.on_epoch_end(state)
    _log_epoch(state.history[-1])
    if checkpoint_dir is not None:
        record = _checkpoint_record(run, state, global_step)
        if is_main_process():
            atomic_save(record, checkpoint_path(checkpoint_dir, state.epoch))
    return global_step, state.stop
