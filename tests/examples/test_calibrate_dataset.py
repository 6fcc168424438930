"""The calibration script's summary: seed means, targets met and the shortfall, by hand."""

from __future__ import annotations

import pytest

from tests.data._examples import load_example


@pytest.fixture(scope="module")
def script():
    return load_example("calibrate_dataset")


def _run(setting, seed, bias, skill, erased):
    return {
        "setting": setting,
        "axes": {"texture_contrast": 0.06},
        "seed": seed,
        "shape_bias": {"value": bias},
        "shape_only_accuracy": skill,
        "texture_only_accuracy": 0.9,
        "texture_only_pgd": {"2/255": erased[0], "4/255": erased[1]},
    }


def test_summary_means_targets_and_shortfall(script):
    records = [
        _run("good", 0, 0.30, 0.50, (0.20, 0.10)),
        _run("good", 1, 0.20, 0.60, (0.30, 0.00)),
        _run("bad", 0, 0.80, 0.30, (0.50, 0.20)),
        _run("bad", 1, 0.60, 0.34, (0.40, 0.10)),
    ]
    summary = script.summarise(records, num_classes=4)
    good, bad = summary["good"], summary["bad"]
    assert good["shape_bias"] == pytest.approx(0.25)
    assert good["shape_only_accuracy"] == pytest.approx(0.55)
    assert good["texture_only_pgd"] == pytest.approx({"2/255": 0.25, "4/255": 0.05})
    assert all(good["targets_met"].values()) and good["shortfall"] == 0
    assert good["seeds"] == [0, 1]
    # bad: bias 0.70 (0.35 over), shape-only 0.32 (0.08 under 0.40), worst PGD 0.45 (0.10 over)
    assert not any(bad["targets_met"].values())
    assert bad["shortfall"] == pytest.approx(0.35 + 0.08 + 0.10)


def test_floors_take_the_largest_blur_that_keeps_the_standard_model_off_chance(script):
    def run(seed, shuffled, blurred):
        record = _run("floors", seed, 0.3, 0.5, (0.1, 0.0))
        record["distorted"] = {"shuffled 4x4": shuffled, **blurred}
        return record

    # Seed means: shuffled 0.36 (floor 0.35 met); sigma 0.5: 0.80, 0.6: 0.37, 0.7: 0.33.
    records = [
        run(0, 0.40, {"low-pass 0.5": 0.8, "low-pass 0.6": 0.40, "low-pass 0.7": 0.30}),
        run(1, 0.32, {"low-pass 0.5": 0.8, "low-pass 0.6": 0.34, "low-pass 0.7": 0.36}),
    ]
    (cell,) = script.summarise(records, num_classes=4).values()
    assert cell["distorted"]["shuffled 4x4"] == pytest.approx(0.36)
    assert cell["shuffle_floor_met"] and cell["low_pass_sigma"] == 0.6
    records[1]["distorted"]["shuffled 4x4"] = 0.28  # mean 0.34: under the floor
    for record in records:
        record["distorted"] = {
            k: (0.3 if k.startswith("low") else v) for k, v in record["distorted"].items()
        }
    (cell,) = script.summarise(records, num_classes=4).values()
    assert not cell["shuffle_floor_met"] and cell["low_pass_sigma"] is None
