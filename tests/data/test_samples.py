"""Tests for sample_images: real scikit-image photographs and textures, offline."""

from __future__ import annotations

import socket

import pytest
import torch

from shapebias.data import SAMPLE_NAMES, sample_images
from shapebias.data._samples import _load


def test_all_samples_load_as_unit_range_rgb_tensors():
    images = sample_images()
    assert tuple(images) == SAMPLE_NAMES
    assert {"astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel"} <= set(images)
    for image in images.values():
        assert image.dtype == torch.float32 and image.ndim == 3 and image.shape[0] == 3
        assert float(image.min()) >= 0 and float(image.max()) <= 1
    assert images["chelsea"].shape == (3, 300, 451)
    assert torch.equal(images["brick"][0], images["brick"][2])  # grayscale repeated


def test_size_crops_to_a_centred_square_and_resizes():
    images = sample_images(48, names=["coffee", "gravel"])
    assert list(images) == ["coffee", "gravel"]
    batch = torch.stack(list(images.values()))
    assert batch.shape == (2, 3, 48, 48)
    assert float(batch.min()) >= 0 and float(batch.max()) <= 1
    full = sample_images(names=["coffee"])["coffee"]  # 400 x 600: crop columns 100..500
    square = full[:, :, 100:500]
    expected = torch.nn.functional.avg_pool2d(square[None], 25)[0]  # 400 / 16 = 25
    resized = sample_images(16, names=["coffee"])["coffee"]
    assert float((resized - expected).abs().mean()) < 0.03  # antialiased bilinear ~ box mean
    off_centre = torch.nn.functional.avg_pool2d(full[None, :, :, :400], 25)[0]
    assert float((resized - off_centre).abs().mean()) > 0.1


def test_returned_tensors_are_fresh_copies():
    first = sample_images(names=["astronaut"])["astronaut"]
    first.zero_()
    assert float(sample_images(names=["astronaut"])["astronaut"].max()) > 0


def test_nothing_is_downloaded(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("sample_images tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    _load.cache_clear()
    assert len(sample_images(8)) == len(SAMPLE_NAMES)


def test_bad_arguments():
    with pytest.raises(ValueError, match="names must be one of"):
        sample_images(names=["lena"])
    with pytest.raises(ValueError, match="size must be >= 1"):
        sample_images(0)
    with pytest.raises(TypeError, match="size must be an int"):
        sample_images(32.0)
