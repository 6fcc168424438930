"""A SHA-256 checksum of a checkpoint's payload, so that a flipped bit is detected, not loaded.

The digest walks the record in order (dict keys and values, list items, each tensor's
dtype, shape and raw bytes, the ``repr`` of every other value), so it is computed
from what was saved and from what was loaded alike, and a checkpoint stays a plain
``torch.save`` file that ``torch.load(path, weights_only=True)`` reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["CHECKSUM_KEY", "payload_digest", "seal", "verify"]

CHECKSUM_KEY = "sha256"


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, Mapping):
        digest.update(f"D{len(value)}".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"V{type(value).__name__}:{value!r};".encode())


def payload_digest(record: Mapping[str, Any]) -> str:
    """The hex SHA-256 of every entry of ``record`` except the checksum itself."""
    digest = hashlib.sha256()
    _feed(digest, {key: value for key, value in record.items() if key != CHECKSUM_KEY})
    return digest.hexdigest()


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its checksum added under :data:`CHECKSUM_KEY`."""
    return {**record, CHECKSUM_KEY: payload_digest(record)}


def verify(record: Mapping[str, Any], source: str) -> None:
    """Check a loaded record against its checksum.

    Raises:
        ValueError: the payload does not match (a flipped bit, a partial copy), or the
            record carries no checksum.
    """
    saved = record.get(CHECKSUM_KEY)
    if saved is None:
        raise ValueError(f"{source} carries no {CHECKSUM_KEY} checksum of its payload.")
    if payload_digest(record) != saved:
        raise ValueError(
            f"{source} does not match its {CHECKSUM_KEY} checksum: the file was altered or "
            "damaged after it was written (a flipped bit, an incomplete copy)."
        )
