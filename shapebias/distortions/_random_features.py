"""Weight-free style transfer: match feature statistics of a fixed random CNN.

The image is optimised (Adam, from the content image) so that, in every layer of a
small random convolutional network, the per-channel mean and standard deviation of its
features match the style's, while its deepest features stay close to the content's.
This is AdaIN's training objective (Huang & Belongie 2017) with random instead of
trained VGG filters; random shallow networks are known to carry usable texture
statistics (Ustyuzhaninov et al. 2017).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from shapebias.distortions._adain import adain_statistics

__all__ = ["random_feature_stylize", "random_filters"]

_WIDTHS = (16, 32, 64)
_KERNEL = 3
_LEARNING_RATE = 0.03
_BETAS = (0.9, 0.999)


def random_filters(
    channels: int, *, generator: torch.Generator | None, like: torch.Tensor
) -> list[torch.Tensor]:
    """He-scaled zero-mean Gaussian ``_KERNEL x _KERNEL`` (3x3) filters for each layer."""
    filters = []
    device = generator.device if generator is not None else like.device
    for width in _WIDTHS:
        fan_in = channels * _KERNEL * _KERNEL
        shape = (width, channels, _KERNEL, _KERNEL)
        weight = torch.randn(shape, generator=generator, device=device, dtype=like.dtype)
        weight = weight - weight.mean(dim=(1, 2, 3), keepdim=True)
        filters.append(weight.mul_((2.0 / fan_in) ** 0.5).to(like.device))
        channels = width
    return filters


def _features(images: torch.Tensor, filters: list[torch.Tensor]) -> list[torch.Tensor]:
    features, x = [], images - 0.5
    for index, weight in enumerate(filters):
        if index:
            x = F.avg_pool2d(x, 2)
        x = F.relu(F.conv2d(F.pad(x, [_KERNEL // 2] * 4, mode="reflect"), weight))
        features.append(x)
    return features


def _per_image_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().flatten(1).mean(1)


def _statistics(features: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.cat(adain_statistics(f), dim=1).flatten(1) for f in features]


def _objective(
    features: list[torch.Tensor],
    content_features: torch.Tensor,
    targets: list[torch.Tensor],
    content_weight: float,
) -> torch.Tensor:
    """Sum over images of (content loss + style loss), each relative to its target's scale."""
    content = _per_image_mse(features[-1], content_features)
    loss = content_weight * content / content_features.square().flatten(1).mean(1).add(1e-8)
    for stats, target in zip(_statistics(features), targets, strict=True):
        loss = loss + _per_image_mse(stats, target) / target.square().mean(1).add(1e-8)
    return loss.sum()


def random_feature_stylize(
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    alpha: float,
    steps: int,
    content_weight: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Optimise ``content`` towards ``style``'s random-feature statistics (no checks).

    Each image's loss depends only on that image, and Adam acts elementwise, so images
    in a batch do not interact. ``alpha`` interpolates the target statistics between
    the content's (0) and the style's (1).
    """
    filters = random_filters(content.shape[1], generator=generator, like=content)
    with torch.no_grad():
        content_features = _features(content, filters)
        style_stats = _statistics(_features(style, filters))
        targets = [
            torch.lerp(c, s.expand_as(c), alpha)
            for c, s in zip(_statistics(content_features), style_stats, strict=True)
        ]
    image = content.detach().clone()
    first, second = torch.zeros_like(image), torch.zeros_like(image)
    for step in range(1, steps + 1):
        with torch.enable_grad():
            image.requires_grad_(True)
            loss = _objective(
                _features(image, filters), content_features[-1], targets, content_weight
            )
            (grad,) = torch.autograd.grad(loss, image)
        image = image.detach()
        first.lerp_(grad, 1 - _BETAS[0])
        second.lerp_(grad.square(), 1 - _BETAS[1])
        corrected = (second / (1 - _BETAS[1] ** step)).sqrt_().add_(1e-8)
        step_size = _LEARNING_RATE / (1 - _BETAS[0] ** step)
        image.addcdiv_(first, corrected, value=-step_size).clamp_(0, 1)
    return image
