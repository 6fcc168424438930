"""Benchmark: images per second of the cue-conflict evaluation, one process vs torchrun ranks.

A torchvision ResNet-50 (random weights; the speed does not depend on them) decides the
16 categories of cue-conflict PNGs written in Geirhos et al.'s layout
(``<category>/<shape><i>-<texture><j>.png``, 224 x 224) through
``shape_bias(..., class_map=IMAGENET_16_CLASS_MAP)`` over a
``DataLoader(CueConflictDataset(...))``, with the default 1000 bootstrap replicates.
Timed, in one run:

* ``bare``: the model's forward over the same images already decoded in memory, the
  physical limit of the evaluation (no decoding, no decision rule, no bootstrap);
* ``shapebias, 1 process``: ``shape_bias`` with ``--threads`` intra-op threads;
* ``shapebias, N ranks``: the same call under ``torchrun --nproc_per_node=N`` (gloo),
  ``--threads / N`` threads each, every rank evaluating its block of the images.

For each shapebias run the share of the wall time spent waiting on the loader (blocked
in its ``next()``) is reported. model-vs-human, the peer, is not installed here (it
downloads its models and data), so it is not timed.

Usage: PYTHONPATH=. python benchmarks/bench_cue_conflict.py [--images 64 --ranks 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torchvision
from PIL import Image
from torch.utils.data import DataLoader

from shapebias.data import CATEGORIES_16, CueConflictDataset, DeviceLoader
from shapebias.metrics import IMAGENET_16_CLASS_MAP, shape_bias
from shapebias.models import IMAGENET_MEAN, IMAGENET_STD, NormalizedModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import machine  # noqa: E402


class TimedLoader(DeviceLoader):
    """A DeviceLoader that adds up the seconds spent waiting for each batch.

    The total lives in a list, which the shallow copy shard_data makes shares.
    """

    def __init__(self, loader: DataLoader, device: str) -> None:
        super().__init__(loader, device)
        self.waited = [0.0]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        iterator = super().__iter__()
        while True:
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            finally:
                self.waited[0] += time.perf_counter() - start
            yield batch


def write_stimuli(root: Path, count: int) -> None:
    """``count`` 224 x 224 noise PNGs, shape/texture pairs cycling over the 16 categories."""
    rng = np.random.default_rng(0)
    for i in range(count):
        shape, texture = CATEGORIES_16[i % 16], CATEGORIES_16[(i * 7 + 3) % 16]
        path = root / shape / f"{shape}{i}-{texture}{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(path)


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    network = torchvision.models.resnet50(weights=None)
    return NormalizedModel(network, IMAGENET_MEAN, IMAGENET_STD).eval()


def evaluate(root: Path, batch_size: int, workers: int) -> dict[str, float]:
    """One timed shape_bias pass (after a warm-up batch); returns seconds and wait."""
    net = model()
    dataset = CueConflictDataset(root)
    with torch.no_grad():
        net(torch.stack([dataset[0][0]] * 2))  # warm-up
    loader = TimedLoader(DataLoader(dataset, batch_size=batch_size, num_workers=workers), "cpu")
    start = time.perf_counter()
    shape_bias(net, loader, class_map=IMAGENET_16_CLASS_MAP, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "waited": loader.waited[0]}


def bare(root: Path, batch_size: int) -> float:
    net = model()
    dataset = CueConflictDataset(root)
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.no_grad():
        net(images[:2])
        start = time.perf_counter()
        for chunk in images.split(batch_size):
            net(chunk).argmax(1)
        return time.perf_counter() - start


def worker(args: argparse.Namespace) -> None:
    dist.init_process_group("gloo")
    torch.set_num_threads(max(1, args.threads // dist.get_world_size()))
    timing = evaluate(Path(args.root), args.batch_size, args.workers)
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, timing)
    if dist.get_rank() == 0:
        Path(args.out).write_text(json.dumps(gathered))
    dist.destroy_process_group()


def ranks(args: argparse.Namespace, root: Path, out: Path) -> list[dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={args.ranks}", __file__, "--worker", "--root", str(root),
        "--out", str(out), "--threads", str(args.threads), "--batch-size",
        str(args.batch_size), "--workers", str(args.workers),
    ]  # fmt: skip
    subprocess.run(command, env=env, check=True)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers per process")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads in all")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    torch.set_num_threads(args.threads)
    print(machine(), "| load average", os.getloadavg())
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "cue-conflict"
        write_stimuli(root, args.images)
        bare_seconds = bare(root, args.batch_size)
        single = evaluate(root, args.batch_size, args.workers)
        sharded = ranks(args, root, Path(folder) / "ranks.json")
    wall = max(r["seconds"] for r in sharded)
    rows = [
        ("bare forward, 1 process", bare_seconds, None),
        ("shapebias, 1 process", single["seconds"], single["waited"] / single["seconds"]),
        (
            f"shapebias, {args.ranks} ranks",
            wall,
            max(r["waited"] / r["seconds"] for r in sharded),
        ),
    ]
    print(
        f"ResNet-50, {args.images} cue-conflict PNGs 224x224, batch {args.batch_size}, "
        f"{args.workers} loader worker(s) per process, {args.threads} threads in all"
    )
    print("| run | seconds | images/s | x bare | loader wait |")
    print("| :--- | ---: | ---: | ---: | ---: |")
    for name, seconds, wait in rows:
        share = "-" if wait is None else f"{100 * wait:.1f} %"
        print(
            f"| {name} | {seconds:.2f} | {args.images / seconds:.1f} | "
            f"{seconds / bare_seconds:.2f} | {share} |"
        )
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()
