"""Image files: the one reader and the one list of file endings (for data and distortions)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["IMAGE_EXTENSIONS", "image_files", "read_image"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
"""File endings read as images by default (case-insensitive): folders of a dataset
(:func:`shapebias.data.image_folder`) and of style images
(:class:`shapebias.distortions.StyleSource`)."""


def image_files(
    folder: Path, extensions: Sequence[str] = IMAGE_EXTENSIONS, *, recursive: bool = False
) -> list[Path]:
    """The files in ``folder`` (and below it, with ``recursive``) with one of ``extensions``.

    Sorted by path; endings compare case-insensitively. Hidden entries (a name starting
    with ``.``: a notebook's ``.ipynb_checkpoints`` copies, macOS ``._`` files) are not
    images and are skipped, files and folders alike.
    """
    endings = tuple(ending.lower() for ending in extensions)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in candidates
        if p.suffix.lower() in endings
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    )


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """Decode one image file with PIL as RGB: float32 ``(3, H, W)`` in ``[0, 1]`` (``v / 255``).

    Grayscale, palette and RGBA files are converted to RGB (alpha dropped).

    Shape:
        ``(3, H, W)``, the file's height and width.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> from shapebias._images import read_image
        >>> path = os.path.join(tempfile.mkdtemp(), "gray.png")
        >>> Image.fromarray(np.full((2, 3), 255, dtype=np.uint8)).save(path)
        >>> image = read_image(path)
        >>> image.shape, image.dtype, float(image.min())
        (torch.Size([3, 2, 3]), torch.float32, 1.0)
    """
    from PIL import Image

    with Image.open(path) as file:
        array = np.array(file.convert("RGB"))
    return torch.from_numpy(array).permute(2, 0, 1).float().div_(255.0)
