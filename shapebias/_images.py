"""Image files: the one reader and the one list of file endings (for data and distortions)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["IMAGE_EXTENSIONS", "image_files", "read_image", "to_unit_rgb"]

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
    """Decode one image file with PIL as RGB: float32 ``(3, H, W)`` in ``[0, 1]``.

    8-bit files give ``v / 255``. Greyscale (``L``, bilevel ``1``) is repeated over the
    three channels; palette (``P``, ``PA``) files take their palette's colours; ``CMYK``,
    ``YCbCr`` and ``LAB`` are converted by PIL; an alpha channel (``LA``, ``RGBA``,
    ``PA``) is dropped, the colour channels kept as stored. 16-bit greyscale (PIL's
    ``I;16`` modes, and ``I`` images whose values lie in ``[0, 65535]``) gives
    ``v / 65535``; floating-point (``F``) images are taken as they are when they lie in
    ``[0, 1]``. Anything else (32-bit integers beyond 16 bits, floats outside
    ``[0, 1]``) is refused rather than clipped.

    Shape:
        ``(3, H, W)``, the file's height and width.

    Raises:
        FileNotFoundError: ``path`` does not exist (named by the OS error).
        ValueError: the file cannot be decoded (not an image, truncated, damaged) or
            holds values no ``[0, 1]`` conversion is defined for; the message names
            the file.

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

    try:
        with Image.open(path) as file:
            file.load()  # decode now, so a truncated file fails here, named
            mode = file.mode
            array = np.array(file if mode in _AS_STORED else file.convert("RGB"))
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:  # PIL's decoders raise OSError, SyntaxError, ValueError, ...
        detail = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
        raise ValueError(
            f"image file {os.fspath(path)} could not be read ({type(error).__name__}: "
            f"{detail}). Is it truncated, damaged or not an image? Replace or remove it."
        ) from error
    return to_unit_rgb(array, f"image file {os.fspath(path)} (mode {mode})")


# PIL modes read as stored and scaled here, not by PIL's convert("RGB"), which clips
# 16-bit and 32-bit values to 255 (a 16-bit grey image would read as saturated white).
_AS_STORED = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_unit_rgb(array: np.ndarray, source: str) -> torch.Tensor:
    """An image array ``(H, W)`` or ``(H, W, C)`` as float32 RGB ``(3, H, W)`` in ``[0, 1]``.

    ``uint8`` is divided by 255, ``uint16`` by 65535, ``bool`` taken as 0/1; signed
    integers within ``[0, 65535]`` count as 16-bit (PIL's ``I`` mode); floats must
    already lie in ``[0, 1]``. One channel is repeated three times, four or more
    (alpha) are cut to the first three.

    Args:
        array: the decoded pixels.
        source: what they came from, named in errors (``"image file x.png (mode I)"``).

    Raises:
        ValueError: a dtype or value range with no defined conversion, or a shape that
            is not an image.
    """
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise ValueError(f"{source}: expected an image (H, W) or (H, W, C), got {array.shape}.")
    if array.dtype == np.bool_:
        values = torch.from_numpy(array.astype(np.float32))
    elif array.dtype == np.uint8:
        values = torch.from_numpy(array).float().div_(255.0)
    elif array.dtype.kind in "ui":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 65535:
            raise ValueError(
                f"{source}: integer pixels in [{low}, {high}], beyond 16 bits, have no defined "
                "scale to [0, 1]. Save the image with 8 or 16 bits per channel."
            )
        values = torch.from_numpy(array.astype(np.float32)).div_(65535.0)
    elif array.dtype.kind == "f":
        values = torch.from_numpy(array.astype(np.float32))
        least, most = float(values.min()), float(values.max())
        if not (least >= 0.0 and most <= 1.0):  # NaN fails too
            raise ValueError(
                f"{source}: floating-point pixels in [{least:g}, {most:g}], not in [0, 1]; "
                "rescale them to [0, 1] (or save the image with 8 or 16 bits per channel)."
            )
    else:
        raise ValueError(f"{source}: pixels of dtype {array.dtype} have no defined scale.")
    values = values.permute(2, 0, 1)
    if values.shape[0] == 1:
        values = values.expand(3, -1, -1)
    return values[:3].contiguous()
