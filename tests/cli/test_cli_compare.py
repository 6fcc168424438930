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
from tests._torchrun import ROOT, run_two_ranks

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


# Under torchrun ----------------------------------------------------------------------------

CUE_CONFLICT = {"circle": ["circle1-square1", "circle2-star1", "circle3-circle4"],
                "square": ["square1-circle2", "square2-star2"],
                "star": ["star1-square3", "star2-circle3"]}  # fmt: skip


def _png(path: Path, generator: torch.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (torch.rand(16, 16, 3, generator=generator) * 255).to(torch.uint8)
    Image.fromarray(pixels.numpy()).save(path)


@pytest.fixture(scope="module")
def nine_models(tmp_path_factory) -> list[str]:
    """Three sets of three seeds (9 models: blocks of 4 and 5 on two processes), 15 test
    images, cue-conflict and shape-only images: every part that shards on its own."""
    root = tmp_path_factory.mktemp("sharded")
    generator = torch.Generator().manual_seed(1)
    for name in CLASSES:
        for i in range(5):
            _png(root / "data" / name / f"{i}.png", generator)
        _png(root / "shapes" / name / "0.png", generator)
        for stem in CUE_CONFLICT[name]:
            _png(root / "cue" / name / f"{stem}.png", generator)
    arguments = ["compare"]
    for index, (option, name) in enumerate(
        [("--baseline", "standard"), ("--model", "pgd"), ("--model", "trades")] * 3
    ):
        torch.manual_seed(10 + index)
        torch.save({"state_dict": small_cnn(3, width=8).state_dict()}, root / f"{index}.pt")
        arguments += [option, f"{name}=small_cnn:{root / f'{index}.pt'}"]
    arguments += [
        "--data", str(root / "data"), "--cue-conflict", str(root / "cue"),
        "--shape-only", str(root / "shapes"), "--size", "16", "--mean", "0,0,0",
        "--std", "1,1,1", "--quick", "--set", "robust_size=7", "--set", "saliency_images=3",
        "--set", "saliency_samples=2", "--set", "num_bootstrap=30", "--device", "cpu",
        "--claims", "stylized", "shuffled 4x4", "shape bias", "saliency edge alignment",
    ]  # fmt: skip
    return arguments


@pytest.mark.slow
def test_two_processes_write_the_single_process_comparison(nine_models, tmp_path, monkeypatch):
    """torchrun with 2 gloo processes: 9 models split 4 / 5, results gathered, rank 0
    writes; every row (values, intervals, p-values, verdicts) equals one process's."""
    arguments = nine_models
    from shapebias.cli import _compare

    monkeypatch.setitem(_compare._OWN, "small_cnn", _width8)
    assert main([*arguments, "--out", str(tmp_path / "one")]) == 0
    run_two_ranks(
        ROOT / "tests" / "cli" / "_compare_worker.py",
        *arguments, "--out", str(tmp_path / "two"),
        timeout=600,  # a guard against a hang; about 25 s on 2 idle cores
    )  # fmt: skip
    one, two = (json.loads((tmp_path / out / "comparison.json").read_text())
                for out in ("one", "two"))  # fmt: skip
    for timing in ("seconds", "time_breakdown"):  # wall and CPU time differ run to run
        assert one.pop(timing).keys() == two.pop(timing).keys()
    assert two == one
    for suffix in ("md", "csv"):
        assert (tmp_path / "two" / f"comparison.{suffix}").read_text() == (
            tmp_path / "one" / f"comparison.{suffix}"
        ).read_text()
    # Every claim was tested on three seeds of two models, and the saliency rows' values
    # differ from seed to seed and set to set: results put in another order would change
    # the paired differences, and a missing gather fails the run (no result for a seed).
    assert one["seeds"] == {"standard": 3, "pgd": 3, "trades": 3}
    tested = [row for row in one["rows"] if row["verdict"] != "skipped"]
    assert len(tested) == 8 and all(row["seeds"] == 3 for row in tested)
    edges = [row for row in tested if row["claim"] == "saliency edge alignment"]
    assert all(row["low"] < row["high"] for row in edges)
    assert edges[0]["difference"] != edges[1]["difference"]


def test_the_help_says_how_to_shard(capsys):
    with pytest.raises(SystemExit) as done:
        main(["compare", "--help"])
    assert done.value.code == 0
    assert "torchrun --nproc_per_node=N -m shapebias.cli compare" in capsys.readouterr().out
