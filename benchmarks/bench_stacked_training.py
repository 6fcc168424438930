"""Train S seeds of one configuration at once: StackedModels against one model at a time.

S seeds of ``small_cnn(4, width=32)`` at 3x32x32, batch 64 per seed, SGD with
momentum; one epoch of standard training and one of PGD-3 adversarial training
(L-inf 4/255, eval-mode crafting, as ``Recipe.pgd_linf(4 / 255, steps=3)``), timed for:

* ``sequential``: the S models one after another in PyTorch's default (NCHW) layout
  (what a seed loop over a hand-built network does; the peer);
* ``sequential, channels_last``: the same with models and images in channels_last (the
  layout ``small_cnn`` ships in), to tell the stack's memory-layout gain from its
  batching gain;
* ``StackedModels``: one grouped network (the library's path);
* ``torch.func vmap``: ``stack_module_state`` + ``functional_call`` under ``vmap``, the
  generic path the stack was measured against (not shipped);
* ``2 processes x 1 thread`` (``--processes``): the seeds spread over worker processes
  of one thread each, each running the sequential loop.

Every configuration runs the same epochs on the same data (each seed its own
shuffled copy), round-robin over ``--repeats`` rounds so that load drifts hit all
alike; wall-clock medians are printed with their ratio to ``sequential`` (> 1 is
faster), for PGD-3 with the ratio to the same configuration's clean epoch (cost floor
4: three attack passes plus the training step), and with the median CPU seconds of the
process (the work done, which load on a shared machine disturbs less than wall time;
not shown for the worker processes).

Usage:
    PYTHONPATH=$PWD python benchmarks/bench_stacked_training.py [--seeds 3] [--images 512]
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from shapebias.attacks import PGD
from shapebias.models import StackedLoader, StackedModels, small_cnn
from shapebias.training import AdversarialLoss, StackedLoss, StandardLoss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import interleaved_medians, machine

EPS = 4 / 255
CLASSES = 4


def losses(steps: int) -> dict[str, Any]:
    attack = PGD(eps=EPS, steps=steps, step_size=2.5 * EPS / steps)
    return {"clean": StandardLoss(), f"PGD-{steps}": AdversarialLoss(attack)}


def seed_batches(seed: int, images: int, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One seed's epoch: the same synthetic images, in this seed's own shuffled order."""
    data = torch.Generator().manual_seed(0)
    x = torch.rand(images, 3, 32, 32, generator=data)
    y = torch.randint(0, CLASSES, (images,), generator=data)
    order = torch.randperm(images, generator=torch.Generator().manual_seed(100 + seed))
    return [(x[order[i : i + batch]], y[order[i : i + batch]]) for i in range(0, images, batch)]


def make_models(seeds: int) -> list[nn.Module]:
    models = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        models.append(small_cnn(CLASSES, width=32))
    return models


def default_layout(models: list[nn.Module]) -> list[nn.Module]:
    """The models in PyTorch's default NCHW layout (``small_cnn`` ships channels_last)."""
    return [m.to(memory_format=torch.contiguous_format) for m in models]


def sgd(parameters: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.9, weight_decay=5e-4)


def run_epoch(model: Any, optimizer: torch.optim.Optimizer, loss: Any, batches: Any) -> None:
    """One epoch as fit runs it: loss in train mode, zero_grad, backward, step."""
    for images, labels in batches:
        value = loss(model, images, labels)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()


class VmapStack(nn.Module):
    """The generic alternative: ``vmap`` of ``functional_call`` over stacked parameters."""

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__()
        self.members = len(models)
        params, buffers = stack_module_state(models)  # type: ignore[arg-type]
        self.stacked = [params, buffers]
        self.base = copy.deepcopy(models[0]).to("meta")

    def parameters_to_train(self) -> list[torch.Tensor]:
        return list(self.stacked[0].values())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = images.shape[0] // self.members
        blocks = images.reshape(self.members, n, *images.shape[1:])

        def one(params: Any, buffers: Any, x: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (params, buffers), (x,))

        logits = torch.vmap(one)(self.stacked[0], self.stacked[1], blocks)
        return logits.reshape(self.members * n, -1)


def channels_last(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> list[Any]:
    return [(x.contiguous(memory_format=torch.channels_last), y) for x, y in batches]


def configurations(
    seeds: int, per_seed: list[list[Any]], loss: Any
) -> dict[str, Callable[[], None]]:
    """name -> a function running one epoch of every seed that way."""
    sequential = default_layout(make_models(seeds))
    optimizers = [sgd(m.parameters()) for m in sequential]
    layout = [m.to(memory_format=torch.channels_last) for m in make_models(seeds)]
    layout_optimizers = [sgd(m.parameters()) for m in layout]
    layout_batches = [channels_last(b) for b in per_seed]
    stack = StackedModels(make_models(seeds))
    stack_optimizer = sgd(stack.parameters())
    stacked_batches = list(StackedLoader(per_seed))
    stacked_loss = StackedLoss(loss, seeds)
    vmapped = VmapStack(make_models(seeds))
    vmap_optimizer = sgd(vmapped.parameters_to_train())

    def run_sequential() -> None:
        for model, optimizer, batches in zip(sequential, optimizers, per_seed, strict=True):
            run_epoch(model, optimizer, loss, batches)

    def run_layout() -> None:
        for model, optimizer, batches in zip(
            layout, layout_optimizers, layout_batches, strict=True
        ):
            run_epoch(model, optimizer, loss, batches)

    return {
        "sequential": run_sequential,
        "sequential, channels_last": run_layout,
        "StackedModels": lambda: run_epoch(stack, stack_optimizer, stacked_loss, stacked_batches),
        "torch.func vmap": lambda: run_epoch(
            vmapped, vmap_optimizer, stacked_loss, stacked_batches
        ),
    }


# -- the multi-process configuration: persistent 1-thread workers, one epoch per task --

_WORKER: dict[str, Any] = {}


def _worker_setup(seeds: int, images: int, batch: int, steps: int) -> None:
    torch.set_num_threads(1)
    models = default_layout(make_models(seeds))
    _WORKER.update(
        models=models,
        optimizers=[sgd(m.parameters()) for m in models],
        batches=[seed_batches(s, images, batch) for s in range(seeds)],
        losses=losses(steps),
    )


def _worker_epoch(task: tuple[int, str]) -> int:
    seed, mode = task
    run_epoch(
        _WORKER["models"][seed],
        _WORKER["optimizers"][seed],
        _WORKER["losses"][mode],
        _WORKER["batches"][seed],
    )
    return os.getpid()


def process_configuration(pool: Any, seeds: int, mode: str) -> Callable[[], None]:
    return lambda: pool.map(_worker_epoch, [(s, mode) for s in range(seeds)], chunksize=1)


def _cpu_timed(function: Callable[[], Any], into: list[float]) -> Callable[[], None]:
    """``function``, recording this process's CPU seconds per call into ``into``."""

    def run() -> None:
        start = time.process_time()
        function()
        into.append(time.process_time() - start)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--images", type=int, default=512, help="training images per seed")
    parser.add_argument("--batch", type=int, default=64, help="batch size per seed")
    parser.add_argument("--steps", type=int, default=3, help="PGD steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2, help="0 skips the process rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    per_seed = [seed_batches(s, args.images, args.batch) for s in range(args.seeds)]
    pool = None
    if args.processes:
        context = multiprocessing.get_context("spawn")
        setup = (args.seeds, args.images, args.batch, args.steps)
        pool = context.Pool(args.processes, initializer=_worker_setup, initargs=setup)
    print(
        f"{args.seeds} seeds of small_cnn({CLASSES}, width=32), {args.images} images 3x32x32 "
        f"per seed, batch {args.batch} per seed, {args.threads} threads, median of "
        f"{args.repeats} interleaved rounds after one warm-up, load average "
        f"{os.getloadavg()[0]:.2f} at start\n{machine()}"
    )
    clean_times: dict[str, float] = {}
    for mode, loss in losses(args.steps).items():
        functions = configurations(args.seeds, per_seed, loss)
        if pool is not None:
            name = f"{args.processes} processes x 1 thread"
            functions[name] = process_configuration(pool, args.seeds, mode)
        cpu: dict[str, list[float]] = {name: [] for name in functions}
        timed = {name: _cpu_timed(f, cpu[name]) for name, f in functions.items()}
        medians = interleaved_medians(timed, args.repeats, torch.device("cpu"))
        print(f"\n{mode} epoch ({args.seeds} seeds)")
        print(f"{'configuration':<28}{'epoch s':>9}{'x faster':>10}{'x clean':>9}{'CPU s':>8}")
        for name, seconds in medians.items():
            if mode == "clean":
                clean_times[name] = seconds
            versus = seconds / clean_times[name] if mode != "clean" else 1.0
            speed_up = medians["sequential"] / seconds
            used = "-" if name.endswith("thread") else f"{statistics.median(cpu[name][1:]):.2f}"
            print(f"{name:<28}{seconds:>9.2f}{speed_up:>10.2f}{versus:>9.2f}{used:>8}")
    if pool is not None:
        pool.close()
        pool.join()
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
