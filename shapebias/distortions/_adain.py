"""AdaIN style transfer (Huang & Belongie 2017) and loading of the published weights.

The layouts follow the widely used PyTorch reimplementation (naoto0804/pytorch-AdaIN):
``vgg_normalised.pth`` is a ``Sequential`` of 53 numbered layers (a 1x1 input conv that
folds in the Caffe preprocessing, then VGG-19 with reflection padding up to relu5_4) and
``decoder.pth`` a ``Sequential`` of 29 layers mirroring the encoder up to relu4_1. Only
the first 31 encoder layers (up to relu4_1) are used. The base width (64 in the
published files) is read from the files, so smaller test networks load the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

from shapebias.distortions._checks import check_batch_like, check_fraction

__all__ = ["AdaIN", "adain_decoder", "adain_statistics", "load_adain", "vgg_encoder"]

_RELU4_1 = 31  # encoder layers used: indices 0..30
# Conv widths as multiples of the base width; "M" a max-pool, "U" an upsample.
_ENCODER_PLAN: tuple[int | Literal["M"], ...] = (
    1, 1, "M", 2, 2, "M", 4, 4, 4, 4, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8
)  # fmt: skip
# output widths before the last conv
_DECODER_PLAN: tuple[int | Literal["U"], ...] = (4, "U", 4, 4, 4, 2, "U", 2, 1, "U", 1)
_EPS = 1e-5


def _conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3), nn.ReLU()]


def vgg_encoder(width: int = 64) -> nn.Sequential:
    """The 53-layer ``vgg_normalised`` layout (random weights); ``width`` is conv1's width."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    channels = 3
    for step in _ENCODER_PLAN:
        if step == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        else:
            layers += _conv_block(channels, step * width)
            channels = step * width
    return nn.Sequential(*layers)


def adain_decoder(width: int = 64) -> nn.Sequential:
    """The 29-layer AdaIN decoder layout (random weights), from relu4_1 back to RGB."""
    layers: list[nn.Module] = []
    channels = 8 * width
    for step in _DECODER_PLAN:
        if step == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        else:
            layers += _conv_block(channels, step * width)
            channels = step * width
    layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, 3, 3)]
    return nn.Sequential(*layers)


def adain_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and std ``(N, C, 1, 1)`` (unbiased variance + 1e-5)."""
    flat = features.flatten(2)
    std = flat.var(dim=2).add(_EPS).sqrt()
    return flat.mean(dim=2)[..., None, None], std[..., None, None]


class AdaIN(nn.Module):
    """An AdaIN style-transfer network: VGG encoder to relu4_1, AdaIN, decoder.

    Build it with :func:`load_adain`; move it with ``.to(device, dtype)`` like any
    module. ``forward(content, style, alpha)`` is :func:`stylize` with ``method="adain"``
    minus the input checks.

    Shape:
        ``content (N, 3, H, W)``, ``style (N or 1, 3, H', W') -> (N, 3, H, W)``.
    """

    def __init__(self, encoder: nn.Sequential, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder = encoder[:_RELU4_1]
        self.decoder = decoder
        self.requires_grad_(False)
        self.eval()

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: float) -> torch.Tensor:
        content_features = self.encoder(content)
        style_mean, style_std = adain_statistics(self.encoder(style))
        mean, std = adain_statistics(content_features)
        target = (content_features - mean) / std * style_std + style_mean
        output = self.decoder(torch.lerp(content_features, target, alpha))
        if output.shape[-2:] != content.shape[-2:]:  # sizes that are not multiples of 8
            output = nn.functional.interpolate(output, size=content.shape[-2:], mode="bilinear")
        return output.clamp(0, 1)

    def check_inputs(self, content: torch.Tensor, style: torch.Tensor, alpha: Any) -> float:
        """Check device/dtype against the weights; return ``alpha``."""
        check_batch_like(style, content, "style", same_size=False, images_name="content")
        weight = self.decoder[-1].weight
        if weight.device != content.device or weight.dtype != content.dtype:
            raise ValueError(
                f"the AdaIN network is {weight.dtype} on {weight.device} but content is "
                f"{content.dtype} on {content.device}; move it with adain.to(content)."
            )
        return check_fraction(alpha, "alpha")


def _read_state_dict(path: Any, role: str, map_location: Any) -> Mapping[str, torch.Tensor]:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{role} must be a path to a .pth file, got {type(path).__name__}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{role} file {os.fspath(path)!r} does not exist. shapebias downloads nothing: "
            "get vgg_normalised.pth and decoder.pth from the pytorch-AdaIN release "
            "(github.com/naoto0804/pytorch-AdaIN) and pass their paths."
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(
            f"{role} file {os.fspath(path)!r} is not a readable state dict: {error}"
        ) from error
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(
            f"{role} file {os.fspath(path)!r} must hold a state dict (name -> tensor), "
            f"got {type(state).__name__}. Save it with torch.save(module.state_dict(), path)."
        )
    return state


def _short(keys: set[str]) -> str:
    names = sorted(keys, key=lambda k: (int(k.split(".")[0]) if k[0].isdigit() else -1, k))
    return ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")


def _load_into(
    module: nn.Sequential, state: Mapping[str, torch.Tensor], path: Any, used: int
) -> None:
    """Load ``state`` into ``module``; keys of layers ``>= used`` may be absent."""
    expected = module.state_dict()
    required = {k for k in expected if int(k.split(".")[0]) < used}
    missing = required - state.keys()
    unexpected = state.keys() - expected.keys()
    where = f"file {os.fspath(path)!r}"
    if missing or unexpected:
        raise ValueError(
            f"{where} does not match the AdaIN layout: missing keys [{_short(missing)}], "
            f"unexpected keys [{_short(unexpected)}]. Is it the right file (vgg_normalised.pth "
            "for the encoder, decoder.pth for the decoder)?"
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise ValueError(
                f"{where}: key {key!r} has shape {tuple(tensor.shape)}, the layout expects "
                f"{tuple(expected[key].shape)}. Encoder and decoder widths must match."
            )
    module.load_state_dict({**expected, **state})


def _width(state: Mapping[str, torch.Tensor], key: str, role: str, path: Any) -> int:
    """The base width, read from the first conv of width ``width`` in the file."""
    if key not in state:
        raise ValueError(
            f"{role} file {os.fspath(path)!r} has no key {key!r}, so it is not an AdaIN "
            f"{role} state dict. Is it the right file (vgg_normalised.pth for the encoder, "
            "decoder.pth for the decoder)?"
        )
    return int(state[key].shape[0])


def load_adain(
    encoder: str | os.PathLike, decoder: str | os.PathLike, *, map_location: Any = "cpu"
) -> AdaIN:
    """Load the published AdaIN weights into an :class:`AdaIN` network (eval, frozen).

    Args:
        encoder: path of ``vgg_normalised.pth`` (all 53 layers, or only the first 31).
        decoder: path of ``decoder.pth``.
        map_location: passed to :func:`torch.load` (files are read with
            ``weights_only=True``).

    Returns:
        The network on ``map_location``'s device, float32; move it with ``.to(images)``.

    Raises:
        FileNotFoundError: a file does not exist (nothing is ever downloaded).
        ValueError: a file is not a state dict, lacks keys, has unexpected keys or
            shapes (the message names the file and the keys).

    Example:
        >>> import tempfile, os, torch
        >>> from shapebias.distortions import adain_decoder, load_adain, vgg_encoder
        >>> folder = tempfile.mkdtemp()
        >>> enc, dec = os.path.join(folder, "vgg.pth"), os.path.join(folder, "dec.pth")
        >>> torch.save(vgg_encoder(width=4).state_dict(), enc)  # tiny random weights
        >>> torch.save(adain_decoder(width=4).state_dict(), dec)
        >>> net = load_adain(enc, dec)
        >>> net(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), alpha=1.0).shape
        torch.Size([1, 3, 32, 32])

    References:
        Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
        Normalization", ICCV 2017.
    """
    encoder_state = _read_state_dict(encoder, "encoder", map_location)
    decoder_state = _read_state_dict(decoder, "decoder", map_location)
    width = _width(encoder_state, "2.weight", "encoder", encoder)
    decoder_width = _width(decoder_state, "25.weight", "decoder", decoder)
    if decoder_width != width:
        raise ValueError(
            f"encoder file {os.fspath(encoder)!r} has base width {width} but decoder file "
            f"{os.fspath(decoder)!r} has {decoder_width}; they come from different models."
        )
    encoder_net, decoder_net = vgg_encoder(width), adain_decoder(width)
    _load_into(encoder_net, encoder_state, encoder, _RELU4_1)
    _load_into(decoder_net, decoder_state, decoder, len(decoder_net))
    return AdaIN(encoder_net, decoder_net).to(next(iter(encoder_state.values())).device)
