"""Fourier heat maps (Yin et al., 2019): error rates under single-frequency perturbations."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from shapebias._batches import batch_count, is_tensor_tuple, iterate_batches
from shapebias._validation import (
    check_bool,
    check_generator,
    check_int,
    check_logits,
    check_model,
    check_real,
)
from shapebias.frequency._basis import basis_images, centred_range, check_size
from shapebias.models import check_unstacked, eval_mode

__all__ = ["FourierHeatMap", "fourier_heat_map"]


@dataclasses.dataclass(frozen=True, eq=False)
class FourierHeatMap:
    """Result of :func:`fourier_heat_map`: per frequency, how often the model is still right.

    Maps are ``(h, w)`` CPU tensors in centred (``fftshift``) layout: entry ``[p, q]``
    belongs to the vertical frequency ``i = p - h // 2`` and the horizontal frequency
    ``j = q - w // 2`` (:attr:`vertical_frequencies`, :attr:`horizontal_frequencies`),
    so the lowest frequencies sit in the middle and ``[h // 2, w // 2]`` is the DC term.

    Attributes:
        eps: the L2 norm of the perturbation of each channel, in ``[0, 1]`` pixel units.
        image_size: ``(H, W)`` of the images.
        total: number of test images.
        clean_correct: number of images the model got right unperturbed.
        correct: ``(h, w)`` int64, per frequency the images right under the perturbation.
        correct_on_both: ``(h, w)`` int64, the images right both clean and perturbed.
        frequencies: ``(F, 2)`` int64, the centred ``(i, j)`` that were evaluated, one per
            conjugate pair ``(i, j) ~ (-i, -j)``, in the order their random signs were drawn.

    Compare results by their tensors (``torch.equal(a.correct, b.correct)``); ``==``
    is identity.
    """

    eps: float
    image_size: tuple[int, int]
    total: int
    clean_correct: int
    correct: torch.Tensor
    correct_on_both: torch.Tensor
    frequencies: torch.Tensor

    @property
    def error(self) -> torch.Tensor:
        """The heat map: ``(h, w)`` float64 error rate under the perturbation, in ``[0, 1]``."""
        return 1.0 - self.correct.double() / self.total

    @property
    def relative(self) -> torch.Tensor:
        """``(h, w)`` relative accuracy: ``#(right clean and perturbed) / #(right clean)``.

        Counted over the whole data set, as everywhere in shapebias; NaN where no clean
        image was right.
        """
        if self.clean_correct == 0:
            return torch.full(self.correct.shape, math.nan, dtype=torch.float64)
        return self.correct_on_both.double() / self.clean_correct

    @property
    def clean_accuracy(self) -> float:
        """Top-1 accuracy on the unperturbed images."""
        return self.clean_correct / self.total

    @property
    def vertical_frequencies(self) -> torch.Tensor:
        """``(h,)`` int64: the vertical frequency ``i`` of each row of the maps."""
        low, high = centred_range(self.correct.shape[0])
        return torch.arange(low, high + 1)

    @property
    def horizontal_frequencies(self) -> torch.Tensor:
        """``(w,)`` int64: the horizontal frequency ``j`` of each column of the maps."""
        low, high = centred_range(self.correct.shape[1])
        return torch.arange(low, high + 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers: settings, counts and the maps as nested lists.

        Relative accuracy is ``None`` where it is undefined (no clean image right).
        """
        return {
            "eps": self.eps,
            "image_size": list(self.image_size),
            "total": self.total,
            "clean_correct": self.clean_correct,
            "clean_accuracy": self.clean_accuracy,
            "vertical_frequencies": self.vertical_frequencies.tolist(),
            "horizontal_frequencies": self.horizontal_frequencies.tolist(),
            "error": self.error.tolist(),
            "relative": [
                [None if math.isnan(value) else value for value in row]
                for row in self.relative.tolist()
            ],
        }


def fourier_heat_map(
    model: Callable[[torch.Tensor], torch.Tensor],
    data: Any,
    *,
    eps: float,
    size: int | tuple[int, int] | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> FourierHeatMap:
    """Fourier heat map of ``model``: its error rate under each single-frequency perturbation.

    For every frequency ``(i, j)`` of the map and every test image ``x`` (channels ``c``),
    the model classifies ``clip(x_c + eps * r_c * U_ij, 0, 1)``, where ``U_ij`` is the
    unit-norm basis image of :func:`fourier_basis` and ``r_c`` a uniformly random sign,
    drawn anew for each frequency, image and channel (Yin et al. perturb the channels
    independently). The map holds the error rate per frequency; low frequencies sit in
    the middle.

    Units: ``eps`` is the L2 norm of the perturbation of one channel over its ``H * W``
    pixels, in ``[0, 1]`` pixel units (the whole image's perturbation has norm
    ``eps * sqrt(C)``); a sinusoid of norm ``eps`` has the root-mean-square pixel
    amplitude ``eps / sqrt(H * W)`` and the peak amplitude ``eps * sqrt(2 / (H * W))``.
    Clipping to ``[0, 1]`` can shorten the perturbation of bright or dark pixels.

    Symmetric by construction: ``U_ij`` and ``U_-i,-j`` are the same image, so only one
    frequency of each conjugate pair (the half-plane) is evaluated and its counts are
    mirrored; ``map[p, q]`` equals the entry of ``(-i, -j)`` exactly, it is not a finding.

    Cost: one forward pass per evaluated frequency and image (about ``h * w / 2`` of
    them) plus one clean pass, in batches of ``batch_size`` perturbed images (several
    frequencies per batch for small data batches), so memory is bounded by
    ``batch_size`` images whatever the map size. The model runs in eval mode (every
    submodule's mode is restored afterwards) and without gradients.

    Args:
        model: callable ``images -> logits``.
        data: a DataLoader (or iterable) of ``(images, labels)`` batches, a Dataset of
            ``(image, label)`` items, or a tuple ``(images, labels)`` of tensors; images
            ``(N, C, H, W)`` in ``[0, 1]``, all of one size.
        eps: the per-channel L2 norm of the perturbation, ``>= 0``, in pixel units.
        size: the map's size, ``S`` or ``(h, w)``: the ``h x w`` lowest frequencies around
            DC, at most the image size; ``None`` (default) maps all ``H x W`` frequencies.
        generator: the source of the random signs. Signs are drawn per data batch, one
            ``(N, C)`` draw per frequency in the order of ``result.frequencies``: a tensor
            tuple is one batch (the result does not depend on ``batch_size``); a
            DataLoader's or Dataset's batching changes the draws (equally valid maps).
        batch_size: the most perturbed images per forward pass (and the batch size of a
            Dataset).
        progress: show a tqdm progress bar (one step per frequency and data batch).

    Returns:
        A :class:`FourierHeatMap`; ``.error`` is the heat map, ``.relative`` the relative
        accuracy map.

    Shape:
        ``.error``, ``.relative``: ``(h, w)``, ``(H, W)`` by default.

    Raises:
        TypeError: ``model`` not callable or a :class:`~shapebias.models.StackedModels`
            (its images are routed by batch position; map each member of
            ``stack.unstack()``), ``eps``/``size``/``batch_size`` of the wrong type,
            ``progress`` not a ``bool``, ``generator`` not a ``torch.Generator``.
        ValueError: ``eps < 0`` or not finite, ``size`` larger than the images, batches of
            different image sizes, empty data; any check of images (4-D, in ``[0, 1]``),
            labels or logits.

    Example:
        >>> import torch
        >>> from shapebias.frequency import fourier_heat_map
        >>> from shapebias.models import small_cnn
        >>> data = (torch.rand(8, 3, 16, 16), torch.randint(0, 3, (8,)))
        >>> result = fourier_heat_map(small_cnn(3), data, eps=2.0, size=5, progress=False)
        >>> result.error.shape, len(result.frequencies)
        (torch.Size([5, 5]), 13)

    References:
        Yin, Gontijo Lopes, Shlens, Cubuk & Gilmer, "A Fourier Perspective on Model
        Robustness in Computer Vision", NeurIPS 2019 (Section 3, Fourier heat maps).
    """
    check_model(model)
    check_unstacked(model, "fourier_heat_map", "it evaluates frequencies x images in chunks")
    eps = check_real(eps, "eps", low=0.0, finite=True)
    window = None if size is None else check_size(size, "size")
    check_int(batch_size, "batch_size", low=1)
    check_bool(progress, "progress")
    chunk = _data_batch_size(data, batch_size)
    tally: _Tally | None = None
    bar = tqdm(desc="fourier heat map", unit="frequency", disable=not progress)
    with bar, torch.no_grad(), _evaluating(model):
        for images, labels in iterate_batches(data, chunk):
            if tally is None:
                check_generator(generator, images)
                tally = _Tally.start(images, window)
                batches = batch_count(data, chunk)
                bar.total = None if batches is None else batches * len(tally.frequencies)
            tally.check(images)
            tally.count(model, images, labels, eps, generator, batch_size, bar)
    if tally is None:
        raise ValueError("data must hold at least one batch of (images, labels), got none.")
    return tally.result(eps)


@contextmanager
def _evaluating(model: Any) -> Iterator[None]:
    with eval_mode(model) if isinstance(model, nn.Module) else nullcontext():
        yield


def _data_batch_size(data: Any, batch_size: int) -> int:
    """A tensor tuple is one data batch (so its signs do not depend on ``batch_size``)."""
    if is_tensor_tuple(data) and data[0].ndim > 0 and data[0].shape[0] > 0:
        return int(data[0].shape[0])
    return batch_size


def half_plane(
    image_size: tuple[int, int], window: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One frequency per conjugate pair of the centred ``window``, and where each cell maps.

    Returns ``(F, 2)`` centred ``(i, j)`` in row-major order of first appearance, and the
    ``(h * w,)`` index of each window cell (row-major) into them. ``(i, j)`` and
    ``(-i, -j)`` are one pair when equal modulo the image size.
    """
    height, width = image_size
    first: dict[int, int] = {}
    frequencies: list[tuple[int, int]] = []
    cells: list[int] = []
    rows, cols = centred_range(window[0]), centred_range(window[1])
    for i in range(rows[0], rows[1] + 1):
        for j in range(cols[0], cols[1] + 1):
            key = min((i % height) * width + j % width, (-i % height) * width + -j % width)
            if key not in first:
                first[key] = len(frequencies)
                frequencies.append((i, j))
            cells.append(first[key])
    return torch.tensor(frequencies, dtype=torch.int64), torch.tensor(cells, dtype=torch.int64)


@dataclasses.dataclass
class _Tally:
    """Counts per evaluated frequency, accumulated over the data batches (on their device)."""

    shape: tuple[int, int, int]
    window: tuple[int, int]
    frequencies: torch.Tensor
    cells: torch.Tensor
    correct: torch.Tensor
    correct_on_both: torch.Tensor
    clean_correct: torch.Tensor
    total: int = 0

    @classmethod
    def start(cls, images: torch.Tensor, window: tuple[int, int] | None) -> _Tally:
        channels, height, width = images.shape[1:]
        window = (height, width) if window is None else window
        if window[0] > height or window[1] > width:
            raise ValueError(
                f"size must be at most the image size ({height}, {width}): a map covers the "
                f"frequencies of the images' Nyquist range, got {window}. Use size=None for "
                "the full map."
            )
        frequencies, cells = half_plane((height, width), window)
        zeros = torch.zeros(len(frequencies), dtype=torch.int64, device=images.device)
        return cls(
            shape=(channels, height, width),
            window=window,
            frequencies=frequencies.to(images.device),
            cells=cells,
            correct=zeros,
            correct_on_both=zeros.clone(),
            clean_correct=torch.zeros((), dtype=torch.int64, device=images.device),
        )

    def check(self, images: torch.Tensor) -> None:
        if tuple(images.shape[1:]) != self.shape:
            raise ValueError(
                f"data must hold images of one size: the first batch had (C, H, W) = "
                f"{self.shape}, a later one {tuple(images.shape[1:])}. Resize them to one size."
            )

    def count(
        self,
        model: Callable[..., Any],
        images: torch.Tensor,
        labels: torch.Tensor,
        eps: float,
        generator: torch.Generator | None,
        batch_size: int,
        bar: tqdm,
    ) -> None:
        """Classify one data batch clean and under every frequency's perturbation."""
        n, channels, height, width = images.shape
        step = min(n, batch_size)
        right_clean = torch.cat(
            [_right(model, images[k : k + step], labels[k : k + step]) for k in range(0, n, step)]
        )
        self.clean_correct += right_clean.sum()
        self.total += n
        per_pass = max(1, batch_size // step)
        for first in range(0, len(self.frequencies), per_pass):
            block = self.frequencies[first : first + per_pass]
            basis = basis_images(block, height, width, dtype=images.dtype)[:, None, None]
            signs = torch.stack(
                [
                    torch.randint(0, 2, (n, channels), generator=generator, device=images.device)
                    for _ in range(len(block))
                ]
            )
            scales = (signs.to(images.dtype) * 2 - 1).mul_(eps)[..., None, None]
            for k in range(0, n, step):
                perturbed = torch.addcmul(
                    images[None, k : k + step], scales[:, k : k + step], basis
                )
                logits = model(perturbed.clamp_(0, 1).flatten(0, 1))
                right = logits.argmax(1).view(len(block), -1) == labels[k : k + step]
                self.correct[first : first + len(block)] += right.sum(1)
                both = right & right_clean[k : k + step]
                self.correct_on_both[first : first + len(block)] += both.sum(1)
            bar.update(len(block))

    def result(self, eps: float) -> FourierHeatMap:
        def spread(counts: torch.Tensor) -> torch.Tensor:
            return counts.cpu()[self.cells].view(self.window)

        return FourierHeatMap(
            eps=eps,
            image_size=self.shape[1:],
            total=self.total,
            clean_correct=int(self.clean_correct),
            correct=spread(self.correct),
            correct_on_both=spread(self.correct_on_both),
            frequencies=self.frequencies.cpu(),
        )


def _right(model: Callable[..., Any], images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    logits = model(images)
    check_logits(logits, images.shape[0], labels)
    return logits.argmax(1) == labels
