"""Benchmark: the crossed interval of paired_difference against the nested bootstrap.

The reproduction's claims table has 40 seed-paired rows (4 AT configurations + the
underfit control x 8 accuracy-type claims; saliency rows are means of the same size):
3 seeds, 1000 shared test images, ratio statistics (relative accuracy, shape bias) with
per-item denominators. This script times, in one process, on the same simulated 0/1
outcomes:

* ``crossed``: ``paired_difference`` with its default (crossed seeds x images,
  generalized pivot over 8192 stratified draws);
* ``nested bootstrap``: ``method="nested bootstrap"`` with the 2000 replicates the
  protocol used until now (the physical limit is not the point here: both are far
  below the seconds of evaluation the rows summarise; the old method is the peer).

Usage: PYTHONPATH=. python benchmarks/bench_paired.py [--rows 40 --seeds 3 --items 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import interleaved_medians, machine

from shapebias.metrics import paired_difference


def rows(count: int, seeds: int, items: int) -> list[dict[str, object]]:
    """Per row: per-seed 0/1 values and clean-right denominators of two model sets."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        clean_at = [rng.random(items) < 0.95 for _ in range(seeds)]
        clean_std = [rng.random(items) < 0.98 for _ in range(seeds)]
        out.append(
            {
                "at": [c & (rng.random(items) < 0.45) for c in clean_at],
                "baseline": [c & (rng.random(items) < 0.4) for c in clean_std],
                "at_denominator": clean_at,
                "baseline_denominator": clean_std,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    table = rows(args.rows, args.seeds, args.items)

    def crossed() -> None:
        for row in table:
            paired_difference(**row)

    def nested() -> None:
        for row in table:
            paired_difference(**row, method="nested bootstrap", num_bootstrap=2000)

    times = interleaved_medians(
        {"crossed": crossed, "nested bootstrap": nested}, args.repeats, torch.device("cpu")
    )
    print(machine())
    print(f"{args.rows} rows, {args.seeds} seeds, {args.items} shared test items, ratios")
    print(f"{'method':40s} {'seconds':>9s} {'ms/row':>8s} {'vs nested':>10s}")
    for name, label in (
        ("crossed", "crossed (default), 8192 pivot draws"),
        ("nested bootstrap", "nested bootstrap, 2000 replicates"),
    ):
        seconds = times[name]
        ratio = seconds / times["nested bootstrap"]
        print(f"{label:40s} {seconds:9.3f} {1000 * seconds / args.rows:8.2f} {ratio:9.3f}x")


if __name__ == "__main__":
    main()
