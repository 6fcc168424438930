"""Import a script of examples/ or benchmarks/ as a module (its folder on sys.path while it
loads, for its sibling helpers such as ``_common``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BENCHMARKS = EXAMPLES.parent / "benchmarks"


def load_script(path: Path) -> ModuleType:
    """The script at ``path`` as a module named after its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_example(name: str) -> ModuleType:
    """The module ``examples/<name>.py``."""
    return load_script(EXAMPLES / f"{name}.py")
