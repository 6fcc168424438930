"""Run by ``torchrun --nproc_per_node=2`` from test_distributed.py: the same fit call as alone."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from shapebias.attacks import PGD
from shapebias.training import AdversarialLoss, fit, init_distributed, is_main_process
from tests.training._data import conv_net, loader, two_feature_data

EPOCHS, EPS, LR, BATCH = 2, 0.05, 0.1, 8


def train(out: Path, batch_size: int) -> tuple[torch.nn.Module, list[dict]]:
    device = init_distributed()
    images, labels = two_feature_data(64, seed=0)
    model = conv_net(batchnorm=False).to(device)
    history = fit(
        model,
        loader(images, labels, batch_size=batch_size, shuffle=False),
        loss=AdversarialLoss(PGD(eps=EPS, steps=2, random_start=False)),
        optimizer=torch.optim.SGD(model.parameters(), lr=LR),
        epochs=EPOCHS,
        eval_data=(images, labels),
        eval_attack=PGD(eps=EPS, steps=2, random_start=False),
        checkpoint_dir=out / "checkpoints",
        progress=False,
    )
    return model, history


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    model, history = train(out, BATCH)
    if is_main_process():
        torch.save({"model": model.state_dict(), "history": history}, out / "result.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
