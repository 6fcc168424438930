"""Settings: four typed groups, two presets, one range check per setting."""

from __future__ import annotations

import dataclasses

import pytest

from shapebias.experiments import (
    ROSTER_ENTRIES,
    RULES,
    DataSettings,
    EvaluationSettings,
    Settings,
    StatisticsSettings,
    TrainingSettings,
    parse_setting,
    roster,
)

# One value outside its range for every setting; the test fails when a setting is added
# without one here, so every check is exercised.
BAD = {
    "dataset": "imagenet", "seeds": 0, "seed": -1, "num_classes": 1, "image_size": 0,
    "train_size": 0, "validation_size": 0, "test_size": 0, "width": 0, "batch_size": 0,
    "standard_epochs": 0, "finetune_epochs": 0, "train_pgd_steps": 0, "lr": 0.0,
    "finetune_lr": -1.0, "eps_linf": (0.0,), "eps_l2": 0.0, "eps_fgsm": 1.5,
    "roster": ("underfit",), "stack_size": 0, "stack_seeds": 1, "robust_eps": (2.0,),
    "robust_size": 0, "eval_batch_size": 0,
    "eval_attack": "fgsm", "eval_steps": 0, "eval_restarts": 0, "low_pass_sigma": 0.0,
    "saliency_images": 0, "saliency_samples": 0,
    "noise_level": 0.0, "frequency_images": 0, "heat_map_size": 0, "heat_map_eps": 0.0,
    "band_split": 0.0, "band_steps": 0, "fit_eps": 0.0, "min_robust_gain": 1.5,
    "floor": 0.5, "confidence": 1.0, "alpha": 0.0, "holm_family": "all",
    "num_bootstrap": 0,
}  # fmt: skip


def test_every_setting_is_in_one_group_and_has_one_check():
    names = [name for name, _ in Settings().items()]
    assert sorted(names) == sorted(RULES) == sorted(BAD)
    grouped = [
        f.name
        for group in (DataSettings, TrainingSettings, EvaluationSettings, StatisticsSettings)
        for f in dataclasses.fields(group)
    ]
    assert sorted([*grouped, "dataset", "seeds", "seed"]) == sorted(names)
    assert Settings().group_of("alpha") == "statistics" and Settings().group_of("seeds") is None


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_check_refuses_a_value_outside_its_range_naming_the_setting(name):
    with pytest.raises(ValueError, match=rf"Refused settings \(nothing was trained\): {name}"):
        Settings().replace(**{name: BAD[name]})
    if name != "robust_eps":  # robust_eps must also hold fit_eps; checked below
        Settings().replace(**{name: getattr(_default_group(name), name)})


def _default_group(name: str):
    settings = Settings()
    group = settings.group_of(name)
    return settings if group is None else getattr(settings, group)


def test_cross_checks_and_unknown_names():
    with pytest.raises(ValueError, match=r"fit_eps \(0.00784314\) must be one of robust_eps"):
        Settings().replace(robust_eps=(4 / 255,))
    with pytest.raises(TypeError, match="unknown setting\\(s\\) 'colour'"):
        Settings().replace(colour=1)


def test_presets_and_replace_touch_only_what_they_name():
    quick, default, full = Settings.quick(), Settings.default(), Settings.full()
    assert Settings.preset("quick") == quick and Settings.preset("default") == default
    assert Settings.preset("full") == full
    assert quick.seeds == 2 and quick.data.image_size == 16
    # The default is the power analysis's design within the 15-minute budget (6 seeds in
    # two stacks of 3, one per worker); full is the whole roster at 3 seeds.
    assert (default.seeds, default.data.test_size, default.training.roster) == (
        6, 8000, ("pgd_linf",)
    )  # fmt: skip
    assert default.training.stack_size == 3
    assert default.training.eps_linf == (4 / 255,) and default.statistics.holm_family == "claim"
    assert (full.seeds, full.data.test_size, full.training.eps_linf) == (
        3,
        1000,
        (2 / 255, 4 / 255),
    )
    assert quick.training.roster == full.training.roster == ROSTER_ENTRIES
    changed = quick.replace(alpha=0.01)
    assert changed.statistics.alpha == 0.01
    assert (changed.data, changed.training, changed.evaluation) == (
        quick.data, quick.training, quick.evaluation
    )  # fmt: skip
    assert quick.flat()["alpha"] == 0.05 and quick.seed_list() == [0, 1]
    with pytest.raises(ValueError, match="preset must be 'default', 'full' or 'quick'"):
        Settings.preset("fast")


def test_set_values_are_typed_like_their_default():
    assert parse_setting("eps_linf", "[1/255, 8/255]", (0.1,)) == (1 / 255, 8 / 255)
    assert parse_setting("lr", "1", 0.1) == 1.0
    assert parse_setting("stack_seeds", "false", True) is False
    with pytest.raises(ValueError, match="train_size must be a int"):
        parse_setting("train_size", "1.5", 4000)


def test_roster_names_parse_and_refuse_what_cannot_be_trained():
    default = Settings().training.roster
    assert parse_setting("roster", "pgd_linf, underfit", default) == ("pgd_linf", "underfit")
    assert parse_setting("roster", '["pgd_l2"]', default) == ("pgd_l2",)
    assert [s.name for s in roster(Settings().replace(roster=("pgd_l2", "underfit")))] == [
        "standard", "pgd_l2", "underfit"
    ]  # fmt: skip
    underfit = roster(Settings.full().replace(roster=("fgsm_rs", "underfit")))[-1]
    assert underfit.match_accuracy_of == ("fgsm_rs",)
    for bad, message in [
        (("pgd_linf", "pgd_linf"), "twice"),
        (("pgd_linf", "cutmix"), "unknown"),
        (("shape_only", "underfit"), "add one"),
    ]:
        with pytest.raises(ValueError, match=message):
            Settings().replace(roster=bad)
    with pytest.raises(ValueError, match="must be a list of names"):
        parse_setting("roster", "[1, 2]", default)
