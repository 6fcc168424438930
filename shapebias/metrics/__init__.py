"""Metrics: accuracy on distorted test sets, shape bias, error consistency, saliency metrics,
the model-vs-human benchmark from raw trials, and seed-paired statistics for comparing
model sets (paired difference, Holm, verdicts)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias.metrics._bootstrap import Estimate
    from shapebias.metrics._category_model import CategoryModel
    from shapebias.metrics._class_map import IMAGENET_16_CLASS_MAP, aggregate_probabilities
    from shapebias.metrics._distortion_accuracy import (
        DistortionAccuracy,
        accuracy_table,
        distortion_accuracy,
    )
    from shapebias.metrics._error_consistency import ErrorConsistency, error_consistency
    from shapebias.metrics._human_benchmark import (
        BENCHMARK_DATASETS,
        EXCLUDED_CONDITIONS,
        HUMAN_ROW,
        NONPARAMETRIC_DATASETS,
        BenchmarkRow,
        DatasetScores,
        HumanBenchmark,
        average_ranks,
        human_benchmark,
        mean_rank,
    )
    from shapebias.metrics._human_comparison import HumanComparison, compare_with_humans
    from shapebias.metrics._human_figures import plot_consistency, plot_shape_bias_per_category
    from shapebias.metrics._null import texture_blind_null
    from shapebias.metrics._paired import (
        AT_DID_NOT_FIT,
        CANNOT_DISCRIMINATE,
        HOLDS,
        IMAGES_ONLY,
        METHODS,
        NO_DIFFERENCE,
        ONE_SEED,
        REVERSED,
        VERDICTS,
        Holm,
        PairedDifference,
        holm,
        paired_difference,
        verdict,
    )
    from shapebias.metrics._saliency_metrics import (
        concentration,
        edge_alignment,
        image_edges,
        saliency_similarity,
    )
    from shapebias.metrics._shape_bias import ShapeBias, shape_bias, shape_bias_table
    from shapebias.metrics._tables import format_estimate
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "AT_DID_NOT_FIT",
    "BENCHMARK_DATASETS",
    "CANNOT_DISCRIMINATE",
    "EXCLUDED_CONDITIONS",
    "HOLDS",
    "HUMAN_ROW",
    "IMAGENET_16_CLASS_MAP",
    "IMAGES_ONLY",
    "METHODS",
    "NONPARAMETRIC_DATASETS",
    "NO_DIFFERENCE",
    "ONE_SEED",
    "REVERSED",
    "VERDICTS",
    "BenchmarkRow",
    "CategoryModel",
    "DatasetScores",
    "DistortionAccuracy",
    "ErrorConsistency",
    "Estimate",
    "Holm",
    "HumanBenchmark",
    "HumanComparison",
    "PairedDifference",
    "ShapeBias",
    "accuracy_table",
    "aggregate_probabilities",
    "average_ranks",
    "compare_with_humans",
    "concentration",
    "distortion_accuracy",
    "edge_alignment",
    "error_consistency",
    "format_estimate",
    "holm",
    "human_benchmark",
    "image_edges",
    "mean_rank",
    "paired_difference",
    "plot_consistency",
    "plot_shape_bias_per_category",
    "saliency_similarity",
    "shape_bias",
    "shape_bias_table",
    "texture_blind_null",
    "verdict",
]
