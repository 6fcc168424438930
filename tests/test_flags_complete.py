"""Every boolean parameter of every public callable refuses a string, found by introspection.

``bool("False")`` is ``True``: a flag that is not checked silently means the opposite
(``apgd(..., targeted="False")`` ran a targeted attack in the reliability sweep). The
public API is walked (every name in each subpackage's ``__all__``, the classes' own
public methods and constructors), every parameter with a ``bool`` default or annotation
is collected, and each must have a call below that refuses ``"False"`` with
``check_bool``'s message. A new flag without a row fails
``test_every_public_flag_has_a_row``; a row whose call does not reach ``check_bool``
fails ``test_a_string_flag_is_refused``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch

from shapebias import attacks, data, distortions, frequency, metrics, models, saliency, training
from tests._models import seeded_images, seeded_labels, tiny_cnn

SUBPACKAGES = ("attacks", "data", "distortions", "frequency", "metrics", "models", "saliency",
               "training")  # fmt: skip
# Fields of results and state objects: set by the library, not arguments a caller passes.
NOT_ARGUMENTS = {
    ("attacks.Diagnostics", "monotone"): "a result: robust accuracy fell with eps (issue 25)",
    ("attacks.Diagnostics", "stochastic"): "a result: two forward passes differed (issue 25)",
    ("metrics.Holm", "rejected"): "a result: which hypotheses Holm's procedure rejected",
    ("training.TrainingState", "stop"): "training state a callback sets to end the run",
}


def _public_flags() -> set[tuple[str, str]]:
    found = set()
    for package in SUBPACKAGES:
        module = importlib.import_module(f"shapebias.{package}")
        for name in module.__all__:
            obj = getattr(module, name)
            targets = [(f"{package}.{name}", obj)]
            if inspect.isclass(obj):
                for member in vars(obj):
                    if not member.startswith("_") and callable(getattr(obj, member)):
                        targets.append((f"{package}.{name}.{member}", getattr(obj, member)))
            for qualified, target in targets:
                if not callable(target):
                    continue
                try:
                    signature = inspect.signature(target)
                except (TypeError, ValueError):
                    continue
                for parameter in signature.parameters.values():
                    annotated = "bool" in str(parameter.annotation)
                    if isinstance(parameter.default, bool) or annotated:
                        found.add((qualified, parameter.name))
    return found


MODEL, IMAGES, LABELS = tiny_cnn(num_classes=4), seeded_images(4), seeded_labels(4, num_classes=4)
XY = (MODEL, IMAGES, LABELS)
EPS = 8 / 255


def _distortion_result() -> Any:
    return metrics.distortion_accuracy(MODEL, (IMAGES, LABELS), {}, num_bootstrap=0,
                                       progress=False)  # fmt: skip


def _shape_bias_result() -> Any:
    cue = (IMAGES, LABELS, (LABELS + 1) % 4)
    return metrics.shape_bias(MODEL, cue, num_bootstrap=0, progress=False)


def _heat_map() -> Any:
    correct = torch.tensor([[4, 1, 2], [3, 0, 3], [2, 1, 4]])
    return frequency.FourierHeatMap(eps=2.0, image_size=(4, 3), total=4, clean_correct=4,
                                    correct=correct, correct_on_both=correct,
                                    frequencies=torch.zeros(5, 2, dtype=torch.int64))  # fmt: skip


def _difference() -> Any:
    estimate = metrics.Estimate(0.1, 0.05, 0.15)
    return metrics.PairedDifference(estimate, (0.5,), (0.5,), 0, 0, 0.004, 0.95, 1000)


def _fit(**flag: Any) -> Any:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return training.fit(model, [(IMAGES, LABELS)], loss=training.StandardLoss(),
                        optimizer=optimizer, epochs=1, **{"progress": False, **flag})  # fmt: skip


# (qualified name, flag) -> a call taking the flag's value as keyword ``flag``
CALLS: dict[tuple[str, str], Callable[[Any], Any]] = {
    **{("attacks.pgd", f): (lambda v, f=f: attacks.pgd(*XY, eps=EPS, **{f: v}))
       for f in ("random_start", "targeted", "early_stop", "progress")},
    **{("attacks.PGD", f): (lambda v, f=f: attacks.PGD(eps=EPS, **{f: v})(*XY))
       for f in ("random_start", "targeted", "early_stop", "progress")},
    ("attacks.projected_ascent", "progress"): lambda v: attacks.projected_ascent(
        MODEL, IMAGES, IMAGES, lambda logits, step: logits[:, 0], eps=EPS, progress=v),
    ("attacks.fgsm", "targeted"): lambda v: attacks.fgsm(*XY, eps=EPS, targeted=v),
    ("attacks.FGSM", "targeted"): lambda v: attacks.FGSM(eps=EPS, targeted=v)(*XY),
    ("attacks.apgd", "targeted"): lambda v: attacks.apgd(*XY, eps=EPS, steps=1, targeted=v),
    ("attacks.APGD", "targeted"): lambda v: attacks.APGD(eps=EPS, steps=1, targeted=v)(*XY),
    ("attacks.fab", "targeted"): lambda v: attacks.fab(*XY, eps=EPS, steps=1, targeted=v),
    ("attacks.FAB", "targeted"): lambda v: attacks.FAB(eps=EPS, steps=1, targeted=v)(*XY),
    ("attacks.auto_attack", "progress"): lambda v: attacks.auto_attack(
        MODEL, (IMAGES, LABELS), eps=EPS, steps=1, progress=v),
    **{("attacks.robust_accuracy", f): (lambda v, f=f: attacks.robust_accuracy(
        MODEL, (IMAGES, LABELS), attacks.PGD(eps=EPS, steps=1), **{f: v}))
       for f in ("progress", "distributed")},
    ("data.cifar10", "train"): lambda v: data.cifar10("/nonexistent", train=v),
    ("data.caltech256", "include_clutter"): lambda v: data.caltech256(
        "/nonexistent", include_clutter=v),
    ("distortions.patch_shuffle", "crop"): lambda v: distortions.patch_shuffle(
        IMAGES, 2, crop=v),
    ("distortions.PatchShuffle", "crop"): lambda v: distortions.PatchShuffle(2, crop=v),
    ("distortions.Saturate", "inplace"): lambda v: distortions.Saturate(8, inplace=v),
    ("distortions.cue_conflict", "drop_same_class"): lambda v: distortions.cue_conflict(
        IMAGES, IMAGES, LABELS, LABELS, drop_same_class=v),
    **{("frequency.band_eps_index", f): (lambda v, f=f: frequency.band_eps_index(
        MODEL, (IMAGES, LABELS), low_band=(0, 2), high_band=(2, 4), steps=1, **{f: v}))
       for f in ("random_start", "progress")},
    ("frequency.fourier_heat_map", "progress"): lambda v: frequency.fourier_heat_map(
        MODEL, (IMAGES, LABELS), eps=1.0, progress=v),
    ("frequency.plot_fourier_heat_map", "colorbar"): lambda v: frequency.plot_fourier_heat_map(
        _heat_map(), colorbar=v),
    **{("metrics.DistortionAccuracy.to_markdown", f): (
        lambda v, f=f: _distortion_result().to_markdown(**{f: v}))
       for f in ("intervals", "relative")},
    **{("metrics.ShapeBias.to_markdown", f): (
        lambda v, f=f: _shape_bias_result().to_markdown(**{f: v}))
       for f in ("intervals", "per_class")},
    **{("metrics.accuracy_table", f): (
        lambda v, f=f: metrics.accuracy_table({"a": _distortion_result()}, **{f: v}))
       for f in ("intervals", "relative")},
    **{("metrics.shape_bias_table", f): (
        lambda v, f=f: metrics.shape_bias_table({"a": _shape_bias_result()}, **{f: v}))
       for f in ("intervals", "per_class")},
    **{(f"metrics.{name}", f): (lambda v, name=name, f=f: getattr(metrics, name)(
        MODEL, (IMAGES, LABELS) if name == "distortion_accuracy" else
        (IMAGES, LABELS, (LABELS + 1) % 4), *([{}] if name == "distortion_accuracy" else []),
        num_bootstrap=0, **{f: v}))
       for name in ("distortion_accuracy", "shape_bias") for f in ("progress", "distributed")},
    ("metrics.average_ranks", "descending"): lambda v: metrics.average_ranks([1.0], descending=v),
    ("metrics.format_estimate", "intervals"): lambda v: metrics.format_estimate(
        metrics.Estimate(0.5, 0.4, 0.6), intervals=v),
    ("metrics.verdict", "ceiling"): lambda v: metrics.verdict(
        _difference(), expected="higher", reference_accuracy=0.7, chance=0.25, floor=0.05,
        ceiling=v),
    ("models.load_pretrained", "strict"): lambda v: models.load_pretrained(
        "/nonexistent.pt", models.small_cnn, strict=v),
    ("models.resnet18", "small_input"): lambda v: models.resnet18(10, small_input=v),
    **{("saliency.grad_cam", f): (lambda v, f=f: saliency.grad_cam(*XY, layer="0", **{f: v}))
       for f in ("relu", "upsample")},
    **{("saliency.integrated_gradients", f): (
        lambda v, f=f: saliency.integrated_gradients(*XY, steps=1, **{f: v}))
       for f in ("return_delta", "progress")},
    **{("saliency.model_randomization_test", f): (
        lambda v, f=f: saliency.model_randomization_test(*XY, **{f: v}))
       for f in ("cascading", "absolute")},
    ("saliency.smoothgrad", "progress"): lambda v: saliency.smoothgrad(
        *XY, n_samples=1, progress=v),
    ("training.Recipe.fgsm", "random_start"): lambda v: training.Recipe.fgsm(
        EPS, random_start=v),
    **{("training.fit", f): (lambda v, f=f: _fit(**{f: v})) for f in ("resume", "progress")},
}  # fmt: skip


def test_every_public_flag_has_a_row():
    found = _public_flags()
    missing = sorted(found - CALLS.keys() - NOT_ARGUMENTS.keys())
    stale = sorted((CALLS.keys() | NOT_ARGUMENTS.keys()) - found)
    assert not missing, f"public flags without a check_bool row: {missing}"
    assert not stale, f"rows for flags that are no longer public: {stale}"


@pytest.mark.parametrize("bad", ["False", 0, 1.0, torch.tensor(True)], ids=repr)
@pytest.mark.parametrize("key", list(CALLS), ids=lambda key: f"{key[0]}-{key[1]}")
def test_a_string_flag_is_refused(key, bad):
    _, flag = key
    with pytest.raises(TypeError, match=rf"^{flag} must be True or False, got "):
        CALLS[key](bad)
