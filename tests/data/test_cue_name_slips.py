"""Cue-conflict file names beyond the published ones: copies, suffixes, upper-case endings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from shapebias.data import CATEGORIES_16, CueConflictDataset


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(torch.zeros(4, 4, 3, dtype=torch.uint8).numpy()).save(path)


@pytest.mark.parametrize(
    "name", ["cat1-elephant2 (copy).png", "cat1-elephant2_v2.png", "cat1-elephant2.old.png"]
)
def test_trailing_text_is_refused_not_read_as_one_more_stimulus(tmp_path, name):
    """Slip caught: ``match`` for ``fullmatch``, which reads a duplicate as a new image
    (and would count its decision twice in the shape bias)."""
    _png(tmp_path / "cat" / "cat1-elephant2.png")
    _png(tmp_path / "cat" / name)
    with pytest.raises(ValueError, match=r"file names outside the layout") as error:
        CueConflictDataset(tmp_path, size=None)
    assert f"cat/{name} (not <shape><i>-<texture><j>)" in str(error.value)


def test_multi_digit_indices_and_upper_case_endings_are_read(tmp_path):
    for name in ("cat12-elephant10.png", "cat3-knife1.PNG", "cat1-cat7.png"):
        _png(tmp_path / "cat" / name)
    data = CueConflictDataset(tmp_path, size=None)
    index = CATEGORIES_16.index
    pairs = sorted(zip((s for _, s in data.samples), data.texture_labels, strict=True))
    assert pairs == sorted([(index("cat"), index("elephant")), (index("cat"), index("knife")),
                            (index("cat"), index("cat"))])  # fmt: skip
