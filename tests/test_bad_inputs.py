# ruff: noqa: E501  (one table row per line: the tables read as tables)
"""Bad inputs across the attacks, models, saliency and metrics: one table per class of mistake.

Each row is ``(callable, args, kwargs, expected error, message fragment)``; the fragment
checks that the message names the parameter and, where there is one, the fix. A class
of mistake (a flag given as a string, a non-finite number, ...) gets one table and one
test, so a new public callable is covered by adding a row. The finiteness checks on the
model's output are also property-tested with hypothesis: NaN, +inf or -inf at any
position of the logits, or a NaN input gradient behind finite logits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from shapebias.attacks import FGSM, PGD, fgsm, pgd, project_l2, project_linf
from shapebias.metrics import (
    Estimate,
    accuracy_table,
    distortion_accuracy,
    error_consistency,
    format_estimate,
    shape_bias,
    shape_bias_table,
)
from shapebias.models import NormalizedModel
from shapebias.saliency import (
    grad_cam,
    gradient,
    guided_backprop,
    input_x_gradient,
    integrated_gradients,
    model_randomization_test,
    overlay,
    plot_saliency_grid,
    smoothgrad,
    to_heatmap,
)
from tests._models import seeded_images, seeded_labels
from tests.saliency._nets import relu_cnn

N = 2
MODEL = relu_cnn()
IMAGES = seeded_images(N)
LABELS = seeded_labels(N)
XY = (MODEL, IMAGES, LABELS)
DELTA = torch.full((N, 3, 8, 8), 0.01)
CUE_DATA = (IMAGES, torch.tensor([0, 1]), torch.tensor([1, 2]))
OUTCOMES = torch.tensor([True, False, True])
RESULT_A = distortion_accuracy(MODEL, (IMAGES, LABELS), {}, num_bootstrap=0, progress=False)
RESULT_B = shape_bias(MODEL, CUE_DATA, num_bootstrap=0, progress=False)


class Case(NamedTuple):
    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    error: type[Exception]
    match: str


def _pgd_call(**config: Any) -> Any:
    return PGD(**config)(*XY)


def _fgsm_call(**config: Any) -> Any:
    return FGSM(**config)(*XY)


def _normalized_call(images: torch.Tensor) -> Any:
    return NormalizedModel(MODEL, (0.5,) * 3, (0.25,) * 3)(images)


def _run(case: Case) -> None:
    with pytest.raises(case.error, match=case.match):
        case.function(*case.args, **case.kwargs)


def _ids(cases: list[Case]) -> list[str]:
    return [
        f"{getattr(c.function, '__name__', 'call')}-{'-'.join(map(str, c.kwargs))}" for c in cases
    ]


# --- flags: only True/False; "False" is truthy and 0/1 are not flags --------------------
# (callable, args, base kwargs, flag names)
FLAG_CALLS: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], tuple[str, ...]]] = [
    (pgd, XY, {"eps": 8 / 255}, ("random_start", "targeted", "early_stop", "progress")),
    (_pgd_call, (), {"eps": 8 / 255}, ("random_start", "targeted", "early_stop", "progress")),
    (fgsm, XY, {"eps": 8 / 255}, ("targeted",)),
    (_fgsm_call, (), {"eps": 8 / 255}, ("targeted",)),
    (smoothgrad, (MODEL, IMAGES, LABELS), {"n_samples": 1}, ("progress",)),
    (integrated_gradients, (MODEL, IMAGES, LABELS), {"steps": 1}, ("return_delta", "progress")),
    (grad_cam, (MODEL, IMAGES, LABELS), {"layer": "0"}, ("relu", "upsample")),
    (model_randomization_test, (MODEL, IMAGES, LABELS), {}, ("cascading", "absolute")),
    (distortion_accuracy, (MODEL, (IMAGES, LABELS), {}), {"num_bootstrap": 0}, ("progress",)),
    (shape_bias, (MODEL, CUE_DATA), {"num_bootstrap": 0}, ("progress",)),
    (accuracy_table, ({"a": RESULT_A},), {}, ("intervals", "relative")),
    (shape_bias_table, ({"a": RESULT_B},), {}, ("intervals", "per_class")),
    (format_estimate, (Estimate(0.5, 0.4, 0.6),), {}, ("intervals",)),
]
FLAG_CASES = [
    Case(function, args, {**base, flag: bad}, TypeError, f"{flag} must be True or False")
    for function, args, base, flags in FLAG_CALLS
    for flag in flags
    for bad in ("False", 1)
]


@pytest.mark.parametrize("case", FLAG_CASES, ids=_ids(FLAG_CASES))
def test_flags_accept_only_bool(case: Case) -> None:
    _run(case)


def test_flag_message_gives_the_fix_for_a_string() -> None:
    with pytest.raises(TypeError, match=r"got str 'False'\. Use targeted=False\."):
        pgd(*XY, eps=8 / 255, targeted="False")


# --- numbers: NaN and inf budgets, steps and noise levels --------------------------------
NAN, INF = math.nan, math.inf
NUMBER_CASES = [
    Case(pgd, XY, {"eps": INF, "norm": "l2"}, ValueError, "eps must be a finite number"),
    Case(pgd, XY, {"eps": NAN}, ValueError, "eps must be a finite number, got nan"),
    Case(pgd, XY, {"eps": 0.1, "step_size": INF, "norm": "l2"}, ValueError, "step_size must be a finite"),
    Case(pgd, XY, {"eps": 0.1, "step_size": NAN}, ValueError, "step_size must be a finite number"),
    Case(pgd, XY, {"eps": torch.tensor([0.1, INF]), "norm": "l2"}, ValueError, "eps must be finite for every sample"),
    Case(pgd, XY, {"eps": torch.tensor([0.1, NAN])}, ValueError, "eps must be finite for every sample, got nan"),
    Case(fgsm, XY, {"eps": INF}, ValueError, "eps must be a finite number"),
    Case(smoothgrad, (MODEL, IMAGES), {"noise_level": INF}, ValueError, "noise_level must be a finite number"),
    Case(smoothgrad, (MODEL, IMAGES), {"noise_level": NAN}, ValueError, "noise_level must be a finite number"),
    Case(project_l2, (DELTA, INF), {}, ValueError, "eps must be a finite number"),
    Case(project_linf, (DELTA, NAN), {}, ValueError, "eps must be a finite number"),
]  # fmt: skip


@pytest.mark.parametrize("case", NUMBER_CASES, ids=_ids(NUMBER_CASES))
def test_non_finite_numbers_are_refused(case: Case) -> None:
    _run(case)


# --- pixel units: an L-inf budget above 1 is an 8 meant as 8/255, float or tensor -------
EIGHT = torch.full((N,), 8.0)
UNIT_CASES = [
    Case(pgd, XY, {"eps": EIGHT}, ValueError, r"eps is in \[0, 1\] pixel units, its largest entry is 8\. Did you mean 8/255\?"),
    Case(pgd, XY, {"eps": 8}, ValueError, r"Did you mean 8/255\?"),
    Case(pgd, XY, {"eps": 0.1, "step_size": EIGHT}, ValueError, r"step_size is in \[0, 1\] pixel units"),
    Case(_pgd_call, (), {"eps": EIGHT}, ValueError, r"Did you mean 8/255\?"),
    Case(fgsm, XY, {"eps": EIGHT}, ValueError, r"Did you mean 8/255\?"),
    Case(_fgsm_call, (), {"eps": EIGHT}, ValueError, r"Did you mean 8/255\?"),
    Case(project_linf, (DELTA, EIGHT), {}, ValueError, r"Did you mean 8/255\?"),
]  # fmt: skip


@pytest.mark.parametrize("case", UNIT_CASES, ids=_ids(UNIT_CASES))
def test_linf_budgets_above_one_are_refused(case: Case) -> None:
    _run(case)


def test_l2_budgets_above_one_are_accepted() -> None:
    adversarial = pgd(*XY, eps=torch.full((N,), 2.0), norm="l2", steps=1)
    assert bool(((adversarial - IMAGES).flatten(1).norm(dim=1) <= 2.0 + 1e-5).all())
    assert torch.equal(project_l2(DELTA, torch.full((N,), 2.0)), DELTA)  # inside the ball


# --- projections: validated like every public function -----------------------------------
PROJECTION_CASES = [
    Case(project_linf, (DELTA[0], 0.1), {}, ValueError, r"delta must have shape \(N, C, H, W\).*unsqueeze\(0\)"),
    Case(project_l2, (DELTA[0], 0.1), {}, ValueError, r"delta must have shape \(N, C, H, W\)"),
    Case(project_linf, (DELTA[:0], 0.1), {}, ValueError, "delta must have shape"),
    Case(project_linf, (DELTA.long(), 0.1), {}, TypeError, "delta must be a floating tensor"),
    Case(project_l2, ([[0.1]], 0.1), {}, TypeError, "delta must be a floating tensor"),
    Case(project_l2, (DELTA.index_fill(0, torch.tensor([1]), NAN), 0.1), {}, ValueError, "delta contains NaN or inf"),
    Case(project_linf, (DELTA, -0.1), {}, ValueError, "eps must be >= 0"),
    Case(project_linf, (DELTA, torch.ones(3) / 10), {}, ValueError, r"eps must be a float or a floating tensor of shape \(2,\)"),
    Case(project_l2, (DELTA, torch.ones(N, 1, 1, 1)), {}, ValueError, r"shape \(2,\)"),
    Case(project_l2, (DELTA, "0.1"), {}, TypeError, "eps must be a real number"),
]  # fmt: skip


@pytest.mark.parametrize("case", PROJECTION_CASES, ids=_ids(PROJECTION_CASES))
def test_projections_validate_their_inputs(case: Case) -> None:
    _run(case)


def test_projections_apply_a_per_sample_budget_per_sample() -> None:
    delta = torch.full((N, 1, 2, 2), 0.5)
    eps = torch.tensor([0.1, 0.3])
    assert project_linf(delta, eps).amax((1, 2, 3)).tolist() == pytest.approx([0.1, 0.3])
    assert project_l2(delta, eps).flatten(1).norm(dim=1).tolist() == pytest.approx([0.1, 0.3])


# --- integer images: refused with the float() / 255 fix ----------------------------------
UINT8 = (IMAGES * 255).to(torch.uint8)
INTEGER_CASES = [
    Case(_normalized_call, (UINT8,), {}, TypeError, r"images must be a floating-point tensor.*images\.float\(\) / 255"),
    Case(_normalized_call, (UINT8.long(),), {}, TypeError, r"float\(\) / 255"),
    Case(pgd, (MODEL, UINT8, LABELS), {"eps": 0.1}, TypeError, r"float\(\) / 255"),
    Case(smoothgrad, (MODEL, UINT8), {}, TypeError, r"float\(\) / 255"),
]  # fmt: skip


@pytest.mark.parametrize("case", INTEGER_CASES, ids=_ids(INTEGER_CASES))
def test_integer_images_are_refused_with_the_fix(case: Case) -> None:
    _run(case)


# --- visualisation: NaN maps and unknown colormaps ---------------------------------------
NAN_MAP = torch.rand(N, 3, 8, 8).index_fill(0, torch.tensor([1]), NAN)
HEAT = torch.rand(N, 8, 8)
PICTURE_CASES = [
    Case(to_heatmap, (NAN_MAP,), {}, ValueError, r"saliency contains NaN or inf in map\(s\) \[1\]"),
    Case(to_heatmap, (torch.full((1, 1, 2, 2), INF),), {}, ValueError, r"saliency contains NaN or inf in map\(s\) \[0\]"),
    Case(overlay, (IMAGES, HEAT), {"cmap": "jett"}, ValueError, r"cmap must be the name of a matplotlib colormap.*Did you mean 'jet'"),
    Case(overlay, (IMAGES, HEAT), {"cmap": 3}, ValueError, "cmap must be the name of a matplotlib colormap"),
    Case(plot_saliency_grid, ({"a": MODEL}, IMAGES), {"cmap": "graay"}, ValueError, r"cmap must be .*'gray'"),
]  # fmt: skip


@pytest.mark.parametrize("case", PICTURE_CASES, ids=_ids(PICTURE_CASES))
def test_pictures_refuse_nan_maps_and_unknown_colormaps(case: Case) -> None:
    _run(case)


# --- sizes that cannot finish: refused with the reason -----------------------------------
SIZE_CASES = [
    Case(integrated_gradients, (MODEL, IMAGES, LABELS), {"steps": 1001, "method": "gauss_legendre"}, ValueError, r"steps must be <= 1000 with method='gauss_legendre'.*trapezoid"),
    Case(shape_bias, (MODEL, CUE_DATA), {"num_bootstrap": 10**9}, ValueError, r"num_bootstrap must be <= 1,000,000, got 1,000,000,000"),
    Case(distortion_accuracy, (MODEL, (IMAGES, LABELS), {}), {"num_bootstrap": 10**7}, ValueError, "num_bootstrap must be <="),
    Case(error_consistency, (OUTCOMES, OUTCOMES), {"num_bootstrap": 10**7}, ValueError, "num_bootstrap must be <="),
]  # fmt: skip


@pytest.mark.parametrize("case", SIZE_CASES, ids=_ids(SIZE_CASES))
def test_sizes_that_cannot_finish_are_refused(case: Case) -> None:
    _run(case)


# --- a model whose output is not finite -------------------------------------------------
class _Poisoned(nn.Module):
    """``relu_cnn`` with ``value`` written into its logits at ``(row, column)``."""

    def __init__(self, value: float, row: int, column: int) -> None:
        super().__init__()
        self.net = relu_cnn()
        self.value, self.row, self.column = value, row, column

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x).clone()
        logits[self.row % x.shape[0], self.column] = self.value
        return logits


class _NaNBackward(torch.autograd.Function):
    """Identity forward, NaN gradient: finite logits whose input gradient is NaN."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad * math.nan


class _NaNGradient(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = relu_cnn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(_NaNBackward.apply(x))


# Every attack, saliency method and metric that runs a model, as (name, call(model)).
MODEL_CALLS: list[tuple[str, Callable[[nn.Module], Any]]] = [
    ("pgd", lambda m: pgd(m, IMAGES, LABELS, eps=8 / 255, steps=2)),
    ("pgd-no-start", lambda m: pgd(m, IMAGES, LABELS, eps=8 / 255, steps=2, random_start=False)),
    ("pgd-early-stop", lambda m: pgd(m, IMAGES, LABELS, eps=0.1, steps=2, early_stop=True)),
    ("pgd-restarts", lambda m: pgd(m, IMAGES, LABELS, eps=0.5, norm="l2", steps=1, restarts=2)),
    ("fgsm", lambda m: fgsm(m, IMAGES, LABELS, eps=8 / 255)),
    ("gradient", lambda m: gradient(m, IMAGES, LABELS)),
    ("input_x_gradient", lambda m: input_x_gradient(m, IMAGES)),
    ("smoothgrad", lambda m: smoothgrad(m, IMAGES, n_samples=3, batch_size=2)),
    ("integrated_gradients", lambda m: integrated_gradients(m, IMAGES, LABELS, steps=3)),
    ("guided_backprop", lambda m: guided_backprop(m, IMAGES, LABELS)),
    ("model_randomization_test", lambda m: model_randomization_test(m, IMAGES, layers=["net.0"])),
]
# Grad-CAM differentiates with respect to a layer, not the input: finite logits only.
LAYER_CALLS: list[tuple[str, Callable[[nn.Module], Any]]] = [
    ("grad_cam", lambda m: grad_cam(m, IMAGES, LABELS, layer="net.0")),
]
METRIC_CALLS: list[tuple[str, Callable[[nn.Module], Any]]] = [
    ("distortion_accuracy", lambda m: distortion_accuracy(m, (IMAGES, LABELS), {}, progress=False)),
    ("shape_bias", lambda m: shape_bias(m, CUE_DATA, progress=False)),
]


@given(
    call=st.sampled_from(MODEL_CALLS + LAYER_CALLS + METRIC_CALLS),
    value=st.sampled_from([math.nan, math.inf, -math.inf]),
    row=st.integers(0, N - 1),
    column=st.integers(0, 2),
)
def test_non_finite_logits_are_refused_everywhere(
    call: tuple[str, Callable[[nn.Module], Any]], value: float, row: int, column: int
) -> None:
    model = _Poisoned(value, row, column).eval()
    images_before = IMAGES.clone()
    with pytest.raises(
        ValueError,
        match=r"model must return finite logits, but returned logits containing NaN or inf \(range \[(nan|-?inf|[-0-9.e]+), (nan|-?inf|[-0-9.e]+)\]\)",
    ):
        call[1](model)
    assert torch.equal(IMAGES, images_before) and not IMAGES.requires_grad
    assert all(p.grad is None for p in model.parameters()) and not model.training


@pytest.mark.parametrize("call", MODEL_CALLS, ids=[name for name, _ in MODEL_CALLS])
def test_non_finite_input_gradients_are_refused(
    call: tuple[str, Callable[[nn.Module], Any]],
) -> None:
    model = _NaNGradient().eval()
    with pytest.raises(ValueError, match="input gradient is NaN or inf"):
        call[1](model)


def test_finite_models_pass_every_call() -> None:
    # The checks above must not fire on a healthy model (a check that always raises
    # would pass them).
    model = _Poisoned(0.0, 0, 0).eval()
    for _, call in MODEL_CALLS + LAYER_CALLS + METRIC_CALLS:
        call(model)
