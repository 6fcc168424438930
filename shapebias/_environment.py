"""What a bit-identical rerun needs: versions, CPU kernels and thread counts, as a dict.

Procedural images (``ShapeTextureDataset``) are the same on every machine; trained
weights and every number computed from them depend on float kernels, so a result records
the software, the kernel set (PyTorch's CPU capability, NumPy's SIMD dispatch) and the
threads it ran with.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np
import torch

__all__ = ["KERNEL_VARIABLES", "environment_record"]

KERNEL_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "NPY_DISABLE_CPU_FEATURES",
    "NPY_ENABLE_CPU_FEATURES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
)
"""Environment variables that change which kernels or how many threads run."""


def _numpy_simd() -> dict[str, list[str]]:
    import importlib

    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")  # NumPy 2
    except ImportError:  # NumPy 1.x
        umath = importlib.import_module("numpy.core._multiarray_umath")
    dispatch = list(getattr(umath, "__cpu_dispatch__", []))
    features = getattr(umath, "__cpu_features__", {})
    return {
        "baseline": list(getattr(umath, "__cpu_baseline__", [])),
        "dispatch_found": [name for name in dispatch if features.get(name)],
        "dispatch_not_found": [name for name in dispatch if not features.get(name)],
    }


def _version(module: str) -> str | None:
    try:
        return str(__import__(module).__version__)
    except ImportError:
        return None


def environment_record() -> dict[str, Any]:
    """Library versions, CPU kernel set and thread counts of this process (JSON-ready).

    Example:
        >>> import shapebias
        >>> record = shapebias.environment_record()
        >>> sorted(record["numpy_simd"])
        ['baseline', 'dispatch_found', 'dispatch_not_found']
    """
    import shapebias

    return {
        "shapebias": shapebias.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "scikit-image": _version("skimage"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "numpy_simd": _numpy_simd(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "kernel_variables": {
            name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ
        },
    }
