"""Time shapebias.distortions against the paper's per-image NumPy path and a plain copy.

Part 1: ``patch_shuffle`` (grid 4) followed by ``saturate`` (p 8) on a batch of RGB
images, against (a) one plain copy of the batch (the memory-bound limit) and (b) the
per-image NumPy code path of the paper's pipeline (per image: saturate with the
formula, cut patches, permute, concatenate; then stack into a batch tensor). Both
produce an ``(N, 3, H, W)`` float32 tensor. Part 2: images per second of each
``stylize`` backend (AdaIN with random full-size weights: same cost as the real ones).

Peak memory: the growth of the process's max RSS during each path, measured in the
order listed (a later path only shows memory beyond the earlier peaks), so treat it
as a lower bound; it is the same for CPU and says nothing about GPU memory.

Usage: PYTHONPATH=$PWD python benchmarks/bench_distortions.py [--batch 256] [--size 224]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from shapebias.distortions import (
    AdaIN,
    adain_decoder,
    patch_shuffle,
    saturate,
    stylize,
    vgg_encoder,
)


def paper_saturate(image: np.ndarray, p: float) -> np.ndarray:
    centred = 2 * image - 1
    return np.clip(np.sign(centred) * np.abs(centred) ** (2 / p) / 2 + 0.5, 0, 1)


def paper_shuffle(image: np.ndarray, grid: int, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[0] // grid, image.shape[1] // grid
    patches = [
        image[i * height : (i + 1) * height, j * width : (j + 1) * width]
        for i in range(grid)
        for j in range(grid)
    ]
    order = rng.permutation(len(patches))
    rows = [
        np.concatenate([patches[k] for k in order[r * grid : (r + 1) * grid]], axis=1)
        for r in range(grid)
    ]
    return np.concatenate(rows, axis=0)


def paper_path(images_hwc: list[np.ndarray], grid: int, p: float) -> torch.Tensor:
    rng = np.random.default_rng(0)
    out = [paper_saturate(paper_shuffle(image, grid, rng), p) for image in images_hwc]
    return torch.from_numpy(np.stack(out).astype(np.float32, copy=False)).permute(0, 3, 1, 2)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds over ``repeats`` after one warm-up, and max-RSS growth in MiB."""
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return statistics.median(times), grown


def part_one(args: argparse.Namespace) -> None:
    images = torch.rand(args.batch, 3, args.size, args.size)
    images_hwc = [np.ascontiguousarray(x.permute(1, 2, 0).numpy()) for x in images]
    generator = torch.Generator().manual_seed(0)
    paths = {
        "plain copy (limit)": lambda: images.clone(),
        "shapebias shuffle+saturate": lambda: saturate(
            patch_shuffle(images, args.grid, generator=generator), args.p
        ),
        "  shapebias patch_shuffle": lambda: patch_shuffle(images, args.grid, generator=generator),
        "  shapebias saturate": lambda: saturate(images, args.p),
        "paper per-image NumPy": lambda: paper_path(images_hwc, args.grid, args.p),
    }
    print(
        f"patch_shuffle(grid={args.grid}) + saturate(p={args.p:g}) on "
        f"{args.batch}x3x{args.size}x{args.size} float32, {torch.get_num_threads()} threads"
    )
    results = {name: timed(fn, args.repeats) for name, fn in paths.items()}
    ours = results["shapebias shuffle+saturate"][0]
    for name, (seconds, grown) in results.items():
        print(
            f"{name:30s} {seconds * 1e3:9.1f} ms  {args.batch / seconds:9.0f} img/s  "
            f"time/shapebias {seconds / ours:5.2f}x  max-RSS +{grown:6.0f} MiB"
        )


def part_two(args: argparse.Namespace) -> None:
    content = torch.rand(args.style_batch, 3, args.size, args.size)
    style = torch.rand(args.style_batch, 3, args.size, args.size)
    network = AdaIN(vgg_encoder(), adain_decoder())
    backends = {
        "fourier": {"method": "fourier"},
        f"random_features ({args.steps} steps)": {"method": "random_features", "steps": args.steps},
        "adain (VGG-19 to relu4_1)": {"method": "adain", "adain": network},
    }
    print(f"\nstylize, batch of {args.style_batch} at {args.size}x{args.size}")
    for name, options in backends.items():
        seconds, _ = timed(lambda options=options: stylize(content, style, **options), 1)
        print(f"{name:30s} {args.style_batch / seconds:9.2f} img/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--grid", type=int, default=4)
    parser.add_argument("--p", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--style-batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10, help="random_features steps")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    part_one(args)
    part_two(args)


if __name__ == "__main__":
    main()
