"""Time band-limited PGD against plain PGD and the bare model; the cost of band_eps_index.

No attack library ships a band-limited attack (torchattacks, foolbox, ART, captum: none),
so the peer column is torchattacks' plain PGD, the attack a user would otherwise run.

Run:  python benchmarks/bench_band.py             (small_cnn(10), 32x32, batch 64, 10 steps,
                                                   2 threads, CPU; --model resnet18)
"""

from __future__ import annotations

import argparse
import math

import torch
from _common import interleaved_medians, machine, time_attacks
from bench_attacks import bare_limit

from shapebias.attacks import pgd
from shapebias.frequency import band_eps_index
from shapebias.models import resnet18, small_cnn

EPS = {"linf": 8 / 255, "l2": 0.5}
LOW = (0, 4)


def shapebias_pgd(norm, band):
    def run(model, images, labels, steps):
        generator = torch.Generator(images.device).manual_seed(0)
        pgd(model, images, labels, eps=EPS[norm], steps=steps, norm=norm, band=band,
            generator=generator)  # fmt: skip

    return run


def torchattacks_pgd(model, images, labels, steps):
    import torchattacks

    torchattacks.PGD(model, eps=EPS["linf"], alpha=2.5 * EPS["linf"] / steps, steps=steps)(
        images, labels
    )


METHODS = {
    "bare model": bare_limit,
    "pgd linf": shapebias_pgd("linf", None),
    "pgd linf band=(0,4)": shapebias_pgd("linf", LOW),
    "pgd l2": shapebias_pgd("l2", None),
    "pgd l2 band=(0,4)": shapebias_pgd("l2", LOW),
    "torchattacks.PGD": torchattacks_pgd,
}
PLAIN = {"pgd linf band=(0,4)": "pgd linf", "pgd l2 band=(0,4)": "pgd l2"}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["small_cnn", "resnet18"], default="small_cnn")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--index-images", type=int, default=256)
    parser.add_argument("--device", type=torch.device, default=torch.device("cpu"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = (small_cnn(10) if args.model == "small_cnn" else resnet18(10)).eval().to(args.device)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, 32, 32, generator=generator).to(args.device)
    labels = torch.randint(0, 10, (args.batch,), generator=generator).to(args.device)

    print(f"machine: {machine()}, device {args.device}")
    print(
        f"PGD {args.steps} steps (linf eps 8/255, l2 eps 0.5), {args.model}(10) 32x32, "
        f"batch {args.batch}, band (0, 4) cycles per image"
    )
    times = time_attacks(METHODS, (model, images, labels, args.steps), args.repeats, args.device)
    limit = times["bare model"]
    for name, seconds in times.items():
        plain = f"  {seconds / times[PLAIN[name]]:5.2f}x plain pgd" if name in PLAIN else ""
        peer = times.get("torchattacks.PGD")
        versus = f"  {seconds / peer:5.2f}x torchattacks.PGD" if peer else ""
        print(
            f"  {name:20s} {seconds * 1000:8.1f} ms  {seconds / limit:5.2f}x limit{versus}{plain}"
        )

    n = args.index_images
    data = (torch.rand(n, 3, 32, 32, generator=generator), torch.randint(0, 10, (n,)))
    data = tuple(t.to(args.device) for t in data)
    with torch.no_grad():
        data = (data[0], model(data[0]).argmax(1))  # every image right: all are attacked
    rounds = math.ceil(math.log2(19 + 1))  # the default L2 grid has 19 budgets

    def index():
        band_eps_index(model, data, low_band=LOW, high_band=(4, math.inf), steps=args.steps,
                       batch_size=args.batch, progress=False,
                       generator=torch.Generator(args.device).manual_seed(0))  # fmt: skip

    def no_exit_limit():
        for start in range(0, n, args.batch):
            for _ in range(2 * rounds):
                bare_limit(model, data[0][start : start + args.batch],
                           data[1][start : start + args.batch], args.steps)  # fmt: skip

    times = interleaved_medians({"index": index, "limit": no_exit_limit}, 2, args.device)
    print(
        f"\nband_eps_index, {n} images, default L2 grid (19 budgets: {rounds} bisection rounds "
        f"per band), {args.steps} steps\n  index {times['index'] * 1000:.0f} ms; bare model "
        f"for 2 bands x {rounds} rounds x {args.steps} steps on every image (no early exit) "
        f"{times['limit'] * 1000:.0f} ms: {times['index'] / times['limit']:.2f}x"
    )


if __name__ == "__main__":
    main()
