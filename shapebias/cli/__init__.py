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
from collections.abc import Sequence

from shapebias.cli import _compare, _evaluate, _map, _reproduce

__all__ = ["build_parser", "main"]

_COMMANDS = (_evaluate, _reproduce, _map, _compare)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``shapebias`` with every sub-command."""
    parser = argparse.ArgumentParser(prog="shapebias", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shapebias`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return int(args.run(args))
