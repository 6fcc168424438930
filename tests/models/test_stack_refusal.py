"""Saliency and metrics refuse a StackedModels where they would misroute its images.

A stack sends images ``[s * N, (s + 1) * N)`` to member ``s``; code that chunks, repeats
or shards the batch would feed members the wrong images (and give no error), so those
functions refuse a stack with a TypeError naming the fix. Code that keeps the batch in
order stays exact on a stack: that is checked too, so a refusal placed in the shared
``check_model`` (which the attacks and training use) would fail here.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias import saliency
from shapebias.frequency import band_eps_index, fourier_heat_map
from shapebias.metrics import distortion_accuracy, shape_bias
from shapebias.models import StackedModels, small_cnn

S, N, K = 2, 3, 3


def _members() -> list[nn.Module]:
    members = []
    for seed in range(S):
        torch.manual_seed(seed)
        members.append(small_cnn(K, width=4, depth=2).double().eval())
    return members


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(S * N, 3, 8, 8, generator=generator, dtype=torch.float64)
    return images, torch.randint(0, K, (S * N,), generator=generator)


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


# name -> a call of the function on (model, images, labels)
REFUSING = {
    "smoothgrad": lambda m, x, y: saliency.smoothgrad(m, x, y, n_samples=2, generator=_generator()),
    "integrated_gradients": lambda m, x, y: saliency.integrated_gradients(m, x, y, steps=2),
    "grad_cam": lambda m, x, y: saliency.grad_cam(m, x, y, layer="6"),
    "model_randomization_test": lambda m, x, y: saliency.model_randomization_test(
        m, x, y, "gradient"
    ),
    "distortion_accuracy": lambda m, x, y: distortion_accuracy(
        m, (x, y), {"flipped": lambda v, generator=None: v.flip(-1)}, progress=False
    ),
    "shape_bias": lambda m, x, y: shape_bias(m, (x, y, (y + 1) % K), progress=False),
    "fourier_heat_map": lambda m, x, y: fourier_heat_map(m, (x, y), eps=1.0, progress=False),
    "band_eps_index": lambda m, x, y: band_eps_index(
        m, (x, y), low_band=(0, 2), high_band=(2, 4), steps=1, progress=False
    ),
}


@pytest.mark.parametrize("name", list(REFUSING))
@pytest.mark.parametrize("wrap", [False, True], ids=["stack", "stack inside a Sequential"])
def test_functions_that_reorder_the_batch_refuse_a_stack(name, wrap):
    stack = StackedModels(_members()).eval()
    model = nn.Sequential(stack) if wrap else stack
    images, labels = _batch()
    before = images.clone()
    with pytest.raises(TypeError, match=rf"^{name} cannot take a StackedModels as model: "):
        REFUSING[name](model, images, labels)
    with pytest.raises(TypeError, match=rf"Call {name} on each member of stack\.unstack\(\)"):
        REFUSING[name](model, images, labels)
    assert torch.equal(images, before)
    assert all(p.grad is None for p in stack.parameters())


@pytest.mark.parametrize("name", list(REFUSING))
def test_the_suggested_fix_runs(name):
    """Each member of ``stack.unstack()`` is accepted, as the message says."""
    images, labels = _batch()
    for member in StackedModels(_members()).eval().unstack():
        REFUSING[name](member, images[:N], labels[:N])


@pytest.mark.parametrize(
    "method", [saliency.gradient, saliency.input_x_gradient, saliency.guided_backprop]
)
def test_in_order_saliency_stays_exact_on_a_stack(method):
    """One forward over the whole batch: a stack's maps are its members' maps, in order."""
    members = _members()
    stack = StackedModels(members).eval()
    images, labels = _batch()
    expected = torch.cat(
        [method(m, x, y) for m, x, y in zip(members, images.chunk(S), labels.chunk(S), strict=True)]
    )
    torch.testing.assert_close(method(stack, images, labels), expected, atol=1e-10, rtol=1e-9)
