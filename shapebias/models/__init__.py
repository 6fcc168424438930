"""Models: input normalisation inside the model, small-image ResNet-18, a tiny CNN, mode helpers."""

from shapebias.models._modes import (
    CRAFTING_MODES,
    TrainModeWarning,
    batchnorm_statistics_kept,
    crafting,
    eval_mode,
    frozen,
    train_mode,
    warn_if_train_mode,
)
from shapebias.models._normalized import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    NormalizedModel,
)
from shapebias.models._resnet import resnet18
from shapebias.models._small_cnn import small_cnn

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CRAFTING_MODES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NormalizedModel",
    "TrainModeWarning",
    "batchnorm_statistics_kept",
    "crafting",
    "eval_mode",
    "frozen",
    "resnet18",
    "small_cnn",
    "train_mode",
    "warn_if_train_mode",
]
