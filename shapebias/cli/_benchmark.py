"""``shapebias benchmark``: the model-vs-human table from raw-trial CSVs alone (no weights).

::

    shapebias benchmark model-vs-human/raw-data --out table/
    shapebias benchmark model-vs-human/raw-data card/raw-data \\
        --models resnet50,my-model --out table/

Writes ``benchmark.json`` (every number, per dataset too), ``benchmark.csv`` (the same,
one row per decision-maker and dataset, full precision), ``benchmark.md`` (the table) and,
with matplotlib, ``shape_bias.png`` and ``consistency.png``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shapebias.metrics import HumanBenchmark

__all__ = ["add_parser", "write_benchmark"]

logger = logging.getLogger("shapebias.cli.benchmark")


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated model names such as resnet50,bagnet33, got {text!r}"
        )
    return names


def add_parser(commands: Any) -> None:
    """Register ``benchmark`` and its arguments on the sub-command action ``commands``."""
    benchmark = commands.add_parser(
        "benchmark",
        help="the model-vs-human benchmark table from raw-trial CSVs",
        description="OOD accuracy, accuracy difference, observed and error consistency, "
        "shape bias and mean rank of models against human observers, computed from "
        "model-vs-human raw-trial CSVs (<dataset>/<dataset>_<decision-maker>_session-<k>.csv).",
    )
    benchmark.add_argument("raw_data", nargs="+", help="raw-data folder(s); several are merged")
    benchmark.add_argument(
        "--models", type=_names, help="comma-separated models (default: every non-human one)"
    )
    benchmark.add_argument(
        "--out", required=True, help="folder for benchmark.json, .csv, .md and figures"
    )
    benchmark.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    benchmark.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``shapebias benchmark`` with parsed arguments; returns the exit status."""
    from shapebias.data import read_raw_trials  # here, so that --help imports no torch
    from shapebias.metrics import human_benchmark

    table = human_benchmark(read_raw_trials(args.raw_data), models=args.models)
    provenance = {"raw_data": [str(p) for p in args.raw_data], "models": args.models}
    for path in write_benchmark(table, args.out, provenance, figures=not args.no_figures):
        logger.info("wrote %s", path)
    return 0


def write_benchmark(
    table: HumanBenchmark, out: str, provenance: dict[str, Any], *, figures: bool = True
) -> list[Path]:
    """Write ``benchmark.json``, ``benchmark.csv``, ``benchmark.md`` (and the figures)."""
    import shapebias

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        **table.to_dict(),
        "provenance": {
            **provenance,
            "shapebias": shapebias.__version__,
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
    }
    written = [folder / "benchmark.json", folder / "benchmark.csv", folder / "benchmark.md"]
    written[0].write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    with open(written[1], "w", newline="") as file:
        csv.writer(file).writerows(table.csv_rows())
    title = "# Model-vs-human benchmark\n\n"
    written[2].write_text(title + table.to_markdown() + "\n")
    if figures:
        written += _figures(table, folder)
    return written


def _figures(table: HumanBenchmark, folder: Path) -> list[Path]:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        logger.info("matplotlib is not installed: no figures (pip install shapebias[plot])")
        return []
    from shapebias.metrics import plot_consistency, plot_shape_bias_per_category

    plots = {"consistency.png": plot_consistency}
    if any(row.shape_bias_per_category for row in table.rows.values()):
        plots["shape_bias.png"] = plot_shape_bias_per_category
    written = []
    for name, plot in plots.items():
        figure: Any = plot(table).figure
        figure.savefig(folder / name, dpi=120, bbox_inches="tight")
        written.append(folder / name)
    return written
