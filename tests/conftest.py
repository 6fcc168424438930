"""Shared test setup: deterministic, single-process, CPU only."""

from __future__ import annotations

import matplotlib
import torch
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")
# Tiny test models run fastest on one thread, and it keeps the suite steady under load.
torch.set_num_threads(1)

settings.register_profile(
    "shapebias",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("shapebias")
