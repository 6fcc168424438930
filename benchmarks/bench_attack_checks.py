"""What the attacks' model checks of issue 26 cost: the attack counterpart of
``bench_training.py --checks``.

Issue 26 added, per call, the refusal of a StackedModels (a walk over the model's
modules, in apgd, fab, square and robust_accuracy); per run (target or restart) of APGD
and FAB, a finiteness check of the first input gradient and of the objectives (logits)
accumulated over the run; per step, one ``(N,)`` sum (APGD: the objective; FAB: the
logits) and the test that the model's output depends on the images (an attribute and a
``None`` test around ``torch.autograd.grad``). Two figures per attack:

* **checks alone**: those checks timed on the tensors of a real call and multiplied by
  how often a call makes them, against the call (best of several runs each, so load
  spikes drop out of both). The model is ``small_cnn`` at 32x32, the cheapest model a
  user would attack, so the share is an upper bound for larger models.
* **A/B**: the calls with the new checks replaced by no-ops (the plain
  ``torch.autograd.grad``), interleaved with the real calls; on a shared machine this
  difference is mostly noise.

Run: ``PYTHONPATH=. python benchmarks/bench_attack_checks.py`` (``--batch 64``,
``--steps 20``, ``--repeats 5``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from unittest import mock

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine
from bench_checks import best_time as _best


def _setup(batch: int):
    from shapebias.models import small_cnn

    torch.manual_seed(0)
    model = small_cnn(10).eval()
    images, labels = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    return model, images, labels


def _unit_costs(model, images, labels) -> dict[str, float]:
    """Seconds of each new check, on tensors shaped like an attack's."""
    from shapebias._validation import check_finite_gradient
    from shapebias.attacks._model_checks import input_gradient, refuse_stack

    x = images.clone().requires_grad_(True)
    logits = model(x)
    objective = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    grad = torch.autograd.grad(objective.sum(), x, retain_graph=True)[0]
    seen = objective.detach().sum()
    f = objective.detach()

    def plain() -> object:
        return torch.autograd.grad(objective.sum(), x, retain_graph=True)

    def checked() -> object:
        return input_gradient(objective.sum(), x, retain_graph=True)

    return {
        "refuse_stack": _best(lambda: refuse_stack(model, "apgd", "why")),
        "first gradient": _best(lambda: check_finite_gradient(grad, "apgd")),
        "objective seen": _best(lambda: check_finite_gradient(seen, "apgd")),
        "sum per step": _best(lambda: seen + f.sum()),
        "logits sum per step": _best(lambda: seen + logits.detach().sum()),
        # the autograd call itself cancels out; what remains is input_gradient's overhead
        "input_gradient overhead": max(_best(checked, 5) - _best(plain, 5), 0.0),
    }


def _no_new_checks() -> ExitStack:
    """The calls with issue 26's checks replaced by no-ops (for the A/B only)."""

    def plain_gradient(output, images, *, retain_graph=False):
        return torch.autograd.grad(output, images, retain_graph=retain_graph)[0]

    stack = ExitStack()
    for module in ("_apgd", "_fab", "_square", "_robust_accuracy"):
        target = f"shapebias.attacks.{module}"
        stack.enter_context(mock.patch(f"{target}.refuse_stack", lambda *a, **k: None))
        if module in ("_apgd", "_fab"):
            stack.enter_context(mock.patch(f"{target}.input_gradient", plain_gradient))
            stack.enter_context(mock.patch(f"{target}.check_finite_gradient", lambda *a: None))
    return stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from shapebias.attacks import APGD, apgd, fab, robust_accuracy, square

    model, images, labels = _setup(args.batch)
    steps = args.steps

    def gen() -> torch.Generator:
        return torch.Generator().manual_seed(0)

    # name -> (call, how many runs and steps it makes at most, per-step sum kind)
    calls: dict[str, tuple[Callable[[], object], int, int, str]] = {
        "apgd (CE)": (lambda: apgd(model, images, labels, eps=8 / 255, steps=steps,
                                   generator=gen()), 1, steps, "sum per step"),
        "apgd-T (DLR, 3 targets)": (lambda: apgd(model, images, labels, eps=8 / 255,
                                                 steps=steps, loss="dlr", targeted=True,
                                                 num_targets=3, generator=gen()),
                                    3, steps, "sum per step"),
        "fab-T (3 targets)": (lambda: fab(model, images, labels, eps=8 / 255, steps=steps,
                                          num_targets=3), 3, steps, "logits sum per step"),
        "square (100 queries)": (lambda: square(model, images, labels, eps=8 / 255,
                                                queries=100, generator=gen()), 0, 0, ""),
        "robust_accuracy (APGD-CE)": (lambda: robust_accuracy(
            model, (images, labels), APGD(eps=8 / 255, steps=steps, generator=gen()),
            progress=False), 1, steps, "sum per step"),
    }  # fmt: skip
    unit = _unit_costs(model, images, labels)
    print(f"small_cnn(10), {args.batch}x3x32x32, {steps} steps, 1 thread; {machine()}")
    print("unit costs (us): " + ", ".join(f"{k} {1e6 * v:.1f}" for k, v in unit.items()))
    columns = (("attack", "<28"), ("call ms", ">10"), ("no checks ms", ">14"), ("A/B %", ">8"),
               ("checks us", ">11"), ("share %", ">9"))  # fmt: skip
    print("".join(f"{title:{spec}}" for title, spec in columns))
    for name, (call, runs, per_run, kind) in calls.items():
        checked = unchecked = math.inf
        call()  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            call()
            checked = min(checked, time.perf_counter() - start)
            with _no_new_checks():
                start = time.perf_counter()
                call()
                unchecked = min(unchecked, time.perf_counter() - start)
        alone = unit["refuse_stack"] + runs * (unit["first gradient"] + unit["objective seen"])
        if kind:
            alone += runs * per_run * (unit[kind] + unit["input_gradient overhead"])
        print(
            f"{name:<28}{1e3 * checked:>10.1f}{1e3 * unchecked:>14.1f}"
            f"{100 * (checked / unchecked - 1):>8.1f}{1e6 * alone:>11.1f}"
            f"{100 * alone / checked:>9.3f}"
        )


if __name__ == "__main__":
    main()
