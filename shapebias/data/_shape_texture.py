"""ShapeTextureDataset: procedural shapes filled with textures, shape and texture controlled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from shapebias._seeds import item_stream
from shapebias._validation import check_callable, check_choice, check_int, check_real
from shapebias.data._levels import to_8bit_levels
from shapebias.data._occlusion import occluder_coverage, occluder_offset
from shapebias.data._preview import image_grid
from shapebias.data._shapes import SHAPES, deformation_harmonics, shape_mask
from shapebias.data._textures import (
    BASE_CYCLES,
    TEXTURES,
    pixel_grid,
    render_texture,
    warm_up,
)

__all__ = [
    "CALIBRATED_AXES",
    "DEFAULT_TEXTURE_CONTRAST",
    "SHAPE_TEXTURE_AXES",
    "SPLITS",
    "DatasetAxis",
    "ItemSpec",
    "ShapeTextureDataset",
]

SPLITS = ("train", "test", "shape_only", "texture_only", "cue_conflict")
"""The splits of :class:`ShapeTextureDataset`; each has its own random stream."""

DEFAULT_TEXTURE_CONTRAST = 0.06
"""High-pass contrast of real textures: scikit-image's brick, grass and gravel measure
0.054, 0.055 and 0.066 (mean 0.059) at 64x64; see :class:`ShapeTextureDataset`."""

_DEFAULT_SIZES = {
    "train": 10_000,
    "test": 2_000,
    "shape_only": 2_000,
    "texture_only": 2_000,
    "cue_conflict": 2_000,
}
_OBJECT_SIZE = (0.28, 0.45)
_MAX_DEFORMATION = 0.25
_MAX_OCCLUSION = 0.5
_MIN_RADIUS_PX = 2.0
_COLOUR_RANGE = (0.2, 0.8)
MAX_CLASSES = min(len(SHAPES), len(TEXTURES))


@dataclass(frozen=True)
class DatasetAxis:
    """One image-generation setting of :class:`ShapeTextureDataset`.

    Attributes:
        name: the keyword argument of :class:`ShapeTextureDataset`.
        default: its default value.
        help: what it controls, in one line.
    """

    name: str
    default: Any
    help: str


SHAPE_TEXTURE_AXES = (
    DatasetAxis(
        "texture_correlation",
        1.0,
        "probability that a train/test object's fill texture is its class's own",
    ),
    DatasetAxis(
        "texture_contrast",
        DEFAULT_TEXTURE_CONTRAST,
        "high-pass standard deviation of every texture, in [0, 0.5]",
    ),
    DatasetAxis(
        "texture_cycles",
        BASE_CYCLES,
        "texture periods across the image (period = image_size / texture_cycles px), "
        "1 to image_size / 2",
    ),
    DatasetAxis(
        "object_size",
        _OBJECT_SIZE,
        "(low, high): the shape's bounding-disk radius as a share of image_size, "
        "0 < low <= high <= 0.5",
    ),
    DatasetAxis(
        "shape_deformation",
        0.0,
        "amplitude of a smooth random boundary warp (radius factor in [1-a, 1+a]), "
        f"in [0, {_MAX_DEFORMATION:g}]",
    ),
    DatasetAxis(
        "background_match",
        0.0,
        "probability that the background carries the fill's texture family (drawn afresh), "
        "in [0, 1]",
    ),
    DatasetAxis(
        "occlusion",
        0.0,
        "share of each object's area hidden behind a flat straight-edged occluder, "
        f"in [0, {_MAX_OCCLUSION:g}]",
    ),
)
"""Every keyword of :class:`ShapeTextureDataset` that changes how images look, so that
scripts can expose them (``reproduce_paper.py --set NAME=VALUE``) without guessing."""

CALIBRATED_AXES: dict[str, Any] = {
    "texture_correlation": 1.0,
    "texture_contrast": DEFAULT_TEXTURE_CONTRAST,
    "texture_cycles": 8.0,
    "object_size": _OBJECT_SIZE,
    "shape_deformation": 0.2,
    "occlusion": 0.0,
    "background_match": 0.25,
}
"""The dataset setting of the paper's experiment, fixed from standard models alone.

Both cues predict the label (``texture_correlation`` 1), the texture is fine (period
``32 / 8 = 4`` pixels at 32x32) at the real textures' contrast, every outline is
deformed (``shape_deformation`` 0.2), and a quarter of the backgrounds carry the fill's
texture family (``background_match`` 0.25). It was chosen, before any adversarially
trained model was trained on it, as a setting of a small grid whose standard
``small_cnn`` models (trained like the reproduction's, 2 seeds) met every target:
cue-conflict shape bias <= 0.35, shape-only accuracy >= chance + 15 points,
texture-only accuracy under PGD-10 at 2/255 and 4/255 <= chance + 10 points, and
(since 2026-12-07, which added ``background_match``) accuracy on 4x4 patch-shuffled and
on low-passed test images >= chance + 10 points. The runs, the targets and the rules
are in ``docs/calibration.rst`` (``examples/calibrate_dataset.py`` reruns them).
The dataset's own defaults are unchanged; pass ``**CALIBRATED_AXES`` to get this setting.
"""


@dataclass(frozen=True)
class ItemSpec:
    """Everything random about one item except the texture phase (see ShapeTextureDataset).

    Attributes:
        shape_class: the class whose shape is drawn (for ``texture_only``: the label).
        texture_class: the class whose assigned texture fills the object, or ``None``
            when the fill texture belongs to no class.
        shape: shape name, ``None`` for ``texture_only`` (no object).
        fill_texture: texture family inside the object (the whole image for
            ``texture_only``).
        background_texture: texture family outside the object (``None`` for ``texture_only``).
        centre: object centre ``(x, y)`` in pixels.
        radius: radius of the shape's bounding disk in pixels.
        rotation: counter-clockwise rotation in radians.
        fill_colour: RGB base colour of the object.
        background_colour: RGB base colour of the background.
        deformation: boundary-warp coefficients (see
            :func:`shapebias.data._shapes.deformation_harmonics`), ``None`` when
            ``shape_deformation`` is 0.
        occluder: ``(angle, offset)`` of the occluding half-plane
            ``x cos(angle) + y sin(angle) > offset`` (pixels), ``None`` without occlusion.
        occluder_colour: its flat RGB colour, ``None`` without occlusion.
    """

    shape_class: int
    texture_class: int | None
    shape: str | None
    fill_texture: str
    background_texture: str | None
    centre: tuple[float, float] | None
    radius: float | None
    rotation: float | None
    fill_colour: tuple[float, float, float]
    background_colour: tuple[float, float, float] | None
    deformation: tuple[float, ...] | None = None
    occluder: tuple[float, float] | None = None
    occluder_colour: tuple[float, float, float] | None = None


class ShapeTextureDataset(Dataset):
    """Procedural shapes filled with textures, with shape and texture cues under control.

    Class ``k`` is the shape ``SHAPES[k]`` and the texture family ``TEXTURES[k]``:

    ===== ========= ======== ===== ========= ======== ===== ======== =======
    class shape     texture  class shape     texture  class shape    texture
    ===== ========= ======== ===== ========= ======== ===== ======== =======
    0     circle    stripes  4     cross     brick    8     arrow    grid
    1     square    checks   5     heart     grass    9     ell      speckle
    2     triangle  dots     6     crescent  gravel   10    ellipse  rings
    3     star      waves    7     ring      zigzag   11    bowtie   mottle
    ===== ========= ======== ===== ========= ======== ===== ======== =======

    An image is a shape filled with one texture on a background with another texture.
    Texture families other than the classes' own (with fewer than 12 classes) still
    appear as random fill and background textures.

    Splits (each with its own random stream, so no two splits share an item):

    - ``train``, ``test``: same statistics. Shape of class ``y``; fill texture is
      class ``y``'s with probability ``texture_correlation``, otherwise uniform over
      the 11 other families. Items are ``(image, y)``.
    - ``shape_only``: shape of class ``y``, fill texture uniform over all 12 families
      (independent of ``y``). Items are ``(image, y)``.
    - ``texture_only``: no object; the whole image is class ``y``'s texture on one
      colour. Items are ``(image, y)``.
    - ``cue_conflict``: shape of class ``s``, fill texture of class ``t != s``.
      Items are ``(image, s, t)``.

    Labels are balanced by index: ``y = i % num_classes``; in ``cue_conflict`` item
    ``i`` takes the ``i % (K * (K - 1))``-th ordered pair ``(s, t)``, ``s != t``.
    The background texture is uniform over the families that are neither the fill
    texture nor the texture of any label the item carries, so it never hints at the
    answer; with ``background_match = m`` it is instead the fill's family with
    probability ``m`` (for ``cue_conflict``: the texture class, for ``shape_only``: the
    random fill), so the texture cue can cover the whole image.

    Random per item: shape radius (uniform in ``object_size * image_size``, default
    ``[0.28, 0.45] * image_size``; the shape's bounding disk), centre (uniform where
    that disk, grown by ``1 + shape_deformation``, stays inside the image, or at the
    image centre when it cannot), rotation
    (uniform in ``[0, 2 pi)``), the object and background base colours (each RGB
    channel uniform in ``[0.2, 0.8]``), and per texture its period
    (``image_size / texture_cycles`` times ``2**u``, ``u ~ U[-0.25, 0.25]``),
    orientation (uniform in ``[0, pi)``) and phase, or for the tile families (brick,
    grass, gravel, mottle) the crop offset and a random flip / quarter turn. The
    outline is antialiased.

    Shape difficulty (both off by default): ``shape_deformation = a`` warps the outline
    smoothly, moving the point at angle ``theta`` from the centre by the factor
    ``1 + sum_k a_k cos(k theta + phi_k)`` (``k = 2, 3, 4``, random ``a_k`` with
    ``sum |a_k| = a``, random phases), so every item's outline differs while the class
    stays recognisable (a test bounds the IoU with the undeformed shape and checks the
    nearest undeformed shape is the item's own). ``occlusion = s`` lays a flat, randomly
    coloured half-plane at a random angle over the image, placed so that it hides
    exactly the share ``s`` of the object's area (antialiased, to far below a pixel).

    Item ``i`` depends only on ``(seed, split, i)`` through its own
    :class:`numpy.random.Generator` (``shapebias._seeds.item_stream(seed,
    SPLITS.index(split), i)``), never on global random state, so it is the same
    whatever the DataLoader order, batch size or number of workers. Images are rendered
    in float64 and rounded to the 8-bit levels ``k / 255`` of a real image, so they are
    the same on every CPU, SIMD level and thread count (see "Same seed, same data on any
    machine" in the conventions).

    ``texture_contrast`` is the high-pass standard deviation of the texture (the
    standard deviation of ``t - gaussian_filter(t, image_size / 16)``): every family is
    normalised to it, so no texture is louder than another. The default, 0.06, was
    fixed from data before any model was trained: scikit-image's real ``brick``,
    ``grass`` and ``gravel`` photographs, resized to 64x64 (``skimage.transform.resize``,
    antialiased), in ``[0, 1]``, measure 0.054, 0.055 and 0.066 with
    ``gaussian_filter(sigma=2, mode="reflect")`` (mean 0.059). At 32x32 the real
    textures thus appear at about their natural contrast. Compare it with the attack
    budget: 8/255 = 0.031.

    Args:
        split: one of ``SPLITS``.
        num_classes: number of classes, 2 to 12.
        image_size: height and width in pixels (at least 16).
        texture_correlation: probability in ``[0, 1]`` that a ``train``/``test`` fill
            texture is the class's own (the texture shortcut).
        texture_contrast: high-pass contrast of every texture, in ``[0, 0.5]``.
        texture_cycles: texture periods across the image, from 1 to ``image_size / 2``
            (a period of at least 2 pixels); the real textures and ``mottle`` scale by
            the same factor.
        object_size: ``(low, high)`` range of the shape's bounding-disk radius as a
            share of ``image_size``; ``0 < low <= high <= 0.5`` and
            ``low * image_size >= 2`` pixels.
        shape_deformation: amplitude of the smooth boundary warp, in ``[0, 0.25]``.
        occlusion: share of the object's area hidden by the occluder, in ``[0, 0.5]``
            (more would leave too little of the outline to tell the class).
        background_match: probability in ``[0, 1]`` that the background's texture is the
            fill's family (its own period, orientation and phase), so that the texture
            cue covers the whole image, as a photograph's texture often does; the object
            then stands out by its colour and outline only.
        size: number of items (default 10 000 for ``train``, 2 000 otherwise).
        seed: non-negative integer; the whole dataset is a function of it.
        transform: optional callable applied to the image tensor.

    Shape:
        images: ``(3, image_size, image_size)`` float32 in ``[0, 1]``, multiples of
        ``1 / 255``.

    Raises:
        ValueError: an unknown split or an argument out of range.
        TypeError: an argument of the wrong type.

    Example:
        >>> from shapebias.data import ShapeTextureDataset
        >>> data = ShapeTextureDataset("cue_conflict", num_classes=4, size=8)
        >>> image, shape_label, texture_label = data[0]
        >>> image.shape, shape_label != texture_label
        (torch.Size([3, 32, 32]), True)

    References:
        Hermann & Lampinen, "What shapes feature representations? Exploring datasets,
        architectures, and training", NeurIPS 2020 (the Trifeature idea).
    """

    def __init__(
        self,
        split: str,
        *,
        num_classes: int = 10,
        image_size: int = 32,
        texture_correlation: float = 1.0,
        texture_contrast: float = DEFAULT_TEXTURE_CONTRAST,
        texture_cycles: float = BASE_CYCLES,
        object_size: tuple[float, float] = _OBJECT_SIZE,
        shape_deformation: float = 0.0,
        occlusion: float = 0.0,
        background_match: float = 0.0,
        size: int | None = None,
        seed: int = 0,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        self.split = check_choice(split, "split", SPLITS)
        self.num_classes = _check_num_classes(num_classes)
        self.image_size = check_int(image_size, "image_size", low=16)
        self.texture_correlation = check_real(
            texture_correlation, "texture_correlation", low=0.0, high=1.0
        )
        self.texture_contrast = check_real(texture_contrast, "texture_contrast", low=0.0, high=0.5)
        self.texture_cycles = _check_cycles(texture_cycles, self.image_size)
        self.shape_deformation = check_real(
            shape_deformation, "shape_deformation", low=0.0, high=_MAX_DEFORMATION
        )
        self.object_size = _check_object_size(object_size, self.image_size)
        self.occlusion = _check_occlusion(occlusion)
        self.background_match = check_real(background_match, "background_match", low=0.0, high=1.0)
        self.size = _DEFAULT_SIZES[split] if size is None else check_int(size, "size", low=1)
        self.seed = check_int(seed, "seed", low=0)
        self.transform = None if transform is None else check_callable(transform, "transform")
        self._split_id = SPLITS.index(split)
        warm_up(self.image_size, self.texture_cycles)

    @property
    def class_shapes(self) -> tuple[str, ...]:
        """Shape name of each class."""
        return SHAPES[: self.num_classes]

    @property
    def class_textures(self) -> tuple[str, ...]:
        """Texture family of each class."""
        return TEXTURES[: self.num_classes]

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return (
            f"ShapeTextureDataset({self.split!r}, num_classes={self.num_classes}, "
            f"image_size={self.image_size}, texture_correlation={self.texture_correlation:g}, "
            f"texture_contrast={self.texture_contrast:g}, "
            f"texture_cycles={self.texture_cycles:g}, object_size={self.object_size}, "
            f"shape_deformation={self.shape_deformation:g}, occlusion={self.occlusion:g}, "
            f"background_match={self.background_match:g}, "
            f"size={self.size}, seed={self.seed})"
        )

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        spec, image = self._generate(index)
        if self.transform is not None:
            image = self.transform(image)
        if self.split == "cue_conflict":
            return image, spec.shape_class, spec.texture_class
        return image, spec.shape_class

    def spec(self, index: int) -> ItemSpec:
        """The random choices behind item ``index`` (its classes, textures, geometry, colours)."""
        index = _check_index(index, self.size)
        return self._sample_spec(index, self._rng(index))

    def preview(self, num_images: int = 16, *, columns: int = 8, start: int = 0) -> Any:
        """A matplotlib figure of items ``start, ..., start + num_images - 1`` with their labels.

        Titles read ``shape / fill texture``; needs matplotlib (``pip install shapebias[plot]``).

        Returns:
            matplotlib.figure.Figure
        """
        check_int(num_images, "num_images", low=1)
        check_int(start, "start", low=0)
        specs, images = zip(
            *(self._generate(i) for i in range(start, min(start + num_images, self.size))),
            strict=True,
        )
        titles = [f"{s.shape or '-'} / {s.fill_texture}" for s in specs]
        return image_grid(torch.stack(images), titles, columns=columns)

    def _rng(self, index: int) -> np.random.Generator:
        return item_stream(self.seed, self._split_id, index)

    def _generate(self, index: Any) -> tuple[ItemSpec, torch.Tensor]:
        index = _check_index(index, self.size)
        rng = self._rng(index)
        spec = self._sample_spec(index, rng)
        return spec, self._render(spec, rng)

    def _sample_spec(self, index: int, rng: np.random.Generator) -> ItemSpec:
        shape_class, texture_class, fill = self._sample_classes(index, rng)
        fill_colour = _colour(rng)
        if self.split == "texture_only":
            return ItemSpec(shape_class, texture_class, None, fill, None, None, None, None,
                            fill_colour, None)  # fmt: skip
        background = self._sample_background(shape_class, fill, rng)
        radius = rng.uniform(*self.object_size) * self.image_size
        extent = min(radius * (1.0 + self.shape_deformation), self.image_size / 2)
        centre = rng.uniform(extent, self.image_size - extent, size=2)
        rotation = rng.uniform(0.0, 2 * np.pi)
        background_colour = _colour(rng)
        deformation = None
        if self.shape_deformation > 0:
            deformation = deformation_harmonics(self.shape_deformation, rng)
        occluder, occluder_colour = None, None
        if self.occlusion > 0:
            x, y = pixel_grid(self.image_size)
            mask = shape_mask(
                SHAPES[shape_class], x, y, (centre[0], centre[1]), radius, rotation, deformation
            )
            angle = float(rng.uniform(0.0, 2 * np.pi))
            occluder = (angle, occluder_offset(mask, x, y, angle, self.occlusion))
            occluder_colour = _colour(rng)
        return ItemSpec(
            shape_class=shape_class,
            texture_class=texture_class,
            shape=SHAPES[shape_class],
            fill_texture=fill,
            background_texture=background,
            centre=(float(centre[0]), float(centre[1])),
            radius=float(radius),
            rotation=float(rotation),
            fill_colour=fill_colour,
            background_colour=background_colour,
            deformation=deformation,
            occluder=occluder,
            occluder_colour=occluder_colour,
        )

    def _sample_background(self, shape_class: int, fill: str, rng: np.random.Generator) -> str:
        """The fill's family with probability ``background_match`` (no draw when it is 0,
        so the default stream is unchanged), else one that carries no label's texture."""
        if self.background_match > 0 and rng.random() < self.background_match:
            return fill
        excluded = {fill, TEXTURES[shape_class]}
        return _choose(rng, [t for t in TEXTURES if t not in excluded])

    def _sample_classes(self, index: int, rng: np.random.Generator) -> tuple[int, int | None, str]:
        """Shape class, texture class and fill texture of item ``index``."""
        k = self.num_classes
        if self.split == "cue_conflict":
            shape_class, offset = divmod(index % (k * (k - 1)), k - 1)
            texture_class = (shape_class + 1 + offset) % k
            return shape_class, texture_class, TEXTURES[texture_class]
        label = index % k
        if self.split == "texture_only":
            return label, label, TEXTURES[label]
        if self.split == "shape_only":
            fill = _choose(rng, TEXTURES)
        elif rng.random() < self.texture_correlation:
            fill = TEXTURES[label]
        else:
            fill = _choose(rng, [t for t in TEXTURES if t != TEXTURES[label]])
        texture_class = TEXTURES.index(fill)
        return label, (texture_class if texture_class < k else None), fill

    def _render(self, spec: ItemSpec, rng: np.random.Generator) -> torch.Tensor:
        size, contrast = self.image_size, self.texture_contrast
        cycles = self.texture_cycles
        fill_texture = render_texture(spec.fill_texture, size, rng, cycles=cycles)
        fill = _layer(spec.fill_colour, fill_texture, contrast)
        if spec.shape is None:
            image = fill
        else:
            # _sample_spec sets every object field whenever it sets a shape
            if (
                spec.background_texture is None
                or spec.background_colour is None
                or spec.centre is None
                or spec.radius is None
                or spec.rotation is None
            ):
                raise RuntimeError(f"ShapeTextureDataset internal error: incomplete {spec}.")
            background_texture = render_texture(spec.background_texture, size, rng, cycles=cycles)
            image = _layer(spec.background_colour, background_texture, contrast)
            x, y = pixel_grid(size)
            mask = shape_mask(
                spec.shape, x, y, spec.centre, spec.radius, spec.rotation, spec.deformation
            )
            image += mask * (fill - image)
            if spec.occluder is not None and spec.occluder_colour is not None:
                cover = occluder_coverage(x, y, *spec.occluder)
                image += cover * (np.asarray(spec.occluder_colour)[:, None] - image)
        return to_8bit_levels(image.reshape(3, size, size))


def _layer(colour: tuple[float, float, float], texture: np.ndarray, contrast: float) -> np.ndarray:
    """``colour + contrast * texture`` as a ``(3, P)`` float64 array."""
    return np.asarray(colour, dtype=np.float64)[:, None] + contrast * texture


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    red, green, blue = rng.uniform(*_COLOUR_RANGE, size=3).tolist()
    return red, green, blue


def _choose(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _check_cycles(cycles: Any, image_size: int) -> float:
    cycles = check_real(cycles, "texture_cycles", low=1.0)
    if image_size / cycles < 2:
        raise ValueError(
            f"texture_cycles must be at most image_size / 2 = {image_size / 2:g} (a period of "
            f"at least 2 pixels), got {cycles:g}. Use a larger image_size for finer textures."
        )
    return cycles


def _check_object_size(object_size: Any, image_size: int) -> tuple[float, float]:
    if not isinstance(object_size, (tuple, list)) or len(object_size) != 2:
        raise TypeError(
            "object_size must be a (low, high) pair of radii as shares of image_size, "
            f"got {object_size!r}."
        )
    low = check_real(object_size[0], "object_size[0]", low=0.0, low_inclusive=False)
    high = check_real(object_size[1], "object_size[1]", low=0.0, low_inclusive=False)
    if low > high:
        raise ValueError(
            f"object_size must be a non-empty range (low <= high), got ({low:g}, {high:g})."
        )
    if high > 0.5:
        raise ValueError(
            f"object_size[1] must be <= 0.5 so the shape fits in the image, got {high:g}."
        )
    if low * image_size < _MIN_RADIUS_PX:
        raise ValueError(
            f"object_size[0] * image_size must be >= {_MIN_RADIUS_PX:g} pixels for a "
            f"recognisable shape, got {low:g} * {image_size} = {low * image_size:g}."
        )
    return low, high


def _check_occlusion(occlusion: Any) -> float:
    occlusion = check_real(occlusion, "occlusion", low=0.0)
    if occlusion > _MAX_OCCLUSION:
        raise ValueError(
            f"occlusion must be <= {_MAX_OCCLUSION:g}, got {occlusion:g}: hiding more of the "
            "object leaves too little of its outline to tell the class."
        )
    return occlusion


def _check_num_classes(num_classes: Any) -> int:
    check_int(num_classes, "num_classes", low=2)
    if num_classes > MAX_CLASSES:
        raise ValueError(
            f"num_classes must be at most {MAX_CLASSES} (one shape and one texture per class), "
            f"got {num_classes}."
        )
    return num_classes


def _check_index(index: Any, size: int) -> int:
    integer_tensor = isinstance(index, torch.Tensor) and index.ndim == 0
    if isinstance(index, np.integer) or (integer_tensor and not index.is_floating_point()):
        index = int(index)
    check_int(index, "index")
    if index < 0:
        index += size
    if not 0 <= index < size:
        raise IndexError(f"index must be in [-{size}, {size}), got {index}.")
    return index
