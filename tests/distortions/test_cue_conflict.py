from __future__ import annotations

import pytest
import torch

from shapebias.distortions import CueConflict, cue_conflict, stylize


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def data(n, m):
    shapes, textures = (
        torch.rand(n, 3, 8, 8, generator=gen(1)),
        torch.rand(m, 3, 8, 8, generator=gen(2)),
    )
    return shapes, textures, torch.arange(n) % 3, torch.arange(m) % 3


def test_random_pairing_avoids_same_class_and_is_seeded():
    shapes, textures, shape_y, texture_y = data(12, 6)
    result = cue_conflict(shapes, textures, shape_y, texture_y, generator=gen(3))
    assert isinstance(result, CueConflict)
    images, out_shape_y, out_texture_y = result
    assert images.shape == shapes.shape and torch.equal(out_shape_y, shape_y)
    assert bool((out_shape_y != out_texture_y).all())
    again = cue_conflict(shapes, textures, shape_y, texture_y, generator=gen(3))
    assert torch.equal(again.images, images) and torch.equal(again.texture_labels, out_texture_y)


def test_images_are_stylised_with_the_reported_texture():
    shapes, textures, shape_y, texture_y = data(4, 4)
    texture_y = torch.tensor([10, 11, 12, 13])
    images, _, out_texture_y = cue_conflict(
        shapes, textures, shape_y, texture_y, generator=gen(4), alpha=0.7
    )
    partners = out_texture_y - 10
    torch.testing.assert_close(images, stylize(shapes, textures[partners], alpha=0.7))


def test_zip_pairing_drops_same_class_pairs():
    shapes, textures, shape_y, _ = data(4, 4)
    texture_y = torch.tensor([0, 2, 2, 1])
    images, out_shape_y, out_texture_y = cue_conflict(
        shapes, textures, shape_y, texture_y, pairing="zip"
    )
    assert out_shape_y.tolist() == [1, 0] and out_texture_y.tolist() == [2, 1]
    torch.testing.assert_close(images, stylize(shapes[[1, 3]], textures[[1, 3]]))
    kept = cue_conflict(shapes, textures, shape_y, texture_y, pairing="zip", drop_same_class=False)
    assert len(kept.images) == 4


def test_empty_result_when_every_zip_pair_agrees():
    shapes, textures, labels, _ = data(3, 3)
    images, shape_y, texture_y = cue_conflict(shapes, textures, labels, labels, pairing="zip")
    assert images.shape == (0, 3, 8, 8) and len(shape_y) == len(texture_y) == 0


def test_bad_inputs():
    shapes, textures, shape_y, texture_y = data(4, 3)
    with pytest.raises(ValueError, match="pairing='zip' needs as many texture images"):
        cue_conflict(shapes, textures, shape_y, texture_y, pairing="zip")
    with pytest.raises(ValueError, match="have no texture image of a different class"):
        cue_conflict(shapes, textures[:1], shape_y, texture_y[:1])
    with pytest.raises(ValueError, match=r"texture_labels must have shape \(3,\)"):
        cue_conflict(shapes, textures, shape_y, texture_y[:2])
    with pytest.raises(TypeError, match=r"shape_labels must have dtype torch\.int64"):
        cue_conflict(shapes, textures, shape_y.int(), texture_y)
    with pytest.raises(ValueError, match="pairing must be one of"):
        cue_conflict(shapes, textures, shape_y, texture_y, pairing="all")
    with pytest.raises(TypeError, match="unexpected keyword"):
        cue_conflict(shapes, textures, shape_y, texture_y, strength=1.0)
