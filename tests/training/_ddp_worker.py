"""Run by ``torchrun --nproc_per_node=2`` from test_distributed.py: the same fit call as alone."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from shapebias.attacks import PGD
from shapebias.training import (
    AdversarialLoss,
    StandardLoss,
    fit,
    init_distributed,
    is_main_process,
)
from tests.training._data import conv_net, loader, two_feature_data

EPOCHS, EPS, LR, BATCH = 2, 0.05, 0.1, 8
EVAL_SAMPLES, EVAL_BATCH, MISSING_CLASS = 13, 4, 2  # 13 = 7 + 6: unbalanced shards
EVAL_EPS = 0.035  # fools some of the correctly classified samples, not all


def never_predicting(seed: int = 0) -> torch.nn.Module:
    """A fixed 3-class linear model that never predicts class ``MISSING_CLASS``."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    with torch.no_grad():
        model[1].bias[MISSING_CLASS] = -1e4
    return model


def eval_data() -> tuple[torch.Tensor, torch.Tensor]:
    images, _ = two_feature_data(EVAL_SAMPLES, seed=4)
    labels = torch.arange(EVAL_SAMPLES) % 3  # every class, the missing one included
    return images, labels


def evaluate_unbalanced(out: Path) -> list[dict]:
    """fit with lr=0 (weights fixed) only to score eval_data, sharded 7 / 6 across 2 ranks."""
    device = init_distributed()
    model = never_predicting().to(device)
    images, labels = eval_data()
    return fit(
        model,
        loader(images, labels, batch_size=4, shuffle=False),
        loss=StandardLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
        epochs=1,
        eval_data=(images, labels),
        eval_attack=PGD(eps=EVAL_EPS, steps=2, random_start=False),
        eval_batch_size=EVAL_BATCH,
        progress=False,
    )


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
    evaluated = evaluate_unbalanced(out)
    if is_main_process():
        torch.save(
            {"model": model.state_dict(), "history": history, "evaluated": evaluated},
            out / "result.pt",
        )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
