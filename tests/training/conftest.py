"""Training tests use tiny models, for which one intra-op thread is fastest.

With two threads on a loaded 2-core machine, thread hand-offs dominate 8x8 convolutions
(50x slower in our measurements), so these tests run single-threaded and restore the
setting afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
