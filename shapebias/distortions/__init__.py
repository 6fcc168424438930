"""Image distortions that separate shape from texture, as batched, seeded tensor ops.

Each distortion is a function on ``(N, C, H, W)`` batches in ``[0, 1]`` plus a
``torch.nn.Module`` twin that also takes a single image ``(C, H, W)`` (for
``torchvision.transforms.v2.Compose``). Random ones take a keyword-only ``generator``.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias.distortions._adain import AdaIN, adain_decoder, load_adain, vgg_encoder
    from shapebias.distortions._color import Contrast, Grayscale, contrast, grayscale
    from shapebias.distortions._cue_conflict import CueConflict, cue_conflict
    from shapebias.distortions._dataset import DistortedDataset, item_generator
    from shapebias.distortions._edges import Edges, edges
    from shapebias.distortions._filters import HighPass, LowPass, high_pass, low_pass
    from shapebias.distortions._noise import (
        PhaseScramble,
        UniformNoise,
        phase_scramble,
        uniform_noise,
    )
    from shapebias.distortions._patch_shuffle import PatchShuffle, patch_shuffle
    from shapebias.distortions._saturate import Saturate, saturate
    from shapebias.distortions._silhouette import Silhouette, silhouette
    from shapebias.distortions._styles import StyleSource
    from shapebias.distortions._stylize import METHODS, Stylize, stylize
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "METHODS",
    "AdaIN",
    "Contrast",
    "CueConflict",
    "DistortedDataset",
    "Edges",
    "Grayscale",
    "HighPass",
    "LowPass",
    "PatchShuffle",
    "PhaseScramble",
    "Saturate",
    "Silhouette",
    "StyleSource",
    "Stylize",
    "UniformNoise",
    "adain_decoder",
    "contrast",
    "cue_conflict",
    "edges",
    "grayscale",
    "high_pass",
    "item_generator",
    "load_adain",
    "low_pass",
    "patch_shuffle",
    "phase_scramble",
    "saturate",
    "silhouette",
    "stylize",
    "uniform_noise",
    "vgg_encoder",
]
