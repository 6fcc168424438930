"""Run by test_cli_compare.py under ``torchrun --nproc_per_node=2``: ``shapebias compare``
with the tests' narrow ``small_cnn`` checkpoints (each process joins the group itself)."""

from __future__ import annotations

import sys

import torch

from shapebias import cli
from shapebias.cli import _compare
from shapebias.models import small_cnn


def main() -> None:
    torch.set_num_threads(1)
    _compare._OWN["small_cnn"] = lambda num_classes: small_cnn(num_classes, width=8)
    status = cli.main(sys.argv[1:])
    if status != 0:  # main reports errors as an exit status, not an exception
        raise SystemExit(status)


if __name__ == "__main__":
    main()
