"""shapebias: why adversarially trained CNNs are robust, as small composable PyTorch modules."""

__version__ = "0.1.0"

from shapebias import attacks, data, distortions, metrics, models, saliency, training

__all__ = [
    "__version__",
    "attacks",
    "data",
    "distortions",
    "metrics",
    "models",
    "saliency",
    "training",
]
