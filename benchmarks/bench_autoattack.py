"""APGD, FAB-T and Square against their bare-model limits; the ensemble against torchattacks'.

Run:  python benchmarks/bench_autoattack.py --threads 1

The model: ``small_cnn(4, width=32)`` on ``ShapeTextureDataset`` (4 classes, 32x32,
3000 training images), 6 epochs of standard training then 6 epochs of PGD-AT
(``Recipe.pgd_linf(2/255, steps=3)``, Adam one-cycle, peak LR 2e-3), trained with the
library's ``Recipe``/``fit`` on first use and cached under ``benchmarks/output/`` (never
downloaded). It is robust at L-inf ``2/255``, the budget every part uses (at 8/255 a
CPU-sized PGD-AT on this data stays at chance).

Part 1 times APGD with ``eps=0`` on images labelled with the model's own predictions
(no sample is ever broken, so every sample runs every step) against ``steps`` x
(forward + input backward) of the bare model, and against torchattacks.APGD. Part 2
does the same for Square: ``queries`` forward passes of the bare model. Part 3 repeats
both on a linear model, where nearly all the time is the attacks' own bookkeeping, and
prints it per step or query (CPU time, steadier than a ratio under load). Part 4 runs
``auto_attack`` and ``torchattacks.AutoAttack(version="standard")`` on the same test
images, interleaved, and reports medians and a floor: 5000 bare forward passes of the
samples that reach Square, which any implementation of the ensemble pays.
torchattacks' "standard" runs APGD-CE and APGD-T with its default 10 steps (not the
paper's 100), FAB-T (10 steps, all 3 other classes) and Square (5000 queries);
``auto_attack`` gets the same budgets (``steps=10``, ``num_targets=3``, 5000 queries),
FAB-T included. The paper's ``steps=100`` is timed once as well. Part 5 times FAB-T
(``fab``, all 3 targets) with ``eps=0`` (no sample is ever broken within it, so every
sample runs every step of every target) against targets x steps x (forward + input
backward) of the bare model, and against torchattacks.FAB with the same settings; FAB
also needs one forward per step to check the new point, so its floor is about 1.3x.
Part 6 (``--part diagnostics``) times what ``RobustAccuracy.diagnostics`` and
``.manifest`` add to an ``auto_attack`` run (the stochastic check, the masked-gradient
passes at the clean and the start point, the start point itself, the verified count's
re-classification, the data and parameter hashes, the environment record), by wrapping
those calls with timers inside one run, for ``version="fast"`` and ``"standard"``, and
the same runs with the start-point check switched off (interleaved), so the difference
of the two shares is that check's cost; without a cached trained model it uses the same
architecture untrained (``--untrained``), where attacks end sooner, so the share is an
upper bound.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, shape_texture

from shapebias.attacks import PGD, apgd, auto_attack, fab, robust_accuracy, square
from shapebias.models import small_cnn
from shapebias.training import Recipe

EPS = 2 / 255
CLASSES = 4
CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output", "autoattack_model.pt")


def train_robust_model():
    """Standard training, then PGD-AT fine-tuning, with the library's recipes.

    The per-epoch scores on the test split's first 200 images are printed only; nothing
    is selected on them.
    """
    validation = shape_texture("test", 200, num_classes=CLASSES)
    torch.manual_seed(0)
    model = small_cnn(CLASSES, width=32)
    train = TensorDataset(*shape_texture("train", 3000, num_classes=CLASSES))
    loader = DataLoader(
        train, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    adversarial = dataclasses.replace(
        Recipe.pgd_linf(EPS, steps=3, epochs=6, optimizer="adam"), lr=2e-3
    )
    for recipe in (Recipe.standard(epochs=6, optimizer="adam"), adversarial):
        for epoch in recipe.fit(model, loader, eval_data=validation, progress=False):
            print(f"  {recipe.name} {epoch}", flush=True)
    return model.eval()


def load_model(path):
    """The cached model at ``path``, trained (and cached) first if it is not there."""
    model = small_cnn(CLASSES, width=32)
    if os.path.exists(path):
        model.load_state_dict(torch.load(path))
        return model.eval()
    print(f"training the benchmark model (cached at {path}):")
    model = train_robust_model()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def bare_gradients(model, images, labels, steps):
    """``steps`` x (forward + input-gradient backward) and nothing else."""
    x = images.clone().requires_grad_(True)
    for _ in range(steps):
        torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)


def bare_forwards(model, images, queries):
    """``queries`` forward passes and nothing else."""
    with torch.no_grad():
        for _ in range(queries):
            model(images)


def medians(functions, repeats):
    """Median wall and CPU seconds of each function, run round-robin after a warm-up.

    On a shared machine CPU time (``time.process_time``) is far steadier than wall
    time: waiting for a core does not count. Run with ``--threads 1`` for it to mean
    work done. Also returns what each function returned on its warm-up call.
    """
    results = {name: function() for name, function in functions.items()}
    wall = {name: [] for name in functions}
    cpu = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start_wall)
    return (
        {name: statistics.median(values) for name, values in wall.items()},
        {name: statistics.median(values) for name, values in cpu.items()},
        results,
    )


def print_against_limit(title, functions, args, peer):
    wall, cpu, _ = medians(functions, args.repeats)
    print(f"\n{title}; medians of {args.repeats}, load average {os.getloadavg()}")
    print("  wall time, then CPU time (steadier under load):")
    for name in functions:
        w, c = wall[name], cpu[name]
        print(
            f"  {name:20s} {w * 1000:8.1f} ms {w / wall['bare model']:5.3f}x limit |"
            f" {c * 1000:8.1f} ms {c / cpu['bare model']:5.3f}x limit"
            f" {c / cpu[peer]:5.2f}x {peer}"
        )


def own_labels(model, images):
    with torch.no_grad():
        return model(images).argmax(1)  # all classified right: no sample leaves early


def part_apgd(model, images, args):
    import torchattacks

    labels, steps = own_labels(model, images), args.apgd_steps
    functions = {
        "bare model": lambda: bare_gradients(model, images, labels, steps),
        "shapebias.apgd": lambda: apgd(
            model, images, labels, eps=0.0, steps=steps, generator=torch.Generator().manual_seed(0)
        ),
        "torchattacks.APGD": lambda: torchattacks.APGD(model, eps=0.0, steps=steps)(images, labels),
    }
    title = f"APGD-CE, {steps} steps, eps 0 (no early exit), batch {len(images)}"
    print_against_limit(title, functions, args, "torchattacks.APGD")


def part_square(model, images, args):
    import torchattacks

    labels, queries = own_labels(model, images), args.square_queries
    functions = {
        "bare model": lambda: bare_forwards(model, images, queries),
        "shapebias.square": lambda: square(
            model,
            images,
            labels,
            eps=0.0,
            queries=queries,
            generator=torch.Generator().manual_seed(0),
        ),
        "torchattacks.Square": lambda: torchattacks.Square(
            model, eps=0.0, n_queries=queries, seed=0
        )(images, labels),
    }
    title = f"Square, {queries} queries, eps 0 (no early exit), batch {len(images)}"
    print_against_limit(title, functions, args, "torchattacks.Square")


def part_fab(model, images, args):
    import torchattacks

    labels, steps, targets = own_labels(model, images), args.fab_steps, CLASSES - 1
    functions = {
        "bare model": lambda: bare_gradients(model, images, labels, targets * steps),
        "shapebias.fab": lambda: fab(
            model, images, labels, eps=0.0, steps=steps, num_targets=targets
        ),
        "torchattacks.FAB": lambda: torchattacks.FAB(
            model, eps=0.0, steps=steps, multi_targeted=True, n_classes=CLASSES
        )(images, labels),
    }
    title = f"FAB-T, {targets} targets x {steps} steps, eps 0 (no early exit), batch {len(images)}"
    print_against_limit(title, functions, args, "torchattacks.FAB")


def part_bookkeeping(images, args):
    """Per step/query cost of everything but the model: both attacks on a linear model."""
    import torchattacks

    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(images[0].numel(), CLASSES))
    linear.eval()
    labels, steps, queries = own_labels(linear, images), args.apgd_steps, args.square_queries
    generator = torch.Generator
    apgd_runs = {
        "bare model": lambda: bare_gradients(linear, images, labels, steps),
        "shapebias.apgd": lambda: apgd(
            linear, images, labels, eps=0.0, steps=steps, generator=generator().manual_seed(0)
        ),
        "torchattacks.APGD": lambda: torchattacks.APGD(linear, eps=0.0, steps=steps)(
            images, labels
        ),
    }
    square_runs = {
        "bare model": lambda: bare_forwards(linear, images, queries),
        "shapebias.square": lambda: square(
            linear, images, labels, eps=0.0, queries=queries, generator=generator().manual_seed(0)
        ),
        "torchattacks.Square": lambda: torchattacks.Square(
            linear, eps=0.0, n_queries=queries, seed=0
        )(images, labels),
    }
    print(
        f"\nBookkeeping: the same calls on a linear model (the model costs almost nothing), "
        f"batch {len(images)}; CPU us per step/query beyond the bare model's, medians of "
        f"{args.repeats}; load average {os.getloadavg()}"
    )
    for runs, count in ((apgd_runs, steps), (square_runs, queries)):
        _, cpu, _ = medians(runs, args.repeats)
        for name in list(runs)[1:]:
            print(f"  {name:20s} {(cpu[name] - cpu['bare model']) / count * 1e6:8.1f} us")


def part_ensemble(model, images, labels, args):
    import torchattacks

    def ours(steps):
        return auto_attack(
            model, (images, labels), eps=EPS, steps=steps, num_targets=CLASSES - 1,
            batch_size=len(images), generator=torch.Generator().manual_seed(0), progress=False,
        )  # fmt: skip

    def peer():
        attack = torchattacks.AutoAttack(model, eps=EPS, n_classes=CLASSES, seed=0)
        adversarial = attack(images, labels)
        with torch.no_grad():
            return float((model(adversarial).argmax(1) == labels).float().mean())

    pgd10 = robust_accuracy(model, (images, labels), PGD(eps=EPS, steps=10), progress=False)
    functions = {"ours": lambda: ours(10), "peer": peer}
    wall, cpu, results = medians(functions, args.ensemble_repeats)
    matched, peer_robust = results["ours"], results["peer"]
    square_index = matched.attacks.index("Square")
    reached = (matched.correct & (matched.broken_by < 0)) | (matched.broken_by == square_index)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    bare_forwards(model, images[reached], 5000)
    floor_wall, floor_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    print(
        f"\nAutoAttack ensemble (APGD-CE, APGD-T, FAB-T, Square), L-inf eps 2/255, "
        f"{len(images)} test images; "
        f"medians of {args.ensemble_repeats} interleaved runs after a warm-up run; "
        f"load average {os.getloadavg()}"
    )
    print(f"  clean accuracy {matched.clean:.3f}, PGD-10 robust accuracy {pgd10.robust:.3f}")
    print("  (wall s / CPU s)")
    rows = [
        ("shapebias auto_attack(steps=10)", matched.robust, wall["ours"], cpu["ours"]),
        ("torchattacks AutoAttack standard", peer_robust, wall["peer"], cpu["peer"]),
    ]
    results = {"steps=10": matched}
    if args.paper_steps:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        results["steps=100"] = ours(100)
        rows.append((
            "shapebias auto_attack(steps=100)", results["steps=100"].robust,
            time.perf_counter() - start_wall, time.process_time() - start_cpu,
        ))  # fmt: skip
    floor = f"5000 bare forwards of the {int(reached.sum())} samples Square attacks"
    for name, robust, w, c in rows:
        print(f"  {name:33s} robust {robust:.3f}  {w:7.1f} / {c:7.1f}")
    print(f"  floor: {floor}  {floor_wall:7.1f} / {floor_cpu:7.1f}")
    for name, result in results.items():
        after = zip(result.attacks, result.robust_after, strict=True)
        print(f"    {name}, after each attack: " + ", ".join(f"{n} {r:.3f}" for n, r in after))
    print(
        f"  time ratio shapebias/torchattacks at equal budgets: "
        f"wall {wall['ours'] / wall['peer']:.2f}, CPU {cpu['ours'] / cpu['peer']:.2f}; "
        f"robust accuracy difference {100 * (matched.robust - peer_robust):+.1f} points; "
        f"the floor alone is {floor_cpu / cpu['peer']:.2f} of torchattacks' CPU time"
    )


def part_diagnostics(model, images, labels, args):
    """Share of an auto_attack run spent on the diagnostics and manifest (issue 25), and
    of it the start-point check (the same runs with it switched off, timed the same way)."""
    import shapebias.attacks._robust_accuracy as ra

    spent = [0.0]
    names = ("differs_between_passes", "masked_gradients", "start_point", "_misclassified",
             "parameter_hash", "environment_record")  # fmt: skip
    originals = {name: getattr(ra, name) for name in names}
    original_update = ra.ImageHasher.update

    def timed(function):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    def run(version, repeat, check_start):
        # without the check robust_accuracy learns no start point: no extra gradient pass
        ra.start_point = timed(originals["start_point"] if check_start else lambda *a: None)
        spent[0] = 0.0
        start = time.perf_counter()
        result = auto_attack(
            model, (images, labels), eps=EPS, version=version, steps=args.apgd_steps,
            num_targets=3, queries=args.square_queries, batch_size=args.batch,
            generator=torch.Generator().manual_seed(repeat), progress=False,
        )  # fmt: skip
        return spent[0], time.perf_counter() - start, result

    for name, function in originals.items():
        setattr(ra, name, timed(function))
    ra.ImageHasher.update = timed(original_update)
    print(
        f"\ndiagnostics cost, L-inf eps 2/255, {images.shape[0]} images, steps "
        f"{args.apgd_steps}, Square {args.square_queries} queries, batch {args.batch}"
    )
    try:
        for version in ("fast", "standard"):
            rows = {True: [], False: []}
            for repeat in range(args.repeats):
                for check_start in (True, False):  # interleaved: the same load for both
                    rows[check_start].append(run(version, repeat, check_start))
            with_start = sorted(rows[True], key=lambda row: row[0] / row[1])
            part, total, result = with_start[len(with_start) // 2]
            share = statistics.median(row[0] / row[1] for row in rows[True])
            without = statistics.median(row[0] / row[1] for row in rows[False])
            print(f"  version={version:9s} run {total:7.2f} s, diagnostics {part:6.3f} s = "
                  f"{100 * share:5.2f} % (median of {args.repeats}), of which the start-point "
                  f"check {100 * (share - without):5.2f} % (median share without it "
                  f"{100 * without:5.2f} %); robust {result.robust:.3f}, suspect "
                  f"{result.diagnostics.suspect}")  # fmt: skip
    finally:
        for name, function in originals.items():
            setattr(ra, name, function)
        ra.ImageHasher.update = original_update


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-images", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--apgd-steps", type=int, default=100)
    parser.add_argument("--square-queries", type=int, default=1000)
    parser.add_argument("--fab-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ensemble-repeats", type=int, default=3)
    parts = ["apgd", "square", "bookkeeping", "ensemble", "fab", "diagnostics", "all"]
    parser.add_argument("--part", choices=parts, default="all")
    parser.add_argument(
        "--paper-steps", action=argparse.BooleanOptionalAction, default=True,
        help="also run auto_attack once with the paper's 100 APGD steps",
    )  # fmt: skip
    parser.add_argument("--model-cache", default=CACHE, help="the trained model's file")
    parser.add_argument(
        "--untrained", action="store_true",
        help="use the architecture untrained instead of training the model (diagnostics part)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}; load average {os.getloadavg()}")
    images, labels = shape_texture("test", args.eval_images, num_classes=CLASSES)
    if args.untrained:
        torch.manual_seed(0)
        model = small_cnn(CLASSES, width=32).eval()
        labels = own_labels(model, images)
    else:
        model = load_model(args.model_cache)
    if args.part in ("apgd", "all"):
        part_apgd(model, images[: args.batch], args)
    if args.part in ("square", "all"):
        part_square(model, images[: args.batch], args)
    if args.part in ("bookkeeping", "all"):
        part_bookkeeping(images[: args.batch], args)
    if args.part in ("ensemble", "all"):
        part_ensemble(model, images, labels, args)
    if args.part in ("fab", "all"):
        part_fab(model, images[: args.batch], args)
    if args.part in ("diagnostics", "all"):
        part_diagnostics(model, images, labels, args)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
