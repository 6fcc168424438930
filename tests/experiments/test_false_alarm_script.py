"""benchmarks/diagnostics_false_alarms.py reads a reproduction's results.json as written by
the protocol and reports, per model, seed and budget, which diagnostics fired."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest
import torch

from shapebias.attacks import Diagnostics
from shapebias.experiments import ModelResult
from shapebias.experiments._tables import per_seed_numbers
from tests.data._examples import BENCHMARKS, load_script

CLEAN = Diagnostics(0.0, 0, 0.0, 0, "APGD-CE", verified=7)
MASKED = dataclasses.replace(CLEAN, start_zero_gradient=0.5, start_zero_gradient_count=4)
LOW, HIGH = 2 / 255, 8 / 255


def _entry(seed: int, diagnostics) -> dict:
    result = ModelResult(
        robust={LOW: torch.ones(8, dtype=torch.bool)}, robust_diagnostics=diagnostics
    )
    return {"seed": seed, **per_seed_numbers(result, 4)}


def _run(tmp_path, models, monkeypatch, capsys) -> tuple[int, str]:
    payload = {"shapebias_version": "x", "seeds": [0, 1], "settings": {}, "models": models}
    (tmp_path / "results.json").write_text(json.dumps(payload))
    script = load_script(BENCHMARKS / "diagnostics_false_alarms.py")
    monkeypatch.setattr(sys, "argv", ["diagnostics_false_alarms", "--run", str(tmp_path)])
    status = script.main()
    return status, capsys.readouterr().out


def test_reports_each_model_seed_and_budget_and_the_rate(tmp_path, monkeypatch, capsys):
    models = {
        "standard": [_entry(0, {LOW: CLEAN, HIGH: CLEAN}), _entry(1, {LOW: CLEAN, HIGH: CLEAN})],
        "pgd": [_entry(0, {LOW: CLEAN, HIGH: MASKED}), _entry(1, None)],
    }
    status, out = _run(tmp_path, models, monkeypatch, capsys)
    lines = [line.split() for line in out.splitlines()]
    fired = [line for line in lines if line[:3] == ["pgd", "0", "8/255"]]
    assert fired and fired[0][3:6] == ["0.0", "50.0", "7"]
    assert "zero gradient at APGD-CE start 50.0 %" in out
    assert ["pgd", "1", "-", "-", "-", "-", "not", "recorded"] in lines
    assert sum(line[-1:] == ["none"] for line in lines) == 5
    assert "false alarms: 1 of 6 evaluations" in out and "16.7 %" in out
    assert "1 model-seed(s) without diagnostics" in out
    assert status == 1


def test_clean_run_exits_zero_and_a_run_without_diagnostics_two(tmp_path, monkeypatch, capsys):
    clean = {"standard": [_entry(0, {LOW: CLEAN})]}
    status, out = _run(tmp_path, clean, monkeypatch, capsys)
    assert status == 0 and "false alarms: 0 of 1 evaluations" in out
    old = {"standard": [_entry(0, None)]}
    status, out = _run(tmp_path, old, monkeypatch, capsys)
    assert status == 2 and "no evaluation recorded diagnostics" in out


def test_a_folder_without_results_is_refused(tmp_path, monkeypatch, capsys):
    script = load_script(BENCHMARKS / "diagnostics_false_alarms.py")
    monkeypatch.setattr(sys, "argv", ["diagnostics_false_alarms", "--run", str(tmp_path)])
    with pytest.raises(SystemExit):
        script.main()
    assert "must be a reproduction folder holding results.json" in capsys.readouterr().err
