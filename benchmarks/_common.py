"""Timing helpers shared by the benchmark scripts (not part of the library)."""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from shapebias.data import ShapeTextureDataset, dataset_tensors


def shape_texture(
    split: str, size: int, *, num_classes: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Items ``0..size-1`` of a :class:`ShapeTextureDataset` split as ``(images, labels)``.

    32x32, texture correlation 0.8 (shape and texture both predict the label, as in the
    attack benchmarks' models).
    """
    data = ShapeTextureDataset(split, num_classes=num_classes, texture_correlation=0.8, size=size)
    images, labels = dataset_tensors(data)
    return images, labels


def machine() -> str:
    """One line naming the machine, the torch build and the threads used."""
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.node()} {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"python {platform.python_version()}"
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    functions: dict[str, Callable[[], object]],
    repeats: int,
    device: torch.device,
    *,
    warm_up: bool = True,
) -> dict[str, float]:
    """Median seconds of each function, run round-robin so that load drifts hit all alike.

    ``warm_up=False`` skips the untimed first call of each (for runs of minutes that
    warm up more cheaply on their own).
    """
    for function in functions.values() if warm_up else ():
        function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            sync(device)
            start = time.perf_counter()
            function()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def time_attacks(
    methods: dict[str, Callable[..., object]],
    call: tuple[object, ...],
    repeats: int,
    device: torch.device,
    *,
    peer: str = "torchattacks.PGD",
) -> dict[str, float]:
    """Interleaved medians of ``method(*call)`` for each method; the torchattacks ``peer``
    row is dropped (and said so) when torchattacks is not installed."""
    try:
        import torchattacks  # noqa: F401
    except ImportError:
        methods = {name: method for name, method in methods.items() if name != peer}
        print("torchattacks not installed: peer row skipped")
    return interleaved_medians(
        {name: (lambda m=method: m(*call)) for name, method in methods.items()}, repeats, device
    )


def status_mib(field: str) -> float:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak_rss() -> float:
    """Reset the kernel's resident-set high-water mark to the current RSS; return it (MiB).

    ``getrusage``'s ``ru_maxrss`` cannot be reset and is inherited through fork/exec,
    so it hides the peak of a call that stays below an earlier one.
    """
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return status_mib("VmRSS")


def peak_growth_mib(fn: Callable[[], object], device: torch.device) -> float:
    """Run ``fn`` once and return how far it raised the peak memory, in MiB.

    On a GPU: ``torch.cuda.max_memory_allocated`` over what was allocated before. On the
    CPU: the resident set's high-water mark (VmHWM, reset first) over the RSS before.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    before = reset_peak_rss()
    fn()
    return status_mib("VmHWM") - before


def peak_memory_in_subprocess(script: str, args: list[str]) -> dict[str, float]:
    """Run ``script --measure-only ...`` in a fresh interpreter; it prints a JSON line."""
    output = subprocess.run(
        [sys.executable, script, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])
