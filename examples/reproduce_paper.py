"""Reproduce Zhang & Zhu (ICML 2019), "Interpreting Adversarially Trained CNNs", in one command.

A thin caller of :func:`shapebias.experiments.reproduce`, the same as ``shapebias
reproduce`` (same flags)::

    python examples/reproduce_paper.py            # default run: 6 seeds x 2 models
    python examples/reproduce_paper.py --full     # the whole roster: 3 seeds x 7 models
    python examples/reproduce_paper.py --quick    # a smoke run (not a result)

The protocol (settings, roster, training, evaluation, claims, tables and figures) lives in
the package; see the docs page "The protocol".
"""

from __future__ import annotations

import sys

from shapebias.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", *sys.argv[1:]]))
