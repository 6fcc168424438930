"""Fault injection: a training process killed inside a checkpoint write loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from shapebias.training._checkpoint import list_checkpoints
from tests.training import _fault_worker

ROOT = Path(__file__).resolve().parents[2]


def _worker(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "tests" / "training" / "_fault_worker.py"), str(out)]
    return subprocess.run(
        [*command, *extra], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )


@pytest.mark.slow
def test_kill_inside_a_checkpoint_write_then_resume_is_bit_identical(tmp_path):
    killed = _worker(tmp_path, "--die-writing", "2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    folder = tmp_path / "checkpoints"
    orphans = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert len(orphans) == 1 and orphans[0].startswith(".checkpoint-00002.pt.")  # died mid-write
    assert [p.name for p in list_checkpoints(folder)] == ["checkpoint-00001.pt"]

    resumed = _worker(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "removed" in resumed.stderr and orphans[0] in resumed.stderr  # logged
    assert sorted(p.name for p in folder.iterdir()) == [
        "checkpoint-00002.pt",
        "checkpoint-00003.pt",
    ]

    uninterrupted = _fault_worker.train(tmp_path / "straight").state_dict()
    weights = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert weights.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():
        assert torch.equal(weights[name], value), name
