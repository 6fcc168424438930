"""Data: real sample images, a shape/texture dataset with controlled cues, real-data loaders.

Nothing here downloads anything. Constants:

- ``SAMPLE_NAMES``: the names :func:`sample_images` accepts (five photographs, then the
  real textures ``brick``, ``grass``, ``gravel``).
- ``SPLITS``: the splits of :class:`ShapeTextureDataset`: ``train``, ``test``,
  ``shape_only``, ``texture_only``, ``cue_conflict``.
- ``SHAPES`` and ``TEXTURES``: shape and texture-family names in class order; class
  ``k`` owns ``SHAPES[k]`` and ``TEXTURES[k]``.
- ``DEFAULT_TEXTURE_CONTRAST``: 0.06, the high-pass contrast of scikit-image's real
  textures (see :class:`ShapeTextureDataset`).
- ``SHAPE_TEXTURE_AXES``: one :class:`DatasetAxis` (name, default, help) per keyword of
  :class:`ShapeTextureDataset` that changes how its images look.
- ``CALIBRATED_AXES``: the values of those keywords fixed for the paper's experiment
  from standard models alone (see the calibration page of the docs); the dataset's own
  defaults stay the original images.
- ``IMAGE_EXTENSIONS``: the file endings :func:`image_folder` accepts by default.
- ``RAW_TRIAL_COLUMNS`` and ``NO_RESPONSE``: the columns of a model-vs-human raw-trial CSV
  and the human response that means "no answer" (``"na"``, counted as wrong).
- ``CATEGORIES_16``: Geirhos et al.'s 16 entry-level categories, alphabetical: the label
  order of :class:`CueConflictDataset`, :func:`stimulus_folder` and :func:`ood_datasets`.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias._conditions import condition_key
    from shapebias._device_loader import DeviceLoader
    from shapebias.data._categories import CATEGORIES_16
    from shapebias.data._datasets import ImageArrayDataset, ImageFileDataset
    from shapebias.data._loaders import (
        IMAGE_EXTENSIONS,
        caltech256,
        cifar10,
        image_folder,
        tiny_imagenet,
    )
    from shapebias.data._raw_trials import (
        NO_RESPONSE,
        RAW_TRIAL_COLUMNS,
        Trials,
        cue_conflict_texture,
        image_id,
        is_human,
        read_raw_trials,
        write_raw_trials,
    )
    from shapebias.data._samples import SAMPLE_NAMES, sample_images
    from shapebias.data._shape_texture import (
        CALIBRATED_AXES,
        DEFAULT_TEXTURE_CONTRAST,
        SHAPE_TEXTURE_AXES,
        SPLITS,
        DatasetAxis,
        ItemSpec,
        ShapeTextureDataset,
    )
    from shapebias.data._shapes import SHAPES
    from shapebias.data._stimuli import (
        CueConflictDataset,
        ood_datasets,
        stimulus_folder,
        stimulus_transform,
    )
    from shapebias.data._tensors import dataset_tensors
    from shapebias.data._textures import TEXTURES
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "CALIBRATED_AXES",
    "CATEGORIES_16",
    "DEFAULT_TEXTURE_CONTRAST",
    "IMAGE_EXTENSIONS",
    "NO_RESPONSE",
    "RAW_TRIAL_COLUMNS",
    "SAMPLE_NAMES",
    "SHAPES",
    "SHAPE_TEXTURE_AXES",
    "SPLITS",
    "TEXTURES",
    "CueConflictDataset",
    "DatasetAxis",
    "DeviceLoader",
    "ImageArrayDataset",
    "ImageFileDataset",
    "ItemSpec",
    "ShapeTextureDataset",
    "Trials",
    "caltech256",
    "cifar10",
    "condition_key",
    "cue_conflict_texture",
    "dataset_tensors",
    "image_folder",
    "image_id",
    "is_human",
    "ood_datasets",
    "read_raw_trials",
    "sample_images",
    "stimulus_folder",
    "stimulus_transform",
    "tiny_imagenet",
    "write_raw_trials",
]
