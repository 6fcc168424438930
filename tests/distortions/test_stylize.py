from __future__ import annotations

import numpy as np
import pytest
import torch

from shapebias.distortions import StyleSource, Stylize, stylize
from shapebias.distortions._random_features import (
    _features,
    _objective,
    _statistics,
    random_filters,
)
from shapebias.distortions._stylize import amplitude_swap


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.rand(*shape, generator=gen(seed), dtype=dtype)


def test_amplitude_swap_has_style_amplitude_and_content_phase():
    content, style = rand(2, 3, 16, 14, seed=1), rand(2, 3, 16, 14, seed=2)
    out = amplitude_swap(content, style, 1.0).numpy()
    out_f, content_f = np.fft.fft2(out), np.fft.fft2(content.numpy())
    np.testing.assert_allclose(np.abs(out_f), np.abs(np.fft.fft2(style.numpy())), atol=1e-9)
    phase_gap = np.angle(out_f * np.conj(content_f))
    np.testing.assert_allclose(phase_gap, 0.0, atol=1e-7)


def test_amplitude_swap_alpha_interpolates_amplitude():
    content, style = rand(1, 3, 8, 8, seed=1), rand(1, 3, 8, 8, seed=2)
    torch.testing.assert_close(amplitude_swap(content, style, 0.0), content)
    half = np.abs(np.fft.fft2(amplitude_swap(content, style, 0.5).numpy()))
    mean = 0.5 * (np.abs(np.fft.fft2(content.numpy())) + np.abs(np.fft.fft2(style.numpy())))
    np.testing.assert_allclose(half, mean, atol=1e-9)


def test_amplitude_swap_gradcheck():
    content = rand(1, 1, 4, 5, seed=1).requires_grad_(True)
    style = rand(1, 1, 4, 5, seed=2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c, s: amplitude_swap(c, s, 0.7), (content, style))


def test_fourier_stylize_is_clipped_swap_and_broadcasts_and_resizes():
    content, style = rand(3, 3, 16, 16, seed=1), rand(1, 3, 16, 16, seed=2)
    out = stylize(content, style)
    torch.testing.assert_close(out, amplitude_swap(content, style, 1.0).clamp(0, 1))
    big = torch.nn.functional.interpolate(style, size=(32, 32), mode="nearest")
    assert stylize(content, big).shape == content.shape


def test_stylize_batch_invariance():
    content, style = rand(4, 3, 16, 16, seed=1), rand(4, 3, 16, 16, seed=2)
    for method in ("fourier", "random_features"):
        whole = stylize(content, style, method=method, steps=3, generator=gen())
        part = stylize(content[1:3], style[1:3], method=method, steps=3, generator=gen())
        torch.testing.assert_close(part, whole[1:3])


def test_random_features_move_statistics_towards_style():
    content, style = rand(2, 3, 12, 12, seed=1), rand(2, 3, 12, 12, seed=2) ** 3
    out = stylize(content, style, method="random_features", steps=25, generator=gen(5))
    filters = random_filters(3, generator=gen(5), like=content)
    stats = [_statistics(_features(x, filters)) for x in (content, style, out)]
    before = sum(float((c - s).square().sum()) for c, s in zip(stats[0], stats[1], strict=True))
    after = sum(float((o - s).square().sum()) for o, s in zip(stats[2], stats[1], strict=True))
    assert after < 0.5 * before
    none_twice = [stylize(content, style, method="random_features", steps=2) for _ in "ab"]
    assert torch.equal(*none_twice)  # generator=None uses fixed filters
    alpha0 = stylize(content, style, method="random_features", alpha=0.0, steps=3)
    torch.testing.assert_close(alpha0, content, atol=0.05, rtol=0)


def test_random_features_optimiser_is_adam_with_clipping_to_the_pixel_range():
    # Literal reference: torch.optim.Adam (lr 0.03, betas 0.9/0.999, eps 1e-8) on the
    # pixels, clipped to [0, 1] after each step, with targets lerped by alpha.
    content, style = rand(2, 3, 12, 12, seed=3), rand(1, 3, 12, 12, seed=4) ** 2
    alpha, steps, weight = 0.7, 6, 0.2
    filters = random_filters(3, generator=gen(6), like=content)
    with torch.no_grad():
        content_features = _features(content, filters)
        targets = [
            (1 - alpha) * c + alpha * s.expand_as(c)
            for c, s in zip(
                _statistics(content_features), _statistics(_features(style, filters)), strict=True
            )
        ]
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=0.03, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(steps):
        optimizer.zero_grad()
        _objective(_features(image, filters), content_features[-1], targets, weight).backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)
    out = stylize(
        content, style, method="random_features", alpha=alpha, steps=steps,
        content_weight=weight, generator=gen(6),
    )  # fmt: skip
    torch.testing.assert_close(out, image.detach(), rtol=0, atol=1e-10)


def test_stylize_under_no_grad_and_with_grad_inputs():
    content = rand(1, 3, 16, 16, seed=1).requires_grad_(True)
    style = rand(1, 3, 16, 16, seed=2)
    with torch.no_grad():
        out = stylize(content, style, method="random_features", steps=2)
    assert not out.requires_grad
    assert not stylize(content, style).requires_grad


def test_style_source_from_tensor_and_folder(tmp_path):
    from PIL import Image

    pixels = (np.arange(2 * 6 * 5 * 3).reshape(2, 6, 5, 3) % 256).astype(np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / f"style{index}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    source = StyleSource(tmp_path)
    assert len(source) == 2
    np.testing.assert_allclose(
        source.images[1].permute(1, 2, 0).numpy(), pixels[1] / 255.0, atol=1e-7
    )
    like = torch.rand(4, 3, 6, 5, dtype=torch.float64)
    drawn = source.draw(like, generator=gen(1))
    assert drawn.shape == like.shape and drawn.dtype == torch.float64
    indices = source.sample(4, generator=gen(1))
    torch.testing.assert_close(drawn, source.select(indices, like))
    resized = source.draw(torch.rand(2, 3, 12, 10), generator=gen(1))
    assert resized.shape == (2, 3, 12, 10)


def test_style_source_assignment_is_uniform_and_seeded():
    source = StyleSource(torch.rand(4, 3, 4, 4))
    draws = source.sample(4000, generator=gen(2))
    counts = torch.bincount(draws, minlength=4).double()
    assert float(((counts - 1000) ** 2 / 1000).sum()) < 16.3  # 3 dof, p ~ 0.001
    assert torch.equal(draws, source.sample(4000, generator=gen(2)))


def test_stylize_module_draws_styles_deterministically():
    styles = torch.rand(5, 3, 8, 8)
    module = Stylize(styles, alpha=0.8)
    images = torch.rand(3, 3, 8, 8)
    expected_styles = StyleSource(styles).draw(images, generator=gen(9))
    expected = stylize(images, expected_styles, alpha=0.8)
    torch.testing.assert_close(module(images, generator=gen(9)), expected)


def test_bad_style_inputs(tmp_path):
    content = torch.rand(3, 3, 8, 8)
    with pytest.raises(ValueError, match=r"style must have shape \(1 or 3, 3, H, W\)"):
        stylize(content, torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"style must have shape"):
        stylize(content, torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"style is a torch\.float64 tensor"):
        stylize(content, torch.rand(1, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"style must lie in \[0, 1\]"):
        stylize(content, torch.rand(1, 3, 8, 8) + 1)
    with pytest.raises(ValueError, match="method must be one of"):
        stylize(content, content, method="gatys")
    with pytest.raises(ValueError, match="alpha must be >= 0 and <= 1"):
        stylize(content, content, alpha=1.5)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        stylize(content, content, method="random_features", steps=0)
    with pytest.raises(TypeError, match="method='adain' needs the trained network"):
        stylize(content, content, method="adain")
    with pytest.raises(TypeError, match="method='adain' needs"):
        Stylize(content, method="adain")
    with pytest.raises(ValueError, match="does not exist or is not a folder"):
        StyleSource(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no image files"):
        StyleSource(tmp_path)
    with pytest.raises(TypeError, match="styles must be a"):
        StyleSource([content])
    with pytest.raises(ValueError, match="style image 0 has 3 channels but the content has 1"):
        StyleSource(content[:1]).draw(torch.rand(1, 1, 8, 8))
