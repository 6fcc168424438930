"""The model-vs-human benchmark against a literal reference written from its definition."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from shapebias.data import cue_conflict_texture, image_id, read_raw_trials
from shapebias.metrics import (
    EXCLUDED_CONDITIONS,
    HUMAN_ROW,
    NONPARAMETRIC_DATASETS,
    average_ranks,
    error_consistency,
    human_benchmark,
    mean_rank,
)
from shapebias.metrics._human_benchmark import pair_statistics
from tests._raw_trials import random_trials, write_maker

# --- the reference: plain Python loops over the definition -------------------------------


def _same(a: str, b: str) -> bool:
    """Condition texts equal as text, as numbers or as booleans."""
    try:
        return float(a) == float(b)
    except ValueError:
        return a.lower() == b.lower()


def _kappa(x: list[bool], y: list[bool]) -> tuple[float, float, float]:
    n = len(x)
    p1, p2 = sum(x) / n, sum(y) / n
    observed = sum(a == b for a, b in zip(x, y, strict=True)) / n
    expected = p1 * p2 + (1 - p1) * (1 - p2)
    kappa = 1.0 if observed == 1 else (observed - expected) / (1 - expected)
    return (p1 - p2) ** 2, observed, kappa


def _kept(dataset, t):
    """[((condition, image id), right)] of the trials outside the excluded conditions."""
    excluded = EXCLUDED_CONDITIONS.get(dataset, ())
    rows = []
    for i in range(len(t)):
        condition = "" if dataset in NONPARAMETRIC_DATASETS else t.condition[i]
        if not any(_same(condition, e) for e in excluded):
            key = (condition, image_id(t.imagename[i]))
            rows.append((key, t.object_response[i] == t.category[i]))
    return rows


def _versus(trials_a, trials_b):
    """Per condition (difference, observed, kappa), then the mean over conditions."""
    by_condition = {}
    outcome_b = dict(trials_b)
    for key, right in trials_a:
        pair = by_condition.setdefault(key[0], ([], []))
        pair[0].append(right)
        pair[1].append(outcome_b[key])
    per = [_kappa(x, y) for x, y in by_condition.values()]
    return [statistics.fmean(p[k] for p in per) for k in range(3)]


def _reference(raw, models):
    """{name: {dataset: (accuracy, difference, observed, kappa)}}."""
    out = {}
    for dataset, makers in raw.items():
        humans = sorted(m for m in makers if m.startswith("subject-"))
        trials = {m: _kept(dataset, makers[m]) for m in makers}
        for m in models:
            if m not in makers:
                continue
            per_subject = [_versus(trials[m], trials[h]) for h in humans]
            accuracy = statistics.fmean(r for _, r in trials[m])
            means = [statistics.fmean(s[k] for s in per_subject) for k in range(3)]
            out.setdefault(m, {})[dataset] = (accuracy, *means)
        pairs = [
            _versus(trials[a], trials[b]) for i, a in enumerate(humans) for b in humans[i + 1 :]
        ]
        pooled = statistics.fmean(r for h in humans for _, r in trials[h])
        out.setdefault(HUMAN_ROW, {})[dataset] = (
            pooled, *[statistics.fmean(p[k] for p in pairs) for k in range(3)]
        )  # fmt: skip
    return out


# --- fixtures -------------------------------------------------------------------------------


def _folder(tmp_path, seed=0):
    """Three datasets: two parametric (with excluded conditions), one non-parametric."""
    rng = np.random.default_rng(seed)
    layout = {
        "uniform-noise": (["0.00", "0.10", "0.35", "0.90"], 5),
        "false-colour": (["true", "false"], 7),
        "sketch": ([""], 9),
    }
    for dataset, (conditions, images) in layout.items():
        truth = random_trials(rng, conditions, images, 1.0)
        for k, subject in enumerate(
            ["subject-01", "subject-02", "subject-03"][: 2 + (dataset == "sketch")]
        ):
            trials = random_trials(rng, conditions, images, 0.6, truth=truth, na=0.1)
            write_maker(tmp_path, dataset, subject, trials, seed=k)
        for k, model in enumerate(["alpha", "beta"]):
            write_maker(tmp_path, dataset, model, random_trials(rng, conditions, images,
                        0.3 + 0.3 * k, truth=truth), seed=10 + k)  # fmt: skip
    return read_raw_trials(tmp_path)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_literal_reference(tmp_path, seed):
    raw = _folder(tmp_path, seed=seed)
    table = human_benchmark(raw)
    expected = _reference(raw, ["alpha", "beta"])
    keys = ("accuracy", "accuracy_difference", "observed_consistency", "error_consistency")
    for name, datasets in expected.items():
        row = table.rows[name]
        for dataset, values in datasets.items():
            got = [getattr(row.datasets[dataset], k) for k in keys]
            # Means of a few dozen terms in [-1, 1]: float rounding well below 1e-12.
            np.testing.assert_allclose(got, values, rtol=0, atol=1e-12, err_msg=f"{name} {dataset}")
        for k, key in enumerate(("ood_accuracy", *keys[1:])):
            mean = statistics.fmean(v[k] for v in datasets.values())
            assert getattr(row, key) == pytest.approx(mean, abs=1e-12), (name, key)


def _outcomes(condition: str, start: int, right: list[int]) -> list:
    return [(condition, f"n0{start + k:07d}_0.png", "cat", "cat" if r else "dog")
            for k, r in enumerate(right)]  # fmt: skip


def test_averaging_order_conditions_then_subjects_then_datasets(tmp_path):
    """Worked by hand. uniform-noise, two kept conditions, two subjects (same answers):
    in each condition model and human have p = 3/4 (then 1/4) and agree on 2 of 4 images,
    so c_exp = 5/8 and kappa = (1/2 - 5/8) / (3/8) = -1/3; pooling the conditions gives
    p = 1/2, c_obs = c_exp = 1/2, kappa 0. sketch, one subject: the model copies it,
    kappa 1. Conditions -> subjects -> datasets: (-1/3 + 1) / 2 = 1/3; pooled trials:
    (0 + 1) / 2; weighting datasets by their pairs: (2 (-1/3) + 1) / 3."""
    model = _outcomes("0.10", 0, [1, 1, 1, 0]) + _outcomes("0.20", 4, [0, 0, 0, 1])
    human = _outcomes("0.10", 0, [1, 1, 0, 1]) + _outcomes("0.20", 4, [0, 0, 1, 0])
    for k, subject in enumerate(["subject-01", "subject-02"]):
        write_maker(tmp_path, "uniform-noise", subject, human, seed=k)
    write_maker(tmp_path, "uniform-noise", "model", model, seed=5)
    sketch = _outcomes("", 0, [1, 0, 1, 1, 0])
    write_maker(tmp_path, "sketch", "subject-03", sketch)
    write_maker(tmp_path, "sketch", "model", sketch, seed=1)
    row = human_benchmark(read_raw_trials(tmp_path)).rows["model"]
    assert row.datasets["uniform-noise"].error_consistency == pytest.approx(-1 / 3, abs=1e-15)
    assert row.datasets["sketch"].error_consistency == 1.0
    assert row.error_consistency == pytest.approx(1 / 3, abs=1e-15)
    assert row.observed_consistency == pytest.approx((1 / 2 + 1) / 2, abs=1e-15)
    # Accuracy: pooled over the kept trials of a dataset, then the mean over datasets.
    assert row.ood_accuracy == pytest.approx((4 / 8 + 3 / 5) / 2, abs=1e-15)


def test_squared_not_absolute_difference(tmp_path):
    images = [("", f"i{k}.png", "cat", "") for k in range(4)]
    right = [(c, i, cat, cat) for c, i, cat, _ in images]
    half = [(c, i, cat, "dog" if k % 2 else cat) for k, (c, i, cat, _) in enumerate(images)]
    write_maker(tmp_path, "edge", "subject-01", half)  # accuracy 0.5
    write_maker(tmp_path, "edge", "subject-02", right, seed=1)  # accuracy 1.0
    write_maker(tmp_path, "edge", "model", right, seed=2)  # accuracy 1.0
    row = human_benchmark(read_raw_trials(tmp_path)).rows["model"]
    # mean of (1 - 0.5)^2 and (1 - 1)^2; absolute: 0.25; squared mean difference: 0.0625.
    assert row.accuracy_difference == 0.125
    assert row.datasets["edge"].accuracy == 1.0


def test_na_counts_as_wrong(tmp_path):
    images = [("", f"i{k}.png", "cat", "cat") for k in range(4)]
    human = [*images[:3], ("", "i3.png", "cat", "na")]
    write_maker(tmp_path, "edge", "subject-01", human)
    write_maker(tmp_path, "edge", "subject-02", images, seed=1)
    write_maker(tmp_path, "edge", "model", images, seed=2)
    table = human_benchmark(read_raw_trials(tmp_path))
    assert table.rows[HUMAN_ROW].ood_accuracy == 7 / 8  # not 7 / 7 with na left out
    # subject-01 vs model: 3 of 4 agree; p = 0.75 and 1 give c_exp = 0.75, kappa 0.
    assert table.rows["model"].datasets["edge"].observed_consistency == (0.75 + 1) / 2
    assert table.rows["model"].error_consistency == (0.0 + 1.0) / 2


@pytest.mark.parametrize("dataset", sorted(EXCLUDED_CONDITIONS))
def test_exclusions_per_dataset(tmp_path, dataset):
    """The model is right on every kept condition and wrong on every excluded one, whose
    text is spelt as in the published files (0.90, true, 1 for 1.0)."""
    spelt = {"0.9": "0.90", "0.0": "0.00", "0.6": "0.60", "True": "true", "inf": "inf"}
    excluded = [spelt.get(c, c) for c in EXCLUDED_CONDITIONS[dataset]]
    trials = [(c, f"n0{k:07d}_{j}.png", "cat", "") for k, c in enumerate([*excluded, "kept"])
              for j in range(2)]  # fmt: skip
    model = [(c, i, cat, "cat" if c == "kept" else "dog") for c, i, cat, _ in trials]
    human = [(c, i, cat, "cat") for c, i, cat, _ in trials]
    write_maker(tmp_path, dataset, "subject-01", human)
    write_maker(tmp_path, dataset, "model", model, seed=1)
    scores = human_benchmark(read_raw_trials(tmp_path)).rows["model"].datasets[dataset]
    assert scores.accuracy == 1.0 and scores.trials == 2
    assert scores.conditions == ("kept",)
    assert scores.error_consistency == 1.0  # both always right: defined as 1


@pytest.mark.parametrize("dataset", NONPARAMETRIC_DATASETS)
def test_non_parametric_keep_every_trial(tmp_path, dataset):
    # Condition "0" as in the human files: not low-pass's or rotation's excluded "0".
    names = ["cat1-dog2.png", "dog1-cat2.png", "cat3-cat1.png", "dog2-dog3.png"]
    human = [("0", n, n[:3], n[:3]) for n in names]
    model = [("", n, n[:3], "oven") for n in names]
    write_maker(tmp_path, dataset, "subject-01", human)
    write_maker(tmp_path, dataset, "model", model, seed=1)
    scores = human_benchmark(read_raw_trials(tmp_path)).rows["model"].datasets[dataset]
    assert scores.trials == 4 and scores.accuracy == 0.0


def test_cue_conflict_shape_bias_drops_equal_cues(tmp_path):
    names = ["cat1-dog2.png", "dog1-cat2.png", "bird1-oven1.png", "cat3-cat1.png", "dog2-dog3.png"]
    # The model picks the texture where the cues differ and the (equal) shape otherwise.
    model = [("", n, _shape(n), cue_conflict_texture(n)) for n in names]
    human = [("0", n, _shape(n), _shape(n)) for n in names]
    human2 = [("0", n, _shape(n), "na") for n in names]
    write_maker(tmp_path, "cue-conflict", "subject-01", human)
    write_maker(tmp_path, "cue-conflict", "subject-02", human2, seed=1)
    write_maker(tmp_path, "cue-conflict", "model", model, seed=2, plain_names=True)
    table = human_benchmark(read_raw_trials(tmp_path))
    row = table.rows["model"]
    assert row.shape_bias == 0.0  # not 2/5 with the equal-cue trials counted
    assert row.shape_bias_per_category["cat"] == 0.0
    # OOD accuracy counts all five trials (right = the shape category).
    assert row.datasets["cue-conflict"].accuracy == 2 / 5
    assert table.rows[HUMAN_ROW].shape_bias == 1.0  # "na" is neither shape nor texture
    assert table.rows[HUMAN_ROW].ood_accuracy == 5 / 10


def _shape(name: str) -> str:
    return "".join(c for c in name.split("-")[0] if not c.isdigit())


def test_kappa_degenerate_cases():
    def stats(x, y):
        x, y = np.array(x, dtype=float), np.array(y, dtype=float)
        return [float(v) for v in pair_statistics(x.mean(), y.mean(), np.mean(x == y))]

    assert stats([1, 1], [1, 1]) == [0.0, 1.0, 1.0]  # both always right: 1, not NaN
    assert stats([0, 0], [0, 0]) == [0.0, 1.0, 1.0]  # both always wrong
    assert stats([1, 1], [0, 0]) == [1.0, 0.0, 0.0]  # c_exp = 0
    assert stats([1, 0, 1, 0], [1, 0, 1, 0]) == [0.0, 1.0, 1.0]
    assert stats([1, 0, 1, 0], [0, 1, 0, 1]) == [0.0, 0.0, -1.0]
    assert stats([1, 1, 1, 0], [1, 0, 1, 0])[2] == pytest.approx(0.5)  # (0.75-0.5)/(1-0.5)
    # error_consistency keeps NaN where nothing can be compared.
    import torch

    assert math.isnan(error_consistency(torch.ones(3, dtype=torch.bool),
                                        torch.ones(3, dtype=torch.bool)).kappa.value)  # fmt: skip


def test_ranks_with_ties():
    assert average_ranks([0.3, 0.1, 0.3, 0.2]).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert average_ranks([0.3, 0.1, 0.3], descending=True).tolist() == [1.5, 3.0, 1.5]
    ranks = average_ranks([0.2, math.nan, 0.1])
    assert ranks[0] == 2.0 and math.isnan(ranks[1]) and ranks[2] == 1.0
    # Two models tied on all three metrics share ranks 1.5; a third is last on two.
    assert mean_rank([0.1, 0.1, 0.2], [0.7, 0.7, 0.9], [0.2, 0.2, 0.1]).tolist() == [
        (1.5 + 2.5 + 1.5) / 3, (1.5 + 2.5 + 1.5) / 3, (3 + 1 + 3) / 3,
    ]  # fmt: skip


def test_identical_models_tie_in_the_table(tmp_path):
    raw = _folder(tmp_path, seed=1)
    for dataset in raw:
        raw[dataset]["gamma"] = raw[dataset]["alpha"]
    table = human_benchmark(raw)
    assert table.rows["alpha"].mean_rank == table.rows["gamma"].mean_rank
    alpha, beta = table.rows["alpha"], table.rows["beta"]
    # Tied models share ranks 1 and 2 (1.5 each) where they beat beta, else 2 and 3 (2.5).
    better = [alpha.accuracy_difference < beta.accuracy_difference,
              alpha.observed_consistency > beta.observed_consistency,
              alpha.error_consistency > beta.error_consistency]  # fmt: skip
    assert alpha.mean_rank == pytest.approx(statistics.fmean(1.5 if b else 2.5 for b in better))
    assert beta.mean_rank == pytest.approx(statistics.fmean(3.0 if b else 1.0 for b in better))


def test_alignment_by_image_not_by_order(tmp_path):
    """Same decisions under other names and another order: full agreement."""
    rng = np.random.default_rng(0)
    truth = random_trials(rng, ["0.10", "0.20"], 6, 1.0)
    human = random_trials(rng, ["0.10", "0.20"], 6, 0.5, truth=truth)
    other = random_trials(rng, ["0.10", "0.20"], 6, 0.5, truth=truth)
    write_maker(tmp_path, "uniform-noise", "subject-01", human, seed=1)
    write_maker(tmp_path, "uniform-noise", "subject-02", other, seed=2)
    write_maker(tmp_path, "uniform-noise", "copy", human, seed=3)  # dnn names, new order
    raw = read_raw_trials(tmp_path)
    names = [n.split("_", 1)[1] for n in raw["uniform-noise"]["copy"].imagename]
    assert names != [n.split("_", 1)[1] for n in raw["uniform-noise"]["subject-01"].imagename]
    table = human_benchmark(raw)
    expected = (1.0 + _kappa_between(human, other)) / 2
    assert table.rows["copy"].error_consistency == pytest.approx(expected, abs=1e-12)


def _kappa_between(a, b):
    values = []
    for condition in ("0.10", "0.20"):
        x = [t[2] == t[3] for t in a if t[0] == condition]
        y = [t[2] == t[3] for t in b if t[0] == condition]
        values.append(_kappa(x, y)[2])
    return statistics.fmean(values)


def test_unaligned_images_are_an_error(tmp_path):
    trials = [("", f"i{k}.png", "cat", "cat") for k in range(3)]
    write_maker(tmp_path, "edge", "subject-01", trials)
    write_maker(tmp_path, "edge", "model", [*trials[:2], ("", "other.png", "cat", "cat")])
    with pytest.raises(ValueError, match=r"only 'model' has other\.png; only 'subject-01' has i2"):
        human_benchmark(read_raw_trials(tmp_path))


def test_image_twice_is_an_error(tmp_path):
    trials = [("", "i0.png", "cat", "cat"), ("", "i0.png", "cat", "dog")]
    write_maker(tmp_path, "edge", "subject-01", trials)
    write_maker(tmp_path, "edge", "model", trials)
    with pytest.raises(ValueError, match="image twice"):
        human_benchmark(read_raw_trials(tmp_path))


def test_partial_model_and_extra_dataset(tmp_path):
    rng = np.random.default_rng(0)
    for dataset in ("edge", "sketch", "original"):
        truth = random_trials(rng, [""], 4, 1.0)
        write_maker(tmp_path, dataset, "subject-01", random_trials(rng, [""], 4, 0.7, truth=truth))
        write_maker(tmp_path, dataset, "full", random_trials(rng, [""], 4, 0.5, truth=truth))
        if dataset != "sketch":
            write_maker(tmp_path, dataset, "part", random_trials(rng, [""], 4, 0.5, truth=truth))
    table = human_benchmark(read_raw_trials(tmp_path))
    assert table.extra == ("original",)
    part, full = table.rows["part"], table.rows["full"]
    assert part.partial and part.missing == ("sketch",) and not full.partial
    assert part.ood_accuracy == part.datasets["edge"].accuracy  # the mean over what it has
    assert full.ood_accuracy == pytest.approx(
        (full.datasets["edge"].accuracy + full.datasets["sketch"].accuracy) / 2
    )  # "original" is scored but not averaged
    assert "part (partial)" in table.to_markdown() and "no trials for sketch" in table.to_markdown()


def test_model_selection_and_errors(tmp_path):
    raw = _folder(tmp_path)
    assert list(human_benchmark(raw, models=["beta"]).rows) == ["beta", HUMAN_ROW]
    with pytest.raises(ValueError, match=r"models \['gamma'\] have no trials.*alpha, beta"):
        human_benchmark(raw, models=["gamma"])
    with pytest.raises(TypeError, match="models must be a non-empty list"):
        human_benchmark(raw, models="alpha")  # type: ignore[arg-type]
    no_humans = {d: {m: t for m, t in makers.items() if not t.human} for d, makers in raw.items()}
    with pytest.raises(ValueError, match="human trials"):
        human_benchmark(no_humans)
    only_humans = {d: {m: t for m, t in makers.items() if t.human} for d, makers in raw.items()}
    with pytest.raises(ValueError, match="no model trials"):
        human_benchmark(only_humans)


def test_outputs_are_json_and_csv_ready(tmp_path):
    import json

    table = human_benchmark(_folder(tmp_path))
    record = json.loads(json.dumps(table.to_dict(), allow_nan=False))
    assert record["rows"]["alpha"]["error_consistency"] == table.rows["alpha"].error_consistency
    rows = table.csv_rows()
    summary = next(r for r in rows if r[:2] == ["beta", "all"])
    assert summary[6] == table.rows["beta"].error_consistency  # the float itself, unrounded


# --- one model against the humans, with intervals ------------------------------------------


def test_comparison_equals_the_table_and_its_bootstrap_resamples_images(tmp_path):
    from shapebias._seeds import derive_seed
    from shapebias.metrics import compare_with_humans

    raw = _folder(tmp_path, seed=4)
    table = human_benchmark(raw)
    dataset = "uniform-noise"
    humans = {m: t for m, t in raw[dataset].items() if t.human}
    result = compare_with_humans(dataset, raw[dataset]["alpha"], humans, num_bootstrap=20)
    scores = table.rows["alpha"].datasets[dataset]
    for key in ("accuracy", "accuracy_difference", "observed_consistency", "error_consistency"):
        assert getattr(result, key).value == pytest.approx(getattr(scores, key), abs=1e-12)
    assert result.human_accuracy.value == table.rows[HUMAN_ROW].datasets[dataset].accuracy
    # The same draws, replayed literally: repeat each image as often as it was drawn.
    rng = np.random.default_rng(derive_seed(0, "humans", dataset))
    trials = {m: dict(_kept(dataset, raw[dataset][m])) for m in [*humans, "alpha"]}
    conditions = sorted({k[0] for k in trials["alpha"]}, key=lambda c: repr(float(c)))
    keys = {c: sorted(k for k in trials["alpha"] if k[0] == c) for c in conditions}
    draws = {c: rng.multinomial(len(keys[c]), [1 / len(keys[c])] * len(keys[c]), size=20)
             for c in conditions}  # fmt: skip
    kappas = []
    for b in range(20):
        per_subject = []
        for h in humans:
            per = []
            for c in conditions:
                sample = [k for k, n in zip(keys[c], draws[c][b], strict=True) for _ in range(n)]
                per.append(_kappa([trials["alpha"][k] for k in sample],
                                  [trials[h][k] for k in sample])[2])  # fmt: skip
            per_subject.append(statistics.fmean(per))
        kappas.append(statistics.fmean(per_subject))
    low, high = np.quantile(kappas, [0.025, 0.975])
    assert result.error_consistency.low == pytest.approx(low, abs=1e-12)
    assert result.error_consistency.high == pytest.approx(high, abs=1e-12)


def test_comparison_errors(tmp_path):
    from shapebias.metrics import compare_with_humans

    raw = _folder(tmp_path)
    humans = {m: t for m, t in raw["sketch"].items() if t.human}
    with pytest.raises(ValueError, match="humans must map subject names"):
        compare_with_humans("sketch", raw["sketch"]["alpha"], {"beta": raw["sketch"]["beta"]})
    with pytest.raises(ValueError, match="must be a model's trials"):
        compare_with_humans("sketch", humans["subject-01"], humans)
    with pytest.raises(ValueError, match="do not align"):
        compare_with_humans("sketch", raw["uniform-noise"]["alpha"], humans)
