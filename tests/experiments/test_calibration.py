"""The dataset calibration: the decision rule on synthetic runs, resuming, bad input.

No model trains here: the sweep's training and evaluation are replaced by fakes that
count their calls (``shapebias calibrate --quick`` in tests/cli makes one real run).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shapebias.experiments import (
    CALIBRATION_GRID,
    CalibrationTargets,
    CueBudget,
    calibrate,
    calibration_table,
    read_calibration_records,
    summarise_calibration,
)
from shapebias.experiments import _calibration as calibration

COMMITTED = Path(__file__).resolve().parents[2] / "docs/_static/map/calibration-2026-12-07.json"


def _run(setting, seed, bias, skill, erased, distorted=None):
    record = {
        "setting": setting,
        "axes": {"texture_contrast": 0.06},
        "seed": seed,
        "shape_bias": {"value": bias},
        "shape_only_accuracy": skill,
        "texture_only_accuracy": 0.9,
        "texture_only_pgd": {"2/255": erased[0], "4/255": erased[1]},
        "clean_accuracy": 0.95,
    }
    if distorted is not None:
        record["distorted"] = distorted
    return record


def test_seed_means_are_taken_over_each_settings_own_runs():
    records = [  # interleaved, as a resumed sweep appends them
        _run("good", 0, 0.30, 0.50, (0.20, 0.10)),
        _run("bad", 0, 0.80, 0.30, (0.50, 0.20)),
        _run("good", 1, 0.20, 0.60, (0.30, 0.00)),
        _run("bad", 1, 0.60, 0.34, (0.40, 0.10)),
    ]
    summary = summarise_calibration(records, num_classes=4)
    assert list(summary) == ["good", "bad"]
    good, bad = summary["good"], summary["bad"]
    assert good["seeds"] == [0, 1] and bad["seeds"] == [0, 1]
    assert good["shape_bias"] == pytest.approx(0.25)
    assert good["shape_only_accuracy"] == pytest.approx(0.55)
    assert good["texture_only_pgd"] == pytest.approx({"2/255": 0.25, "4/255": 0.05})
    assert bad["shape_bias"] == pytest.approx(0.70)
    assert bad["shape_only_accuracy"] == pytest.approx(0.32)
    assert bad["texture_only_pgd"] == pytest.approx({"2/255": 0.45, "4/255": 0.15})


@pytest.mark.parametrize(
    ("bias", "skill", "erased", "met"),
    [
        # each target just on its good side, then just on its bad side (chance 0.25);
        # met: (shape_bias, shape_only, texture_erased)
        (0.34, 0.41, (0.34, 0.0), (True, True, True)),
        (0.36, 0.41, (0.34, 0.0), (False, True, True)),
        (0.34, 0.39, (0.34, 0.0), (True, False, True)),
        (0.34, 0.41, (0.0, 0.36), (True, True, False)),
    ],
)
def test_each_target_is_compared_the_right_way(bias, skill, erased, met):
    (cell,) = summarise_calibration([_run("s", 0, bias, skill, erased)], num_classes=4).values()
    assert cell["targets_met"] == dict(
        zip(("shape_bias", "shape_only", "texture_erased"), met, strict=True)
    )
    assert cell["shortfall"] == pytest.approx(0.01 * met.count(False), abs=1e-12)


def test_shortfall_sums_only_the_misses_of_the_targets_missed():
    # shape bias 0.10 (0.25 below its bound: met), shape-only 0.95 (far above: met),
    # worst PGD accuracy 0.45 (0.10 over chance + 0.10): only that miss counts
    (cell,) = summarise_calibration([_run("s", 0, 0.10, 0.95, (0.45, 0.0))], 4).values()
    assert cell["targets_met"] == {"shape_bias": True, "shape_only": True, "texture_erased": False}
    assert cell["shortfall"] == pytest.approx(0.10)
    # every target missed: shape bias 0.35 over, shape-only 0.08 under, PGD 0.10 over
    (cell,) = summarise_calibration([_run("s", 0, 0.70, 0.32, (0.45, 0.2))], 4).values()
    assert cell["shortfall"] == pytest.approx(0.35 + 0.08 + 0.10)


def test_chance_comes_from_num_classes_for_every_margin_and_floor():
    distorted = {"shuffled 4x4": 0.30, "low-pass 0.5": 0.30, "low-pass 1": 0.22}
    record = _run("s", 0, 0.30, 0.30, (0.30, 0.0), distorted)
    four = summarise_calibration([record], num_classes=4)["s"]  # chance 0.25: bars 0.40, 0.35
    ten = summarise_calibration([record], num_classes=10)["s"]  # chance 0.10: bars 0.25, 0.20
    assert four["targets_met"] == {"shape_bias": True, "shape_only": False, "texture_erased": True}
    assert ten["targets_met"] == {"shape_bias": True, "shape_only": True, "texture_erased": False}
    assert not four["shuffle_floor_met"] and four["low_pass_sigma"] is None
    assert ten["shuffle_floor_met"] and ten["low_pass_sigma"] == 1.0


def test_floors_take_the_largest_blur_that_keeps_the_standard_model_off_chance():
    def run(seed, shuffled, blurred):
        return _run("floors", seed, 0.3, 0.5, (0.1, 0.0), {"shuffled 4x4": shuffled, **blurred})

    # Seed means: shuffled 0.36 (floor 0.35 met); sigma 0.5: 0.80, 0.6: 0.37, 0.7: 0.33.
    records = [
        run(0, 0.40, {"low-pass 0.5": 0.8, "low-pass 0.6": 0.40, "low-pass 0.7": 0.30}),
        run(1, 0.32, {"low-pass 0.5": 0.8, "low-pass 0.6": 0.34, "low-pass 0.7": 0.36}),
    ]
    (cell,) = summarise_calibration(records, num_classes=4).values()
    assert cell["distorted"]["shuffled 4x4"] == pytest.approx(0.36)
    assert cell["shuffle_floor_met"] and cell["low_pass_sigma"] == 0.6
    records[1]["distorted"]["shuffled 4x4"] = 0.28  # mean 0.34: under the floor
    for record in records:
        record["distorted"] = {
            k: (0.3 if k.startswith("low") else v) for k, v in record["distorted"].items()
        }
    (cell,) = summarise_calibration(records, num_classes=4).values()
    assert not cell["shuffle_floor_met"] and cell["low_pass_sigma"] is None


def test_other_targets_move_the_bars_and_the_tests_that_decide():
    distorted = {"shuffled 4x4": 0.30, "shuffled 8x8": 0.40, "low-pass 2": 0.40}
    record = _run("s", 0, 0.40, 0.30, (0.30, 0.0), distorted)
    targets = CalibrationTargets(
        max_shape_bias=0.45, min_shape_margin=0.0, max_erased_margin=0.0,
        shuffle_floor_grid=8, low_pass_sigmas=(1.0, 2.0),
    )  # fmt: skip
    (cell,) = summarise_calibration([record], 4, targets).values()
    assert cell["targets_met"] == {"shape_bias": True, "shape_only": True, "texture_erased": False}
    assert cell["shortfall"] == pytest.approx(0.05)
    assert cell["shuffle_floor_met"] and cell["low_pass_sigma"] == 2.0
    assert list(targets.distortions()) == ["shuffled 2x2", "shuffled 4x4", "shuffled 8x8",
                                           "low-pass 1", "low-pass 2"]  # fmt: skip


def test_the_committed_calibration_is_summarised_to_the_same_numbers_with_the_grids_axes():
    committed = json.loads(COMMITTED.read_text())
    assert summarise_calibration(committed["runs"], 4) == committed["summary"]
    # the grid's names still mean the axes that were run (JSON turns tuples into lists)
    assert list(committed["summary"]) == list(CALIBRATION_GRID)
    for name, cell in committed["summary"].items():
        assert json.loads(json.dumps(CALIBRATION_GRID[name])) == cell["axes"], name


def test_table_lists_every_run_and_the_rule_per_setting():
    floors = {"shuffled 4x4": 0.40, "low-pass 0.5": 0.9, "low-pass 0.6": 0.2}
    runs = [_run("a", 0, 0.30, 0.50, (0.2, 0.0), floors), _run("b", 3, 0.9, 0.3, (0.5, 0.0))]
    result = {"budget": {"num_classes": 4}, "summary": summarise_calibration(runs, 4),
              "runs": runs}  # fmt: skip
    lines = calibration_table(result).splitlines()
    assert lines[0].split(" | ")[-3:] == ["shuffled 4x4", "low-pass 0.5", "low-pass 0.6 |"]
    assert lines[2] == "| a | 0 | 0.30 | 0.50 | 0.90 | 0.20 | 0.00 | 0.95 | 0.40 | 0.90 | 0.20 |"
    assert lines[3] == "| b | 3 | 0.90 | 0.30 | 0.90 | 0.50 | 0.00 | 0.95 | - | - | - |"
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in lines[7:]}
    assert rows["a"][5:] == ["shape_bias, shape_only, texture_erased", "0.000", "yes", "0.5 |"]
    assert rows["b"][5:] == ["none", f"{0.55 + 0.10 + 0.15:.3f}", "no", "- |"]


@pytest.fixture
def fake_sweep(monkeypatch):
    """Replace training and evaluation by fakes; the list records each (setting, seed)."""
    made = []

    def cue_data(axes, seed, budget):
        return {"axes": dict(axes), "seed": seed}

    def train_cue_models(datas, seeds, budget, caches=None):
        made.append((datas[0]["axes"], seeds[0], caches))
        return [datas[0]]

    def evaluate_cues(model, data, eps, budget, distortions=None):
        assert model is data
        value = 0.1 * data["seed"]
        return {"clean_accuracy": 0.9, "shape_only_accuracy": 0.5, "texture_only_accuracy": 0.9,
                "shape_bias": {"value": value, "low": value, "high": value},
                "texture_only_pgd": {f"{e * 255:g}/255": 0.0 for e in eps},
                "distorted": dict.fromkeys(distortions, 0.5)}  # fmt: skip

    for name, fake in [("cue_data", cue_data), ("train_cue_models", train_cue_models),
                       ("evaluate_cues", evaluate_cues)]:  # fmt: skip
        monkeypatch.setattr(calibration, name, fake)
    return made


GRID = {"one": {"texture_contrast": 0.1}, "two": {"texture_contrast": 0.2, "occlusion": 0.1}}


def test_a_rerun_makes_only_the_runs_not_yet_recorded(tmp_path, fake_sweep):
    first = calibrate(tmp_path, grid=GRID, settings=["two"], seeds=1, progress=False)
    assert [(axes["texture_contrast"], seed) for axes, seed, _ in fake_sweep] == [(0.2, 0)]
    assert fake_sweep[0][2] == [tmp_path / "models" / "two_seed0.pt"]
    lines = (tmp_path / "calibration.jsonl").read_text().splitlines()
    assert [json.loads(line)["setting"] for line in lines] == ["two"]
    fake_sweep.clear()
    result = calibrate(tmp_path, grid=GRID, seeds=2, progress=False, cache_models=False)
    assert [(axes["texture_contrast"], seed, caches) for axes, seed, caches in fake_sweep] == [
        (0.1, 0, None), (0.1, 1, None), (0.2, 1, None)
    ]  # fmt: skip
    assert (tmp_path / "calibration.jsonl").read_text().splitlines()[0] == lines[0]
    assert [(r["setting"], r["seed"]) for r in result["runs"]] == [
        ("one", 0), ("one", 1), ("two", 0), ("two", 1)
    ]  # fmt: skip
    assert result["runs"][2] == first["runs"][0]
    assert result["summary"]["two"]["shape_bias"] == pytest.approx(0.05)
    saved = json.loads((tmp_path / "calibration.json").read_text())
    assert set(saved) == {"budget", "environment", "targets", "summary", "runs"}
    assert saved["summary"] == result["summary"] and saved["runs"] == result["runs"]
    assert read_calibration_records(tmp_path / "calibration.jsonl")[1:] == [
        result["runs"][i] for i in (0, 1, 3)
    ]
    fake_sweep.clear()
    calibrate(tmp_path, grid=GRID, seeds=2, progress=False)
    assert fake_sweep == []
    assert (tmp_path / "calibration.md").read_text().count("\n| two | ") == 3  # 2 runs, 1 cell


def test_a_folder_of_another_budget_grid_or_test_sets_is_refused_before_training(
    tmp_path, fake_sweep
):
    calibrate(tmp_path, grid=GRID, settings=["one"], seeds=1, progress=False)
    fake_sweep.clear()
    with pytest.raises(ValueError, match=r"another budget \(\{'width': '32 there, 8 here'\}\)"):
        calibrate(tmp_path, grid=GRID, budget=CueBudget(width=8), progress=False)
    with pytest.raises(ValueError, match="holds a run of 'one' with axes"):
        calibrate(tmp_path, grid={"one": {"texture_contrast": 0.3}}, progress=False)
    with pytest.raises(ValueError, match="holds runs measured at"):
        calibrate(tmp_path, grid=GRID, targets=CalibrationTargets(eps=(1 / 255,)),
                  progress=False)  # fmt: skip
    assert fake_sweep == []


def test_an_interrupted_line_is_named(tmp_path):
    path = tmp_path / "calibration.jsonl"
    path.write_text(json.dumps({"setting": "one", "seed": 0}) + '\n\n{"setting": "tw')
    with pytest.raises(ValueError, match=r"calibration.jsonl line 3 is not a JSON record"):
        read_calibration_records(path)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"settings": ["reproduction", "nope"]}, r"settings must name .* \(unknown: \['nope'\]\)"),
        ({"settings": "reproduction"}, r"settings must be a list of setting names"),
        ({"settings": []}, r"settings must name settings of the grid"),
        ({"seeds": 0}, r"seeds must be >= 1, got 0"),
        ({"first_seed": -1}, r"first_seed must be >= 0, got -1"),
        ({"grid": {"x": {"colour": 1}}}, r"grid\['x'\] sets \['colour'\], which are not"),
        ({"grid": {}}, r"grid must map setting names"),
        ({"grid": {"x": 0.1}}, r"grid must map setting names \(str\) to axes"),
    ],
)
def test_bad_arguments_name_the_parameter(arguments, match, tmp_path, fake_sweep):
    with pytest.raises(ValueError, match=match):
        calibrate(tmp_path, progress=False, **arguments)
    assert fake_sweep == [] and not (tmp_path / "calibration.jsonl").exists()


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"max_shape_bias": 1.5}, r"max_shape_bias must be a number in \[0, 1\]"),
        ({"min_floor_margin": float("nan")}, r"min_floor_margin must be a number in \[0, 1\]"),
        ({"eps": (4,)}, r"eps must hold PGD budgets in \(0, 1\]"),
        ({"shuffle_floor_grid": 3}, r"shuffle_floor_grid must be one of shuffle_grids"),
        ({"shuffle_grids": (2.5,), "shuffle_floor_grid": 2.5}, r"shuffle_grids must hold ints"),
        ({"low_pass_sigmas": (0.0,)}, r"low_pass_sigmas must hold blurs > 0"),
    ],
)
def test_bad_targets_name_the_field(arguments, match):
    with pytest.raises(ValueError, match=match):
        CalibrationTargets(**arguments)


def test_num_classes_and_flags_are_checked():
    with pytest.raises(ValueError, match="num_classes must be >= 2, got 1"):
        summarise_calibration([], num_classes=1)
    with pytest.raises(TypeError, match="progress must be True or False"):
        calibrate("unused", progress="False")
    with pytest.raises(TypeError, match=r"budget must be a CueBudget .*, got dict"):
        calibrate("unused", budget={"width": 8})
    with pytest.raises(TypeError, match=r"targets must be a CalibrationTargets .*, got float"):
        calibrate("unused", targets=0.35)
