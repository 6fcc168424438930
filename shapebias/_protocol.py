"""The distortion protocol: every distortion is called as ``distortion(images, generator=g)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["apply_distortion"]


def apply_distortion(
    distortion: Callable[..., Any], images: torch.Tensor, generator: torch.Generator, what: str
) -> Any:
    """Call ``distortion(images, generator=generator)``; name the protocol if it is broken.

    Every function and Module of :mod:`shapebias.distortions` takes ``generator=``
    keyword-only (deterministic ones ignore it), so callers pass it always and never look
    at signatures. A user callable without the keyword fails on the call; its
    :class:`TypeError` is re-raised naming ``what`` and the fix.
    """
    try:
        return distortion(images, generator=generator)
    except TypeError as error:
        if "generator" not in str(error):
            raise
        raise TypeError(
            f"{what} is called as distortion(images, generator=g) but does not accept "
            f"generator= ({error}). Every shapebias distortion does; give your own callable "
            "the keyword, e.g. lambda x, generator=None: x.flip(-1)."
        ) from error
