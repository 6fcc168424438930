"""The layout rule: no module imports another subpackage's private module.

A helper that several subpackages need lives at the top level (``shapebias/_*.py``) or is
a documented public name of its subpackage; there are no exceptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "shapebias"


def _private_imports(package: Path = PACKAGE) -> set[tuple[str, str]]:
    found = set()
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        own = relative.parts[0] if len(relative.parts) > 1 else None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if (
                    len(parts) >= 3
                    and parts[0] == "shapebias"
                    and parts[2].startswith("_")
                    and parts[1] != own
                ):
                    found.add((relative.as_posix(), ".".join(parts[:3])))
    return found


def test_no_module_imports_another_subpackages_private_module():
    assert _private_imports() == set()


def test_the_scan_finds_a_private_import_of_each_form(tmp_path):
    """Both import forms, nested in a function too, are found; a subpackage's own private
    modules, the top-level shared modules and public names are allowed."""
    package = tmp_path / "shapebias"
    (package / "metrics").mkdir(parents=True)
    (package / "metrics" / "_a.py").write_text(
        "from shapebias.distortions._edges import edge_map\n"
        "def f():\n"
        "    import shapebias.attacks._pgd.inner\n"
        "from shapebias.metrics._b import x\n"
        "from shapebias._gradients import input_gradient\n"
        "from shapebias.attacks import pgd\n"
    )
    (package / "_top.py").write_text("from shapebias.models._stacked import check_unstacked\n")
    assert _private_imports(package) == {
        ("metrics/_a.py", "shapebias.distortions._edges"),
        ("metrics/_a.py", "shapebias.attacks._pgd"),
        ("_top.py", "shapebias.models._stacked"),
    }
