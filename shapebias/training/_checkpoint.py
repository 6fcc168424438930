"""Atomic checkpoint files, strict state loading, and the RNG states an exact resume needs."""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shapebias.training._checksum import CHECKSUM_KEY, verify

__all__ = [
    "CHECKPOINT_VERSION",
    "atomic_save",
    "capture_rng",
    "checkpoint_path",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_state_strict",
    "prune_checkpoints",
    "read_record",
    "remove_orphans",
    "restore_rng",
]

logger = logging.getLogger("shapebias.training")

CHECKPOINT_FORMAT = "shapebias-checkpoint"
CHECKPOINT_VERSION = 2  # 2: carries a checksum of its payload
_NAME = re.compile(r"^checkpoint-(\d+)\.pt$")
_ORPHAN = re.compile(r"^\.checkpoint-\d+\.pt\.\d+\.tmp$")
_LISTED = 10
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _write(record: Any, temporary: Path) -> None:
    """Write ``record`` to ``temporary`` and make it durable (flush + fsync)."""
    with open(temporary, "wb") as handle:
        torch.save(record, handle)
        handle.flush()
        os.fsync(handle.fileno())


def _write_error(error: OSError, target: Path) -> OSError:
    """The OSError to raise for a failed write of ``target``: what happened, and the fix."""
    if error.errno in _FULL:
        reason = "the disk is full (or a quota is reached)"
        fix = "Free space or point the destination at another disk"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "the folder is not writable"
        fix = "Make it writable or choose another folder"
    else:
        reason = f"{type(error).__name__}: {error}"
        fix = "Check the destination"
    return type(error)(
        error.errno,
        f"could not write {target}: {reason}. Nothing was replaced: every file already in "
        f"{target.parent} (the previous checkpoint included) is intact. {fix}.",
    )


def atomic_save(record: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A crash at any moment leaves either the old file or the new one, never half a file;
    a temporary file a crash leaves behind is removed by :func:`remove_orphans`.

    Raises:
        OSError: the write failed (a full disk, a read-only folder); the message names
            the file and the cause, and the previous file at ``path`` is untouched.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(record, temporary)
        os.replace(temporary, target)
    except OSError as error:
        raise _write_error(error, target) from error
    finally:
        temporary.unlink(missing_ok=True)
    return target


def remove_orphans(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that writes killed mid-way left in ``directory``.

    Returns:
        The files removed (each is logged).
    """
    folder = Path(directory)
    if not folder.is_dir():
        return []
    removed = [path for path in folder.iterdir() if _ORPHAN.match(path.name)]
    for path in removed:
        path.unlink(missing_ok=True)
        logger.warning("removed %s, left by a checkpoint write that did not finish", path)
    return removed


def read_record(path: str | os.PathLike[str], expected: str, map_location: Any = "cpu") -> dict:
    """Load a shapebias file with ``weights_only=True`` and check its ``format`` tag.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is truncated, corrupt, or not a ``expected`` file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {expected} file at {path}.")
    try:
        record = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(
            f"{path} is not a readable {expected} file (truncated or corrupt?): "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(record, dict) or record.get("format") != expected:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"{path} is not a {expected} file (format: {found!r}).")
    return record


def load_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> dict:
    """Read a checkpoint written by :func:`~shapebias.training.fit`.

    The file loads with ``weights_only=True``. Its keys: ``epoch`` (completed),
    ``global_step``, ``stopped``, ``model``, ``optimizer``, ``scheduler``, ``history``,
    ``rng`` (one entry per process), ``callbacks``, ``world_size``, ``library_version``
    and ``sha256``, a checksum of all the others that is verified here, so a damaged
    file is refused instead of loaded (files of version 1, which have none, load with
    a logged warning).

    Args:
        path: a ``checkpoint-NNNNN.pt`` file.
        map_location: as in :func:`torch.load`.

    Returns:
        The checkpoint dict.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a corrupt or truncated file, a payload that does not match its
            checksum, or not a shapebias checkpoint.

    Example:
        >>> from shapebias.training import load_checkpoint
        >>> load_checkpoint("no/such/checkpoint-00001.pt")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no shapebias-checkpoint file at no/such/checkpoint-00001.pt.
    """
    record = read_record(path, CHECKPOINT_FORMAT, map_location)
    if CHECKSUM_KEY in record or record.get("version", 1) >= CHECKPOINT_VERSION:
        verify(record, str(path))
    else:
        logger.warning("%s predates checksums (version 1): it cannot be verified", path)
    return record


def checkpoint_path(directory: str | os.PathLike[str], epoch: int) -> Path:
    """The file name of the checkpoint written after ``epoch`` epochs."""
    return Path(directory) / f"checkpoint-{epoch:05d}.pt"


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint files in ``directory``, newest (highest epoch) first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [path for _, path in sorted(found, reverse=True)]


def latest_checkpoint(directory: str | os.PathLike[str], map_location: Any = "cpu") -> dict | None:
    """The newest checkpoint in ``directory`` that loads; corrupt ones are skipped with a log.

    Returns:
        The record, or None when ``directory`` holds no checkpoint file.

    Raises:
        ValueError: checkpoint files exist but none of them loads; the message names
            them and ``resume=False``, so that unreadable work is never overwritten
            silently by a run that starts again from epoch 1.
    """
    paths = list_checkpoints(directory)
    for path in paths:
        try:
            record = load_checkpoint(path, map_location=map_location)
        except ValueError as error:
            logger.warning("skipping unreadable checkpoint: %s", error)
            continue
        logger.info("resuming from %s (epoch %d)", path, record["epoch"])
        return record
    if paths:
        names = ", ".join(path.name for path in paths[:_LISTED])
        more = f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else ""
        raise ValueError(
            f"checkpoint_dir {Path(directory)} holds {len(paths)} checkpoint files ({names}"
            f"{more}) and none of them is readable (see the logged reasons). Nothing was "
            "overwritten. Repair or move them, or pass resume=False to start again from "
            "epoch 1 (which overwrites them)."
        )
    return None


def prune_checkpoints(directory: str | os.PathLike[str], keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints, and any orphaned temporary file."""
    for path in list_checkpoints(directory)[keep:]:
        path.unlink(missing_ok=True)
    remove_orphans(directory)


def _describe_keys(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:_LISTED])
    return shown + (f", ... ({len(keys) - _LISTED} more)" if len(keys) > _LISTED else "")


def load_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model`` after checking that every key and shape matches.

    Raises:
        ValueError: listing missing keys, unexpected keys and shape mismatches, so that a
            checkpoint of another architecture is recognised at once.
    """
    own = model.state_dict()
    missing = own.keys() - state.keys()
    unexpected = state.keys() - own.keys()
    reshaped = [
        f"{key}: checkpoint {tuple(state[key].shape)} vs model {tuple(own[key].shape)}"
        for key in sorted(own.keys() & state.keys())
        if isinstance(state[key], torch.Tensor) and state[key].shape != own[key].shape
    ]
    if missing or unexpected or reshaped:
        problems = []
        if missing:
            problems.append(f"missing keys: {_describe_keys(missing)}")
        if unexpected:
            problems.append(f"unexpected keys: {_describe_keys(unexpected)}")
        if reshaped:
            problems.append(f"shape mismatches: {'; '.join(reshaped[:_LISTED])}")
        raise ValueError(
            f"{source} does not fit this {type(model).__name__}, probably another "
            f"architecture; {'. '.join(problems)}. Build the model the weights came from."
        )
    model.load_state_dict(state)


def capture_rng(generators: Iterable[torch.Generator]) -> dict[str, Any]:
    """The torch CPU RNG, every CUDA RNG (if CUDA is initialised) and each generator's state."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "generators": [generator.get_state() for generator in generators],
    }


def restore_rng(state: Mapping[str, Any], generators: list[torch.Generator]) -> None:
    """Put back what :func:`capture_rng` recorded.

    Raises:
        ValueError: the run has a different number of generators than the checkpoint.
    """
    saved = state["generators"]
    if len(saved) != len(generators):
        raise ValueError(
            f"the checkpoint holds {len(saved)} generator states but this run has "
            f"{len(generators)} generators (in the loss, attacks, DataLoader and `generators`). "
            "Resume with the same configuration, or pass resume=False."
        )
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    for generator, value in zip(generators, saved, strict=True):
        generator.set_state(value)
