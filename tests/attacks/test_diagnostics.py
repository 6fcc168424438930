"""RobustAccuracy.diagnostics and .manifest (issue 25): masked gradients, stochastic models
and eot, the verified count, monotonicity, the reproducibility manifest."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shapebias.attacks import (
    PGD,
    GradientMaskingWarning,
    RobustAccuracy,
    auto_attack,
    robust_accuracy,
    robustness_curve,
)
from shapebias.attacks._manifest import generator_record
from tests._models import seeded_images
from tests.attacks._nets import mlp_task

_FAST = {"version": "fast", "steps": 3, "num_targets": 3, "progress": False}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _null_attack(model, images, labels):
    """A callable attack that returns the images unchanged."""
    return images.clone()


class _Rounded(nn.Module):
    """Input quantised to 4 levels inside forward: connected to the graph, zero gradient."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.round(x * 3) / 3)


class _Detached(_Rounded):
    def forward(self, x):
        return self.net((x * 3).round().detach() / 3)


class _DropoutOn(nn.Module):
    """Dropout applied with training=True whatever the mode: stochastic in eval mode."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(F.dropout(x, 0.5, training=True))


class _Alternating(nn.Module):
    """A randomised defence with a known draw sequence: heads A and B in turn, per call."""

    def __init__(self, first, second):
        super().__init__()
        self.heads = nn.ModuleList([first, second])
        self.calls = 0

    def forward(self, x):
        head = self.heads[self.calls % 2]
        self.calls += 1
        return head(x)


class _ShapeShifter(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = self.net(x)
        return out if self.calls % 2 else out[:, :-1]


def _trained_task():
    """A 36-16-4 ReLU net (float32) trained to tell four brightness levels of 6x6 images."""
    torch.manual_seed(0)
    images = seeded_images(64, channels=1, size=6, seed=3)
    labels = torch.arange(64) % 4
    images = (images * 0.1 + 0.3 * labels.view(-1, 1, 1, 1)).clamp(0, 1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.ReLU(), nn.Linear(16, 4))
    optimiser = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        optimiser.zero_grad()
        F.cross_entropy(net(images), labels).backward()
        optimiser.step()
    return net.eval(), images, labels


def test_masked_model_flagged_even_by_fast_version():
    model, images, labels = mlp_task()
    masked = _Rounded(model)
    with torch.no_grad():
        labels = masked(images).argmax(1)
    with pytest.warns(GradientMaskingWarning, match="zero or non-finite input gradient"):
        result = auto_attack(masked, (images, labels), eps=0.1, generator=_gen(), **_FAST)
    d = result.diagnostics
    assert d.zero_gradient_count == result.clean_correct == images.shape[0]
    assert d.zero_gradient == 1.0 and d.suspect
    assert result.to_dict()["diagnostics"]["suspect"] is True


def test_partly_masked_model_counts_only_the_masked_samples():
    # a sample-wise mask: half of the batch goes through the rounding
    model, images, labels = mlp_task()

    def half_masked(x):
        rounded = torch.round(x * 3) / 3
        keep = (torch.arange(x.shape[0]) % 2 == 0).view(-1, 1, 1, 1)
        return model(torch.where(keep, x, rounded))

    with torch.no_grad():
        labels = half_masked(images).argmax(1)
    with pytest.warns(GradientMaskingWarning, match=r"20 of 40 correctly classified"):
        result = robust_accuracy(half_masked, (images, labels), _null_attack, progress=False)
    assert result.diagnostics.zero_gradient_count == 20


def test_detached_model_gets_a_clear_error_not_a_deep_autograd_one():
    model, images, labels = mlp_task()
    with pytest.raises(ValueError, match="does not depend on its input through autograd"):
        auto_attack(_Detached(model), (images, labels), eps=0.1, generator=_gen(), **_FAST)


def test_dropout_left_on_is_detected_as_stochastic_and_refused_without_eot():
    model, images, labels = mlp_task()
    with pytest.raises(ValueError, match=r"model is stochastic.*eot=k"):
        auto_attack(_DropoutOn(model), (images, labels), eps=0.05, generator=_gen(), **_FAST)
    torch.manual_seed(0)
    result = auto_attack(
        _DropoutOn(model), (images, labels), eps=0.05, generator=_gen(), eot=3, **_FAST
    )
    assert result.diagnostics.stochastic and result.diagnostics.eot == 3


def test_eot_equals_literal_per_sample_reference_and_no_draw_beats_it():
    first = mlp_task(seed=0)[0]
    second = mlp_task(seed=1)[0]
    images = seeded_images(40, channels=1, size=6, seed=7).double()
    with torch.no_grad():
        labels = torch.where(
            torch.arange(40) % 2 == 0, first(images).argmax(1), second(images).argmax(1)
        )
        right_a = first(images).argmax(1) == labels
        right_b = second(images).argmax(1) == labels
    model = _Alternating(first, second)
    result = robust_accuracy(model, (images, labels), _null_attack, progress=False, eot=2)
    # literal: with the images unchanged, robust iff right under every draw (A and B)
    assert result.robust_correct == int((right_a & right_b).sum())
    assert torch.equal(result.correct, right_a & right_b)
    assert 0 < result.robust_correct < min(int(right_a.sum()), int(right_b.sum()))
    assert result.diagnostics.stochastic


def test_eot_on_deterministic_model_is_allowed_and_changes_nothing():
    model, images, labels = mlp_task()
    attack = PGD(eps=0.05, steps=3, generator=_gen(2))
    plain = robust_accuracy(model, (images, labels), attack, progress=False)
    attack = PGD(eps=0.05, steps=3, generator=_gen(2))
    twice = robust_accuracy(model, (images, labels), attack, progress=False, eot=2)
    assert twice.robust_correct == plain.robust_correct and not twice.diagnostics.stochastic
    assert twice.diagnostics.eot == 2 and plain.diagnostics.eot == 1


@pytest.mark.parametrize("eot", [0, -1, 1.5, True, "3"])
def test_eot_must_be_a_positive_int(eot):
    model, images, labels = mlp_task()
    with pytest.raises((TypeError, ValueError), match="eot"):
        robust_accuracy(model, (images, labels), _null_attack, progress=False, eot=eot)


def test_output_shape_changing_between_passes_is_refused():
    model, images, labels = mlp_task()
    with pytest.raises(ValueError, match=r"model must return logits of one shape"):
        robust_accuracy(_ShapeShifter(model), (images, labels), _null_attack, progress=False)


def test_broken_bookkeeping_is_caught_by_the_verified_count(monkeypatch):
    model, images, labels = mlp_task()

    def lying_apgd(model, images, labels, active, **kwargs):  # claims all, changes nothing
        return active.clone(), images.clone()

    # patch the module auto_attack really calls (a doctest run may import a second copy)
    monkeypatch.setitem(auto_attack.__globals__["robust_accuracy"].__globals__, "apgd_fooled",
                        lying_apgd)  # fmt: skip
    with pytest.warns(GradientMaskingWarning, match=r"72 sample\(s\) were counted differently"):
        result = auto_attack(model, (images, labels), eps=0.05, generator=_gen(), **_FAST)
    assert result.robust_correct == result.clean_correct == 36
    # both attacks (APGD-CE, APGD-T) claim all 36 correct samples: 72 disagreements
    assert result.diagnostics.disagreements == 72 and result.diagnostics.verified == 36
    assert result.robust_after == (result.clean, result.clean)


def test_run_under_autocast_is_verified_outside_it_in_float32():
    net, images, labels = _trained_task()
    seen: list[torch.dtype] = []

    def recording(x):
        out = net(x)
        seen.append(out.dtype)
        return out

    robust_accuracy(
        recording, (images, labels), _null_attack, progress=False, autocast=torch.bfloat16
    )
    # passes: clean (under autocast), 2 stochastic check, gradient check, the attack's own,
    # then the verification, which must run outside the autocast
    assert seen[0] == torch.bfloat16
    assert seen[-1] == torch.float32 and seen.count(torch.bfloat16) == 1


def test_trained_model_gets_clean_diagnostics_no_false_alarm():
    model, images, labels = _trained_task()
    result = auto_attack(
        model,
        (images, labels),
        eps=0.05,
        steps=5,
        num_targets=1,
        queries=50,
        generator=_gen(),
        progress=False,
    )  # fmt: skip  (warnings are errors: any false alarm fails here)
    d = result.diagnostics
    assert result.clean > 0.9
    assert (d.zero_gradient_count, d.black_box_breaks, d.disagreements) == (0, 0, 0)
    assert not d.stochastic and not d.suspect and d.verified == result.robust_correct


def test_monotone_recorded_for_a_curve(monkeypatch):
    model, images, labels = mlp_task()
    curve = robustness_curve(model, (images, labels), [0.01, 0.05], generator=_gen(), **_FAST)
    assert all(result.diagnostics.monotone is True for result in curve.values())
    single = robustness_curve(model, (images, labels), [0.01], generator=_gen(), **_FAST)
    assert single[0.01].diagnostics.monotone is None
    rising = iter([0.2, 0.5])  # a double: robust accuracy that rises with eps

    def fake(model, data, *, eps, **kwargs):
        return RobustAccuracy(clean=0.9, robust=next(rising), total=10, clean_correct=9,
                              robust_correct=0)  # fmt: skip

    monkeypatch.setitem(robustness_curve.__globals__, "auto_attack", fake)
    with pytest.warns(GradientMaskingWarning, match="rises"):
        curve = robustness_curve(model, (images, labels), [0.01, 0.05])
    assert all(result.diagnostics.monotone is False for result in curve.values())


def test_manifest_round_trips_through_json_and_reproduces_the_numbers():
    model, images, labels = mlp_task()
    first = auto_attack(model, (images, labels), eps=0.05, generator=_gen(11), **_FAST)
    record = json.loads(json.dumps(first.to_dict()))
    manifest = record["manifest"]
    apgd_ce = manifest["attacks"][0]
    assert apgd_ce["steps"] == 3 and apgd_ce["loss"] == "ce" and apgd_ce["eps"] == 0.05
    assert manifest["samples"] == 40 and manifest["dtype"] == "torch.float64"
    assert manifest["environment"]["torch"] == torch.__version__
    again = auto_attack(
        model, (images, labels), eps=apgd_ce["eps"], version="fast", steps=apgd_ce["steps"],
        num_targets=manifest["attacks"][1]["num_targets"],
        generator=_gen(apgd_ce["generator"]["seed"]), progress=False,
    )  # fmt: skip
    second = json.loads(json.dumps(again.to_dict()))
    assert second == record
    assert torch.equal(again.broken_by, first.broken_by)


def test_manifest_hashes_see_a_changed_weight_and_changed_data():
    model, images, labels = mlp_task()
    base = robust_accuracy(model, (images, labels), _null_attack, progress=False).manifest
    with torch.no_grad():
        model[3].bias[0] += 1e-9
    moved = robust_accuracy(model, (images, labels), _null_attack, progress=False).manifest
    assert moved["model_sha256"] != base["model_sha256"]
    assert moved["data_sha256"] == base["data_sha256"]
    other = images.clone()
    other[5, 0, 0, 0] = 1 - other[5, 0, 0, 0]
    changed = robust_accuracy(model, (other, labels), _null_attack, progress=False).manifest
    assert changed["data_sha256"] != base["data_sha256"]


def test_generator_state_hash_is_taken_before_the_run():
    generator = _gen(4)
    model, images, labels = mlp_task()
    result = robust_accuracy(
        model, (images, labels), PGD(eps=0.05, steps=2, generator=generator), progress=False
    )
    recorded = result.manifest["attacks"][0]["generator"]
    assert recorded == generator_record(_gen(4)) and recorded["seed"] == 4
    assert generator_record(generator) != recorded  # the run consumed the generator


def test_tuple_output_gets_the_logits_error_before_any_diagnostic():
    model, images, labels = mlp_task()
    with pytest.raises(TypeError, match=r"model must return a logits tensor.*got tuple"):
        robust_accuracy(lambda x: (model(x),), (images, labels), _null_attack, progress=False)
