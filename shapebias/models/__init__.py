"""Models: input normalisation, small-image ResNet-18, a tiny CNN, mode helpers, model stacks,
and networks built from local weight files (torchvision, timm, robustness, RobustBench)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from shapebias.models._pretrained import (
        build_architecture,
        check_architecture_name,
        load_pretrained,
    )
    from shapebias.models._resnet import resnet18
    from shapebias.models._small_cnn import small_cnn
    from shapebias.models._stacked import StackedModels, check_unstacked, holds_stack
    from shapebias.models._stacked_loader import StackedLoader
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CRAFTING_MODES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NormalizedModel",
    "StackedLoader",
    "StackedModels",
    "TrainModeWarning",
    "batchnorm_statistics_kept",
    "build_architecture",
    "check_architecture_name",
    "check_unstacked",
    "crafting",
    "eval_mode",
    "frozen",
    "holds_stack",
    "load_pretrained",
    "resnet18",
    "small_cnn",
    "train_mode",
    "warn_if_train_mode",
]
