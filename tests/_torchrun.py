"""Launch a test worker script under torchrun: two gloo processes on this machine's CPU."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository root: the workers import this checkout's shapebias and tests."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_two_ranks(worker: Path, *args: str, timeout: float = 120) -> None:
    """Run ``worker *args`` as two torchrun processes; fail with their output tail if one fails.

    Each process gets ``RANK``/``WORLD_SIZE`` from torchrun (a ``RANK`` of the calling
    environment is dropped), one thread and a free port on 127.0.0.1.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("RANK", None)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(worker), *args,
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
