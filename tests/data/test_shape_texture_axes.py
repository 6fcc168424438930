"""Tests for ShapeTextureDataset's image axes: each one's defining property and its errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from shapebias.data import (
    CALIBRATED_AXES,
    SHAPE_TEXTURE_AXES,
    SHAPES,
    TEXTURES,
    ShapeTextureDataset,
)
from shapebias.data._shapes import deformation_harmonics, shape_mask
from shapebias.data._textures import pixel_grid


def _spectral_peak(image: torch.Tensor) -> float:
    """Radius in cycles per image of the strongest non-DC Fourier component (gray image)."""
    gray = image.double().numpy().mean(axis=0)
    power = np.abs(np.fft.fft2(gray - gray.mean())) ** 2
    frequencies = np.fft.fftfreq(gray.shape[0]) * gray.shape[0]
    radius = np.sqrt(frequencies[:, None] ** 2 + frequencies[None, :] ** 2)
    return float(radius.flat[np.argmax(power)])


def _texture_images(cycles: float, family: str, count: int = 16) -> list[torch.Tensor]:
    label = TEXTURES.index(family)
    data = ShapeTextureDataset(
        "texture_only", num_classes=12, image_size=64, texture_cycles=cycles, size=12 * count
    )
    return [data[label + 12 * k][0] for k in range(count)]


@pytest.mark.parametrize("cycles", [4.0, 8.0, 16.0])
@pytest.mark.parametrize("family", ["stripes", "rings"])
def test_texture_period_shows_as_the_spectral_peak(cycles, family):
    # the period is image_size / cycles times 2**u, u ~ U[-1/4, 1/4]; FFT bins are 1 apart
    low, high = cycles * 2**-0.25 - 1, cycles * 2**0.25 + 1
    peaks = [_spectral_peak(image) for image in _texture_images(cycles, family)]
    assert all(low <= peak <= high for peak in peaks), peaks


@pytest.mark.parametrize("family", ["brick", "mottle", "checks"])
def test_texture_cycles_scales_the_tile_textures_too(family):
    coarse = np.median([_spectral_peak(image) for image in _texture_images(4.0, family)])
    fine = np.median([_spectral_peak(image) for image in _texture_images(8.0, family)])
    assert 1.6 <= fine / coarse <= 2.5


@pytest.mark.parametrize("cycles", [3.0, 10.0])
def test_texture_contrast_holds_at_every_texture_scale(cycles):
    from scipy.ndimage import gaussian_filter

    data = ShapeTextureDataset(
        "texture_only", num_classes=12, texture_cycles=cycles, texture_contrast=0.04, size=96
    )
    for label, family in enumerate(TEXTURES):
        images = torch.stack([data[label + 12 * k][0] for k in range(8)]).double().numpy()
        channels = images.reshape(-1, 32, 32)
        stds = [np.std(c - gaussian_filter(c, 2.0, mode="reflect")) for c in channels]
        assert np.mean(stds) == pytest.approx(0.04, rel=0.2), family


def _zero_contrast(**kwargs) -> ShapeTextureDataset:
    kwargs.setdefault("size", 200)
    return ShapeTextureDataset("shape_only", num_classes=12, texture_contrast=0.0, **kwargs)


def _on_levels(colour: tuple[float, ...]) -> np.ndarray:
    """A flat colour as the dataset stores it: rounded to the 8-bit levels ``k / 255``."""
    return np.round(np.asarray(colour, dtype=np.float64) * 255) / 255


def _object_pixels(data: ShapeTextureDataset, index: int) -> np.ndarray:
    """Pixels whose colour differs from the (flat) background."""
    spec, image = data.spec(index), data[index][0].numpy()
    background = _on_levels(spec.background_colour).astype(np.float32)[:, None, None]
    return np.abs(image - background).max(axis=0) > 0


def _reach(name: str) -> float:
    """Farthest point of a shape from its centre, in units of its radius (drawn at 200 px)."""
    x, y = pixel_grid(512)
    mask = shape_mask(name, x, y, (256.0, 256.0), 200.0, 0.0)
    return float(np.hypot(x - 256, y - 256)[mask > 0].max() / 200.0)


@pytest.mark.parametrize("object_size", [(0.1, 0.2), (0.3, 0.3), (0.4, 0.5)])
def test_object_size_stays_within_its_range(object_size):
    data = _zero_contrast(object_size=object_size, image_size=40)
    ys, xs = np.mgrid[0:40, 0:40] + 0.5
    reach = {name: _reach(name) for name in SHAPES}
    for index in range(data.size):
        spec = data.spec(index)
        assert object_size[0] * 40 <= spec.radius <= object_size[1] * 40
        assert all(spec.radius <= c <= 40 - spec.radius for c in spec.centre)
        drawn = _object_pixels(data, index)
        distance = np.hypot(xs - spec.centre[0], ys - spec.centre[1])
        expected = spec.radius * reach[spec.shape]
        corners_inside = all(  # the farthest point may fall outside the image
            spec.centre[i] - expected >= 0 and spec.centre[i] + expected <= 40 for i in (0, 1)
        )
        assert drawn.any() and distance[drawn].max() <= expected + 1.0
        if corners_inside:
            assert distance[drawn].max() >= expected - 1.5
    if object_size[0] == object_size[1]:
        assert len({data.spec(i).radius for i in range(20)}) == 1


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.minimum(a, b).sum() / np.maximum(a, b).sum())


def test_deformation_warp_weights_sum_to_the_amplitude():
    rng = np.random.default_rng(0)
    for amplitude in (0.05, 0.25):
        harmonics = deformation_harmonics(amplitude, rng)
        assert sum(abs(w) for w in harmonics[::2]) == pytest.approx(amplitude)
        assert all(0 <= phase < 2 * np.pi for phase in harmonics[1::2])


@pytest.mark.parametrize("amplitude", [0.1, 0.2])
def test_deformation_changes_the_outline_but_keeps_its_class_the_nearest(amplitude):
    data = _zero_contrast(shape_deformation=amplitude, image_size=48, size=48)
    x, y = pixel_grid(48)
    rotations = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
    ious = []
    for index in range(data.size):
        spec = data.spec(index)
        deformed = shape_mask(
            spec.shape, x, y, spec.centre, spec.radius, spec.rotation, spec.deformation
        )
        plain = shape_mask(spec.shape, x, y, spec.centre, spec.radius, spec.rotation)
        ious.append(_iou(deformed, plain))
        best = {
            name: max(
                _iou(deformed, shape_mask(name, x, y, spec.centre, spec.radius, r))
                for r in rotations
            )
            for name in SHAPES
        }
        assert max(best, key=best.__getitem__) == spec.shape, (index, best)
        # the outline moves from the centre by a factor in [1 - a, 1 + a] (+- the 1-px ramp)
        distance = np.hypot(x - spec.centre[0], y - spec.centre[1])
        reach, plain_reach = distance[deformed > 0].max(), distance[plain > 0].max()
        assert (1 - amplitude) * (plain_reach - 1) - 1 <= reach <= (1 + amplitude) * plain_reach + 1
    assert np.mean(ious) >= 1 - amplitude  # identifiable: close to the undeformed shape
    assert np.mean(ious) <= 1 - amplitude / 4  # and not a no-op: every outline differs
    assert min(ious) >= 1 - 1.6 * amplitude


def test_deformation_is_drawn_per_item_and_absent_by_default():
    plain = _zero_contrast(size=10)
    assert all(plain.spec(i).deformation is None for i in range(10))
    deformed = _zero_contrast(shape_deformation=0.2, size=10)
    assert len({deformed.spec(i).deformation for i in range(10)}) == 10


def _colour_weights(image: np.ndarray, colours: list[tuple[float, ...]]) -> np.ndarray:
    """Per pixel, the convex weights of three RGB colours that mix to the pixel's colour."""
    matrix = np.asarray(colours, dtype=np.float64).T  # (3 channels, 3 colours)
    return np.linalg.solve(matrix, image.reshape(3, -1).astype(np.float64))


@pytest.mark.parametrize("occlusion", [0.1, 0.3, 0.5])
def test_occlusion_hides_the_stated_share_of_the_object(occlusion):
    data = _zero_contrast(occlusion=occlusion, image_size=32, size=60)
    x, y = pixel_grid(32)
    checked = 0
    for index in range(data.size):
        spec = data.spec(index)
        colours = [
            _on_levels(c) for c in (spec.background_colour, spec.fill_colour, spec.occluder_colour)
        ]
        if np.linalg.cond(np.asarray(colours)) > 20:
            continue  # nearly collinear colours: the mix is not identifiable from RGB
        weights = _colour_weights(data[index][0].numpy(), colours)
        area = shape_mask(spec.shape, x, y, spec.centre, spec.radius, spec.rotation).sum()
        visible = weights[1].sum() / area
        assert visible == pytest.approx(1 - occlusion, abs=0.02), index
        assert weights[2].sum() >= occlusion * area - 0.5  # the occluder covers background too
        checked += 1
    assert checked >= 20


def test_occlusion_is_absent_by_default_and_varies_in_direction():
    assert _zero_contrast(size=1).spec(0).occluder is None
    data = _zero_contrast(occlusion=0.2, size=20)
    angles = [data.spec(i).occluder[0] for i in range(20)]
    assert len(set(angles)) == 20 and np.ptp(angles) > np.pi


@pytest.mark.parametrize("split", ["train", "shape_only", "cue_conflict"])
def test_background_match_gives_the_fill_family_at_the_stated_rate(split):
    everywhere = ShapeTextureDataset(split, num_classes=4, size=40, background_match=1.0)
    assert all(s.background_texture == s.fill_texture for s in map(everywhere.spec, range(40)))
    never = ShapeTextureDataset(split, num_classes=4, size=200)
    assert not any(s.background_texture == s.fill_texture for s in map(never.spec, range(200)))
    half = ShapeTextureDataset(split, num_classes=4, size=400, background_match=0.5)
    matched = sum(s.background_texture == s.fill_texture for s in map(half.spec, range(400)))
    assert 160 <= matched <= 240  # Binomial(400, 0.5): mean 200, sd 10


def test_axes_set_at_their_defaults_give_the_default_images():
    defaults = {axis.name: axis.default for axis in SHAPE_TEXTURE_AXES}
    plain = ShapeTextureDataset("cue_conflict", num_classes=5, size=10)
    explicit = ShapeTextureDataset("cue_conflict", num_classes=5, size=10, **defaults)
    for index in range(10):
        assert torch.equal(plain[index][0], explicit[index][0])
        assert plain.spec(index) == explicit.spec(index)


def test_axes_table_lists_every_image_keyword_and_calibrated_axes_are_valid():
    parameters = inspect.signature(ShapeTextureDataset).parameters
    names = [axis.name for axis in SHAPE_TEXTURE_AXES]
    not_image = {"split", "num_classes", "image_size", "size", "seed", "transform"}
    assert set(names) == set(parameters) - not_image
    for axis in SHAPE_TEXTURE_AXES:
        assert isinstance(axis.default, (bool, int, float, tuple)), axis.name
    assert set(CALIBRATED_AXES) <= set(names)
    data = ShapeTextureDataset("train", num_classes=4, size=4, **CALIBRATED_AXES)
    assert data[0][0].shape == (3, 32, 32)
    text = repr(ShapeTextureDataset("train", size=4, occlusion=0.25, texture_cycles=8))
    assert "occlusion=0.25" in text and "texture_cycles=8" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"occlusion": 1.0}, ValueError, "occlusion must be <= 0.5, got 1.*too little"),
        ({"occlusion": -0.1}, ValueError, "occlusion must be >= 0"),
        ({"occlusion": "half"}, TypeError, "occlusion must be a real"),
        ({"object_size": (0.4, 0.3)}, ValueError, r"object_size must be a non-empty range"),
        ({"object_size": 0.3}, TypeError, r"object_size must be a \(low, high\) pair"),
        ({"object_size": (0.1, 0.2, 0.3)}, TypeError, r"object_size must be a \(low, high\)"),
        ({"object_size": (0.0, 0.3)}, ValueError, r"object_size\[0\] must be > 0"),
        ({"object_size": (0.3, 0.6)}, ValueError, r"object_size\[1\] must be <= 0.5"),
        ({"object_size": (0.05, 0.3)}, ValueError, r"object_size\[0\] \* image_size must be"),
        ({"object_size": ("a", 0.3)}, TypeError, r"object_size\[0\] must be a real"),
        ({"texture_cycles": 0.5}, ValueError, "texture_cycles must be >= 1"),
        ({"texture_cycles": 20}, ValueError, "texture_cycles must be at most image_size / 2"),
        ({"texture_cycles": None}, TypeError, "texture_cycles must be a real"),
        ({"shape_deformation": 0.5}, ValueError, "shape_deformation must be >= 0 and <= 0.25"),
        ({"shape_deformation": True}, TypeError, "shape_deformation must be a real"),
        ({"background_match": 1.5}, ValueError, "background_match must be >= 0 and <= 1"),
        ({"background_match": "all"}, TypeError, "background_match must be a real"),
    ],
)
def test_bad_axis_values_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ShapeTextureDataset("train", **kwargs)
