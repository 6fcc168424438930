"""The paper's claims on any models: :func:`compare` and its :class:`Comparison`."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from shapebias._distributed import (
    gather_objects,
    is_main_process,
    local_only,
    rank_and_world,
    shard_bounds,
)
from shapebias._validation import check_bool, check_images
from shapebias.data import dataset_tensors
from shapebias.experiments._claims import PAPER_CLAIMS, Claim, claims_named
from shapebias.experiments._comparison import ClaimRow, claim_rows
from shapebias.experiments._evaluation import ModelResult, evaluate_model, paper_distortions
from shapebias.experiments._figures import differences_figure
from shapebias.experiments._report import plain
from shapebias.experiments._settings import Settings
from shapebias.experiments._tables import claims_table
from shapebias.models import eval_mode


def _eval(model: Any) -> Any:
    return eval_mode(model) if isinstance(model, nn.Module) else contextlib.nullcontext()


__all__ = ["Comparison", "compare"]

log = logging.getLogger("shapebias.experiments")

Split = tuple[torch.Tensor, ...]


@dataclasses.dataclass
class Comparison:
    """The claims stated for a set of models against a baseline.

    Attributes:
        rows: one :class:`ClaimRow` per (model, claim), skipped claims with their reason.
        results: per model name, one :class:`ModelResult` per seed.
        baseline: the baseline's name.
        settings: the settings used (evaluation and statistics groups, the seed).
        seconds: wall seconds per model set (its seeds' evaluations summed, whichever
            process ran them) and ``"analysis"``.
    """

    rows: list[ClaimRow]
    results: dict[str, list[ModelResult]]
    baseline: str
    settings: Settings
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """``{"baseline", "rows": [ClaimRow.to_dict(), ...], "seeds", "settings",
        "seconds", "time_breakdown"}``, strict JSON (NaN as None)."""
        return plain(
            {
                "baseline": self.baseline,
                "rows": [row.to_dict() for row in self.rows],
                "seeds": {name: len(per_seed) for name, per_seed in self.results.items()},
                "settings": self.settings.flat(),
                "seconds": self.seconds,
                "time_breakdown": self.time_breakdown(),
            }
        )

    def time_breakdown(self) -> dict[str, dict[str, float]]:
        """CPU seconds of each evaluation part per model, summed over its seeds."""
        table: dict[str, dict[str, float]] = {}
        for name, per_seed in self.results.items():
            parts: dict[str, float] = {}
            for result in per_seed:
                for part, seconds in result.timing.get("cpu_seconds", {}).items():
                    parts[part] = parts.get(part, 0.0) + seconds
            table[name] = parts
        return table

    def markdown(self) -> str:
        """The claims table in Markdown, with the reading of its columns."""
        note = (
            "Models in a set are paired with the baseline's models by position (seed). "
            "Models other than the baseline are read as adversarially trained."
        )
        return claims_table(self.rows, self.settings, baseline=self.baseline, note=note)

    def csv(self) -> str:
        """The rows of :meth:`to_dict` as CSV text."""
        buffer = io.StringIO()
        rows = [row.to_dict() for row in self.rows]
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["model"])
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()

    def figure(self, path: str | Path) -> None:
        """One panel per claim: each model's paired difference to the baseline."""
        differences_figure(self.rows, Path(path), baseline=self.baseline)

    def save(self, out: str | Path) -> None:
        """Write ``comparison.md``, ``.json``, ``.csv`` and ``.png`` into folder ``out``."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "comparison.md").write_text(self.markdown() + "\n")
        (folder / "comparison.json").write_text(
            json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        )
        (folder / "comparison.csv").write_text(self.csv())
        self.figure(folder / "comparison.png")


def _on_cpu(value: Any) -> Any:
    """``value`` with every tensor in it (dataclass fields, dict values) moved to the CPU,
    so that a result gathered from another process lands on no GPU of this one."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _on_cpu(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **fields)
    return value


def _as_sets(models: Any, baseline: Any) -> dict[str, list[nn.Module]]:
    if not isinstance(models, Mapping) or not models:
        raise TypeError(
            "models must be a non-empty dict mapping a name to a model or a list of per-seed "
            f"models, got {type(models).__name__}. Example: "
            '{"standard": [std0, std1], "pgd_linf_4": [at0, at1]}.'
        )
    if not isinstance(baseline, str) or baseline not in models:
        raise ValueError(
            f"baseline must be the name of one of the models ({', '.join(map(repr, models))}), "
            f"got {baseline!r}."
        )
    sets: dict[str, list[nn.Module]] = {}
    for name, value in models.items():
        members = list(value) if isinstance(value, (list, tuple)) else [value]
        if not members or not all(callable(m) for m in members):
            raise TypeError(
                f"models[{name!r}] must be a model or a non-empty list of models (callables "
                f"images -> logits), got {type(value).__name__}."
            )
        sets[str(name)] = members
    count = len(sets[baseline])
    unequal = {name: len(ms) for name, ms in sets.items() if len(ms) != count}
    if unequal:
        raise ValueError(
            f"every model set must hold as many models as the baseline {baseline!r} ({count}): "
            f"they are paired by position (seed), got {unequal}. Pass one model per seed for "
            "every set, in the same seed order."
        )
    if len(sets) < 2:
        raise ValueError(
            f"models needs the baseline and at least one model to compare, got {list(sets)}."
        )
    return sets


def _as_split(data: Any, name: str, fields: int) -> Split:
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor):
        split = tuple(data)
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        split = dataset_tensors(data)
    else:
        raise TypeError(
            f"{name} must be a labelled dataset or a tuple of tensors (images, labels...), "
            f"got {type(data).__name__}."
        )
    if len(split) < fields:
        raise ValueError(
            f"{name} must hold {fields} tensors (images and labels), got {len(split)}."
        )
    check_images(split[0], f"{name} images")
    for labels in split[1:fields]:
        if labels.dtype != torch.int64 or labels.shape != (len(split[0]),):
            raise ValueError(
                f"{name} labels must be int64 of shape ({len(split[0])},), got {labels.dtype} "
                f"{tuple(labels.shape)}."
            )
    return split[:fields]


def _num_classes(sets: Mapping[str, Sequence[nn.Module]], images: torch.Tensor) -> int:
    outputs = {}
    with torch.no_grad():
        for name, members in sets.items():
            for index, model in enumerate(members):
                with _eval(model):
                    logits = model(images[:1])
                if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
                    raise TypeError(
                        f"models[{name!r}][{index}] must return logits (N, K), got "
                        f"{type(logits).__name__}."
                    )
                outputs[f"{name}[{index}]"] = int(logits.shape[1])
    if len(set(outputs.values())) > 1:
        raise ValueError(
            f"every model must have the same number of classes, got {outputs}. Compare models "
            "trained on the same classes (wrap a model to map its outputs if needed)."
        )
    return next(iter(outputs.values()))


def _check_labels(split: Split, name: str, num_classes: int, hint: str) -> None:
    for labels in split[1:]:
        if len(labels) and (int(labels.max()) >= num_classes or int(labels.min()) < 0):
            raise ValueError(
                f"{name} has labels in [{int(labels.min())}, {int(labels.max())}] but the models "
                f"output {num_classes} classes. {hint}"
            )


def _resolve_claims(claims: Any) -> tuple[Claim, ...]:
    if isinstance(claims, (str, Claim)):
        claims = [claims]
    names = [c for c in claims if isinstance(c, str)]
    known = dict(zip(names, claims_named(names), strict=True))
    resolved = []
    for claim in claims:
        if isinstance(claim, str):
            resolved.append(known[claim])
        elif isinstance(claim, Claim):
            resolved.append(claim)
        else:
            raise TypeError(
                f"claims must hold Claim objects or claim names, got {type(claim).__name__}."
            )
    if not resolved:
        raise ValueError("claims must hold at least one claim, got none.")
    return tuple(resolved)


def _skip_reasons(claims: Sequence[Claim], images: torch.Tensor) -> dict[str, str]:
    """Why a paper test set does not exist for these images."""
    side, channels = images.shape[-1], images.shape[1]
    reasons = {}
    for claim in claims:
        test_set = claim.test_set or ""
        if test_set == "stylized" and channels != 3:
            reasons[test_set] = f"stylize needs colour images, got {channels} channel(s)"
        elif test_set.startswith("shuffled "):
            grid = int(test_set.split()[1].split("x")[0])
            if side % grid:
                reasons[test_set] = f"a {grid}x{grid} patch grid does not divide the {side} px side"
    return reasons


def compare(
    models: Mapping[str, nn.Module | Sequence[nn.Module]],
    data: Any,
    *,
    baseline: str,
    claims: Sequence[Claim | str] = PAPER_CLAIMS,
    cue_conflict: Any = None,
    shape_only: Any = None,
    settings: Settings | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
    distributed: bool = True,
) -> Comparison:
    """The paper's claims (or your own) on any models, each against a baseline.

    Every model set is evaluated once (one forward pass per model and distorted test set,
    whatever the number of claims); each claim is then a seed-paired difference model -
    baseline with its interval, sign count, Holm-adjusted p-value (over the table) and
    verdict, exactly as in :func:`reproduce`. Models other than the baseline are read as
    adversarially trained: where robust accuracy at ``settings.statistics.fit_eps`` is not
    clearly higher than the baseline's, their claims read "AT did not fit".

    Claims whose test set or requirement is missing are kept as rows with the reason
    (stylize on 1-channel images, a patch grid that does not divide the image side, shape
    bias without cue-conflict or shape-only images) and are not tested.

    Args:
        models: name -> a model, or a list of per-seed models (callables ``images ->
            logits``). Lists are paired by position with the baseline's list; a set of one
            (a downloaded checkpoint) works, its interval then covers test images only.
        data: a labelled dataset of ``(image, label)`` or a pair ``(images, labels)``,
            images in ``[0, 1]``; the clean test set every distortion is made from.
        baseline: the name of the baseline set in ``models`` (the standard model).
        claims: :class:`Claim` objects or names of :data:`PAPER_CLAIMS`.
        cue_conflict: ``(images, shape_labels, texture_labels)`` or a dataset of such
            items, for the shape-bias claim.
        shape_only: ``(images, labels)`` or a dataset with the shape cue alone: shape bias
            is judged only where the models recognise shape above chance.
        settings: evaluation and statistics settings (default :meth:`Settings.default`).
        generator: seeds the distortions, attacks, noise and bootstrap (default: the
            settings' ``seed``); every model sees the same distorted images.
        progress: show a progress bar over the models (on the main process).
        distributed: under ``torchrun`` (a process group initialised), split the models
            across the processes and gather their results (default); ``False`` evaluates
            every model in every process.

    Under ``torchrun`` the unit of work is one model (one seed of one set): the models,
    listed set by set in seed order, are cut into contiguous blocks whose sizes differ by
    at most one, each process evaluates its block, and the per-item results of every
    model are gathered in that order onto every process, where the claims are computed.
    A model's evaluation depends only on the model, the data and the settings' seed, so
    the rows equal the single-process rows exactly, whichever process evaluated which
    model and however unbalanced the blocks (only ``seconds`` and the time breakdown
    differ). Inside a model's evaluation nothing is sharded further: the distortions'
    random draws stay those of one process. Processes beyond the number of models stay
    idle. Gathered results are on the CPU.

    Returns:
        A :class:`Comparison`, the same on every process.

    Raises:
        ValueError: the baseline is not in ``models``; sets of unequal length; models
            with different class counts; labels outside the models' classes; cue-conflict
            images with no conflicting pair; an unknown claim name.
        TypeError: ``models`` or ``data`` of the wrong kind.

    Example:
        >>> import torch
        >>> from shapebias.experiments import Settings, compare
        >>> from shapebias.models import small_cnn
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> data = (torch.rand(16, 3, 16, 16), torch.randint(0, 4, (16,)))
        >>> fast = Settings.quick().replace(robust_size=8, saliency_images=2, num_bootstrap=20)
        >>> result = compare({"standard": small_cnn(4).eval(), "other": small_cnn(4).eval()},
        ...                  data, baseline="standard", claims=["stylized", "shape bias"],
        ...                  settings=fast, progress=False)
        >>> [(row.claim.name, row.verdict) for row in result.rows][1]
        ('shape bias', 'skipped')
    """
    settings = Settings.default() if settings is None else settings
    check_bool(progress, "progress")
    check_bool(distributed, "distributed")
    sets = _as_sets(models, baseline)
    chosen = _resolve_claims(claims)
    test = _as_split(data, "data", 2)
    num_classes = _num_classes(sets, test[0])
    _check_labels(
        test,
        "data",
        num_classes,
        "Order the data's classes as the models' outputs (one class folder per output, in "
        "output order), or wrap the models to map their outputs onto the data's classes "
        "(e.g. shapebias.metrics.CategoryModel for ImageNet models on 16 categories).",
    )
    conflict = None if cue_conflict is None else _as_split(cue_conflict, "cue_conflict", 3)
    if conflict is not None:
        _check_labels(conflict, "cue_conflict", num_classes, "Use the models' classes.")
        if not bool((conflict[1] != conflict[2]).any()):
            raise ValueError(
                "cue_conflict holds no image whose shape and texture classes differ: shape bias "
                "counts only conflicting images. Pass cue-conflict images (e.g. "
                "shapebias.distortions.cue_conflict or ShapeTextureDataset('cue_conflict'))."
            )
    shapes = None if shape_only is None else _as_split(shape_only, "shape_only", 2)
    if shapes is not None:
        _check_labels(shapes, "shape_only", num_classes, "Use the models' classes.")
    if generator is not None:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        settings = settings.replace(seed=seed)
    # Robust accuracy only at the fit check's budget: the claims read nothing else.
    settings = settings.replace(robust_eps=(settings.statistics.fit_eps,))
    measures = {claim.measure for claim in chosen}
    parts = ["distortions", "robustness"]
    if "shape bias" in measures:
        parts += ["cue conflict", "shape/texture only"]
    if measures & {"edge_alignment", "concentration"}:
        parts.append("saliency")
    distortions = {
        name: value
        for name, value in paper_distortions(
            test[0].shape[-1], test[0].shape[1], low_pass_sigma=settings.evaluation.low_pass_sigma
        ).items()
        if any(claim.test_set == name for claim in chosen)
    }
    extra = [
        c for c in chosen if c.measure == "relative accuracy" and c.test_set not in distortions
    ]
    reasons = _skip_reasons(extra, test[0])
    unknown = [c.test_set for c in extra if c.test_set not in reasons]
    if unknown:
        raise ValueError(
            f"claims name test sets that are not among the paper's distortions: {unknown}; "
            "a relative-accuracy claim's test_set must be one of "
            f"{', '.join(paper_distortions(32))}."
        )
    units = [(name, index) for name, members in sets.items() for index in range(len(members))]
    rank, world = rank_and_world()
    sharded = distributed and world > 1
    start, stop = shard_bounds(len(units), rank, world) if sharded else (0, len(units))
    main = is_main_process()  # read before local_only(), inside which every process is main
    if sharded and world > len(units) and main:
        log.warning(
            "compare splits whole models across processes: %d models on %d processes "
            "leave %d idle.",
            len(units),
            world,
            world - len(units),
        )
    evaluated = []
    with (
        local_only(),
        tqdm(total=stop - start, unit="model", disable=not (progress and main)) as bar,
    ):
        for name, index in units[start:stop]:
            bar.set_description(f"evaluate {name} [{index}]")
            began = time.perf_counter()
            with _eval(sets[name][index]):
                result = evaluate_model(
                    sets[name][index],
                    test,
                    settings,
                    cue_conflict=conflict,
                    shape_only=shapes,
                    distortions=distortions,
                    num_classes=num_classes,
                    parts=tuple(parts),
                )
            evaluated.append(
                (name, _on_cpu(result) if sharded else result, time.perf_counter() - began)
            )
            bar.update()
    if sharded:  # every process's block, in rank order: the units' order
        evaluated = [unit for block in gather_objects(evaluated) for unit in block]
    results: dict[str, list[ModelResult]] = {name: [] for name in sets}
    seconds: dict[str, float] = dict.fromkeys(sets, 0.0)
    for name, result, wall in evaluated:
        results[name].append(result)
        seconds[name] += wall
    began = time.perf_counter()
    rows = claim_rows(
        results,
        baseline=baseline,
        models=[name for name in sets if name != baseline],
        claims=chosen,
        statistics=settings.statistics,
        num_classes=num_classes,
        seed=settings.seed,
        reasons=reasons,
    )
    seconds["analysis"] = time.perf_counter() - began
    log.info("compare: %s", ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    return Comparison(rows, results, baseline, settings, seconds)
