"""The ``shapebias`` command: one sub-command per module of this package.

Run alone, or sharded over processes with ``torchrun``::

    shapebias evaluate --arch resnet50 --weights resnet50_l2_eps3.ckpt --ood folders --out card/
    torchrun --nproc_per_node=8 -m shapebias.cli evaluate ...   # one node, 8 GPUs

Each sub-command lives in its own module (``_evaluate.py``, ...) and exposes
``add_parser(commands)`` (registers its arguments and sets ``run``) so that a new
command is one new file and one line in :data:`_COMMANDS`. A command's module, and the
libraries it needs (torch, torchvision), are imported only when that command is named:
``shapebias benchmark`` never loads what ``shapebias evaluate`` needs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Iterable, Sequence

from shapebias.cli._errors import ArgumentParser, UsageError, guarded

__all__ = ["build_parser", "main"]

# Sub-command -> the module that registers it, in the order ``shapebias --help`` lists them.
_COMMANDS = {
    "evaluate": "shapebias.cli._evaluate",
    "reproduce": "shapebias.cli._reproduce",
    "calibrate": "shapebias.cli._calibrate",
    "map": "shapebias.cli._map",
    "compare": "shapebias.cli._compare",
    "benchmark": "shapebias.cli._benchmark",
}
_DEBUG_HELP = "on an error, print the traceback too (default: one line)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``shapebias`` with every sub-command.

    Its errors (and every sub-command's) raise :class:`~shapebias.cli._errors.UsageError`
    instead of printing the usage block; :func:`main` prints them as one line. ``--debug``
    is accepted before and after the sub-command's name.
    """
    return _parser(_COMMANDS)


def _parser(names: Iterable[str]) -> argparse.ArgumentParser:
    """The parser with the sub-commands ``names`` only (their modules are imported)."""
    parser = ArgumentParser(prog="shapebias", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in names:
        importlib.import_module(_COMMANDS[name]).add_parser(commands)
    for sub in commands.choices.values():
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
    return parser


def _named_command(arguments: Sequence[str]) -> list[str]:
    """The sub-command ``arguments`` name, as a one-item list; every command when unsure.

    Only ``--debug`` may come before a sub-command's name here; anything else there
    (``--help``, a typo, no command at all) gets the parser of every command, so help and
    errors read as they always did.
    """
    for argument in arguments:
        if argument != "--debug":
            return [argument] if argument in _COMMANDS else list(_COMMANDS)
    return list(_COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shapebias`` console script; returns the exit status.

    0 on success; 2 for a usage error (an argument that cannot work, reported before any
    model is loaded or data touched); 1 for a failure while the command runs; 130 on
    Ctrl-C. Errors are one line on stderr; ``--debug`` adds the traceback.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    prog = ["shapebias"]  # "shapebias <command>" once parsed; a parse error names its parser

    def run() -> int:
        args, extra = _parser(_named_command(arguments)).parse_known_args(arguments)
        prog[0] = f"shapebias {args.command}"
        if extra:  # named by the sub-command they were given to
            raise UsageError(
                f"unrecognized arguments: {' '.join(extra)} (see {prog[0]} --help)", prog=prog[0]
            )
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return int(args.run(args))

    return guarded(run, lambda: prog[0], debug="--debug" in arguments)
