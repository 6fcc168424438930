"""Benchmark: ``shapebias benchmark`` over the whole model-vs-human raw data, one core.

The issue's target: all 17 datasets, 90 human session files and 3 models in at most 5 s
on one CPU core. This script times, with numpy/BLAS limited to one thread:

* ``read``: :func:`shapebias.data.read_raw_trials` (parsing 141 CSVs, ~140k trials);
* ``table``: :func:`shapebias.metrics.human_benchmark` on what was read;
* ``write``: ``benchmark.json``/``.csv``/``.md`` (no figures);
* ``command``: ``shapebias benchmark RAW --out DIR --no-figures`` as a fresh process pinned
  to one core (``taskset -c 0`` where available), interpreter start and imports included.

With a path it uses that raw-data folder (model-vs-human's, ``dprun`` branch: human trials
plus ResNet-50, BagNet-33, SimCLR-x1); without, it writes a synthetic folder of the same
size (same datasets, subjects, conditions and trial counts, random answers).

Usage: PYTHONPATH=. python benchmarks/bench_human_benchmark.py [/tmp/mvh/raw-data]
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from shapebias.cli._benchmark import write_benchmark  # noqa: E402
from shapebias.data import CATEGORIES_16, Trials, read_raw_trials, write_raw_trials  # noqa: E402
from shapebias.metrics import BENCHMARK_DATASETS, human_benchmark  # noqa: E402

# (subjects, conditions, images per condition) of the published raw data.
SIZES = {
    "colour": (4, ["cr", "bw"], 640), "contrast": (4, [f"c{c}" for c in
    ("100", "50", "30", "15", "10", "05", "03", "01")], 160),
    "high-pass": (4, ["inf", "3", "1.5", "1", "0.7", "0.55", "0.45", "0.4"], 160),
    "low-pass": (4, ["0", "1", "3", "5", "7", "10", "15", "40"], 160),
    "phase-scrambling": (4, ["0", "30", "60", "90", "120", "150", "180"], 160),
    "power-equalisation": (4, ["0", "pow"], 560), "false-colour": (4, ["true", "false"], 560),
    "rotation": (4, ["0", "90", "180", "270"], 320),
    "eidolonI": (4, [f"{2**k}-10-10" for k in range(8)], 160),
    "eidolonII": (4, [f"{2**k}-3-10" for k in range(8)], 160),
    "eidolonIII": (4, [f"{2**k}-0-10" for k in range(8)], 160),
    "uniform-noise": (4, ["0.00", "0.03", "0.05", "0.10", "0.20", "0.35", "0.60", "0.90"], 160),
    "cue-conflict": (10, [""], 1280), "edge": (10, [""], 160), "silhouette": (10, [""], 160),
    "sketch": (7, [""], 800), "stylized": (5, [""], 800),
}  # fmt: skip
MODELS = ("model-a", "model-b", "model-c")


def synthetic(root: Path) -> None:
    rng = np.random.default_rng(0)
    for dataset in BENCHMARK_DATASETS:
        subjects, conditions, images = SIZES[dataset]
        n = len(conditions) * images
        category = np.array(CATEGORIES_16)[rng.integers(16, size=n)]
        if dataset == "cue-conflict":
            texture = np.array(CATEGORIES_16)[rng.integers(16, size=n)]
            pairs = enumerate(zip(category, texture, strict=True))
            names = [f"{s}{i % 10}-{t}{i // 10}.png" for i, (s, t) in pairs]
        else:
            names = [f"0000_x_dnn_c_{c}_00_n{i:08d}_{i}.png" for i, c in enumerate(category)]
        condition = np.repeat(conditions, images)
        makers = [f"subject-{k + 1:02d}" for k in range(subjects)] + list(MODELS)
        for maker in makers:
            right = rng.random(n) < 0.6
            response = np.where(right, category, np.array(CATEGORIES_16)[rng.integers(16, size=n)])
            trials = Trials.from_decisions(
                dataset, "synthetic", response.tolist(), category.tolist(), names,
                condition.tolist(),
            )  # fmt: skip
            # Humans get their own name and reaction times (from_decisions makes models).
            rt = np.full(n, 0.8) if maker.startswith("subject-") else trials.rt
            write_raw_trials(dataclasses.replace(trials, decision_maker=maker, rt=rt), root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_data", nargs="?", help="raw-data folder (default: synthetic)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp())
    try:
        root = Path(args.raw_data) if args.raw_data else work / "raw-data"
        if not args.raw_data:
            synthetic(root)
        files = sum(1 for _ in root.glob("*/*.csv"))
        humans = sum(1 for _ in root.glob("*/*_subject-*.csv"))
        print(f"{root}: {files} CSVs ({humans} human sessions); load {os.getloadavg()[0]:.2f}")
        times: dict[str, list[float]] = {"read": [], "table": [], "write": [], "command": []}
        cpu: dict[str, list[float]] = {name: [] for name in times}
        command = [sys.executable, "-m", "shapebias.cli", "benchmark", str(root), "--out",
                   str(work / "cli"), "--no-figures"]  # fmt: skip
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        for _ in range(args.repeats):
            clocks = [(time.perf_counter(), time.process_time())]
            raw = read_raw_trials(root)
            clocks.append((time.perf_counter(), time.process_time()))
            table = human_benchmark(raw)
            clocks.append((time.perf_counter(), time.process_time()))
            write_benchmark(table, str(work / "out"), {}, figures=False)
            clocks.append((time.perf_counter(), time.process_time()))
            for k, name in enumerate(("read", "table", "write")):
                times[name].append(clocks[k + 1][0] - clocks[k][0])
                cpu[name].append(clocks[k + 1][1] - clocks[k][1])
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times["command"].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu["command"].append(
                after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            )
        print(f"{'':>8}  {'wall s (median, min)':>22}  {'CPU s (median, min)':>22}")
        for name, values in times.items():
            print(f"{name:>8}  {statistics.median(values):10.3f} {min(values):10.3f}  "
                  f"{statistics.median(cpu[name]):10.3f} {min(cpu[name]):10.3f}")  # fmt: skip
        total = sum(statistics.median(cpu[k]) for k in ("read", "table", "write"))
        print(f"in-process read + table + write: {total:.3f} CPU s; "
              f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"models: {', '.join(m for m in table.rows)}")
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
