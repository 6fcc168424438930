"""The protocol's parts: data splits, stacked training, the controls table, the roster."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from shapebias.experiments import (
    RunFolder,
    Settings,
    Trainer,
    dataset_axes,
    evaluate_model,
    load_data,
    roster,
)
from shapebias.experiments._tables import controls_table
from shapebias.metrics import texture_blind_null

TINY = {"train_size": 80, "validation_size": 20, "test_size": 20, "width": 4, "batch_size": 32}


def test_validation_split_is_disjoint_from_every_test_split():
    settings = Settings.quick().replace(train_size=40, validation_size=30, test_size=30)
    data = load_data(settings)
    validation = data.validation[0].flatten(1)
    for split in ("test", "shape_only", "texture_only", "cue_conflict", "train"):
        images = data.split(split)[0].flatten(1)
        same = (validation[:, None, :] == images[None, :, :]).all(-1)
        assert not bool(same.any()), split
    shape_validation = data.split("validation_shape_only")[0].flatten(1)
    for split in ("shape_only", "train_shape_only"):
        same = (shape_validation[:, None, :] == data.split(split)[0].flatten(1)[None]).all(-1)
        assert not bool(same.any()), split
    assert len(data.validation[0]) == 30 and len(data.train[0]) == 40


def test_roster_is_written_once_and_keys_follow_what_shapes_each_model():
    settings = Settings.quick()
    specs = {spec.name: spec for spec in roster(settings)}
    assert [s.role for s in specs.values()].count("adversarial") == len(
        settings.training.eps_linf
    ) + 2
    assert specs["pgd_l2"].start == "standard" and specs["underfit"].stacked is False
    keys = RunFolder.plan("x", settings, roster(settings), dataset_axes()).model_keys
    changed = RunFolder.plan(
        "x", settings.replace(eps_l2=0.5), roster(settings.replace(eps_l2=0.5)), dataset_axes()
    ).model_keys
    # eps_l2 shapes pgd_l2 and, through its accuracy, underfit; nothing else.
    assert {name for name in keys if keys[name] != changed[name]} == {"pgd_l2", "underfit"}
    stats = RunFolder.plan("x", settings.replace(alpha=0.01), roster(settings), dataset_axes())
    assert stats.model_keys == keys
    assert stats.evaluation_key == RunFolder.plan("x", settings, (), dataset_axes()).evaluation_key


def _trainer(tmp_path, seeds: int = 3) -> Trainer:
    settings = Settings.quick().replace(seeds=seeds, **TINY)
    data = load_data(settings)
    folder = RunFolder.plan(tmp_path, settings, roster(settings), dataset_axes())
    return Trainer(settings, data, folder, torch.device("cpu"))


def _assert_same_weights(stacked, alone):
    for a, b in zip(stacked, alone, strict=True):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            torch.testing.assert_close(x, y, atol=2e-5, rtol=1e-4, msg=name)


def test_stacked_training_gives_each_seed_its_separate_training(tmp_path):
    """All seeds as one stack == one seed at a time (init, shuffling, start, Adam, meta)."""
    from shapebias.attacks import PGD
    from shapebias.training import AdversarialLoss, Recipe

    stacked_run, alone_run = _trainer(tmp_path / "a"), _trainer(tmp_path / "b")
    seeds = stacked_run.settings.seed_list()
    standard = roster(stacked_run.settings)[0]
    alone_spec = dataclasses.replace(standard, stacked=False)
    stacked = stacked_run.train(standard)
    alone = alone_run.train(alone_spec)
    _assert_same_weights(stacked, alone)
    assert not torch.allclose(stacked[0][0].weight, stacked[1][0].weight)  # seeds differ
    for seed in seeds:
        ours, theirs = stacked_run.metas["standard", seed], alone_run.metas["standard", seed]
        assert ours["clean_accuracy"] == pytest.approx(theirs["clean_accuracy"], abs=1e-6)
        assert ours["stacked_seeds"] == seeds and ours["epochs_run"] == theirs["epochs_run"]
        assert stacked_run.folder.model_path("standard", seed).exists()
    # AT fine-tuned from each seed's own standard model; random starts off, because the
    # stack draws them once for its whole batch (other draws of the same distribution).
    eps = 4 / 255
    attack = PGD(eps=eps, steps=2, step_size=eps, random_start=False)
    recipe = Recipe.pgd_linf(eps, steps=2, epochs=2, optimizer="adam")
    recipe = dataclasses.replace(recipe, loss=AdversarialLoss(attack), lr=1e-3)
    at = dataclasses.replace(roster(stacked_run.settings)[2], recipe=recipe)
    stacked_at = stacked_run.train(at, stacked)
    alone_at = alone_run.train(dataclasses.replace(at, stacked=False), alone)
    _assert_same_weights(stacked_at, alone_at)
    assert not torch.allclose(stacked_at[0][0].weight, stacked[0][0].weight)  # it trained
    assert stacked_run.metas[at.name, seeds[1]]["fine_tuned_from"] == f"standard seed {seeds[1]}"
    # A second call loads the saved per-seed models instead of training again.
    again = stacked_run.train(at, stacked)
    _assert_same_weights(again, stacked_at)
    assert not list((tmp_path / "a" / "checkpoints").glob("*"))


def test_seeds_beyond_stack_size_train_as_several_stacks_each_as_if_alone(tmp_path):
    """3 seeds at stack_size 2: stacks [0, 1] and [2], every seed its separate training."""
    stacked_run = _trainer(tmp_path / "a")
    stacked_run.settings = stacked_run.settings.replace(stack_size=2)
    alone_run = _trainer(tmp_path / "b")
    seeds = stacked_run.settings.seed_list()
    assert stacked_run.stacks(seeds) == [seeds[:2], seeds[2:]]
    standard = roster(stacked_run.settings)[0]
    stacked = stacked_run.train(standard)
    alone = alone_run.train(dataclasses.replace(standard, stacked=False))
    _assert_same_weights(stacked, alone)
    members = [stacked_run.metas["standard", seed]["stacked_seeds"] for seed in seeds]
    assert members == [seeds[:2], seeds[:2], seeds[2:]]
    # A run that finds one stack's files loads it and trains only the other stack.
    paths = [stacked_run.folder.model_path("standard", seed) for seed in seeds]
    kept = [path.stat().st_mtime_ns for path in paths[:2]]
    paths[2].unlink()
    again = stacked_run.train(standard)
    _assert_same_weights(again, stacked)
    assert [path.stat().st_mtime_ns for path in paths[:2]] == kept and paths[2].exists()


def test_no_shape_bias_verdict_for_a_model_at_chance_on_shape_only():
    settings = Settings.default()

    def numbers(shape_only):
        return {
            "distortion_accuracy": {"clean": {"accuracy": {"value": 0.8}}},
            "shape_only": shape_only,
            "texture_only": 0.5,
            "texture_blind_null": texture_blind_null(shape_only, 4),
            "shape_bias": {"shape_bias": {"value": 0.6}, "cue_match": {"value": 0.9}},
        }

    table = controls_table(
        {"learned": [numbers(0.7)] * 2, "blind": [numbers(0.27)] * 2}, settings, 0.25
    )
    learned, blind = (
        line for line in table.splitlines() if line.startswith(("| learned", "| blind"))
    )
    assert "n/a: shape-only at chance" in blind and "60.0 (60.0-60.0)" in learned
    assert "87.5 (87.5-87.5)" in learned  # null 0.7 / (0.7 + 0.3 / 3)
    assert math.isclose(texture_blind_null(0.25, 4), 0.5)


def test_eval_batch_size_bounds_every_forward_pass_of_the_evaluation():
    """The setting reaches every measurement: no forward pass sees more images than it
    (a part left at its function's default of 256 would send all 40 images at once)."""
    seen: list[int] = []

    class Recording(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 4))

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            seen.append(len(images))
            return self.net(images)

    generator = torch.Generator().manual_seed(0)
    images, labels = torch.rand(40, 3, 16, 16, generator=generator), torch.arange(40) % 4
    conflict = (images, labels, (labels + 1) % 4)
    settings = Settings.quick().replace(eval_batch_size=6, robust_size=40)
    result = evaluate_model(
        Recording().eval(),
        (images, labels),
        settings,
        cue_conflict=conflict,
        shape_only=(images, labels),
        texture_only=(images, labels),
        parts=("distortions", "cue conflict", "robustness", "shape/texture only"),
    )
    assert result.clean is not None and len(result.clean) == 40
    assert seen and max(seen) == 6
