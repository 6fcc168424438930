"""The model-vs-human benchmark (Geirhos et al., NeurIPS 2021), computed from raw trials.

Five numbers per model on 17 out-of-distribution datasets: OOD accuracy, accuracy
difference, observed consistency, error consistency (each against every human
observer) and shape bias, plus the mean rank of the three human-likeness metrics.
Pure numpy: every decision-maker's right/wrong outcomes on a dataset are aligned by image
into one matrix, and each condition's pairwise statistics are a pair of matrix products.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import torch

from shapebias._conditions import condition_key
from shapebias._validation import check_bool
from shapebias.metrics._class_map import IMAGENET_16_CLASS_MAP
from shapebias.metrics._error_consistency import cohen_kappa
from shapebias.metrics._shape_bias import ShapeBias, summarise_decisions
from shapebias.metrics._tables import markdown_table

__all__ = [
    "BENCHMARK_DATASETS",
    "EXCLUDED_CONDITIONS",
    "HUMAN_ROW",
    "NONPARAMETRIC_DATASETS",
    "BenchmarkRow",
    "DatasetScores",
    "HumanBenchmark",
    "aligned_outcomes",
    "average_ranks",
    "human_benchmark",
    "human_shape_biases",
    "mean_rank",
    "pair_statistics",
]

logger = logging.getLogger("shapebias.metrics.human_benchmark")

BENCHMARK_DATASETS = (
    "edge", "silhouette", "cue-conflict", "colour", "contrast", "high-pass", "low-pass",
    "phase-scrambling", "power-equalisation", "false-colour", "rotation", "eidolonI",
    "eidolonII", "eidolonIII", "uniform-noise", "sketch", "stylized",
)  # fmt: skip
"""The 17 datasets of the benchmark, in model-vs-human's order."""

NONPARAMETRIC_DATASETS = ("cue-conflict", "edge", "silhouette", "sketch", "stylized")
"""Datasets without conditions: all their trials count, as one condition."""

EXCLUDED_CONDITIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "colour": ("cr",),
        "contrast": ("c100", "c03", "c01"),
        "high-pass": ("inf", "0.55", "0.45", "0.4"),
        "low-pass": ("0", "15", "40"),
        "phase-scrambling": ("0", "150", "180"),
        "power-equalisation": ("0",),
        "false-colour": ("True",),
        "rotation": ("0",),
        "eidolonI": ("1-10-10", "64-10-10", "128-10-10"),
        "eidolonII": ("1-3-10", "32-3-10", "64-3-10", "128-3-10"),
        "eidolonIII": ("1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"),
        "uniform-noise": ("0.0", "0.6", "0.9"),
    }
)
"""Conditions left out of every metric: controls without manipulation, and conditions
where the mean human accuracy is below 0.2 (compared by :func:`~shapebias.data.condition_key`,
so ``0.90`` is ``0.9``)."""

HUMAN_ROW = "humans"
"""The name of the humans' own row in a :class:`HumanBenchmark`."""

_CATEGORIES = tuple(IMAGENET_16_CLASS_MAP)
_SHOWN = 5
_CUE_CONFLICT = "cue-conflict"


class TrialsLike(Protocol):
    """The columns of :class:`shapebias.data.Trials` the benchmark reads."""

    @property
    def decision_maker(self) -> str: ...
    @property
    def human(self) -> bool: ...
    @property
    def correct(self) -> np.ndarray: ...
    @property
    def image_ids(self) -> np.ndarray: ...
    @property
    def condition_keys(self) -> np.ndarray: ...
    @property
    def condition(self) -> np.ndarray: ...
    @property
    def object_response(self) -> np.ndarray: ...
    @property
    def category(self) -> np.ndarray: ...
    @property
    def textures(self) -> np.ndarray: ...


def pair_statistics(
    accuracy_a: np.ndarray, accuracy_b: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy difference, observed consistency and error consistency of observer pairs.

    ``(p_a - p_b)^2`` (the benchmark's *squared* difference), ``c_obs`` itself, and
    Cohen's kappa with ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)``, defined as 1 where
    ``c_obs == 1``; elementwise over any broadcastable arrays.
    """
    kappa = cohen_kappa(observed, accuracy_a, accuracy_b, degenerate=1.0)
    return (accuracy_a - accuracy_b) ** 2, observed, kappa


@dataclasses.dataclass(frozen=True)
class Aligned:
    """Right/wrong outcomes of several decision-makers on one dataset, aligned by image."""

    names: tuple[str, ...]
    correct: np.ndarray  # bool (decision-makers, trials)
    condition: np.ndarray  # str (trials,): condition key, "" for non-parametric datasets
    labels: dict[str, str]  # condition key -> condition as written
    order: dict[str, np.ndarray]  # decision-maker -> its trials' indices in aligned order
    kept: np.ndarray  # bool (trials,): not an excluded condition
    kept_conditions: tuple[str, ...]  # condition keys, sorted

    def condition_masks(self) -> list[np.ndarray]:
        return [self.condition == key for key in self.kept_conditions]


def aligned_outcomes(dataset: str, trials: Mapping[str, TrialsLike]) -> Aligned:
    """Align every decision-maker's trials on ``dataset`` by (condition, image id).

    Raises:
        ValueError: a decision-maker with an image twice in one condition, or whose
            images differ from the first decision-maker's (the unmatched are named).
    """
    nonparametric = dataset in NONPARAMETRIC_DATASETS
    names = tuple(trials)
    if not names:
        raise ValueError(f"trials must hold at least one decision-maker on {dataset!r}, got none.")
    reference = np.empty(0, dtype=str)
    rows, order = [], {}
    labels: dict[str, str] = {}
    for name in names:
        t = trials[name]
        ids = t.image_ids
        conditions = np.full(len(ids), "") if nonparametric else t.condition_keys
        if not nonparametric:
            labels.update(zip(conditions.tolist(), t.condition.tolist(), strict=True))
        keys = np.char.add(np.char.add(conditions, "\x1f"), ids)
        index = np.argsort(keys, kind="stable")
        keys = keys[index]
        if len(keys) > 1 and bool((keys[1:] == keys[:-1]).any()):
            twice = keys[1:][keys[1:] == keys[:-1]][0].replace("\x1f", " / ")
            raise ValueError(
                f"the trials of {name!r} on {dataset!r} show an image twice in one condition "
                f"({twice!r}); each decision-maker must see each image once per condition."
            )
        if name == names[0]:
            reference = keys
        elif len(keys) != len(reference) or not bool((keys == reference).all()):
            raise _unaligned(dataset, names[0], name, reference, keys)
        rows.append(t.correct[index])
        order[name] = index
    condition = np.array([k.split("\x1f", 1)[0] for k in reference.tolist()])
    excluded = {condition_key(c) for c in EXCLUDED_CONDITIONS.get(dataset, ())}
    kept = ~np.isin(condition, list(excluded)) if excluded else np.ones(len(condition), bool)
    return Aligned(
        names=names,
        correct=np.stack(rows),
        condition=condition,
        labels=labels,
        order=order,
        kept=kept,
        kept_conditions=tuple(np.unique(condition[kept]).tolist()),
    )


def _unaligned(
    dataset: str, first: str, name: str, reference: np.ndarray, keys: np.ndarray
) -> ValueError:
    def shown(values: np.ndarray) -> str:
        text = [v.replace("\x1f", " / ").lstrip(" /") for v in values[:_SHOWN].tolist()]
        return ", ".join(text) + (f" ... ({len(values)} in all)" if len(values) > _SHOWN else "")

    only_new = np.setdiff1d(keys, reference)
    only_ref = np.setdiff1d(reference, keys)
    return ValueError(
        f"the images of {name!r} on {dataset!r} do not align with those of {first!r} "
        f"({len(keys)} vs {len(reference)} trials): only {name!r} has {shown(only_new) or '-'}; "
        f"only {first!r} has {shown(only_ref) or '-'}. Every decision-maker must see the "
        "human observers' images (matched by condition and image id, see "
        "shapebias.data.image_id)."
    )


def condition_tables(aligned: Aligned) -> np.ndarray:
    """Per kept condition: the pairwise (difference, observed, kappa) matrices.

    Returns float64 ``(3, conditions, makers, makers)``.
    """
    tables = []
    for mask in aligned.condition_masks():
        outcomes = aligned.correct[:, mask].astype(np.float64)
        count = outcomes.shape[1]
        accuracy = outcomes.mean(1)
        agree = outcomes @ outcomes.T + (1 - outcomes) @ (1 - outcomes).T
        tables.append(pair_statistics(accuracy[:, None], accuracy[None, :], agree / count))
    return np.stack([np.stack(t) for t in zip(*tables, strict=True)])


@dataclasses.dataclass(frozen=True)
class DatasetScores:
    """One decision-maker (or the humans) on one dataset.

    Attributes:
        accuracy: accuracy over the kept trials (humans: pooled over subjects).
        accuracy_difference: mean over human subjects of the mean over kept conditions of
            the squared accuracy difference (humans: over all pairs of subjects).
        observed_consistency: the same average of the observed consistency.
        error_consistency: the same average of Cohen's kappa.
        conditions: the kept conditions, as written in the files (empty for the
            non-parametric datasets, one condition each).
        subjects: the human subjects compared with.
        trials: kept trials per decision-maker.
    """

    accuracy: float
    accuracy_difference: float
    observed_consistency: float
    error_consistency: float
    conditions: tuple[str, ...]
    subjects: int
    trials: int

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers (NaN as None)."""
        return {k: _plain(v) for k, v in dataclasses.asdict(self).items()}


METRICS = ("accuracy_difference", "observed_consistency", "error_consistency")


@dataclasses.dataclass(frozen=True)
class BenchmarkRow:
    """One decision-maker's row of the benchmark table.

    Attributes:
        ood_accuracy: mean over the benchmark datasets of :attr:`DatasetScores.accuracy`.
        accuracy_difference: mean over the benchmark datasets (lower is more human-like).
        observed_consistency: mean over the benchmark datasets.
        error_consistency: mean over the benchmark datasets.
        shape_bias: ``#shape / (#shape + #texture)`` on the cue-conflict trials whose
            shape and texture categories differ (humans pooled); NaN without them.
        shape_bias_per_category: the same per shape category.
        mean_rank: mean of the three ranks among the models (NaN for the humans' row).
        datasets: every dataset's :class:`DatasetScores`, benchmark or not.
        missing: benchmark datasets with human trials but none of this decision-maker's:
            the means are over the others only (the row is *partial*).
    """

    ood_accuracy: float
    accuracy_difference: float
    observed_consistency: float
    error_consistency: float
    shape_bias: float
    shape_bias_per_category: dict[str, float]
    mean_rank: float
    datasets: dict[str, DatasetScores]
    missing: tuple[str, ...]

    @property
    def partial(self) -> bool:
        """Whether some benchmark dataset with human trials is missing."""
        return bool(self.missing)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers (NaN as None)."""
        summary = {k: _plain(getattr(self, k)) for k in SUMMARY}
        return {
            **summary,
            "shape_bias_per_category": {
                k: _plain(v) for k, v in self.shape_bias_per_category.items()
            },
            "partial": self.partial,
            "missing": list(self.missing),
            "datasets": {name: s.to_dict() for name, s in self.datasets.items()},
        }


SUMMARY = (
    "ood_accuracy", "accuracy_difference", "observed_consistency", "error_consistency",
    "shape_bias", "mean_rank",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclasses.dataclass(frozen=True)
class HumanBenchmark:
    """Result of :func:`human_benchmark`: one row per model, then the humans' row.

    Attributes:
        rows: decision-maker name -> :class:`BenchmarkRow`, models sorted by mean rank,
            then :data:`HUMAN_ROW`.
        datasets: the datasets with human trials, benchmark datasets first in their order.
        extra: datasets outside the benchmark's 17 (scored per dataset, left out of the
            means).
    """

    rows: dict[str, BenchmarkRow]
    datasets: tuple[str, ...]
    extra: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers: ``{"datasets", "extra", "rows": {name: row}}``."""
        return {
            "datasets": list(self.datasets),
            "extra": list(self.extra),
            "rows": {name: row.to_dict() for name, row in self.rows.items()},
        }

    def csv_rows(self) -> list[list[Any]]:
        """Rows of ``benchmark.csv``: a header, then per decision-maker its summary
        (``dataset == "all"``) and every dataset; floats at full precision."""
        header = ["decision_maker", "dataset", "partial", "accuracy", *METRICS, "shape_bias",
                  "mean_rank", "subjects", "trials", "conditions"]  # fmt: skip
        rows: list[list[Any]] = [header]
        for name, row in self.rows.items():
            rows.append([
                name, "all", row.partial, row.ood_accuracy, *(getattr(row, m) for m in METRICS),
                row.shape_bias, row.mean_rank, "", "", "",
            ])  # fmt: skip
            for dataset, s in row.datasets.items():
                bias = row.shape_bias if dataset == _CUE_CONFLICT else ""
                rows.append([
                    name, dataset, "", s.accuracy, *(getattr(s, m) for m in METRICS), bias, "",
                    s.subjects, s.trials, " ".join(s.conditions),
                ])  # fmt: skip
        return rows

    def to_markdown(self, *, digits: int = 3) -> str:
        """The benchmark table (and a note on partial rows) as GitHub Markdown."""

        def number(value: float) -> str:
            return "-" if math.isnan(value) else f"{value:.{digits}f}"

        header = ["decision-maker", "OOD accuracy ↑", "accuracy diff. ↓", "obs. consistency ↑",
                  "error consistency ↑", "shape bias", "mean rank ↓"]  # fmt: skip
        rows = [
            [name + (" (partial)" if row.partial else ""),
             *(number(getattr(row, key)) for key in SUMMARY)]
            for name, row in self.rows.items()
        ]  # fmt: skip
        lines = [markdown_table(header, rows), ""]
        lines.append(
            f"Means over {len(self.datasets) - len(self.extra)} benchmark dataset(s) with "
            "human trials; consistencies averaged over kept conditions, then human subjects, "
            "then datasets; accuracy difference squared."
        )
        for name, row in self.rows.items():
            if row.partial:
                lines.append(f"- {name}: partial, no trials for {', '.join(row.missing)}.")
        if self.extra:
            lines.append(f"- outside the benchmark (per dataset only): {', '.join(self.extra)}.")
        return "\n".join(lines)


def average_ranks(values: Any, *, descending: bool = False) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank; NaN stays NaN (ranked last by none).

    Example:
        >>> from shapebias.metrics import average_ranks
        >>> average_ranks([0.3, 0.1, 0.3, 0.2]).tolist()
        [3.5, 1.0, 3.5, 2.0]
    """
    descending = check_bool(descending, "descending")
    array = np.asarray(values, dtype=np.float64)
    ranks = np.full(array.shape, np.nan)
    present = ~np.isnan(array)
    keys = -array[present] if descending else array[present]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks[present] = ((ends - counts + 1 + ends) / 2)[inverse.reshape(-1)]
    return ranks


def mean_rank(
    accuracy_difference: Any, observed_consistency: Any, error_consistency: Any
) -> np.ndarray:
    """The benchmark's mean rank: mean of the ranks of accuracy difference (ascending)
    and of observed and error consistency (descending), ties at their average rank.

    Example:
        >>> from shapebias.metrics import mean_rank
        >>> mean_rank([0.08, 0.09, 0.16], [0.667, 0.665, 0.567], [0.18, 0.21, 0.14]).tolist()
        [1.3333333333333333, 1.6666666666666667, 3.0]
    """
    ranks = (
        average_ranks(accuracy_difference),
        average_ranks(observed_consistency, descending=True),
        average_ranks(error_consistency, descending=True),
    )
    return (ranks[0] + ranks[1] + ranks[2]) / 3


def human_benchmark(
    raw: Mapping[str, Mapping[str, TrialsLike]], models: Sequence[str] | None = None
) -> HumanBenchmark:
    """The model-vs-human benchmark table from raw trials.

    For each dataset with human trials, every decision-maker's trials are aligned by
    condition and image (:func:`shapebias.data.image_id`). A trial is right when
    ``object_response == category`` (a human ``"na"`` is wrong). The conditions in
    :data:`EXCLUDED_CONDITIONS` are left out; the non-parametric datasets keep all trials
    as one condition (cue-conflict: right = the shape category).

    - OOD accuracy: accuracy over a dataset's kept trials (the humans' row pools its
      subjects), then the mean over the datasets, each weighted equally.
    - accuracy difference ``(p_m - p_h)^2``, observed consistency ``c_obs`` and error
      consistency ``kappa = (c_obs - c_exp) / (1 - c_exp)`` (1 where ``c_obs == 1``),
      ``c_exp = p_m p_h + (1 - p_m)(1 - p_h)``: for each model, human subject and kept
      condition; then the mean over conditions, over subjects, over datasets. The humans'
      row does the same over all unique pairs of subjects.
    - shape bias: ``#shape / (#shape + #texture)`` over the cue-conflict trials whose
      shape and texture categories differ.
    - mean rank: over the models, the mean of the ranks of the three human-likeness
      metrics (:func:`mean_rank`).

    A model without trials on some dataset with human trials is scored on the others and
    its row marked partial (:attr:`BenchmarkRow.missing`).

    Args:
        raw: dataset -> decision-maker -> trials, from
            :func:`shapebias.data.read_raw_trials`.
        models: the models to score (decision-maker names); default every non-human
            decision-maker found.

    Returns:
        A :class:`HumanBenchmark`.

    Raises:
        ValueError: no dataset with human trials, no model, an unknown model name,
            images that do not align with the human trials, a cue-conflict name whose
            texture is outside the 16 categories.

    Example:
        >>> from shapebias.data import read_raw_trials
        >>> from shapebias.metrics import human_benchmark
        >>> table = human_benchmark(read_raw_trials("raw-data"))  # doctest: +SKIP
        >>> table.rows["resnet50"].error_consistency  # doctest: +SKIP
        0.2079...

    References:
        Geirhos et al., "Partial success in closing the gap between human and machine
        vision", NeurIPS 2021; Geirhos, Meding & Wichmann, "Beyond accuracy: quantifying
        trial-by-trial behaviour of CNNs and humans by measuring error consistency",
        NeurIPS 2020.
    """
    with_humans = [d for d, makers in raw.items() if any(t.human for t in makers.values())]
    if not with_humans:
        raise ValueError(
            f"raw must hold human trials (decision-makers subject-01, ...) for at least one "
            f"dataset, got datasets {sorted(raw)} without any. Add the human raw data."
        )
    for d in sorted(set(raw) - set(with_humans)):
        logger.warning("dataset %r has no human trials: not scored", d)
    datasets = tuple(
        [d for d in BENCHMARK_DATASETS if d in with_humans]
        + sorted(d for d in with_humans if d not in BENCHMARK_DATASETS)
    )
    extra = tuple(d for d in datasets if d not in BENCHMARK_DATASETS)
    for d in extra:
        logger.warning(
            "dataset %r is not one of the benchmark's 17: scored per dataset with all its "
            "conditions, left out of the means",
            d,
        )
    found = sorted({m for d in datasets for m, t in raw[d].items() if not t.human})
    chosen = _chosen_models(models, found)
    scores: dict[str, dict[str, DatasetScores]] = {m: {} for m in [*chosen, HUMAN_ROW]}
    for dataset in datasets:
        makers = raw[dataset]
        humans = [m for m, t in makers.items() if t.human]
        present = [m for m in chosen if m in makers]
        aligned = aligned_outcomes(dataset, {m: makers[m] for m in [*humans, *present]})
        for name, score in _dataset_scores(aligned, len(humans)).items():
            scores[name][dataset] = score
    biases = human_shape_biases(raw[_CUE_CONFLICT], chosen) if _CUE_CONFLICT in datasets else {}
    rows = {name: _row(scores[name], datasets, extra, biases.get(name)) for name in scores}
    ranks = mean_rank(*([getattr(rows[m], k) for m in chosen] for k in METRICS))
    for model, rank in zip(chosen, ranks.tolist(), strict=True):
        rows[model] = dataclasses.replace(rows[model], mean_rank=rank)
    ordered = sorted(chosen, key=lambda m: (math.isnan(rows[m].mean_rank), rows[m].mean_rank, m))
    return HumanBenchmark(
        rows={m: rows[m] for m in [*ordered, HUMAN_ROW]}, datasets=datasets, extra=extra
    )


def _chosen_models(models: Sequence[str] | None, found: list[str]) -> list[str]:
    if models is None:
        if not found:
            raise ValueError(
                "raw holds no model trials on the datasets with human trials; add a model's "
                "raw-trial CSVs (shapebias evaluate --humans writes them)."
            )
        return found
    if isinstance(models, str) or not all(isinstance(m, str) for m in models) or not models:
        raise TypeError(f"models must be a non-empty list of model names, got {models!r}.")
    unknown = [m for m in models if m not in found]
    if unknown:
        raise ValueError(
            f"models {unknown} have no trials on the datasets with human trials; models "
            f"found: {', '.join(found) or 'none'}."
        )
    return list(dict.fromkeys(models))


def _dataset_scores(aligned: Aligned, num_humans: int) -> dict[str, DatasetScores]:
    tables = condition_tables(aligned).mean(1)  # (3, makers, makers): mean over conditions
    kept = aligned.correct[:, aligned.kept]
    conditions = tuple(aligned.labels.get(k, k) for k in aligned.kept_conditions if k)

    def scores(accuracy: float, means: np.ndarray) -> DatasetScores:
        difference, observed, kappa = (float(v) for v in means)
        return DatasetScores(
            accuracy, difference, observed, kappa, conditions, num_humans, kept.shape[1]
        )

    result = {
        name: scores(float(kept[i].mean()), tables[:, i, :num_humans].mean(1))  # over subjects
        for i, name in enumerate(aligned.names[num_humans:], start=num_humans)
    }
    upper = np.triu_indices(num_humans, k=1)
    pairs = tables[:, upper[0], upper[1]]  # (3, unique pairs of subjects)
    human = pairs.mean(1) if pairs.shape[1] else np.full(3, np.nan)
    result[HUMAN_ROW] = scores(float(kept[:num_humans].mean()), human)
    return result


def _row(
    scores: dict[str, DatasetScores],
    datasets: tuple[str, ...],
    extra: tuple[str, ...],
    bias: ShapeBias | None,
) -> BenchmarkRow:
    counted = [scores[d] for d in datasets if d in scores and d not in extra]
    missing = tuple(d for d in datasets if d not in scores and d not in extra)

    def mean(key: str) -> float:
        values = [getattr(s, key) for s in counted if not math.isnan(getattr(s, key))]
        return float(np.mean(values)) if values else math.nan

    return BenchmarkRow(
        ood_accuracy=mean("accuracy"),
        accuracy_difference=mean("accuracy_difference"),
        observed_consistency=mean("observed_consistency"),
        error_consistency=mean("error_consistency"),
        shape_bias=math.nan if bias is None else bias.shape_bias.value,
        shape_bias_per_category={}
        if bias is None
        else {k: v.value for k, v in bias.per_class.items()},
        mean_rank=math.nan,
        datasets={d: scores[d] for d in datasets if d in scores},
        missing=missing,
    )


def _indices(values: np.ndarray, what: str, allowed: tuple[str, ...]) -> torch.Tensor:
    lookup = {name: i for i, name in enumerate(allowed)}
    unique, inverse = np.unique(values, return_inverse=True)
    bad = [u for u in unique.tolist() if u not in lookup]
    if bad:
        raise ValueError(
            f"{what} must be among the 16 categories, got {', '.join(map(repr, bad[:_SHOWN]))}. "
            "Cue-conflict stimuli are named <shape><i>-<texture><j>.png."
        )
    codes = np.array([lookup[u] for u in unique.tolist()], dtype=np.int64)
    return torch.from_numpy(codes[inverse.reshape(-1)])


def human_shape_biases(
    makers: Mapping[str, TrialsLike],
    models: Sequence[str],
    *,
    seed: int = 0,
    confidence: float = 0.95,
    num_bootstrap: int = 0,
) -> dict[str, ShapeBias]:
    """Shape bias of each model and of the humans pooled, from cue-conflict trials.

    The shape category is ``category``, the texture category the second name of the
    stimulus (:func:`shapebias.data.cue_conflict_texture`); trials with equal shape and
    texture are left out and a human ``"na"`` matches neither cue.
    """
    groups = {m: [makers[m]] for m in models if m in makers}
    groups[HUMAN_ROW] = [t for t in makers.values() if t.human]
    result = {}
    for name, group in groups.items():
        if not group:
            continue
        decisions = np.concatenate([t.object_response for t in group])
        shapes = np.concatenate([t.category for t in group])
        textures = np.concatenate([t.textures for t in group])
        result[name] = summarise_decisions(
            _indices(decisions, "object_response", (*_CATEGORIES, "na")),
            _indices(shapes, "the cue-conflict shape category", _CATEGORIES),
            _indices(textures, "the cue-conflict texture category", _CATEGORIES),
            _CATEGORIES,
            seed=seed, confidence=confidence, num_bootstrap=num_bootstrap,
        )  # fmt: skip
    return result
