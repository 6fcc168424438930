"""``shapebias evaluate``: every number of the card against an independent count.

The model is a lookup: an image's pixels say which category it answers (channel 0) and
whether it is *fragile* (channel 1): a fragile image is answered right only while every
channel is constant, so the first perturbed point of any attack breaks it, while a
sturdy image's answer is the same everywhere within ``eps`` (its channel means sit
``1/32`` from the decision edges, ``eps = 2/255``), so no attack can break it. Every
section's numbers are therefore known before the card is made: accuracy = right /
images, shape bias = S / (S + T) of the decisions, the null from the shape-only
accuracy and 16 classes, robust accuracy = sturdy and right among the attacked images.

The model answers with 1000 ImageNet logits chosen so that only Geirhos et al.'s rule
(mean member probability) gives the intended category: the bird members' sum of
probabilities, and their mean logit, are both higher.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from shapebias import cli
from shapebias.cli import _evaluate
from shapebias.data import CATEGORIES_16
from shapebias.metrics import IMAGENET_16_CLASS_MAP

EPS = 2 / 255
_DISTRACTOR, _BROKEN = "bird", "oven"  # high mean logit / sum; the answer once perturbed

# (folder, file, category the model answers, fragile)
CLEAN = [
    ("bear", "0.png", "bear", False),  # right, survives
    ("bear", "1.png", "bear", True),  # right, broken
    ("car", "0.png", "car", True),  # right, broken
    ("cat", "0.png", "truck", False),  # wrong: never attacked
    ("cat", "1.png", "cat", False),  # right, survives
    ("truck", "0.png", "truck", False),  # right, not attacked (--attack-images 5)
]
OOD = {
    "silhouette": [
        ("bear", "0.png", "bear", False),
        ("cat", "0.png", "cat", False),
        ("cat", "1.png", "elephant", False),
        ("clock", "0.png", "clock", False),
    ],
    "sketch": [("truck", "0.png", "car", False), ("chair", "0.png", "chair", False)],
}
CUE = [  # folder = shape class; file = <shape><i>-<texture><j>
    ("cat", "cat1-elephant1.png", "cat", False),  # shape
    ("cat", "cat2-truck1.png", "truck", False),  # texture
    ("elephant", "elephant1-cat1.png", "elephant", False),  # shape
    ("elephant", "elephant2-bear1.png", "chair", False),  # neither
    ("truck", "truck1-truck2.png", "truck", False),  # equal cues: excluded
    ("bear", "bear1-keyboard1.png", "keyboard", False),  # texture
]


def _png(path: Path, answer: str, fragile: bool) -> None:
    code = CATEGORIES_16.index(answer)
    levels = [(code + 0.5) / 16, 0.75 if fragile else 0.25, 0.5]
    pixels = torch.tensor([round(255 * v) for v in levels], dtype=torch.uint8).expand(8, 8, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.numpy().copy()).save(path)


class Lookup(torch.nn.Module):
    """1000 ImageNet logits: the answer written in the image (see the module docstring)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        means = images.mean((2, 3))
        code = (means[:, 0] * 16).floor().long().clamp(0, 15)
        flat = images.flatten(2)
        constant = (flat.amax(2) == flat.amin(2)).all(1)
        fragile = means[:, 1] > 0.5
        broken = CATEGORIES_16.index(_BROKEN)
        answer = torch.where(fragile & ~constant, torch.full_like(code, broken), code)
        logits = torch.full((images.shape[0], 1000), -20.0, dtype=images.dtype)
        logits[:, list(IMAGENET_16_CLASS_MAP[_DISTRACTOR])] = 4.5
        first = torch.tensor([IMAGENET_16_CLASS_MAP[c][0] for c in CATEGORIES_16])
        logits[torch.arange(images.shape[0]), first[answer]] = 7.0
        # a small input gradient that never changes a decision, so attacks can run
        tilt = torch.linspace(0, 1e-3, 1000, dtype=images.dtype)
        return logits + tilt * means.sum(1, keepdim=True)


def _right(rows) -> int:
    return sum(folder == answer for folder, _, answer, _ in rows)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lookup")
    for folder, name, answer, fragile in CLEAN:
        _png(root / "clean" / folder / name, answer, fragile)
    for condition, rows in OOD.items():
        for folder, name, answer, fragile in rows:
            _png(root / "ood" / condition / folder / name, answer, fragile)
    for folder, name, answer, fragile in CUE:
        _png(root / "cue" / folder / name, answer, fragile)
    (root / "weights.pt").write_bytes(b"not read: load_pretrained is replaced")
    return root


def _card(tree: Path, out: Path, monkeypatch, *extra: str) -> tuple[dict, str]:
    monkeypatch.setattr(_evaluate, "load_pretrained", lambda *args, **kwargs: Lookup())
    arguments = [
        # a real architecture name passes the up-front --arch check; the network is the lookup
        "evaluate", "--arch", "resnet18", "--weights", str(tree / "weights.pt"),
        "--clean", str(tree / "clean"), "--ood", str(tree / "ood"),
        "--cue-conflict", str(tree / "cue"), "--shape-only", "silhouette", "--size", "8",
        "--eps", "2/255", "--attack-steps", "3", "--attack-queries", "10",
        "--attack-images", "5", "--batch-size", "4", "--workers", "0", "--bootstrap", "40",
        "--out", str(out), *extra,
    ]  # fmt: skip
    assert cli.main(arguments) == 0
    return json.loads((out / "card.json").read_text()), (out / "card.md").read_text()


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


@pytest.mark.parametrize("attack", ["autoattack", "pgd"])
def test_every_number_of_the_card_equals_an_independent_count(tree, tmp_path, monkeypatch, attack):
    card, markdown = _card(tree, tmp_path, monkeypatch, "--attack", attack)

    # accuracy: right / images per test set, in the order given (clean, then conditions)
    expected = {"clean": CLEAN, **OOD}
    assert list(card["accuracy"]) == list(expected)
    for name, rows in expected.items():
        row = card["accuracy"][name]
        assert row["images"] == len(rows)
        assert row["value"] == pytest.approx(_right(rows) / len(rows), abs=1e-12)
        assert row["low"] <= row["value"] <= row["high"]
        assert re.search(rf"\| {name} \| {len(rows)} \| {_pct(row['value'])} \[", markdown)

    # shape bias: S = 2, T = 2 over 5 conflicting images, 1 excluded
    bias = card["shape_bias"]
    assert (bias["shape_decisions"], bias["texture_decisions"]) == (2, 2)
    assert (bias["conflict_images"], bias["excluded"]) == (5, 1)
    assert bias["shape_bias"]["value"] == pytest.approx(2 / 4, abs=1e-12)
    assert bias["cue_match"]["value"] == pytest.approx(4 / 5, abs=1e-12)
    per_class = {name: e["value"] for name, e in bias["per_class"].items()}
    assert per_class == pytest.approx({"bear": 0.0, "cat": 0.5, "elephant": 1.0}, abs=1e-12)
    s = _right(OOD["silhouette"]) / len(OOD["silhouette"])
    assert bias["null"]["shape_only_accuracy"] == pytest.approx(s, abs=1e-12)
    assert bias["null"]["value"] == pytest.approx(s / (s + (1 - s) / 15), abs=1e-12)
    assert (
        f"shape bias: {_pct(0.5)} [" in markdown
        and f"null: {_pct(s / (s + (1 - s) / 15))} %" in markdown
    )
    assert "2 shape and 2 texture decisions over 5 cue-conflict images (1 with equal" in markdown

    # robust: the first 5 clean images; 4 right, the 2 fragile ones broken by any attack,
    # on the same 16-category model the accuracy section measured
    robust = card["robust"]
    attacked = CLEAN[:5]
    sturdy_right = sum(f == a and not fragile for f, _, a, fragile in attacked)
    assert (robust["total"], robust["clean_correct"], robust["robust_correct"]) == (
        5, _right(attacked), sturdy_right,
    )  # fmt: skip
    assert robust["clean"] == pytest.approx(4 / 5) and robust["robust"] == pytest.approx(2 / 5)
    assert robust["eps"] == pytest.approx(EPS, abs=1e-15) and robust["steps"] == 3
    if attack == "autoattack":
        assert robust["queries"] == 10 and robust["num_targets"] == 9
    else:
        assert robust["attack"] == "PGD" and robust["restarts"] == 1
    assert f"- clean {_pct(0.8)} %, robust {_pct(0.4)} % over 5 images" in markdown
    # issue 25: the diagnostics and manifest travel with the robust accuracy
    assert robust["diagnostics"]["verified"] == sturdy_right and robust["manifest"]["samples"] == 5
    assert f"verified robust count {sturdy_right} (" in markdown
