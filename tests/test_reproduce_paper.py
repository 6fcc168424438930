"""The reproduction script: runs end to end on a tiny setting, its outputs agree, bad input
is refused before anything trains."""

from __future__ import annotations

import importlib.util
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
from shapebias.data import SHAPE_TEXTURE_AXES
from shapebias.metrics import VERDICTS, holm

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "reproduce_paper.py"
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
]  # fmt: skip
MODELS = {"standard", "shape_only", "pgd_linf_2", "pgd_linf_4", "pgd_l2", "fgsm_rs", "underfit"}


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # The subprocess imports this checkout's shapebias, not whichever one is installed.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("reproduce_paper", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce_paper"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["reproduce_paper"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("reproduce")
    result = _run(*TINY, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_outputs_exist_and_hold_every_seed(finished_run):
    out, result = finished_run
    for name in ("results.json", "results.md", "config.json", "saliency.png",
                 "paired_differences.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert not (out / "saliency_photos.png").exists()
    results = json.loads((out / "results.json").read_text())
    assert set(results["models"]) == MODELS and results["seeds"] == [0, 1]
    for name, per_seed in results["models"].items():
        assert [entry["seed"] for entry in per_seed] == [0, 1]
        for entry in per_seed:
            assert (out / "models" / f"{name}_seed{entry['seed']}.pt").exists()
            robust = entry["robust_accuracy"]
            clean = entry["distortion_accuracy"]["clean"]["accuracy"]["value"]
            assert set(robust) == {"2/255", "8/255"}
            assert 0.0 <= robust["8/255"] <= robust["2/255"] + 0.05 and robust["2/255"] <= 1
            assert entry["training"]["evaluated_on"] == "validation split"
            assert 0.0 <= clean <= 1.0
    # Each AT model is fine-tuned from the standard model of its own seed.
    for entry in results["models"]["pgd_linf_4"]:
        assert entry["training"]["fine_tuned_from"] == f"standard seed {entry['seed']}"
        assert entry["training"]["optimizer"] == "adam"
    report = (out / "results.md").read_text()
    assert report.strip() in result.stdout
    assert results["smoke_run"] is True


def test_quick_results_start_with_the_smoke_run_banner(finished_run):
    out, _ = finished_run
    first = (out / "results.md").read_text().splitlines()[0]
    assert first.startswith("> **Smoke run, not a result.**")


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
        assert claim["verdict"] in report
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


def test_controls_print_shape_bias_beside_its_null_and_cue_match(finished_run):
    out, _ = finished_run
    results = json.loads((out / "results.json").read_text())
    report = (out / "results.md").read_text()
    assert (
        "| model | clean | shape-only | texture-only | shape bias | texture-blind null |" in report
    )
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


def test_second_run_reuses_the_trained_models(finished_run):
    out, _ = finished_run
    result = _run(*TINY, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("loaded ") == 7 * SEEDS


def test_refuses_a_folder_of_another_configuration(finished_run, script):
    out, _ = finished_run
    before = sorted(p.name for p in (out / "models").iterdir())
    with pytest.raises(SystemExit, match=r"different configuration \(differs in: width\)"):
        script.main([*TINY, "--set", "width=5", "--out", str(out)])
    assert sorted(p.name for p in (out / "models").iterdir()) == before


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
def test_bad_flags_are_refused(args, message, tmp_path, script, capsys):
    with pytest.raises(SystemExit):
        script.main([*args, "--out", str(tmp_path / "out")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "setting,message",
    [
        ("colour=1", "unknown setting 'colour'; known settings: alpha, band_split,"),
        ("colour=1", "known settings: alpha, band_split, band_steps, batch_size"),
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
def test_bad_settings_are_refused_before_anything_trains(setting, message, tmp_path, script):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as raised:
        script.main(["--set", setting, "--out", str(out)])
    assert message in str(raised.value)
    assert not out.exists()


def test_help_lists_every_setting_with_default_and_meaning(script):
    result = _run("--help")
    assert result.returncode == 0
    text = result.stdout
    for field in script.dataclasses.fields(script.Settings):
        if field.name not in script._FLAGS:
            assert f"  {field.name} = " in text, field.name
            assert field.metadata["help"][:30] in text.replace("\n", " ") or field.name in text
    defaults = script.dataset_defaults()
    for axis in SHAPE_TEXTURE_AXES:
        assert f"  {axis.name} = {script._describe_default(defaults[axis.name])}: " in text
    assert "  standard_epochs = 12: epochs of the standard" in text


def test_set_values_are_typed_and_budgets_read_as_fractions_of_255(script):
    arguments = ["--set", "fit_eps=4/255", "--set", "eps_linf=[1/255, 8/255]",
                 "--set", "lr=1", "--set", "texture_contrast=0.03"]  # fmt: skip
    settings, axes = script.build_settings(script.parse_args(arguments))
    assert settings.fit_eps == 4 / 255 and settings.eps_linf == (1 / 255, 8 / 255)
    assert settings.lr == 1.0 and isinstance(settings.lr, float)
    assert axes["texture_contrast"] == 0.03


def test_quick_writes_into_its_own_folder(script):
    assert script.parse_args(["--quick"]).out == Path("runs/reproduce-quick")
    assert script.parse_args([]).out == Path("runs/reproduce")
    assert script.parse_args(["--quick", "--out", "x"]).out == Path("x")


def test_calibrated_axes_supply_the_dataset_defaults(script, monkeypatch):
    axis = SHAPE_TEXTURE_AXES[-1]
    assert script.dataset_defaults()[axis.name] == getattr(
        shapebias.data, "CALIBRATED_AXES", {}
    ).get(axis.name, axis.default)
    monkeypatch.setattr(shapebias.data, "CALIBRATED_AXES", {axis.name: 0.123}, raising=False)
    assert script.dataset_defaults()[axis.name] == 0.123
    _, axes = script.build_settings(script.parse_args(["--quick"]))
    assert axes[axis.name] == 0.123


def test_validation_split_is_disjoint_from_every_test_split(script):
    sizes = ["train_size=40", "validation_size=30", "test_size=30"]
    arguments = ["--quick", *(part for size in sizes for part in ("--set", size))]
    settings, axes = script.build_settings(script.parse_args(arguments))
    data = script.load_data(settings, axes, None)
    validation = data["validation"][0].flatten(1)
    for split in ("test", "shape_only", "texture_only", "cue_conflict", "train"):
        images = data[split][0].flatten(1)
        same = (validation[:, None, :] == images[None, :, :]).all(-1)
        assert not bool(same.any()), split
    shape_validation = data["validation_shape_only"][0].flatten(1)
    for split in ("shape_only", "train_shape_only"):
        same = (shape_validation[:, None, :] == data[split][0].flatten(1)[None]).all(-1)
        assert not bool(same.any()), split
    assert len(data["validation"][0]) == 30 and len(data["train"][0]) == 40


def test_no_shape_bias_verdict_for_a_model_at_chance_on_shape_only(script):
    settings = script.PRESETS["default"]

    def numbers(shape_only):
        return {
            "distortion_accuracy": {"clean": {"accuracy": {"value": 0.8}}},
            "shape_only": shape_only,
            "texture_only": 0.5,
            "texture_blind_null": script.texture_blind_null(shape_only, 4),
            "shape_bias": {"shape_bias": {"value": 0.6}, "cue_match": {"value": 0.9}},
        }

    table = script.controls_table(
        {"learned": [numbers(0.7)] * 2, "blind": [numbers(0.27)] * 2}, settings, 0.25
    )
    learned, blind = (
        line for line in table.splitlines() if line.startswith(("| learned", "| blind"))
    )
    assert "n/a: shape-only at chance" in blind and "60.0 (60.0-60.0)" in learned
    assert "87.5 (87.5-87.5)" in learned  # null 0.7 / (0.7 + 0.3 / 3)
    # At chance the null is 0.5 (shape and texture decisions equally likely); all right: 1.
    assert math.isclose(script.texture_blind_null(0.25, 4), 0.5)
    assert script.texture_blind_null(1.0, 4) == 1.0


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
    result = _run(*TINY, "--seeds", "1", "--set", "train_size=24", "--set", "validation_size=9",
                  "--set", "test_size=24", "--dataset", "folder", "--data-root",
                  str(tmp_path / "data"), "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert "shape_only" not in results["models"]
    assert {"standard", "underfit"} <= set(results["models"])
    assert "shape bias" not in {c["claim"] for c in results["claims"]}
    assert "skipping shape_only" in result.stderr


def _tiny_run(script, out: Path):
    sizes = ["train_size=80", "validation_size=20", "test_size=20", "width=4", "batch_size=32"]
    arguments = ["--quick", "--seeds", "3", *(part for size in sizes for part in ("--set", size))]
    settings, axes = script.build_settings(script.parse_args(arguments))
    data = script.load_data(settings, axes, None)
    bar = script.tqdm(total=1, disable=True)
    return script.RunContext(settings, data, out, torch.device("cpu"), bar, total=1)


def _assert_same_weights(stacked, alone):
    for a, b in zip(stacked, alone, strict=True):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            torch.testing.assert_close(x, y, atol=2e-5, rtol=1e-4, msg=name)


def test_stacked_train_seeds_gives_each_seed_its_separate_training(script, tmp_path):
    """All seeds as one stack == one seed at a time (init, shuffling, start, Adam, meta)."""
    from shapebias.attacks import PGD
    from shapebias.training import AdversarialLoss, Recipe

    stacked_run, alone_run = _tiny_run(script, tmp_path / "a"), _tiny_run(script, tmp_path / "b")
    seeds = script.seed_list(stacked_run.settings)
    standard = script.model_configs(stacked_run.settings)["standard"]
    stacked = script.train_seeds(standard, seeds, stacked_run)
    alone = [script._train_one(standard, standard.recipes[0], s, None, alone_run) for s in seeds]
    _assert_same_weights(stacked, alone)
    assert not torch.allclose(stacked[0][0].weight, stacked[1][0].weight)  # seeds differ
    for seed in seeds:
        ours, theirs = stacked_run.metas["standard", seed], alone_run.metas["standard", seed]
        assert ours["clean_accuracy"] == pytest.approx(theirs["clean_accuracy"], abs=1e-6)
        assert ours["stacked_seeds"] == seeds and ours["epochs_run"] == theirs["epochs_run"]
        assert (tmp_path / "a" / "models" / f"standard_seed{seed}.pt").exists()
    # AT fine-tuned from each seed's own standard model; random starts off, because the
    # stack draws them once for its whole batch (other draws of the same distribution).
    eps = 4 / 255
    attack = PGD(eps=eps, steps=2, step_size=eps, random_start=False)
    recipe = Recipe.pgd_linf(eps, steps=2, epochs=2, optimizer="adam")
    recipe = script.dataclasses.replace(recipe, loss=AdversarialLoss(attack), lr=1e-3)
    at = script.TrainConfig("pgd", (recipe,) * len(seeds), starts=tuple(stacked))
    at_alone = script.dataclasses.replace(at, starts=tuple(alone))
    stacked_at = script.train_seeds(at, seeds, stacked_run)
    alone_at = [
        script._train_one(at_alone, recipe, s, alone[i], alone_run) for i, s in enumerate(seeds)
    ]
    _assert_same_weights(stacked_at, alone_at)
    assert not torch.allclose(stacked_at[0][0].weight, stacked[0][0].weight)  # it trained
    assert stacked_run.metas["pgd", seeds[1]]["fine_tuned_from"] == f"standard seed {seeds[1]}"
    # A second call loads the saved per-seed models instead of training again.
    again = script.train_seeds(at, seeds, stacked_run)
    _assert_same_weights(again, stacked_at)
    assert not (tmp_path / "a" / "checkpoints" / "pgd_stacked").exists()


def test_frequency_measures_for_every_model_and_seed(finished_run, script):
    out, _ = finished_run
    assert (out / "fourier_heat_maps.png").stat().st_size > 0
    results = json.loads((out / "results.json").read_text())
    size = script.PRESETS["quick"].heat_map_size
    for name, per_seed in results["models"].items():
        assert len(per_seed) == SEEDS, name
        for numbers in per_seed:
            error = np.array(numbers["fourier_heat_map"]["error"], dtype=float)
            assert error.shape == (size, size) and ((error >= 0) & (error <= 1)).all(), name
            np.testing.assert_allclose(error, error[::-1, ::-1])  # U_ij and U_-i,-j agree
            band = numbers["band_eps_index"]
            assert 0 <= band["evaluated"] <= band["clean_correct"], name
    assert "## Frequency: band eps index" in (out / "results.md").read_text()
