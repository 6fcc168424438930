"""Benchmark: shapebias.frequency.fourier_heat_map against the bare model's forward passes.

The physical limit of a Fourier heat map is one forward pass per evaluated frequency
and image. This script times, in one process, on the same model and images:

* ``bare``: the model's forward + argmax + count over the same number of perturbed
  images (a prepared batch of perturbed images fed again and again: the perturbation
  costs nothing here), one pass per half-plane frequency and image;
* ``shapebias``: :func:`fourier_heat_map` (half-plane, batched over frequencies x
  images, clean pass included);
* ``naive``: what one writes from the paper's description (no library ships Fourier
  heat maps: torchattacks, foolbox, ART and captum have none): every cell of the map,
  both halves of the plane, ``U_ij`` from ``torch.fft.ifft2`` of a two-entry spectrum,
  one loop over the data per frequency.

The runs are interleaved round-robin (``--repeats``) and the median taken; peak memory
is the growth of the resident set's high-water mark during one ``fourier_heat_map``.

Usage: PYTHONPATH=. python benchmarks/bench_frequency.py [--images 1000 --size 32 --window 32]
(``--window 12`` maps the 12 x 12 lowest frequencies: same ratios, about 7x quicker).
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable

import torch
from _common import interleaved_medians, machine, peak_growth_mib

from shapebias.frequency import fourier_heat_map
from shapebias.frequency._heat_map import half_plane
from shapebias.models import small_cnn


def bare_forwards(model, images, labels, forwards: int, batch_size: int) -> int:
    """``forwards`` images through the model in batches: forward, argmax, count."""
    prepared = (images[:batch_size] + 0.01).clamp(0, 1)
    targets = labels[:batch_size]
    right = 0
    with torch.no_grad():
        for start in range(0, forwards, batch_size):
            size = min(batch_size, forwards - start)
            right += int((model(prepared[:size]).argmax(1) == targets[:size]).sum())
    return right


def naive_heat_map(model, images, labels, eps: float, window: int, batch_size: int):
    """Every map cell in turn, basis by inverse FFT, random sign per image and channel."""
    n, channels, height, width = images.shape
    generator = torch.Generator().manual_seed(0)
    error = torch.zeros(window, window)
    with torch.no_grad():
        for p in range(window):
            for q in range(window):
                i, j = p - window // 2, q - window // 2
                spectrum = torch.zeros(height, width, dtype=torch.complex64)
                spectrum[i % height, j % width] = 1
                spectrum[-i % height, -j % width] = 1
                basis = torch.fft.ifft2(spectrum).real
                basis /= basis.norm()
                wrong = 0
                for start in range(0, n, batch_size):
                    x, y = images[start : start + batch_size], labels[start : start + batch_size]
                    signs = torch.randint(0, 2, (len(x), channels, 1, 1), generator=generator)
                    perturbed = (x + eps * (2 * signs - 1) * basis).clamp(0, 1)
                    wrong += int((model(perturbed).argmax(1) != y).sum())
                error[p, q] = wrong / n
    return error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32, help="image side")
    parser.add_argument("--window", type=int, default=None, help="map side (default: --size)")
    parser.add_argument("--eps", type=float, default=4.0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    args = parser.parse_args()
    window = args.size if args.window is None else args.window
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.images, 3, args.size, args.size, generator=generator)
    labels = torch.randint(0, 10, (args.images,), generator=generator)
    torch.manual_seed(0)
    model = small_cnn(10).eval()
    frequencies = len(half_plane((args.size, args.size), (window, window))[0])
    forwards = frequencies * args.images
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(machine())
    print(f"uptime: {load}")
    print(
        f"small_cnn, {args.images} images {args.size}x{args.size}, map {window}x{window} "
        f"({frequencies} half-plane frequencies, {forwards} perturbed forwards), eps "
        f"{args.eps:g}, batch {args.batch_size}, median of {args.repeats}"
    )
    with torch.no_grad():  # warm-up
        model(images[: args.batch_size])

    def ours() -> object:
        return fourier_heat_map(
            model, (images, labels), eps=args.eps, size=window,
            generator=torch.Generator().manual_seed(0), batch_size=args.batch_size,
            progress=False,
        )  # fmt: skip

    functions: dict[str, Callable[[], object]] = {
        "bare forward + argmax, same number of perturbed images": lambda: bare_forwards(
            model, images, labels, forwards, args.batch_size
        ),
        "shapebias fourier_heat_map": ours,
    }
    if not args.no_naive:
        functions["naive loop over all map cells (ifft basis)"] = lambda: naive_heat_map(
            model, images, labels, args.eps, window, args.batch_size
        )
    seconds = interleaved_medians(functions, args.repeats, torch.device("cpu"), warm_up=False)
    bare = seconds["bare forward + argmax, same number of perturbed images"]
    print(f"{'method':<56}{'seconds':>9}{'forwards/s':>12}{'x bare':>8}")
    for name, value in seconds.items():
        print(f"{name:<56}{value:>9.2f}{forwards / value:>12.0f}{value / bare:>8.3f}")
    peak = peak_growth_mib(ours, torch.device("cpu"))
    print(f"fourier_heat_map peak memory growth: {peak:.0f} MiB")
    print(
        f"uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )


if __name__ == "__main__":
    main()
