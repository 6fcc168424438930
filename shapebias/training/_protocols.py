"""The explicit protocols ``fit`` and the schedules use: ``generators()`` and ``scaled(factor)``.

No attribute is looked up by guessing. An object tells ``fit`` which
:class:`torch.Generator` objects it draws from through a ``generators()`` method
(every loss, schedule and callback of the library has one), and tells
:class:`~shapebias.training.EpsWarmup` how to scale its budget through a
``scaled(factor)`` method. The library's own attack types
(:class:`~shapebias.attacks.PGD`, :class:`~shapebias.attacks.FGSM`) and torch's
:class:`~torch.utils.data.DataLoader` are read through their documented fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

from shapebias.attacks import FGSM, PGD

__all__ = [
    "generators_of",
    "generators_of_all",
    "loader_generators",
    "scale_attack",
    "unique_generators",
]


def unique_generators(generators: Iterable[Any], owner: str) -> list[torch.Generator]:
    """``generators`` without repeats (by identity), each checked to be a ``torch.Generator``."""
    found: dict[int, torch.Generator] = {}
    for generator in generators:
        if not isinstance(generator, torch.Generator):
            raise TypeError(
                f"{owner}.generators() must return torch.Generator objects, got "
                f"{type(generator).__name__}."
            )
        found.setdefault(id(generator), generator)
    return list(found.values())


_RANDOM_SAMPLERS = (RandomSampler, SubsetRandomSampler, WeightedRandomSampler)


def loader_generators(loader: Any) -> list[torch.Generator]:
    """The generators a DataLoader shuffles with: its own and its torch random samplers'."""
    if not isinstance(loader, DataLoader):
        return []
    samplers = [loader.sampler]
    if isinstance(loader.batch_sampler, BatchSampler):
        samplers.append(loader.batch_sampler.sampler)
    candidates = [loader.generator] + [
        sampler.generator for sampler in samplers if isinstance(sampler, _RANDOM_SAMPLERS)
    ]
    return unique_generators((g for g in candidates if g is not None), "DataLoader")


def generators_of(obj: Any) -> list[torch.Generator] | None:
    """The generators ``obj`` draws from, or None when it does not say.

    Args:
        obj: a loss, schedule, attack or callback (None draws from nothing).

    Returns:
        The list from ``obj.generators()``; for :class:`~shapebias.attacks.PGD` its
        ``generator`` field, for :class:`~shapebias.attacks.FGSM` nothing; None for any
        other object without a ``generators()`` method, or whose method returns None
        (a wrapper, such as :class:`AdversarialLoss`, around an object that does not say).

    Raises:
        TypeError: ``generators()`` returned something other than generators.
    """
    if obj is None or isinstance(obj, FGSM):
        return []
    if isinstance(obj, PGD):
        return [] if obj.generator is None else [obj.generator]
    method = getattr(obj, "generators", None)
    generators = method() if callable(method) else None
    return None if generators is None else unique_generators(generators, type(obj).__name__)


def generators_of_all(parts: Iterable[Any], owner: str) -> list[torch.Generator] | None:
    """The generators of every part (in order, without repeats); None when one does not say."""
    found: list[torch.Generator] = []
    for part in parts:
        generators = generators_of(part)
        if generators is None:
            return None
        found += generators
    return unique_generators(found, owner)


def scale_attack(attack: Any, factor: float) -> Any:
    """A copy of ``attack`` with ``eps`` and an explicit ``step_size`` times ``factor``.

    Raises:
        TypeError: ``attack`` is neither a PGD/FGSM nor an object with ``scaled(factor)``.
    """
    if isinstance(attack, PGD):
        step = None if attack.step_size is None else attack.step_size * factor
        return dataclasses.replace(attack, eps=attack.eps * factor, step_size=step)
    if isinstance(attack, FGSM):
        return dataclasses.replace(attack, eps=attack.eps * factor)
    method = getattr(attack, "scaled", None)
    if not callable(method):
        raise TypeError(
            f"EpsWarmup cannot scale the budget of a {type(attack).__name__} attack: use PGD or "
            "FGSM, or give the attack a scaled(factor) method returning the scaled copy."
        )
    return method(factor)
