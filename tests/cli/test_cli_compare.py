"""``shapebias compare`` on tiny local checkpoints and a tiny image folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from shapebias.cli import main
from shapebias.data import dataset_tensors, image_folder
from shapebias.experiments import Settings, compare
from shapebias.models import load_pretrained, small_cnn

CLASSES = ("circle", "square", "star")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    generator = torch.Generator().manual_seed(0)
    for name in CLASSES:
        folder = root / "data" / name
        folder.mkdir(parents=True)
        for i in range(6):
            pixels = (torch.rand(16, 16, 3, generator=generator) * 255).to(torch.uint8)
            Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")
    for name, seed in (("std0", 0), ("std1", 1), ("at0", 2), ("at1", 3)):
        torch.manual_seed(seed)
        torch.save({"state_dict": small_cnn(3, width=8).state_dict()}, root / f"{name}.pt")
    return {"root": root}


def _arguments(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "compare",
        "--baseline", f"standard=small_cnn:{root / 'std0.pt'}",
        "--baseline", f"standard=small_cnn:{root / 'std1.pt'}",
        "--model", f"pgd=small_cnn:{root / 'at0.pt'}",
        "--model", f"pgd=small_cnn:{root / 'at1.pt'}",
        "--data", str(root / "data"), "--size", "16", "--mean", "0,0,0", "--std", "1,1,1",
        "--quick", "--set", "robust_size=8", "--set", "saliency_images=2",
        "--set", "saliency_samples=2", "--set", "num_bootstrap=30",
        "--claims", "saturated p=8", "shuffled 4x4", "shape bias",
        "--out", str(out),
        *extra,
    ]  # fmt: skip


def _width8(num_classes: int) -> torch.nn.Module:
    return small_cnn(num_classes, width=8)


def test_compare_writes_the_table_the_library_gives(setup, tmp_path, monkeypatch):
    root = setup["root"]
    from shapebias.cli import _compare

    monkeypatch.setitem(_compare._OWN, "small_cnn", _width8)  # the checkpoints' width
    assert main(_arguments(root, tmp_path)) == 0
    saved = json.loads((tmp_path / "comparison.json").read_text())
    for suffix in ("md", "csv", "png"):
        assert (tmp_path / f"comparison.{suffix}").stat().st_size > 0

    # The same call through the API on the same checkpoints and images.
    def load(name):
        return load_pretrained(root / name, _width8, num_classes=3, mean=[0.0] * 3, std=[1.0] * 3)

    models = {"standard": [load("std0.pt"), load("std1.pt")],
              "pgd": [load("at0.pt"), load("at1.pt")]}  # fmt: skip
    data = dataset_tensors(image_folder(root / "data"))
    settings = Settings.quick().replace(
        robust_size=8, saliency_images=2, saliency_samples=2, num_bootstrap=30
    )
    expected = compare(models, data, baseline="standard",
                       claims=["saturated p=8", "shuffled 4x4", "shape bias"],
                       settings=settings, progress=False)  # fmt: skip
    assert saved["rows"] == expected.to_dict()["rows"]
    assert [r["verdict"] for r in saved["rows"]][2] == "skipped"  # no --cue-conflict


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--claims", "stylised"], r"unknown claim\(s\) 'stylised'"),
        (["--set", "width=3"], "an evaluation or statistics setting"),
        (["--data", "TWO"], r"--data has 2 classes \(circle, square\) but the models output 3"),
    ],
)
def test_bad_input_is_one_clear_error_before_evaluation(setup, tmp_path, monkeypatch, capsys,
                                                        extra, message):  # fmt: skip
    from shapebias.cli import _compare

    monkeypatch.setitem(_compare._OWN, "small_cnn", _width8)
    if extra[-1] == "TWO":  # a data folder without the third class
        two = tmp_path / "two"
        for name in CLASSES[:2]:
            (two / name).mkdir(parents=True)
            for image in (setup["root"] / "data" / name).iterdir():
                (two / name / image.name).write_bytes(image.read_bytes())
        extra = ["--data", str(two), "--num-classes", "3"]
    assert main(_arguments(setup["root"], tmp_path / "out", *extra)) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()
