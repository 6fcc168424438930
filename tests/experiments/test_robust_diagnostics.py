"""The attack diagnostics in the protocol (issue 25): recorded per model, seed and budget by
evaluate_model, kept by the evaluation cache (whose key names the file format), written to
the per-seed numbers and shown in the robustness table; no false alarm on trained models."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

import shapebias.experiments._cache as cache
from shapebias.attacks import PGD, Diagnostics, GradientMaskingWarning, survival_curve
from shapebias.experiments import ModelResult, RunFolder, Settings, dataset_axes, evaluate_model
from shapebias.experiments._tables import per_seed_numbers, robustness_summary, robustness_table
from shapebias.models import small_cnn
from shapebias.training import Recipe

SETTINGS = Settings.quick().replace(robust_size=48, num_bootstrap=50)
LOW, HIGH = SETTINGS.evaluation.robust_eps
CLEAN = Diagnostics(0.0, 0, 0.0, 0, "APGD-CE", verified=10)
MASKED = dataclasses.replace(CLEAN, start_zero_gradient=0.25, start_zero_gradient_count=3)


def _quadrants(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images whose class is the brightened quadrant: a task the tiny CNN learns to
    high accuracy in a few epochs (at these sizes the shape/texture data stays near chance,
    and a model at chance cannot show a false alarm of confident, trained models)."""
    labels = torch.arange(n) % 4
    images = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 0.5
    for index, label in enumerate(labels.tolist()):
        row, column = divmod(label, 2)
        images[index, :, 8 * row : 8 * row + 8, 8 * column : 8 * column + 8] += 0.4
    return images.clamp(0, 1), labels


@pytest.fixture(scope="module")
def trained() -> dict[str, nn.Module]:
    """A standard model and its PGD fine-tune: the protocol's architecture and recipes
    (small_cnn, Recipe.standard then Recipe.pgd_linf) at a tiny width."""
    images, labels = _quadrants(256, 0)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=32, shuffle=False
    )
    torch.manual_seed(0)
    standard = small_cnn(4, width=8)
    Recipe.standard(epochs=3, optimizer="adam").fit(standard, loader, progress=False)
    tuned = small_cnn(4, width=8)
    tuned.load_state_dict(standard.state_dict())
    Recipe.pgd_linf(4 / 255, steps=1, epochs=1, optimizer="adam").fit(tuned, loader, progress=False)
    return {"standard": standard.eval(), "pgd": tuned.eval()}


def test_trained_models_get_clean_diagnostics_at_every_budget_no_false_alarm(trained):
    test = _quadrants(48, 1)
    for name, model in trained.items():
        with torch.no_grad():
            assert (model(test[0]).argmax(1) == test[1]).float().mean() > 0.75, name
        # warnings are errors: a diagnostic that fires on a normal model fails here
        result = evaluate_model(model, test, SETTINGS, parts=("robustness",))
        assert result.clean is None and set(result.robust) == {LOW, HIGH}
        assert result.robust_diagnostics is not None
        # both budgets attacked something: a model broken everywhere at 2/255 would leave
        # no survivor for 8/255 and test nothing there
        assert set(result.robust_diagnostics) == {LOW, HIGH}, name
        for eps, d in result.robust_diagnostics.items():
            assert d.start_attack == "APGD-CE", (name, eps)  # the start point was checked
            assert (d.zero_gradient, d.start_zero_gradient) == (0.0, 0.0), (name, eps)
            assert (d.black_box_breaks, d.disagreements) == (0, 0) and not d.stochastic
            assert not d.suspect and d.findings() == []
            assert d.verified == int(result.robust[eps].sum())


class _ExactOnGrid(nn.Module):
    """Differentiable exactly on the 8-bit levels, rounded to them (zero gradient) elsewhere."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        quantised = torch.round(x * 255) / 255
        exact = (quantised == x).flatten(1).all(1).view(-1, 1, 1, 1)
        return self.net(torch.where(exact, x, quantised))


def test_a_model_masked_beside_its_test_images_is_flagged_in_the_result_and_table(trained):
    images, labels = _quadrants(48, 1)
    images = torch.round(images * 255) / 255  # test images as an image file holds them
    masked = _ExactOnGrid(trained["standard"]).eval()
    with pytest.warns(GradientMaskingWarning, match="start point of APGD-CE"):
        result = evaluate_model(masked, (images, labels), SETTINGS, parts=("robustness",))
    first = result.robust_diagnostics[LOW]
    assert first.zero_gradient_count == 0 and first.start_zero_gradient_count > 0
    plain = evaluate_model(trained["standard"], (images, labels), SETTINGS, parts=("robustness",))
    results = {"standard": [plain, plain], "masked": [result, result]}
    table = robustness_table(robustness_summary(results, SETTINGS), SETTINGS, results)
    assert "| clean (2/2 seeds) |" in table
    assert "SUSPECT in seed(s) 0, 1 of 2 (note)" in table
    assert "- masked, seed 1, eps 2/255: zero gradient at APGD-CE start" in table


def _result(diagnostics: dict[float, Diagnostics] | None) -> ModelResult:
    robust = {LOW: torch.arange(10) < 6, HIGH: torch.arange(10) < 3}
    return ModelResult(robust=robust, robust_diagnostics=diagnostics)


def test_table_column_and_notes_cover_every_seed_and_budget():
    results = {
        "standard": [_result({LOW: CLEAN, HIGH: CLEAN}), _result({LOW: CLEAN, HIGH: CLEAN})],
        "pgd": [_result({LOW: CLEAN, HIGH: CLEAN}), _result({LOW: CLEAN, HIGH: MASKED})],
        "old": [_result(None), _result({LOW: CLEAN})],
    }
    table = robustness_table(robustness_summary(results, SETTINGS), SETTINGS, results)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()}
    assert rows["standard"].endswith("| clean (2/2 seeds) |")
    assert rows["pgd"].endswith("| SUSPECT in seed(s) 1 of 2 (note) |")  # the second seed
    assert rows["old"].endswith("| not recorded for seed(s) 0 |")
    notes = table.split("Suspect evaluations:")[1].strip().splitlines()
    assert notes == ["- pgd, seed 1, eps 8/255: zero gradient at APGD-CE start 25.0 %"]
    # without results the table is the one it always was: no column, no legend
    bare = robustness_table(robustness_summary(results, SETTINGS), SETTINGS)
    assert "diagnostics" not in bare.splitlines()[0] and "Diagnostics" not in bare


def test_per_seed_numbers_carry_the_diagnostics_as_json():
    numbers = per_seed_numbers(_result({LOW: CLEAN, HIGH: MASKED}), 4)
    record = json.loads(json.dumps(numbers["robust_diagnostics"]))
    assert record["8/255"]["start_zero_gradient_count"] == 3 and record["8/255"]["suspect"]
    assert record["2/255"] == {**dataclasses.asdict(CLEAN), "suspect": False}
    assert per_seed_numbers(_result(None), 4)["robust_diagnostics"] is None


def test_diagnostics_round_trip_through_the_cache_file_and_old_files_read_as_none(tmp_path):
    original = _result({LOW: CLEAN, HIGH: MASKED})
    original.save(tmp_path / "r.pt")
    loaded = ModelResult.load(tmp_path / "r.pt")
    assert loaded.robust_diagnostics == {LOW: CLEAN, HIGH: MASKED}
    # a file written before the field existed: the state without it, no format entry
    state = torch.load(tmp_path / "r.pt", weights_only=True)
    del state["robust_diagnostics"], state["format"]
    torch.save(state, tmp_path / "old.pt")
    assert ModelResult.load(tmp_path / "old.pt").robust_diagnostics is None


def test_the_evaluation_cache_key_names_the_result_format(monkeypatch):
    def key() -> str:
        return RunFolder.plan("x", SETTINGS, (), dataset_axes()).evaluation_key

    current = key()
    monkeypatch.setattr(cache, "RESULT_FORMAT", 1)
    assert key() != current  # an evaluation cached in the old format is not reused


def test_survival_curve_carries_each_budgets_diagnostics():
    torch.manual_seed(0)
    model = small_cnn(4, width=4).eval()
    images = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        labels = model(images).argmax(1)
    curve = survival_curve(model, images, labels, [0.1, 0.0], lambda eps: PGD(eps=eps, steps=2))
    assert list(curve) == [0.0, 0.1] and set(curve.diagnostics) == {0.0, 0.1}
    assert curve.diagnostics[0.0].verified == int(curve[0.0].sum()) == 12
    assert curve.diagnostics[0.1].verified == int(curve[0.1].sum())
    assert curve.diagnostics[0.1].start_attack == "PGD"
