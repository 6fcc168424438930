import functools
import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.metrics import DistortionAccuracy, accuracy_table, distortion_accuracy
from shapebias.models import TrainModeWarning
from tests._models import seeded_images, seeded_labels, tiny_cnn
from tests.metrics._lookup import LookupModel, id_images, mark

# Ten images of classes 0/1 (class 2 exists but is never predicted).
LABELS = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
CLEAN = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0]  # right on images 0-5: 6 of 10
DISTORTED = [0, 1, 0, 1, 1, 0, 0, 0, 1, 1]  # right on 0-3 (4 of the 6) and on 6, 9
MODEL = LookupModel(CLEAN, DISTORTED)
DATA = (id_images(10), LABELS)


def flip(images, *, generator=None):
    """A deterministic distortion of one's own, keeping the protocol."""
    return images.flip(-1)


def run(model=MODEL, data=DATA, distortions=None, **kwargs):
    kwargs.setdefault("progress", False)
    return distortion_accuracy(model, data, distortions or {"marked": mark}, **kwargs)


def test_exact_accuracy_and_relative_accuracy():
    result = run(batch_size=4)
    assert result.total == 10
    assert result.clean.value == 6 / 10
    assert result.accuracy["marked"].value == 6 / 10
    assert result.relative["marked"].value == 4 / 6
    assert result.correct["clean"].tolist() == [True] * 6 + [False] * 4
    assert result.correct["marked"].tolist() == [1, 1, 1, 1, 0, 0, 1, 0, 0, 1]


def test_relative_accuracy_is_not_a_mean_of_per_batch_ratios():
    # Batch 1: one image, right clean and distorted (ratio 1). Batch 2: four images right
    # on clean, one of them right distorted (ratio 1/4). Mean of ratios: 0.625. Truth: 2/5.
    model = LookupModel([0, 0, 0, 0, 0], [0, 0, 1, 1, 1])
    images, labels = id_images(5), torch.zeros(5, dtype=torch.long)
    loader = [(images[:1], labels[:1]), (images[1:], labels[1:])]
    assert run(model, loader).relative["marked"].value == 2 / 5
    for batch_size in (1, 2, 3, 5):
        assert run(model, (images, labels), batch_size=batch_size).relative["marked"].value == 0.4


@given(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=40),
    st.integers(1, 8),
)
def test_counts_match_a_literal_reference_for_any_batching(outcomes, batch_size):
    n = len(outcomes)
    labels = torch.zeros(n, dtype=torch.long)
    model = LookupModel([0 if c else 1 for c, _ in outcomes], [0 if d else 1 for _, d in outcomes])
    loader = DataLoader(TensorDataset(id_images(n), labels), batch_size=batch_size)
    result = run(model, loader, num_bootstrap=0)
    clean_right = sum(c for c, _ in outcomes)
    both = sum(c and d for c, d in outcomes)
    assert result.clean.value == clean_right / n
    assert result.accuracy["marked"].value == sum(d for _, d in outcomes) / n
    relative = result.relative["marked"].value
    assert relative == both / clean_right if clean_right else math.isnan(relative)


def test_no_clean_image_right_gives_nan_relative_accuracy():
    result = run(LookupModel([2] * 10, [0] * 10))
    assert result.clean.value == 0.0 and result.accuracy["marked"].value == 0.5
    assert math.isnan(result.relative["marked"].value)
    assert result.to_markdown(intervals=False).splitlines()[2] == "| model | 0.0 | 50.0 (-) |"


def test_intervals_cover_the_values_and_shrink_with_more_images():
    small = run()
    large = run(LookupModel(CLEAN * 25, DISTORTED * 25), (id_images(250), LABELS.repeat(25)))
    for result in (small, large):
        for e in (result.clean, result.accuracy["marked"], result.relative["marked"]):
            assert e.low <= e.value <= e.high
    assert large.relative["marked"].value == small.relative["marked"].value
    for key in ("accuracy", "relative"):
        narrow, wide = getattr(large, key)["marked"], getattr(small, key)["marked"]
        assert narrow.high - narrow.low < wide.high - wide.low


def test_bootstrap_is_seeded():
    assert run(seed=3).to_dict() == run(seed=3).to_dict()
    assert run(seed=3).to_dict() != run(seed=4).to_dict()
    no_intervals = run(num_bootstrap=0)
    assert math.isnan(no_intervals.clean.low) and no_intervals.clean.value == 0.6


class Recorder:
    """A random distortion that records the generator it was given."""

    def __init__(self):
        self.seeds = []

    def __call__(self, images, *, generator=None):
        self.seeds.append(generator.initial_seed())
        noise = torch.rand(images.shape, generator=generator, device=images.device)
        return (images + 0.1 * noise).clamp(0, 1)


class ModuleDistortion(nn.Module):
    def __init__(self):
        super().__init__()
        self.generators = []

    def forward(self, images, generator=None):
        self.generators.append(generator)
        return images


def test_every_distortion_gets_its_own_seeded_generator():
    first, module = Recorder(), ModuleDistortion()
    model = tiny_cnn(3)
    data = (seeded_images(12), seeded_labels(12))
    result = run(model, data, {"noise": first, "module": module, "flip": flip},
                 batch_size=5)  # fmt: skip
    assert len(first.seeds) == 3 and len(set(first.seeds)) == 1  # one generator per distortion
    assert all(isinstance(g, torch.Generator) for g in module.generators)
    assert module.generators[0].initial_seed() != first.seeds[0]
    again = Recorder()
    rerun = run(model, data, {"noise": again, "flip": flip}, batch_size=5)
    assert again.seeds == first.seeds  # keyed by name: adding "module" changed nothing
    assert torch.equal(rerun.correct["noise"], result.correct["noise"])
    other_seed = Recorder()
    run(model, data, {"noise": other_seed}, batch_size=5, seed=1)
    assert other_seed.seeds[0] != first.seeds[0]


def test_real_model_keeps_state_and_inputs():
    model = tiny_cnn(3)
    images, labels = seeded_images(6), seeded_labels(6)
    images_copy, state = images.clone(), {k: v.clone() for k, v in model.state_dict().items()}
    result = run(model, (images, labels), {"flip": flip}, batch_size=4)
    assert torch.equal(images, images_copy)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert result.correct["flip"].dtype == torch.bool and result.correct["flip"].shape == (6,)


def test_train_mode_warns():
    with pytest.warns(TrainModeWarning, match="distortion_accuracy"):
        run(
            tiny_cnn(3).train(),
            (seeded_images(4), seeded_labels(4)),
            {"id": lambda x, generator=None: x},
        )


def test_to_dict_is_strict_json_and_complete():
    payload = run(LookupModel([2] * 10, [0] * 10)).to_dict()
    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text)["distortions"]["marked"]["relative"]["value"] is None
    full = run().to_dict()
    assert full["total"] == 10 and full["clean"]["correct"] == 6
    assert full["distortions"]["marked"]["correct"] == 6
    assert full["distortions"]["marked"]["correct_on_both"] == 4
    assert full["distortions"]["marked"]["relative"]["value"] == 4 / 6


def test_markdown_layout():
    result = run(num_bootstrap=0)
    lines = result.to_markdown("standard").splitlines()
    assert lines[0] == "| model | clean | marked |"
    assert lines[1] == "| :--- | ---: | ---: |"
    assert lines[2] == "| standard | 60.0 | 60.0 (66.7) |"
    with_intervals = run().to_markdown(digits=0).splitlines()[2]
    assert with_intervals.startswith("| model | 60 [") and "(67 [" in with_intervals
    assert result.to_markdown(relative=False).splitlines()[2] == "| model | 60.0 | 60.0 |"


def test_accuracy_table_combines_models_row_by_row():
    standard = run(num_bootstrap=0)
    robust = run(LookupModel(CLEAN, CLEAN), num_bootstrap=0,
                 distortions={"marked": mark, "other": mark})  # fmt: skip
    table = accuracy_table({"standard": standard, "pgd8": robust}, intervals=False)
    lines = table.splitlines()
    assert lines[0] == "| model | clean | marked | other |"
    assert lines[2] == "| standard | 60.0 | 60.0 (66.7) | - |"
    assert lines[3] == "| pgd8 | 60.0 | 60.0 (100.0) | 60.0 (100.0) |"
    assert "10 test images" in lines[-1]


def test_empty_distortions_evaluate_clean_only():
    result = distortion_accuracy(MODEL, DATA, {}, progress=False)
    assert result.distortions == () and result.clean.value == 0.6


def test_result_type():
    assert isinstance(run(), DistortionAccuracy)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"distortions": [mark]}, TypeError, "distortions must be a dict"),
        ({"distortions": {"clean": mark}}, ValueError, "reserved"),
        ({"distortions": {1: mark}}, TypeError, "keys must be str"),
        ({"distortions": {"x": 3}}, TypeError, r"distortions\['x'\] must be callable"),
        (
            {"distortions": {"x": lambda x, generator=None: x[:, :1]}},
            ValueError,
            "shaped like its input",
        ),
        (
            {"distortions": {"x": lambda x, generator=None: x * 2 + 1}},
            ValueError,
            r"output of distort.*\[0, 1\]",
        ),
        ({"data": []}, ValueError, "empty dataset"),
        ({"data": (id_images(10), LABELS[:9])}, ValueError, r"labels must have shape \(10,\)"),
        ({"data": 5}, TypeError, "DataLoader"),
        ({"model": "net"}, TypeError, "model must be a callable"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"confidence": 1.0}, ValueError, r"confidence must lie in \(0, 1\), got 1"),
        ({"confidence": 0}, ValueError, r"confidence must lie in \(0, 1\), got 0"),
        ({"num_bootstrap": -1}, ValueError, "num_bootstrap must be >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        run(**kwargs)


def test_bad_model_output():
    with pytest.raises(ValueError, match="probabilities"):
        run(lambda x: MODEL(x).softmax(1))
    with pytest.raises(ValueError, match="below the model's 3 outputs"):
        run(data=(id_images(10), LABELS + 2))


def test_accuracy_table_bad_input():
    with pytest.raises(TypeError, match="non-empty dict"):
        accuracy_table([run()])
    with pytest.raises(TypeError, match=r"results\['a'\] must be a DistortionAccuracy"):
        accuracy_table({"a": 0.5})


def test_partials_get_the_generator_and_callables_without_it_get_a_clear_error():
    def shift(images, amount, *, generator=None):
        assert isinstance(generator, torch.Generator)
        return (images + amount).clamp(0, 1)

    model = tiny_cnn(3)
    data = (seeded_images(4), seeded_labels(4))
    result = run(model, data, {"shift": functools.partial(shift, amount=0.1)})
    assert result.distortions == ("shift",)
    protocol = r"distortions\['sigmoid'\] is called as distortion\(images, generator=g\)"
    for plain in (torch.sigmoid, lambda x: x.flip(-1)):
        with pytest.raises(TypeError, match=protocol):
            run(model, data, {"sigmoid": plain})
