"""Which robust-accuracy diagnostics fired on a reproduction's trained models (issue 25).

Run:  python benchmarks/diagnostics_false_alarms.py --run DIR

``DIR`` is the folder ``shapebias reproduce --out DIR`` wrote. Its ``results.json`` holds,
per model and seed, the :class:`~shapebias.attacks.Diagnostics` of the robust-accuracy
evaluation at each budget (``robust_diagnostics``): masked (zero or non-finite) input
gradients at the clean point and at the first attack's start point, black-box breaks,
verified-count disagreements, a stochastic model. The protocol's models are ordinary
trained CNNs (standard and adversarially trained), evaluated by an attack that works on
them, so every finding here is a false alarm unless a model really masks its gradients;
the script prints, per model, seed and budget, what fired (with the shares that are zero
when clean) and the false-alarm rate over all evaluations. Nothing is recomputed: a run
evaluated before the diagnostics existed has none (``not recorded``); run
``shapebias reproduce --out DIR`` again with this version to add them (its trained models
are reused, only the evaluations run again).

Exit status: 0 when every recorded evaluation is clean, 1 when any diagnostic fired, 2
when no evaluation recorded diagnostics.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shapebias.attacks import Diagnostics

_FIELDS = {field.name for field in dataclasses.fields(Diagnostics)}


def _diagnostics(record: Mapping[str, Any]) -> Diagnostics:
    """A results.json diagnostics dict as the typed record (``suspect`` is derived)."""
    return Diagnostics(**{key: value for key, value in record.items() if key in _FIELDS})


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def rows(results: Mapping[str, Any]) -> tuple[list[list[str]], dict[str, int]]:
    """Per model, seed and budget: what fired; and the counts of the summary."""
    table, counts = [], {"evaluations": 0, "fired": 0, "missing": 0}
    for name, per_seed in results["models"].items():
        for entry in per_seed:
            seed = str(entry["seed"])
            recorded = entry.get("robust_diagnostics")
            if recorded is None:
                counts["missing"] += 1
                table.append([name, seed, "-", "-", "-", "-", "not recorded"])
                continue
            for budget, record in recorded.items():
                d = _diagnostics(record)
                counts["evaluations"] += 1
                counts["fired"] += d.suspect
                table.append(
                    [
                        name,
                        seed,
                        budget,
                        _share(d.zero_gradient),
                        _share(d.start_zero_gradient),
                        str(d.verified),
                        "; ".join(d.findings()) or "none",
                    ]
                )
    return table, counts


def _print_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    for row in [header, *body]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the folder shapebias reproduce --out wrote")
    args = parser.parse_args()
    path = Path(args.run) / "results.json"
    if not path.is_file():
        parser.error(f"--run must be a reproduction folder holding results.json; {path} is missing")
    results = json.loads(path.read_text())
    body, counts = rows(results)
    settings = json.dumps(results.get("settings", {}))
    print(
        f"run: {args.run} (shapebias {results.get('shapebias_version')}, seeds "
        f"{results.get('seeds')}, settings {settings})"
    )
    header = ["model", "seed", "eps", "zero grad clean %", "zero grad start %", "verified"]
    header.append("fired")
    _print_table(header, body)
    evaluations, fired = counts["evaluations"], counts["fired"]
    if counts["missing"]:
        print(
            f"{counts['missing']} model-seed(s) without diagnostics (evaluated before they "
            "existed): rerun shapebias reproduce --out on this folder to add them"
        )
    if not evaluations:
        print("no evaluation recorded diagnostics")
        return 2
    share = 100 * fired / evaluations
    print(
        f"false alarms: {fired} of {evaluations} evaluations (model x seed x budget) "
        f"= {share:.1f} %"
    )
    return 1 if fired else 0


if __name__ == "__main__":
    sys.exit(main())
