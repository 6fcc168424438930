"""Configuration objects (attacks, losses) call their function with their fields."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

__all__ = ["config_kwargs"]


def config_kwargs(config: Any) -> dict[str, Any]:
    """A dataclass's fields as keyword arguments, without copying tensors or generators.

    (:func:`dataclasses.asdict` deep-copies values, which would fork a generator's state.)

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Settings:
        ...     eps: float = 0.1
        >>> config_kwargs(Settings())
        {'eps': 0.1}
    """
    return {field.name: getattr(config, field.name) for field in fields(config)}
