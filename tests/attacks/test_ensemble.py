import dataclasses
import re
import warnings

import pytest
import torch
from torch import nn

from shapebias.attacks import (
    APGD,
    FAB,
    GradientMaskingWarning,
    Square,
    apgd,
    attack_name,
    auto_attack,
    auto_attack_suite,
    fab,
    robust_accuracy,
    robustness_curve,
    square,
)
from shapebias.attacks._masking import warn_if_not_monotone
from tests.attacks._nets import mlp_task


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _task(seed=0):
    return mlp_task(seed=seed)


_SETTINGS = {"eps": 0.04, "steps": 3, "num_targets": 3, "queries": 80}
FAB_T = 2  # its index in the standard suite


def test_suite_contents():
    standard = auto_attack_suite(8 / 255)
    assert [attack_name(a) for a in standard] == ["APGD-CE", "APGD-T", "FAB-T", "Square"]
    assert standard[0].steps == standard[1].steps == standard[2].steps == 100
    assert standard[1].num_targets == standard[2].num_targets == 9
    assert standard[1].loss == "dlr" and standard[3].queries == 5000
    assert standard[2].targeted and standard[2].restarts == 1
    fast = auto_attack_suite(8 / 255, version="fast", num_targets=9)
    assert [attack_name(a) for a in fast] == ["APGD-CE", "APGD-T"] and fast[1].num_targets == 3


def test_early_exit_is_exact_and_below_every_component():
    model, images, labels = _task()
    result = auto_attack(model, (images, labels), **_SETTINGS, generator=_gen(1), progress=False)
    # Attack everything with every attack (same generator sequence), combine by "any broke it".
    gen = _gen(1)
    common = {"eps": 0.04, "steps": 3, "generator": gen}
    runs = [
        apgd(model, images, labels, loss="ce", **common),
        apgd(model, images, labels, loss="dlr", targeted=True, num_targets=3, **common),
        fab(model, images, labels, eps=0.04, steps=3, num_targets=3, generator=gen),
        square(model, images, labels, eps=0.04, queries=80, generator=gen),
    ]
    with torch.no_grad():
        correct = model(images).argmax(1) == labels
        broke = torch.stack([model(adv).argmax(1) != labels for adv in runs]) & correct
    survived = correct & ~broke.any(0)
    assert result.clean_correct == int(correct.sum()) == 36
    assert result.robust_correct == int(survived.sum())
    first = torch.where(broke.any(0), broke.int().argmax(0), torch.tensor(-1))
    assert torch.equal(result.broken_by, first) and torch.equal(result.correct, correct)
    for index, attack in enumerate(auto_attack_suite(**_SETTINGS, generator=_gen(1))):
        alone = robust_accuracy(model, (images, labels), attack, progress=False)
        assert result.robust <= alone.robust
        assert result.robust_after[index] <= alone.robust
    assert 0 < result.robust < result.robust_after[0] < result.clean  # the later attacks add


def test_broken_by_names_fab_t_where_it_broke_a_sample():
    """One-step APGDs leave samples that a 10-step FAB-T breaks: they are counted to it,
    and each is one FAB-T alone breaks at the same budget."""
    model, images, labels = _task()
    suite = list(auto_attack_suite(0.04, num_targets=3, steps=1, generator=_gen(1)))
    suite[FAB_T] = dataclasses.replace(suite[FAB_T], steps=10)
    result = robust_accuracy(model, (images, labels), suite[:3], progress=False)
    assert result.attacks[FAB_T] == "FAB-T"
    by_fab = result.broken_by == FAB_T
    assert int(by_fab.sum()) > 0 and result.robust_after[FAB_T] < result.robust_after[1]
    alone = fab(model, images, labels, eps=0.04, steps=10, num_targets=3)
    assert bool((model(alone).argmax(1)[by_fab] != labels[by_fab]).all())


def test_robust_after_is_cumulative_and_matches_broken_by():
    model, images, labels = _task(seed=1)
    result = auto_attack(model, (images, labels), **_SETTINGS, generator=_gen(2), progress=False)
    assert result.attacks == ("APGD-CE", "APGD-T", "FAB-T", "Square")
    assert list(result.robust_after) == sorted(result.robust_after, reverse=True)
    assert result.robust == result.robust_after[-1]
    standing = result.clean_correct
    for index, after in enumerate(result.robust_after):
        standing -= int((result.broken_by == index).sum())
        assert after == standing / result.total
    assert bool((result.broken_by[~result.correct] == -1).all())


def test_batches_and_loaders_give_a_consistent_total():
    model, images, labels = _task()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), 16)
    result = auto_attack(model, loader, version="fast", eps=0.04, steps=5, progress=False)
    assert result.total == 40 and result.broken_by.shape == (40,)
    assert result.robust <= result.robust_after[0] <= result.clean == 36 / 40


class _Quantised(nn.Module):
    """Rounds its input to a 4-level grid: zero gradients everywhere (masked), same decisions."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(torch.round(x * 3) / 3)


def test_square_beating_gradient_attacks_warns_of_masking():
    model, images, labels = _task()
    masked = _Quantised(model)
    with torch.no_grad():
        labels = masked(images).argmax(1)
    with pytest.warns(GradientMaskingWarning) as caught:
        result = auto_attack(
            masked, (images, labels), eps=0.3, steps=5, num_targets=3, queries=100,
            generator=_gen(), progress=False,
        )  # fmt: skip
    messages = [str(w.message) for w in caught]
    assert any(re.search(r"Square \(black-box\) broke \d+ sample", m) for m in messages)
    assert any("zero or non-finite input gradient" in m for m in messages)  # issue 25
    assert result.diagnostics.black_box_breaks == int((result.broken_by == 3).sum())
    assert (
        int((result.broken_by == 3).sum()) > 0 and result.robust_after[3] < result.robust_after[2]
    )


def test_no_masking_warning_without_black_box_success():
    model, images, labels = _task()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto_attack(model, (images, labels), eps=0.0, steps=2, num_targets=3, queries=5,
                    progress=False)  # fmt: skip


def test_non_monotone_robust_accuracy_warns():
    with pytest.warns(GradientMaskingWarning, match="rises from 0.3 at eps=0.1 to 0.5"):
        warn_if_not_monotone({0.2: 0.5, 0.1: 0.3, 0.0: 0.9})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_not_monotone({0.0: 0.9, 0.1: 0.5, 0.2: 0.5})


def test_robustness_curve_is_monotone_on_a_linear_model():
    model, images, labels = _task()
    curve = robustness_curve(model, (images, labels), [0.0, 0.02, 0.08], version="fast",
                             steps=10, num_targets=3, progress=False)  # fmt: skip
    robust = [curve[eps].robust for eps in (0.0, 0.02, 0.08)]
    assert (
        robust[0] == 36 / 40 and robust == sorted(robust, reverse=True) and robust[-1] < robust[0]
    )


def test_attack_names():
    assert attack_name(APGD(eps=0.1)) == "APGD-CE"
    assert attack_name(APGD(eps=0.1, loss="dlr")) == "APGD-DLR"
    assert attack_name(Square(eps=0.1)) == "Square"
    assert attack_name(FAB(eps=0.1)) == "FAB-T"
    assert attack_name(FAB(eps=0.1, targeted=False)) == "FAB"
    assert attack_name(lambda m, x, y: x) == "<lambda>"


def test_fast_is_unchanged_bit_for_bit_by_fab_t():
    """A regression pin: ``"fast"`` (what the reproduction runs) gives exactly what it gave
    before FAB-T joined ``"standard"`` (values from commit 6849ab5), and leaves the
    generator where the two APGDs alone leave it."""
    model, images, labels = _task()
    gen = _gen(0)
    result = auto_attack(model, (images, labels), version="fast", eps=0.04, steps=5,
                         num_targets=3, generator=gen, progress=False)  # fmt: skip
    assert result.attacks == ("APGD-CE", "APGD-T") and result.robust_after == (0.5, 0.45)
    broken = [-1, -1, -1, -1, 0, -1, 1, 0, -1, -1, 0, -1, -1, -1, 0, 0, -1, -1, -1, 0, -1, 0,
              0, 0, 0, -1, 0, 0, -1, 0, -1, -1, 0, -1, -1, -1, -1, 0, 0, 1]  # fmt: skip
    assert result.broken_by.tolist() == broken
    alone = _gen(0)
    robust_accuracy(model, (images, labels), [
        APGD(eps=0.04, steps=5, generator=alone),
        APGD(eps=0.04, steps=5, loss="dlr", targeted=True, num_targets=3, generator=alone),
    ], progress=False)  # fmt: skip
    assert torch.equal(gen.get_state(), alone.get_state())
