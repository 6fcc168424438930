"""The protocol's figures: paired differences per claim, SmoothGrad maps, Fourier heat maps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from shapebias._matplotlib import matplotlib_module
from shapebias.experiments._comparison import ClaimRow
from shapebias.experiments._evaluation import ModelResult, smoothgrad_maps
from shapebias.experiments._settings import Settings
from shapebias.frequency import plot_fourier_heat_map
from shapebias.saliency import to_heatmap

__all__ = ["differences_figure", "fourier_figure", "saliency_figure"]


def _figure(**kwargs: Any) -> Any:
    """A matplotlib Figure that only writes files: no pyplot, no backend, no global state."""
    return matplotlib_module("matplotlib.figure").Figure(**kwargs)


def differences_figure(rows: Sequence[ClaimRow], path: Path, *, baseline: str = "standard") -> None:
    """One panel per claim: each model's seed-paired difference to the baseline."""
    tested = [row for row in rows if row.difference is not None]
    names = list(dict.fromkeys(row.claim.name for row in tested))
    columns, rows_of_panels = 4, max(1, math.ceil(len(names) / 4))
    fig = _figure(figsize=(13, 2.4 * rows_of_panels))
    axes = fig.subplots(rows_of_panels, columns, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        chosen = [row for row in tested if row.claim.name == name]
        for y, row in enumerate(chosen):
            difference = row.difference
            if difference is None:
                continue
            e = difference.difference
            error = (
                [[100 * (e.value - e.low)], [100 * (e.high - e.value)]]
                if not math.isnan(e.low)
                else None
            )
            ax.errorbar(100 * e.value, y, xerr=error, fmt="o", capsize=3)
            ax.plot(100 * np.array(difference.per_seed), [y] * difference.num_seeds, "k.", ms=3)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(range(len(chosen)), [f"{r.model} ({r.verdict})" for r in chosen], fontsize=7)
        ax.set_title(f"{name}: {chosen[0].claim.expected} expected", fontsize=8)
        ax.set_xlabel(f"model - {baseline} (points)", fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def fourier_figure(
    results: Mapping[str, Sequence[ModelResult]], settings: Settings, path: Path
) -> None:
    """Fourier heat maps (error rate) of every model of the first seed, on one colour scale."""
    evaluation, size = settings.evaluation, settings.data.image_size
    names, columns = list(results), 4
    rows = -(-len(names) // columns)
    fig = _figure(figsize=(2.3 * columns + 1.0, 2.4 * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        heat = results[name][0].heat_map
        if heat is None:
            ax.axis("off")
            continue
        plot_fourier_heat_map(heat, ax, colorbar=False, title=name)
        ax.set_xlabel("horizontal j", fontsize=7)
        ax.set_ylabel("vertical i", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    fig.colorbar(axes.flat[0].images[0], ax=axes, label="error rate", shrink=0.8)
    fig.supxlabel(
        f"Fourier heat maps (Yin et al. 2019), seed {settings.seed}: error rate under "
        f"clip(x + {evaluation.heat_map_eps:g} r U_ij) per frequency (i, j) in cycles per "
        f"image, DC in the middle, on the first {evaluation.frequency_images} test images; "
        f"{size}x{size} px, the "
        f"{evaluation.heat_map_size}x{evaluation.heat_map_size} lowest frequencies.",
        fontsize=7,
        wrap=True,
    )
    fig.savefig(path, dpi=110)


def saliency_figure(
    models: Mapping[str, Sequence[nn.Module]],
    test: tuple[torch.Tensor, ...],
    settings: Settings,
    path: Path,
) -> None:
    """SmoothGrad maps of every model (first seed) on the same test images, with a caption."""
    evaluation, size = settings.evaluation, test[0].shape[-1]
    count = min(4, evaluation.saliency_images, len(test[0]))
    images, labels = (t[:count] for t in test[:2])
    names = list(models)
    fig = _figure(figsize=(1.9 * count + 1.2, 1.9 * (len(names) + 1) + 1.0))
    axes = fig.subplots(len(names) + 1, count, squeeze=False)
    for j in range(count):
        picture = images[j].permute(1, 2, 0).cpu().numpy()
        axes[0, j].imshow(
            picture if picture.shape[-1] == 3 else picture[..., 0],
            cmap="gray",
            interpolation="nearest",
        )
        axes[0, j].set_title(f"class {int(labels[j])}", fontsize=9)
    shown = None
    for i, name in enumerate(names, start=1):
        heat = to_heatmap(smoothgrad_maps(models[name][0], images, labels, settings)).cpu()
        for j in range(count):
            shown = axes[i, j].imshow(
                heat[j].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest"
            )
        axes[i, 0].set_ylabel(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(
        shown, ax=axes[1:, :].ravel().tolist(), shrink=0.6, label="|gradient| / 99th percentile"
    )
    fig.text(
        0.02,
        0.005,
        f"SmoothGrad, n = {evaluation.saliency_samples} noisy copies, noise level "
        f"{evaluation.noise_level:g} of each image's range; gradient of the cross-entropy loss "
        f"of the true class (the class above each column); |g| summed over channels, divided "
        f"by its 99th percentile, clipped to [0, 1]. Models of seed {settings.seed}; "
        f"{size}x{size} px shown with nearest-neighbour pixels.",
        fontsize=7,
        wrap=True,
    )
    fig.savefig(path, dpi=110)
