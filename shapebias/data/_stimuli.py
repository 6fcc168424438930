"""Geirhos et al.'s stimulus folders: cue-conflict images and out-of-distribution conditions."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torchvision.transforms.v2 import functional as F

from shapebias._images import IMAGE_EXTENSIONS, image_files
from shapebias._validation import check_int
from shapebias.data._categories import CATEGORIES_16
from shapebias.data._datasets import ImageFileDataset, Transform
from shapebias.data._loaders import _check_transform, _require

__all__ = [
    "CueConflictDataset",
    "ood_datasets",
    "stimulus_folder",
    "stimulus_transform",
]

_CUE_LAYOUT = "root/<category>/<shape><i>-<texture><j>.png, e.g. root/cat/cat3-elephant1.png"
_FOLDER_LAYOUT = "root/<category>/<image files>, categories among CATEGORIES_16"
_OOD_LAYOUT = "root/<condition>/<category>/<image files>, e.g. root/stylized/dog/0001.png"
_SESSION_LAYOUT = (
    "root/<dataset>/dnn/session-<k>/<n>_<tag>_dnn_<condition>_<category>_<...>.png, as in "
    "model-vs-human's datasets"
)
_SESSION_CATEGORY = 4  # the category field of a model-vs-human session stimulus name
_CUE_NAME = re.compile(r"(?P<shape>[a-z_]+?)\d+-(?P<texture>[a-z_]+?)\d+")
_SHOWN = 5


def stimulus_transform(size: int = 224) -> Transform:
    """Bring an image to ``size x size`` as Geirhos et al.'s ImageNet models saw it.

    An image already ``size x size`` (the published stimuli are 224 x 224) is returned
    unchanged; any other is resized (antialiased, bilinear) so its short side is
    ``size * 256 / 224`` and centre-cropped to ``size``, the standard ImageNet evaluation
    transform. Normalisation is the model's job (:class:`~shapebias.models.NormalizedModel`).

    Example:
        >>> import torch
        >>> from shapebias.data import stimulus_transform
        >>> stimulus_transform(224)(torch.rand(3, 300, 400)).shape
        torch.Size([3, 224, 224])
    """
    check_int(size, "size", low=1)

    def transform(image: torch.Tensor) -> torch.Tensor:
        if tuple(image.shape[-2:]) == (size, size):
            return image
        resized = F.resize(image, [round(size * 256 / 224)], antialias=True)
        return F.center_crop(resized, [size, size]).clamp_(0, 1)

    return transform


def _composed(size: int | None, transform: Any) -> Transform | None:
    user = _check_transform(transform)
    if size is None:
        return user
    resize = stimulus_transform(size)
    return resize if user is None else (lambda image: user(resize(image)))


def _root(root: Any, layout: str) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a str or os.PathLike, got {type(root).__name__}.")
    folder = _require(Path(root).expanduser(), layout)
    if not folder.is_dir():
        raise NotADirectoryError(f"root {folder} is not a folder. Expected layout: {layout}.")
    return folder


def _check_categories(categories: Any) -> tuple[str, ...]:
    names = tuple(categories) if isinstance(categories, Sequence) else ()
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise TypeError(
            "categories must be a sequence of distinct category names such as CATEGORIES_16, "
            f"got {categories!r}."
        )
    return names


def _subfolders(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _category_dirs(folder: Path, categories: tuple[str, ...], layout: str) -> list[Path]:
    found = _subfolders(folder)
    outside = [d.name for d in found if d.name not in categories]
    if outside:
        raise ValueError(
            f"{folder} holds folders outside the {len(categories)} categories: "
            f"{', '.join(outside[:_SHOWN])}{' ...' if len(outside) > _SHOWN else ''}. "
            f"Expected layout: {layout}. Remove them or pass categories=."
        )
    if not found:
        raise FileNotFoundError(f"{folder} holds no category folders. Expected layout: {layout}.")
    return found


def _files(folder: Path, extensions: Sequence[str], layout: str) -> list[Path]:
    files = image_files(folder, extensions, recursive=True)
    if not files:
        raise FileNotFoundError(
            f"{folder} holds no image with an ending in {tuple(extensions)}. "
            f"Expected layout: {layout}."
        )
    return files


def _offenders(folder: Path, bad: list[str], layout: str) -> ValueError:
    shown = "; ".join(bad[:_SHOWN]) + (f"; ... ({len(bad)} in all)" if len(bad) > _SHOWN else "")
    return ValueError(f"{folder} has file names outside the layout {layout}: {shown}.")


class CueConflictDataset(ImageFileDataset):
    """Cue-conflict images in Geirhos et al.'s layout; items ``(image, shape, texture)``.

    Reads ``root/<category>/<shape><i>-<texture><j>.<ext>`` (the texture-vs-shape
    repository's ``style-transfer-preprocessed-512`` folder): the shape class is the
    folder, which must equal the first name, the texture class the second name. Images
    whose shape and texture agree are kept (``shape_bias`` counts them as excluded).
    Labels index ``categories`` (default :data:`CATEGORIES_16`, the key order of
    :data:`~shapebias.metrics.IMAGENET_16_CLASS_MAP`), so ``shape_bias(model, loader,
    class_map=IMAGENET_16_CLASS_MAP)`` applies Geirhos et al.'s 1000 -> 16 decision rule.

    Args:
        root: the folder of category folders.
        categories: the category names, in label order.
        size: images are brought to ``size x size`` by :func:`stimulus_transform`;
            ``None`` leaves them as read.
        transform: optional callable applied after that, to each ``(3, H, W)`` tensor.
        extensions: accepted file endings, case-insensitive.

    Attributes:
        samples: ``(path, shape_label)`` per image; ``texture_labels``: one per image.
        classes: ``categories``.

    Raises:
        FileNotFoundError: ``root`` missing, or no category folder or image in it.
        ValueError: a folder outside ``categories``; file names outside the layout, a
            first name that is not the folder, or a texture outside ``categories`` (the
            first offenders are listed).

    Example:
        >>> from torch.utils.data import DataLoader
        >>> from shapebias.data import CueConflictDataset
        >>> from shapebias.metrics import IMAGENET_16_CLASS_MAP, shape_bias
        >>> data = CueConflictDataset("stimuli/style-transfer-preprocessed-512")  # doctest: +SKIP
        >>> loader = DataLoader(data, batch_size=64)  # doctest: +SKIP
        >>> result = shape_bias(model, loader, class_map=IMAGENET_16_CLASS_MAP)  # doctest: +SKIP

    References:
        Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing shape
        bias improves accuracy and robustness", ICLR 2019.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        categories: Sequence[str] = CATEGORIES_16,
        size: int | None = 224,
        transform: Transform | None = None,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
    ) -> None:
        names = _check_categories(categories)
        folder = _root(root, _CUE_LAYOUT)
        index = {name: i for i, name in enumerate(names)}
        samples, textures, bad = [], [], []
        for category in _category_dirs(folder, names, _CUE_LAYOUT):
            for path in _files(category, extensions, _CUE_LAYOUT):
                match = _CUE_NAME.fullmatch(path.stem)
                shown = f"{category.name}/{path.name}"
                if match is None:
                    bad.append(f"{shown} (not <shape><i>-<texture><j>)")
                elif match["shape"] != category.name:
                    bad.append(f"{shown} (shape {match['shape']!r} is not its folder)")
                elif match["texture"] not in index:
                    bad.append(f"{shown} (texture {match['texture']!r} outside the categories)")
                else:
                    samples.append((path, index[category.name]))
                    textures.append(index[match["texture"]])
        if bad:
            raise _offenders(folder, bad, _CUE_LAYOUT)
        super().__init__(samples, names, _composed(size, transform))
        self.texture_labels = textures

    def __getitem__(self, index: int) -> tuple[Any, int, int]:  # type: ignore[override]
        image, shape = super().__getitem__(index)
        return image, shape, self.texture_labels[index]


def stimulus_folder(
    root: str | os.PathLike,
    *,
    categories: Sequence[str] = CATEGORIES_16,
    size: int | None = 224,
    transform: Transform | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
) -> ImageFileDataset:
    """A folder of category folders over the 16 categories; items ``(image, label)``.

    ``root/<category>/<image files>`` (found recursively in each category folder), labels
    indexing ``categories`` (default :data:`CATEGORIES_16`) even when some categories have
    no folder, so they match :data:`~shapebias.metrics.IMAGENET_16_CLASS_MAP`'s order.
    One condition of model-vs-human's out-of-distribution sets, or a clean test set.

    Args:
        root: the folder of category folders.
        categories: the category names, in label order.
        size: images are brought to ``size x size`` by :func:`stimulus_transform`;
            ``None`` leaves them as read.
        transform: optional callable applied after that.
        extensions: accepted file endings, case-insensitive.

    Returns:
        ImageFileDataset with ``.classes == categories``.

    Raises:
        FileNotFoundError: ``root`` missing, no category folder, or one without images.
        ValueError: a folder outside ``categories`` (listed).

    Example:
        >>> from shapebias.data import stimulus_folder
        >>> data = stimulus_folder("model-vs-human/datasets/sketch")  # doctest: +SKIP
    """
    names = _check_categories(categories)
    folder = _root(root, _FOLDER_LAYOUT)
    samples = [
        (path, names.index(category.name))
        for category in _category_dirs(folder, names, _FOLDER_LAYOUT)
        for path in _files(category, extensions, _FOLDER_LAYOUT)
    ]
    return ImageFileDataset(samples, names, _composed(size, transform))


def ood_datasets(
    root: str | os.PathLike,
    *,
    categories: Sequence[str] = CATEGORIES_16,
    size: int | None = 224,
    transform: Transform | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
) -> dict[str, ImageFileDataset]:
    """Out-of-distribution conditions, ``root/<condition>/<category>/…``: one dataset each.

    Every sub-folder of ``root`` is a condition (sorted by name), read by
    :func:`stimulus_folder` with the same arguments. A sub-folder in model-vs-human's own
    layout, ``<dataset>/dnn/session-<k>/<n>_<tag>_dnn_<condition>_<category>_...png`` (its
    parametric datasets, sketch and stylized), is read with the category from the fifth
    ``_``-field of each file name, so ``ood_datasets("model-vs-human/datasets")`` reads
    all 17 datasets.

    Returns:
        condition name -> ImageFileDataset of ``(image, label)``.

    Raises:
        FileNotFoundError: ``root`` missing or without condition folders, or a condition
            without images.
        ValueError: a category folder outside ``categories`` (named with its condition), or
            a session stimulus whose name carries no category among them.

    Example:
        >>> from shapebias.data import ood_datasets
        >>> conditions = ood_datasets("my-ood-stimuli")  # doctest: +SKIP
        >>> sorted(conditions)  # doctest: +SKIP
        ['edge', 'silhouette', 'sketch', 'stylized']
    """
    folder = _root(root, _OOD_LAYOUT)
    conditions = _subfolders(folder)
    if not conditions:
        raise FileNotFoundError(f"{folder} holds no condition folders. Expected {_OOD_LAYOUT}.")
    return {
        condition.name: _session_folder(condition, categories, size, transform, extensions)
        if (condition / "dnn").is_dir()
        else stimulus_folder(
            condition, categories=categories, size=size, transform=transform,
            extensions=extensions,
        )
        for condition in conditions
    }  # fmt: skip


def _session_folder(
    folder: Path,
    categories: Sequence[str],
    size: int | None,
    transform: Any,
    extensions: Sequence[str],
) -> ImageFileDataset:
    """model-vs-human's ``<dataset>/dnn/session-<k>/`` stimuli: the category is in the name."""
    names = _check_categories(categories)
    samples, bad = [], []
    for path in _files(folder / "dnn", extensions, _SESSION_LAYOUT):
        fields = path.stem.split("_")
        category = fields[_SESSION_CATEGORY] if len(fields) > _SESSION_CATEGORY else ""
        if category in names:
            samples.append((path, names.index(category)))
        else:
            bad.append(f"{path.relative_to(folder)} (category {category!r})")
    if bad:
        raise _offenders(folder, bad, _SESSION_LAYOUT)
    return ImageFileDataset(samples, names, _composed(size, transform))
