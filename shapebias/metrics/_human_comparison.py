"""One model against the human observers on one benchmark dataset, with bootstrap intervals."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from shapebias._seeds import derive_seed
from shapebias.metrics._bootstrap import Estimate
from shapebias.metrics._checks import check_bootstrap
from shapebias.metrics._human_benchmark import (
    HUMAN_ROW,
    TrialsLike,
    aligned_outcomes,
    condition_tables,
    human_shape_biases,
    pair_statistics,
)

__all__ = ["HumanComparison", "compare_with_humans"]


@dataclasses.dataclass(frozen=True)
class HumanComparison:
    """Result of :func:`compare_with_humans`.

    Attributes:
        dataset: the dataset name.
        accuracy: the model's accuracy over the kept trials.
        human_accuracy: the humans' accuracy over the kept trials, subjects pooled.
        accuracy_difference: squared accuracy difference, averaged over kept conditions
            and then human subjects, as the benchmark defines it.
        observed_consistency: the same average of the observed consistency.
        error_consistency: the same average of Cohen's kappa (1 where ``c_obs == 1``).
        shape_bias: the model's shape bias from these trials (cue-conflict only, else
            NaN), with its interval.
        human_shape_bias: the humans' pooled shape bias (cue-conflict only, else NaN).
        conditions: the kept conditions as written (empty: one condition).
        subjects: human subjects compared with.
        images: kept trials (images) per observer.
        confidence: coverage of the intervals.

    Every :class:`Estimate` has a percentile bootstrap interval over images: the images of
    each kept condition are resampled with replacement, the same draw for the model and
    every subject, and the whole statistic (conditions, then subjects) is recomputed.
    """

    dataset: str
    accuracy: Estimate
    human_accuracy: Estimate
    accuracy_difference: Estimate
    observed_consistency: Estimate
    error_consistency: Estimate
    shape_bias: Estimate
    human_shape_bias: float
    conditions: tuple[str, ...]
    subjects: int
    images: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers (NaN as None)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Estimate):
                value = value.to_dict()
            elif isinstance(value, float) and math.isnan(value):
                value = None
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out


def compare_with_humans(
    dataset: str,
    model: TrialsLike,
    humans: Mapping[str, TrialsLike],
    *,
    seed: int = 0,
    confidence: float = 0.95,
    num_bootstrap: int = 1000,
) -> HumanComparison:
    """A model's decisions on one benchmark dataset against every human observer's.

    The numbers are those of :func:`human_benchmark` for this dataset (kept conditions,
    right = ``object_response == category``, the averaging order of the benchmark), plus
    percentile bootstrap intervals over images.

    Args:
        dataset: the dataset name, e.g. ``"sketch"`` (decides the excluded conditions).
        model: the model's trials, e.g. ``Trials.from_decisions(...)``.
        humans: subject name -> that subject's trials on ``dataset``.
        seed: seeds the bootstrap (with the dataset name).
        confidence: coverage of the intervals.
        num_bootstrap: bootstrap replicates; 0 skips the intervals.

    Returns:
        A :class:`HumanComparison`.

    Raises:
        ValueError: no human trials, a human among the model trials, images that do not
            align with the human trials, bad bootstrap settings.

    Example:
        >>> from shapebias.data import read_raw_trials
        >>> from shapebias.metrics import compare_with_humans
        >>> raw = read_raw_trials("raw-data")  # doctest: +SKIP
        >>> humans = {m: t for m, t in raw["sketch"].items() if t.human}  # doctest: +SKIP
        >>> compare_with_humans("sketch", raw["sketch"]["resnet50"], humans)  # doctest: +SKIP
    """
    check_bootstrap(confidence, num_bootstrap, seed)
    subjects = [name for name, t in humans.items() if t.human]
    if not subjects or len(subjects) != len(humans):
        raise ValueError(
            f"humans must map subject names (subject-01, ...) to their trials on {dataset!r}, "
            f"got {sorted(humans)}."
        )
    if model.human:
        raise ValueError(f"model must be a model's trials, got those of {model.decision_maker!r}.")
    aligned = aligned_outcomes(dataset, {**humans, model.decision_maker: model})
    count = len(subjects)
    point = condition_tables(aligned).mean(1)[:, count, :count].mean(1)
    kept = aligned.correct[:, aligned.kept]
    values = [float(kept[count].mean()), float(kept[:count].mean()), *map(float, point)]
    replicates = _bootstrap(aligned, count, num_bootstrap, derive_seed(seed, "humans", dataset))
    tail = (1.0 - confidence) / 2.0
    estimates = [
        Estimate(v, *map(float, np.quantile(r, [tail, 1 - tail])))
        if len(r)
        else Estimate(v, math.nan, math.nan)
        for v, r in zip(values, replicates, strict=True)
    ]
    bias, human_bias = Estimate(math.nan, math.nan, math.nan), math.nan
    if dataset == "cue-conflict":
        biases = human_shape_biases(
            {**humans, model.decision_maker: model}, [model.decision_maker],
            seed=seed, confidence=confidence, num_bootstrap=num_bootstrap,
        )  # fmt: skip
        bias = biases[model.decision_maker].shape_bias
        human_bias = biases[HUMAN_ROW].shape_bias.value
    accuracy, human_accuracy, difference, observed, kappa = estimates
    return HumanComparison(
        dataset=dataset, accuracy=accuracy, human_accuracy=human_accuracy,
        accuracy_difference=difference, observed_consistency=observed, error_consistency=kappa,
        shape_bias=bias, human_shape_bias=human_bias,
        conditions=tuple(aligned.labels.get(k, k) for k in aligned.kept_conditions if k),
        subjects=count, images=kept.shape[1], confidence=confidence,
    )  # fmt: skip


def _bootstrap(aligned: Any, count: int, replicates: int, seed: int) -> list[np.ndarray]:
    """Replicates of the five statistics: images resampled within each kept condition."""
    if replicates == 0:
        return [np.empty(0)] * 5
    rng = np.random.default_rng(seed)
    masks = aligned.condition_masks()
    total = int(sum(int(m.sum()) for m in masks))
    right = np.zeros((2, replicates))  # model, humans pooled: right answers
    sums = np.zeros((3, replicates, count))  # difference, observed, kappa, summed over conditions
    for mask in masks:
        outcomes = aligned.correct[:, mask].astype(np.float64)
        size = outcomes.shape[1]
        weights = rng.multinomial(size, np.full(size, 1.0 / size), size=replicates).astype(
            np.float64
        )
        model, people = outcomes[count], outcomes[:count]
        model_accuracy = weights @ model / size
        human_accuracy = weights @ people.T / size
        agree = weights @ (people == model).T.astype(np.float64) / size
        for k, values in enumerate(pair_statistics(model_accuracy[:, None], human_accuracy, agree)):
            sums[k] += values
        right[0] += weights @ model
        right[1] += (weights @ people.T).sum(1)
    per_subject = sums / len(masks)
    return [right[0] / total, right[1] / (total * count), *per_subject.mean(2)]
