"""Accuracy and relative accuracy of a model on distorted copies of a test set."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from shapebias._batches import iterate_batches
from shapebias._distributed import gather_tensor, rank_and_world, shard_data
from shapebias._precision import evaluation_autocast
from shapebias._protocol import apply_distortion
from shapebias._seeds import derive_seed, seeded_generator
from shapebias._validation import (
    check_autocast,
    check_bool,
    check_callable,
    check_images,
    check_int,
    check_logits,
    check_model,
)
from shapebias.metrics._bootstrap import Estimate, estimate, resample_counts, share
from shapebias.metrics._checks import check_bootstrap, require_samples
from shapebias.metrics._tables import MISSING, check_results, format_estimate, markdown_table
from shapebias.models import check_unstacked, warn_if_train_mode

__all__ = ["DistortionAccuracy", "accuracy_table", "distortion_accuracy"]

CLEAN = "clean"

# Outcome cells per image: index = 2 * right_on_clean + right_on_distorted.
_ACCURACY = share([1, 3], [0, 1, 2, 3])
_RELATIVE = share([3], [2, 3])
# Clean only: index = right_on_clean.
_CLEAN_ACCURACY = share([1], [0, 1])


@dataclasses.dataclass(frozen=True)
class DistortionAccuracy:
    """Result of :func:`distortion_accuracy`: one model on a clean test set and its distortions.

    Attributes:
        total: number of test images.
        clean: top-1 accuracy on the clean images.
        accuracy: per distortion, top-1 accuracy on the distorted images.
        relative: per distortion, the share of the images right on clean that are still
            right after the distortion (NaN if no clean image was right).
        correct: per test set (``"clean"`` and each distortion), a bool CPU tensor
            ``(total,)``: was the image classified right? Feed two models' vectors to
            :func:`error_consistency`.
        confidence: coverage of the bootstrap intervals.

    All rates are fractions in ``[0, 1]``; every :class:`Estimate` carries its interval.
    """

    total: int
    clean: Estimate
    accuracy: dict[str, Estimate]
    relative: dict[str, Estimate]
    correct: dict[str, torch.Tensor]
    confidence: float

    @property
    def distortions(self) -> tuple[str, ...]:
        """The distortion names, in the order they were given."""
        return tuple(self.accuracy)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready numbers: totals, counts and every estimate with its interval."""
        clean = self.correct[CLEAN]
        return {
            "total": self.total,
            "confidence": self.confidence,
            "clean": {"correct": int(clean.sum()), "accuracy": self.clean.to_dict()},
            "distortions": {
                name: {
                    "correct": int(self.correct[name].sum()),
                    "correct_on_both": int((self.correct[name] & clean).sum()),
                    "accuracy": self.accuracy[name].to_dict(),
                    "relative": self.relative[name].to_dict(),
                }
                for name in self.distortions
            },
        }

    def to_markdown(
        self, name: str = "model", *, intervals: bool = True, relative: bool = True, digits: int = 1
    ) -> str:
        """A one-row table; see :func:`accuracy_table` to put several models in one table."""
        return accuracy_table({name: self}, intervals=intervals, relative=relative, digits=digits)


def distortion_accuracy(
    model: Callable[[torch.Tensor], torch.Tensor],
    data: Any,
    distortions: Mapping[str, Callable[..., torch.Tensor]],
    *,
    batch_size: int = 256,
    seed: int = 0,
    confidence: float = 0.95,
    num_bootstrap: int = 1000,
    progress: bool = True,
    autocast: torch.dtype | None = None,
    distributed: bool = True,
) -> DistortionAccuracy:
    """Top-1 accuracy and relative accuracy of ``model`` on distorted copies of ``data``.

    Each batch is classified once clean and once per distortion. Relative accuracy is
    counted over the whole dataset, ``#(right on clean and on distorted) / #(right on
    clean)``, never as a mean of per-batch ratios (which weighs small batches wrongly).
    Intervals are percentile bootstrap intervals over images (see :class:`Estimate`).

    Every distortion is called as ``distortion(images, generator=g)`` with its own
    :class:`torch.Generator` ``g``, seeded from ``seed`` and the distortion's name, so a
    run is reproducible bit for bit on CPU and adding a distortion does not change the
    others. All functions and Modules of :mod:`shapebias.distortions` take ``generator=``
    (deterministic ones ignore it); a callable of your own must accept it too, e.g.
    ``lambda x, generator=None: x.flip(-1)``.
    The random draws depend on the batching, so a different ``batch_size`` (or loader)
    gives different, equally valid, distorted images.

    Args:
        model: callable ``images -> logits``, normally in eval mode.
        data: a DataLoader (or iterable) of ``(images, labels)`` or a tuple of tensors.
        distortions: test-set name -> callable ``(images, *, generator) -> images``
            mapping a batch ``(N, C, H, W)`` in ``[0, 1]`` to a distorted batch of the same
            shape, e.g. ``{"saturated8": Saturate(8), "shuffled4": PatchShuffle(4)}``.
        batch_size: chunk size when ``data`` is a tuple of tensors.
        seed: seeds the distortions' generators and the bootstrap.
        confidence: coverage of the intervals.
        num_bootstrap: bootstrap replicates; 0 skips the intervals (bounds are NaN).
        progress: show a tqdm progress bar.
        autocast: ``torch.bfloat16`` or ``torch.float16`` runs the model (not the
            distortions) under :func:`torch.autocast`.
        distributed: under ``torchrun``, evaluate this process's block of ``data`` and
            combine the processes' results (default); ``False`` evaluates ``data`` as
            given on this process alone, for callers that shard and reduce themselves.

    Under ``torchrun`` each process evaluates its contiguous block of ``data`` and the
    per-image outcomes are gathered in dataset order, so every process returns the
    single-process result for deterministic distortions; a random distortion draws from
    a per-process generator (seeded from ``seed``, the name and the rank), which, like a
    different ``batch_size``, gives other, equally valid, distorted images
    (see :doc:`/guide/real_models`).

    Returns:
        A :class:`DistortionAccuracy` (``.to_dict()``, ``.to_markdown()``).

    Raises:
        TypeError: ``distortions`` is not a mapping of names to callables, a
            distortion does not accept ``generator=``, ``progress`` is not a ``bool``, or
            the model is or holds a :class:`~shapebias.models.StackedModels` (evaluate
            its ``unstack()`` members).
        ValueError: a distortion is named ``"clean"`` or returns a batch of another shape
            or outside ``[0, 1]``; empty data; any input check on images, labels, logits
            (NaN/inf logits included); ``num_bootstrap`` above ``MAX_BOOTSTRAP`` (10^6).

    Example:
        >>> import torch
        >>> from shapebias.metrics import distortion_accuracy
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(3).eval()
        >>> data = (torch.rand(16, 3, 16, 16), torch.randint(0, 3, (16,)))
        >>> result = distortion_accuracy(
        ...     model, data, {"flipped": lambda x, generator=None: x.flip(-1)}, progress=False
        ... )
        >>> sorted(result.to_dict()["distortions"])
        ['flipped']

    References:
        Zhang & Zhu, "Interpreting Adversarially Trained Convolutional Neural Networks",
        ICML 2019 (relative accuracy, Section 4).
    """
    check_model(model)
    check_unstacked(model, "distortion_accuracy", "it evaluates the data in batches of batch_size")
    check_int(batch_size, "batch_size", low=1)
    check_bootstrap(confidence, num_bootstrap, seed)
    check_bool(progress, "progress")
    distortions = _check_distortions(distortions)
    check_autocast(autocast)
    check_bool(distributed, "distributed")
    warn_if_train_mode(model, "distortion_accuracy")
    data, (rank, world) = shard_data(data, active=distributed), rank_and_world()
    generators: dict[str, torch.Generator] = {}
    outcomes: dict[str, list[torch.Tensor]] = {CLEAN: [], **{name: [] for name in distortions}}
    batches = tqdm(
        iterate_batches(data, batch_size), desc="distortion accuracy", disable=not progress
    )
    with torch.no_grad():
        for images, labels in batches:
            outcomes[CLEAN].append(_right(model, images, labels, autocast))
            for position, (name, distortion) in enumerate(distortions.items()):
                if name not in generators:
                    split = distributed and world > 1
                    keys = ("distortion", position, name) + ((rank,) if split else ())
                    generators[name] = seeded_generator(seed, *keys, device=images.device)
                distorted = apply_distortion(
                    distortion, images, generators[name], f"distortions[{name!r}]"
                )
                _check_distorted(distorted, images, name)
                outcomes[name].append(_right(model, distorted, labels, autocast))
    require_samples(len(outcomes[CLEAN]), "data")
    correct = {
        name: gather_tensor(torch.cat(parts), active=distributed).cpu()
        for name, parts in outcomes.items()
    }
    return _summarise(correct, seed=seed, confidence=confidence, num_bootstrap=num_bootstrap)


def accuracy_table(
    results: Mapping[str, Any],
    *,
    intervals: bool = True,
    relative: bool = True,
    digits: int = 1,
) -> str:
    """Combine several :class:`DistortionAccuracy` results into one paper-style table.

    One row per model, one column per test set (``clean`` first, then the distortions in
    the order they first appear). A cell reads ``accuracy [interval] (relative accuracy
    [interval])`` in percent, the layout of Zhang & Zhu's tables; a test set a model was
    not evaluated on shows ``–``. A legend line follows the table.

    Args:
        results: model name -> :class:`DistortionAccuracy`, in row order.
        intervals: show the bootstrap intervals.
        relative: show relative accuracy in parentheses.
        digits: decimals of the percentages.

    Returns:
        The Markdown text.

    Raises:
        TypeError: ``results`` is not a non-empty dict of :class:`DistortionAccuracy`,
            ``intervals`` or ``relative`` not a ``bool``.

    Example:
        >>> import torch
        >>> from shapebias.metrics import accuracy_table, distortion_accuracy
        >>> from shapebias.models import small_cnn
        >>> data = (torch.rand(8, 3, 16, 16), torch.randint(0, 3, (8,)))
        >>> from shapebias.distortions import Saturate
        >>> runs = {
        ...     name: distortion_accuracy(
        ...         small_cnn(3).eval(), data, {"saturated8": Saturate(8)}, progress=False
        ...     )
        ...     for name in ("standard", "pgd8")
        ... }
        >>> print(accuracy_table(runs).splitlines()[0])
        | model | clean | saturated8 |
    """
    results = check_results(results, DistortionAccuracy, "distortion_accuracy")
    check_int(digits, "digits", low=0)
    check_bool(intervals, "intervals")
    check_bool(relative, "relative")
    names = list(dict.fromkeys(name for r in results.values() for name in r.distortions))

    def cell(result: DistortionAccuracy, name: str) -> str:
        if name not in result.accuracy:
            return MISSING
        text = format_estimate(result.accuracy[name], digits=digits, intervals=intervals)
        if relative:
            text += (
                f" ({format_estimate(result.relative[name], digits=digits, intervals=intervals)})"
            )
        return text

    rows = [
        [model, format_estimate(r.clean, digits=digits, intervals=intervals)]
        + [cell(r, name) for name in names]
        for model, r in results.items()
    ]
    legend = "Accuracy %" + (" [bootstrap interval]" if intervals else "")
    if relative:
        legend += "; in parentheses: relative accuracy % (share of clean-correct images kept)"
    totals = sorted({r.total for r in results.values()})
    legend += f"; {'/'.join(map(str, totals))} test images."
    return markdown_table(["model", "clean", *names], rows) + "\n\n" + legend


def _right(
    model: Callable[..., Any],
    images: torch.Tensor,
    labels: torch.Tensor,
    autocast: torch.dtype | None,
) -> torch.Tensor:
    with evaluation_autocast(autocast, images.device):
        logits = model(images)
    check_logits(logits, images.shape[0], labels)
    return logits.argmax(1) == labels


def _check_distortions(distortions: Any) -> dict[str, Callable[..., torch.Tensor]]:
    """Validate ``distortions``: a mapping of str names (not ``"clean"``) to callables."""
    if not isinstance(distortions, Mapping):
        raise TypeError(
            "distortions must be a dict mapping test-set names to callables "
            f"(images, *, generator -> images), got {type(distortions).__name__}. "
            'Example: {"saturated8": Saturate(8)}.'
        )
    for name, function in distortions.items():
        if not isinstance(name, str):
            raise TypeError(f"distortions keys must be str names, got {name!r}.")
        if name == CLEAN:
            raise ValueError(
                f'distortions must not use the name "{CLEAN}": it is reserved for the '
                "undistorted test set, which is always evaluated."
            )
        check_callable(function, f"distortions[{name!r}]")
    return dict(distortions)


def _check_distorted(distorted: Any, images: torch.Tensor, name: str) -> None:
    if not isinstance(distorted, torch.Tensor) or distorted.shape != images.shape:
        got = tuple(distorted.shape) if isinstance(distorted, torch.Tensor) else type(distorted)
        raise ValueError(
            f"distortions[{name!r}] must return a batch shaped like its input "
            f"{tuple(images.shape)}, got {got}."
        )
    check_images(distorted, f"the output of distortions[{name!r}]")


def _summarise(
    correct: dict[str, torch.Tensor], *, seed: int, confidence: float, num_bootstrap: int
) -> DistortionAccuracy:
    clean = correct[CLEAN].long()
    estimates: dict[str, tuple[Estimate, ...]] = {}
    for name, right in correct.items():
        if name == CLEAN:
            cells, statistics = np.bincount(clean.numpy(), minlength=2), [_CLEAN_ACCURACY]
        else:
            cells = np.bincount((2 * clean + right.long()).numpy(), minlength=4)
            statistics = [_ACCURACY, _RELATIVE]
        resampled = resample_counts(cells, num_bootstrap, derive_seed(seed, "bootstrap", name))
        estimates[name] = tuple(estimate(s, cells, resampled, confidence) for s in statistics)
    return DistortionAccuracy(
        total=len(clean),
        clean=estimates.pop(CLEAN)[0],
        accuracy={name: pair[0] for name, pair in estimates.items()},
        relative={name: pair[1] for name, pair in estimates.items()},
        correct=correct,
        confidence=confidence,
    )
