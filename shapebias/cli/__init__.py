"""The ``shapebias`` command: one sub-command per module of this package.

Run alone, or sharded over processes with ``torchrun``::

    shapebias evaluate --arch resnet50 --weights resnet50_l2_eps3.ckpt --ood folders --out card/
    torchrun --nproc_per_node=8 -m shapebias.cli evaluate ...   # one node, 8 GPUs

Each sub-command lives in its own module (``_evaluate.py``, ...) and exposes
``add_parser(commands)`` (registers its arguments and sets ``run``) so that a new
command is one new file and one line in :data:`_COMMANDS`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from shapebias.cli import _benchmark, _compare, _evaluate, _map, _reproduce
from shapebias.cli._errors import ArgumentParser, UsageError, guarded

__all__ = ["build_parser", "main"]

_COMMANDS = (_evaluate, _reproduce, _map, _compare, _benchmark)
_DEBUG_HELP = "on an error, print the traceback too (default: one line)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``shapebias`` with every sub-command.

    Its errors (and every sub-command's) raise :class:`~shapebias.cli._errors.UsageError`
    instead of printing the usage block; :func:`main` prints them as one line. ``--debug``
    is accepted before and after the sub-command's name.
    """
    parser = ArgumentParser(prog="shapebias", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.add_parser(commands)
    for sub in commands.choices.values():
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shapebias`` console script; returns the exit status.

    0 on success; 2 for a usage error (an argument that cannot work, reported before any
    model is loaded or data touched); 1 for a failure while the command runs; 130 on
    Ctrl-C. Errors are one line on stderr; ``--debug`` adds the traceback.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    prog = ["shapebias"]  # "shapebias <command>" once parsed; a parse error names its parser

    def run() -> int:
        args, extra = build_parser().parse_known_args(arguments)
        prog[0] = f"shapebias {args.command}"
        if extra:  # named by the sub-command they were given to
            raise UsageError(
                f"unrecognized arguments: {' '.join(extra)} (see {prog[0]} --help)", prog=prog[0]
            )
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return int(args.run(args))

    return guarded(run, lambda: prog[0], debug="--debug" in arguments)
