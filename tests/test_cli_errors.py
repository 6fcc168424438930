"""The command line's error discipline: one line on stderr, exit status 2 for usage errors
and 1 for failures, a traceback only with ``--debug``, every argument checked before a
model is loaded or data touched.

The reliability sweep saw 18-line tracebacks for a missing weight file, ``--size 0``,
``--mean 1,2`` for 3 channels and an ``--out`` that is a file (the last only after the
whole evaluation ran), and ``--eps 8`` refused only after the clean evaluation.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from shapebias import cli
from shapebias.cli import _evaluate
from shapebias.cli._errors import UsageError
from tests._stimuli import write_stimulus_tree


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory) -> dict[str, Path]:
    return write_stimulus_tree(tmp_path_factory.mktemp("stimuli"))


@pytest.fixture
def work(monkeypatch) -> list[str]:
    """Records every model load and data read ``evaluate`` starts (and stops it there)."""
    started: list[str] = []

    def record(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            started.append(name)
            raise AssertionError(f"{name} ran")

        return call

    for name in ("load_pretrained", "stimulus_folder", "ood_datasets", "CueConflictDataset"):
        monkeypatch.setattr(_evaluate, name, record(name))
    return started


def _base(stimuli: dict[str, Path], out: Path) -> dict[str, str | None]:
    root = stimuli["root"]
    return {
        "--arch": "mobilenet_v3_small", "--weights": str(stimuli["weights"]),
        "--clean": str(root / "clean"), "--ood": str(root / "ood"),
        "--cue-conflict": str(root / "cue"), "--size": "32", "--workers": "0", "--out": str(out),
    }  # fmt: skip


def _argv(options: dict[str, str | None]) -> list[str]:
    argv = ["evaluate"]
    for option, value in options.items():
        if value is not None:
            argv += [option] if value == "" else [option, value]
    return argv


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one line, no traceback, no usage block
    return err[0]


# name -> (options changed from the base (None: left out), expected message)
USAGE_ERRORS = {
    "missing weights": ({"--weights": "/nonexistent/w.pth"},
                        r"--weights /nonexistent/w\.pth does not exist.*never downloads"),
    "size 0": ({"--size": "0"}, r"--size must be >= 1, got 0\."),
    "mean for 2 channels": ({"--mean": "1,2"}, r"--mean needs one value per RGB channel.*got 2"),
    "std with a zero": ({"--std": "0.2,0.2,0"}, r"--std must be positive"),
    "std NaN": ({"--std": "0.2,nan,0.2"}, r"--std must hold finite numbers"),
    "eps in pixel units": ({"--eps": "8"}, r"--eps is an L-inf budget in \[0, 1\] pixel units, "
                           r"got 8\. Did you mean --eps 8/255\?"),
    "eps negative": ({"--eps=-1/255": ""}, r"--eps is an L-inf budget in \[0, 1\]"),
    "eps not a number": ({"--eps": "4//255"}, r"^shapebias evaluate: error: argument --eps: "
                         r"expected a number such as 4/255, got '4//255'"),
    "eps without clean": ({"--eps": "4/255", "--clean": None}, r"--eps needs --clean"),
    "clean folder missing": ({"--clean": "/nonexistent/clean"},
                             r"--clean /nonexistent/clean does not exist"),
    "shape-only without ood": ({"--shape-only": "silhouette", "--ood": None},
                               r"--shape-only names an OOD condition, so it needs --ood"),
    "shape-only unknown": ({"--shape-only": "stylized"},
                           r"--shape-only .*stylized does not exist.*condition folder of --ood"),
    "batch size 0": ({"--batch-size": "0"}, r"--batch-size must be >= 1, got 0"),
    "workers negative": ({"--workers=-1": ""}, r"--workers must be >= 0, got -1"),
    "attack steps 0": ({"--attack-steps": "0"}, r"--attack-steps must be >= 1"),
    "bootstrap negative": ({"--bootstrap=-5": ""}, r"--bootstrap must be >= 0"),
    "device unknown": ({"--device": "gpu0"}, r"--device 'gpu0' is not a device"),
    "no stimuli": ({"--clean": None, "--ood": None, "--cue-conflict": None},
                   r"give at least one of --clean, --ood, --cue-conflict"),
    "unknown option": ({"--epsilon": "1"}, r"unrecognized arguments: --epsilon 1"),
    "missing arch": ({"--arch": None}, r"the following arguments are required: --arch"),
    "unknown arch": ({"--arch": "resnet5"}, r"--arch: architecture 'resnet5' is neither a "
                     r"torchvision model name.*Close torchvision names: resnet50"),
    "size not an int": ({"--size": "big"}, r"argument --size: invalid int value: 'big'"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(USAGE_ERRORS))
def test_usage_errors_are_one_line_exit_2_before_any_work(stimuli, tmp_path, work, capsys, name):
    changes, match = USAGE_ERRORS[name]
    options = {**_base(stimuli, tmp_path / "card"), **changes}
    assert cli.main(_argv(options)) == 2
    line = _error_line(capsys)
    assert line.startswith("shapebias evaluate: error: ")
    assert re.search(match, line), line
    assert work == []  # no model loaded, no data read
    assert not (tmp_path / "card").exists()  # nothing created


def test_an_out_that_is_a_file_is_refused_before_any_work(stimuli, tmp_path, work, capsys):
    target = tmp_path / "card.json"
    target.write_text("{}")
    assert cli.main(_argv(_base(stimuli, target))) == 2
    assert "--out" in _error_line(capsys) and work == []
    assert target.read_text() == "{}"


def test_runtime_failures_are_one_line_exit_1(stimuli, tmp_path, capsys):
    weights = tmp_path / "weights.pth"
    weights.write_text("not a checkpoint\n")
    options = {**_base(stimuli, tmp_path / "card"), "--weights": str(weights)}
    assert cli.main(_argv(options)) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"shapebias evaluate: error: ValueError: path {weights} is not a ")
    assert line.endswith("(run with --debug for the traceback)")
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_debug_adds_the_traceback_and_keeps_the_status(stimuli, tmp_path, capsys, where):
    weights = tmp_path / "weights.pth"
    weights.write_text("not a checkpoint\n")
    options = {**_base(stimuli, tmp_path / "card"), "--weights": str(weights)}
    argv = _argv(options)
    argv = ["--debug", *argv] if where == "before the command" else [*argv, "--debug"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("shapebias evaluate: error: ValueError: path")


def test_interrupt_is_one_line_exit_130(stimuli, tmp_path, monkeypatch, capsys):
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(_evaluate, "load_pretrained", interrupted)
    assert cli.main(_argv(_base(stimuli, tmp_path / "card"))) == 130
    assert _error_line(capsys) == "shapebias evaluate: interrupted"


def test_a_new_command_gets_the_discipline_for_free(monkeypatch, capsys):
    """A command another module registers (reproduce, compare, map, benchmark) needs no
    error handling of its own: UsageError -> 2, any exception -> 1, --debug accepted."""

    class _Command:
        @staticmethod
        def add_parser(commands: Any) -> None:
            parser = commands.add_parser("probe")
            parser.add_argument("--fail", choices=("usage", "runtime", "none"))
            parser.set_defaults(run=_Command.run)

        @staticmethod
        def run(args: argparse.Namespace) -> int:
            if args.fail == "usage":
                raise UsageError("--fail usage: a bad argument.")
            if args.fail == "runtime":
                raise RuntimeError("deep failure\nwith a second line")
            return 0

    probe = types.ModuleType("_shapebias_probe_command")
    probe.add_parser = _Command.add_parser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, probe.__name__, probe)
    monkeypatch.setitem(cli._COMMANDS, "probe", probe.__name__)
    assert cli.main(["probe", "--fail", "none", "--debug"]) == 0
    assert cli.main(["probe", "--fail", "usage"]) == 2
    assert _error_line(capsys) == "shapebias probe: error: --fail usage: a bad argument."
    assert cli.main(["probe", "--fail", "runtime"]) == 1
    assert _error_line(capsys) == (
        "shapebias probe: error: RuntimeError: deep failure with a second line "
        "(run with --debug for the traceback)"
    )
    assert cli.main(["probe", "--fail", "other"]) == 2
    assert "argument --fail: invalid choice: 'other'" in _error_line(capsys)
