"""``shapebias evaluate`` end to end on tiny stimulus folders and a local torchvision checkpoint."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest
import torch
import torchvision

from shapebias import cli
from shapebias.data import stimulus_folder
from shapebias.metrics import CategoryModel, texture_blind_null
from shapebias.models import IMAGENET_MEAN, IMAGENET_STD, NormalizedModel
from tests._stimuli import card_arguments, write_stimulus_tree

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory) -> dict[str, Path]:
    return write_stimulus_tree(tmp_path_factory.mktemp("stimuli"))


def _run(stimuli, out: Path, *extra: str) -> dict:
    assert cli.main([*card_arguments(stimuli, out), *extra]) == 0
    return json.loads((out / "card.json").read_text())


def test_evaluate_writes_a_card_that_matches_the_library_calls(stimuli, tmp_path):
    card = _run(stimuli, tmp_path)
    assert (tmp_path / "card.md").read_text().startswith("# Model card: mobilenet_v3_small")
    assert (tmp_path / "card.png").stat().st_size > 0
    assert list(card["accuracy"]) == ["clean", "silhouette", "sketch"]
    assert [card["accuracy"][n]["images"] for n in ("clean", "silhouette")] == [6, 3]

    # recompute the clean accuracy by hand through the 1000 -> 16 rule
    network = torchvision.models.mobilenet_v3_small().eval()
    network.load_state_dict(torch.load(stimuli["weights"], weights_only=True)["state_dict"])
    mapped = CategoryModel(NormalizedModel(network, IMAGENET_MEAN, IMAGENET_STD))
    clean = stimulus_folder(stimuli["root"] / "clean", size=32)
    images = torch.stack([clean[i][0] for i in range(len(clean))])
    with torch.no_grad():
        right = (mapped(images).argmax(1) == torch.tensor(clean.targets)).float().mean()
    assert card["accuracy"]["clean"]["value"] == pytest.approx(float(right))

    bias = card["shape_bias"]
    assert bias["conflict_images"] == 3 and bias["excluded"] == 1
    silhouette = card["accuracy"]["silhouette"]["value"]
    assert bias["null"]["value"] == pytest.approx(texture_blind_null(silhouette, 16))
    robust = card["robust"]
    assert robust["attack"].startswith("AutoAttack") and robust["queries"] == 20
    assert robust["num_targets"] == 9  # AutoAttack's standard, not all 15 other categories
    assert robust["total"] == 4
    assert robust["robust_correct"] <= robust["clean_correct"]
    provenance = card["provenance"]
    assert provenance["seed"] == 0 and provenance["arguments"]["arch"] == "mobilenet_v3_small"
    assert len(provenance["weights_sha256"]) == 64 and provenance["world_size"] == 1


def test_same_seed_same_card(stimuli, tmp_path):
    first, second = (_run(stimuli, tmp_path / name) for name in ("a", "b"))
    for card in (first, second):
        card.pop("provenance")
    assert first == second


def test_a_model_with_neither_1000_nor_16_outputs_is_refused(stimuli, tmp_path, capsys):
    network = torchvision.models.mobilenet_v3_small(num_classes=10)
    torch.save(network.state_dict(), tmp_path / "ten.pth")
    assert cli.main([
        "evaluate", "--arch", "mobilenet_v3_small", "--num-classes", "10", "--weights",
        str(tmp_path / "ten.pth"), "--clean", str(stimuli["root"] / "clean"), "--size",
        "32", "--workers", "0", "--out", str(tmp_path / "card"),
    ]) == 1  # fmt: skip
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(r"1000 ImageNet classes .* or the 16 categories.*got 10", line)


def test_bad_arguments_exit_with_a_message(stimuli, tmp_path, capsys):
    weights = str(stimuli["weights"])
    assert cli.main(["evaluate", "--arch", "resnet18", "--weights", weights, "--out", "o"]) == 2
    assert "at least one of --clean, --ood, --cue-conflict" in capsys.readouterr().err
    argv = ["evaluate", "--arch", "x", "--weights", weights, "--eps", "4//255", "--out", "o"]
    assert cli.main(argv) == 2
    assert "expected a number such as 4/255, got '4//255'" in capsys.readouterr().err
    assert cli.main([*card_arguments(stimuli, tmp_path), "--shape-only", "stylized"]) == 2
    assert "condition folder of --ood" in capsys.readouterr().err


def test_console_script_is_declared():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    scripts = config["options.entry_points"]["console_scripts"].strip().splitlines()
    assert scripts == ["shapebias = shapebias.cli:main"]
