import json
import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from shapebias.metrics import ShapeBias, shape_bias, shape_bias_table
from shapebias.models import TrainModeWarning
from tests._models import seeded_images, tiny_cnn
from tests.metrics._lookup import LogitsModel, LookupModel, id_images

# (shape, texture, decision) per image; outcome in the comment. Class 3 is never decided.
CASES = [
    (0, 1, 0),  # shape
    (0, 2, 2),  # texture
    (1, 0, 1),  # shape
    (1, 2, 0),  # neither
    (1, 3, 1),  # shape
    (2, 0, 0),  # texture
    (2, 1, 0),  # neither
    (3, 0, 1),  # neither: class 3 has no cue decision at all
    (3, 3, 0),  # same classes: excluded
    (0, 0, 1),  # same classes: excluded
]
SHAPES = torch.tensor([c[0] for c in CASES])
TEXTURES = torch.tensor([c[1] for c in CASES])
MODEL = LookupModel([c[2] for c in CASES], num_classes=4)
DATA = (id_images(len(CASES)), SHAPES, TEXTURES)


def run(model=MODEL, data=DATA, **kwargs):
    kwargs.setdefault("progress", False)
    return shape_bias(model, data, **kwargs)


def test_exact_shape_bias_cue_match_and_per_class_values():
    result = run(batch_size=3)
    assert isinstance(result, ShapeBias)
    assert (result.shape_decisions, result.texture_decisions) == (3, 2)
    assert (result.conflict_images, result.excluded) == (8, 2)
    assert result.shape_bias.value == 3 / 5
    assert result.cue_match.value == 5 / 8
    values = {name: e.value for name, e in result.per_class.items()}
    assert list(values) == ["0", "1", "2", "3"]
    assert values["0"] == 1 / 2 and values["1"] == 1.0 and values["2"] == 0.0
    assert math.isnan(values["3"])
    assert result.decisions.tolist() == [c[2] for c in CASES]
    assert result.class_names == ("0", "1", "2", "3")


def test_batching_and_loaders_do_not_change_the_result():
    loader = DataLoader(TensorDataset(*DATA), batch_size=4)
    reference = run(batch_size=100).to_dict()
    assert run(data=loader).to_dict() == reference
    assert run(batch_size=1).to_dict() == reference


def test_intervals_cover_the_values_and_shrink_with_more_images():
    small = run()
    repeats = 20
    large_model = LookupModel([c[2] for c in CASES] * repeats, num_classes=4)
    large_data = (id_images(len(CASES) * repeats), SHAPES.repeat(repeats), TEXTURES.repeat(repeats))
    large = run(large_model, large_data)
    assert large.shape_bias.value == small.shape_bias.value
    for result in (small, large):
        for e in (result.shape_bias, result.cue_match, result.per_class["0"]):
            assert e.low <= e.value <= e.high
    for key in ("shape_bias", "cue_match"):
        narrow, wide = getattr(large, key), getattr(small, key)
        assert narrow.high - narrow.low < wide.high - wide.low
    assert run(seed=1).to_dict() == run(seed=1).to_dict()


def test_class_map_uses_the_mean_member_probability():
    probabilities = torch.tensor(
        [
            [0.30, 0.30, 0.35, 0.05, 0.00],  # means a .30, b .35 -> b (a sum would win)
            [0.05, 0.05, 0.00, 0.90, 0.00],  # output 3 is unmapped -> a
            [0.20, 0.20, 0.20, 0.20, 0.20],  # exact tie between a, b, c -> first: a
            [0.00, 0.10, 0.00, 0.00, 0.90],  # -> c
        ]
    )
    model = LogitsModel(probabilities.clamp_min(1e-6).log())
    class_map = {"a": [0, 1], "b": [2], "c": [4]}
    data = (id_images(4), torch.tensor([1, 0, 1, 2]), torch.tensor([0, 1, 0, 0]))
    result = run(model, data, class_map=class_map)
    assert result.decisions.tolist() == [1, 0, 0, 2]
    assert result.class_names == ("a", "b", "c")
    assert set(result.per_class) == {"a", "b", "c"}
    assert (result.shape_decisions, result.texture_decisions) == (3, 1)


def test_class_names_label_the_per_class_values():
    result = run(class_names=["w", "x", "y", "z"])
    assert list(result.per_class) == ["w", "x", "y", "z"]


def test_real_model_keeps_state_and_inputs():
    model = tiny_cnn(3)
    images = seeded_images(6)
    copy = images.clone()
    result = run(
        model, (images, torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([1, 2, 0, 2, 0, 1]))
    )
    assert torch.equal(images, copy) and not model.training
    assert all(p.grad is None for p in model.parameters())
    assert 0 <= result.cue_match.value <= 1
    with pytest.warns(TrainModeWarning, match="shape_bias"):
        run(model.train(), (images, torch.zeros(6).long(), torch.ones(6).long()))


def test_to_dict_and_markdown():
    result = run(num_bootstrap=0)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["shape_bias"]["value"] == 0.6 and payload["per_class"]["3"]["value"] is None
    lines = result.to_markdown("standard").splitlines()
    assert lines[0] == "| model | shape bias | cue match | 0 | 1 | 2 | 3 |"
    assert lines[2] == "| standard | 60.0 | 62.5 | 50.0 | 100.0 | 0.0 | - |"
    other = run(LookupModel([c[0] for c in CASES], num_classes=4), num_bootstrap=0)
    table = shape_bias_table({"standard": result, "shape": other}, intervals=False)
    assert table.splitlines()[3] == "| shape | 100.0 | 100.0 |"
    assert run().to_markdown(per_class=False).splitlines()[2].startswith("| model | 60.0 [")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"data": (id_images(3), torch.zeros(3).long())}, ValueError, "got a tuple of 2"),
        ({"data": []}, ValueError, "empty dataset"),
        (
            {"data": [(id_images(2), torch.zeros(2).long())]},
            TypeError,
            r"\(images, shape_labels, texture_labels\) tuples",
        ),
        ({"data": 3}, TypeError, "DataLoader"),
        ({"data": (id_images(10), SHAPES, TEXTURES[:9])}, ValueError, "texture_labels must"),
        ({"data": (id_images(10), SHAPES, SHAPES)}, ValueError, "cue-conflict images"),
        ({"data": (id_images(10), SHAPES + 4, TEXTURES)}, ValueError, "below the model's 4"),
        ({"class_map": {"a": [0], "b": [9]}}, ValueError, "refers to model class 9"),
        ({"class_map": {"a": [0], "b": [1]}}, ValueError, "below class_map's 2 classes"),
        ({"class_map": {"a": [0, 1], "b": [1]}}, ValueError, "to both 'a' and 'b'"),
        ({"class_map": {"a": [-1]}}, ValueError, "non-negative int"),
        ({"class_map": {"a": []}}, TypeError, "non-empty lists"),
        ({"class_map": {}}, TypeError, "non-empty dict"),
        ({"class_map": [[0]]}, TypeError, "non-empty dict"),
        ({"class_map": {"a": [0]}, "class_names": ["a"]}, ValueError, "class_names must be None"),
        ({"class_names": ["a"]}, ValueError, "class_names must be 4 strings"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"num_bootstrap": -2}, ValueError, "num_bootstrap"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        run(**kwargs)


def test_shape_bias_table_bad_input():
    with pytest.raises(TypeError, match=r"results\['a'\] must be a ShapeBias"):
        shape_bias_table({"a": 1})
