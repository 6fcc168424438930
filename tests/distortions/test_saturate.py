from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.distortions import Saturate, saturate


def paper_saturate(image: np.ndarray, p: float) -> np.ndarray:
    """The paper's per-pixel formula, literally, in float64 NumPy."""
    out = np.empty_like(image)
    for index, v in np.ndenumerate(image):
        t = 2 * v - 1
        out[index] = min(max(np.sign(t) * abs(t) ** (2 / p) / 2 + 0.5, 0.0), 1.0)
    return out


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 8.0, 1024.0])
def test_matches_slow_reference(p):
    images = torch.rand(2, 3, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = paper_saturate(images.numpy(), p)
    np.testing.assert_allclose(saturate(images, p).numpy(), expected, rtol=0, atol=1e-12)


def test_p2_is_identity():
    images = torch.rand(4, 3, 8, 8)
    torch.testing.assert_close(saturate(images, 2), images, rtol=0, atol=1e-7)


def test_large_p_binarises_and_inf_is_a_threshold():
    images = torch.tensor([0.0, 0.1, 0.49, 0.5, 0.51, 0.9, 1.0]).view(1, 1, 1, 7)
    big = saturate(images, 1e6).flatten()
    assert torch.all((big < 0.01) | (big > 0.99) | (images.flatten() == 0.5))
    expected = torch.tensor([0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0])
    assert torch.equal(saturate(images, math.inf).flatten(), expected)


def test_small_p_lowers_contrast():
    images = torch.rand(2, 3, 8, 8)
    assert saturate(images, 1.0).std() < images.std()


@given(
    p=st.floats(0.1, 2000),
    values=st.lists(st.floats(0, 1), min_size=1, max_size=30),
)
def test_range_order_and_symmetry(p, values):
    images = torch.tensor(values, dtype=torch.float64).view(1, 1, 1, -1)
    out = saturate(images, p)
    assert out.min() >= 0 and out.max() <= 1
    order = images.flatten().argsort()
    assert torch.all(out.flatten()[order].diff() >= 0)  # monotone
    torch.testing.assert_close(saturate(1 - images, p), 1 - out)  # odd around 0.5


def test_gradcheck_away_from_half():
    images = torch.rand(1, 2, 3, 3, dtype=torch.float64) * 0.4 + 0.05
    images[:, 1] += 0.5
    images.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: saturate(x, 8.0), (images,))


def test_fast_path_equals_autograd_path():
    images = torch.rand(2, 3, 8, 8)
    with_grad = saturate(images.clone().requires_grad_(True), 8).detach()
    torch.testing.assert_close(saturate(images, 8), with_grad, rtol=0, atol=0)


@pytest.mark.parametrize("p", [0, -1, float("nan")])
def test_bad_p(p):
    with pytest.raises(ValueError, match=r"p must be (> 0|a finite number)"):
        saturate(torch.rand(1, 3, 4, 4), p)
    with pytest.raises(ValueError, match=r"p must be (> 0|a finite number)"):
        Saturate(p)


def test_p_type_error():
    with pytest.raises(TypeError, match="p must be a real number"):
        saturate(torch.rand(1, 3, 4, 4), "8")


@pytest.mark.parametrize("p", [8.0, 1024.0])
def test_chunked_path_matches_whole_tensor_path_across_chunk_boundaries(p):
    # 1.08 M float32 values: two 4 MiB chunks, the second one partial.
    images = torch.rand(1, 3, 600, 600, generator=torch.Generator().manual_seed(0))
    whole = saturate(images.clone().requires_grad_(True), p).detach()
    torch.testing.assert_close(saturate(images, p), whole, rtol=2e-7, atol=0)


def test_memory_layouts_give_the_same_values():
    images = torch.rand(2, 3, 10, 12)
    expected = saturate(images, 8)
    channels_last = saturate(images.to(memory_format=torch.channels_last), 8)
    assert channels_last.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(channels_last, expected)
    wide = torch.rand(2, 3, 10, 24)
    assert torch.equal(saturate(wide[..., ::2], 8), saturate(wide[..., ::2].contiguous(), 8))


@pytest.mark.parametrize("q", [1.0, 0.5, 0.25, 0.125])
def test_powers_within_one_and_a_half_ulp(q):
    from shapebias.distortions._saturate import _power

    values = torch.rand(100_000, generator=torch.Generator().manual_seed(1))
    values = torch.cat([values, torch.tensor([0.0, 1e-30, 1e-7, 0.5, 1.0])])
    result = _power(values.clone(), q, inplace=True).double()
    exact = values.double() ** q
    ulp = torch.nextafter(result.float(), torch.tensor(2.0)).double() - result
    assert torch.all((result - exact).abs() <= 1.5 * ulp)
    assert torch.equal(_power(values, q).double(), result)  # autograd twin agrees


@pytest.mark.parametrize("p", [4.0, 8.0, 1024.0])
def test_float32_within_one_ulp_of_float64_formula(p):
    images = torch.rand(1, 2, 300, 300, generator=torch.Generator().manual_seed(2))
    exact = saturate(images.double(), p)
    error = (saturate(images, p).double() - exact).abs().max()
    assert error <= 2**-23  # two float32 steps in [1/2, 1); measured: 1.07 (pow: 0.79)


@pytest.mark.parametrize("p", [8.0, 1024.0, math.inf])
def test_out_in_place_and_separate_equal_the_fresh_result(p):
    images = torch.rand(1, 3, 600, 600, generator=torch.Generator().manual_seed(3))
    expected = saturate(images, p)
    batch = images.clone()
    assert saturate(batch, p, out=batch) is batch  # several chunks, in place
    assert torch.equal(batch, expected)
    target = torch.empty_like(images)
    assert saturate(images, p, out=target) is target
    assert torch.equal(target, expected)


def test_out_with_other_strides_or_gaps_gives_the_same_values():
    images = torch.rand(2, 3, 10, 12)
    expected = saturate(images, 8)
    channels_last = torch.empty_like(images, memory_format=torch.channels_last)
    assert torch.equal(saturate(images, 8, out=channels_last), expected)
    wide = torch.zeros(2, 3, 10, 24)
    assert torch.equal(saturate(images, 8, out=wide[..., ::2]), expected)
    assert torch.all(wide[..., 1::2] == 0)  # the gaps are left alone


def test_out_leaves_the_input_alone():
    images = torch.rand(2, 3, 8, 8)
    before = images.clone()
    saturate(images, 8, out=torch.empty_like(images))
    assert torch.equal(images, before)


@pytest.mark.parametrize(
    ("make_out", "error", "match"),
    [
        (lambda x: x.numpy(), TypeError, "out must be a torch.Tensor"),
        (lambda x: torch.empty(2, 3, 8, 9), ValueError, "out must match images"),
        (lambda x: torch.empty_like(x, dtype=torch.float64), ValueError, "out must match"),
        (lambda x: x.requires_grad_(True), ValueError, "out= is not differentiable"),
    ],
)
def test_bad_out(make_out, error, match):
    images = torch.rand(2, 3, 8, 8)
    with pytest.raises(error, match=match):
        saturate(images, 8, out=make_out(images.clone()))


def test_out_that_partly_overlaps_images_is_refused():
    storage = torch.rand(3, 3, 8, 8)
    with pytest.raises(ValueError, match="out overlaps images"):
        saturate(storage[:2], 8, out=storage[1:])
    expected = saturate(storage[:1], 8)
    assert torch.equal(saturate(storage[:1], 8, out=storage[2:]), expected)  # disjoint: fine
    with pytest.raises(ValueError, match="out= is not differentiable"):
        saturate(torch.rand(1, 3, 4, 4, requires_grad=True), 8, out=torch.empty(1, 3, 4, 4))


def test_module_inplace_overwrites_its_input_and_default_does_not():
    images = torch.rand(2, 3, 8, 8)
    expected = saturate(images, 8)
    untouched = images.clone()
    assert torch.equal(Saturate(8)(images), expected)
    assert torch.equal(images, untouched)
    assert Saturate(8, inplace=True)(images) is images
    assert torch.equal(images, expected)
    assert repr(Saturate(8, inplace=True)) == "Saturate(p=8, inplace=True)"


def test_inplace_after_a_shuffle_leaves_the_callers_batch_alone():
    from torchvision.transforms import v2

    from shapebias.distortions import PatchShuffle, patch_shuffle

    images = torch.rand(2, 3, 8, 8)
    untouched = images.clone()
    pipeline = v2.Compose(
        [PatchShuffle(2, generator=torch.Generator().manual_seed(0)), Saturate(8, inplace=True)]
    )
    shuffled = patch_shuffle(images, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(pipeline(images), saturate(shuffled, 8))
    assert torch.equal(images, untouched)
