"""The input contract, checked for every distortion at once."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from tests.distortions._cases import CASES, FUNCTIONS, generator

NAMES = sorted(CASES)
RANDOM_NAMES = [name for name in NAMES if CASES[name][2]]


def _images(n: int = 3, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=generator(1), dtype=dtype)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_range_kept(name, dtype):
    images = _images(dtype=dtype)
    out = CASES[name].function(images, generator=generator(2))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.device == images.device
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computes_like_float32_and_returns_its_dtype(name, dtype):
    function = CASES[name].function
    images = _images(dtype=torch.float32).to(dtype)
    out = function(images, generator=generator(2))
    assert out.dtype == dtype and out.shape == images.shape
    if name == "uniform_noise":
        return  # its noise is drawn in the images' own dtype, so the draws differ
    reference = function(images.float(), generator=generator(2))
    if name in ("phase_scramble", "edges", "low_pass_radius") or name.startswith("stylize"):
        assert torch.equal(out, reference.to(dtype))  # computed in float32
    else:  # computed in dtype: intermediate roundings, within 2 ulp
        tolerance = 2 * torch.finfo(dtype).eps
        torch.testing.assert_close(out.float(), reference, rtol=0, atol=tolerance)


@pytest.mark.parametrize("name", NAMES)
def test_function_equals_module_batch_and_single_image(name):
    function, module, _ = CASES[name]
    images = _images()
    expected = function(images, generator=generator(3))
    torch.testing.assert_close(module(images, generator=generator(3)), expected, rtol=0, atol=0)
    single = images[:1]
    expected = function(single, generator=generator(4))[0]
    torch.testing.assert_close(module(single[0], generator=generator(4)), expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_every_function_and_module_takes_generator_and_only_random_ones_use_it(name):
    function, module, is_random = CASES[name]
    images = _images()
    outputs = [f(images, generator=generator(s)) for f in (function, module) for s in (10, 11)]
    assert torch.equal(outputs[0], outputs[2]) and torch.equal(outputs[1], outputs[3])
    assert torch.equal(outputs[0], outputs[1]) is not is_random
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator or None"):
        function(images, generator=0)


@pytest.mark.parametrize("name", NAMES)
def test_inputs_not_mutated(name):
    images = _images()
    before = images.clone()
    CASES[name].function(images, generator=generator(0))
    assert torch.equal(images, before)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_determinism(name):
    function, _, is_random = CASES[name]
    images = _images()
    first = function(images, generator=generator(5))
    assert torch.equal(first, function(images, generator=generator(5)))
    if is_random:
        assert not torch.equal(first, function(images, generator=generator(6)))


@pytest.mark.parametrize("name", NAMES)
def test_works_inside_compose_and_under_no_grad(name):
    module = CASES[name].module
    compose = v2.Compose([v2.ToDtype(torch.float32), module])
    image = _images(1)[0]
    with torch.no_grad():
        out = compose(image)
    assert out.shape == image.shape


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_stored_generator_is_overridden_by_call(name):
    _, module, _ = CASES[name]
    images = _images()
    module.generator = generator(8)
    try:
        stored = module(images)
        overridden = module(images, generator=generator(8))
    finally:
        module.generator = None
    assert torch.equal(stored, overridden)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_bad_images_rejected(name):
    function, images_name = FUNCTIONS[name]
    images = _images()
    with pytest.raises(TypeError, match=f"{images_name} must be a floating-point tensor"):
        function((images * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=rf"{images_name} must have shape \(N, C, H, W\)"):
        function(images[0])
    with pytest.raises(ValueError, match=rf"{images_name} must lie in \[0, 1\]"):
        function(images * 2 - 1)
    with pytest.raises(TypeError, match=rf"{images_name} must be a torch\.Tensor"):
        function(images.numpy())
    with pytest.raises(ValueError, match="NaN"):
        function(torch.full_like(images, float("nan")))
