"""Benchmark: the cost of shapebias.metrics.distortion_accuracy over the bare model.

The physical limit of "accuracy on a clean test set and on K distorted copies" is the
model's forward passes: one per batch clean, one per batch and distortion, plus the
distortions themselves. This script times, in one process and on the same data:

* ``bare``: a hand-written loop doing exactly that (argmax == labels, counts summed);
* ``shapebias``: ``distortion_accuracy`` with the same model, data and distortions,
  without intervals (``num_bootstrap=0``) and with the default 1000 replicates;

and the bootstrap alone, against the literal way to write it (resample image indices
with replacement, 1000 times). Memory is the process's peak RSS (a high-water mark:
``ru_maxrss`` only grows), reported before and after the timed runs.

Usage: PYTHONPATH=. python benchmarks/bench_metrics.py [--images 2048 --size 32]
"""

from __future__ import annotations

import argparse
import resource

import numpy as np
import torch
from _common import interleaved_medians

from shapebias._seeds import seeded_generator
from shapebias.metrics import distortion_accuracy
from shapebias.metrics._bootstrap import estimate, resample_counts, share
from shapebias.models import resnet18, small_cnn


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def darken(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    return images * 0.5


def noise(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    return (images + 0.05 * torch.randn(images.shape, generator=generator)).clamp(0, 1)


DISTORTIONS = {
    "flipped": lambda x, generator=None: x.flip(-1),
    "darkened": darken,
    "noisy": noise,
}


def bare_loop(model, images, labels, batch_size):
    """What one writes by hand: forward passes, argmax, counts."""
    # The generators distortion_accuracy(seed=0) gives each distortion, so the noise matches.
    generators = {
        name: seeded_generator(0, "distortion", position, name)
        for position, name in enumerate(DISTORTIONS)
    }
    right = dict.fromkeys(["clean", *DISTORTIONS], 0)
    both = dict.fromkeys(DISTORTIONS, 0)
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            x, y = images[start : start + batch_size], labels[start : start + batch_size]
            clean = model(x).argmax(1) == y
            right["clean"] += int(clean.sum())
            for name, distort in DISTORTIONS.items():
                distorted = distort(x, generator=generators[name])
                correct = model(distorted).argmax(1) == y
                right[name] += int(correct.sum())
                both[name] += int((correct & clean).sum())
    return right, both


def literal_bootstrap(clean: np.ndarray, distorted: np.ndarray, replicates: int):
    """Resample image indices with replacement; relative accuracy of each replicate."""
    rng = np.random.default_rng(0)
    values = []
    for _ in range(replicates):
        index = rng.integers(0, len(clean), len(clean))
        c, d = clean[index], distorted[index]
        values.append((c & d).sum() / c.sum())
    return np.quantile(values, [0.025, 0.975])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", choices=["small_cnn", "resnet18"], default="small_cnn")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.images, 3, args.size, args.size, generator=generator)
    labels = torch.randint(0, 10, (args.images,), generator=generator)
    torch.manual_seed(0)
    model = (small_cnn(10) if args.model == "small_cnn" else resnet18(10)).eval()
    print(
        f"{args.model}, {args.images} images {args.size}x{args.size}, batch {args.batch_size},"
        f" {len(DISTORTIONS)} distortions + clean, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}"
    )
    rss_before = peak_rss_mib()

    def run(num_bootstrap):
        return distortion_accuracy(
            model, (images, labels), DISTORTIONS, batch_size=args.batch_size,
            num_bootstrap=num_bootstrap, progress=False,
        )  # fmt: skip

    # Same counts as the hand-written loop (same seeded noise per batch).
    right, both = bare_loop(model, images, labels, args.batch_size)
    result = run(0).to_dict()
    agree = result["clean"]["correct"] == right["clean"] and all(
        result["distortions"][name]["correct"] == right[name]
        and result["distortions"][name]["correct_on_both"] == both[name]
        for name in DISTORTIONS
    )
    seconds = interleaved_medians(
        {
            "bare loop (forward + argmax + counts)": lambda: bare_loop(
                model, images, labels, args.batch_size
            ),
            "distortion_accuracy, num_bootstrap=0": lambda: run(0),
            "distortion_accuracy, num_bootstrap=1000": lambda: run(1000),
        },
        args.repeats,
        torch.device("cpu"),
    )
    rss_after = peak_rss_mib()
    print(f"counts identical to the bare loop: {agree}")
    print(f"{'method':<44}{'seconds':>9}{'images/s':>11}{'vs bare':>9}")
    bare = next(iter(seconds.values()))
    for name, value in seconds.items():
        rate = args.images * (1 + len(DISTORTIONS)) / value
        print(f"{name:<44}{value:>9.3f}{rate:>11.0f}{value / bare:>9.2f}x")
    print(f"peak RSS: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after the timed runs")

    # The bootstrap alone on a large test set: cell counts vs resampling indices.
    n = 10_000
    rng = np.random.default_rng(1)
    clean = rng.random(n) < 0.8
    distorted = clean & (rng.random(n) < 0.6)
    cells = np.bincount(2 * clean + distorted, minlength=4)

    def fast():
        return estimate(share([3], [2, 3]), cells, resample_counts(cells, 1000, 0), 0.95)

    timing = interleaved_medians(
        {"literal": lambda: literal_bootstrap(clean, distorted, 1000), "fast": fast},
        3,
        torch.device("cpu"),
    )
    literal_seconds, fast_seconds = timing["literal"], timing["fast"]
    low, high = literal_bootstrap(clean, distorted, 1000)
    e = fast()
    print(
        f"bootstrap of relative accuracy, {n} images, 1000 replicates: literal index "
        f"resampling {literal_seconds * 1e3:.1f} ms [{low:.4f}, {high:.4f}], shapebias cell "
        f"counts {fast_seconds * 1e3:.2f} ms [{e.low:.4f}, {e.high:.4f}] "
        f"({literal_seconds / fast_seconds:.0f}x faster)"
    )


if __name__ == "__main__":
    main()
