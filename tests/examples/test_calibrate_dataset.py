"""The calibration script is a thin caller of ``shapebias calibrate`` (the protocol and its
tests: shapebias/experiments/_calibration.py, tests/experiments/test_calibration.py)."""

from __future__ import annotations

import runpy
import sys

import pytest

from tests.data._examples import EXAMPLES


def test_script_forwards_its_flags_to_shapebias_calibrate(monkeypatch, capsys, tmp_path):
    script = EXAMPLES / "calibrate_dataset.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--seeds", "0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_.value.code == 2
    assert "shapebias calibrate: error: --seeds must be >= 1, got 0" in capsys.readouterr().err
