"""``import shapebias`` is cheap: subpackages, their modules and torch load on first use.

The import-cost checks run in a fresh interpreter (this test process has imported
everything already) and read what it loaded from ``sys.modules`` or ``-X importtime``.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import shapebias
from shapebias import cli
from shapebias._lazy import attach, lazy_imports
from tests._raw_trials import random_trials, write_maker

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = tuple(sorted(p.parent.name for p in (ROOT / "shapebias").glob("*/__init__.py")))
LAZY = ("shapebias", *(f"shapebias.{name}" for name in SUBPACKAGES if name != "cli"))
HEAVY = ("torch", "torchvision", "numpy", "scipy", "matplotlib")


def _python(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run this worktree's shapebias in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _modules_after(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    report = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    return set(json.loads(_python("-c", code + report).stdout.splitlines()[-1]))


def _modules_after_command(*arguments: str) -> set[str]:
    """The modules loaded after ``shapebias ARGUMENTS`` ran (and succeeded) in a fresh
    interpreter (``-X importtime`` would miss what ``importlib.import_module`` loads)."""
    code = (
        "from shapebias.cli import main\n"
        "try:\n"
        f"    assert main({list(arguments)!r}) == 0\n"
        "except SystemExit as exit_:  # --help\n"
        "    assert exit_.code == 0"
    )
    return _modules_after(code)


def test_import_shapebias_loads_no_subpackage():
    loaded = _modules_after("import shapebias")
    assert {m for m in loaded if m.split(".")[0] == "shapebias"} == {
        "shapebias", "shapebias._lazy", "shapebias._version"
    }  # fmt: skip
    assert not [m for m in HEAVY if m in loaded]


def test_importing_every_package_loads_none_of_their_modules_and_no_torch():
    loaded = _modules_after("import " + ", ".join(("shapebias.cli", *LAZY)))
    assert not [m for m in HEAVY if m in loaded]
    ours = {m for m in loaded if m.split(".")[0] == "shapebias"}
    expected = {"shapebias._lazy", "shapebias._version", "shapebias.cli._errors"}
    assert ours == {*LAZY, "shapebias.cli", *expected}


def test_dir_lists_every_public_name_before_any_is_loaded():
    code = (
        "import importlib, sys\n"
        f"for name in {LAZY!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    missing = set(package.__all__) - set(dir(package))\n"
        "    assert not missing, (name, missing)\n"
        "assert 'torch' not in sys.modules"
    )
    _python("-c", code)


def _declared(package: types.ModuleType) -> tuple[set[str], set[str]]:
    """(names under ``if TYPE_CHECKING:``, other names the ``__init__`` binds itself)."""
    source = Path(package.__file__ or "").read_text(encoding="utf-8")
    own = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom):
            own |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Assign):
            own |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return set(lazy_imports(source, package.__name__)), own


@pytest.mark.parametrize("name", LAZY)
def test_every_public_name_resolves_from_its_declared_module(name):
    package = importlib.import_module(name)
    lazy, own = _declared(package)
    assert lazy <= set(package.__all__), "imported for type checkers but not in __all__"
    assert set(package.__all__) <= lazy | own, "in __all__ but never imported"
    homes = lazy_imports(Path(package.__file__ or "").read_text(encoding="utf-8"), name)
    for public in package.__all__:
        value = getattr(package, public)
        scope: dict[str, object] = {}
        exec(f"from {name} import {public}", scope)
        assert scope[public] is value
        if public in homes:
            module, attribute = homes[public]
            home = importlib.import_module(module)
            assert value is (home if attribute is None else getattr(home, attribute))
        assert public in dir(package)


def test_unknown_names_raise_and_private_modules_still_import():
    with pytest.raises(
        AttributeError, match=r"module 'shapebias\.metrics' has no attribute 'nope'"
    ):
        shapebias.metrics.nope  # noqa: B018
    with pytest.raises(ImportError, match="cannot import name 'nope'"):
        exec("from shapebias.data import nope", {})
    scope: dict[str, object] = {}
    exec("from shapebias.data import _raw_trials", scope)
    assert scope["_raw_trials"] is sys.modules["shapebias.data._raw_trials"]
    assert not hasattr(shapebias, "nope")


def test_lazy_imports_reads_only_the_type_checking_block():
    source = (
        "import typing\n"
        "from shapebias._version import __version__\n"
        "if typing.TYPE_CHECKING:\n"
        "    from . import attacks\n"
        "    from ._seeds import derive_seed as seed\n"
        "    from shapebias.models import small_cnn\n"
        "    import torch\n"
        "else:\n"
        "    from shapebias.data import SHAPES\n"
    )
    assert lazy_imports(source, "shapebias") == {
        "attacks": ("shapebias.attacks", None),
        "seed": ("shapebias._seeds", "derive_seed"),
        "small_cnn": ("shapebias.models", "small_cnn"),
    }


def test_attach_refuses_a_package_without_source(monkeypatch):
    package = types.ModuleType("compiled_only")
    loader = types.SimpleNamespace(get_source=lambda name: None)
    package.__spec__ = importlib.machinery.ModuleSpec("compiled_only", loader)
    monkeypatch.setitem(sys.modules, "compiled_only", package)
    with pytest.raises(ImportError, match=r"compiled_only re-exports .* cannot give that source"):
        attach("compiled_only")


def test_benchmark_help_imports_no_torch_and_no_other_command():
    loaded = _modules_after_command("benchmark", "--help")
    assert "shapebias.cli._benchmark" in loaded
    assert not [m for m in (*HEAVY, "shapebias.cli._evaluate", "shapebias.cli._compare")
                if m in loaded]  # fmt: skip


def test_benchmark_runs_without_torchvision(tmp_path):
    rng = np.random.default_rng(0)
    truth = random_trials(rng, ["0.00", "0.35"], 3, 1.0)
    for maker in ("subject-01", "subject-02", "model-a"):
        trials = random_trials(rng, ["0.00", "0.35"], 3, 0.6, truth=truth)
        write_maker(tmp_path / "raw", "uniform-noise", maker, trials)
    out = tmp_path / "table"
    raw = str(tmp_path / "raw")
    loaded = _modules_after_command("benchmark", raw, "--out", str(out), "--no-figures")
    assert "model-a" in json.loads((out / "benchmark.json").read_text())["rows"]
    assert "shapebias.metrics._human_benchmark" in loaded
    assert not [m for m in ("torchvision", "scipy", "matplotlib") if m in loaded]


@pytest.mark.parametrize(
    ("arguments", "parsed"),
    [
        (["benchmark", "raw", "--out", "x"], ["benchmark"]),
        (["--debug", "map", "--help"], ["map"]),
        (["--help", "benchmark"], None),  # top-level help lists every command
        (["--debugx", "benchmark"], None),
        (["benchmrk", "raw"], None),  # argparse names the valid choices
        ([], None),
    ],
)
def test_main_imports_the_named_command_only(arguments, parsed):
    assert cli._named_command(arguments) == (parsed or list(cli._COMMANDS))


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    usage = " ".join(capsys.readouterr().out.split("\n\n")[0].split())  # argparse may wrap it
    assert usage.endswith("{" + ",".join(cli._COMMANDS) + "} ...")
