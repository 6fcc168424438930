"""Optional: shapebias' PGD equals torchattacks' PGD step for step (no random start)."""

import pytest
import torch

from shapebias.attacks import pgd
from tests._models import seeded_images, seeded_labels, tiny_cnn

torchattacks = pytest.importorskip("torchattacks")


def test_pgd_linf_matches_torchattacks():
    model = tiny_cnn().double()
    images, labels = seeded_images(8).double(), seeded_labels(8)
    peer = torchattacks.PGD(model, eps=8 / 255, alpha=2 / 255, steps=7, random_start=False)
    expected = peer(images, labels)
    ours = pgd(model, images, labels, eps=8 / 255, steps=7, step_size=2 / 255, random_start=False)
    torch.testing.assert_close(ours, expected, atol=1e-12, rtol=0)
