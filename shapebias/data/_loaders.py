"""Loaders for datasets already on disk: CIFAR-10, Tiny ImageNet-200, Caltech-256, ImageFolder.

None of them downloads anything. A missing or misplaced file raises
:class:`FileNotFoundError` naming it and the expected layout.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shapebias._images import IMAGE_EXTENSIONS, image_files
from shapebias._seeds import derive_seed
from shapebias._validation import (
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_open_unit,
)
from shapebias.data._datasets import ImageArrayDataset, ImageFileDataset, Transform

__all__ = ["IMAGE_EXTENSIONS", "caltech256", "cifar10", "image_folder", "tiny_imagenet"]


_CIFAR_LAYOUT = (
    "cifar-10-batches-py/ with data_batch_1 ... data_batch_5, test_batch and batches.meta "
    "(the 'CIFAR-10 python version' archive, as torchvision's CIFAR10 unpacks it)"
)
_TINY_LAYOUT = (
    "tiny-imagenet-200/ with wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG "
    "and val/val_annotations.txt (the unpacked tiny-imagenet-200.zip)"
)
_CALTECH_LAYOUT = (
    "256_ObjectCategories/ with one folder per class named like 001.ak47/ holding its .jpg "
    "files (the unpacked 256_ObjectCategories.tar)"
)
_FOLDER_LAYOUT = "root/<class name>/<image files> (one sub-folder per class, as ImageFolder)"


def _require(path: Path, layout: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist. Expected layout: {layout}. shapebias never downloads "
            "data: download and unpack the dataset yourself, then pass its folder as root."
        )
    return path


def _dataset_dir(root: Any, name: str, layout: str) -> Path:
    """``root/name`` or ``root`` itself when it already is that folder."""
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a str or os.PathLike, got {type(root).__name__}.")
    root = _require(Path(root).expanduser(), layout)
    return root if root.name == name else _require(root / name, layout)


def _check_transform(transform: Any) -> Transform | None:
    return None if transform is None else check_callable(transform, "transform")


def _read_pickle(path: Path) -> dict[Any, Any]:
    with open(_require(path, _CIFAR_LAYOUT), "rb") as file:
        try:
            content = pickle.load(file, encoding="latin1")
        except Exception as error:  # truncated or not a pickle: no common error type
            raise ValueError(
                f"{path} is not a readable CIFAR-10 batch ({type(error).__name__}: {error}); "
                f"a truncated or damaged download? Expected {_CIFAR_LAYOUT}."
            ) from error
    if not isinstance(content, dict):
        raise ValueError(f"{path} does not hold a CIFAR-10 batch dict; expected {_CIFAR_LAYOUT}.")
    return content


def cifar10(
    root: str | os.PathLike, *, train: bool = True, transform: Transform | None = None
) -> ImageArrayDataset:
    """CIFAR-10 from the python-pickle batches on disk (the files torchvision downloads).

    Reads the batches directly (no checksum, no download); all 50 000 (or 10 000) images
    are held in memory as ``uint8`` (150 MB for train).

    Args:
        root: the folder holding ``cifar-10-batches-py/`` (torchvision's ``root``), or
            that folder itself.
        train: the five training batches if ``True``, else ``test_batch``.
        transform: optional callable applied to each image tensor.

    Returns:
        ImageArrayDataset: items ``(image, label)``, image float32 ``(3, 32, 32)`` in
        ``[0, 1]``; ``.classes`` holds the names from ``batches.meta``.

    Shape:
        Items: image ``(3, 32, 32)`` (before ``transform``), label an int.

    Raises:
        FileNotFoundError: a missing folder or batch file (named in the message).
        ValueError: a batch file that is not a CIFAR-10 batch.

    Example:
        >>> from shapebias.data import cifar10
        >>> test_set = cifar10("~/data", train=False)  # doctest: +SKIP
    """
    check_bool(train, "train")
    folder = _dataset_dir(root, "cifar-10-batches-py", _CIFAR_LAYOUT)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    transform = _check_transform(transform)
    classes = _read_pickle(folder / "batches.meta").get("label_names")
    batches = [_read_pickle(folder / name) for name in names]
    try:
        data = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches])
        targets = [int(label) for b in batches for label in b["labels"]]
        images = torch.from_numpy(data.reshape(-1, 3, 32, 32))
    except (KeyError, ValueError) as error:
        raise ValueError(
            f"the CIFAR-10 batches in {folder} must hold 'data' (N x 3072 uint8) and "
            f"'labels'; got {error!r}. Expected {_CIFAR_LAYOUT}."
        ) from error
    if classes is None or len(images) != len(targets):
        raise ValueError(f"{folder} has inconsistent CIFAR-10 batches; expected {_CIFAR_LAYOUT}.")
    return ImageArrayDataset(images, targets, classes, transform)


def tiny_imagenet(
    root: str | os.PathLike, *, split: str = "train", transform: Transform | None = None
) -> ImageFileDataset:
    """Tiny ImageNet-200 from its unpacked folder: ``train`` or ``val`` (200 classes, 64x64).

    Labels index the sorted WordNet ids of ``wnids.txt`` (the order ImageFolder gives
    the ``train`` folders), so train and val labels agree. ``val`` labels come from
    ``val/val_annotations.txt``. The official ``test`` split has no labels and is not
    offered.

    Args:
        root: the ``tiny-imagenet-200`` folder or the folder holding it.
        split: ``"train"`` (100 000 images) or ``"val"`` (10 000 images).
        transform: optional callable applied to each image tensor.

    Returns:
        ImageFileDataset: items ``(image, label)``; ``.classes`` holds the WordNet ids.
        Some Tiny ImageNet images are grayscale; they are converted to RGB.

    Shape:
        Items: image ``(3, 64, 64)`` (before ``transform``), label an int.

    Raises:
        FileNotFoundError: a missing file or folder (named in the message).
        ValueError: an annotation naming an unknown WordNet id.

    Example:
        >>> from shapebias.data import tiny_imagenet
        >>> val = tiny_imagenet("~/data/tiny-imagenet-200", split="val")  # doctest: +SKIP
    """
    check_choice(split, "split", ("train", "val"))
    transform = _check_transform(transform)
    folder = _dataset_dir(root, "tiny-imagenet-200", _TINY_LAYOUT)
    classes = sorted(_require(folder / "wnids.txt", _TINY_LAYOUT).read_text().split())
    index = {wnid: i for i, wnid in enumerate(classes)}
    if split == "train":
        samples = [
            (path, index[wnid])
            for wnid in classes
            for path in image_files(
                _require(folder / "train" / wnid / "images", _TINY_LAYOUT),
                (".jpeg",),
                recursive=True,
            )
        ]
    else:
        samples = _tiny_val_samples(folder, index)
    return ImageFileDataset(samples, classes, transform)


def _tiny_val_samples(folder: Path, index: dict[str, int]) -> list[tuple[Path, int]]:
    annotations = _require(folder / "val" / "val_annotations.txt", _TINY_LAYOUT)
    images = _require(folder / "val" / "images", _TINY_LAYOUT)
    samples = []
    for number, line in enumerate(annotations.read_text().splitlines(), start=1):
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) < 2 or fields[1] not in index:
            raise ValueError(
                f"{annotations} line {number} must read '<file>\\t<wnid>\\t...' with a wnid "
                f"from wnids.txt, got {line!r}."
            )
        samples.append((_require(images / fields[0], _TINY_LAYOUT), index[fields[1]]))
    return samples


def caltech256(
    root: str | os.PathLike,
    *,
    split: str = "train",
    test_fraction: float = 0.2,
    seed: int = 0,
    include_clutter: bool = True,
    transform: Transform | None = None,
) -> ImageFileDataset:
    """Caltech-256 with a seeded, stratified train/test split.

    Caltech-256 ships without a split. Each class's files (sorted by name) are permuted
    by a generator seeded with ``derive_seed(seed, "caltech256", class index)``, and the
    first ``round(test_fraction * n)`` (at least 1, at most ``n - 1``) go to ``test``, the
    rest to ``train``; so the split is reproducible, every class is in both parts,
    and the two parts never overlap.

    Labels follow the sorted folder names: ``001.ak47`` is 0, ..., ``257.clutter`` 256.

    Args:
        root: the ``256_ObjectCategories`` folder or the folder holding it.
        split: ``"train"`` or ``"test"``.
        test_fraction: share of each class held out for ``test``, in ``(0, 1)``.
        seed: seed of the split.
        include_clutter: keep the ``257.clutter`` background class (torchvision does).
        transform: optional callable applied to each image tensor; the images vary in
            size, so resize here (e.g. ``torchvision.transforms.v2.Resize((224, 224))``)
            before batching.

    Returns:
        ImageFileDataset: items ``(image, label)``; ``.classes`` holds the folder names.

    Shape:
        Items: image ``(3, H, W)``, each file's own size (before ``transform``).

    Raises:
        FileNotFoundError: the folder is missing or holds no class folders.
        ValueError: a class folder with fewer than 2 images (it cannot be split).

    Example:
        >>> from shapebias.data import caltech256
        >>> train = caltech256("~/data", split="train", seed=0)  # doctest: +SKIP
    """
    check_choice(split, "split", ("train", "test"))
    check_open_unit(test_fraction, "test_fraction")
    check_bool(include_clutter, "include_clutter")
    check_int(seed, "seed", low=0)
    transform = _check_transform(transform)
    folder = _dataset_dir(root, "256_ObjectCategories", _CALTECH_LAYOUT)
    class_dirs = _class_dirs(folder, _CALTECH_LAYOUT)
    if not include_clutter:
        class_dirs = [d for d in class_dirs if not d.name.endswith(".clutter")]
    samples = []
    for label, class_dir in enumerate(class_dirs):
        files = image_files(class_dir, (".jpg", ".jpeg"), recursive=True)
        if len(files) < 2:
            raise ValueError(
                f"{class_dir} holds {len(files)} .jpg images; a class needs at least 2 to be "
                "split into train and test."
            )
        rng = np.random.default_rng(derive_seed(seed, "caltech256", label))
        order = rng.permutation(len(files))
        num_test = min(max(round(test_fraction * len(files)), 1), len(files) - 1)
        chosen = order[:num_test] if split == "test" else order[num_test:]
        samples += [(files[i], label) for i in sorted(chosen)]
    return ImageFileDataset(samples, [d.name for d in class_dirs], transform)


def _class_dirs(folder: Path, layout: str) -> list[Path]:
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise FileNotFoundError(f"{folder} holds no class folders. Expected layout: {layout}.")
    return class_dirs


def image_folder(
    root: str | os.PathLike,
    *,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    transform: Transform | None = None,
) -> ImageFileDataset:
    """Any folder of class sub-folders, as :class:`torchvision.datasets.ImageFolder` reads it.

    Classes are the sorted sub-folder names; images are found recursively in each and
    decoded by the package's one image reader (RGB float32 in ``[0, 1]``: ``v / 255``,
    16-bit files ``v / 65535``; a file it cannot read is named in a ValueError).

    Args:
        root: the folder holding one sub-folder per class.
        extensions: accepted file endings, case-insensitive.
        transform: optional callable applied to each image tensor.

    Returns:
        ImageFileDataset: items ``(image, label)``; ``.classes`` holds the folder names.

    Shape:
        Items: image ``(3, H, W)``, each file's own size (before ``transform``).

    Raises:
        FileNotFoundError: ``root`` is missing, holds no class folders, or a class folder
            holds no image.

    Example:
        >>> from shapebias.data import image_folder
        >>> data = image_folder("~/data/my_images")  # doctest: +SKIP
    """
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a str or os.PathLike, got {type(root).__name__}.")
    transform = _check_transform(transform)
    folder = _require(Path(root).expanduser(), _FOLDER_LAYOUT)
    class_dirs = _class_dirs(folder, _FOLDER_LAYOUT)
    samples = []
    for label, class_dir in enumerate(class_dirs):
        files = image_files(class_dir, extensions, recursive=True)
        if not files:
            raise FileNotFoundError(
                f"class folder {class_dir} holds no image with an ending in {tuple(extensions)}. "
                f"Expected layout: {_FOLDER_LAYOUT}."
            )
        samples += [(path, label) for path in files]
    return ImageFileDataset(samples, [d.name for d in class_dirs], transform)
