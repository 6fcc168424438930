"""``shapebias calibrate``: one quick run end to end, a rerun that trains nothing, bad flags,
and the command's imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shapebias.cli import _calibrate, main
from shapebias.experiments import CALIBRATION_GRID, CalibrationTargets

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_writes_one_run_and_a_rerun_trains_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the quick run's default folder
    assert main(["calibrate", "--quick"]) == 0
    out = tmp_path / "runs" / "calibration_quick"
    (line,) = (out / "calibration.jsonl").read_text().splitlines()
    record = json.loads(line)
    first = next(iter(CALIBRATION_GRID))
    assert (record["setting"], record["seed"]) == (first, 0)
    assert record["axes"] == json.loads(json.dumps(CALIBRATION_GRID[first]))
    assert set(record["texture_only_pgd"]) == {"2/255", "4/255"}
    assert set(record["distorted"]) == set(CalibrationTargets().distortions())
    assert all(0 <= v <= 1 for v in record["distorted"].values())
    saved = json.loads((out / "calibration.json").read_text())
    assert saved["budget"]["train_size"] == _calibrate.QUICK_BUDGET.train_size
    assert saved["runs"] == [record] and list(saved["summary"]) == [first]
    cell = saved["summary"][first]
    assert cell["shape_bias"] == record["shape_bias"]["value"]
    assert cell["seeds"] == [0] and not (out / "models").exists()  # no cache when quick
    printed = capsys.readouterr().out
    assert printed == (out / "calibration.md").read_text()
    assert f"| {first} | 0 | {cell['shape_bias']:.3f} |" in printed
    assert main(["calibrate", "--quick", "--out", str(out)]) == 0
    assert (out / "calibration.jsonl").read_text().splitlines() == [line]
    # a full-budget run into the quick run's folder is refused, nothing trained
    assert main(["calibrate", "--settings", first, "--out", str(out)]) == 2
    assert "holds runs of another budget" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--first-seed", "-1"], "--first-seed must be >= 0, got -1"),
        (["--settings", "reproduction", "nope"], "argument --settings: invalid choice: 'nope'"),
        (["--seeds", "two"], "argument --seeds: invalid int value: 'two'"),
    ],
)
def test_bad_flags_are_refused_before_training(argv, match, capsys, tmp_path):
    assert main(["calibrate", *argv, "--out", str(tmp_path / "out")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["calibrate", "--out", str(tmp_path / "file")]) == 2
    assert "--out" in capsys.readouterr().err


def test_calibrate_help_imports_no_other_command():
    code = (
        "import sys\nfrom shapebias.cli import main\n"
        "try:\n    main(['calibrate', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('shapebias.cli.')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=300, check=True)  # fmt: skip
    assert "--settings SETTING" in result.stdout
    assert result.stdout.splitlines()[-1] == str(
        ["shapebias.cli._calibrate", "shapebias.cli._errors"]
    )
