"""The 16 entry-level categories of Geirhos et al. (2019), in a module that imports nothing
(the raw-trial tables need them without torch or torchvision)."""

__all__ = ["CATEGORIES_16"]

CATEGORIES_16 = (
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock",
    "dog", "elephant", "keyboard", "knife", "oven", "truck",
)  # fmt: skip
"""The 16 entry-level categories of Geirhos et al. (2019), alphabetical: the class order of
the stimulus datasets and the key order of :data:`shapebias.metrics.IMAGENET_16_CLASS_MAP`."""
