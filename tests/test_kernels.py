"""Results that must not depend on the CPU, checked under another kernel set and thread count.

``tests/_kernel_probe.py`` runs in fresh processes (kernel sets are chosen at import) under
this machine's kernels and under the portable ones (``tests/_kernels.py``): PyTorch's
default kernels, NumPy without its dispatched SIMD features, one thread. CI also reruns
the tests that pin bits or compare floats under the portable kernels (``.ci/run``).
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from tests._kernels import kernel_sets, run_under
from tests.test_seeds import PINNED


@cache
def _probe(kernels: str) -> dict:
    """The probe's results under one kernel set (it fails if a float reference fails)."""
    return json.loads(run_under(kernel_sets()[kernels], "-m", "tests._kernel_probe"))


@pytest.mark.parametrize("kernels", sorted(kernel_sets()))
def test_shape_texture_images_are_the_pinned_ones_under_each_kernel_set(kernels):
    assert _probe(kernels)["datasets"] == {name: digest for name, (_, digest) in PINNED.items()}


def test_resized_sample_images_are_the_same_under_every_kernel_set():
    assert len({_probe(kernels)["samples"] for kernels in kernel_sets()}) == 1


@pytest.mark.parametrize("kernels", sorted(kernel_sets()))
def test_float_references_hold_under_each_kernel_set(kernels):
    """The TRADES gradient check failed under AVX2 and passed under the default kernels
    while its tolerance was not derived from the computation; the probe runs it."""
    assert _probe(kernels)  # the probe exits non-zero when a check fails
