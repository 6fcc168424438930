"""Benchmark: ``shapebias benchmark`` over the whole model-vs-human raw data, one core.

The issue's target: all 17 datasets, 90 human session files and 3 models in at most 5 s
on one CPU core. This script times, with numpy/BLAS limited to one thread:

* in-process, the computation alone (the floor the command cannot go below):
  ``read`` (:func:`shapebias.data.read_raw_trials`, parsing 141 CSVs, ~140k trials),
  ``table`` (:func:`shapebias.metrics.human_benchmark`) and ``write``
  (``benchmark.json``/``.csv``/``.md``, no figures);
* as fresh processes pinned to one core (``taskset -c 0`` where available), interpreter
  start and imports included: ``shapebias benchmark RAW --out DIR --no-figures``, the same
  with the two figures (the default), and for reference ``python -c pass``,
  ``import shapebias`` and ``import torch`` (which the command still needs: see
  benchmarks/README.md); with ``--before DIR``, also ``import shapebias`` and the command
  of the shapebias source tree in ``DIR``.

Each configuration runs ``--repeats`` times, interleaved; the table gives the median and
the minimum of wall and CPU (user + system) seconds. The minimum is the figure to quote
on a shared machine: other load only ever adds time.

With a path it uses that raw-data folder (model-vs-human's, ``dprun`` branch: human trials
plus ResNet-50, BagNet-33, SimCLR-x1); without, it writes a synthetic folder of the same
size (same datasets, subjects, conditions and trial counts, random answers).

Usage: PYTHONPATH=. python benchmarks/bench_human_benchmark.py [/tmp/mvh/raw-data] [--before DIR]
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

import shapebias  # noqa: E402
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


def _process(command: list[str], tree: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``command`` run to completion with the
    shapebias of the source tree ``tree`` (``python -c``/``-m`` put the folder they run in
    first on ``sys.path``, so it is the working folder as well as ``PYTHONPATH``)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=tree)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_data", nargs="?", help="raw-data folder (default: synthetic)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--before",
        help="a source tree of another shapebias version (git archive REV shapebias | tar -x "
        "-C DIR): its import and command are timed too, interleaved, as '... (before)'",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp())
    try:
        root = Path(args.raw_data).resolve() if args.raw_data else work / "raw-data"
        if not args.raw_data:
            synthetic(root)
        files = sum(1 for _ in root.glob("*/*.csv"))
        humans = sum(1 for _ in root.glob("*/*_subject-*.csv"))
        print(f"{root}: {files} CSVs ({humans} human sessions); load {os.getloadavg()[0]:.2f}")
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        command = [*pin, sys.executable, "-m", "shapebias.cli", "benchmark", str(root), "--out"]
        processes = {
            "python -c pass": [*pin, sys.executable, "-c", "pass"],
            "import shapebias": [*pin, sys.executable, "-c", "import shapebias"],
            "import torch": [*pin, sys.executable, "-c", "import torch"],
            "command --no-figures": [*command, str(work / "cli"), "--no-figures"],
            "command (figures)": [*command, str(work / "figures")],
        }
        trees = dict.fromkeys(processes, Path(shapebias.__file__).resolve().parents[1])
        if args.before:
            for name in ("import shapebias", "command --no-figures"):
                processes[f"{name} (before)"] = processes[name]
                trees[f"{name} (before)"] = Path(args.before).resolve()
        stages = ("read", "table", "write")
        times: dict[str, list[float]] = {name: [] for name in (*stages, *processes)}
        cpu: dict[str, list[float]] = {name: [] for name in times}
        for _ in range(args.repeats):
            clocks = [(time.perf_counter(), time.process_time())]
            raw = read_raw_trials(root)
            clocks.append((time.perf_counter(), time.process_time()))
            table = human_benchmark(raw)
            clocks.append((time.perf_counter(), time.process_time()))
            write_benchmark(table, str(work / "out"), {}, figures=False)
            clocks.append((time.perf_counter(), time.process_time()))
            for k, name in enumerate(stages):
                times[name].append(clocks[k + 1][0] - clocks[k][0])
                cpu[name].append(clocks[k + 1][1] - clocks[k][1])
            for name, process in processes.items():
                wall, seconds = _process(process, trees[name])
                times[name].append(wall)
                cpu[name].append(seconds)
        print(f"{'':>29}  {'wall s (median, min)':>22}  {'CPU s (median, min)':>22}")
        for name, values in times.items():
            print(f"{name:>29}  {statistics.median(values):10.3f} {min(values):10.3f}  "
                  f"{statistics.median(cpu[name]):10.3f} {min(cpu[name]):10.3f}")  # fmt: skip
        floor = sum(min(cpu[k]) for k in stages)
        whole = min(cpu["command --no-figures"])
        print(f"in-process read + table + write: {floor:.3f} CPU s (minima); the command "
              f"--no-figures {whole:.3f} CPU s = {whole / floor:.1f}x the computation, "
              f"{whole / 5:.2f}x the 5 s target; load {os.getloadavg()[0]:.2f}")  # fmt: skip
        if args.before:
            old = min(cpu["command --no-figures (before)"])
            print(f"command --no-figures: {old:.3f} CPU s before, {whole:.3f} now "
                  f"({old / whole:.1f}x less)")  # fmt: skip
        print(f"models: {', '.join(m for m in table.rows)}")
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
