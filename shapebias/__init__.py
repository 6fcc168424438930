"""shapebias: why adversarially trained CNNs are robust, as small composable PyTorch modules."""

from shapebias import (
    attacks,
    data,
    distortions,
    experiments,
    frequency,
    metrics,
    models,
    saliency,
    training,
)
from shapebias._environment import environment_record
from shapebias._version import __version__

__all__ = [
    "__version__",
    "attacks",
    "data",
    "distortions",
    "environment_record",
    "experiments",
    "frequency",
    "metrics",
    "models",
    "saliency",
    "training",
]
