"""Style sources: a fixed set of style images assigned to content images by a generator."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from shapebias._images import IMAGE_EXTENSIONS, image_files, read_image
from shapebias._validation import check_generator, check_images

__all__ = ["StyleSource", "image_size", "resize_images"]


def image_size(images: torch.Tensor) -> tuple[int, int]:
    """``(H, W)`` of images shaped ``(..., H, W)``."""
    height, width = images.shape[-2:]
    return height, width


def resize_images(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize to ``size`` (a no-op when it already matches)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    resized = F.interpolate(images, size=size, mode="bilinear", antialias=True)
    return resized.clamp_(0, 1)


def _read_folder(folder: Path) -> list[torch.Tensor]:
    if not folder.is_dir():
        raise ValueError(f"styles folder {os.fspath(folder)!r} does not exist or is not a folder.")
    files = image_files(folder)
    if not files:
        raise ValueError(
            f"styles folder {os.fspath(folder)!r} holds no image files "
            f"({', '.join(IMAGE_EXTENSIONS)})."
        )
    return [read_image(p) for p in files]


class StyleSource:
    """A set of style images from which each content image gets one, drawn by a generator.

    Args:
        styles: a ``(S, C, H, W)`` tensor in ``[0, 1]``, or a folder of image files (read
            once, sorted by name, as RGB float32).

    Style images are resized (bilinear, antialiased) to the content's size and moved to
    its device and dtype when drawn. Folders are read with the package's one image reader
    and extension list (:data:`shapebias.data.IMAGE_EXTENSIONS`).

    Shape:
        ``draw(like)``: ``like (N, C, H, W) -> (N, C, H, W)``.

    Raises:
        TypeError: ``styles`` is neither a tensor nor a path.
        ValueError: an empty or missing folder, or a tensor breaking the input contract.

    Example:
        >>> import torch
        >>> from shapebias.distortions import StyleSource
        >>> source = StyleSource(torch.rand(5, 3, 16, 16))
        >>> source.draw(torch.rand(2, 3, 8, 8), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(self, styles: torch.Tensor | str | os.PathLike) -> None:
        if isinstance(styles, torch.Tensor):
            check_images(styles, "styles")
            self.images = list(styles.detach().unbind(0))
        elif isinstance(styles, (str, os.PathLike)):
            self.images = _read_folder(Path(styles))
        else:
            raise TypeError(
                "styles must be a (S, C, H, W) tensor or a folder path, "
                f"got {type(styles).__name__}."
            )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"StyleSource({len(self)} images)"

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Indices ``(n,)`` of the styles for ``n`` content images, uniform with replacement."""
        device = generator.device if generator is not None else "cpu"
        return torch.randint(len(self), (n,), generator=generator, device=device).cpu()

    def select(self, indices: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The styles at ``indices`` as a batch with ``like``'s size, device and dtype."""
        channels, size = like.shape[1], image_size(like)
        batch = []
        for index in indices.tolist():
            style = self.images[index].to(device=like.device, dtype=like.dtype)
            if style.shape[0] != channels:
                raise ValueError(
                    f"style image {index} has {style.shape[0]} channels but the content has "
                    f"{channels}."
                )
            batch.append(resize_images(style.unsqueeze(0), size))
        return torch.cat(batch)

    def draw(self, like: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """One style per image of ``like`` (``(N, C, H, W)``), chosen by ``generator``."""
        check_generator(generator, like)
        return self.select(self.sample(like.shape[0], generator=generator), like)
