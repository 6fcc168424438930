"""Heatmaps, overlays and the model-by-image figure."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

from shapebias.saliency import overlay, plot_saliency_grid, smoothgrad, to_heatmap
from shapebias.saliency._visualize import row_percentile
from tests._models import seeded_images, seeded_labels, tiny_cnn


@given(st.integers(1, 50), st.floats(0.5, 100.0))
def test_row_percentile_matches_numpy(length: int, q: float) -> None:
    values = torch.randn(3, length, generator=torch.Generator().manual_seed(length))
    expected = np.percentile(values.numpy(), q, axis=1)
    torch.testing.assert_close(row_percentile(values, q), torch.from_numpy(expected))


def test_heatmap_is_the_papers_display() -> None:
    saliency = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    saliency[1] *= 100  # scaling a map does not change its heatmap
    heat = to_heatmap(saliency, percentile=99)
    magnitude = saliency.abs().sum(1).numpy()
    for i in range(2):
        expected = np.clip(magnitude[i] / np.percentile(magnitude[i], 99), 0, 1)
        np.testing.assert_allclose(heat[i].numpy(), expected, rtol=1e-5)
    assert heat.shape == (2, 10, 10) and heat.dtype == saliency.dtype
    assert float(heat.min()) >= 0 and float(heat.max()) == 1.0
    torch.testing.assert_close(to_heatmap(saliency[1:] / 100), heat[1:])


def test_heatmap_of_sparse_and_zero_maps() -> None:
    saliency = torch.zeros(2, 1, 10, 10)
    saliency[0, 0, 3, 4] = 5.0  # zero at the 99th percentile: scaled by the max
    heat = to_heatmap(saliency)
    assert float(heat[0, 3, 4]) == 1.0 and float(heat[0].sum()) == 1.0
    assert torch.equal(heat[1], torch.zeros(10, 10))


def test_heatmap_errors() -> None:
    with pytest.raises(ValueError, match=r"percentile must be > 0 and <= 100, got 0"):
        to_heatmap(torch.rand(1, 1, 4, 4), percentile=0)
    with pytest.raises(ValueError, match=r"saliency must have shape \(N, C, H, W\)"):
        to_heatmap(torch.rand(4, 4))
    with pytest.raises(TypeError, match="saliency must be a floating tensor"):
        to_heatmap(torch.ones(1, 1, 4, 4, dtype=torch.int64))


def test_overlay_blends() -> None:
    images, heat = seeded_images(2), torch.rand(2, 8, 8)
    assert torch.equal(overlay(images, heat, alpha=0.0), images)
    coloured = overlay(images, heat, alpha=1.0)
    assert coloured.shape == (2, 3, 8, 8) and coloured.dtype == images.dtype
    assert float(coloured.min()) >= 0 and float(coloured.max()) <= 1
    grey = overlay(seeded_images(2, channels=1), heat, alpha=0.5, cmap="viridis")
    assert grey.shape == (2, 3, 8, 8)


def test_overlay_errors() -> None:
    with pytest.raises(ValueError, match=r"heatmap must have shape \(2, 8, 8\)"):
        overlay(seeded_images(2), torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"heatmap must lie in \[0, 1\]"):
        overlay(seeded_images(2), torch.rand(2, 8, 8) * 3)
    with pytest.raises(ValueError, match="images must have 1 or 3 channels"):
        overlay(seeded_images(2, channels=2), torch.rand(2, 8, 8))
    with pytest.raises(ValueError, match="alpha must be >= 0 and <= 1"):
        overlay(seeded_images(2), torch.rand(2, 8, 8), alpha=2)


def test_grid_has_one_row_per_model_plus_the_images() -> None:
    models = {"standard": tiny_cnn(seed=0), "robust": tiny_cnn(seed=1), "third": tiny_cnn(seed=2)}
    figure = plot_saliency_grid(models, seeded_images(4), seeded_labels(), method="gradient")
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 4 * 4
    assert [ax.get_ylabel() for ax in figure.axes[::4]] == ["image", "standard", "robust", "third"]


def test_grid_rewinds_the_generator_so_models_share_noise() -> None:
    # Two copies of the same model must get identical rows.
    model = tiny_cnn()
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    kwargs = {"n_samples": 2, "generator": generator}
    figure = plot_saliency_grid({"a": model, "b": model}, seeded_images(2), 0, method_kwargs=kwargs)
    rows = [ax.get_images()[0].get_array() for ax in figure.axes[2:]]
    np.testing.assert_array_equal(rows[0], rows[2])
    np.testing.assert_array_equal(rows[1], rows[3])
    assert torch.equal(generator.get_state(), state)
    first = smoothgrad(model, seeded_images(2), 0, **kwargs)
    np.testing.assert_allclose(rows[0], to_heatmap(first)[0].numpy(), rtol=1e-6)


def test_grid_draws_into_a_given_figure_with_a_callable_method() -> None:
    figure = Figure()
    calls = []

    def method(model, images, target):
        calls.append(target)
        return images

    result = plot_saliency_grid(
        {"m": tiny_cnn()}, seeded_images(3, channels=1), 2, method=method, figure=figure
    )
    assert result is figure and len(figure.axes) == 6 and calls == [2]


def test_grid_errors() -> None:
    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        plot_saliency_grid({}, seeded_images(2))
    with pytest.raises(ValueError, match="method must be one of 'gradient'"):
        plot_saliency_grid({"m": tiny_cnn()}, seeded_images(2), method="lime")
    with pytest.raises(TypeError, match="method must be a saliency function"):
        plot_saliency_grid({"m": tiny_cnn()}, seeded_images(2), method=3)
    with pytest.raises(TypeError, match="method_kwargs must be a dict"):
        plot_saliency_grid({"m": tiny_cnn()}, seeded_images(2), method_kwargs=[1])


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install "shapebias\[plot\]"'):
        overlay(seeded_images(1), torch.rand(1, 8, 8))
    with pytest.raises(ImportError, match=r'pip install "shapebias\[plot\]"'):
        plot_saliency_grid({"m": tiny_cnn()}, seeded_images(1), 0, method="gradient")
