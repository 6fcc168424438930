"""The cue-robustness map: when does adversarial training raise or lower shape bias?

A thin caller of :func:`shapebias.experiments.cue_robustness_map`, the same as
``shapebias map`` (same flags). Not a gallery example: a real sweep takes tens of minutes;
``docs/calibration.rst`` describes the committed run::

    python examples/cue_robustness_map.py --out runs/map --seeds 3 --contrasts 0.03 0.06 \
        0.1 --deformations 0.2 --eps 2/255 4/255 --train-size 3000 --test-size 500
    python examples/cue_robustness_map.py --quick       # < 60 s smoke run, not a result
"""

from __future__ import annotations

import sys

from shapebias.cli import main

if __name__ == "__main__":
    sys.exit(main(["map", *sys.argv[1:]]))
