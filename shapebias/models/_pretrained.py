"""Build a NormalizedModel from a weight file on disk, whichever ecosystem saved it."""

from __future__ import annotations

import difflib
import logging
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shapebias._validation import check_bool
from shapebias.models._normalized import IMAGENET_MEAN, IMAGENET_STD, NormalizedModel

__all__ = ["build_architecture", "check_architecture_name", "load_pretrained", "read_state_dict"]

logger = logging.getLogger("shapebias.models")

# Keys under which checkpoints nest the state dict (MadryLab robustness: "model",
# RobustBench and many training scripts: "state_dict").
_NESTING = ("state_dict", "model_state_dict", "model", "net", "network")
# (mean, std) buffers of the normalisers the ecosystems put in front of the network:
# MadryLab robustness InputNormalize, RobustBench normalize_model, shapebias NormalizedModel,
# a plain nn.Sequential(normaliser, network).
_NORMALISERS = (
    ("normalizer.new_mean", "normalizer.new_std"),
    ("normalize.mean", "normalize.std"),
    ("mean", "std"),
    ("0.mean", "0.std"),
)
# Prefixes that wrap the network's own keys: DataParallel/DDP, then the wrappers above.
_WRAPPER_PREFIXES = ("model.", "1.", "net.")
_DROPPED_PREFIXES = ("attacker.",)  # robustness: a second copy of model + normaliser
_SHOWN = 5
# What a torch.save file starts with: a zip archive (the default since PyTorch 1.6) or a
# pickle stream of protocol 2 or later (the legacy format).
_HEADERS = (b"PK\x03\x04", b"\x80")


def load_pretrained(
    path: str | os.PathLike,
    architecture: str | Callable[..., nn.Module] | nn.Module,
    *,
    num_classes: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    strict: bool = True,
) -> NormalizedModel:
    """A :class:`NormalizedModel` in eval mode with the weights of a local file; never downloads.

    Reads the formats users have: a plain torchvision or timm state dict; a MadryLab
    ``robustness`` checkpoint (state dict under ``"model"``, keys ``module.model.*``, the
    attacker's copy ``module.attacker.*`` dropped, mean and std from its
    ``normalizer.new_mean`` / ``new_std`` buffers); RobustBench-style files (state dict
    under ``"state_dict"`` or bare, ``module.`` prefixes, ``normalize.mean`` / ``std``
    buffers in front of ``model.*``); a saved shapebias :class:`NormalizedModel`.

    This loads *a network's weights* for evaluation. It differs from
    :func:`shapebias.training.load_checkpoint`, which reads the training checkpoints
    :func:`~shapebias.training.fit` writes (optimiser, schedule, RNG states), and from
    :func:`shapebias.training.load_model`, which restores a model saved by shapebias.

    Args:
        path: the weight file (``.pt``, ``.pth``, ``.ckpt``, ...), read with
            ``torch.load(weights_only=True)``.
        architecture: a torchvision model name (``"resnet50"``), a timm name
            (``"timm/convnext_tiny"`` or any name timm knows, when timm is installed), a
            callable returning the network (called with ``num_classes=`` when given), or
            the network itself.
        num_classes: outputs of the network built from a name or callable; default the
            architecture's own (1000 for torchvision names).
        mean: per-channel input mean; default the file's normaliser, else ImageNet's.
        std: per-channel input std; default the file's normaliser, else ImageNet's.
        strict: refuse a file whose keys differ from the network's (shapes must always
            match; ``BatchNorm`` ``num_batches_tracked`` counters may be absent). With
            ``strict=False`` missing and extra keys are logged, but a file that matches
            none of the network's keys is still refused (every weight would stay random).

    Returns:
        ``NormalizedModel(network, mean, std)`` in eval mode, on the CPU.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a file that is not a PyTorch checkpoint (text, an HTML page, another
            format), an unreadable or corrupt one, no state dict inside it, keys or
            shapes that do not match the architecture (the first differences and the
            likely cause are listed; with ``strict=False``, no key matched at all), an
            unknown architecture name. Every message names the path.
        TypeError: ``architecture`` is none of the accepted kinds; ``strict`` not a
            ``bool``.

    Example:
        >>> import tempfile, torch
        >>> from shapebias.models import load_pretrained, small_cnn
        >>> path = tempfile.mkdtemp() + "/weights.pt"
        >>> torch.save({"state_dict": small_cnn(10).state_dict()}, path)
        >>> model = load_pretrained(path, small_cnn, num_classes=10)
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    check_bool(strict, "strict")
    state = read_state_dict(path)
    network = build_architecture(architecture, num_classes)
    state, (file_mean, file_std) = _split_normaliser(state)
    state = _strip_wrapper(state, network.state_dict())
    _check_keys(state, network.state_dict(), path, strict)
    network.load_state_dict(state, strict=False)
    if mean is None and std is None and file_mean is None:
        logger.info("%s carries no normaliser; using ImageNet mean and std", path)
    mean = mean if mean is not None else (file_mean if file_mean is not None else IMAGENET_MEAN)
    std = std if std is not None else (file_std if file_std is not None else IMAGENET_STD)
    return NormalizedModel(network, mean, std).eval()


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The flat ``name -> tensor`` state dict in a weight file (nesting removed, ``module.`` too).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not a PyTorch checkpoint, not a readable one, or no state dict inside
            it; the message names the path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(
            f"path {file} is not a file. shapebias never downloads weights: download the "
            "checkpoint yourself and pass its local path."
        )
    _check_header(file)
    try:
        content = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "global" not in str(error).lower():  # not an object refused: a damaged stream
            raise _unreadable(file, error) from error
        raise ValueError(
            f"path {file} holds Python objects beyond tensors, which weights_only loading "
            f"refuses ({str(error).splitlines()[0]}). If you trust the file, extract its state "
            "dict with torch.load(path, weights_only=False) and torch.save that."
        ) from error
    except Exception as error:  # torch.load's errors on a damaged file have no common type
        raise _unreadable(file, error) from error
    return _strip_prefix(_unnest(content, file), "module.")


def _unreadable(file: Path, error: Exception) -> ValueError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
    return ValueError(
        f"path {file} is not a readable PyTorch weight file ({type(error).__name__}: "
        f"{detail}). A truncated or corrupt download? Compare its hash with the published one."
    )


def _check_header(file: Path) -> None:
    """Refuse, naming the path, a file that does not start like a ``torch.save`` file."""
    with open(file, "rb") as stream:
        head = stream.read(8)
    if head.startswith(_HEADERS):
        return
    if len(head) == 8 and _looks_like_safetensors(file, head):
        kind = (
            "It looks like a safetensors file: read it with safetensors.torch.load_file and "
            "torch.save the dict."
        )
    elif not head:
        kind = "It is empty: an interrupted download?"
    else:
        kind = (
            "A text file, an HTML page saved in place of the download, or another format? "
            "Download the checkpoint again and compare its hash with the published one."
        )
    raise ValueError(
        f"path {file} is not a PyTorch checkpoint: a torch.save file starts with a zip or "
        f"pickle header, this one with {head!r}. {kind}"
    )


def _looks_like_safetensors(file: Path, head: bytes) -> bool:
    """Whether ``file`` starts like safetensors: a little-endian header size, then ``{``."""
    size = int.from_bytes(head, "little")
    if not 0 < size < file.stat().st_size:
        return False
    with open(file, "rb") as stream:
        stream.seek(8)
        return stream.read(1) == b"{"


def _unnest(content: Any, file: Path) -> dict[str, torch.Tensor]:
    while isinstance(content, Mapping):
        inner = next((content[k] for k in _NESTING if isinstance(content.get(k), Mapping)), None)
        if inner is None:
            break
        content = inner
    tensors = (
        isinstance(content, Mapping)
        and content
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in content.items())
    )
    if not tensors:
        keys = list(content)[:_SHOWN] if isinstance(content, Mapping) else type(content).__name__
        raise ValueError(
            f"path {file} holds no state dict (a dict of name -> tensor, possibly under "
            f"{', '.join(repr(k) for k in _NESTING)}); found {keys}."
        )
    return dict(content)


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    while state and all(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def build_architecture(
    architecture: str | Callable[..., nn.Module] | nn.Module, num_classes: int | None = None
) -> nn.Module:
    """The network named or made by ``architecture`` (random weights; nothing downloaded).

    Raises:
        ValueError: an unknown name, or ``num_classes`` with a ready network.
        TypeError: ``architecture`` is not a name, a callable or an ``nn.Module``.
    """
    extra = {} if num_classes is None else {"num_classes": num_classes}
    if isinstance(architecture, nn.Module):
        if num_classes is not None:
            raise ValueError(
                "num_classes must be None when architecture is a ready nn.Module; build the "
                "network with the right number of outputs instead."
            )
        return architecture
    if isinstance(architecture, str):
        return _from_name(architecture, extra)
    if callable(architecture):
        network = architecture(**extra)
        if not isinstance(network, nn.Module):
            raise TypeError(f"architecture must return an nn.Module, got {type(network).__name__}.")
        return network
    raise TypeError(
        "architecture must be a torchvision/timm model name, a callable returning an "
        f"nn.Module, or an nn.Module, got {type(architecture).__name__}."
    )


def check_architecture_name(name: str) -> None:
    """Check that ``name`` is a torchvision (or, with timm installed, timm) model name.

    What :func:`build_architecture` and :func:`load_pretrained` would refuse, found without
    building the network or reading a weight file (the command line checks ``--arch``
    with it before any work).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: neither library knows the name; close torchvision names are listed.

    Example:
        >>> from shapebias.models import check_architecture_name
        >>> check_architecture_name("resnet50")  # no error
        >>> check_architecture_name("resnet5")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: architecture 'resnet5' is neither a torchvision model name...
    """
    if not isinstance(name, str):
        raise TypeError(f"architecture must be a model name (str), got {type(name).__name__}.")
    _builder(name)


def _builder(name: str) -> Callable[[dict[str, int]], nn.Module]:
    """How to build the network ``name`` names (torchvision first, then timm), or the error."""
    import torchvision

    known = torchvision.models.list_models()
    timm_name = name.removeprefix("timm/")
    if name in known and not name.startswith("timm/"):
        return lambda extra: torchvision.models.get_model(name, weights=None, **extra)
    try:
        import timm
    except ImportError:
        timm = None
    if timm is not None and timm.is_model(timm_name):
        return lambda extra: timm.create_model(timm_name, pretrained=False, **extra)
    close = difflib.get_close_matches(timm_name, known, n=3)
    hint = f" Close torchvision names: {', '.join(close)}." if close else ""
    if timm is None:
        hint += " timm is not installed (pip install timm) for timm names."
    raise ValueError(
        f"architecture {name!r} is neither a torchvision model name"
        f"{'' if timm is None else ' nor a timm model name'}.{hint} Or pass a callable "
        "that builds the network."
    )


def _from_name(name: str, extra: dict[str, int]) -> nn.Module:
    return _builder(name)(extra)


def _split_normaliser(
    state: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], tuple[list[float] | None, list[float] | None]]:
    """Drop the attacker copy and the normaliser buffers; return those buffers' values."""
    state = {k: v for k, v in state.items() if not k.startswith(_DROPPED_PREFIXES)}
    for mean_key, std_key in _NORMALISERS:
        if mean_key in state and std_key in state:
            mean, std = state.pop(mean_key), state.pop(std_key)
            return state, (mean.flatten().tolist(), std.flatten().tolist())
    return state, (None, None)


def _strip_wrapper(
    state: dict[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Remove the one wrapper prefix (``model.``, ...) whose removal matches more keys."""
    best, overlap = state, len(state.keys() & expected.keys())
    for prefix in _WRAPPER_PREFIXES:
        stripped = _strip_prefix(state, prefix)
        if stripped is not state and len(stripped.keys() & expected.keys()) > overlap:
            best, overlap = stripped, len(stripped.keys() & expected.keys())
    return best


def _check_keys(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    path: Any,
    strict: bool,
) -> None:
    counters = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = [k for k in expected if k not in state and k not in counters]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: file {tuple(v.shape)}, architecture {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    matched = bool(state.keys() & expected.keys())
    if matched and not shapes and not (strict and (missing or unexpected)):
        if missing or unexpected:
            logger.warning(
                "%s: %d network keys missing from the file (left at random), %d file keys ignored",
                path,
                len(missing),
                len(unexpected),
            )
        return
    lines = [f"path {path} does not fit the architecture."]
    if not matched:
        lines[0] = (
            f"path {path} does not fit the architecture: none of its {len(state)} keys is one "
            f"of the network's {len(expected)}, so every weight would stay random"
            + (
                " (strict=False tolerates some missing or extra keys, not all)."
                if not strict
                else "."
            )
        )
    for title, keys in (
        ("shape mismatches", shapes),
        ("missing", missing),
        ("unexpected", unexpected),
    ):
        if keys:
            more = f"; ... ({len(keys)} in all)" if len(keys) > _SHOWN else ""
            lines.append(f"{title}: {'; '.join(keys[:_SHOWN])}{more}")
    lines.append("Likely cause: " + _likely_cause(shapes, missing, unexpected, state, expected))
    raise ValueError("\n".join(lines))


def _likely_cause(
    shapes: list[str],
    missing: list[str],
    unexpected: list[str],
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
) -> str:
    if shapes and not missing and not unexpected:
        last = [k for k in expected if k in state and state[k].shape != expected[k].shape][-1]
        outputs = state[last].shape[0]
        return (
            f"wrong num_classes: the file's {last} has {outputs} outputs; "
            f"pass num_classes={outputs}."
        )
    for file_key in unexpected[:1]:
        for net_key in missing:
            if file_key.endswith("." + net_key):
                prefix = file_key[: -len(net_key)]
                if _explains(prefix, unexpected, missing):
                    return (
                        f"a prefix to strip: the file's keys start with {prefix!r} (remove it "
                        "from the state dict's keys and save again)."
                    )
            if net_key.endswith("." + file_key):
                prefix = net_key[: -len(file_key)]
                if _explains(prefix, missing, unexpected):
                    return f"the architecture's keys start with {prefix!r}; the file's do not."
    return "wrong architecture: the file was saved from a different network."


def _explains(prefix: str, longer: list[str], shorter: list[str]) -> bool:
    """Whether removing ``prefix`` from ``longer`` yields ``shorter`` for most keys."""
    targets = set(shorter)
    hits = sum(k.startswith(prefix) and k[len(prefix) :] in targets for k in longer)
    return hits >= max(2, len(longer) // 2)
