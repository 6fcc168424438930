"""Layouts beyond the defaults: checkpoints wrapped or nested twice, BatchNorm settings
other than PyTorch's defaults inside a stack."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from shapebias.models import StackedModels, load_pretrained
from tests._models import tiny_cnn

IMAGES = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def _source() -> nn.Module:
    net = tiny_cnn(5, seed=3)
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
    return net.eval()


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: {f"module.module.{k}": v for k, v in s.items()},  # DataParallel(DDP(net))
        lambda s: {"model": {"state_dict": s}},  # a training script's dict inside another
        lambda s: {"state_dict": {f"module.module.{k}": v for k, v in s.items()}},
    ],
    ids=["module-module", "nested-twice", "nested-and-wrapped-twice"],
)
def test_checkpoints_wrapped_or_nested_twice_load(tmp_path, wrap):
    """Slips caught: ``if`` for ``while`` when stripping ``module.`` or unnesting."""
    source = _source()
    torch.save(wrap(source.state_dict()), tmp_path / "weights.pt")
    model = load_pretrained(tmp_path / "weights.pt", lambda: tiny_cnn(5, seed=9), mean=[0.0] * 3,
                            std=[1.0] * 3)  # fmt: skip
    with torch.no_grad():
        torch.testing.assert_close(model(IMAGES), source(IMAGES))


def _bn_cnn(momentum, seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4, eps=0.5, momentum=momentum), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3),
    )  # fmt: skip


@pytest.mark.parametrize("momentum", [0.7, None])  # None: cumulative average
def test_stacked_batchnorm_keeps_eps_and_momentum(momentum):
    """Slips caught: the widened BatchNorm built with the default momentum or eps."""
    members = [_bn_cnn(momentum, seed) for seed in (0, 1)]
    separate = [copy.deepcopy(m) for m in members]
    stack = StackedModels(members).train()
    images = torch.rand(2, 6, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    for batch in images:  # two training steps' statistics
        stack(batch)
        for model, part in zip(separate, batch.chunk(2), strict=True):
            model(part)
    for unstacked, model in zip(stack.unstack(), separate, strict=True):
        for name in ("running_mean", "running_var"):
            torch.testing.assert_close(getattr(unstacked[1], name), getattr(model[1], name))
    stack.eval()
    test = torch.rand(4, 3, 6, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = torch.cat([m.eval()(x) for m, x in zip(separate, test.chunk(2), strict=True)])
        torch.testing.assert_close(stack(test), expected)


def _odd_conv_cnn(seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2, bias=False, padding_mode="circular"),
        nn.ReLU(), nn.Conv2d(6, 6, 3, stride=2, groups=3), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(6, 3, bias=False),
    ).double()  # fmt: skip


def test_stacked_convolutions_keep_groups_dilation_padding_mode_and_bias():
    """Slips caught: the widened Conv2d built without the members' groups (``groups=S``),
    dilation or padding mode."""
    members = [_odd_conv_cnn(seed).eval() for seed in (0, 1, 2)]
    stack = StackedModels(members).eval()
    images = torch.rand(6, 4, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    with torch.no_grad():
        expected = torch.cat([m(x) for m, x in zip(members, images.chunk(3), strict=True)])
        torch.testing.assert_close(stack(images), expected, rtol=0, atol=1e-12)
