"""shapebias: why adversarially trained CNNs are robust, as small composable PyTorch modules."""

from typing import TYPE_CHECKING

from shapebias._version import __version__

if TYPE_CHECKING:
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
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

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
