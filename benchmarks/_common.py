"""Timing helpers shared by the benchmark scripts (not part of the library)."""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch


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
    functions: dict[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Median seconds of each function, run round-robin so that load drifts hit all alike."""
    for function in functions.values():  # warm-up
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


def max_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_in_subprocess(script: str, args: list[str]) -> dict[str, float]:
    """Run ``script --measure-only ...`` in a fresh interpreter; it prints a JSON line."""
    output = subprocess.run(
        [sys.executable, script, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])
