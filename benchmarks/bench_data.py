"""Is ShapeTextureDataset fast enough to train on? Images/s through a DataLoader vs a train step.

For each image size, times (median of --repeats runs, after a warm-up):

- ``generate``: ShapeTextureDataset through a DataLoader (0 and 2 worker processes);
- ``in-memory``: the same number of pre-rendered images from a TensorDataset through a
  DataLoader with 0 workers (the physical limit of the loading path: collate + copy);
- ``train step``: one SGD step (forward, backward, update) of ``small_cnn`` on the batch.

Generation is "not the bottleneck" when its images/s exceed the training step's.
Peak memory is the main process's max RSS (``resource.getrusage``; worker processes are
not counted) as an increase over the start of the script: once after the generation
runs, once at the end.

    PYTHONPATH=$PWD python benchmarks/bench_data.py
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from functools import partial

import torch
from torch.utils.data import DataLoader, TensorDataset

from shapebias.data import ShapeTextureDataset
from shapebias.models import small_cnn


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_seconds(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _drain(loader: DataLoader) -> None:
    for _batch in loader:
        pass


def _train_step_seconds(image_size: int, batch_size: int, repeats: int) -> float:
    model = small_cnn(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.rand(batch_size, 3, image_size, image_size)
    labels = torch.randint(0, 10, (batch_size,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    return _median_seconds(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=8, help="batches per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rss_start = _max_rss_mb()
    count = args.batch_size * args.batches
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}")
    print(f"{'size':>4} {'path':<26} {'images/s':>10} {'vs train step':>14}")
    rates: dict[int, list[tuple[str, float]]] = {}
    for size in args.sizes:  # generation first, so its memory is measured before training's
        data = ShapeTextureDataset("train", image_size=size, size=count)
        rates[size] = []
        for workers in (0, 2):
            loader = DataLoader(
                data,
                batch_size=args.batch_size,
                num_workers=workers,
                persistent_workers=workers > 0,
            )
            seconds = _median_seconds(partial(_drain, loader), args.repeats)
            rates[size].append((f"generate, {workers} workers", count / seconds))
    generation_rss = _max_rss_mb() - rss_start
    for size in args.sizes:
        data = ShapeTextureDataset("train", image_size=size, size=count)
        memory = TensorDataset(torch.stack([data[i][0] for i in range(count)]), torch.zeros(count))
        in_memory = DataLoader(memory, batch_size=args.batch_size)
        seconds = _median_seconds(partial(_drain, in_memory), args.repeats)
        rates[size].append(("in-memory TensorDataset", count / seconds))
        train_rate = args.batch_size / _train_step_seconds(size, args.batch_size, args.repeats)
        for name, rate in [("small_cnn train step", train_rate), *rates[size]]:
            print(f"{size:>4} {name:<26} {rate:>10.0f} {rate / train_rate:>13.2f}x")
    print(f"peak RSS increase after the generation runs: {generation_rss:.0f} MB")
    total_rss = _max_rss_mb() - rss_start
    print(f"peak RSS increase at the end (train steps, in-memory copies): {total_rss:.0f} MB")


if __name__ == "__main__":
    main()
