"""Run by test_faults.py in a subprocess: a resumable run that may be killed inside a write.

``python _fault_worker.py OUT [--die-writing EPOCH]``: with ``--die-writing`` the process
writes half of that epoch's checkpoint to its temporary file and kills itself with
SIGKILL (as the OOM killer or a pre-empted job would), leaving an orphan behind.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
from pathlib import Path

import torch

from shapebias.training import FGSMRSLoss, fit
from shapebias.training import _checkpoint as checkpoint_module
from tests.training._data import conv_net, loader, two_feature_data

EPOCHS, EPS = 3, 0.05


def train(directory: Path) -> torch.nn.Module:
    """Every source of randomness: shuffling, dropout (global RNG) and FGSM-RS starts."""
    torch.manual_seed(0)
    images, labels = two_feature_data(64, seed=0)
    model = conv_net(dropout=0.3)
    fit(
        model,
        loader(images, labels, batch_size=16, seed=1),
        loss=FGSMRSLoss(eps=EPS, generator=torch.Generator().manual_seed(2)),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        epochs=EPOCHS,
        checkpoint_dir=directory,
        progress=False,
    )
    return model


def _die_while_writing(epoch: int) -> None:
    real = checkpoint_module._write

    def write(record, temporary):
        if f"checkpoint-{epoch:05d}" not in temporary.name:
            return real(record, temporary)
        buffer = io.BytesIO()
        torch.save(record, buffer)
        with open(temporary, "wb") as handle:
            handle.write(buffer.getvalue()[: buffer.tell() // 2])
            handle.flush()
            os.fsync(handle.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    checkpoint_module._write = write


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--die-writing", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.die_writing is not None:
        _die_while_writing(args.die_writing)
    model = train(args.out / "checkpoints")
    torch.save(model.state_dict(), args.out / "weights.pt")


if __name__ == "__main__":
    main()
