"""SmoothGrad: input gradients averaged over noisy copies of the image."""

from __future__ import annotations

from typing import Any

import torch

from shapebias._validation import (
    check_bool,
    check_choice,
    check_generator,
    check_images,
    check_int,
    check_model,
    check_real,
)
from shapebias.models import check_unstacked, warn_if_train_mode
from shapebias.saliency._chunking import Rows, chunked_sum, resolve_batch_size
from shapebias.saliency._targets import check_output, check_target, input_gradient, predict

__all__ = ["smoothgrad"]

AGGREGATES = ("mean", "abs", "square")


def noise_sigma(images: torch.Tensor, noise_level: float) -> torch.Tensor:
    """Per-image noise standard deviation ``noise_level * (max - min)``, shape ``(N, 1, 1, 1)``."""
    flat = images.detach().flatten(1)
    spread = flat.amax(1) - flat.amin(1)
    return (noise_level * spread).view(-1, 1, 1, 1)


def smoothgrad(
    model: Any,
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    *,
    n_samples: int = 50,
    noise_level: float = 0.15,
    aggregate: str = "mean",
    output: str = "logit",
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al. 2017): the input gradient averaged over noisy copies.

    Each image gets ``n_samples`` copies ``x + N(0, sigma^2)`` with
    ``sigma = noise_level * (max(x) - min(x))`` of that image (a *relative* noise level,
    unlike captum's ``stdevs``, which is absolute). Noisy copies are not clipped to
    ``[0, 1]``, as in the original method. The result is the mean over copies of the
    gradient (``aggregate="mean"``), of its absolute value (``"abs"``) or of its square
    (``"square"``, SmoothGrad-Squared).

    Zhang & Zhu (2019) use the gradient of the cross-entropy of the true label,
    ``n_samples=100`` and ``noise_level`` 0.1 to 0.15: ``smoothgrad(model, images,
    labels, output="loss", n_samples=100, noise_level=0.1)``.

    The ``n_samples * N`` noisy copies go through the model in chunks of at most
    ``batch_size`` images, each chunk made only when it is needed, so peak memory
    follows ``batch_size`` (plus the returned map); the noise is drawn image by image,
    copy by copy, in a fixed order (one ``(C, H, W)`` draw per noisy copy), so the
    result does not depend on ``batch_size`` (up to the rounding of the model's own
    batched kernels). With ``target=None`` the prediction is made in chunks too.

    Args:
        model: any callable ``images -> logits (N, K)``, normalisation inside it.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        target: an int, an int64 ``(N,)`` tensor, or ``None`` for the class the model
            predicts on the clean image.
        n_samples: noisy copies per image.
        noise_level: noise standard deviation as a fraction of each image's value range.
        aggregate: ``"mean"``, ``"abs"`` or ``"square"``.
        output: ``"logit"`` or ``"loss"`` (cross-entropy of ``target``).
        batch_size: most images per model call; ``None`` picks a measured default (32
            rows on a CPU, 256 elsewhere).
        generator: source of the noise; the same state gives the same maps.
        progress: show a progress bar over chunks.

    Returns:
        The detached map, same shape, dtype and device as ``images``.

    Raises:
        TypeError: wrong argument types (see :func:`gradient`), a non-Generator, a
            non-``bool`` ``progress``, a model that is or holds a
            :class:`~shapebias.models.StackedModels` (explain its ``unstack()`` members).
        ValueError: bad images or target, ``n_samples < 1``, ``noise_level`` negative,
            NaN or infinite, ``batch_size < 1``, unknown ``aggregate`` or ``output``, a
            model whose logits or input gradients are NaN or inf, a model whose output
            does not depend on its input through autograd (a ``.detach()``, rounding or
            ``torch.no_grad()`` in its ``forward``).

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.saliency import smoothgrad
        >>> model = small_cnn(10).eval()
        >>> images, labels = torch.rand(2, 3, 32, 32), torch.tensor([3, 5])
        >>> maps = smoothgrad(model, images, labels, output="loss", n_samples=8,
        ...                   generator=torch.Generator().manual_seed(0))
        >>> maps.shape
        torch.Size([2, 3, 32, 32])

    References:
        Smilkov et al., "SmoothGrad: removing noise by adding noise", arXiv:1706.03825, 2017.
        Zhang & Zhu, "Interpreting Adversarially Trained Convolutional Neural Networks",
        ICML 2019.
    """
    check_model(model)
    check_unstacked(
        model, "smoothgrad", "it runs noisy copies of the images in chunks of batch_size"
    )
    check_images(images)
    target_t = check_target(target, images)
    check_int(n_samples, "n_samples", low=1)
    noise_level = check_real(noise_level, "noise_level", low=0.0, finite=True)
    check_choice(aggregate, "aggregate", AGGREGATES)
    output = check_output(output)
    rows_per_call = resolve_batch_size(batch_size, images)
    check_generator(generator, images)
    check_bool(progress, "progress")
    warn_if_train_mode(model, "smoothgrad")

    clean = images.detach()
    if target_t is None:
        target_t = predict(model, clean, rows_per_call)
    sigma = noise_sigma(clean, noise_level)

    def noisy_rows(_: int, start: int, stop: int) -> torch.Tensor:
        rows = torch.empty((stop - start, *clean.shape[1:]), dtype=clean.dtype, device=clean.device)
        for row in rows:  # one draw per image, so the noise does not depend on batch_size
            row.normal_(generator=generator)
        return rows.mul_(sigma[start:stop]).add_(clean[start:stop])

    def contribution(rows: Rows, first: bool) -> torch.Tensor:
        grad, _ = input_gradient(model, rows.inputs, target_t[rows.image], output, check=first)
        if aggregate == "abs":
            return grad.abs_()
        return grad.square_() if aggregate == "square" else grad

    total = chunked_sum(
        contribution,
        noisy_rows,
        n_samples,
        clean,
        rows_per_call,
        progress=progress,
        desc="smoothgrad",
    )
    return total.div_(n_samples)
