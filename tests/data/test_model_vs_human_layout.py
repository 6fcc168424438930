"""ood_datasets reads model-vs-human's own dnn/session-<k>/ stimulus layout."""

from __future__ import annotations

import pytest

from shapebias.data import ood_datasets
from tests._stimuli import _png


def test_session_layout_takes_the_category_from_the_name(tmp_path):
    names = [
        "0001_cl_dnn_cr_oven_40_n04111531_14126.png",
        "0002_cl_dnn_bw_bear_40_n02134084_5274.png",
    ]
    for k, name in enumerate(names):
        _png(tmp_path / "colour" / "dnn" / "session-1" / name, k)
    _png(tmp_path / "edge" / "cat" / "cat1.png", 5)  # category folders beside it
    data = ood_datasets(tmp_path, size=None)
    assert sorted(data) == ["colour", "edge"]
    colour = data["colour"]
    assert [p.name for p, _ in colour.samples] == names
    assert [colour.classes[label] for _, label in colour.samples] == ["oven", "bear"]
    assert colour[1][1] == colour.classes.index("bear")


def test_session_layout_with_a_name_outside_the_categories(tmp_path):
    _png(tmp_path / "colour" / "dnn" / "session-1" / "0001_cl_dnn_cr_tiger_40_x.png", 0)
    with pytest.raises(ValueError, match="category 'tiger'"):
        ood_datasets(tmp_path)
