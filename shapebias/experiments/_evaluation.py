"""Evaluating one model: every number the paper reports, per test item, in a typed result."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shapebias.attacks import PGD, Diagnostics, auto_attack_suite, survival_curve
from shapebias.data import sample_images
from shapebias.distortions import LowPass, PatchShuffle, Saturate, Stylize
from shapebias.experiments._settings import EvaluationSettings, Settings
from shapebias.frequency import BandEpsIndex, FourierHeatMap, band_eps_index, fourier_heat_map
from shapebias.metrics import concentration, distortion_accuracy, edge_alignment, shape_bias
from shapebias.saliency import smoothgrad

__all__ = [
    "PARTS",
    "RESULT_FORMAT",
    "ModelResult",
    "evaluate_model",
    "paper_distortions",
    "smoothgrad_maps",
]

# What evaluate_model can measure; compare() asks only for what its claims need.
PARTS = ("distortions", "cue conflict", "robustness", "saliency", "frequency", "shape/texture only")

Split = tuple[torch.Tensor, ...]

# The version of what a ModelResult holds; part of an evaluation's cache key, so a cached
# evaluation written before a field existed (2: robust_diagnostics) is evaluated again.
RESULT_FORMAT = 2


@dataclasses.dataclass
class ModelResult:
    """Every number the protocol measures on one model, per test item and summarised.

    Attributes:
        accuracy: :meth:`~shapebias.metrics.DistortionAccuracy.to_dict` of the clean and
            distorted test sets (None when not measured).
        shape_bias: :meth:`~shapebias.metrics.ShapeBias.to_dict` on the cue-conflict
            images (None when not measured).
        clean: ``(N,)`` bool, right on each clean test image.
        distorted: per distorted test set, ``(N,)`` bool, right on each distorted image.
        shape, texture: per cue-conflict image whose classes differ, ``(M,)`` bool: the
            decision was the shape (texture) class.
        robust: per budget, ``(R,)`` bool: right under every attack up to that budget.
        robust_diagnostics: per budget, the :class:`~shapebias.attacks.Diagnostics` of the
            attack run there (on the images that survived the smaller budgets; a budget
            with no survivor has none); None where robust accuracy was not measured or
            the result was written before diagnostics were recorded.
        edge_alignment, concentration: ``(S,)`` per-image saliency metrics.
        low_first: ``(F,)`` float: fooled more cheaply through the low band (1), tie
            (0.5), the high band (0), NaN where not evaluated.
        shape_only, texture_only: ``(N,)`` bool, right on each one-cue image (or None).
        heat_map, band_index: the frequency measures (or None).
        timing: CPU seconds of each part (``cpu_seconds``) and the wall time.
    """

    accuracy: dict[str, Any] | None = None
    shape_bias: dict[str, Any] | None = None
    clean: torch.Tensor | None = None
    distorted: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    shape: torch.Tensor | None = None
    texture: torch.Tensor | None = None
    robust: dict[float, torch.Tensor] = dataclasses.field(default_factory=dict)
    robust_diagnostics: dict[float, Diagnostics] | None = None
    edge_alignment: torch.Tensor | None = None
    concentration: torch.Tensor | None = None
    low_first: torch.Tensor | None = None
    shape_only: torch.Tensor | None = None
    texture_only: torch.Tensor | None = None
    heat_map: FourierHeatMap | None = None
    band_index: BandEpsIndex | None = None
    timing: dict[str, Any] = dataclasses.field(default_factory=dict)

    def test_accuracy(self, test_set: str) -> float:
        """Accuracy on ``test_set`` (``"clean"`` or a distortion's name)."""
        if self.accuracy is None:
            raise KeyError(test_set)
        if test_set == "clean":
            return float(self.accuracy["clean"]["accuracy"]["value"])
        return float(self.accuracy["distortions"][test_set]["accuracy"]["value"])

    def save(self, path: Path) -> None:
        """Write the result (tensors and plain numbers only) to ``path``."""
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("heat_map", "band_index"):
            value = state[name]
            if value is not None:
                state[name] = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if self.robust_diagnostics is not None:
            state["robust_diagnostics"] = {
                eps: dataclasses.asdict(d) for eps, d in self.robust_diagnostics.items()
            }
        state["format"] = RESULT_FORMAT
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save(state, partial)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> ModelResult:
        """A result written by :meth:`save` (tensors and plain data only: no pickled code)."""
        state = torch.load(path, weights_only=True)
        state.pop("format", None)  # 1 (absent): no robust_diagnostics, read as None
        if state.get("heat_map") is not None:
            state["heat_map"] = FourierHeatMap(**state["heat_map"])
        if state.get("band_index") is not None:
            state["band_index"] = BandEpsIndex(**state["band_index"])
        if state.get("robust_diagnostics") is not None:
            state["robust_diagnostics"] = {
                eps: Diagnostics(**d) for eps, d in state["robust_diagnostics"].items()
            }
        return cls(**state)


def paper_distortions(
    image_size: int, channels: int = 3, *, low_pass_sigma: float = 1.0
) -> dict[str, Any]:
    """The paper's test sets for images of side ``image_size``.

    Stylized (Fourier style transfer from the sample photographs; colour images only),
    saturated p = 8 and p = 1024, patch-shuffled 2x2, 4x4 and 8x8 (each only where the
    grid divides the side) and low-passed (a Gaussian blur of ``low_pass_sigma`` pixels).
    """
    shuffles = [g for g in (2, 4, 8) if image_size % g == 0]
    distortions: dict[str, Any] = {}
    if channels == 3:
        styles = torch.stack(list(sample_images(image_size).values()))
        distortions["stylized"] = Stylize(styles, method="fourier")
    return {
        **distortions,
        "saturated p=8": Saturate(8),
        "saturated p=1024": Saturate(1024),
        **{f"shuffled {g}x{g}": PatchShuffle(g) for g in shuffles},
        "low-pass": LowPass(sigma=low_pass_sigma),
    }


def _attack(
    settings: EvaluationSettings, num_classes: int, seed: int, device: torch.device
) -> Callable[[float], Any]:
    """The one place that defines the evaluation attack at each budget.

    By default the AutoAttack-style ensemble without Square (APGD-CE, then APGD-T with
    the DLR loss over up to three target classes, each image attacked until the first
    attack breaks it); ``pgd`` is PGD with random restarts. The targeted DLR loss needs
    four classes; below that APGD-CE runs alone.
    """

    def attack(eps: float) -> Any:
        generator = torch.Generator(device).manual_seed(seed)
        if settings.eval_attack == "apgd":
            attacks = auto_attack_suite(
                eps,
                version="fast",
                steps=settings.eval_steps,
                num_targets=num_classes - 1,
                generator=generator,
            )
            return attacks if num_classes >= 4 else attacks[:1]
        return PGD(
            eps=eps,
            steps=settings.eval_steps,
            restarts=settings.eval_restarts,
            generator=generator,
        )

    return attack


def smoothgrad_maps(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: Settings
) -> torch.Tensor:
    """The protocol's SmoothGrad maps: gradient of the loss of the true class."""
    evaluation = settings.evaluation
    return smoothgrad(
        model,
        images,
        labels,
        output="loss",
        n_samples=evaluation.saliency_samples,
        noise_level=evaluation.noise_level,
        generator=torch.Generator(images.device).manual_seed(settings.seed),
    )


@contextlib.contextmanager
def _cpu_clock(parts: dict[str, float], name: str) -> Iterator[None]:
    """Add the CPU seconds (``time.process_time``) of the block to ``parts[name]``."""
    began = time.process_time()
    try:
        yield
    finally:
        parts[name] = parts.get(name, 0.0) + time.process_time() - began


def _low_first(band: BandEpsIndex) -> torch.Tensor:
    """Per image: 1 if the low band fooled on a smaller budget, 0.5 on a tie, 0 if the high
    band did, NaN where the image was not evaluated (wrong when clean, or never fooled)."""
    low, high = band.eps_low, band.eps_high
    share = (low < high).double() + 0.5 * (low == high).double()
    never = torch.isinf(low) & torch.isinf(high)
    return share.masked_fill(low.isnan() | high.isnan() | never, math.nan)


def _frequency(
    model: nn.Module, test: Split, settings: Settings
) -> tuple[FourierHeatMap, BandEpsIndex]:
    """The Fourier heat map and the low/high band eps index on the first test images.

    Settings fixed from cost and the standard model alone: ``heat_map_eps`` 2.0 at 32 px
    is the peak amplitude (0.088) of the gallery example's 1.0 at 16 px; the bands split
    at ``band_split`` cycles per image as in the frequency guide; L2 PGD with
    ``band_steps`` steps per bisection round on the library's default budget grid.
    """
    evaluation = settings.evaluation
    images, labels = (t[: evaluation.frequency_images] for t in test[:2])
    generator = torch.Generator(images.device).manual_seed(settings.seed)
    heat = fourier_heat_map(
        model,
        (images, labels),
        eps=evaluation.heat_map_eps,
        size=min(evaluation.heat_map_size, images.shape[-1]),
        batch_size=evaluation.eval_batch_size,
        generator=generator,
        progress=False,
    )
    band = band_eps_index(
        model,
        (images, labels),
        low_band=(0.0, evaluation.band_split),
        high_band=(evaluation.band_split, math.inf),
        steps=evaluation.band_steps,
        batch_size=evaluation.eval_batch_size,
        generator=generator,
        progress=False,
    )
    return heat, band


def evaluate_model(
    model: nn.Module,
    test: Split,
    settings: Settings,
    *,
    cue_conflict: Split | None = None,
    shape_only: Split | None = None,
    texture_only: Split | None = None,
    distortions: Mapping[str, Any] | None = None,
    num_classes: int | None = None,
    parts: tuple[str, ...] = PARTS,
) -> ModelResult:
    """Every number the paper reports for one model, per test item and summarised.

    The distortions, attacks and noise are seeded by ``settings.seed``, so every model
    sees the same distorted images and attack starts. One forward pass per model and
    distorted test set (:func:`~shapebias.metrics.distortion_accuracy`).

    Args:
        model: callable ``images -> logits``, in eval mode.
        test: ``(images, labels)`` in ``[0, 1]``.
        settings: the evaluation group and ``seed`` are used.
        cue_conflict: ``(images, shape_labels, texture_labels)`` for shape bias.
        shape_only, texture_only: ``(images, labels)`` of one cue alone.
        distortions: the distorted test sets (default :func:`paper_distortions`).
        num_classes: the number of classes (default: the model's output size).
        parts: the parts of :data:`PARTS` to measure.

    Returns:
        A :class:`ModelResult`; ``timing["cpu_seconds"]`` holds each part's CPU seconds.
    """
    seed, evaluation = settings.seed, settings.evaluation
    batch = evaluation.eval_batch_size
    images = test[0]
    if distortions is None:
        distortions = paper_distortions(
            images.shape[-1], images.shape[1], low_pass_sigma=evaluation.low_pass_sigma
        )
    result = ModelResult()
    clock: dict[str, float] = {}
    began = time.perf_counter()
    if "distortions" in parts:
        with _cpu_clock(clock, "distortions"):
            accuracy = distortion_accuracy(
                model, test, distortions, batch_size=batch, seed=seed, progress=False
            )
        result.accuracy = accuracy.to_dict()
        result.clean = accuracy.correct["clean"]
        result.distorted = {name: accuracy.correct[name] for name in distortions}
    if "cue conflict" in parts and cue_conflict is not None:
        with _cpu_clock(clock, "cue conflict"):
            bias = shape_bias(model, cue_conflict, batch_size=batch, seed=seed, progress=False)
        conflict = bias.shape_labels != bias.texture_labels
        result.shape_bias = bias.to_dict()
        result.shape = (bias.decisions == bias.shape_labels)[conflict]
        result.texture = (bias.decisions == bias.texture_labels)[conflict]
    if "robustness" in parts:
        robust_images, robust_labels = (t[: evaluation.robust_size] for t in test[:2])
        if num_classes is None:
            with torch.no_grad():
                num_classes = int(model(robust_images[:1]).shape[1])
        attack = _attack(evaluation, num_classes, seed, robust_images.device)
        with _cpu_clock(clock, "robustness"):
            curve = survival_curve(
                model, robust_images, robust_labels, evaluation.robust_eps, attack, batch_size=batch
            )
        result.robust = dict(curve)
        result.robust_diagnostics = dict(curve.diagnostics)
    if "saliency" in parts:
        saliency_images, saliency_labels = (t[: evaluation.saliency_images] for t in test[:2])
        with _cpu_clock(clock, "saliency"):
            saliency = smoothgrad_maps(model, saliency_images, saliency_labels, settings)
            result.edge_alignment = edge_alignment(saliency, saliency_images).cpu()
            result.concentration = concentration(saliency).cpu()
    if "frequency" in parts:
        with _cpu_clock(clock, "frequency"):
            result.heat_map, result.band_index = _frequency(model, test, settings)
        result.low_first = _low_first(result.band_index)
    if "shape/texture only" in parts:
        with _cpu_clock(clock, "shape/texture only"):
            for split, values in (("shape_only", shape_only), ("texture_only", texture_only)):
                if values is not None:
                    correct = distortion_accuracy(
                        model, values, {}, batch_size=batch, seed=seed, progress=False
                    )
                    setattr(result, split, correct.correct["clean"])
    result.timing = {"cpu_seconds": clock, "evaluate_seconds": time.perf_counter() - began}
    return result
