import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import spearmanr
from skimage import data as skdata
from skimage.feature import canny
from skimage.transform import resize

from shapebias.metrics import concentration, edge_alignment, image_edges, saliency_similarity


def square_images(n=2, channels=3, size=24):
    images = torch.zeros(n, channels, size, size)
    images[:, :, 6:18, 6:18] = 1.0
    return images


def astronaut(size=48):
    picture = resize(skdata.astronaut(), (size, size), anti_aliasing=True)
    return torch.from_numpy(picture).permute(2, 0, 1)[None].float()


# image_edges ---------------------------------------------------------------------------


def test_edges_equal_scikit_image_canny_on_bt601_luminance():
    images = astronaut()
    red, green, blue = images[0].double().numpy()
    expected = canny(0.299 * red + 0.587 * green + 0.114 * blue, sigma=1.5)
    edges = image_edges(images, sigma=1.5)
    assert edges.dtype == torch.bool and edges.shape == (1, 48, 48)
    assert np.array_equal(edges[0].numpy(), expected)
    assert 0 < edges.float().mean() < 0.5


def test_tolerance_widens_edges_by_a_square_neighbourhood():
    images = square_images(1)
    thin = image_edges(images)
    wide = image_edges(images, tolerance=1)
    assert bool((wide | ~thin).all()) and wide.sum() > thin.sum()
    literal = torch.zeros_like(thin)
    for y, x in thin[0].nonzero().tolist():
        literal[0, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = True
    assert torch.equal(wide, literal)


# edge_alignment ------------------------------------------------------------------------


def test_edge_alignment_defining_values():
    images = square_images()
    edges = image_edges(images).float()
    assert edge_alignment(edges, images).tolist() == [1.0, 1.0]
    assert edge_alignment(1.0 - edges, images).tolist() == [0.0, 0.0]
    uniform = edge_alignment(torch.ones(2, 24, 24), images)
    torch.testing.assert_close(uniform, edges.mean((1, 2)))  # the chance level


def test_edge_alignment_reduces_channels_by_summed_magnitude_and_keeps_dtype():
    images = square_images()
    saliency = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    reduced = saliency.abs().sum(1)
    torch.testing.assert_close(edge_alignment(saliency, images), edge_alignment(reduced, images))
    result = edge_alignment(saliency.double(), images)
    assert result.dtype == torch.float64 and result.shape == (2,)
    literal = [
        float((reduced[i] * image_edges(images)[i]).sum() / reduced[i].sum()) for i in range(2)
    ]
    assert result.tolist() == pytest.approx(literal, abs=1e-6)


def test_edge_alignment_grows_with_tolerance_and_handles_zero_maps():
    images = square_images(1, channels=1)
    saliency = torch.rand(1, 24, 24, generator=torch.Generator().manual_seed(1))
    shares = [float(edge_alignment(saliency, images, tolerance=t)) for t in (0, 1, 2)]
    assert shares[0] < shares[1] < shares[2]
    assert math.isnan(float(edge_alignment(torch.zeros(1, 24, 24), images)))


def test_edge_alignment_does_not_mutate_inputs():
    images, saliency = square_images(), torch.randn(2, 3, 24, 24)
    copies = images.clone(), saliency.clone()
    edge_alignment(saliency, images, tolerance=1)
    assert torch.equal(images, copies[0]) and torch.equal(saliency, copies[1])


@pytest.mark.parametrize(
    ("saliency", "error", "match"),
    [
        (torch.ones(2, 20, 20), ValueError, "one \\(H, W\\) map per image"),
        (torch.ones(3, 24, 24), ValueError, "one \\(H, W\\) map per image"),
        (np.ones((2, 24, 24)), TypeError, "saliency must be a floating torch.Tensor"),
        (torch.ones(2, 24, 24, dtype=torch.long), TypeError, "floating"),
        (torch.ones(2, 24), ValueError, "\\(N, C, H, W\\) or \\(N, H, W\\)"),
        (torch.full((2, 24, 24), math.nan), ValueError, "NaN or inf"),
    ],
)
def test_edge_alignment_bad_input(saliency, error, match):
    with pytest.raises(error, match=match):
        edge_alignment(saliency, square_images())


def test_edge_alignment_bad_images_and_parameters():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        edge_alignment(torch.ones(2, 24, 24), square_images() * 3)
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        edge_alignment(torch.ones(2, 24, 24), square_images(), tolerance=-1)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        image_edges(square_images(), sigma=-1.0)


# concentration -------------------------------------------------------------------------


def reference_gini(values):
    """Mean absolute difference form: sum_ij |x_i - x_j| / (2 n^2 mean)."""
    x = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    return np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())


def test_concentration_defining_values():
    maps = torch.zeros(3, 4, 4)
    maps[0] = 2.0
    maps[1, 1, 2] = -3.0  # magnitude counts
    maps[2, :2] = 1.0  # half the pixels
    values = concentration(maps)
    torch.testing.assert_close(values, torch.tensor([0.0, 15 / 16, 0.5]))
    assert math.isnan(float(concentration(torch.zeros(1, 4, 4))))


@given(
    st.lists(st.floats(0, 10, allow_nan=False), min_size=4, max_size=4).filter(
        lambda v: sum(v) > 1e-3
    ),
    st.floats(0.1, 100),
)
def test_concentration_matches_the_reference_and_ignores_scale(values, scale):
    maps = torch.tensor(values, dtype=torch.float64).view(1, 2, 2)
    gini = float(concentration(maps))
    assert gini == pytest.approx(reference_gini(values), abs=1e-9)
    assert float(concentration(scale * maps)) == pytest.approx(gini, abs=1e-9)
    assert -1e-12 <= gini < 1.0


def test_concentration_reduces_channels_and_keeps_dtype():
    saliency = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(concentration(saliency), concentration(saliency.abs().sum(1)))
    assert concentration(saliency.double()).dtype == torch.float64
    assert concentration(saliency).shape == (2,)


# saliency_similarity -------------------------------------------------------------------


def test_similarity_matches_scipy_spearman_per_image():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(3, 6, 6, generator=generator, dtype=torch.float64)
    b = a + 0.5 * torch.rand(3, 6, 6, generator=generator, dtype=torch.float64)
    result = saliency_similarity(a, b)
    expected = [spearmanr(a[i].ravel(), b[i].ravel()).statistic for i in range(3)]
    assert result.tolist() == pytest.approx(expected, abs=1e-12)


def test_similarity_defining_values():
    a = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    magnitude = a.abs().sum(1)
    torch.testing.assert_close(saliency_similarity(a, magnitude**3), torch.ones(2))
    torch.testing.assert_close(saliency_similarity(a, -magnitude), torch.ones(2))  # |.| first
    torch.testing.assert_close(saliency_similarity(magnitude, 1 / magnitude), -torch.ones(2))


def test_similarity_refuses_constant_maps_naming_them():
    a = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(2))
    b = a.clone()
    b[1] = 0.0  # an all-zero gradient
    with pytest.raises(ValueError, match=r"b holds constant maps \(images 1\)"):
        saliency_similarity(a, b)
    with pytest.raises(ValueError, match=r"a holds constant maps \(images 0, 1, 2\)"):
        saliency_similarity(torch.ones(3, 8, 8), a)


def test_similarity_shape_mismatch():
    with pytest.raises(ValueError, match="same images and size"):
        saliency_similarity(torch.ones(2, 8, 8), torch.ones(3, 8, 8))
    with pytest.raises(TypeError, match="b must be a floating"):
        saliency_similarity(torch.ones(2, 8, 8), None)
