"""``compare`` on two tiny trained models: its numbers are the library's, its table and
files agree, each model is evaluated once, and bad input is refused before evaluation."""

from __future__ import annotations

import json

import pytest
import torch

from shapebias.data import ShapeTextureDataset, dataset_tensors
from shapebias.experiments import Comparison, Settings, compare, paper_distortions
from shapebias.metrics import distortion_accuracy
from shapebias.models import small_cnn
from shapebias.training import Recipe

FAST = Settings.quick().replace(
    robust_size=16, saliency_images=4, saliency_samples=2, num_bootstrap=50, eval_steps=2
)


def _split(name: str, size: int = 48) -> tuple[torch.Tensor, ...]:
    dataset = ShapeTextureDataset(name, size=size, image_size=16, num_classes=4, seed=3)
    return dataset_tensors(dataset)


@pytest.fixture(scope="module")
def trained() -> dict[str, list[torch.nn.Module]]:
    """Two standard models (two seeds) and their PGD fine-tunes, a few batches each."""
    images, labels = _split("train", 128)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=32, shuffle=False
    )
    sets: dict[str, list[torch.nn.Module]] = {"standard": [], "pgd": []}
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = small_cnn(4, width=8)
        Recipe.standard(epochs=2, optimizer="adam").fit(model, loader, progress=False)
        sets["standard"].append(model.eval())
        tuned = small_cnn(4, width=8)
        tuned.load_state_dict(model.state_dict())
        Recipe.pgd_linf(4 / 255, steps=1, epochs=1, optimizer="adam").fit(
            tuned, loader, progress=False
        )
        sets["pgd"].append(tuned.eval())
    return sets


@pytest.fixture(scope="module")
def comparison(trained) -> Comparison:
    return compare(
        trained,
        _split("test"),
        baseline="standard",
        cue_conflict=_split("cue_conflict"),
        shape_only=_split("shape_only"),
        settings=FAST,
        progress=False,
    )


def test_rows_cover_every_claim_and_match_the_library(trained, comparison):
    assert [row.claim.name for row in comparison.rows] == [
        "stylized", "saturated p=8", "saturated p=1024", "shuffled 2x2", "shuffled 4x4",
        "shuffled 8x8", "low-pass", "shape bias", "saliency edge alignment",
        "saliency concentration",
    ]  # fmt: skip
    assert {row.model for row in comparison.rows} == {"pgd"}
    # The relative accuracy of each seed is distortion_accuracy's, seeded by settings.seed.
    test = _split("test")
    distortions = {"saturated p=8": paper_distortions(16)["saturated p=8"]}
    row = next(r for r in comparison.rows if r.claim.name == "saturated p=8")
    for index, name in enumerate(("pgd", "standard")):
        expected = [
            distortion_accuracy(m, test, distortions, seed=FAST.seed, progress=False)
            .relative["saturated p=8"]
            .value
            for m in trained[name]
        ]
        values = row.difference.at if index == 0 else row.difference.baseline
        assert list(values) == pytest.approx(expected, abs=1e-12)
    assert row.difference.num_seeds == 2


def test_to_dict_markdown_csv_and_files_agree(comparison, tmp_path):
    payload = comparison.to_dict()
    first = payload["rows"][0]
    assert set(first) >= {"model", "claim", "baseline_value", "model_value", "difference",
                          "low", "high", "seeds", "p_holm", "verdict"}  # fmt: skip
    assert first["seeds"] == 2 and payload["baseline"] == "standard"
    assert set(payload["time_breakdown"]["pgd"]) >= {"distortions", "robustness", "saliency"}
    text = comparison.markdown()
    for row in comparison.rows:
        assert f"| {row.model} | {row.claim.name} |" in text and row.verdict in text
    comparison.save(tmp_path)
    assert json.loads((tmp_path / "comparison.json").read_text()) == payload
    lines = (tmp_path / "comparison.csv").read_text().splitlines()
    assert lines[0].startswith("model,claim,baseline_value") and len(lines) == 11
    assert (tmp_path / "comparison.png").stat().st_size > 0


def test_each_model_is_evaluated_once_per_distorted_test_set(trained):
    """One forward pass over the test images per model and distorted set, however many
    claims read it."""
    calls = []

    class Counting(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, images):
            calls.append(len(images))
            return self.inner(images)

    test = _split("test")
    models = {name: Counting(ms[0]) for name, ms in trained.items()}
    claims = ["saturated p=8", "saturated p=1024"]
    compare(models, test, baseline="standard", claims=claims, settings=FAST, progress=False)
    # Per model: the class probe, clean, the two saturated sets; the attacks use 16 images.
    assert calls.count(len(test[0])) == 2 * 3


def test_a_set_of_one_and_skipped_claims_say_why(trained):
    gray = _split("test")
    gray = (gray[0][:, :1].repeat(1, 3, 1, 1)[:, :1], gray[1])  # one channel
    net = {"standard": small_cnn(4, width=4, in_channels=1).eval(),
           "other": small_cnn(4, width=4, in_channels=1).eval()}  # fmt: skip
    result = compare(net, gray, baseline="standard", claims=["stylized", "shape bias",
                     "saturated p=8"], settings=FAST, progress=False)  # fmt: skip
    by_name = {row.claim.name: row for row in result.rows}
    assert "colour" in by_name["stylized"].reason and by_name["stylized"].verdict == "skipped"
    assert "cue-conflict" in by_name["shape bias"].reason
    assert by_name["saturated p=8"].difference.num_seeds == 1
    assert "covers test images only" in result.markdown()
    odd = (torch.rand(8, 3, 12, 12), torch.randint(0, 4, (8,)))
    models = {"standard": trained["standard"][0], "pgd": trained["pgd"][0]}
    result = compare(models, odd, baseline="standard", claims=["shuffled 8x8"], settings=FAST,
                     progress=False)  # fmt: skip
    assert "does not divide the 12 px side" in result.rows[0].reason


@pytest.mark.parametrize(
    "change,message",
    [
        ({"baseline": "missing"}, "baseline must be the name of one of the models"),
        ({"models": "unequal"}, "paired by position"),
        ({"models": "classes"}, "same number of classes"),
        ({"data": "labels"}, "output 4 classes. Order the data's classes"),
        ({"cue_conflict": "agree"}, "no image whose shape and texture classes differ"),
        ({"claims": ["stylised"]}, "unknown claim"),
    ],
)
def test_bad_input_is_refused_before_anything_is_evaluated(trained, change, message):
    calls = []

    def model(images):  # a callable that records every call beyond the class probe
        calls.append(len(images))
        return trained["standard"][0](images)

    models = {"standard": [model, model], "pgd": trained["pgd"]}
    test = _split("test")
    kwargs = {"baseline": "standard", "settings": FAST, "progress": False}
    if change.get("baseline"):
        kwargs["baseline"] = change["baseline"]
    if change.get("models") == "unequal":
        models["pgd"] = trained["pgd"][:1]
    if change.get("models") == "classes":
        models["pgd"] = [small_cnn(5, width=4).eval()] * 2
    if change.get("data") == "labels":
        test = (test[0], test[1] + 3)
    if change.get("cue_conflict"):
        kwargs["cue_conflict"] = (test[0], test[1], test[1])
    if change.get("claims"):
        kwargs["claims"] = change["claims"]
    with pytest.raises(ValueError, match=message):
        compare(models, test, **kwargs)
    assert all(n == 1 for n in calls)  # at most the one-image class probe ran


@pytest.mark.parametrize("flag", ["progress", "distributed"])
def test_a_string_flag_is_refused_before_anything_is_evaluated(trained, flag):
    """``bool("False")`` is True: a string would silently mean the opposite."""
    with pytest.raises(TypeError, match=f"{flag} must be True or False, got str 'False'"):
        compare(trained, _split("test"), baseline="standard", settings=FAST,
                **{"progress": False, flag: "False"})  # fmt: skip
