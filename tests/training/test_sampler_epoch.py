"""fit calls DistributedSampler.set_epoch before every epoch (a new shuffle each epoch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from shapebias.training import fit

N = 12


def test_each_epoch_draws_the_distributed_samplers_order_for_that_epoch():
    images = torch.arange(N, dtype=torch.float32).div(N).view(N, 1, 1, 1).expand(N, 1, 2, 2)
    data = TensorDataset(images.contiguous(), torch.zeros(N, dtype=torch.long))
    sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    seen: list[list[int]] = []

    def recording_loss(model, batch, labels):
        seen.append((batch[:, 0, 0, 0] * N).round().long().tolist())
        return F.cross_entropy(model(batch), labels)

    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    fit(
        model,
        DataLoader(data, batch_size=N, sampler=sampler),
        loss=recording_loss,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=3,
        progress=False,
    )
    expected = []
    for epoch in range(3):
        reference = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
        reference.set_epoch(epoch)
        expected.append(list(reference))
    assert seen == expected
    assert expected[0] != expected[1] != expected[2]  # the orders differ: the test can fail
