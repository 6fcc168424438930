"""The input checks every public function calls, in one place.

Each check raises :class:`TypeError` (wrong kind of object) or :class:`ValueError`
(right kind, wrong value) with a message that names the parameter, says what was
expected and what came, and gives a fix where one exists. Checks run once per
public call; none of them belongs in a hot loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import torch
from torch import nn

__all__ = [
    "check_autocast",
    "check_band",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_eps",
    "check_finite_gradient",
    "check_generator",
    "check_images",
    "check_int",
    "check_labels",
    "check_logits",
    "check_model",
    "check_module",
    "check_open_unit",
    "check_perturbation",
    "check_real",
    "check_sequence",
    "check_square",
]


def _all_finite(tensor: torch.Tensor) -> bool:
    """No NaN and no inf in a non-empty tensor: one min/max pass, no ``(N, C, H, W)`` mask.

    (``min`` and ``max`` propagate NaN; an inf is the minimum or the maximum.)
    """
    lo, hi = torch.stack(list(torch.aminmax(tensor.detach()))).tolist()
    return math.isfinite(lo) and math.isfinite(hi)


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"


def check_images(images: Any, name: str = "images") -> None:
    """Check a batch of images: floating tensor ``(N, C, H, W)``, finite, in ``[0, 1]``.

    Raises:
        TypeError: ``images`` is not a floating-point tensor.
        ValueError: wrong number of dimensions, empty batch, NaN/inf, or values
            outside ``[0, 1]``.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(images).__name__}. "
            "Convert with torchvision.transforms.functional.to_tensor or torch.as_tensor."
        )
    if not images.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor with values in [0, 1], got {images.dtype}. "
            f"Convert uint8 images with {name}.float() / 255."
        )
    if images.ndim != 4:
        hint = f" Add a batch dimension with {name}.unsqueeze(0)." if images.ndim == 3 else ""
        raise ValueError(
            f"{name} must have shape (N, C, H, W), got {images.ndim} dimensions "
            f"{tuple(images.shape)}.{hint}"
        )
    if images.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(images.shape)}.")
    lo, hi = torch.aminmax(images.detach())
    lo_value, hi_value = torch.stack([lo, hi]).tolist()
    if math.isnan(lo_value) or math.isnan(hi_value):
        raise ValueError(f"{name} contains NaN; every pixel must be a finite number in [0, 1].")
    if lo_value < 0.0 or hi_value > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1], got [{lo_value:.3g}, {hi_value:.3g}]. "
            "Normalized inputs? Wrap the model in shapebias.models.NormalizedModel instead "
            "and pass images in [0, 1]."
        )


def check_perturbation(delta: Any, name: str = "delta") -> None:
    """Check a batch of perturbations: a finite floating tensor ``(N, C, H, W)``.

    Raises:
        TypeError: ``delta`` is not a floating-point tensor.
        ValueError: wrong number of dimensions, empty, or NaN/inf.
    """
    if not isinstance(delta, torch.Tensor) or not delta.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor (N, C, H, W) of perturbations, "
            f"got {_describe(delta)}."
        )
    if delta.ndim != 4 or delta.numel() == 0:
        hint = f" Add a batch dimension with {name}.unsqueeze(0)." if delta.ndim == 3 else ""
        raise ValueError(
            f"{name} must have shape (N, C, H, W), one perturbation per image, "
            f"got {tuple(delta.shape)}.{hint}"
        )
    if not _all_finite(delta):
        raise ValueError(f"{name} contains NaN or inf; every entry must be a finite number.")


def check_labels(labels: Any, images: torch.Tensor, name: str = "labels") -> None:
    """Check class labels: an int64 tensor ``(N,)`` of non-negative indices matching ``images``.

    The upper bound (the model's number of classes) is checked by :func:`check_logits`.
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"{name} must be an int64 torch.Tensor of shape (N,), got {type(labels).__name__}. "
            f"Use torch.as_tensor({name}, dtype=torch.long)."
        )
    if labels.dtype != torch.int64:
        raise TypeError(
            f"{name} must have dtype torch.int64 (class indices), got {labels.dtype}. "
            f"Use {name}.long()."
        )
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"{name} must have shape ({images.shape[0]},), one class index per image, "
            f"got {tuple(labels.shape)}."
        )
    if labels.device != images.device:
        raise ValueError(
            f"{name} is on {labels.device} but images are on {images.device}; "
            "move both to the same device."
        )
    if int(labels.min()) < 0:
        raise ValueError(f"{name} must be non-negative class indices, got {int(labels.min())}.")


def check_logits(
    logits: Any, batch_size: int, labels: torch.Tensor | None = None, name: str = "labels"
) -> None:
    """Check a model's output: a floating ``(N, K)`` tensor of logits, not probabilities.

    Args:
        logits: what the model returned.
        batch_size: the number of images that went in.
        labels: optional class indices to check against ``K``.
        name: the parameter name to use for ``labels`` in messages.

    Raises:
        TypeError: ``logits`` is not a tensor.
        ValueError: wrong shape or dtype, NaN or inf anywhere, rows that look like
            probabilities, or labels at or above the number of classes.
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(
            f"model must return a logits tensor of shape (N, K), got {type(logits).__name__}. "
            "If it returns a tuple or dict, wrap it: lambda x: model(x)[0]."
        )
    if logits.ndim != 2 or logits.shape[0] != batch_size or not logits.is_floating_point():
        raise ValueError(
            f"model must return floating logits of shape ({batch_size}, K), "
            f"got {_describe(logits)}."
        )
    num_classes = logits.shape[1]
    lowest, highest = torch.aminmax(logits.detach())
    checks = [lowest, (logits.detach().sum(1) - 1).abs().max(), highest]
    if labels is not None:
        checks.append(labels.max().to(logits.dtype))
    stats = torch.stack([c.to(logits.dtype) for c in checks]).tolist()
    if not (math.isfinite(stats[0]) and math.isfinite(stats[2])):
        raise ValueError(
            "model must return finite logits, but returned logits containing NaN or inf "
            f"(range [{stats[0]:g}, {stats[2]:g}]): no loss, attack or saliency map of them "
            "means anything. The model has diverged or its input is broken: check its "
            "weights (torch.isfinite(p).all() for p in model.parameters()) and numerics "
            "(float16 overflow, log of 0); in training, lower the learning rate or restart "
            "from an earlier checkpoint."
        )
    if num_classes > 1 and stats[0] >= 0 and stats[1] < 1e-4:
        raise ValueError(
            "model must return logits, but its outputs are non-negative and each row sums to 1: "
            "these look like probabilities. Remove the final softmax."
        )
    if labels is not None and stats[3] >= num_classes:
        raise ValueError(
            f"{name} must be class indices below the model's {num_classes} outputs, "
            f"got {int(stats[3])}."
        )


def check_finite_gradient(result: torch.Tensor, name: str) -> None:
    """Check, once per call, that what a gradient produced (a map, an attack) is finite.

    The logits are checked on the first model call (:func:`check_logits`); this catches
    a model whose logits are finite there but whose input gradient is NaN or inf
    somewhere (on perturbed inputs, or through a non-differentiable point).

    Raises:
        ValueError: ``result`` holds NaN or inf.
    """
    if not _all_finite(result):
        raise ValueError(
            f"{name}: the model's input gradient is NaN or inf on some inputs, although its "
            "first logits were finite, so the result would hold NaN (and a NaN attack would "
            "count as robust). Check the model's numerics on perturbed inputs (float16 "
            "overflow, log of 0, sqrt at 0, a division by a small norm)."
        )


def check_model(model: Any) -> None:
    """Check that ``model`` is callable (any ``images -> logits`` callable is a model)."""
    if not callable(model):
        raise TypeError(
            f"model must be a callable mapping images (N, C, H, W) to logits (N, K), "
            f"got {_describe(model)}."
        )


def check_module(
    model: Any, name: str = "model", *, user: str | None = None, reason: str | None = None
) -> nn.Module:
    """Check that ``model`` is an :class:`torch.nn.Module` (for code that needs its parameters,
    state dict or submodules) and return it.

    Args:
        model: the object to check.
        name: the parameter name for the message.
        user: the function that needs it (``"grad_cam"``), named in the message.
        reason: why a module is needed (``"it registers hooks on its submodules"``).

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
    if isinstance(model, nn.Module):
        return model
    needs = f"{user} needs {name} to be" if user else f"{name} must be"
    why = f" ({reason})" if reason else ""
    raise TypeError(
        f"{needs} a torch.nn.Module{why}, got {_describe(model)}. Wrap a plain callable in an "
        "nn.Module subclass whose forward calls it."
    )


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    finite: bool = False,
) -> float:
    """Check a real number within optional bounds and return it as ``float``.

    NaN is always refused; ``inf`` too with ``finite`` (a noise level, step or budget).

    Raises:
        TypeError: ``value`` is not a real number (``bool`` included).
        ValueError: NaN, outside the bounds, or (``finite``) infinite.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}.")
    number = float(value)
    if math.isnan(number) or (finite and math.isinf(number)):
        raise ValueError(f"{name} must be a finite number, got {number:g}.")
    too_low = low is not None and (number < low if low_inclusive else number <= low)
    too_high = high is not None and number > high
    if too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>=' if low_inclusive else '>'} {low:g}")
        if high is not None:
            bounds.append(f"<= {high:g}")
        raise ValueError(f"{name} must be {' and '.join(bounds)}, got {number:g}.")
    return number


def check_open_unit(value: Any, name: str, usual: str | None = None) -> float:
    """Check a real number in the open interval ``(0, 1)`` and return it as ``float``.

    For an algorithm's rate or fraction (APGD's ``rho``, FAB's ``alpha_max`` and
    ``beta``, a confidence level, a test fraction); ``usual`` is the customary value,
    named in the message. Every refusal states the open interval, so the message never
    suggests that 1 is allowed.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: NaN or outside ``(0, 1)``.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number in (0, 1), got {_describe(value)}.")
    number = float(value)
    if not 0.0 < number < 1.0:  # NaN fails both comparisons
        hint = f" The usual value is {usual}." if usual else ""
        raise ValueError(f"{name} must lie in (0, 1), got {number:g}.{hint}")
    return number


def check_bool(value: Any, name: str) -> bool:
    """Check a flag: only ``True`` or ``False``, never a string or a number.

    ``bool("False")`` is ``True``, so a flag given as a string would silently mean the
    opposite; numbers and NumPy booleans are refused too, so no flag is ever guessed.

    Raises:
        TypeError: ``value`` is not a Python ``bool``.
    """
    if not isinstance(value, bool):
        hint = f" Use {name}={value.strip().lower() == 'true'}." if isinstance(value, str) else ""
        raise TypeError(f"{name} must be True or False, got {_describe(value)}.{hint}")
    return value


def check_int(value: Any, name: str, *, low: int | None = None) -> int:
    """Check an integer with an optional lower bound and return it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_describe(value)}.")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}.")
    return value


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Check that ``value`` is one of the allowed strings."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}.")
    return value


def check_eps(
    eps: Any, images: torch.Tensor, name: str = "eps", *, pixel_bound: bool = True
) -> torch.Tensor:
    """Check a perturbation budget and return it as a ``(N, 1, 1, 1)`` tensor.

    ``eps`` is a non-negative float or a per-sample ``(N,)`` tensor, in ``[0, 1]``
    pixel units (``8/255``, not ``8``). With ``pixel_bound`` (per-pixel budgets such as
    L-inf) a budget above 1, float or tensor entry, is refused as a likely ``8`` meant
    as ``8/255``; L2 budgets are norms over all pixels and may exceed 1. NaN and inf are
    refused everywhere.

    Raises:
        TypeError: a float budget that is not a real number.
        ValueError: wrong tensor shape, dtype or device, a negative, NaN or infinite
            budget, or (``pixel_bound``) one above 1.
    """
    n = images.shape[0]
    if isinstance(eps, torch.Tensor):
        if eps.shape != (n,) or not eps.is_floating_point():
            raise ValueError(
                f"{name} must be a float or a floating tensor of shape ({n},), "
                f"got {_describe(eps)}."
            )
        if eps.device != images.device:
            raise ValueError(f"{name} is on {eps.device} but images are on {images.device}.")
        lo, hi = torch.stack(list(torch.aminmax(eps.detach()))).tolist()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            shown = "nan" if math.isnan(lo) or math.isnan(hi) else "inf"
            raise ValueError(f"{name} must be finite for every sample, got {shown}.")
        if lo < 0:
            raise ValueError(f"{name} must be >= 0 for every sample, got {lo:g}.")
        _check_pixel_units(hi, name, pixel_bound, "its largest entry is ")
        return eps.detach().to(images.dtype).view(n, 1, 1, 1)
    value = check_real(eps, name, low=0.0, finite=True)
    _check_pixel_units(value, name, pixel_bound, "got ")
    return torch.full((n, 1, 1, 1), value, dtype=images.dtype, device=images.device)


def _check_pixel_units(value: float, name: str, pixel_bound: bool, came: str) -> None:
    """With ``pixel_bound``, refuse a budget above 1: likely an ``8`` meant as ``8/255``."""
    if pixel_bound and value > 1.0:
        raise ValueError(
            f"{name} is in [0, 1] pixel units, {came}{value:g}. Did you mean {value:g}/255?"
        )


def check_generator(generator: Any, images: torch.Tensor) -> None:
    """Check an optional :class:`torch.Generator` living on the images' device."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {_describe(generator)}. "
            "Create one with torch.Generator().manual_seed(0)."
        )
    if generator.device.type != images.device.type:
        raise ValueError(
            f"generator is on {generator.device} but images are on {images.device}; "
            f"create it with torch.Generator(device={str(images.device)!r})."
        )


def check_callable(value: Any, name: str) -> Callable[..., Any]:
    """Check that ``value`` is callable and return it."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {_describe(value)}.")
    return value


def check_autocast(dtype: Any) -> torch.dtype | None:
    """Check an optional evaluation autocast dtype (``torch.float16`` or ``torch.bfloat16``)."""
    if dtype is None or dtype in (torch.float16, torch.bfloat16):
        return dtype
    raise ValueError(
        f"autocast must be None, torch.float16 or torch.bfloat16, got {_describe(dtype)}. "
        "Use torch.bfloat16 on CPU and recent GPUs, torch.float16 on older GPUs."
    )


def check_sequence(
    values: Any, name: str, *, item: Callable[[Any], bool], expected: str
) -> tuple[Any, ...]:
    """Check a non-empty list or tuple whose every entry passes ``item``; return it as a tuple.

    Args:
        values: the sequence to check.
        name: the parameter's name, for messages.
        item: a predicate every entry must satisfy.
        expected: what an entry must be, for messages (``"a torch.nn.Module"``).

    Raises:
        TypeError: ``values`` is not a sequence (a string or tensor is not one here), or
            an entry fails ``item``.
        ValueError: ``values`` is empty.
    """
    if isinstance(values, (str, bytes, torch.Tensor)) or not isinstance(values, Sequence):
        raise TypeError(
            f"{name} must be a list or tuple, each entry {expected}, got {type(values).__name__}."
        )
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one entry ({expected}), got none.")
    for index, value in enumerate(values):
        if not item(value):
            raise TypeError(f"{name}[{index}] must be {expected}, got {type(value).__name__}.")
    return tuple(values)


def check_band(band: Any, size: int, name: str = "band") -> tuple[float, float]:
    """Check a radial frequency band ``(low, high)`` for ``size x size`` images.

    Frequencies are in cycles per image (integer ``rfft2`` indices, Nyquist ``size / 2``):
    ``0 <= low < high``, ``low <= size / 2`` and ``high <= size / 2`` or ``high = inf``
    (``inf`` also takes the corners of the spectrum, ``size / 2 < r <= size / sqrt(2)``).
    Whether the band holds a frequency at all is checked where the mask is built.

    Raises:
        TypeError: ``band`` is not a pair of real numbers.
        ValueError: NaN, a negative ``low``, ``low >= high``, or a bound above Nyquist.
    """
    if isinstance(band, (str, bytes, torch.Tensor)) or not isinstance(band, Sequence):
        raise TypeError(
            f"{name} must be a pair (low, high) of radial frequencies in cycles per image, "
            f"got {_describe(band)}."
        )
    if len(band) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {len(band)} values.")
    low = check_real(band[0], f"{name}[0] (low)", low=0.0, finite=True)
    high = check_real(band[1], f"{name}[1] (high)")
    nyquist = size / 2
    if low >= high:
        raise ValueError(
            f"{name} must have low < high (the band is [low, high)), got ({low:g}, {high:g})."
        )
    if low > nyquist or (high > nyquist and not math.isinf(high)):
        hint = (
            ""
            if math.isinf(high)
            else (
                " Use high=math.inf to keep every frequency from low up, the spectrum's "
                "corners included."
            )
        )
        raise ValueError(
            f"{name} must lie within [0, Nyquist] = [0, {nyquist:g}] cycles per image for "
            f"{size}x{size} images, got ({low:g}, {high:g}).{hint}"
        )
    return low, high


def check_square(images: torch.Tensor, name: str, purpose: str) -> int:
    """Check that ``(..., H, W)`` images are square and return their side ``H``.

    Raises:
        ValueError: ``H != W``.
    """
    height, width = images.shape[-2:]
    if height != width:
        side = min(height, width)
        raise ValueError(
            f"{name} must be square (..., S, S) for {purpose}, got {height}x{width}. "
            f"Crop them square first, e.g. {name}[..., :{side}, :{side}]."
        )
    return height
