"""The reproducibility manifest of a robustness evaluation: what ran, on what, with which state.

Everything is JSON-ready: versions, device, dtype, autocast, every field of each attack
(a generator as its seed and a hash of its state *before* the run), the model's
parameter hash and a hash of the images and labels evaluated.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import torch

__all__ = ["ImageHasher", "attack_config", "generator_record", "parameter_hash"]


def generator_record(generator: torch.Generator | None) -> dict[str, Any] | None:
    """A generator's initial seed and the sha256 of its current state (``None`` stays ``None``)."""
    if generator is None:
        return None
    state = generator.get_state().numpy().tobytes()
    return {
        "seed": int(generator.initial_seed()),
        "state_sha256": hashlib.sha256(state).hexdigest(),
        "device": str(generator.device),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Generator):
        return generator_record(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def attack_config(attack: Any, name: str) -> dict[str, Any]:
    """Every field of a dataclass attack (the library's), or its type for any other callable."""
    record: dict[str, Any] = {"name": name, "type": type(attack).__name__}
    if dataclasses.is_dataclass(attack) and not isinstance(attack, type):
        for field in dataclasses.fields(attack):
            record[field.name] = _jsonable(getattr(attack, field.name))
    return record


def _bytes(tensor: torch.Tensor) -> bytes:
    return bytes(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())


def parameter_hash(model: Any) -> str | None:
    """sha256 over the model's state dict (names, shapes, dtypes, values); ``None`` if no Module."""
    if not isinstance(model, torch.nn.Module):
        return None
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(_bytes(tensor))
    return digest.hexdigest()


class ImageHasher:
    """Incremental sha256 of the images and labels evaluated, batch by batch, in data order."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        for tensor in (images, labels):
            self._digest.update(_bytes(tensor))

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
