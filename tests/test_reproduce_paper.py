"""The reproduction script runs end to end on a tiny setting and its outputs agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "reproduce_paper.py"
TINY = [
    "--quick",
    "--set", "train_size=96",
    "--set", "test_size=48",
    "--set", "width=4",
    "--set", "standard_epochs=1",
    "--set", "eval_pgd_steps=1",
    "--set", "saliency_samples=2",
    "--set", "train_pgd_steps=1",
]  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("reproduce")
    result = _run(*TINY, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_outputs_exist_and_agree(finished_run):
    out, result = finished_run
    for name in ("results.json", "results.md", "config.json", "relative_accuracy.png",
                 "saliency_dataset.png", "saliency_photos.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    report = (out / "results.md").read_text()
    models = results["models"]
    assert set(models) == {"standard", "shape_only", "pgd_linf_2", "pgd_linf_4", "pgd_l2",
                           "fgsm_rs", "underfit"}  # fmt: skip
    for name, entry in models.items():
        assert (out / "models" / f"{name}.pt").exists()
        clean = entry["distortion_accuracy"]["clean"]["accuracy"]["value"]
        assert f"| {name} | {100 * clean:.1f} [" in report
        assert 0.0 <= entry["robust_accuracy"]["value"] <= clean + 1e-9
    assert results["settings"]["train_size"] == 96
    assert report.strip() in result.stdout


def test_second_run_reuses_the_trained_models(finished_run):
    out, _ = finished_run
    result = _run(*TINY, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("loaded ") == 7


def test_refuses_a_folder_of_another_configuration(finished_run):
    out, _ = finished_run
    result = _run(*TINY, "--set", "width=5", "--out", str(out))
    assert result.returncode != 0
    assert "different configuration (differs in: width)" in result.stderr
    assert "--fresh" in result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["--dataset", "cifar10"], "--dataset cifar10 needs --data-root"),
        (["--dataset", "cifar10", "--data-root", "/no/such/folder"], "does not exist"),
        (["--set", "colour=1"], "unknown setting 'colour'"),
    ],
)
def test_bad_command_lines(args, message, tmp_path):
    result = _run(*args, "--out", str(tmp_path))
    assert result.returncode != 0
    assert message in result.stderr


def test_real_data_protocol_on_an_image_folder(tmp_path):
    """--dataset folder runs the same protocol (no shape-only control) on a fake tree."""
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for name in ("cat", "dog", "fox"):
            folder = tmp_path / "data" / split / name
            folder.mkdir(parents=True)
            for i in range(8):
                pixels = (torch.rand(20, 20, 3, generator=generator) * 255).to(torch.uint8)
                Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")
    out = tmp_path / "out"
    result = _run(*TINY, "--set", "train_size=24", "--set", "test_size=24", "--dataset",
                  "folder", "--data-root", str(tmp_path / "data"), "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    models = json.loads((out / "results.json").read_text())["models"]
    assert "shape_only" not in models and {"standard", "underfit"} <= set(models)
    assert "skipping shape_only" in result.stderr
