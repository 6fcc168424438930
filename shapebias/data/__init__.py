"""Data: real sample images, a shape/texture dataset with controlled cues, real-data loaders."""

from shapebias.data._shape_texture import (
    DEFAULT_TEXTURE_CONTRAST,
    SPLITS,
    ItemSpec,
    ShapeTextureDataset,
)
from shapebias.data._shapes import SHAPES
from shapebias.data._textures import TEXTURES

__all__ = [
    "DEFAULT_TEXTURE_CONTRAST",
    "SHAPES",
    "SPLITS",
    "TEXTURES",
    "ItemSpec",
    "ShapeTextureDataset",
]
