"""What the input checks cost, and SmoothGrad's peak memory against ``batch_size``.

Two measurements:

* **Check cost.** Every check one ``pgd`` call and one ``smoothgrad`` call make (the
  argument checks, the finite-logits check on the first model output, the finite-gradient
  checks on the first step and on the result, the flags), timed directly on the tensors
  of a real call and divided by the time of that call (best of several runs each, so
  that load spikes on a shared machine drop out of both). The model is the library's
  ``small_cnn`` at 32x32, the cheapest model a user would attack, so the share is an
  upper bound for larger ones. A second, noisier figure times the calls with the
  hardening checks replaced by no-ops, interleaved with the real calls (best of runs).
* **SmoothGrad peak memory** at 512x3x224x224 (the paper's ImageNet scale) against
  ``batch_size``: the growth of the resident set's high-water mark (VmHWM, reset before
  the call) during one call, each configuration in a fresh subprocess. With
  ``--baseline-src DIR`` the same calls also run against another copy of the package
  (e.g. ``git archive <commit> shapebias | tar -x -C DIR``), for a before/after table.

Run: ``PYTHONPATH=. python benchmarks/bench_checks.py`` (``--no-memory``, ``--no-time``,
``--repeats 15``, ``--baseline-src /tmp/old``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from unittest import mock

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, reset_peak_rss, status_mib


def setup(batch: int, size: int, width: int = 32):
    from shapebias.models import small_cnn

    torch.manual_seed(0)
    model = small_cnn(10, width=width).eval()
    images = torch.rand(batch, 3, size, size)
    labels = torch.randint(0, 10, (batch,))
    return model, images, labels


def pgd_checks(model, images, labels, steps: int) -> Callable[[], None]:
    """Every check of one pgd call, on the tensors that call sees."""
    from shapebias._validation import check_finite_gradient, check_logits
    from shapebias.attacks._pgd import plan_attack

    x = images.clone().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(logits.logsumexp(1).sum(), x)
    logits = logits.detach()
    settings = {
        "eps": 8 / 255, "steps": steps, "step_size": None, "norm": "linf",
        "random_start": True, "restarts": 1, "targeted": False, "loss": "ce",
        "early_stop": False, "generator": None,
    }  # fmt: skip

    def run() -> None:
        plan_attack(model, images, labels, **settings)
        check_logits(logits, images.shape[0], labels)
        check_finite_gradient(grad, "attack")  # first step
        check_finite_gradient(images, "attack")  # the result, same shape

    return run


def smoothgrad_checks(model, images, labels, batch_size: int) -> Callable[[], None]:
    """Every check of one smoothgrad call (labels given), on the tensors it sees."""
    from shapebias._validation import (
        check_bool,
        check_choice,
        check_finite_gradient,
        check_generator,
        check_images,
        check_int,
        check_logits,
        check_model,
        check_real,
    )
    from shapebias.saliency._chunking import resolve_batch_size
    from shapebias.saliency._targets import check_output, check_target

    rows = images[:batch_size].clone().requires_grad_(True)
    logits = model(rows)
    (grad,) = torch.autograd.grad(logits.logsumexp(1).sum(), rows)
    logits = logits.detach()

    def run() -> None:
        check_model(model)
        check_images(images)
        check_target(labels, images)
        check_int(50, "n_samples", low=1)
        check_real(0.15, "noise_level", low=0.0, finite=True)
        check_choice("mean", "aggregate", ("mean", "abs", "square"))
        check_output("loss")
        resolve_batch_size(batch_size, images)
        check_generator(None, images)
        check_bool(False, "progress")
        check_logits(logits, logits.shape[0], labels[:batch_size], name="target")
        check_finite_gradient(grad, "saliency")  # first chunk
        check_finite_gradient(images, "smoothgrad")  # the sum, same shape

    return run


def _no_hardening_checks() -> ExitStack:
    """Patch the checks this hardening added (finite logits aside) to no-ops."""
    stack = ExitStack()
    for target in (
        "shapebias.attacks._pgd.check_finite_gradient",
        "shapebias.attacks._pgd.check_bool",
        "shapebias.saliency._chunking.check_finite_gradient",
        "shapebias.saliency._targets.check_finite_gradient",
        "shapebias.saliency._smoothgrad.check_bool",
    ):
        stack.enter_context(mock.patch(target, lambda *args, **kwargs: None))
    return stack


def report_check_cost(args: argparse.Namespace) -> None:
    from shapebias.attacks import pgd
    from shapebias.saliency import smoothgrad

    model, images, labels = setup(args.batch, 32)

    def run_pgd() -> None:
        pgd(model, images, labels, eps=8 / 255, steps=args.steps, generator=torch.Generator())

    def run_sg() -> None:
        smoothgrad(
            model, images, labels, output="loss", n_samples=args.n_samples,
            batch_size=args.batch, generator=torch.Generator().manual_seed(0),
        )  # fmt: skip

    def unchecked(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            with _no_hardening_checks():
                fn()

        return run

    functions = {
        "pgd": run_pgd,
        "pgd, hardening checks off": unchecked(run_pgd),
        "smoothgrad": run_sg,
        "smoothgrad, hardening checks off": unchecked(run_sg),
    }
    load = os.getloadavg()[0]
    times = best_interleaved(functions, args.repeats)
    checks = {
        "pgd: all its checks alone": best_time(pgd_checks(model, images, labels, args.steps)),
        "smoothgrad: all its checks alone": best_time(
            smoothgrad_checks(model, images, labels, args.batch)
        ),
    }
    print(
        f"Check cost: small_cnn(10), {args.batch}x3x32x32, pgd {args.steps} steps, smoothgrad "
        f"n_samples={args.n_samples} in chunks of {args.batch} rows; calls: best of "
        f"{args.repeats} interleaved runs; checks alone: best of 5 x mean of 20; {machine()}; "
        f"load average {load:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    print(f"  {'configuration':36s} {'ms':>10s} {'/ call':>9s}")
    for name, seconds in {**times, **checks}.items():
        call = times["pgd" if name.startswith("pgd") else "smoothgrad"]
        print(f"  {name:36s} {1e3 * seconds:10.3f} {100 * seconds / call:8.3f}%")


def best_interleaved(functions: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best seconds of each call over ``repeats`` round-robin runs, after one warm-up each.

    The minimum, like :func:`best_time`'s, so that calls and checks are compared alike
    and load spikes on a shared machine drop out.
    """
    best = {name: math.inf for name in functions}
    for function in functions.values():
        function()
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def best_time(fn: Callable[[], None], inner: int = 20, outer: int = 5) -> float:
    """Seconds per call of a fast function: the best of ``outer`` means over ``inner`` calls.

    The minimum is the cost of the code itself; on a shared machine a median of
    microsecond calls mostly measures preemption.
    """
    fn()
    best = math.inf
    for _ in range(outer):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def child(args: argparse.Namespace) -> None:
    """One SmoothGrad call at 512x224^2 in this fresh process; print its peak growth."""
    from shapebias.saliency import smoothgrad

    model, images, labels = setup(args.memory_batch, 224, width=args.width)
    smoothgrad(model, images[:1], labels[:1], n_samples=1)  # load kernels and pools first
    target = None if args.child_target == "predicted" else labels
    before = reset_peak_rss()
    smoothgrad(model, images, target, n_samples=args.n_samples_memory, batch_size=args.child)
    print(json.dumps({"peak_rss_growth_mib": status_mib("VmHWM") - before}))


def _measure(args: argparse.Namespace, batch_size: int, target: str, src: str | None) -> float:
    command = [
        sys.executable, os.path.abspath(__file__), "--child", str(batch_size),
        "--child-target", target, "--width", str(args.width),
        "--memory-batch", str(args.memory_batch),
        "--n-samples-memory", str(args.n_samples_memory),
    ]  # fmt: skip
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_rss_growth_mib"]


def report_memory(args: argparse.Namespace) -> None:
    full = args.memory_batch * 3 * 224 * 224 * 4 / 2**20
    print(
        f"\nSmoothGrad peak memory: small_cnn(10, width={args.width}), "
        f"{args.memory_batch}x3x224x224 float32 ({full:.0f} MiB per full-batch tensor), "
        f"n_samples={args.n_samples_memory}; growth of VmHWM during one call, fresh "
        f"process each; load average {os.getloadavg()[0]:.2f}"
    )
    sources = {"this tree": None}
    if args.baseline_src:
        sources = {"baseline": args.baseline_src, **sources}
    header = "".join(f" {name + ' MiB':>16s}" for name in sources)
    print(f"  {'batch_size':>10s} {'target':>10s}{header}")
    for target in ("labels", "predicted"):
        for batch_size in args.batch_sizes:
            cells = "".join(
                f" {_measure(args, batch_size, target, src):16.1f}" for src in sources.values()
            )
            print(f"  {batch_size:10d} {target:>10s}{cells}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--n-samples", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-time", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-batch", type=int, default=512)
    parser.add_argument("--width", type=int, default=8, help="small_cnn width for the memory run")
    parser.add_argument("--n-samples-memory", type=int, default=1)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--baseline-src", help="directory holding another shapebias package")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-target", default="labels", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child is not None:
        child(args)
        return
    if not args.no_time:
        report_check_cost(args)
    if not args.no_memory:
        report_memory(args)


if __name__ == "__main__":
    main()
