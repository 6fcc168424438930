"""Figures of the model-vs-human benchmark: what is drawn where."""

from __future__ import annotations

import numpy as np
import pytest

from shapebias.data import read_raw_trials
from shapebias.metrics import (
    HUMAN_ROW,
    human_benchmark,
    plot_consistency,
    plot_shape_bias_per_category,
)
from tests._raw_trials import write_maker

NAMES = ["cat1-dog2.png", "cat2-oven1.png", "dog1-cat2.png", "dog3-bird1.png", "oven1-cat1.png"]


def _shape(name: str) -> str:
    return "".join(c for c in name.split("-")[0] if not c.isdigit())


@pytest.fixture
def table(tmp_path):
    # Humans: the shape, except the texture on dog3-bird1 (dog: 1/2; cat and oven: 1).
    human = [("0", n, _shape(n), _shape(n)) for n in NAMES]
    human[3] = ("0", NAMES[3], "dog", "bird")
    write_maker(tmp_path, "cue-conflict", "subject-01", human)
    texture = [("", n, _shape(n), n.split("-")[1][:-5].rstrip("0123456789")) for n in NAMES]
    write_maker(tmp_path, "cue-conflict", "model", texture, seed=1)
    write_maker(tmp_path, "edge", "subject-01", [("0", "a.png", "cat", "cat")])
    write_maker(tmp_path, "edge", "model", [("", "a.png", "cat", "dog")])
    return human_benchmark(read_raw_trials(tmp_path))


def test_shape_bias_per_category_draws_one_minus_the_shares(table):
    ax = plot_shape_bias_per_category(table)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["cat", "oven", "dog"]  # by the humans' shape bias, highest first
    points = {c.get_label(): c.get_offsets() for c in ax.collections}
    human = table.rows[HUMAN_ROW].shape_bias_per_category
    expected = [[1 - human[c], labels.index(c)] for c in human]
    np.testing.assert_allclose(sorted(map(list, points[HUMAN_ROW])), sorted(expected))
    assert all(x == 1.0 for x, _ in points["model"])  # only texture decisions
    lines = sorted(line.get_xdata()[0] for line in ax.lines if line.get_linewidth() > 1)
    biases = [table.rows[name].shape_bias for name in ("model", HUMAN_ROW)]
    assert biases[0] == 0.0 and lines == pytest.approx(sorted(1 - b for b in biases))


def test_consistency_plot_places_every_dataset(table):
    ax = plot_consistency(table)
    large = {c.get_label(): c.get_offsets()[0] for c in ax.collections if c.get_label()[0] != "_"}
    row = table.rows["model"]
    np.testing.assert_allclose(large["model"], [row.accuracy_difference, row.error_consistency])
    # model and humans: a small marker per dataset (2) and a large one for the mean.
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2 * 2 + 2


def test_figure_errors(table, tmp_path):
    with pytest.raises(TypeError, match="HumanBenchmark"):
        plot_consistency({"model": 1})  # type: ignore[arg-type]
    root = tmp_path / "edge-only"
    write_maker(root, "edge", "subject-01", [("0", "a.png", "cat", "cat")])
    write_maker(root, "edge", "model", [("", "a.png", "cat", "dog")])
    with pytest.raises(ValueError, match="cue-conflict trials"):
        plot_shape_bias_per_category(human_benchmark(read_raw_trials(root)))
