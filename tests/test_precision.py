"""GPU-readiness of the evaluation functions, checked on CPU: autocast= and channels_last."""

from __future__ import annotations

import pytest
import torch

from shapebias.attacks import PGD, robust_accuracy
from shapebias.distortions import Saturate
from shapebias.metrics import distortion_accuracy, shape_bias
from tests._models import seeded_images, seeded_labels, tiny_cnn

MODEL = tiny_cnn(4, seed=5)
IMAGES = seeded_images(12, size=8, seed=2)
LABELS = seeded_labels(12, 4, seed=3)
TEXTURES = (LABELS + 1) % 4


def _evaluate(images: torch.Tensor, autocast=None) -> tuple:
    robust = robust_accuracy(
        MODEL, (images, LABELS), PGD(eps=0.03, steps=2, random_start=False), progress=False,
        autocast=autocast,
    )  # fmt: skip
    distorted = distortion_accuracy(
        MODEL, (images, LABELS), {"saturated": Saturate(8)}, num_bootstrap=0, progress=False,
        autocast=autocast,
    )  # fmt: skip
    bias = shape_bias(
        MODEL, (images, LABELS, TEXTURES), num_bootstrap=0, progress=False, autocast=autocast
    )
    return (
        (robust.clean_correct, robust.robust_correct),
        {k: v.tolist() for k, v in distorted.correct.items()},
        bias.decisions.tolist(),
    )


def test_channels_last_inputs_give_the_same_results():
    channels_last = IMAGES.contiguous(memory_format=torch.channels_last)
    assert not channels_last.is_contiguous()
    assert _evaluate(channels_last) == _evaluate(IMAGES)


def test_bfloat16_autocast_runs_the_model_in_bfloat16(monkeypatch):
    seen = []
    forward = MODEL.forward

    def recording(images):
        logits = forward(images)
        seen.append((images.dtype, logits.dtype))
        return logits

    monkeypatch.setattr(MODEL, "forward", recording)
    _evaluate(IMAGES, autocast=torch.bfloat16)
    # inputs stay float32; the clean forwards give bfloat16 logits; attack steps stay float32
    assert (torch.float32, torch.bfloat16) in seen and (torch.float32, torch.float32) in seen
    assert {images for images, _ in seen} == {torch.float32}


def test_autocast_leaves_the_float32_path_unchanged_and_refuses_other_dtypes():
    assert _evaluate(IMAGES, autocast=None) == _evaluate(IMAGES)
    for function, arguments in (
        (robust_accuracy, ((IMAGES, LABELS), PGD(eps=0.03))),
        (distortion_accuracy, ((IMAGES, LABELS), {})),
        (shape_bias, ((IMAGES, LABELS, TEXTURES),)),
    ):
        with pytest.raises(ValueError, match=r"autocast must be None, torch\.float16 or torch"):
            function(MODEL, *arguments, autocast=torch.float64, progress=False)
