"""Time PGD against the bare model and torchattacks; robust_accuracy early exit vs full attack.

Run:  python benchmarks/bench_attacks.py            (defaults of the issue: resnet18, 32x32,
                                                      batch 64, 10 steps, 2 threads, CPU)
"""

from __future__ import annotations

import argparse
import json
from functools import partial

import torch
import torch.nn.functional as F
from _common import (
    interleaved_medians,
    machine,
    peak_growth_mib,
    peak_memory_in_subprocess,
    shape_texture,
    time_attacks,
)

from shapebias.attacks import PGD, pgd, robust_accuracy
from shapebias.models import resnet18, small_cnn

EPS, ALPHA = 8 / 255, 2 / 255


def bare_limit(model, images, labels, steps):
    """The physical limit: ``steps`` x (forward + input-gradient backward), nothing else."""
    x = images.clone().requires_grad_(True)
    for _ in range(steps):
        torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)


def shapebias_pgd(model, images, labels, steps):
    pgd(
        model,
        images,
        labels,
        eps=EPS,
        step_size=ALPHA,
        steps=steps,
        generator=torch.Generator(images.device).manual_seed(0),
    )


def torchattacks_pgd(model, images, labels, steps):
    import torchattacks

    torchattacks.PGD(model, eps=EPS, alpha=ALPHA, steps=steps, random_start=True)(images, labels)


METHODS = {
    "bare model": bare_limit,
    "shapebias.pgd": shapebias_pgd,
    "torchattacks.PGD": torchattacks_pgd,
}


def train_standard(model, images, labels, epochs):
    """Adam with a one-cycle schedule: a normally trained, non-robust model in seconds."""
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    steps = epochs * -(-len(images) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for start in range(0, len(images), 64):
            batch = order[start : start + 64]
            optimizer.zero_grad()
            F.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def setup(args):
    torch.manual_seed(0)
    model = resnet18(10).eval().to(args.device)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, 32, 32, generator=generator).to(args.device)
    labels = torch.randint(0, 10, (args.batch,), generator=generator).to(args.device)
    return model, images, labels


def measure_only(args):
    model, images, labels = setup(args)
    attack = partial(METHODS[args.measure_only], model, images, labels, args.steps)
    print(json.dumps({"peak_mib": peak_growth_mib(attack, args.device)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", type=torch.device, default=torch.device("cpu"))
    parser.add_argument("--eval-images", type=int, default=512)
    parser.add_argument("--train-epochs", type=int, default=8)
    parser.add_argument("--measure-only", choices=list(METHODS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure_only:
        return measure_only(args)

    print(f"machine: {machine()}, device {args.device}")
    print(f"PGD-Linf eps 8/255, {args.steps} steps, resnet18(10) 32x32, batch {args.batch}")
    model, images, labels = setup(args)
    times = time_attacks(METHODS, (model, images, labels, args.steps), args.repeats, args.device)
    limit = times["bare model"]
    for name, seconds in times.items():
        memory = peak_memory_in_subprocess(
            __file__,
            [
                "--measure-only",
                name,
                "--batch",
                str(args.batch),
                "--steps",
                str(args.steps),
                "--threads",
                str(args.threads),
                "--device",
                str(args.device),
            ],
        )["peak_mib"]
        print(
            f"  {name:18s} {seconds * 1000:8.1f} ms  {seconds / limit:5.2f}x limit"
            + (
                f"  {seconds / times['torchattacks.PGD']:5.2f}x torchattacks"
                if "torchattacks.PGD" in times
                else ""
            )
            + f"  peak +{memory:6.1f} MiB"
        )

    print(f"\nrobust_accuracy, early exit vs attacking every sample for all {args.steps} steps")
    generator = torch.Generator().manual_seed(1)
    train = shape_texture("train", 3000)
    test = shape_texture("test", args.eval_images)
    torch.manual_seed(0)
    net = train_standard(small_cnn(4, width=16), *train, args.train_epochs).to(args.device)
    test = tuple(t.to(args.device) for t in test)
    attack = PGD(eps=EPS, step_size=ALPHA, steps=args.steps, generator=generator)
    results = {}

    def early_exit():
        results["early"] = robust_accuracy(net, test, attack, batch_size=args.batch, progress=False)

    def full_attack():
        correct = robust = 0
        for start in range(0, len(test[0]), args.batch):
            x, y = test[0][start : start + args.batch], test[1][start : start + args.batch]
            adv = pgd(net, x, y, eps=EPS, step_size=ALPHA, steps=args.steps, generator=generator)
            with torch.no_grad():
                clean_ok = net(x).argmax(1) == y
                correct += int(clean_ok.sum())
                robust += int((clean_ok & (net(adv).argmax(1) == y)).sum())
        results["full"] = (correct, robust)

    times = interleaved_medians({"early": early_exit, "full": full_attack}, 3, args.device)
    n = len(test[0])
    print(
        f"  small_cnn trained {args.train_epochs} epochs on ShapeTextureDataset: clean "
        f"{results['early'].clean:.3f}, robust early-exit {results['early'].robust:.3f}, "
        f"robust full {results['full'][1] / n:.3f} ({n} images)"
    )
    print(
        f"  early exit {times['early'] * 1000:.0f} ms, full {times['full'] * 1000:.0f} ms: "
        f"{times['full'] / times['early']:.1f}x faster"
    )


if __name__ == "__main__":
    main()
