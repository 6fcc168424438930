"""Calibrate ShapeTextureDataset's axes for the paper's experiment, from STANDARD models only.

A thin caller of :func:`shapebias.experiments.calibrate`, the same as ``shapebias
calibrate`` (same flags). For each setting of ``CALIBRATION_GRID`` and each seed one
standard ``small_cnn`` is trained like ``reproduce_paper.py``'s and measured against
``CalibrationTargets`` (shape bias, shape-only accuracy, texture-only accuracy under PGD,
and the patch-shuffle and low-pass floors); no adversarially trained model is trained.
Not a gallery example: the whole grid takes about a minute per model;
``docs/calibration.rst`` records the committed run::

    python examples/calibrate_dataset.py --out runs/calibration --seeds 2
    python examples/calibrate_dataset.py --quick        # smoke run, not a result
"""

from __future__ import annotations

import sys

from shapebias.cli import main

if __name__ == "__main__":
    sys.exit(main(["calibrate", *sys.argv[1:]]))
