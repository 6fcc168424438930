"""Time one training epoch of standard, FGSM-RS, PGD-k and TRADES on small_cnn, CPU.

The cost floor of PGD-k training is k + 1 standard epochs (k attack forward +
input-backward passes, then one training step); FGSM-RS is PGD-1 (floor 2x) and
TRADES-k adds a clean forward for the target distribution and a second training
forward (floor about k + 2). Each epoch is reported as a ratio of the standard epoch,
next to a hand-written PGD-k loop in the style of common research scripts
(``delta.requires_grad_()`` + ``loss.backward()``, which also computes parameter
gradients while crafting) and, if installed, torchattacks' PGD plus the same step.

Peak memory (Linux): each mode also runs one epoch in a fresh process whose RSS
high-water mark is reset first (``/proc/self/clear_refs``); the growth of the peak
over the RSS with model and data loaded (activations, gradients, optimizer state,
allocator caches) is printed.

Usage:
    PYTHONPATH=$PWD python benchmarks/bench_training.py [--images 256] [--batch 128] [--threads 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from shapebias.attacks import PGD
from shapebias.models import small_cnn
from shapebias.training import AdversarialLoss, FGSMRSLoss, StandardLoss, TradesLoss

EPS = 8 / 255


def _hand_written_pgd(steps: int) -> Callable:
    """A typical research-script PGD-AT loss (train mode, .backward() on the delta)."""

    def loss(model, images, labels):
        delta = torch.empty_like(images).uniform_(-EPS, EPS)
        delta = (images + delta).clamp(0, 1) - images
        for _ in range(steps):
            delta.requires_grad_(True)
            F.cross_entropy(model(images + delta), labels).backward()
            step = delta + 2.5 * EPS / steps * delta.grad.sign()
            delta = (images + step.clamp(-EPS, EPS)).clamp(0, 1).detach() - images
        model.zero_grad(set_to_none=True)
        return F.cross_entropy(model(images + delta), labels)

    return loss


def _torchattacks_pgd(steps: int) -> Callable | None:
    try:
        import torchattacks
    except ImportError:
        return None

    def loss(model, images, labels):
        attack = torchattacks.PGD(model, eps=EPS, alpha=2.5 * EPS / steps, steps=steps)
        adversarial = attack(images, labels)
        return F.cross_entropy(model(adversarial), labels)

    return loss


def modes(steps: int) -> dict[str, tuple[Callable, float]]:
    """name -> (loss, cost floor in standard epochs)."""
    table = {
        "standard": (StandardLoss(), 1.0),
        "FGSM-RS": (FGSMRSLoss(eps=EPS, generator=torch.Generator().manual_seed(0)), 2.0),
        f"PGD-{steps}": (AdversarialLoss(PGD(eps=EPS, steps=steps)), steps + 1.0),
        "TRADES-10": (TradesLoss(eps=EPS, steps=10), 12.0),
        f"hand-written PGD-{steps}": (_hand_written_pgd(steps), steps + 1.0),
    }
    peer = _torchattacks_pgd(steps)
    if peer is not None:
        table[f"torchattacks PGD-{steps}"] = (peer, steps + 1.0)
    return table


def make_batches(images: int, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(images, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (images,), generator=generator)
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, images, batch)]


def epoch(model, optimizer, loss, batches) -> float:
    """One training epoch exactly as fit runs it (train mode, zero_grad, backward, step)."""
    model.train()
    start = time.perf_counter()
    for images, labels in batches:
        value = loss(model, images, labels)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    return time.perf_counter() - start


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1])


def _memory_probe(
    name: str, steps: int, images: int, batch: int, threads: int, queue: multiprocessing.Queue
) -> None:
    """Peak RSS growth of one epoch: reset the high-water mark (Linux clear_refs 5), run, read."""
    torch.set_num_threads(threads)
    loss = modes(steps)[name][0]
    batches = make_batches(images, batch)
    model = small_cnn(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status_kib("VmRSS")
    epoch(model, optimizer, loss, batches)
    queue.put(_status_kib("VmHWM") - before)


def peak_memory_mib(name: str, steps: int, images: int, batch: int, threads: int) -> float:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=_memory_probe, args=(name, steps, images, batch, threads, queue)
    )
    process.start()
    kib = queue.get()
    process.join()
    return kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batches = make_batches(args.images, args.batch)
    table = modes(args.steps)
    model = small_cnn(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for loss, _ in table.values():  # warm-up
        epoch(model, optimizer, loss, batches[:1])
    times: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(args.repeats):  # interleaved, so machine load hits every mode alike
        for name, (loss, _) in table.items():
            times[name].append(epoch(model, optimizer, loss, batches))
    standard = statistics.median(times["standard"])
    print(
        f"small_cnn(10), {args.images} images 3x32x32, batch {args.batch}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}, torch {torch.__version__}"
    )
    header = f"{'mode':<24}{'epoch s':>9}{'x standard':>12}{'floor':>7}{'x floor':>9}"
    print(header + ("" if args.no_memory else f"{'peak RSS +MiB':>15}"))
    for name, (_, floor) in table.items():
        median = statistics.median(times[name])
        ratio = median / standard
        line = f"{name:<24}{median:>9.3f}{ratio:>12.2f}{floor:>7.0f}{ratio / floor:>9.2f}"
        if not args.no_memory:
            line += (
                f"{peak_memory_mib(name, args.steps, args.images, args.batch, args.threads):>15.1f}"
            )
        print(line)


if __name__ == "__main__":
    main()
