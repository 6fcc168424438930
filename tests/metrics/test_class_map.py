import pytest
import torch

from shapebias.metrics import IMAGENET_16_CLASS_MAP, aggregate_probabilities


def reference(logits, class_map):
    """Literal loop: the mean softmax probability of each class's members."""
    probabilities = logits.softmax(1)
    rows = []
    for row in probabilities:
        rows.append([sum(row[i] for i in members) / len(members) for members in class_map.values()])
    return torch.tensor(rows, dtype=logits.dtype)


def test_matches_the_literal_reference():
    logits = torch.randn(5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    class_map = {"x": [6, 0], "y": [3], "z": [1, 2, 5]}
    result = aggregate_probabilities(logits, class_map)
    assert result.shape == (5, 3) and result.dtype == torch.float64
    torch.testing.assert_close(result, reference(logits, class_map))


def test_imagenet_16_class_map_is_geirhos_mapping():
    assert list(IMAGENET_16_CLASS_MAP) == sorted(IMAGENET_16_CLASS_MAP)
    assert len(IMAGENET_16_CLASS_MAP) == 16
    indices = [i for members in IMAGENET_16_CLASS_MAP.values() for i in members]
    assert len(indices) == len(set(indices)) == 207
    assert all(0 <= i < 1000 for i in indices)
    assert IMAGENET_16_CLASS_MAP["airplane"] == (404,)
    assert IMAGENET_16_CLASS_MAP["knife"] == (499,)
    assert len(IMAGENET_16_CLASS_MAP["dog"]) == 109 and len(IMAGENET_16_CLASS_MAP["bird"]) == 49


def test_imagenet_16_class_map_names_match_imagenet_categories():
    weights = pytest.importorskip("torchvision.models").ResNet18_Weights.IMAGENET1K_V1
    names = weights.meta["categories"]  # ships with torchvision, no download
    assert [names[i] for i in IMAGENET_16_CLASS_MAP["bear"]] == [
        "brown bear", "American black bear", "ice bear", "sloth bear",
    ]  # fmt: skip
    assert [names[i] for i in IMAGENET_16_CLASS_MAP["elephant"]] == [
        "Indian elephant", "African elephant",
    ]  # fmt: skip
    assert all("keyboard" in names[i] for i in IMAGENET_16_CLASS_MAP["keyboard"])
    assert all("clock" in names[i] for i in IMAGENET_16_CLASS_MAP["clock"])


def test_an_imagenet_model_output_maps_to_16_scores():
    logits = torch.zeros(2, 1000)
    logits[0, 294] = 10.0  # brown bear
    logits[1, 817] = 10.0  # sports car
    decisions = aggregate_probabilities(logits, IMAGENET_16_CLASS_MAP).argmax(1)
    names = list(IMAGENET_16_CLASS_MAP)
    assert [names[d] for d in decisions] == ["bear", "car"]


def test_errors():
    with pytest.raises(ValueError, match=r"class_map\['b'\] refers to model class 5"):
        aggregate_probabilities(torch.zeros(1, 3), {"a": [0], "b": [5]})
    with pytest.raises(ValueError, match="probabilities"):
        aggregate_probabilities(torch.tensor([[0.5, 0.5]]), {"a": [0]})
    with pytest.raises(TypeError, match="class_map must map str names"):
        aggregate_probabilities(torch.zeros(1, 3), {"a": "012"})
    with pytest.raises(ValueError, match="non-negative int"):
        aggregate_probabilities(torch.zeros(1, 3), {"a": [True]})
