"""``shapebias evaluate --humans``: the model's raw trials and the card's human comparison."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from shapebias import cli
from shapebias.data import CueConflictDataset, ood_datasets, read_raw_trials
from shapebias.metrics import CategoryModel, compare_with_humans
from shapebias.models import IMAGENET_MEAN, IMAGENET_STD, NormalizedModel
from tests._raw_trials import write_maker
from tests._stimuli import _png, write_stimulus_tree

# uniform-noise stimuli named as model-vs-human names them (condition in field 3);
# 0.00 is an excluded condition, 0.10 and 0.35 are kept.
NOISE = [(c, cat, f"n0{k}00000{j}_{j}.png") for k, c in enumerate(["0.00", "0.10", "0.35"])
         for j, cat in enumerate(["cat", "dog"])]  # fmt: skip
SKETCH = [("cat", "cat-0001-sketch-1.png"), ("dog", "dog-0002-sketch-4.png"),
          ("bear", "bear-0003-sketch-2.png")]  # fmt: skip


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("humans")
    stimuli = write_stimulus_tree(root)  # cue/ (4 images) and the weights
    seed = 100
    for i, (condition, category, image) in enumerate(NOISE):
        name = f"{i + 1:04d}_nse_dnn_{condition}_{category}_10_{image}"
        _png(root / "mine" / "uniform-noise" / category / name, seed := seed + 1)
    for category, name in SKETCH:
        _png(root / "mine" / "sketch" / category / name, seed := seed + 1)
    raw = root / "raw-data"
    rng = np.random.default_rng(0)
    for k in range(2):
        subject = f"subject-0{k + 1}"
        noise = [(c, image, cat, cat if rng.random() < 0.7 else "na") for c, cat, image in NOISE]
        write_maker(raw, "uniform-noise", subject, noise, seed=k)
        sketch = [("0", name, cat, cat if rng.random() < 0.7 else "oven") for cat, name in SKETCH]
        write_maker(raw, "sketch", subject, sketch, seed=k)
        files = sorted((root / "cue").rglob("*.png"))
        cue = [("0", p.name, p.parent.name, p.parent.name) for p in files]
        write_maker(raw, "cue-conflict", subject, cue, seed=k)
    # A dataset with human trials but no stimuli here.
    write_maker(raw, "edge", "subject-03", [("0", "a.png", "cat", "cat")])
    return {**stimuli, "raw": raw, "ood": root / "mine", "cue": root / "cue"}


def _arguments(tree, out: Path, *extra: str) -> list[str]:
    return [
        "evaluate", "--arch", "mobilenet_v3_small", "--weights", str(tree["weights"]),
        "--ood", str(tree["ood"]), "--cue-conflict", str(tree["cue"]), "--size", "32",
        "--batch-size", "4", "--workers", "0", "--bootstrap", "30", "--out", str(out), *extra,
    ]  # fmt: skip


def _decisions(tree, dataset) -> list[str]:
    """The model's decisions by hand, through the 1000 -> 16 rule."""
    network = torchvision.models.mobilenet_v3_small().eval()
    network.load_state_dict(torch.load(tree["weights"], weights_only=True)["state_dict"])
    mapped = CategoryModel(NormalizedModel(network, IMAGENET_MEAN, IMAGENET_STD))
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.no_grad():
        return [dataset.classes[int(i)] for i in mapped(images).argmax(1)]


def test_evaluate_writes_trials_that_read_back_as_the_decisions(tree, tmp_path):
    out = tmp_path / "card"
    assert cli.main([*_arguments(tree, out), "--humans", str(tree["raw"]), "--name", "mine"]) == 0
    written = read_raw_trials(out / "raw-data")
    assert sorted(written) == ["cue-conflict", "sketch", "uniform-noise"]
    stimuli = {**ood_datasets(tree["ood"], size=32),
               "cue-conflict": CueConflictDataset(tree["cue"], size=32)}  # fmt: skip
    for dataset, data in stimuli.items():
        trials = written[dataset]["mine"]
        assert trials.object_response.tolist() == _decisions(tree, data)
        assert trials.category.tolist() == [data.classes[label] for _, label in data.samples]
        assert trials.imagename.tolist() == [p.name for p, _ in data.samples]
        assert np.isnan(trials.rt).all()
    noise = written["uniform-noise"]["mine"]
    assert sorted(set(noise.condition.tolist())) == ["0.00", "0.10", "0.35"]

    card = json.loads((out / "card.json").read_text())
    humans = card["humans"]
    assert humans["decision_maker"] == "mine"
    assert humans["no_stimuli"] == ["edge"] and humans["no_human_trials"] == []
    raw = read_raw_trials(tree["raw"])
    for dataset in ("uniform-noise", "sketch", "cue-conflict"):
        subjects = {m: t for m, t in raw[dataset].items() if t.human}
        expected = compare_with_humans(
            dataset, written[dataset]["mine"], subjects, num_bootstrap=30
        ).to_dict()
        assert humans["datasets"][dataset] == expected
    assert humans["datasets"]["uniform-noise"]["images"] == 4  # 0.00 left out
    assert humans["datasets"]["cue-conflict"]["human_shape_bias"] == 1.0
    markdown = (out / "card.md").read_text()
    assert "## Compared with people" in markdown and "human trials without stimuli" in markdown

    # The written trials rank the model against the others with shapebias benchmark.
    table = tmp_path / "table"
    argv = ["benchmark", str(tree["raw"]), str(out / "raw-data"), "--out", str(table)]
    assert cli.main([*argv, "--no-figures"]) == 0
    record = json.loads((table / "benchmark.json").read_text())
    assert record["rows"]["mine"]["datasets"]["sketch"]["error_consistency"] == pytest.approx(
        humans["datasets"]["sketch"]["error_consistency"]["value"], abs=1e-12
    )


def test_card_without_humans_has_no_human_section(tree, tmp_path):
    out = tmp_path / "card"
    assert cli.main(_arguments(tree, out)) == 0
    card = json.loads((out / "card.json").read_text())
    assert "humans" not in card and not (out / "raw-data").exists()
    assert "Compared with people" not in (out / "card.md").read_text()


def test_humans_needs_stimuli_and_aligned_images(tree, tmp_path, capsys):
    status = cli.main([
        "evaluate", "--arch", "mobilenet_v3_small", "--weights", str(tree["weights"]),
        "--clean", str(tree["cue"]), "--humans", str(tree["raw"]), "--out", str(tmp_path / "c"),
    ])  # fmt: skip
    assert status == 2  # a usage error, found before any work
    assert "--humans needs --ood" in capsys.readouterr().err
    # Human trials on images these stimuli do not have: a runtime failure, one line.
    raw = tmp_path / "raw"
    write_maker(raw, "sketch", "subject-01", [("0", "other.png", "cat", "cat")])
    assert cli.main([*_arguments(tree, tmp_path / "o"), "--humans", str(raw)]) == 1
    assert "ValueError" in capsys.readouterr().err.strip().splitlines()[-1]
    cli.main([*_arguments(tree, tmp_path / "o"), "--humans", str(raw), "--debug"])
    assert "do not align" in capsys.readouterr().err
