"""``shapebias benchmark`` end to end on a tiny raw-data folder."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from shapebias import cli
from shapebias.data import read_raw_trials
from shapebias.metrics import HUMAN_ROW, human_benchmark
from tests._raw_trials import random_trials, write_maker


def _shape(name: str) -> str:
    return "".join(c for c in name.split("-")[0] if not c.isdigit())


@pytest.fixture
def raw_data(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "raw-data"
    names = ["cat1-dog2.png", "dog1-cat2.png", "cat3-cat1.png", "oven1-bird2.png"]
    for k in range(3):
        human = [("0", n, _shape(n), "cat" if k else "dog") for n in names]
        write_maker(root, "cue-conflict", f"subject-0{k + 1}", human, seed=k)
    for model, answer in (("alpha", "cat"), ("beta", "oven")):
        trials = [("", n, _shape(n), answer) for n in names]
        write_maker(root, "cue-conflict", model, trials, plain_names=True)
    truth = random_trials(rng, ["0.00", "0.10", "0.35"], 4, 1.0)
    for k in range(2):
        trials = random_trials(rng, ["0.00", "0.10", "0.35"], 4, 0.6, truth=truth)
        write_maker(root, "uniform-noise", f"subject-0{k + 4}", trials, seed=k)
    for model in ("alpha", "beta"):
        trials = random_trials(rng, ["0.00", "0.10", "0.35"], 4, 0.5, truth=truth)
        write_maker(root, "uniform-noise", model, trials, seed=7)
    return root


def test_benchmark_writes_the_library_table(raw_data, tmp_path):
    out = tmp_path / "table"
    assert cli.main(["benchmark", str(raw_data), "--out", str(out)]) == 0
    expected = human_benchmark(read_raw_trials(raw_data))
    record = json.loads((out / "benchmark.json").read_text())
    assert list(record["rows"]) == list(expected.rows)
    for name, row in expected.rows.items():
        got = record["rows"][name]
        for key in ("ood_accuracy", "accuracy_difference", "error_consistency", "shape_bias"):
            assert got[key] == getattr(row, key)  # full precision, not rounded
        assert got["datasets"]["uniform-noise"]["conditions"] == ["0.10", "0.35"]
    assert record["rows"][HUMAN_ROW]["mean_rank"] is None
    assert record["provenance"]["raw_data"] == [str(raw_data)]
    with open(out / "benchmark.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    alpha = next(r for r in rows if r["decision_maker"] == "alpha" and r["dataset"] == "all")
    assert float(alpha["error_consistency"]) == expected.rows["alpha"].error_consistency
    assert float(alpha["mean_rank"]) == expected.rows["alpha"].mean_rank
    assert len(rows) == 3 * 3  # (summary + 2 datasets) x (2 models + humans)
    markdown = (out / "benchmark.md").read_text()
    assert "| alpha |" in markdown and "| humans |" in markdown
    assert (out / "shape_bias.png").stat().st_size > 0
    assert (out / "consistency.png").stat().st_size > 0


def test_benchmark_models_option_and_merged_folders(raw_data, tmp_path):
    extra = tmp_path / "mine"
    names = ["cat1-dog2.png", "dog1-cat2.png", "cat3-cat1.png", "oven1-bird2.png"]
    write_maker(extra, "cue-conflict", "gamma", [("", n, _shape(n), "dog") for n in names])
    out = tmp_path / "table"
    argv = ["benchmark", str(raw_data), str(extra), "--models", "gamma,alpha", "--out", str(out)]
    assert cli.main([*argv, "--no-figures"]) == 0
    record = json.loads((out / "benchmark.json").read_text())
    assert set(record["rows"]) == {"gamma", "alpha", HUMAN_ROW}
    assert record["rows"]["gamma"]["partial"] and record["rows"]["gamma"]["missing"] == [
        "uniform-noise"
    ]
    assert not (out / "consistency.png").exists()


def test_benchmark_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["benchmark", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 1
    assert "no raw-trial CSVs" in capsys.readouterr().err
    status = cli.main(["benchmark", str(tmp_path), "--models", ",", "--out", str(tmp_path / "o")])
    assert status == 2
    assert capsys.readouterr().err.startswith("shapebias benchmark: error: ")
