"""``shapebias map``: the summary arithmetic and a quick end-to-end run."""

from __future__ import annotations

import json

import pytest

from shapebias.cli import main
from shapebias.experiments import summarise_map


def run_map(*argv: str) -> dict:
    out = argv[argv.index("--out") + 1]
    assert main(["map", *argv]) == 0
    with open(f"{out}/map.json") as handle:
        return json.load(handle)


def _record(seed, delta, at_bias, interval, null, contrast=0.06, eps="2/255"):
    standard = {"shape_bias": {"value": at_bias - delta}, "texture_blind_null": 0.5}
    adversarial = {
        "shape_bias": {"value": at_bias, "low": interval[0], "high": interval[1]},
        "texture_blind_null": null,
    }
    return {
        "texture_contrast": contrast,
        "shape_deformation": 0.0,
        "eps": eps,
        "seed": seed,
        "standard": standard,
        "adversarial": adversarial,
        "delta_shape_bias": delta,
    }


def test_summary_is_the_mean_the_sign_count_and_the_null_flag():
    records = [
        _record(0, -0.10, 0.60, (0.55, 0.65), 0.62),  # null inside the interval
        _record(1, 0.04, 0.70, (0.66, 0.74), 0.50),  # null outside
        _record(2, -0.03, 0.65, (0.60, 0.70), 0.60),  # on the lower edge: inside
        _record(0, 0.20, 0.90, (0.85, 0.95), 0.50, contrast=0.12),
    ]
    cells = {c["texture_contrast"]: c for c in summarise_map(records)}
    cell = cells[0.06]
    assert cell["seeds"] == 3 and cell["higher"] == 1 and cell["lower"] == 2
    assert cell["mean_delta_shape_bias"] == pytest.approx((-0.10 + 0.04 - 0.03) / 3)
    assert cell["at_within_null"] == 2
    assert cell["standard_shape_bias"] == pytest.approx((0.70 + 0.66 + 0.68) / 3)
    assert cell["adversarial_null"] == pytest.approx((0.62 + 0.50 + 0.60) / 3)
    assert cells[0.12]["seeds"] == 1 and cells[0.12]["at_within_null"] == 0


def test_quick_run_writes_every_seed_and_cells_that_agree_with_them(tmp_path):
    result = run_map("--quick", "--out", str(tmp_path))
    assert (tmp_path / "map.png").stat().st_size > 0
    saved = json.loads((tmp_path / "map.json").read_text())
    assert saved["smoke_run_not_a_result"] is True
    assert len(saved["runs"]) == len(result["runs"]) == 2  # 2 contrasts x 1 eps x 1 seed
    for run in saved["runs"]:
        delta = run["adversarial"]["shape_bias"]["value"] - run["standard"]["shape_bias"]["value"]
        assert run["delta_shape_bias"] == pytest.approx(delta)
        for model in ("standard", "adversarial"):
            numbers = run[model]
            assert 0 <= numbers["shape_only_accuracy"] <= 1
            assert set(numbers["texture_only_pgd"]) == {"2/255"}
    for cell in saved["cells"]:
        runs = [r for r in saved["runs"] if r["texture_contrast"] == cell["texture_contrast"]]
        assert cell["mean_delta_shape_bias"] == pytest.approx(runs[0]["delta_shape_bias"])


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--eps", "0"], "--eps values must be budgets in (0, 1]"),
        (["--eps", "4"], "did you mean 4/255?"),
        (["--eps", "x"], "--eps: expected a number such as 4/255, got 'x'"),
    ],
)
def test_bad_flags_are_refused_before_training(argv, match, capsys, tmp_path):
    assert main(["map", *argv, "--out", str(tmp_path / "out")]) == 2
    assert match in capsys.readouterr().err


def test_include_adds_an_earlier_sweep_and_refuses_repeats_and_other_settings(tmp_path, capsys):
    run_map("--quick", "--contrasts", "0.03", "--out", str(tmp_path / "a"))
    earlier = str(tmp_path / "a" / "map.json")
    result = run_map("--quick", "--contrasts", "0.1", "--include", earlier, "--out",
                     str(tmp_path / "b"))  # fmt: skip
    assert [r["texture_contrast"] for r in result["runs"]] == [0.03, 0.1]
    assert sorted(c["texture_contrast"] for c in result["cells"]) == [0.03, 0.1]
    saved = json.loads((tmp_path / "b" / "map.json").read_text())
    assert saved["runs"][0] == json.loads((tmp_path / "a" / "map.json").read_text())["runs"][0]
    for argv, match in [
        (["--quick", "--contrasts", "0.03"], "makes again: [(0.03, 0.0, '2/255', 0)]"),
        (["--train-size", "5"], "was run with other settings"),
        (["--quick", "--set", "occlusion=0.1"], "was run with other settings"),
    ]:
        assert main(["map", *argv, "--include", earlier, "--out", str(tmp_path / "c")]) == 2
        assert match in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # refused before anything was trained
