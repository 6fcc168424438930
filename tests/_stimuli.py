"""A tiny stimulus tree (cue conflict, OOD conditions, clean) and weights for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from PIL import Image

CUE = {"cat": ["cat1-dog1.png", "cat2-clock3.png"], "dog": ["dog1-cat2.png", "dog3-dog4.png"]}


def _png(path: Path, seed: int, size: int = 40) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = torch.randint(0, 256, (size, size, 3), generator=torch.Generator().manual_seed(seed))
    Image.fromarray(pixels.to(torch.uint8).numpy()).save(path)


def write_stimulus_tree(root: Path) -> dict[str, Path]:
    """Noise PNGs in the real layouts and a random mobilenet_v3_small state dict."""
    seed = 0
    for category, names in CUE.items():
        for name in names:
            _png(root / "cue" / category / name, seed := seed + 1)
    for condition in ("silhouette", "sketch"):
        for category in ("bear", "cat", "dog"):
            _png(root / "ood" / condition / category / "0001.png", seed := seed + 1)
    for category in ("cat", "dog", "truck"):
        for i in range(2):
            _png(root / "clean" / category / f"{i}.png", seed := seed + 1)
    torch.manual_seed(0)
    network = torchvision.models.mobilenet_v3_small().eval()
    torch.save({"state_dict": network.state_dict()}, root / "weights.pth")
    return {"root": root, "weights": root / "weights.pth"}


def card_arguments(stimuli: dict[str, Path], out: Path) -> list[str]:
    """``shapebias evaluate`` arguments for the tree: every section of the card, small."""
    root = stimuli["root"]
    return [
        "evaluate", "--arch", "mobilenet_v3_small", "--weights", str(stimuli["weights"]),
        "--cue-conflict", str(root / "cue"), "--ood", str(root / "ood"),
        "--clean", str(root / "clean"), "--shape-only", "silhouette", "--size", "32",
        "--eps", "2/255", "--attack-steps", "2", "--attack-queries", "20", "--attack-images", "4",
        "--batch-size", "3",
        "--workers", "0", "--bootstrap", "50", "--out", str(out),
    ]  # fmt: skip
