"""The paper's protocol end to end: train the roster, evaluate every model, state the claims."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from shapebias.data import ShapeTextureDataset, dataset_tensors
from shapebias.experiments._cache import RunFolder, settings_key
from shapebias.experiments._claims import PAPER_CLAIMS
from shapebias.experiments._comparison import ClaimRow, claim_rows
from shapebias.experiments._data import ExperimentData, dataset_axes, load_data
from shapebias.experiments._evaluation import ModelResult, evaluate_model
from shapebias.experiments._figures import differences_figure, fourier_figure, saliency_figure
from shapebias.experiments._report import write_results
from shapebias.experiments._roster import BASELINE, ModelSpec, roster
from shapebias.experiments._settings import Settings
from shapebias.experiments._tables import Robustness, robustness_summary, time_breakdown
from shapebias.experiments._training import Trainer, starts_of
from shapebias.training import load_model

__all__ = ["Reproduction", "reproduce"]

log = logging.getLogger("shapebias.experiments")


@dataclasses.dataclass
class Reproduction:
    """What :func:`reproduce` found.

    Attributes:
        settings: the settings it ran with.
        results: per model, one :class:`ModelResult` per seed.
        rows: the claims, one :class:`ClaimRow` per (model, claim).
        robustness: robust accuracy and gain per model and budget.
        report: the Markdown report (``results.md``).
        out: the output folder.
        trained, evaluated: the (model, seed) pairs this call trained and evaluated
            (the rest came from the folder's cache).
    """

    settings: Settings
    results: dict[str, list[ModelResult]]
    rows: list[ClaimRow]
    robustness: Robustness
    report: str
    out: Path
    trained: list[tuple[str, int]]
    evaluated: list[tuple[str, int]]


@dataclasses.dataclass
class _Run:
    """What the worker processes and this process share for one reproduction."""

    settings: Settings
    axes: dict[str, Any]
    data_root: Path | None
    folder: RunFolder
    device: str
    log_level: int


_WORKER: dict[str, Any] = {}


def _init_worker(run: _Run) -> None:
    """A worker process: one thread, its own copy of the data, no progress bar."""
    torch.set_num_threads(1)
    logging.basicConfig(level=run.log_level, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("shapebias.training").setLevel(logging.WARNING)  # the epoch lines name it
    device = torch.device(run.device)
    data = load_data(run.settings, run.axes, run.data_root).to(device)
    _WORKER["trainer"] = Trainer(run.settings, data, run.folder, device)


def _in_worker(function: Callable[[Any, Trainer], Any], job: Any) -> Any:
    return function(job, _WORKER["trainer"])


def _train_job(job: tuple[ModelSpec, list[int], Any, Any], trainer: Trainer) -> None:
    spec, seeds, starts, recipes = job
    trainer.train(spec, starts, seeds=seeds, recipes=recipes)


def _evaluate_job(job: tuple[ModelSpec, int], trainer: Trainer) -> ModelResult:
    """Evaluate one saved model (read from its file, so a worker process can do it)."""
    spec, seed = job
    model = trainer.model(spec, seed)
    load_model(trainer.folder.model_path(spec.name, seed), model, map_location=trainer.device)
    data = trainer.data
    return evaluate_model(
        model.eval(),
        data.test,
        trainer.settings,
        cue_conflict=data.cue_conflict,
        shape_only=data.shape_only,
        texture_only=data.texture_only,
        num_classes=data.num_classes,
    )


class _Executor:
    """Runs jobs here or in worker processes of one thread each (started on first use)."""

    def __init__(self, workers: int, run: _Run, trainer: Trainer) -> None:
        self.workers, self.run, self.trainer = workers, run, trainer
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None

    def map(
        self, function: Callable[[Any, Trainer], Any], jobs: Sequence[Any]
    ) -> Iterator[tuple[Any, Any]]:
        """``(job, function(job, trainer))`` for every job, in order of completion.

        A single job runs here, with this process's threads: a worker has one thread, so
        it would leave the other cores idle (the default roster's first wave is one
        stack)."""
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                yield job, function(job, self.trainer)
            return
        if self.pool is None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.run,),
            )
        futures = {self.pool.submit(_in_worker, function, job): job for job in jobs}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _train_wave(
    specs: Sequence[ModelSpec],
    trainer: Trainer,
    executor: _Executor,
    models: dict[str, list[nn.Module]],
    trained: list[tuple[str, int]],
) -> None:
    """Train configurations that do not depend on each other (in the workers, if any)."""
    seeds = trainer.settings.seed_list()
    folder = trainer.folder
    missing = {
        spec.name: [s for s in seeds if not folder.model_path(spec.name, s).exists()]
        for spec in specs
    }
    trained += [(name, seed) for name, left in missing.items() for seed in left]
    if executor.workers > 1:
        jobs: list[tuple[Any, ...]] = []
        for spec in specs:
            if not missing[spec.name]:
                continue
            starts = None if spec.start is None else models[spec.start]
            if spec.stacked:
                for stack in trainer.stacks(seeds):
                    if set(stack) & set(missing[spec.name]):
                        jobs.append((spec, stack, starts_of(stack, seeds, starts), None))
                continue
            for seed in missing[spec.name]:
                start = starts_of([seed], seeds, starts)
                jobs.append((spec, [seed], start, [trainer.recipe(spec, seed)]))
        for (spec, job_seeds, _, _), _ in executor.map(_train_job, jobs):
            log.info("trained %s seeds %s", spec.name, job_seeds)
    for spec in specs:
        starts = None if spec.start is None else models[spec.start]
        models[spec.name] = trainer.train(spec, starts)


def _waves(specs: Sequence[ModelSpec]) -> list[list[ModelSpec]]:
    """The roster in groups that depend only on earlier groups."""
    done: set[str] = set()
    waves = []
    left = list(specs)
    while left:
        wave = [spec for spec in left if set(spec.depends_on) <= done]
        waves.append(wave)
        done |= {spec.name for spec in wave}
        left = [spec for spec in left if spec.name not in done]
    return waves


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _figure_data(settings: Settings, axes: Mapping[str, Any], num_classes: int) -> ExperimentData:
    """The few test images the saliency figure shows, when nothing needs the whole data."""
    data, count = settings.data, min(4, settings.evaluation.saliency_images)
    test = ShapeTextureDataset(
        "test",
        size=data.test_size,
        num_classes=data.num_classes,
        image_size=data.image_size,
        seed=settings.seed,
        **axes,
    )
    images = dataset_tensors(test, range(min(count, data.test_size)))
    return ExperimentData((), (), images, (), num_classes)


def reproduce(
    settings: Settings | None = None,
    out: str | Path = "runs/reproduce",
    *,
    axes: Mapping[str, Any] | None = None,
    data_root: str | Path | None = None,
    device: str = "cpu",
    workers: int = 2,
    fresh: bool = False,
    smoke_run: bool = False,
    progress: bool = True,
) -> Reproduction:
    """Run the paper's protocol: train the roster for every seed, evaluate, state the claims.

    Every stage is cached in ``out`` by what decides it: a model by the data and
    training settings that shape it, an evaluation by its model file's hash and the
    evaluation settings; the claims are always recomputed. A second call with other
    statistics settings (``alpha``, ``floor``, ``confidence``) re-analyses in seconds;
    with another training setting it trains only the models that setting shapes.
    Nothing is deleted unless ``fresh`` (which logs every file it deletes).

    Writes ``results.json``, ``results.md``, ``config.json``, ``saliency.png``,
    ``paired_differences.png``, ``fourier_heat_maps.png`` and the models in ``models/``.

    Args:
        settings: the settings (default :meth:`Settings.default`).
        out: the output folder.
        axes: ShapeTextureDataset keywords (default
            :func:`~shapebias.experiments.dataset_axes`: the calibrated values).
        data_root: the folder of a real data set (``settings.dataset`` not
            ``"shapetexture"``).
        device: where models train and run (``"cpu"``, ``"cuda:0"``).
        workers: processes of one thread each that train configurations and evaluate
            models side by side (1: everything in this process).
        fresh: delete the reproduction's files in ``out`` first (each one logged).
        smoke_run: mark the report as a smoke run (``--quick``), not a result.
        progress: show a progress bar.

    Returns:
        A :class:`Reproduction`.

    Raises:
        ValueError: ``workers`` below 1; a real data set without ``data_root``.
    """
    settings = Settings.default() if settings is None else settings
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1 (1 runs everything here), got {workers!r}.")
    axes = dict(dataset_axes() if axes is None else axes)
    root = Path(out)
    data_path = None if data_root is None else Path(data_root)
    specs = roster(settings)
    folder = RunFolder.plan(root, settings, specs, axes, data_path)
    if fresh:
        deleted = folder.fresh()
        log.warning("--fresh: deleted %d files and folders in %s", len(deleted), root)
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "settings": settings.flat(),
        "dataset_axes": axes,
        "model_keys": folder.model_keys,
        "evaluation_key": folder.evaluation_key,
    }
    (root / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    began, began_cpu = time.perf_counter(), _cpu_seconds()
    seeds = settings.seed_list()
    run = _Run(settings, axes, data_path, folder, device, logging.getLogger().getEffectiveLevel())
    torch_device = torch.device(device)

    # Which stages have work: the whole data set is loaded only when something trains
    # or is evaluated.
    missing_models = any(
        not folder.model_path(spec.name, seed).exists() for spec in specs for seed in seeds
    )
    missing_evaluations = missing_models or any(
        not folder.evaluation_path(spec.name, seed).exists() for spec in specs for seed in seeds
    )
    if missing_evaluations or settings.dataset != "shapetexture":
        data = load_data(settings, axes, data_path).to(torch_device)
    else:
        data = _figure_data(settings, axes, settings.data.num_classes).to(torch_device)
    specs = tuple(spec for spec in specs if _trainable(spec, data, settings))
    total = len(specs) * len(seeds)
    trained: list[tuple[str, int]] = []
    evaluated: list[tuple[str, int]] = []
    results: dict[str, list[ModelResult]] = {}
    with (
        logging_redirect_tqdm(),
        tqdm(total=2 * total, unit="model", file=sys.stderr, disable=not progress) as bar,
    ):
        counter = {"train": 0, "evaluate": 0}

        def step(what: str, name: str, seed: int) -> None:
            """Name the model on the bar: ``train model 5/21: pgd_linf_4 seed 1``."""
            counter[what] += 1
            bar.set_description(f"{what} model {counter[what]}/{total}: {name} seed {seed}")
            bar.update()

        trainer = Trainer(settings, data, folder, torch_device, on_model=step)
        executor = _Executor(workers, run, trainer)
        try:
            models: dict[str, list[nn.Module]] = {}
            for wave in _waves(specs):
                _train_wave(wave, trainer, executor, models, trained)
            results = {spec.name: [] for spec in specs}
            cached: dict[tuple[str, int], ModelResult] = {}
            jobs = []
            for spec in specs:
                for seed in seeds:
                    path = folder.evaluation_path(spec.name, seed)
                    if path.exists():
                        cached[spec.name, seed] = ModelResult.load(path)
                        step("evaluate", spec.name, seed)
                    else:
                        jobs.append((spec, seed))
            for (spec, seed), result in executor.map(_evaluate_job, jobs):
                result.save(folder.evaluation_path(spec.name, seed))
                cached[spec.name, seed] = result
                evaluated.append((spec.name, seed))
                parts = result.timing["cpu_seconds"]
                log.info(
                    "evaluated %s seed %d: CPU %s",
                    spec.name,
                    seed,
                    ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()),
                )
                step("evaluate", spec.name, seed)
        finally:
            executor.close()
    results = {spec.name: [cached[spec.name, seed] for seed in seeds] for spec in specs}
    wanted = [folder.model_path(s.name, seed) for s in specs for seed in seeds]
    wanted += [folder.evaluation_path(s.name, seed) for s in specs for seed in seeds]
    stale = folder.stale(wanted)
    if stale:
        log.info(
            "%d cached files of other settings kept in %s (models/, evaluations/); "
            "--fresh deletes them",
            len(stale),
            root,
        )
    robust = robustness_summary(results, settings)
    rows = analyse(results, settings, data.num_classes)
    # The saliency maps and heat maps depend on the models and the evaluation settings
    # only: drawn again when those change (a re-analysis redraws only the differences).
    figure_key = settings_key([folder.model_keys, folder.evaluation_key, settings.seed])
    stamp = root / "figures.key"
    drawn = [root / "saliency.png", root / "fourier_heat_maps.png"]
    if (
        trained
        or evaluated
        or not all(p.exists() for p in (stamp, *drawn))
        or (stamp.read_text() != figure_key)
    ):
        saliency_figure(models, data.test, settings, drawn[0])
        fourier_figure(results, settings, drawn[1])
        stamp.write_text(figure_key)
    differences_figure(rows, root / "paired_differences.png")
    context = {
        "axes": axes,
        "smoke_run": smoke_run,
        "workers": workers,
        "num_classes": data.num_classes,
        "seconds": time.perf_counter() - began,
        "cpu_seconds": _cpu_seconds() - began_cpu,
        "metas": trainer.metas,
        "timing": time_breakdown(results, trainer.metas),
        "trained": trained,
        "evaluated": evaluated,
    }
    report = write_results(results, rows, robust, settings, context, root)
    return Reproduction(settings, results, rows, robust, report, root, trained, evaluated)


def _trainable(spec: ModelSpec, data: ExperimentData, settings: Settings) -> bool:
    if spec.train == "train" or settings.dataset == "shapetexture":
        return True
    log.info("skipping %s: %s has no %s split", spec.name, settings.dataset, spec.train)
    return False


def analyse(
    results: Mapping[str, Sequence[ModelResult]], settings: Settings, num_classes: int
) -> list[ClaimRow]:
    """The claims table of a reproduction: every AT model and ``underfit`` vs ``standard``."""
    specs = [spec for spec in roster(settings) if spec.name in results]
    compared = [spec.name for spec in specs if spec.role == "adversarial"]
    compared += [spec.name for spec in specs if spec.name == "underfit"]
    return claim_rows(
        results,
        baseline=BASELINE,
        models=compared,
        claims=PAPER_CLAIMS,
        statistics=settings.statistics,
        num_classes=num_classes,
        seed=settings.seed,
        controls=("underfit",),
        keep_skipped=False,
    )
