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

``--checks`` instead measures what the hardening checks cost (issue 13): the per-batch
finiteness checks (``_validation.check_logits`` in every loss, the non-finite-loss stop in
``fit``) timed on their own and as a share of the epoch of each loss, an A/B of whole
``fit`` epochs with the checks and with them replaced by no-ops, ``fit``'s one-off
validation before the first step, and the SHA-256 checksum of a checkpoint
(resnet18 + SGD momentum) against the ``torch.save`` it accompanies.

Usage:
    PYTHONPATH=$PWD python benchmarks/bench_training.py [--images 256] [--batch 128] [--threads 2]
    PYTHONPATH=$PWD python benchmarks/bench_training.py --checks
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from shapebias._validation import check_logits
from shapebias.attacks import PGD
from shapebias.models import resnet18, small_cnn
from shapebias.training import AdversarialLoss, FGSMRSLoss, StandardLoss, TradesLoss, fit
from shapebias.training import _fit as fit_module
from shapebias.training import _losses as losses_module
from shapebias.training._checksum import seal

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


# finiteness checks per training batch: (logits checks in the loss, loss check in fit)
_CHECKS_PER_BATCH = {"standard": 1, "FGSM-RS": 1, "PGD-7": 1, "TRADES-10": 2}


def _per_call_seconds(function: Callable[[], object], calls: int = 2000) -> float:
    function()
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


@contextlib.contextmanager
def _checks_disabled() -> Iterator[None]:
    """Replace the per-batch finiteness checks by no-ops (for the A/B only)."""
    saved = fit_module._check_finite_loss, losses_module.check_logits
    fit_module._check_finite_loss = lambda *args: None
    losses_module.check_logits = lambda *args, **kwargs: None
    try:
        yield
    finally:
        fit_module._check_finite_loss, losses_module.check_logits = saved


def _fit_epoch(loss, batches, *, checks: bool) -> float:
    model = small_cnn(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    context = contextlib.nullcontext() if checks else _checks_disabled()
    with context:
        start = time.perf_counter()
        fit(model, batches, loss=loss, optimizer=optimizer, epochs=1, progress=False)
    return time.perf_counter() - start


def _validation_seconds(batches) -> float:
    """fit's one-off checks: eval_data (a 512-image pair) and the first batch's preflight."""
    model = small_cnn(10)
    images, labels = torch.rand(512, 3, 32, 32), torch.randint(0, 10, (512,))
    device = torch.device("cpu")
    start = time.perf_counter()
    fit_module._check_eval_data((images, labels), model, device)
    fit_module._preflight(model, *batches[0])
    return time.perf_counter() - start


def _checksum_figures() -> tuple[float, float, float]:
    """(seal seconds, torch.save seconds, MiB) for a resnet18 checkpoint with SGD momentum."""
    model = resnet18(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    record = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 1}
    start = time.perf_counter()
    sealed = seal(record)
    seal_s = time.perf_counter() - start
    buffer = io.BytesIO()
    start = time.perf_counter()
    torch.save(sealed, buffer)
    save_s = time.perf_counter() - start
    return seal_s, save_s, buffer.tell() / 2**20


def check_overhead(args: argparse.Namespace) -> None:
    batches = make_batches(args.images, args.batch)
    table = {
        name: loss for name, (loss, _) in modes(args.steps).items() if name in _CHECKS_PER_BATCH
    }
    logits = small_cnn(10)(batches[0][0]).detach()
    value = F.cross_entropy(logits.requires_grad_(), batches[0][1])
    device = torch.device("cpu")
    labels = batches[0][1]
    per_logits = _per_call_seconds(lambda: check_logits(logits, len(labels), labels))
    per_loss = _per_call_seconds(lambda: fit_module._check_finite_loss(value, device, 0, 0))
    print(
        f"load average {os.getloadavg()[0]:.1f} (shared machine); {len(batches)} batches of "
        f"{args.batch}, small_cnn(10), {torch.get_num_threads()} threads, median of "
        f"{args.repeats}, torch {torch.__version__}"
    )
    print(
        f"check_logits ({args.batch}x10): {per_logits * 1e6:.1f} us/call; "
        f"non-finite-loss stop: {per_loss * 1e6:.1f} us/call"
    )
    header = f"{'loss':<12}{'epoch s':>9}{'no checks s':>13}{'A/B %':>8}{'checks us/batch':>17}"
    print(header + f"{'share %':>9}")
    for name, loss in table.items():
        times = {True: [], False: []}
        _fit_epoch(loss, batches[:1], checks=True)
        for _ in range(args.repeats):
            for checks in (True, False):
                times[checks].append(_fit_epoch(loss, batches, checks=checks))
        with_checks, without = statistics.median(times[True]), statistics.median(times[False])
        per_batch = _CHECKS_PER_BATCH[name] * per_logits + per_loss
        share = 100 * per_batch * len(batches) / with_checks
        print(
            f"{name:<12}{with_checks:>9.3f}{without:>13.3f}"
            f"{100 * (with_checks / without - 1):>8.2f}{per_batch * 1e6:>17.1f}{share:>9.3f}"
        )
    once = _validation_seconds(batches)
    standard = statistics.median(_fit_epoch(StandardLoss(), batches, checks=True) for _ in range(3))
    print(
        f"one-off validation before the first step: {once * 1e3:.1f} ms "
        f"({100 * once / standard:.2f}% of one standard epoch of {args.images} images)"
    )
    seal_s, save_s, mib = _checksum_figures()
    print(
        f"checkpoint checksum, resnet18 + SGD momentum ({mib:.0f} MiB): seal {seal_s:.3f} s, "
        f"torch.save to memory {save_s:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--checks", action="store_true", help="cost of the hardening checks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.checks:
        check_overhead(args)
        return
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
