"""Run by ``torchrun --nproc_per_node=2`` from test_distributed_eval.py; also imported by it.

:func:`evaluate` makes the same three evaluations alone or under torchrun; 11 images
split 5 / 6 over two ranks, so the shards are unequal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset

from shapebias import cli
from shapebias._distributed import shard_data
from shapebias.attacks import PGD, robust_accuracy
from shapebias.data import DeviceLoader
from shapebias.distortions import Saturate
from shapebias.metrics import distortion_accuracy, shape_bias
from tests._models import seeded_images, tiny_cnn

TOTAL, CLASSES = 11, 4


def fixtures() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A tiny CNN, images, labels right for about half the images, texture labels."""
    model = tiny_cnn(CLASSES, seed=3)
    images = seeded_images(TOTAL, size=8, seed=1)
    with torch.no_grad():
        predicted = model(images).argmax(1)
    wrong = (predicted + 1) % CLASSES
    labels = torch.where(torch.arange(TOTAL) % 2 == 0, predicted, wrong)
    textures = (labels + 1 + torch.arange(TOTAL) % (CLASSES - 1)) % CLASSES
    textures[0] = labels[0]  # one image without a cue conflict, excluded
    return model, images, labels, textures


def evaluate(loader: bool) -> dict[str, Any]:
    """Robust accuracy, distortion accuracy and shape bias as plain numbers."""
    model, images, labels, textures = fixtures()
    data: Any = (images, labels)
    cue: Any = (images, labels, textures)
    if loader:  # a bare DataLoader and one behind DeviceLoader are both sharded
        data = DataLoader(TensorDataset(images, labels), batch_size=2)
        cue = DeviceLoader(DataLoader(TensorDataset(images, labels, textures), batch_size=2), "cpu")
    robust = robust_accuracy(
        model, data, PGD(eps=0.02, steps=3, random_start=False), batch_size=2, progress=False
    )
    distorted = distortion_accuracy(
        model,
        data,
        {"saturated": Saturate(8), "flipped": lambda x, generator=None: x.flip(-1)},
        batch_size=3,
        num_bootstrap=200,
        progress=False,
    )
    bias = shape_bias(model, cue, batch_size=3, num_bootstrap=200, progress=False)
    return {
        "robust": (robust.total, robust.clean_correct, robust.robust_correct),
        "distortion": distorted.to_dict(),
        "correct": {name: c.tolist() for name, c in distorted.correct.items()},
        "shape_bias": bias.to_dict(),
        "decisions": bias.decisions.tolist(),
    }


def refusals() -> list[str]:
    """Error messages of the inputs shard_data cannot split without changing the result."""
    images = torch.rand(4, 3, 8, 8)
    dataset = TensorDataset(images, torch.zeros(4, dtype=torch.long))
    messages = []
    for data in (
        [(images, torch.zeros(4, dtype=torch.long))],  # a list of batches
        DataLoader(dataset, batch_size=2, shuffle=True),
        (images[:1], torch.zeros(1, dtype=torch.long)),  # fewer samples than processes
    ):
        with pytest.raises((TypeError, ValueError)) as error:
            shard_data(data)
        messages.append(str(error.value))
    return messages


def main() -> None:
    """argv: the output folder, then ``shapebias evaluate`` arguments for the CLI run."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    out = Path(sys.argv[1])
    result = {
        "tensors": evaluate(loader=False),
        "loader": evaluate(loader=True),
        "refusals": refusals(),
    }
    torch.save(result, out / f"rank{dist.get_rank()}.pt")
    status = cli.main(sys.argv[2:])  # joins the group torchrun made; rank 0 writes the card
    if status != 0:  # main reports errors as an exit status, not an exception
        raise SystemExit(status)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
