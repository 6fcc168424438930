"""Cue-conflict images (Geirhos et al. 2019): shape of one class, texture of another."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from shapebias._validation import (
    check_bool,
    check_choice,
    check_generator,
    check_images,
    check_labels,
)
from shapebias.distortions._stylize import stylize

__all__ = ["CueConflict", "cue_conflict"]


class CueConflict(NamedTuple):
    """A cue-conflict batch; unpacks as ``images, shape_labels, texture_labels``."""

    images: torch.Tensor
    shape_labels: torch.Tensor
    texture_labels: torch.Tensor


def _random_partners(
    shape_labels: torch.Tensor,
    texture_labels: torch.Tensor,
    drop_same_class: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """For each shape image, a texture index drawn uniformly (among other classes)."""
    weights = torch.ones(len(shape_labels), len(texture_labels), device=shape_labels.device)
    if drop_same_class:
        weights = (shape_labels[:, None] != texture_labels[None, :]).float()
        alone = (weights.sum(1) == 0).nonzero().flatten().tolist()
        if alone:
            raise ValueError(
                f"shape images {alone[:5]} have no texture image of a different class; add "
                "texture images of other classes or pass drop_same_class=False."
            )
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


def cue_conflict(
    shape_images: torch.Tensor,
    texture_images: torch.Tensor,
    shape_labels: torch.Tensor,
    texture_labels: torch.Tensor,
    *,
    pairing: str = "random",
    drop_same_class: bool = True,
    generator: torch.Generator | None = None,
    **stylize_options: Any,
) -> CueConflict:
    """Stylise shape images with texture images, keeping both labels.

    Pairing:

    - ``"random"``: each shape image gets a texture image drawn uniformly from
      ``generator``; with ``drop_same_class`` only among textures of another class.
    - ``"zip"``: shape image ``i`` with texture image ``i`` (equal batch sizes); with
      ``drop_same_class`` pairs of the same class are dropped, so fewer images return.

    Geirhos et al. compute the shape bias only on images whose two cues differ; keep
    ``drop_same_class=True`` for that.

    Args:
        shape_images: ``(N, C, H, W)`` images giving the shape, in ``[0, 1]``.
        texture_images: ``(M, C, H', W')`` images giving the texture (style).
        shape_labels: ``(N,)`` int64 classes of the shape images.
        texture_labels: ``(M,)`` int64 classes of the texture images.
        pairing: ``"random"`` or ``"zip"``.
        drop_same_class: avoid (``"random"``) or drop (``"zip"``) same-class pairs.
        generator: draws the pairs and is passed on to :func:`stylize`.
        **stylize_options: ``method``, ``alpha``, ``adain``, ``steps``, ``content_weight``
            of :func:`stylize` (default ``method="fourier"``).

    Returns:
        :class:`CueConflict` ``(images, shape_labels, texture_labels)``.

    Shape:
        ``shape_images (N, C, H, W)``, ``texture_images (M, C, H', W')`` ->
        ``images (N', C, H, W)``, labels ``(N',)``; ``N' = N`` except for ``"zip"`` with
        ``drop_same_class``.

    Raises:
        ValueError: mismatched batch sizes for ``"zip"``, a shape image with no texture
            of another class, bad labels, or anything :func:`stylize` rejects.
        TypeError: an unknown keyword in ``stylize_options``.

    Example:
        >>> import torch
        >>> from shapebias.distortions import cue_conflict
        >>> shapes, textures = torch.rand(4, 3, 16, 16), torch.rand(3, 3, 16, 16)
        >>> images, shape_y, texture_y = cue_conflict(
        ...     shapes, textures, torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 2]),
        ...     generator=torch.Generator().manual_seed(0))
        >>> bool((shape_y != texture_y).all()), images.shape
        (True, torch.Size([4, 3, 16, 16]))

    References:
        Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing shape
        bias improves accuracy and robustness", ICLR 2019.
    """
    check_images(shape_images, "shape_images")
    check_images(texture_images, "texture_images")
    check_labels(shape_labels, shape_images, "shape_labels")
    check_labels(texture_labels, texture_images, "texture_labels")
    check_generator(generator, shape_images)
    check_bool(drop_same_class, "drop_same_class")
    pairing = check_choice(pairing, "pairing", ("random", "zip"))
    if pairing == "zip":
        if len(shape_images) != len(texture_images):
            raise ValueError(
                f"pairing='zip' needs as many texture images as shape images, got "
                f"{len(texture_images)} and {len(shape_images)}; use pairing='random'."
            )
        keep = shape_labels != texture_labels if drop_same_class else slice(None)
        shape_images, shape_labels = shape_images[keep], shape_labels[keep]
        texture_images, texture_labels = texture_images[keep], texture_labels[keep]
    else:
        partners = _random_partners(shape_labels, texture_labels, drop_same_class, generator)
        texture_images, texture_labels = texture_images[partners], texture_labels[partners]
    if len(shape_images) == 0:
        empty = shape_images.new_empty((0, *shape_images.shape[1:]))
        return CueConflict(empty, shape_labels, texture_labels)
    images = stylize(shape_images, texture_images, generator=generator, **stylize_options)
    return CueConflict(images, shape_labels, texture_labels)
