"""APGD against its bare-model limit; the AutoAttack-style ensemble against torchattacks'.

Run:  python benchmarks/bench_autoattack.py        (small_cnn PGD-trained on
                                                    ShapeTextureDataset, 32x32, 4 classes)

Part 1 times APGD with ``eps=0`` on images labelled with the model's own predictions
(no sample is ever broken, so every sample runs every step) against ``steps`` x
(forward + input backward) of the bare model, and against torchattacks.APGD. Part 2
runs ``auto_attack`` and ``torchattacks.AutoAttack(version="standard")`` once each on
the same images. torchattacks' "standard" runs APGD-CE and
APGD-T with its default 10 steps (not the paper's 100), FAB-T and Square (5000
queries); ``auto_attack`` is given the same budgets (``steps=10``; it has no FAB-T).
The paper's budgets (``steps=100``) are timed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import interleaved_medians, machine, shape_texture

from shapebias.attacks import apgd, auto_attack, pgd
from shapebias.models import eval_mode, small_cnn

EPS = 8 / 255
CLASSES = 4  # small_cnn learns 4 classes under PGD-AT in a few CPU epochs; 10 it does not


def train_pgd_at(model, images, labels, epochs):
    """Madry PGD-AT (3 steps, eps 8/255) with Adam and a one-cycle schedule."""
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    steps = epochs * -(-len(images) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), 64):
            x, y = images[order[start : start + 64]], labels[order[start : start + 64]]
            with eval_mode(model):
                x = pgd(model, x, y, eps=EPS, steps=3, generator=generator)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def bare_limit(model, images, labels, steps):
    """``steps`` x (forward + input-gradient backward) and nothing else."""
    x = images.clone().requires_grad_(True)
    for _ in range(steps):
        torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)


def cpu_medians(functions, repeats):
    """Median CPU seconds of each function (``time.process_time``), run round-robin.

    On a shared machine CPU time is far steadier than wall time: waiting for a core
    does not count. Run with ``--threads 1`` for it to mean work done.
    """
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.process_time()
            function()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def part_apgd(model, images, args):
    import torchattacks

    with torch.no_grad():
        labels = model(images).argmax(1)  # all classified right: no sample leaves early

    steps = args.apgd_steps
    functions = {
        "bare model": lambda: bare_limit(model, images, labels, steps),
        "shapebias.apgd": lambda: apgd(
            model, images, labels, eps=0.0, steps=steps, generator=torch.Generator().manual_seed(0)
        ),
        "torchattacks.APGD": lambda: torchattacks.APGD(model, eps=0.0, steps=steps)(images, labels),
    }
    wall = interleaved_medians(functions, args.repeats, images.device)
    cpu = cpu_medians(functions, args.repeats)
    print(f"APGD-CE, {steps} steps, eps 0 (no early exit), batch {len(images)}")
    print(f"medians of {args.repeats}; wall time, then CPU time (steadier under load):")
    for name in functions:
        w, c = wall[name], cpu[name]
        print(
            f"  {name:18s} {w * 1000:8.1f} ms {w / wall['bare model']:5.3f}x limit |"
            f" {c * 1000:8.1f} ms {c / cpu['bare model']:5.3f}x limit"
            f" {c / cpu['torchattacks.APGD']:5.2f}x torchattacks"
        )


def timed(function):
    """``(result, wall seconds, CPU seconds)`` of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def part_ensemble(model, images, labels, args):
    import torchattacks

    def ours(steps):
        return auto_attack(
            model, (images, labels), eps=EPS, steps=steps, num_targets=CLASSES - 1,
            batch_size=len(images),
            generator=torch.Generator().manual_seed(0), progress=False,
        )  # fmt: skip

    def peer():
        adversarial = torchattacks.AutoAttack(model, eps=EPS, n_classes=CLASSES, seed=0)(
            images, labels
        )
        with torch.no_grad():
            return float((model(adversarial).argmax(1) == labels).float().mean())

    matched, matched_s, matched_cpu = timed(lambda: ours(10))
    peer_robust, peer_s, peer_cpu = timed(peer)
    paper, paper_s, paper_cpu = timed(lambda: ours(100))
    print(f"\nAutoAttack-style ensemble, L-inf eps 8/255, {len(images)} test images, one run each:")
    print(f"  clean accuracy {matched.clean:.3f}")
    after = ", ".join(
        f"{n} {r:.3f}" for n, r in zip(matched.attacks, matched.robust_after, strict=True)
    )
    print("  (wall s / CPU s)")
    rows = (
        ("shapebias auto_attack(steps=10)", matched.robust, matched_s, matched_cpu),
        ("torchattacks AutoAttack standard", peer_robust, peer_s, peer_cpu),
        ("shapebias auto_attack(steps=100)", paper.robust, paper_s, paper_cpu),
    )
    for name, robust, wall, cpu in rows:
        print(f"  {name:33s} robust {robust:.3f}  {wall:7.1f} / {cpu:7.1f}")
    print(f"    steps=10, after each attack: {after}")
    print(
        f"  time ratio shapebias/torchattacks at equal budgets: wall {matched_s / peer_s:.2f}, "
        f"CPU {matched_cpu / peer_cpu:.2f}; "
        f"robust accuracy difference {100 * (matched.robust - peer_robust):+.1f} points"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--train-epochs", type=int, default=4)
    parser.add_argument("--eval-images", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--apgd-steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--part", choices=["apgd", "ensemble", "all"], default="all")
    parser.add_argument("--model-cache", help="load the trained model from / save it to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}; load average {os.getloadavg()}")
    torch.manual_seed(0)
    model = small_cnn(CLASSES, width=16)
    if args.model_cache and os.path.exists(args.model_cache):
        model.load_state_dict(torch.load(args.model_cache))
        model.eval()
    else:
        train_pgd_at(
            model,
            *shape_texture("train", args.train_images, num_classes=CLASSES),
            args.train_epochs,
        )
        if args.model_cache:
            torch.save(model.state_dict(), args.model_cache)
    images, labels = shape_texture("test", args.eval_images, num_classes=CLASSES)
    if args.part in ("apgd", "all"):
        part_apgd(model, images[: args.batch], args)
    if args.part in ("ensemble", "all"):
        part_ensemble(model, images, labels, args)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
