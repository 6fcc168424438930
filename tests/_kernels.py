"""Run code in fresh processes under other CPU kernel sets and thread counts.

Results that must not depend on the CPU (procedural images, float tolerances) are checked
here under the machine's own kernels and under the portable fallbacks every CPU has:
PyTorch's ``ATEN_CPU_CAPABILITY=default`` and NumPy with every dispatched SIMD feature
this CPU has switched off, on one thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import shapebias

ROOT = Path(__file__).resolve().parents[1]


def fallback_kernels() -> dict[str, str]:
    """Environment variables selecting the portable kernels and one thread."""
    found = shapebias.environment_record()["numpy_simd"]["dispatch_found"]
    variables = {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"}
    if found:  # NumPy refuses names it does not dispatch to, so name only this CPU's
        variables["NPY_DISABLE_CPU_FEATURES"] = " ".join(found)
    return variables


def kernel_sets() -> dict[str, dict[str, str]]:
    """``name -> environment overrides``: this machine's kernels and the portable ones."""
    return {"native": {}, "fallback": fallback_kernels()}


def run_under(kernels: dict[str, str], *arguments: str, timeout: float = 300) -> str:
    """``python ARGUMENTS`` in a fresh process with ``kernels`` set; its stdout."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES", "OMP_NUM_THREADS")
    }
    environment.update(kernels, PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    return completed.stdout
