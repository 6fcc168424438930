"""Tests for ShapeTextureDataset: items, determinism, labels, split statistics, contrast."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.path import Path as PolygonPath
from scipy.ndimage import gaussian_filter
from torch.utils.data import DataLoader

from shapebias.data import (
    DEFAULT_TEXTURE_CONTRAST,
    SHAPES,
    SPLITS,
    TEXTURES,
    ShapeTextureDataset,
)
from shapebias.data._shapes import shape_mask


def _dataset(split: str, **kwargs) -> ShapeTextureDataset:
    kwargs.setdefault("size", 64)
    return ShapeTextureDataset(split, **kwargs)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("image_size", [16, 32, 48])
def test_items_are_float_images_in_unit_range_with_int_labels(split, image_size):
    data = _dataset(split, num_classes=5, image_size=image_size)
    for index in range(12):
        image, *labels = data[index]
        assert image.dtype == torch.float32
        assert image.shape == (3, image_size, image_size)
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
        assert len(labels) == (2 if split == "cue_conflict" else 1)
        assert all(isinstance(label, int) and 0 <= label < 5 for label in labels)


def test_default_collate_gives_float_images_and_int64_labels():
    images, shapes, textures = next(iter(DataLoader(_dataset("cue_conflict"), batch_size=8)))
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.float32
    assert shapes.dtype == textures.dtype == torch.int64


def test_items_depend_only_on_seed_split_and_index():
    data = _dataset("train", size=30)
    again = _dataset("train", size=30)
    order = list(range(29, -1, -1))
    loader = DataLoader(data, batch_size=4, sampler=order, num_workers=2)
    batches = torch.cat([images for images, _ in loader])
    for position, index in enumerate(order):
        assert torch.equal(batches[position], again[index][0])
    assert torch.equal(data[3][0], data[-27][0])
    for index in (np.int64(5), torch.tensor(5), -25):
        image, label = data[index]
        assert torch.equal(image, data[5][0]) and label == data[5][1]
        assert type(label) is int and data.spec(index) == data.spec(5)


def test_splits_and_seeds_give_different_items():
    reference = _dataset("train")
    for other in [_dataset("test"), _dataset("shape_only"), _dataset("train", seed=1)]:
        for index in range(10):
            assert not torch.equal(reference[index][0], other[index][0])


def test_labels_are_balanced_by_index():
    data = _dataset("train", num_classes=4, size=40)
    assert [data[i][1] for i in range(8)] == [0, 1, 2, 3, 0, 1, 2, 3]


@pytest.mark.parametrize("num_classes", [2, 3, 10, 12])
def test_cue_conflict_items_cover_every_ordered_pair_of_different_classes(num_classes):
    pairs = num_classes * (num_classes - 1)
    data = _dataset("cue_conflict", num_classes=num_classes, size=pairs)
    specs = [data.spec(i) for i in range(pairs)]
    assert {(s.shape_class, s.texture_class) for s in specs} == {
        (a, b) for a in range(num_classes) for b in range(num_classes) if a != b
    }
    for spec in specs:
        assert spec.shape == SHAPES[spec.shape_class]
        assert spec.fill_texture == TEXTURES[spec.texture_class]
        assert spec.background_texture not in {
            TEXTURES[spec.shape_class],
            TEXTURES[spec.texture_class],
        }
    labels = [data[i][1:] for i in range(pairs)]
    assert labels == [(s.shape_class, s.texture_class) for s in specs]


@pytest.mark.parametrize("correlation", [0.0, 0.3, 1.0])
def test_train_fill_texture_is_the_class_texture_with_the_given_probability(correlation):
    data = _dataset("train", num_classes=10, texture_correlation=correlation, size=3000)
    specs = [data.spec(i) for i in range(3000)]
    own = np.mean([s.fill_texture == TEXTURES[s.shape_class] for s in specs])
    assert abs(own - correlation) < 4 * np.sqrt(correlation * (1 - correlation) / 3000) + 1e-9
    others = [s.fill_texture for s in specs if s.fill_texture != TEXTURES[s.shape_class]]
    if correlation < 1:
        assert set(others) == set(TEXTURES)  # every other family shows up, unassigned ones too
    for spec in specs:
        assert spec.background_texture not in {spec.fill_texture, TEXTURES[spec.shape_class]}
        expected = TEXTURES.index(spec.fill_texture)
        assert spec.texture_class == (expected if expected < 10 else None)


def test_shape_only_fill_texture_is_independent_of_the_class():
    data = _dataset("shape_only", num_classes=4, size=4800)
    specs = [data.spec(i) for i in range(4800)]
    for label in range(4):
        fills = [s.fill_texture for s in specs if s.shape_class == label]
        counts = np.array([fills.count(t) for t in TEXTURES])
        expected = len(fills) / len(TEXTURES)
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 40  # 11 degrees of freedom: p < 1e-4


def test_texture_only_images_have_no_outline_and_the_class_texture():
    data = _dataset("texture_only", num_classes=6)
    for index in range(12):
        spec = data.spec(index)
        assert spec.shape is None and spec.background_texture is None
        assert spec.fill_texture == TEXTURES[index % 6]


def test_geometry_stays_inside_the_image_and_in_the_documented_ranges():
    data = _dataset("train", size=500, image_size=40)
    for spec in (data.spec(i) for i in range(500)):
        assert 0.28 * 40 <= spec.radius <= 0.45 * 40
        assert all(spec.radius <= c <= 40 - spec.radius for c in spec.centre)
        assert 0 <= spec.rotation < 2 * np.pi
        assert all(0.2 <= c <= 0.8 for c in spec.fill_colour + spec.background_colour)


def test_zero_contrast_image_is_exactly_the_two_colours_blended_by_the_shape_mask():
    data = _dataset("shape_only", texture_contrast=0.0, image_size=24)
    for index in range(6):
        spec, image = data.spec(index), data[index][0]
        ys, xs = np.mgrid[0:24, 0:24].astype(np.float64) + 0.5
        mask = shape_mask(
            spec.shape, xs.ravel(), ys.ravel(), spec.centre, spec.radius, spec.rotation
        )
        mask = torch.from_numpy(mask.reshape(24, 24))
        fill = torch.tensor(spec.fill_colour, dtype=torch.float64).view(3, 1, 1)
        background = torch.tensor(spec.background_colour, dtype=torch.float64).view(3, 1, 1)
        blend = background + mask * (fill - background)  # float64, as the dataset renders
        levels = (blend * 255).round()  # then rounded to 8-bit levels, as real images are
        assert image.dtype == torch.float32
        assert torch.equal(image, (levels.float() / 255))
        assert torch.equal(image * 255, (image * 255).round())


def _polygon_coverage(vertices, centre, radius, rotation, size, supersample=8):
    """Slow reference: share of supersampled points of each pixel inside the polygon."""
    cos, sin = np.cos(rotation), np.sin(rotation)
    to_pixels = radius * np.array([[cos, sin], [-sin, cos]])
    polygon = PolygonPath(np.asarray(vertices) @ to_pixels + np.asarray(centre))
    offsets = (np.arange(supersample) + 0.5) / supersample
    ys, xs = np.meshgrid(
        (np.arange(size)[:, None] + offsets).ravel(), (np.arange(size)[:, None] + offsets).ravel()
    )
    inside = polygon.contains_points(np.stack([xs.T.ravel(), ys.T.ravel()], axis=1))
    return inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


def _star_vertices(points=5, outer=1.0, inner=0.45):
    angles = np.pi / 2 + np.pi * np.arange(2 * points) / points
    radii = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


@pytest.mark.parametrize(
    ("name", "vertices"),
    [
        ("square", [(-0.68, -0.68), (0.68, -0.68), (0.68, 0.68), (-0.68, 0.68)]),
        ("triangle", [(0.0, 1.0), (-0.866, -0.5), (0.866, -0.5)]),
        ("star", _star_vertices()),
    ],
)
def test_shape_mask_matches_supersampled_polygon_coverage(name, vertices):
    size, centre, radius, rotation = 32, (15.3, 16.8), 12.5, 0.7
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    mask = shape_mask(name, xs.ravel(), ys.ravel(), centre, radius, rotation).reshape(size, size)
    reference = _polygon_coverage(vertices, centre, radius, rotation, size)
    assert np.abs(mask - reference).mean() < 0.01
    assert np.abs(mask - reference).max() < 0.3
    assert abs(mask.sum() - reference.sum()) < 0.02 * reference.sum()


def test_shape_mask_is_antialiased_and_rotation_invariant_in_area():
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32) + 0.5
    areas = []
    for name in SHAPES:
        for rotation in (0.0, 1.1, 2.5):
            mask = shape_mask(name, xs.ravel(), ys.ravel(), (32.0, 32.0), 28.0, rotation)
            assert ((mask > 0) & (mask < 1)).any()
            areas.append((name, mask.sum()))
    for name in SHAPES:
        values = [area for n, area in areas if n == name]
        assert max(values) - min(values) < 0.03 * max(values)


def _highpass_std(images: torch.Tensor, sigma: float) -> float:
    stds = [
        np.std(channel - gaussian_filter(channel, sigma, mode="reflect"))
        for channel in images.double().numpy().reshape(-1, *images.shape[-2:])
    ]
    return float(np.mean(stds))


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("contrast", [DEFAULT_TEXTURE_CONTRAST, 0.02])
def test_every_texture_family_has_the_requested_highpass_contrast(image_size, contrast):
    data = ShapeTextureDataset(
        "texture_only",
        num_classes=12,
        image_size=image_size,
        texture_contrast=contrast,
        size=12 * 8,
    )
    for label, family in enumerate(TEXTURES):
        images = torch.stack([data[label + 12 * k][0] for k in range(8)])
        measured = _highpass_std(images, image_size / 16)
        assert measured == pytest.approx(contrast, rel=0.2), family


def test_default_texture_contrast_lies_in_the_measured_range_of_real_textures():
    """Recompute the documented measurement: skimage textures at 64x64, sigma-2 high-pass."""
    from skimage import data
    from skimage.transform import resize

    measured = {}
    for name in ("brick", "grass", "gravel"):
        image = resize(getattr(data, name)() / 255.0, (64, 64), anti_aliasing=True)
        measured[name] = np.std(image - gaussian_filter(image, 2, mode="reflect"))
    assert {k: round(v, 3) for k, v in measured.items()} == {
        "brick": 0.054,
        "grass": 0.055,
        "gravel": 0.066,
    }
    assert min(measured.values()) <= DEFAULT_TEXTURE_CONTRAST <= max(measured.values())


def test_transform_is_applied_to_the_image():
    data = _dataset("cue_conflict", transform=lambda image: image.mean())
    value, shape_label, texture_label = data[0]
    assert value.shape == () and shape_label != texture_label


@given(
    split=st.sampled_from(SPLITS),
    num_classes=st.integers(2, 12),
    seed=st.integers(0, 2**32),
    index=st.integers(0, 999),
    correlation=st.floats(0, 1),
)
def test_items_have_valid_labels_and_are_reproducible(split, num_classes, seed, index, correlation):
    kwargs = {"num_classes": num_classes, "seed": seed, "size": 1000}
    data = ShapeTextureDataset(split, texture_correlation=correlation, **kwargs)
    image, *labels = data[index]
    assert float(image.min()) >= 0 and float(image.max()) <= 1
    assert all(0 <= label < num_classes for label in labels)
    if split == "cue_conflict":
        assert labels[0] != labels[1]
    again = ShapeTextureDataset(split, texture_correlation=correlation, **kwargs)[index]
    assert torch.equal(image, again[0]) and labels == list(again[1:])


def test_class_assignment_and_repr():
    data = _dataset("train", num_classes=3)
    assert data.class_shapes == ("circle", "square", "triangle")
    assert data.class_textures == ("stripes", "checks", "dots")
    assert len(SHAPES) >= 10 and len(TEXTURES) >= 10
    assert "num_classes=3" in repr(data) and len(data) == 64
    assert len(ShapeTextureDataset("train")) == 10_000


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"split": "val"}, ValueError, "split must be one of"),
        ({"num_classes": 1}, ValueError, "num_classes must be >= 2"),
        ({"num_classes": 13}, ValueError, "num_classes must be at most 12"),
        ({"num_classes": 4.0}, TypeError, "num_classes must be an int"),
        ({"texture_correlation": 1.5}, ValueError, "texture_correlation must be"),
        ({"texture_correlation": -0.1}, ValueError, "texture_correlation must be"),
        ({"texture_correlation": "high"}, TypeError, "texture_correlation must be a real"),
        ({"texture_contrast": -0.01}, ValueError, "texture_contrast must be"),
        ({"image_size": 8}, ValueError, "image_size must be >= 16"),
        ({"size": 0}, ValueError, "size must be >= 1"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"transform": 3}, TypeError, "transform must be callable"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    kwargs = {"split": "train", **kwargs}
    with pytest.raises(error, match=match):
        ShapeTextureDataset(kwargs.pop("split"), **kwargs)


def test_bad_indices_raise():
    data = _dataset("train", size=5)
    with pytest.raises(IndexError, match=r"index must be in \[-5, 5\)"):
        data[5]
    with pytest.raises(TypeError, match="index must be an int"):
        data[1.0]


def test_preview_returns_a_figure_with_titled_images():
    import matplotlib.pyplot as plt

    figure = _dataset("cue_conflict", num_classes=4).preview(6, columns=4)
    try:
        images = [axis for axis in figure.axes if axis.images]
        assert len(images) == 6
        assert images[0].get_title() == "circle / checks"
    finally:
        plt.close(figure)
    with pytest.raises(ValueError, match="num_images must be >= 1"):
        _dataset("train").preview(0)


def test_preview_without_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"shapebias\[plot\]"):
        _dataset("train").preview(2)


def test_axes_table_matches_the_constructor():
    import inspect

    from shapebias.data import SHAPE_TEXTURE_AXES

    parameters = inspect.signature(ShapeTextureDataset).parameters
    for axis in SHAPE_TEXTURE_AXES:
        assert parameters[axis.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[axis.name].default == axis.default, axis.name
        assert axis.help
