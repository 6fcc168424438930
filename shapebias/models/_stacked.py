"""StackedModels: several networks of one architecture run as one wide, grouped network."""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from shapebias._validation import check_sequence
from shapebias.models._normalized import NormalizedModel

__all__ = ["StackedModels", "check_unstacked", "holds_stack"]


@functools.cache
def _containers() -> tuple[type[nn.Module], ...]:
    """Containers whose forward only uses channel-agnostic operations (elementwise add,
    flatten from dim 1), so it runs unchanged on the channel-stacked layout."""
    from torchvision.models import resnet  # here: torchvision takes seconds to import

    return (nn.Sequential, resnet.ResNet, resnet.BasicBlock, resnet.Bottleneck)


# Leaves that act on each channel (or each element) alone: shared by all members as is.
_SHARED_LEAVES: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.Identity,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Flatten,
)


class _GroupedLinear(nn.Module):
    """``S`` linear layers on the channel-stacked layout ``(N, S * in) -> (N, S * out)``.

    ``weight`` is the members' weights concatenated along dim 0, ``(S * out, in)``, so
    member ``s`` owns rows ``s * out`` to ``(s + 1) * out``, exactly like a grouped conv.
    """

    weight: nn.Parameter
    bias: nn.Parameter | None

    def __init__(self, members: int, source: nn.Linear) -> None:
        super().__init__()
        self.members = members
        self.in_features = source.in_features
        self.out_features = source.out_features
        rows, like = members * self.out_features, source.weight
        self.weight = nn.Parameter(like.new_empty(rows, self.in_features))
        bias = None if source.bias is None else nn.Parameter(like.new_empty(rows))
        self.register_parameter("bias", bias)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        n = inputs.shape[0]
        grouped = inputs.reshape(n, self.members, self.in_features)
        weight = self.weight.view(self.members, self.out_features, self.in_features)
        out = torch.einsum("nsi,soi->nso", grouped, weight).reshape(n, -1)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (
            f"members={self.members}, in_features={self.in_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


def _widen(module: nn.Module, members: int) -> nn.Module:
    """An empty layer doing ``members`` copies of ``module`` on the channel-stacked layout."""
    if type(module) is nn.Conv2d:
        conv: nn.Conv2d = module
        return nn.Conv2d(
            members * conv.in_channels,
            members * conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            stride=conv.stride,  # type: ignore[arg-type]
            padding=conv.padding,  # type: ignore[arg-type]
            dilation=conv.dilation,  # type: ignore[arg-type]
            groups=members * conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
    if type(module) is nn.BatchNorm2d:
        norm: nn.BatchNorm2d = module
        like = next(iter(norm.buffers()), None) if norm.weight is None else norm.weight
        return nn.BatchNorm2d(
            members * norm.num_features,
            eps=norm.eps,
            momentum=norm.momentum,
            affine=norm.affine,
            track_running_stats=norm.track_running_stats,
            device=None if like is None else like.device,
            dtype=None if like is None else like.dtype,
        )
    if type(module) is nn.Linear:
        return _GroupedLinear(members, module)
    return module  # a shared leaf (checked by _check_supported)


def _check_supported(model: nn.Module) -> None:
    if type(model) not in _containers():
        raise TypeError(
            f"StackedModels stacks nn.Sequential and torchvision ResNet models, got a "
            f"{type(model).__name__}. Wrap a single layer in nn.Sequential."
        )
    for name, module in model.named_modules():
        kind = type(module)
        where = f"'{name}'" if name else "the model itself"
        if kind in _containers() or kind in _SHARED_LEAVES:
            if kind is nn.Flatten and (module.start_dim, module.end_dim) != (1, -1):
                raise TypeError(
                    f"StackedModels supports nn.Flatten(start_dim=1, end_dim=-1) only, got "
                    f"start_dim={module.start_dim}, end_dim={module.end_dim} at {where}."
                )
            continue
        if kind in (nn.Conv2d, nn.BatchNorm2d, nn.Linear):
            continue
        raise TypeError(
            f"StackedModels cannot stack a {kind.__name__} (at {where}): it stacks "
            "nn.Sequential and torchvision ResNets built from Conv2d, BatchNorm2d, Linear, "
            "pooling, Flatten and elementwise activations (small_cnn, resnet18). Train other "
            "architectures one seed at a time."
        )
    counts: dict[int, int] = {}
    for _, module in model.named_modules(remove_duplicate=False):
        if type(module) in (nn.Conv2d, nn.BatchNorm2d, nn.Linear):
            counts[id(module)] = counts.get(id(module), 0) + 1
    if any(count > 1 for count in counts.values()):
        raise TypeError(
            "StackedModels cannot stack a model that uses one Conv2d, BatchNorm2d or Linear "
            "layer in two places (shared weights); give each place its own layer."
        )


_SIGNATURE_PARTS = ("modules (types, settings, modes)", "tensors", "requires_grad flags")


def _signature(model: nn.Module) -> list[Any]:
    """What must agree between members: modules, their settings and modes, tensor layouts."""
    modules = [(n, type(m), m.extra_repr(), m.training) for n, m in model.named_modules()]
    tensors = [(n, t.shape, t.dtype, t.device) for n, t in model.state_dict().items()]
    grads = [(n, p.requires_grad) for n, p in model.named_parameters()]
    return [modules, tensors, grads]


def _check_same_architecture(members: Sequence[nn.Module]) -> None:
    reference = _signature(members[0])
    for index, member in enumerate(members[1:], start=1):
        found = _signature(member)
        for ours, theirs, what in zip(reference, found, _SIGNATURE_PARTS, strict=True):
            if ours != theirs:
                first, other = next(
                    (a, b) for a, b in zip([*ours, None], [*theirs, None], strict=False) if a != b
                )
                raise ValueError(
                    f"models[{index}] differs from models[0] in its {what}: models[0] has "
                    f"{first}, models[{index}] has {other}. StackedModels "
                    "needs copies of one architecture, built with the same settings, on one "
                    "device and dtype, all in the same train/eval mode."
                )
    tracked = [[t.item() for n, t in m.state_dict().items() if _shared(n)] for m in members]
    if any(counts != tracked[0] for counts in tracked):
        raise ValueError(
            "models must have the same BatchNorm num_batches_tracked counts (they are one "
            f"shared counter in the stack), got {tracked}. Stack models that were trained "
            "for the same number of steps, or fresh ones."
        )


def _split_normalizers(
    models: Sequence[nn.Module],
) -> tuple[list[nn.Module], NormalizedModel | None]:
    """The inner networks, and one shared normaliser if every model is a NormalizedModel."""
    wrapped = [isinstance(m, NormalizedModel) for m in models]
    if not any(wrapped):
        return list(models), None
    if not all(wrapped):
        raise ValueError(
            "models must be all NormalizedModel or none, got NormalizedModel at positions "
            f"{[i for i, w in enumerate(wrapped) if w]} only. Wrap every model the same way."
        )
    first = models[0]
    assert isinstance(first, NormalizedModel)
    for index, model in enumerate(models[1:], start=1):
        assert isinstance(model, NormalizedModel)
        if not (torch.equal(model.mean, first.mean) and torch.equal(model.std, first.std)):
            raise ValueError(
                f"models[{index}] normalises with mean {model.mean.flatten().tolist()}, std "
                f"{model.std.flatten().tolist()}, models[0] with mean "
                f"{first.mean.flatten().tolist()}, std {first.std.flatten().tolist()}; the "
                "stack shares one normaliser, so every NormalizedModel must use the same."
            )
    normalizer = _normalized_like(nn.Identity(), first)
    inner = [m.model for m in models if isinstance(m, NormalizedModel)]
    return inner, normalizer


def _normalized_like(model: nn.Module, source: NormalizedModel) -> NormalizedModel:
    """``model`` behind a normaliser with ``source``'s mean, std, dtype, device and mode."""
    wrapped = NormalizedModel(model, source.mean.flatten(), source.std.flatten())
    wrapped.mean, wrapped.std = source.mean.clone(), source.std.clone()
    wrapped.training = source.training
    return wrapped


def _stacked_state(members: Sequence[nn.Module]) -> dict[str, torch.Tensor]:
    """Each tensor of the members concatenated along dim 0; BatchNorm's step counter shared."""
    states = [m.state_dict() for m in members]
    return {
        name: tensor if _shared(name) else torch.cat([s[name] for s in states])
        for name, tensor in states[0].items()
    }


def _shared(name: str) -> bool:
    """Whether a state entry is one value for all members (BatchNorm's step counter)."""
    return name.endswith("num_batches_tracked")


def _build_body(template: nn.Module, members: Sequence[nn.Module]) -> nn.Module:
    body = copy.deepcopy(template)
    for name, module in list(body.named_modules()):
        wide = _widen(module, len(members))
        if wide is not module:
            parent, _, child = name.rpartition(".")
            setattr(body.get_submodule(parent), child, wide)
            wide.train(module.training)
            for source, target in zip(module.parameters(), wide.parameters(), strict=True):
                target.requires_grad_(source.requires_grad)
    with torch.no_grad():
        body.load_state_dict(_stacked_state(members))
    return body


class StackedModels(nn.Module):
    """``S`` networks of one architecture trained and attacked as one grouped network.

    The forward pass takes a *seed-major* batch of ``S * N`` images: images
    ``[s * N, (s + 1) * N)`` go to model ``s``, and the logits come back in the same
    order, equal (to float rounding) to ``torch.cat([m(x_s) for m, x_s in ...])``.
    Internally the ``S`` inputs sit side by side along the channel axis,
    ``(N, S * C, H, W)``, every ``Conv2d`` becomes one convolution with ``S`` times the
    groups, every ``BatchNorm2d`` one over ``S * C`` channels (so each model keeps its
    own batch statistics in training mode and its own running statistics), every
    ``Linear`` a grouped matrix product, and the activations run in ``channels_last``
    memory layout. One wide network runs ``S`` times fewer, larger operations than ``S``
    small ones; ``benchmarks/bench_stacked_training.py`` measures what that saves (on
    a 2-core CPU: the most with 2 threads, where small operations waste the threads;
    with 1 thread about what ``channels_last`` alone saves).

    Each member's parameters are a slice of the stacked ones and no operation mixes
    members, so each member's gradient is exactly its own separate gradient, and any
    elementwise optimizer (SGD with momentum and weight decay, Adam, AdamW) updates
    each slice exactly as it would the separate model. Two things differ from ``S``
    separate runs: a loss *averaged* over the ``S * N`` batch scales each member's
    gradient by ``1 / S`` (wrap the loss in :class:`~shapebias.training.StackedLoss`),
    and random attack starts are drawn once for the whole batch from one generator.

    The forward pass routes images by position, so only code that keeps the whole
    batch in order may call it: the stacked forward, :func:`~shapebias.attacks.pgd` and
    :func:`~shapebias.attacks.fgsm` without early stopping or restarts, the training
    losses and :func:`~shapebias.training.fit` (with :class:`StackedLoader` batches and
    ``eval_attack=None``), and the saliency maps that take one forward pass over the
    whole batch (:func:`~shapebias.saliency.gradient`, ``input_x_gradient``,
    ``guided_backprop``). Attacks that drop samples refuse a stack (ValueError: ``pgd``
    with early stopping or restarts, :func:`~shapebias.attacks.apgd`,
    :func:`~shapebias.attacks.fab`, :func:`~shapebias.attacks.square`,
    :func:`~shapebias.attacks.robust_accuracy` and so ``auto_attack``), and so
    do the saliency methods and metrics that chunk, repeat or shard the batch
    (``smoothgrad``, ``integrated_gradients``, ``grad_cam``, ``model_randomization_test``,
    ``distortion_accuracy``, ``shape_bias``, ``fourier_heat_map``: TypeError, from
    ``check_unstacked``);
    evaluate, attack and explain the members from :meth:`unstack` instead.

    Supported: ``nn.Sequential`` and torchvision ResNets (:func:`small_cnn`,
    :func:`resnet18`) built from ``Conv2d``, ``BatchNorm2d``, ``Linear``, pooling,
    ``Flatten`` and elementwise activations; every model may be a
    :class:`NormalizedModel`, as long as all share one mean and std.

    Args:
        models: ``S >= 1`` models of the same architecture, settings, dtype, device and
            mode. They are copied, never modified.

    Shape:
        Input ``(S * N, C, H, W)``, output ``(S * N, K)``.

    Raises:
        TypeError: ``models`` is not a sequence of ``nn.Module``, or holds a layer the
            stack does not support.
        ValueError: no models, members that differ in architecture, settings, mode,
            normaliser or BatchNorm step counts; at call time a batch not divisible by ``S``.

    Example:
        >>> import torch
        >>> from shapebias.models import StackedModels, small_cnn
        >>> models = [small_cnn(4, width=8) for _ in range(3)]
        >>> stack = StackedModels(models).eval()
        >>> images = torch.rand(3 * 2, 3, 16, 16)
        >>> separate = torch.cat([m.eval()(x) for m, x in zip(models, images.chunk(3))])
        >>> torch.allclose(stack(images), separate, atol=1e-5)
        True
        >>> [type(m).__name__ for m in stack.unstack()]
        ['Sequential', 'Sequential', 'Sequential']
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        models = check_sequence(
            models, "models", item=lambda m: isinstance(m, nn.Module), expected="a torch.nn.Module"
        )
        members, normalizer = _split_normalizers(models)
        _check_supported(members[0])
        _check_same_architecture(members)
        self.num_models = len(members)
        self.normalizer = normalizer
        self.body = _build_body(members[0], members)
        self.training = members[0].training
        self._template = (copy.deepcopy(members[0]).to("meta"),)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            found = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
            raise ValueError(f"images must be a tensor of shape (S * N, C, H, W), got {found}.")
        total, channels, height, width = images.shape
        members = self.num_models
        if total == 0 or total % members:
            raise ValueError(
                f"images must hold S * N images for the S = {members} stacked models "
                f"(images [s*N:(s+1)*N] go to model s), got a batch of {total}, which is not "
                f"a positive multiple of {members}. Build batches with StackedLoader, and "
                "run attacks that drop samples (early_stop, restarts, robust_accuracy) on "
                "stack.unstack() instead."
            )
        if self.normalizer is not None:
            images = self.normalizer(images)
        n = total // members
        side_by_side = (
            images.reshape(members, n, channels, height, width)
            .transpose(0, 1)
            .reshape(n, members * channels, height, width)
            .contiguous(memory_format=torch.channels_last)
        )
        logits = self.body(side_by_side)
        if logits.ndim != 2 or logits.shape[0] != n or logits.shape[1] % members:
            raise ValueError(
                f"the stacked network must return (N, S * K) logits, got {tuple(logits.shape)}."
            )
        return logits.reshape(n, members, -1).transpose(0, 1).reshape(total, -1)

    def unstack(self) -> list[nn.Module]:
        """Independent copies of the members, each in the original architecture.

        Each copy gets its slice of the stacked parameters and buffers (running
        statistics included), the stack's modes and ``requires_grad`` flags, and the
        shared normaliser when the members were :class:`NormalizedModel`. Later training
        of the stack does not change the copies, nor the other way round.

        Returns:
            ``S`` modules, member ``s`` first trained on images ``[s*N:(s+1)*N]``.
        """
        state = self.body.state_dict()
        anchor = next(iter(self.body.parameters()), None)
        device = anchor.device if anchor is not None else torch.device("cpu")
        members: list[nn.Module] = []
        for index in range(self.num_models):
            member = copy.deepcopy(self._template[0]).to_empty(device=device)
            if anchor is not None:
                member.to(anchor.dtype)
            member.load_state_dict(
                {
                    name: tensor.clone()
                    if _shared(name)
                    else tensor.chunk(self.num_models)[index].clone()
                    for name, tensor in state.items()
                }
            )
            _copy_modes(self.body, member)
            if self.normalizer is not None:
                member = _normalized_like(member, self.normalizer)
            members.append(member)
        return members

    def extra_repr(self) -> str:
        return f"num_models={self.num_models}"


def _copy_modes(source: nn.Module, target: nn.Module) -> None:
    """Give ``target``'s modules and parameters the modes and flags of ``source``'s."""
    for (_, a), (_, b) in zip(source.named_modules(), target.named_modules(), strict=True):
        b.training = a.training
    for a_param, b_param in zip(source.parameters(), target.parameters(), strict=True):
        b_param.requires_grad_(a_param.requires_grad)


def holds_stack(model: Any) -> bool:
    """Whether ``model`` is or contains a :class:`StackedModels` (it routes images by position)."""
    return isinstance(model, nn.Module) and any(
        isinstance(module, StackedModels) for module in model.modules()
    )


def check_unstacked(model: Any, user: str, why: str) -> None:
    """Refuse a model that is or holds a :class:`StackedModels`, for code that reorders batches.

    A stack routes images to its members by their position in the batch, so code that
    cuts the batch into chunks, repeats it or reads one layer's activations would send
    images to the wrong member (or explain all members at once). Such code calls this
    once per public call; code that keeps the whole batch in order (the attacks without
    early exit, the training losses, :func:`~shapebias.saliency.gradient`) takes stacks.

    Args:
        model: the model the caller was given.
        user: the public function, named in the message (``"smoothgrad"``).
        why: what it does with the batch (``"it runs noisy copies in chunks"``).

    Raises:
        TypeError: ``model`` is or contains a :class:`StackedModels`.

    Example:
        >>> from shapebias.models import StackedModels, small_cnn
        >>> from shapebias.models import check_unstacked
        >>> check_unstacked(small_cnn(3), "smoothgrad", "it chunks the batch")  # no error
        >>> stack = StackedModels([small_cnn(3, width=8) for _ in range(2)])
        >>> check_unstacked(stack, "smoothgrad", "it chunks the batch")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: smoothgrad cannot take a StackedModels as model: it chunks the batch, ...
    """
    if holds_stack(model):
        raise TypeError(
            f"{user} cannot take a StackedModels as model: {why}, and a stack routes images "
            "to its members by their position in the batch, so images would reach the wrong "
            f"member. Call {user} on each member of stack.unstack() instead."
        )
