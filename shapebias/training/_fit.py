"""``fit``: one small, resumable, observable training loop that also runs under torchrun."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from shapebias._batches import iterate_batches
from shapebias._validation import (
    check_bool,
    check_callable,
    check_choice,
    check_images,
    check_int,
    check_labels,
    check_logits,
    check_module,
)
from shapebias._version import __version__
from shapebias.attacks import robust_accuracy
from shapebias.models import eval_mode, holds_stack, train_mode
from shapebias.training._callbacks import Callback, TrainingState
from shapebias.training._checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    atomic_save,
    capture_rng,
    checkpoint_path,
    latest_checkpoint,
    load_state_strict,
    prune_checkpoints,
    remove_orphans,
    restore_rng,
)
from shapebias.training._checks import (
    check_loss_value,
    check_optimizer,
    check_optimizer_owns,
)
from shapebias.training._checksum import seal
from shapebias.training._distributed import (
    all_reduce_sum,
    gather_objects,
    is_main_process,
    rank_and_world,
    shard_loader,
    sync_buffers,
    wrap,
)
from shapebias.training._protocols import generators_of, loader_generators, unique_generators
from shapebias.training._schedules import Step, resolve_loss
from shapebias.training._stacked import check_stacked_eval_data

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


def _check_device(device: Any, model: nn.Module) -> torch.device:
    if device is None:
        resolved = _model_device(model)
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(
                f"device must be a torch.device or a name such as 'cpu' or 'cuda:0', got "
                f"{device!r}."
            ) from error
    if resolved.type == "meta":
        source = "the model's parameters are" if device is None else "device is"
        raise ValueError(
            f"{source} on the meta device, which holds no values, so nothing can be trained. "
            "Materialise the model first (model.to_empty(device='cpu') and initialise or "
            "load its weights) or pass device='cpu' / 'cuda'."
        )
    return resolved


_UNSEEN_RANDOMNESS = (
    "fit cannot see the random state of {what} (it, or an attack or loss inside it, has no "
    "generators() method), so a run resumed from checkpoint_dir may differ from an "
    "uninterrupted one if it draws from its own torch.Generator. Give it a generators() "
    "method returning its generators, or pass generators=[...] to fit (generators=() "
    "states that there are no others)."
)


def _run_generators(
    loss: Any,
    loader: Any,
    eval_attack: Any,
    callbacks: list[Callback],
    extra: Sequence[torch.Generator] | None,
    checkpointing: bool,
) -> list[torch.Generator]:
    """Every generator the run draws from, by the explicit ``generators()`` protocol.

    A DataLoader's generators are read from its (and its torch samplers') fields. Warns,
    when checkpoints are written and ``extra`` is None, about each other source that
    does not expose its random state, since an exact resume cannot be promised for it.
    """
    sources = {"the loss": loss, "eval_attack": eval_attack}
    sources.update({f"callbacks[{i}]": callback for i, callback in enumerate(callbacks)})
    exposed = {what: generators_of(source) for what, source in sources.items()}
    for what, generators in exposed.items():
        if generators is None and checkpointing and extra is None:
            warnings.warn(_UNSEEN_RANDOMNESS.format(what=what), UserWarning, stacklevel=4)
    ordered = [  # the order of checkpoints written before the protocol existed
        exposed["the loss"],
        loader_generators(loader),
        exposed["eval_attack"],
        *(exposed[f"callbacks[{i}]"] for i in range(len(callbacks))),
        extra,
    ]
    return unique_generators((g for part in ordered for g in (part or ())), "fit(generators=...)")


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


def _preflight(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, source: str = "train_data"
) -> None:
    """Once per fit: valid data, and a classifier returning finite ``(N, K)`` logits for it."""
    check_images(images, f"{source} images")
    check_labels(labels, images, f"{source} labels")
    sample = slice(None) if holds_stack(model) else slice(0, 2)  # a stack needs whole blocks
    with eval_mode(model), torch.no_grad():
        logits = model(images[sample])
    check_logits(logits, images[sample].shape[0], labels[sample], f"{source} labels")


def _check_eval_data(eval_data: Any, model: nn.Module, device: torch.device) -> Any:
    """Check ``eval_data`` before training, so a mistake costs no epoch."""
    if eval_data is None:
        return None
    tensors = (
        [isinstance(t, torch.Tensor) for t in eval_data]
        if isinstance(eval_data, (tuple, list))
        else []
    )
    if any(tensors):  # meant as a pair; a list of (images, labels) batches is an iterable
        if len(tensors) != 2 or not all(tensors):
            found = ", ".join(type(t).__name__ for t in eval_data)
            raise TypeError(
                f"eval_data must be a pair (images, labels) of tensors or a DataLoader, got "
                f"a {type(eval_data).__name__} of ({found})."
            )
        images, labels = eval_data
        check_images(images, "eval_data images")
        check_labels(labels, images, "eval_data labels")
        _preflight(model, images[:2].to(device), labels[:2].to(device), "eval_data")
        return eval_data
    if not isinstance(eval_data, Iterable) or isinstance(eval_data, torch.Tensor):
        raise TypeError(
            "eval_data must be a pair (images, labels) of tensors, a DataLoader of such "
            f"batches, or None, got {type(eval_data).__name__}."
        )
    return eval_data


def _check_checkpoint_dir(checkpoint_dir: Any) -> Any:
    if checkpoint_dir is None:
        return None
    if not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise TypeError(
            f"checkpoint_dir must be a folder path (str or pathlib.Path) or None, got "
            f"{type(checkpoint_dir).__name__}."
        )
    folder = os.fspath(checkpoint_dir)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"checkpoint_dir {folder} exists and is not a folder. Choose a folder.")
    return checkpoint_dir


def _check_finite_loss(value: torch.Tensor, device: torch.device, epoch: int, batch: int) -> None:
    """Stop before a non-finite loss reaches the weights (one scalar read per batch).

    Under DDP the verdict is all-reduced, so every process stops at the same batch
    instead of the others waiting for a gradient all-reduce that never comes.
    """
    finite = bool(torch.isfinite(value.detach()))
    if rank_and_world()[1] > 1:
        finite = all_reduce_sum([0.0 if finite else 1.0], device)[0] == 0
    if not finite:
        here = float(value.detach())
        what = f"became {here}"
        if math.isfinite(here):
            what = "became non-finite on another process"
        raise ValueError(
            f"the training loss {what} at epoch {epoch + 1}, batch {batch + 1} (both counted "
            "from 1); training stopped before this batch's update, so the weights are those "
            "after the previous batch. Lower the learning rate, clip gradients, or check "
            "this batch's data."
        )


def _batches(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _train_epoch(run: _Run, state: TrainingState, global_step: int) -> tuple[float, int, int]:
    """One pass over the training data; returns (loss summed over samples, samples, steps)."""
    if isinstance(run.loader, DataLoader) and isinstance(run.loader.sampler, DistributedSampler):
        run.loader.sampler.set_epoch(state.epoch)  # a new shuffle every epoch
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
        _check_finite_loss(value, run.device, state.epoch, index)
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
            result = robust_accuracy(
                run.model, (images, labels), run.eval_attack, progress=False, distributed=False
            )
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
        "version": CHECKPOINT_VERSION,
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


def _resume(run: _Run, state: TrainingState, directory: Any, epochs: int) -> tuple[int, bool]:
    """Load the newest good checkpoint into the run; returns (global_step, stopped)."""
    record = latest_checkpoint(directory, map_location=run.device)
    if record is None:
        return 0, False
    if record["epoch"] > epochs:
        raise ValueError(
            f"epochs={epochs} but the newest checkpoint in {directory} has already done "
            f"{record['epoch']} epochs, so fit would return a history longer than asked. "
            f"Pass epochs >= {record['epoch']}, another checkpoint_dir, or resume=False."
        )
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
    generators: Sequence[torch.Generator] | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` for ``epochs`` epochs; resumable, observable, and DDP-ready.

    Each epoch: every batch goes to ``device``, the loss (or the loss a schedule gives
    for this step) is computed in training mode, back-propagated and stepped; then the
    scheduler steps (``scheduler_step="epoch"``), ``eval_data`` is scored in eval mode,
    callbacks run, and a checkpoint is written. Every submodule's mode is restored when
    ``fit`` returns or raises.

    **Checked first.** Every argument is validated before the first step (``eval_data``
    with the image and label checks and a two-sample forward pass, ``checkpoint_dir``,
    ``device``, an optimizer holding some of the model's parameters); the first batch
    and the model's logits on it are checked before it is trained on. A non-finite
    loss stops training with an error naming the epoch and batch, before that batch's
    update. ``fit`` returns or raises with no ``.grad`` left on the parameters.

    **Checkpoints and resume.** With ``checkpoint_dir``, after every epoch a file
    ``checkpoint-NNNNN.pt`` is written atomically (temporary file, fsync, rename)
    holding the model, optimizer, scheduler, epoch, history, callback states, every
    RNG state a run uses and a SHA-256 checksum of all of it. The RNG states: the torch
    CPU RNG (DataLoader shuffling and worker seeds draw from it), CUDA RNGs, and each
    :class:`torch.Generator` that the loss, ``eval_attack`` and callbacks return from
    their ``generators()`` method (``PGD``/``FGSM`` are read from their fields), the
    DataLoader's and its sampler's, plus ``generators``. When checkpointing, a loss,
    attack or callback without ``generators()`` triggers a warning (its randomness
    cannot be restored) unless ``generators`` is given. The ``keep_checkpoints``
    newest files are kept; temporary files of killed writes are removed. With
    ``resume=True`` the newest readable checkpoint (a damaged one is logged and
    skipped) is loaded and training continues at the next epoch, so an interrupted
    run ends with exactly the weights of an uninterrupted one on CPU. Resume
    granularity is the epoch: work done in an unfinished epoch is redone.

    **Distributed.** Under ``torchrun`` (after :func:`init_distributed`) the model is
    wrapped in DistributedDataParallel, a DataLoader gets a DistributedSampler (its
    ``batch_size`` is per process; a DataLoader's DistributedSampler, in any run, gets
    ``set_epoch(epoch)`` before every epoch, other samplers are left alone), losses and
    counts are all-reduced, BatchNorm buffers are taken from rank 0 before evaluating, a
    tensor-pair ``eval_data`` is split across processes, and only rank 0 logs, shows
    progress and writes checkpoints.

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
        generators: further generators whose states must be checkpointed; giving it
            (``()`` for none) states that nothing else draws random numbers.
        progress: show a tqdm bar per epoch with the running loss (rank 0 only).
        device: where to train; None uses the model's device.

    Returns:
        The history: one dict per epoch with ``epoch``, ``loss`` (mean training loss),
        ``lr``, ``seconds``, and with ``eval_data`` ``clean_accuracy`` (plus
        ``robust_accuracy`` with ``eval_attack``), plus whatever callbacks add.

    Raises:
        TypeError: a model that is not an ``nn.Module``, a loss that is not callable, a
            loss returning a non-tensor, a bad optimizer, scheduler, callback,
            ``eval_data`` or ``checkpoint_dir``, non-bool flags, uint8 images.
        ValueError: ``epochs < 1`` or fewer than a checkpoint has done, a non-scalar or
            non-finite loss, an empty ``train_data``, a model that does not return
            finite ``(N, K)`` logits, an optimizer without the model's parameters, the
            ``meta`` device, a checkpoint of another architecture, a ``checkpoint_dir``
            whose checkpoints are all unreadable, an ``eval_attack`` for a
            :class:`~shapebias.models.StackedModels` (refused before the first step).
        OSError: a checkpoint could not be written (full disk, read-only folder); the
            previous checkpoint is intact.

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
    check_stacked_eval_data(model, eval_data)
    check_int(epochs, "epochs", low=1)
    if isinstance(generators, torch.Generator):
        raise TypeError("generators must be a list of torch.Generator, got one: use [generator].")
    check_int(keep_checkpoints, "keep_checkpoints", low=1)
    check_int(eval_batch_size, "eval_batch_size", low=1)
    check_choice(scheduler_step, "scheduler_step", _SCHEDULER_STEPS)
    for flag, name in ((resume, "resume"), (progress, "progress")):
        check_bool(flag, name)
    device = _check_device(device, model)
    check_optimizer_owns(check_optimizer(optimizer), model)
    if eval_attack is not None:
        check_callable(eval_attack, "eval_attack")
        if holds_stack(model):
            raise ValueError(
                "eval_attack must be None for a StackedModels: the evaluation runs "
                "robust_accuracy, which drops samples from the batch, and a stack routes "
                "images to its members by position. Train with eval_attack=None and evaluate "
                "each member of stack.unstack() with robust_accuracy afterwards."
            )
    checkpoint_dir = _check_checkpoint_dir(checkpoint_dir)
    loader = shard_loader(_check_train_data(train_data))
    callbacks = _check_callbacks(callbacks)
    loss = _check_loss(loss)
    scheduler = _check_scheduler(scheduler)
    eval_data = _check_eval_data(eval_data, model, device)
    streams = _run_generators(
        loss, loader, eval_attack, callbacks, generators, checkpoint_dir is not None
    )
    run = _Run(
        model=model,
        trained=wrap(model, device),  # after every check: under DDP it broadcasts weights
        loader=loader,
        loss=loss,
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_step=scheduler_step,
        eval_data=eval_data,
        eval_attack=eval_attack,
        eval_batch_size=eval_batch_size,
        callbacks=callbacks,
        generators=streams,
        device=device,
        progress=progress and is_main_process(),
    )
    state = TrainingState(model=model, optimizer=optimizer, device=device)
    try:
        _train(run, state, epochs, checkpoint_dir, resume, keep_checkpoints)
    finally:
        optimizer.zero_grad(set_to_none=True)
    return state.history


def _train(
    run: _Run,
    state: TrainingState,
    epochs: int,
    checkpoint_dir: Any,
    resume: bool,
    keep_checkpoints: int,
) -> None:
    global_step, stopped = 0, False
    if checkpoint_dir is not None and is_main_process():
        remove_orphans(checkpoint_dir)
    if checkpoint_dir is not None and resume:
        global_step, stopped = _resume(run, state, checkpoint_dir, epochs)
    with train_mode(run.model):
        while state.epoch < epochs and not stopped:
            global_step, stopped = _run_epoch(run, state, global_step, checkpoint_dir)
            if checkpoint_dir is not None and is_main_process():
                prune_checkpoints(checkpoint_dir, keep_checkpoints)


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
            atomic_save(seal(record), checkpoint_path(checkpoint_dir, state.epoch))
    return global_step, state.stop
