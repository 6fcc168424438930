"""Tests for the real-data loaders on tiny fake trees made in tmp_path."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from shapebias.data import caltech256, cifar10, image_folder, tiny_imagenet


def _write_image(path, value, size=(8, 6), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, value, value)
    Image.new(mode, size, colour).save(path)


# --------------------------------------------------------------------------- CIFAR-10


def _write_cifar(root, per_batch=3):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        batches[name] = (data, labels)
        with open(folder / name, "wb") as file:
            pickle.dump({"data": data, "labels": labels, "batch_label": name}, file)
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, file)
    return folder, batches


def test_cifar10_reads_the_python_batches(tmp_path):
    folder, batches = _write_cifar(tmp_path)
    train = cifar10(tmp_path)
    test = cifar10(folder, train=False)
    assert len(train) == 15 and len(test) == 3
    assert train.classes[3] == "class3"
    data, labels = batches["data_batch_2"]
    image, label = train[4]  # second item of the second batch
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32)
    expected = torch.from_numpy(data[1].reshape(3, 32, 32).astype(np.float32) / 255)
    torch.testing.assert_close(image, expected)
    assert label == labels[1] and isinstance(label, int)
    assert [test[i][1] for i in range(3)] == batches["test_batch"][1]
    images, targets = next(iter(DataLoader(train, batch_size=15)))
    assert images.shape == (15, 3, 32, 32) and targets.dtype == torch.int64


def test_cifar10_transform(tmp_path):
    _write_cifar(tmp_path)
    assert cifar10(tmp_path, transform=lambda x: x.shape)[0][0] == (3, 32, 32)


def test_cifar10_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py.*Expected layout"):
        cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"does not exist.*never downloads"):
        cifar10(tmp_path / "nowhere")
    folder, _ = _write_cifar(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        cifar10(tmp_path)
    assert len(cifar10(tmp_path, train=False)) == 3


def test_cifar10_wrong_content(tmp_path):
    folder, _ = _write_cifar(tmp_path)
    with open(folder / "test_batch", "wb") as file:
        pickle.dump({"images": []}, file)
    with pytest.raises(ValueError, match="must hold 'data'"):
        cifar10(tmp_path, train=False)
    with open(folder / "test_batch", "wb") as file:
        pickle.dump([1, 2], file)
    with pytest.raises(ValueError, match="does not hold a CIFAR-10 batch"):
        cifar10(tmp_path, train=False)
    with pytest.raises(TypeError, match="root must be a str"):
        cifar10(3)


# --------------------------------------------------------------------------- Tiny ImageNet

_WNIDS = ["n03", "n01", "n02"]  # wnids.txt is not sorted; labels follow the sorted ids


def _write_tiny(root):
    folder = root / "tiny-imagenet-200"
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(_WNIDS) + "\n")
    for wnid in _WNIDS:
        value = 10 * int(wnid[1:])
        for k in range(2):
            _write_image(folder / "train" / wnid / "images" / f"{wnid}_{k}.JPEG", value)
    _write_image(folder / "train" / "n01" / "images" / "n01_gray.JPEG", 10, mode="L")
    lines = []
    for k, wnid in enumerate(["n02", "n03", "n01", "n02"]):
        _write_image(folder / "val" / "images" / f"val_{k}.JPEG", 10 * int(wnid[1:]))
        lines.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t7\t5")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_tiny_imagenet_train_and_val(tmp_path):
    folder = _write_tiny(tmp_path)
    train = tiny_imagenet(tmp_path)
    val = tiny_imagenet(folder, split="val")
    assert train.classes == ["n01", "n02", "n03"]
    assert sorted(train.targets) == [0, 0, 0, 1, 1, 2, 2]
    assert val.targets == [1, 2, 0, 1]
    for dataset in (train, val):
        for image, label in dataset:
            assert image.shape == (3, 6, 8) and image.dtype == torch.float32
            expected = 10 * (label + 1) / 255
            assert abs(float(image.mean()) - expected) < 3 / 255  # JPEG of a flat colour


def test_tiny_imagenet_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tiny-imagenet-200.*wnids.txt"):
        tiny_imagenet(tmp_path)
    folder = _write_tiny(tmp_path)
    (folder / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99\t0\t0\t1\t1\n")
    with pytest.raises(ValueError, match="line 1 must read"):
        tiny_imagenet(folder, split="val")
    (folder / "val" / "val_annotations.txt").write_text("missing.JPEG\tn01\t0\t0\t1\t1\n")
    with pytest.raises(FileNotFoundError, match=r"missing.JPEG"):
        tiny_imagenet(folder, split="val")
    (folder / "val" / "val_annotations.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"val_annotations.txt"):
        tiny_imagenet(folder, split="val")
    with pytest.raises(ValueError, match="split must be one of"):
        tiny_imagenet(folder, split="test")
    for path in (folder / "train" / "n02" / "images").iterdir():
        path.unlink()
    (folder / "train" / "n02" / "images").rmdir()
    with pytest.raises(FileNotFoundError, match=r"n02[/\\]images"):
        tiny_imagenet(folder)


# --------------------------------------------------------------------------- Caltech-256

_CATEGORIES = ["001.ak47", "002.american-flag", "003.backpack", "257.clutter"]


def _write_caltech(root, per_class=10):
    folder = root / "256_ObjectCategories"
    for label, category in enumerate(_CATEGORIES):
        for k in range(per_class):
            number = category.split(".")[0]
            _write_image(folder / category / f"{number}_{k:04d}.jpg", 20 * (label + 1))
    (folder / category / "notes.txt").write_text("not an image")
    return folder


def test_caltech256_split_is_stratified_disjoint_and_seeded(tmp_path):
    folder = _write_caltech(tmp_path)
    train = caltech256(tmp_path, split="train")
    test = caltech256(folder, split="test")
    assert train.classes == _CATEGORIES
    train_paths = {path for path, _ in train.samples}
    test_paths = {path for path, _ in test.samples}
    assert not train_paths & test_paths and len(train_paths | test_paths) == 40
    assert sorted(test.targets) == [0, 0, 1, 1, 2, 2, 3, 3]  # round(0.2 * 10) per class
    again = caltech256(tmp_path, split="test", seed=0)
    assert again.samples == test.samples
    other_seed = caltech256(tmp_path, split="test", seed=1)
    assert other_seed.samples != test.samples
    for image, label in test:
        assert image.shape == (3, 6, 8)
        assert abs(float(image.mean()) - 20 * (label + 1) / 255) < 3 / 255
    assert len(caltech256(tmp_path, split="test", test_fraction=0.5)) == 20


def test_caltech256_without_clutter_and_tiny_classes(tmp_path):
    _write_caltech(tmp_path, per_class=2)
    data = caltech256(tmp_path, include_clutter=False, test_fraction=0.01)
    assert data.classes == _CATEGORIES[:3] and data.targets == [0, 1, 2]  # 1 test image each


def test_caltech256_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"256_ObjectCategories.*001.ak47"):
        caltech256(tmp_path)
    (tmp_path / "256_ObjectCategories").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no class folders"):
        caltech256(tmp_path)
    _write_image(tmp_path / "256_ObjectCategories" / "001.ak47" / "001_0001.jpg", 5)
    with pytest.raises(ValueError, match=r"holds 1 .jpg images"):
        caltech256(tmp_path)
    for fraction in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"test_fraction must lie in \(0, 1\)"):
            caltech256(tmp_path, test_fraction=fraction)
    with pytest.raises(ValueError, match="split must be one of"):
        caltech256(tmp_path, split="val")


# --------------------------------------------------------------------------- ImageFolder


def test_image_folder_reads_class_folders_recursively(tmp_path):
    _write_image(tmp_path / "dog" / "a.png", 100)
    _write_image(tmp_path / "dog" / "nested" / "b.JPG", 100)
    _write_image(tmp_path / "cat" / "c.bmp", 50, mode="L")
    (tmp_path / "cat" / "readme.txt").write_text("ignored")
    data = image_folder(tmp_path, transform=lambda image: image[0, 0, 0])
    assert data.classes == ["cat", "dog"]
    assert data.targets == [0, 1, 1]
    values = [round(float(value) * 255) for value, _ in data]
    assert values[0] == 50 and values[1] == 100 and abs(values[2] - 100) <= 2


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*one sub-folder per class"):
        image_folder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="holds no class folders"):
        image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"class folder .*empty holds no image"):
        image_folder(tmp_path)
    with pytest.raises(TypeError, match="transform must be callable"):
        image_folder(tmp_path, transform="resize")
