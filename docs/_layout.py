"""Write ``layout.rst``: every module of the package, benchmark and example script with the
first line of its docstring. Run by ``conf.py`` at each build, so the page cannot go stale."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INTRO = """\
Where the code lives
====================

Every module of the package, every benchmark and every example script, each with the
first line of its docstring. The page is generated from the source at each docs build
(``docs/_layout.py``), so it lists what is there today. Public names are re-exported by
their subpackage's ``__init__`` (import from ``shapebias.attacks``, never from
``shapebias.attacks._pgd``); each ``_module.py`` holds one concept. Under each heading,
"uses" names the other subpackages its modules import (read from the source too): the
top-level helpers (``_validation``, ``_seeds``, ``_batches``, ...) are the ground floor
every subpackage may use, ``_card.py`` and ``cli`` sit on top of the subpackages, and
subpackages import each other in one direction only.
"""


def _summary(path: Path) -> str:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(docstring.split("\n\n")[0].split())
    return first or "(no docstring)"


def _uses(paths: list[Path], own: str) -> list[str]:
    """The public subpackages of shapebias that ``paths`` import, other than ``own``."""
    used = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shapebias."):
                name = node.module.split(".")[1]
                if not name.startswith("_") and name != own:
                    used.add(name)
    return sorted(used)


def _section(title: str, folder: Path, pattern: str, own: str = "") -> list[str]:
    paths = sorted(folder.glob(pattern))
    lines = [title, "-" * len(title), ""]
    if own:
        uses = ", ".join(f"``{name}``" for name in _uses(paths, own)) or "no other subpackage"
        lines += [f"Uses: {uses}.", ""]
    for path in paths:
        lines.append(f"- ``{path.relative_to(ROOT).as_posix()}``: {_summary(path)}")
    return [*lines, ""]


def layout_text() -> str:
    """The page, as reStructuredText."""
    package = ROOT / "shapebias"
    lines = [INTRO]
    lines += _section("shapebias (top level)", package, "*.py", own="(top level)")
    for sub in sorted(p for p in package.iterdir() if (p / "__init__.py").exists()):
        lines += _section(f"shapebias.{sub.name}", sub, "*.py", own=sub.name)
    lines += _section("benchmarks", ROOT / "benchmarks", "*.py")
    lines += _section("examples", ROOT / "examples", "*.py")
    return "\n".join(lines)


def write_layout(path: Path) -> None:
    """Write the page to ``path`` (only when it changed, so incremental builds stay fast)."""
    text = layout_text()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
