"""Stimulus folders in Geirhos et al.'s layouts, built on the fly; the 1000 -> 16 rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from shapebias.data import (
    CATEGORIES_16,
    CueConflictDataset,
    ood_datasets,
    stimulus_folder,
    stimulus_transform,
)
from shapebias.metrics import IMAGENET_16_CLASS_MAP, CategoryModel, shape_bias


def _png(path, value: int, size=(224, 224)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, 255 - value, value // 2)).save(path)


def _cue_conflict_tree(root):
    """Six images: four conflicts, one shape == texture, in the real naming."""
    names = {
        "cat": ["cat1-elephant2.png", "cat2-cat3.png"],
        "dog": ["dog1-clock1.png", "dog10-bear4.png"],
        "knife": ["knife3-oven1.png", "knife4-dog7.png"],
    }
    for i, (category, files) in enumerate(names.items()):
        for j, name in enumerate(files):
            _png(root / category / name, 10 * i + j)
    return names


def test_cue_conflict_labels_come_from_folder_and_names(tmp_path):
    _cue_conflict_tree(tmp_path)
    (tmp_path / "cat" / "notes.txt").write_text("not an image, ignored")
    data = CueConflictDataset(tmp_path)
    index = CATEGORIES_16.index
    shapes = [label for _, label in data.samples]
    assert [p.name for p, _ in data.samples] == [
        "cat1-elephant2.png", "cat2-cat3.png", "dog1-clock1.png", "dog10-bear4.png",
        "knife3-oven1.png", "knife4-dog7.png",
    ]  # fmt: skip
    assert shapes == [index("cat")] * 2 + [index("dog")] * 2 + [index("knife")] * 2
    expected = ["elephant", "cat", "clock", "bear", "oven", "dog"]
    assert data.texture_labels == [index(n) for n in expected]
    image, shape, texture = data[3]
    assert image.shape == (3, 224, 224) and image.dtype == torch.float32
    assert (shape, texture) == (index("dog"), index("bear"))
    # pixel values pass through unchanged at 224 x 224: (dog, file 1) was written as value 11
    assert torch.allclose(image[:, 0, 0], torch.tensor([11, 244, 5]) / 255)


def test_cue_conflict_through_a_loader_gives_the_shape_bias_of_the_decisions(tmp_path):
    _cue_conflict_tree(tmp_path)
    loader = DataLoader(CueConflictDataset(tmp_path, size=32), batch_size=4)
    # red value written per file -> the category the fake model decides
    decisions = {0: "cat", 1: "cat", 10: "clock", 11: "dog", 20: "knife", 21: "car"}

    def imagenet_model(images):
        """1000 logits voting for a member class of the category encoded in the red value."""
        logits = torch.zeros(images.shape[0], 1000)
        for n, red in enumerate((images[:, 0, 0, 0] * 255).round().long().tolist()):
            logits[n, IMAGENET_16_CLASS_MAP[decisions[red]][-1]] = 10.0
        return logits

    result = shape_bias(imagenet_model, loader, class_map=IMAGENET_16_CLASS_MAP, progress=False)
    # cat1-elephant2 -> cat: shape; cat2-cat3: excluded; dog1-clock1 -> clock: texture;
    # dog10-bear4 -> dog: shape; knife3-oven1 -> knife: shape; knife4-dog7 -> car: neither
    assert result.conflict_images == 5 and result.excluded == 1
    assert (result.shape_decisions, result.texture_decisions) == (3, 1)
    assert result.shape_bias.value == pytest.approx(3 / 4)
    assert result.cue_match.value == pytest.approx(4 / 5)


def test_stimulus_transform_resizes_short_side_then_centre_crops():
    image = torch.rand(3, 300, 450)
    out = stimulus_transform(224)(image)
    resized = torch.nn.functional.interpolate(
        image[None], size=(256, 384), mode="bilinear", antialias=True, align_corners=False
    )[0]
    assert out.shape == (3, 224, 224)
    torch.testing.assert_close(out, resized[:, 16:240, 80:304].clamp(0, 1), atol=1e-5, rtol=0)
    square = torch.rand(3, 224, 224)
    assert stimulus_transform(224)(square) is square


def test_ood_conditions_and_labels_follow_the_16_category_order(tmp_path):
    for condition in ("stylized", "edge"):
        for category in ("truck", "airplane"):
            _png(tmp_path / condition / category / f"{condition}-{category}.png", 3, (40, 30))
    conditions = ood_datasets(tmp_path, size=16)
    assert list(conditions) == ["edge", "stylized"]
    edge = conditions["edge"]
    assert edge.classes == list(CATEGORIES_16)
    assert edge.targets == [CATEGORIES_16.index("airplane"), CATEGORIES_16.index("truck")]
    assert edge[0][0].shape == (3, 16, 16)


def test_categories_are_the_class_map_order():
    assert tuple(IMAGENET_16_CLASS_MAP) == CATEGORIES_16


def test_the_1000_to_16_rule_is_the_mean_not_the_max_or_the_sum():
    """dog has 117 members at p = 0.004 each, knife one member at p = 0.1: the mean picks knife.

    The sum over members would pick dog (0.468), the max over members knife and dog apart;
    a mapped model's logits are the log of the mean probabilities.
    """
    probabilities = torch.full((1, 1000), 0.0)
    dog, knife, cat = (IMAGENET_16_CLASS_MAP[n] for n in ("dog", "knife", "cat"))
    probabilities[0, list(dog)] = 0.004
    probabilities[0, list(knife)] = 0.1
    probabilities[0, list(cat)] = 0.06  # six members: mean 0.06, sum 0.36
    rest = 1 - probabilities.sum()
    free = probabilities[0] == 0
    probabilities[0, free] = rest / free.sum()
    scores = CategoryModel(lambda x: probabilities.log())(torch.zeros(1, 3, 2, 2)).exp()
    members = {name: list(m) for name, m in IMAGENET_16_CLASS_MAP.items()}
    reference = torch.tensor(
        [[float(np.mean(probabilities[0, m].numpy())) for m in members.values()]]
    )
    torch.testing.assert_close(scores, reference, rtol=1e-5, atol=1e-9)
    assert CATEGORIES_16[int(scores.argmax())] == "knife"
    sums = {name: float(probabilities[0, m].sum()) for name, m in members.items()}
    assert max(sums, key=sums.get) == "dog"  # the rule matters on this input


def test_cue_conflict_refuses_names_outside_the_layout_listing_offenders(tmp_path):
    _png(tmp_path / "cat" / "cat1-elephant2.png", 0)
    _png(tmp_path / "cat" / "dog1-clock1.png", 0)
    _png(tmp_path / "cat" / "IMG_0001.png", 0)
    _png(tmp_path / "cat" / "cat2-unicorn1.png", 0)
    with pytest.raises(ValueError) as error:
        CueConflictDataset(tmp_path)
    message = str(error.value)
    assert "file names outside the layout" in message
    assert "cat/IMG_0001.png (not <shape><i>-<texture><j>)" in message
    assert "cat/dog1-clock1.png (shape 'dog' is not its folder)" in message
    assert "cat/cat2-unicorn1.png (texture 'unicorn' outside the categories)" in message


def test_folders_outside_the_categories_empty_folders_and_missing_roots(tmp_path):
    _png(tmp_path / "cats" / "cat1-dog1.png", 0)
    with pytest.raises(ValueError, match=r"folders outside the 16 categories: cats"):
        CueConflictDataset(tmp_path)
    (tmp_path / "empty" / "dog").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"empty/dog holds no image"):
        stimulus_folder(tmp_path / "empty")
    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no category folders"):
        stimulus_folder(tmp_path / "none")
    with pytest.raises(FileNotFoundError, match=r"holds no condition folders"):
        ood_datasets(tmp_path / "none")
    with pytest.raises(FileNotFoundError, match=r"missing does not exist"):
        ood_datasets(tmp_path / "missing")
    with pytest.raises(TypeError, match=r"root must be a str or os\.PathLike, got int"):
        stimulus_folder(3)
    with pytest.raises(TypeError, match=r"categories must be a sequence of distinct"):
        stimulus_folder(tmp_path, categories=["cat", "cat"])
