"""8-bit levels: the one step that makes rendered images the same on every CPU.

A rendered image passes through transcendental functions (``sin``, ``arctan2``, ...)
whose last bits depend on the SIMD kernels a CPU dispatches to. Rendered in float64
(relative error about ``1e-16``) and rounded to the 256 levels ``k / 255`` of an 8-bit
image, a kernel difference changes a pixel only if it straddles a level boundary: the
rendering's error would have to be ``1e13`` times larger than it is, or a value would
have to lie within ``1e-13`` of a boundary (``tests/test_seeds.py`` measures the
closest value). The levels themselves are exact: rounding, and the division of a small
integer by 255, are correctly rounded on every IEEE machine.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["LEVELS", "to_8bit_levels"]

LEVELS = 255
"""The largest level: images take the values ``k / 255``, ``k = 0, ..., 255``."""


def to_8bit_levels(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``round(clip(image, 0, 1) * 255) / 255`` as a float32 CPU tensor (a fresh one).

    Computed in NumPy: per-image tensors this small pay more for torch's thread pool than
    for the arithmetic.

    Args:
        image: a float64 array or tensor (float64 keeps the rendering error far below a
            level; float32 inputs are accepted but then carry their own kernel noise).

    Returns:
        float32 tensor of the same shape whose values are multiples of ``1 / 255``.

    Example:
        >>> import numpy as np
        >>> to_8bit_levels(np.array([0.0, 0.5, 1.2, 0.9981])) * 255
        tensor([  0., 128., 255., 255.])
    """
    values = image.numpy(force=True) if isinstance(image, torch.Tensor) else np.asarray(image)
    levels = np.rint(np.clip(values, 0.0, 1.0) * LEVELS).astype(np.float32)
    return torch.from_numpy(levels / np.float32(LEVELS))
