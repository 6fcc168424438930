"""Validation: shapebias's model-vs-human table against the published one.

Reads a local copy of model-vs-human's raw data (nothing is downloaded): the human
trials are on the repository's default branch, the trials of ResNet-50, BagNet-33 and
SimCLR-x1 on its ``dprun`` branch, e.g.::

    git clone https://github.com/bethgelab/model-vs-human && cd model-vs-human
    git archive dprun raw-data | tar -x -C /tmp/mvh

and compares every number with the table model-vs-human published for those models
(``latex-report/assets/benchmark_table_{humanlike,accuracy}.tex`` on ``dprun``, three
decimals). Exit status 1 if any number differs by more than half a unit in the third
decimal.

Usage: PYTHONPATH=. python benchmarks/validate_model_vs_human.py /tmp/mvh/raw-data
"""

from __future__ import annotations

import argparse
import sys

from shapebias.data import read_raw_trials
from shapebias.metrics import human_benchmark

# The published rows: accuracy difference, observed consistency, error consistency,
# mean rank (benchmark_table_humanlike.tex) and OOD accuracy (benchmark_table_accuracy.tex).
PUBLISHED = {
    "simclr-resnet50x1": (0.080, 0.667, 0.179, 1.333, 0.596),
    "resnet50": (0.087, 0.665, 0.208, 1.667, 0.559),
    "bagnet33": (0.156, 0.567, 0.137, 3.000, 0.398),
}
COLUMNS = ("accuracy_difference", "observed_consistency", "error_consistency", "mean_rank",
           "ood_accuracy")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_data", help="model-vs-human's raw-data folder (dprun branch)")
    args = parser.parse_args()
    raw = read_raw_trials(args.raw_data)
    models = [m for m in PUBLISHED if all(m in makers for makers in raw.values())]
    if not models:
        print("none of the published models has trials in every dataset of", args.raw_data)
        return 1
    table = human_benchmark(raw, models=models)
    print(f"{len(table.datasets)} datasets, models {', '.join(models)}")
    print(f"{'model':<20}" + "".join(f"{c:>22}" for c in COLUMNS))
    worst = 0.0
    for model in models:
        row = table.rows[model]
        cells = []
        for column, published in zip(COLUMNS, PUBLISHED[model], strict=True):
            value = getattr(row, column)
            worst = max(worst, abs(round(value, 3) - published))
            cells.append(f"{value:.6f} ({published:.3f})")
        print(f"{model:<20}" + "".join(f"{c:>22}" for c in cells))
    humans = table.rows["humans"]
    print(
        f"{'humans':<20}"
        + "".join(f"{getattr(humans, c):>22.6f}" for c in COLUMNS if c != "mean_rank")
    )
    for name, row in table.rows.items():
        print(f"shape bias {name}: {row.shape_bias:.6f}")
    agree = worst <= 0.0005
    print(f"largest difference to the published 3-decimal values: {worst:.4f}:",
          "all agree" if agree else "MISMATCH")  # fmt: skip
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
