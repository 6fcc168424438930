"""``shapebias reproduce --quick`` from a regular (non-editable) install, outside the repository.

The package is built and installed into a fresh virtual environment (system site packages
for torch and the other dependencies, no network), and the console script runs from a
folder that holds no checkout: nothing may depend on ``examples/`` or the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--set", "train_size=64", "--set", "validation_size=16", "--set", "test_size=32",
        "--set", "width=4", "--set", "standard_epochs=1", "--set", "eval_steps=1",
        "--set", "robust_size=16", "--set", "saliency_images=2", "--set", "saliency_samples=2",
        "--set", "num_bootstrap=30", "--set", "frequency_images=8"]  # fmt: skip


@pytest.mark.slow
def test_installed_shapebias_reproduce_quick_runs_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves the checkout untouched
    source.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "shapebias", source / "shapebias",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=False)
    python = environment / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    # The system pip (seen through the system site packages) installs into the venv: no
    # download, no build isolation.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", str(source)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import shapebias; print(shapebias.__file__)"],
        capture_output=True, text=True, cwd=work, env=env, timeout=120,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr[-2000:]
    installed = Path(where.stdout.strip())
    assert environment in installed.parents and ROOT not in installed.parents
    result = subprocess.run(
        [str(environment / "bin" / "shapebias"), "reproduce", "--quick", *TINY, "--seeds", "1",
         "--workers", "1", "--out", "run"],
        capture_output=True, text=True, cwd=work, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((work / "run" / "results.json").read_text())
    assert results["smoke_run"] is True and results["claims"]
    assert "## The paper's claims, seed-paired" in result.stdout
