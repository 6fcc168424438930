"""The model card's comparison with people (``shapebias evaluate --humans``).

For every stimulus set of the card whose name is a dataset of the human raw data, the
model's decision on each image becomes a raw trial (the benchmark's CSV format), and
:func:`~shapebias.metrics.compare_with_humans` scores it against every human observer.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from shapebias._distributed import gather_tensor, shard_data
from shapebias._precision import evaluation_autocast
from shapebias.data import CATEGORIES_16, Trials, write_raw_trials
from shapebias.metrics import (
    EXCLUDED_CONDITIONS,
    Estimate,
    compare_with_humans,
    format_estimate,
)

__all__ = [
    "check_stimuli", "human_section", "humans_markdown", "model_name", "model_trials",
    "write_trials",
]  # fmt: skip

logger = logging.getLogger("shapebias.card")

_NAME_FIELDS = 6  # 0001_cl_dnn_<condition>_<category>_40_<image>: the condition is field 3


def model_name(weights: str | os.PathLike) -> str:
    """The default decision-maker name: the weight file's stem, ``_`` replaced by ``-``."""
    return Path(weights).stem.replace("_", "-")


def _condition(dataset: str, path: Path) -> str:
    """The condition of a parametric dataset's stimulus, from its model-vs-human file name."""
    if dataset not in EXCLUDED_CONDITIONS:
        return ""
    fields = path.name.split("_")
    return fields[3] if len(fields) > _NAME_FIELDS else ""


def _decisions(
    mapped: Callable[[torch.Tensor], torch.Tensor], loader: Any, autocast: Any
) -> torch.Tensor:
    """The model's category decision on every image, in dataset order (ranks gathered)."""
    parts = []
    with torch.no_grad():
        for batch in shard_data(loader):
            images = batch[0]
            with evaluation_autocast(autocast, images.device):
                parts.append(mapped(images).argmax(1))
    return gather_tensor(torch.cat(parts)).cpu()


def model_trials(dataset: str, data: Dataset, decisions: torch.Tensor, name: str) -> Trials:
    """The model's decisions on ``data`` (an image-file dataset) as raw trials.

    ``data.samples`` gives each image's path and true category (for cue-conflict images
    the shape's); the condition of a parametric dataset comes from the stimulus name.
    """
    samples = data.samples  # type: ignore[attr-defined]
    return Trials.from_decisions(
        dataset, name,
        [CATEGORIES_16[int(d)] for d in decisions.tolist()],
        [CATEGORIES_16[label] for _, label in samples],
        [Path(path).name for path, _ in samples],
        [_condition(dataset, Path(path)) for path, _ in samples],
    )  # fmt: skip


def check_stimuli(
    datasets: Mapping[str, Dataset], raw: Mapping[str, Mapping[str, Trials]], name: str
) -> None:
    """Fail before any model runs if a stimulus set does not align with its human trials.

    Raises:
        ValueError: the images of a stimulus set are not those the humans saw (named).
    """
    for dataset, data in datasets.items():
        humans = {m: t for m, t in raw.get(dataset, {}).items() if t.human}
        if humans:
            labels = torch.tensor([label for _, label in data.samples])  # type: ignore[attr-defined]
            compare_with_humans(dataset, model_trials(dataset, data, labels, name), humans,
                                num_bootstrap=0)  # fmt: skip


def human_section(
    mapped: Callable[[torch.Tensor], torch.Tensor],
    datasets: Mapping[str, Dataset],
    raw: Mapping[str, Mapping[str, Trials]],
    name: str,
    loader: Callable[[Dataset], Any],
    settings: Any,
) -> tuple[dict[str, Any], list[Trials]]:
    """The card's ``humans`` section and the model's trials on every compared dataset.

    Args:
        mapped: the model as a 16-category classifier (:func:`shapebias._card.stimulus_model`).
        datasets: stimulus set name -> image-file dataset (the OOD sets and cue-conflict).
        raw: the human raw data, :func:`shapebias.data.read_raw_trials`.
        name: the model's decision-maker name in the raw trials.
        loader: dataset -> the card's batch loader.
        settings: the card's settings (seed, bootstrap replicates, autocast).
    """
    with_humans = {d for d, makers in raw.items() if any(t.human for t in makers.values())}
    compared, trials = {}, []
    for dataset, data in datasets.items():
        if dataset not in with_humans:
            continue
        decisions = _decisions(mapped, loader(data), settings.autocast)
        ours = model_trials(dataset, data, decisions, name)
        humans = {m: t for m, t in raw[dataset].items() if t.human}
        result = compare_with_humans(
            dataset, ours, humans, seed=settings.seed, num_bootstrap=settings.num_bootstrap
        )
        compared[dataset] = result.to_dict()
        trials.append(ours)
    section: dict[str, Any] = {
        "decision_maker": name,
        "datasets": compared,
        "no_human_trials": sorted(set(datasets) - with_humans),
        "no_stimuli": sorted(with_humans - set(datasets)),
    }
    if compared:
        section["mean"] = {
            key: sum(c[key]["value"] for c in compared.values()) / len(compared)
            for key in ("accuracy", "accuracy_difference", "observed_consistency",
                        "error_consistency")
        }  # fmt: skip
    return section, trials


def write_trials(trials: list[Trials], out: str | os.PathLike) -> list[Path]:
    """The model's raw trials under ``out/raw-data`` (for ``shapebias benchmark``)."""
    return [write_raw_trials(t, Path(out) / "raw-data") for t in trials]


def humans_markdown(section: Mapping[str, Any]) -> list[str]:
    """The card's Markdown lines on the comparison with people."""

    def cell(estimate: Mapping[str, Any], percent: bool = False) -> str:
        values = [
            math.nan if estimate[k] is None else estimate[k] for k in ("value", "low", "high")
        ]
        if percent:
            return format_estimate(Estimate(*values))
        low = "" if math.isnan(values[1]) else f" [{values[1]:.3f}, {values[2]:.3f}]"
        return "-" if math.isnan(values[0]) else f"{values[0]:.3f}{low}"

    lines = ["## Compared with people (model-vs-human raw trials)", ""]
    if not section["datasets"]:
        lines.append("- no stimulus set of this card has human trials")
    else:
        lines += [
            "| dataset | images | subjects | accuracy % | human accuracy % | accuracy diff. ↓ "
            "| obs. consistency ↑ | error consistency ↑ |",
            "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for dataset, c in section["datasets"].items():
            lines.append(
                f"| {dataset} | {c['images']} | {c['subjects']} | {cell(c['accuracy'], True)} | "
                f"{cell(c['human_accuracy'], True)} | {cell(c['accuracy_difference'])} | "
                f"{cell(c['observed_consistency'])} | {cell(c['error_consistency'])} |"
            )
            if c["shape_bias"]["value"] is not None:
                shape = cell(c["shape_bias"], True)
                lines.append(
                    f"|  shape bias (same trials) | | | {shape} | "
                    f"{100 * c['human_shape_bias']:.1f} | | | |"
                )
        lines.append("")
        mean = section["mean"]
        lines.append(
            f"- mean over these {len(section['datasets'])} dataset(s): accuracy difference "
            f"{mean['accuracy_difference']:.3f}, observed consistency "
            f"{mean['observed_consistency']:.3f}, error consistency {mean['error_consistency']:.3f}"
        )
    if section["no_stimuli"]:
        lines.append(f"- human trials without stimuli here: {', '.join(section['no_stimuli'])}")
    if section["no_human_trials"]:
        lines.append(f"- stimuli without human trials: {', '.join(section['no_human_trials'])}")
    lines.append(
        "- as model-vs-human defines them: excluded conditions left out, consistencies "
        "averaged over conditions then subjects; comparable with the published benchmark only "
        "on its own stimuli and preprocessing. Intervals: bootstrap over images, 95 %."
    )
    lines.append("")
    return lines
