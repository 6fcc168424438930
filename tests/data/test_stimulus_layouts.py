"""Stimulus folders beyond the published layout: copies, suffixes, upper-case endings,
hidden files and folders left by notebooks and macOS."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from shapebias.data import CATEGORIES_16, CueConflictDataset, ood_datasets, stimulus_folder


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


def test_hidden_files_and_folders_are_not_stimuli(tmp_path):
    """Bug caught: a notebook's ``.ipynb_checkpoints`` copy inside a category folder was
    counted as one more image (silently), a macOS ``._`` file as an image to decode."""
    root = tmp_path / "sketch"
    for relative in ("cat/0001.png", "dog/0001.png"):
        _png(root / relative)
    for hidden in ("cat/.ipynb_checkpoints/0001-checkpoint.png", "dog/._0001.png",
                   ".cache/dog/0001.png"):  # fmt: skip
        _png(root / hidden)
    data = stimulus_folder(root, size=None)
    assert [p.relative_to(root).as_posix() for p, _ in data.samples] == [
        "cat/0001.png", "dog/0001.png",
    ]  # fmt: skip
    assert list(ood_datasets(tmp_path, size=None)) == ["sketch"]
    _png(tmp_path / "cue" / "cat" / "cat1-dog1.png")
    _png(tmp_path / "cue" / "cat" / ".ipynb_checkpoints" / "cat1-dog1-checkpoint.png")
    _png(tmp_path / "cue" / "cat" / "._cat1-dog1.png")
    assert len(CueConflictDataset(tmp_path / "cue", size=None)) == 1
