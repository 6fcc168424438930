"""``shapebias reproduce``: end to end on a tiny setting, its outputs agree, caching by stage,
bad input refused before anything trains."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import shapebias.data
from shapebias.cli import _reproduce, main
from shapebias.data import SHAPE_TEXTURE_AXES
from shapebias.experiments import Settings, dataset_axes, describe_value
from shapebias.metrics import VERDICTS, holm

ROOT = Path(__file__).resolve().parents[2]
SEEDS = 2
TINY = [
    "--quick",
    "--seeds", str(SEEDS),
    "--set", "train_size=96",
    "--set", "validation_size=24",
    "--set", "test_size=48",
    "--set", "width=4",
    "--set", "standard_epochs=1",
    "--set", "eval_steps=1",
    "--set", "robust_size=24",
    "--set", "saliency_images=4",
    "--set", "saliency_samples=2",
    "--set", "num_bootstrap=50",
    "--workers", "1",  # tiny models: starting worker processes would cost more than they save
]  # fmt: skip
MODELS = {"standard", "shape_only", "pgd_linf_2", "pgd_linf_4", "pgd_l2", "fgsm_rs", "underfit"}


def run_command(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m shapebias.cli ARGS`` importing this checkout's shapebias."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "shapebias.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("reproduce")
    # From another working directory: nothing depends on the repository's layout.
    result = run_command("reproduce", *TINY, "--out", str(out), cwd=out.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def _numbers(out: Path) -> dict:
    """Every number of a run that does not measure time: claims, per-seed numbers, robustness."""
    results = json.loads((out / "results.json").read_text())
    models = {}
    for name, per_seed in results["models"].items():
        models[name] = []
        for entry in per_seed:
            entry = {k: v for k, v in entry.items() if k not in ("timing", "training")}
            models[name].append(entry)
    return {"claims": results["claims"], "models": models, "robustness": results["robustness"]}


def test_outputs_exist_and_hold_every_seed(finished_run):
    out, result = finished_run
    for name in ("results.json", "results.md", "config.json", "saliency.png",
                 "paired_differences.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert set(results["models"]) == MODELS and results["seeds"] == [0, 1]
    assert results["environment"]["threads"] >= 1 and results["environment"]["cpu_capability"]
    for name, per_seed in results["models"].items():
        assert [entry["seed"] for entry in per_seed] == [0, 1]
        for entry in per_seed:
            assert list((out / "models").glob(f"{name}_seed{entry['seed']}-*.pt"))
            robust = entry["robust_accuracy"]
            clean = entry["distortion_accuracy"]["clean"]["accuracy"]["value"]
            assert set(robust) == {"2/255", "8/255"}
            assert 0.0 <= robust["8/255"] <= robust["2/255"] <= 1
            assert entry["training"]["evaluated_on"] == "validation split"
            assert 0.0 <= clean <= 1.0
    # Each AT model is fine-tuned from the standard model of its own seed.
    for entry in results["models"]["pgd_linf_4"]:
        assert entry["training"]["fine_tuned_from"] == f"standard seed {entry['seed']}"
        assert entry["training"]["optimizer"] == "adam"
    report = (out / "results.md").read_text()
    assert report.strip() in result.stdout
    assert results["smoke_run"] is True
    assert report.splitlines()[0].startswith("> **Smoke run, not a result.**")


def _per_seed_statistic(entry, claim):
    if claim["statistic"] == "relative accuracy":
        return entry["distortion_accuracy"]["distortions"][claim["claim"]]["relative"]["value"]
    if claim["claim"] == "shape bias":
        return entry["shape_bias"]["shape_bias"]["value"]
    return entry["saliency"][claim["claim"].removeprefix("saliency ").replace(" ", "_")]


def test_claims_table_agrees_with_every_seeds_numbers(finished_run):
    out, _ = finished_run
    results = json.loads((out / "results.json").read_text())
    report = (out / "results.md").read_text()
    models = results["models"]
    claims = results["claims"]
    names = {c["claim"] for c in claims}
    assert {"stylized", "saturated p=8", "saturated p=1024", "shuffled 2x2", "shuffled 4x4",
            "shuffled 8x8", "low-pass", "shape bias", "saliency edge alignment",
            "saliency concentration"} == names  # fmt: skip
    assert {c["model"] for c in claims} == MODELS - {"standard", "shape_only"}
    for claim in claims:
        at = [_per_seed_statistic(e, claim) for e in models[claim["model"]]]
        base = [_per_seed_statistic(e, claim) for e in models["standard"]]
        assert claim["at"] == pytest.approx(at, abs=1e-9)
        assert claim["baseline"] == pytest.approx(base, abs=1e-9)
        difference = np.mean(np.subtract(at, base))
        assert claim["difference"]["value"] == pytest.approx(difference, abs=1e-9)
        assert claim["lower"] == sum(a < b for a, b in zip(at, base, strict=True))
        assert claim["verdict"] in VERDICTS
        row = (
            f"| {claim['model']} | {claim['claim']} | {claim['paper']} | {claim['statistic']} "
            f"| {100 * np.mean(base):.1f} | {100 * np.mean(at):.1f} | "
        )
        assert row in report, row
    # Holm over exactly the claims that were tested, and verdicts that follow from it.
    tested = [c for c in claims if c["p_holm"] is not None]
    adjusted = holm([c["p_value"] for c in tested], alpha=results["settings"]["alpha"])
    assert [c["p_holm"] for c in tested] == pytest.approx(list(adjusted.adjusted))
    for claim, rejected in zip(tested, adjusted.rejected, strict=True):
        if not rejected:
            assert claim["verdict"] == "no difference"
        else:
            up = claim["difference"]["value"] > 0
            assert claim["verdict"] == ("holds" if up == (claim["expected"] == "higher")
                                        else "reversed")  # fmt: skip
    for claim in claims:
        if claim["p_holm"] is None:
            assert claim["verdict"] in ("cannot discriminate", "AT did not fit")
        if claim["model"] == "underfit":
            assert claim["verdict"] != "AT did not fit"


def test_controls_print_shape_bias_beside_its_null(finished_run):
    out, _ = finished_run
    results = json.loads((out / "results.json").read_text())
    report = (out / "results.md").read_text()
    header = "| model | clean | shape-only | texture-only | shape bias | texture-blind null |"
    assert header in report
    classes = results["settings"]["num_classes"]
    for entry in results["models"]["standard"]:
        s = entry["shape_only"]
        assert entry["texture_blind_null"] == pytest.approx(s / (s + (1 - s) / (classes - 1)))


def test_progress_bar_and_epoch_lines_name_the_model(finished_run):
    _, result = finished_run
    assert f"model {7 * SEEDS}/{7 * SEEDS}" in result.stderr
    assert "pgd_linf_4 seed 1" in result.stderr
    assert "pgd_linf_2 seed 1 epoch 1/1: loss" in result.stderr
    assert "standard seed 0 epoch 1/1: loss" in result.stderr


def test_a_statistics_setting_reanalyses_without_training_or_evaluating(finished_run):
    out, _ = finished_run
    before = sorted(p.name for p in (out / "models").iterdir())
    evaluations = sorted(p.name for p in (out / "evaluations").iterdir())
    original = _numbers(out)
    assert main(["reproduce", *TINY, "--set", "alpha=0.01", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["trained"] == [] and results["evaluated"] == []
    assert results["settings"]["alpha"] == 0.01
    assert sorted(p.name for p in (out / "models").iterdir()) == before
    assert sorted(p.name for p in (out / "evaluations").iterdir()) == evaluations
    # The cached evaluations: the same per-seed numbers and p-values; Holm at alpha 0.01.
    again = _numbers(out)
    assert again["models"] == original["models"]
    assert [c["p_value"] for c in again["claims"]] == [c["p_value"] for c in original["claims"]]
    tested = [c for c in results["claims"] if c["p_holm"] is not None]
    adjusted = holm([c["p_value"] for c in tested], alpha=0.01)
    for claim, rejected in zip(tested, adjusted.rejected, strict=True):
        assert (claim["verdict"] != "no difference") == rejected
    assert main(["reproduce", *TINY, "--out", str(out)]) == 0  # back: the original claims
    assert _numbers(out) == original


def test_fresh_names_every_file_it_deletes(tmp_path):
    out = tmp_path / "out"
    (out / "models").mkdir(parents=True)
    (out / "models" / "standard_seed0-old.pt").write_bytes(b"x")
    (out / "notes.txt").write_text("mine")
    from shapebias.experiments import RunFolder, roster

    settings = Settings.quick()
    folder = RunFolder.plan(out, settings, roster(settings), dataset_axes())
    deleted = folder.fresh()
    assert out / "models" / "standard_seed0-old.pt" in deleted
    assert not (out / "models").exists()
    assert (out / "notes.txt").read_text() == "mine"  # not the command's file: kept


def test_same_machine_rerun_gives_the_same_numbers_bit_for_bit(finished_run, tmp_path):
    """Pins a quick run's numbers on the machine that runs it: a fresh run of the same
    settings (new models, new evaluations) equals the first one exactly."""
    out, _ = finished_run
    first = _numbers(out)
    assert main(["reproduce", *TINY, "--out", str(tmp_path / "again")]) == 0
    assert _numbers(tmp_path / "again") == first


@pytest.mark.parametrize(
    "args,message",
    [
        (["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["--dataset", "cifar10"], "--dataset cifar10 needs --data-root"),
        (["--dataset", "cifar10", "--data-root", "/no/such/folder"], "does not exist"),
        (["--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--seeds", "two"], "argument --seeds: invalid int value: 'two'"),
    ],
)
def test_bad_flags_are_refused(args, message, tmp_path, capsys):
    assert main(["reproduce", *args, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "setting,message",
    [
        ("colour=1", "unknown setting 'colour'; known settings: alpha, band_split,"),
        ("colour=1", "dataset settings: texture_correlation, texture_contrast"),
        ("seeds=4", "unknown setting 'seeds' (use --seeds)"),
        ("train_size=1.5", "train_size must be a int (default 4000), got '1.5'"),
        ("texture_contrast=high", "texture_contrast must be a float"),
        ("eps_linf=[0.01, true]", "eps_linf must be a list of numbers"),
        ("standard_epochs=0", "standard_epochs must be >= 1, got 0"),
        ("confidence=1", "confidence must lie in (0, 1), got 1"),
        ("fit_eps=0.5", "fit_eps (0.5) must be one of robust_eps"),
        ("texture_contrast=0.9", "Refused dataset settings (nothing was trained)"),
        ("standard_epochs", "expected NAME=VALUE"),
    ],
)
def test_bad_settings_are_refused_before_anything_trains(setting, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["reproduce", "--set", setting, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_help_lists_every_setting_with_default_meaning_and_group():
    result = run_command("reproduce", "--help")
    assert result.returncode == 0
    text = result.stdout
    default = Settings.default()
    for name, _ in default.items():
        if name not in _reproduce.FLAGS:
            assert f"  {name} = " in text, name
    defaults = dataset_axes()
    for axis in SHAPE_TEXTURE_AXES:
        assert f"  {axis.name} = {describe_value(defaults[axis.name])}: " in text
    assert "  standard_epochs = 12: epochs of the standard" in text
    assert "alpha = 0.05: family-wise error rate of each Holm family [statistics]" in text


def test_set_values_are_typed_and_budgets_read_as_fractions_of_255(tmp_path):
    parser = _parser()
    arguments = ["--set", "fit_eps=4/255", "--set", "eps_linf=[1/255, 8/255]",
                 "--set", "lr=1", "--set", "texture_contrast=0.03",
                 "--set", "robust_eps=[1/255, 4/255]"]  # fmt: skip
    settings, axes = _reproduce.build_settings(parser.parse_args(arguments))
    assert settings.statistics.fit_eps == 4 / 255
    assert settings.training.eps_linf == (1 / 255, 8 / 255)
    assert settings.training.lr == 1.0 and isinstance(settings.training.lr, float)
    assert axes["texture_contrast"] == 0.03


def _parser():
    import argparse

    parser = argparse.ArgumentParser()
    _reproduce.add_arguments(parser)
    return parser


def test_quick_writes_into_its_own_folder():
    parser = _parser()
    for argv, out in ((["--quick"], "runs/reproduce-quick"), ([], "runs/reproduce"),
                      (["--quick", "--out", "x"], "x")):  # fmt: skip
        args = parser.parse_args(argv)
        _reproduce.check_arguments(parser, args)
        assert args.out == Path(out)


def test_calibrated_axes_supply_the_dataset_defaults(monkeypatch):
    axis = SHAPE_TEXTURE_AXES[-1]
    assert dataset_axes()[axis.name] == getattr(shapebias.data, "CALIBRATED_AXES", {}).get(
        axis.name, axis.default
    )
    monkeypatch.setattr(shapebias.data, "CALIBRATED_AXES", {axis.name: 0.123}, raising=False)
    assert dataset_axes()[axis.name] == 0.123
    _, axes = _reproduce.build_settings(_parser().parse_args(["--quick"]))
    assert axes[axis.name] == 0.123


def test_real_data_protocol_on_an_image_folder(tmp_path):
    """--dataset folder runs the same protocol (no shape-only control) on a fake tree."""
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for name in ("cat", "dog", "fox"):
            folder = tmp_path / "data" / split / name
            folder.mkdir(parents=True)
            for i in range(12):
                pixels = (torch.rand(20, 20, 3, generator=generator) * 255).to(torch.uint8)
                Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")
    out = tmp_path / "out"
    result = run_command("reproduce", *TINY, "--seeds", "1", "--set", "train_size=24",
                         "--set", "validation_size=9", "--set", "test_size=24",
                         "--dataset", "folder", "--data-root", str(tmp_path / "data"),
                         "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert "shape_only" not in results["models"]
    assert {"standard", "underfit"} <= set(results["models"])
    assert "shape bias" not in {c["claim"] for c in results["claims"]}
    assert "skipping shape_only" in result.stderr
    assert math.isfinite(results["wall_seconds"])
