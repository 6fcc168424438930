"""Time shapebias.distortions against the paper's per-image NumPy path and a plain copy.

Part 1: ``patch_shuffle`` (grid 4) followed by ``saturate`` (p 8, in place on the
shuffled batch with ``out=``; also without ``out=``) on a batch of RGB images, against
(a) one plain copy of the batch (the memory-bound limit) and (b) the per-image NumPy
code path of the paper's pipeline (per image: saturate with the formula, cut patches,
permute, concatenate; then stack into a batch tensor). All produce an ``(N, 3, H, W)``
float32 tensor. Timed with 2 threads and with 1 thread, round-robin (so load drifts hit
every path alike), median of ``--repeats``. Part 2:
images per second of each ``stylize`` backend (AdaIN with random full-size weights:
same cost as the real ones).

Peak memory: each path runs once in its own fresh interpreter, which reports the growth
of its peak resident set (Linux VmHWM, reset right after building the inputs; includes
the output batch and every temporary), or with ``--device cuda`` the growth of
``torch.cuda.max_memory_allocated``. On a GPU the shapebias paths and the copy run on
the device and the per-image path ends with an upload of its batch (only the 2-thread
setting is timed).

Usage: python benchmarks/bench_distortions.py [--batch 256] [--size 224] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from _common import (
    interleaved_medians,
    machine,
    peak_growth_mib,
    peak_memory_in_subprocess,
)

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


def paper_path(
    images_hwc: list[np.ndarray], grid: int, p: float, device: torch.device
) -> torch.Tensor:
    rng = np.random.default_rng(0)
    out = [paper_saturate(paper_shuffle(image, grid, rng), p) for image in images_hwc]
    batch = torch.from_numpy(np.stack(out).astype(np.float32, copy=False)).permute(0, 3, 1, 2)
    return batch.to(device)


Inputs = tuple[torch.Tensor, list[np.ndarray]]


def make_inputs(args: argparse.Namespace) -> Inputs:
    images = torch.rand(args.batch, 3, args.size, args.size)
    images_hwc = [np.ascontiguousarray(x.permute(1, 2, 0).numpy()) for x in images]
    return images.to(args.device), images_hwc


def shuffle_then_saturate_in_place(
    images: torch.Tensor, grid: int, p: float, generator: torch.Generator
) -> torch.Tensor:
    shuffled = patch_shuffle(images, grid, generator=generator)
    return saturate(shuffled, p, out=shuffled)


def paths(args: argparse.Namespace, inputs: Inputs) -> dict[str, Callable[[], object]]:
    images, images_hwc = inputs
    generator = torch.Generator(args.device).manual_seed(0)
    return {
        "plain copy (limit)": lambda: images.clone(),
        "shapebias shuffle+saturate": partial(
            shuffle_then_saturate_in_place, images, args.grid, args.p, generator
        ),
        "  same, saturate without out=": lambda: saturate(
            patch_shuffle(images, args.grid, generator=generator), args.p
        ),
        "  shapebias patch_shuffle": lambda: patch_shuffle(images, args.grid, generator=generator),
        "  shapebias saturate": lambda: saturate(images, args.p),
        "paper per-image NumPy": lambda: paper_path(images_hwc, args.grid, args.p, args.device),
    }


def measure_only(args: argparse.Namespace) -> None:
    run = paths(args, make_inputs(args))[args.measure_only]
    print(json.dumps({"peak_mib": peak_growth_mib(run, args.device)}))


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def part_one(args: argparse.Namespace) -> None:
    inputs = make_inputs(args)
    functions = paths(args, inputs)
    memory = {
        name: peak_memory_in_subprocess(__file__, [*argv_for(args), "--measure-only", name])
        for name in functions
    }
    print(
        f"patch_shuffle(grid={args.grid}) + saturate(p={args.p:g}) on "
        f"{args.batch}x3x{args.size}x{args.size} float32; {load()}"
    )
    times = {}
    for threads in (args.threads, 1) if args.device.type == "cpu" else (args.threads,):
        torch.set_num_threads(threads)
        times[threads] = interleaved_medians(functions, args.repeats, args.device)
    # The NumPy path ignores torch's thread count; its median swings with the allocator's
    # state (measured alone: 220-240 ms, with first runs up to 550 ms), so every ratio is
    # taken against its faster median: the conservative comparison.
    paper = min(medians["paper per-image NumPy"] for medians in times.values())
    print(f"paper/this against the paper path's faster median, {paper * 1e3:.1f} ms")
    for threads, medians in times.items():
        print(f"{threads} thread(s), median of {args.repeats}:")
        for name, seconds in medians.items():
            print(
                f"  {name:30s} {seconds * 1e3:8.1f} ms  {args.batch / seconds:7.0f} img/s  "
                f"paper/this {paper / seconds:5.2f}x  peak RSS +{memory[name]['peak_mib']:5.0f} MiB"
            )
    print(load())
    torch.set_num_threads(args.threads)


def argv_for(args: argparse.Namespace) -> list[str]:
    """The options that shape part 1's inputs, for the measuring subprocess."""
    return [
        *("--batch", str(args.batch), "--size", str(args.size), "--grid", str(args.grid)),
        *("--p", str(args.p), "--threads", str(args.threads), "--device", str(args.device)),
    ]


def part_two(args: argparse.Namespace) -> None:
    content = torch.rand(args.style_batch, 3, args.size, args.size, device=args.device)
    style = torch.rand(args.style_batch, 3, args.size, args.size, device=args.device)
    network = AdaIN(vgg_encoder(), adain_decoder()).to(args.device)
    backends = {
        "fourier": {"method": "fourier"},
        f"random_features ({args.steps} steps)": {"method": "random_features", "steps": args.steps},
        "adain (VGG-19 to relu4_1)": {"method": "adain", "adain": network},
    }
    print(f"\nstylize, batch of {args.style_batch} at {args.size}x{args.size}")
    for name, options in backends.items():
        run = partial(stylize, content, style, **options)
        seconds = interleaved_medians({name: run}, 1, args.device)
        seconds = seconds[name]
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
    parser.add_argument("--device", type=torch.device, default=torch.device("cpu"))
    parser.add_argument("--skip-stylize", action="store_true", help="only part 1")
    parser.add_argument("--measure-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure_only:
        return measure_only(args)
    print(f"machine: {machine()}, device {args.device}")
    part_one(args)
    if args.skip_stylize:
        return None
    part_two(args)


if __name__ == "__main__":
    main()
