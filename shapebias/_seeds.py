"""The one seed derivation: a stable 63-bit seed from a base seed and keys."""

from __future__ import annotations

import hashlib

import torch

__all__ = ["derive_seed", "seeded_generator"]


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed that depends only on ``seed`` and ``keys`` (stable across runs).

    The first 8 bytes of the SHA-256 of the parts' ``str`` joined by ``"\\x1f"``, shifted
    to 63 bits (so it fits :meth:`torch.Generator.manual_seed` and NumPy alike). Python's
    ``hash`` of a string changes between processes; this does not. Every per-item,
    per-class or per-name seed in the package comes from here, so no two parts derive
    seeds in different ways.

    Args:
        seed: the user's base seed.
        *keys: what the seed is for: ints, strings (anything with a stable ``str``).

    Returns:
        An int in ``[0, 2**63)``.

    Example:
        >>> from shapebias._seeds import derive_seed
        >>> derive_seed(0, "bootstrap", 3) == derive_seed(0, "bootstrap", 3)
        True
    """
    text = "\x1f".join(str(part) for part in (seed, *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def seeded_generator(
    seed: int, *keys: object, device: torch.device | str = "cpu"
) -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded with ``derive_seed(seed, *keys)``."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, *keys))
