"""The protocol's settings: four typed groups, two presets, and one table of range checks.

Every setting belongs to one group, and the group decides what a change costs:

- :class:`DataSettings` and :class:`TrainingSettings` shape the trained models (a change
  trains the models it affects again);
- :class:`EvaluationSettings` decide what is measured on each model (a change evaluates
  again, without training);
- :class:`StatisticsSettings` decide only the analysis (a change re-analyses in seconds).

Each setting's range check is one entry of :data:`RULES`; importing this module fails if a
setting has no entry, so a new setting cannot be added without its check.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from shapebias._budget import BUDGET_PATTERN, format_budget

__all__ = [
    "DATASETS",
    "GROUPS",
    "ROSTER_ENTRIES",
    "RULES",
    "DataSettings",
    "EvaluationSettings",
    "Settings",
    "StatisticsSettings",
    "TrainingSettings",
    "describe_value",
    "parse_setting",
    "setting_help",
]

DATASETS = ("shapetexture", "cifar10", "tinyimagenet", "caltech256", "folder")
ROSTER_ENTRIES = ("shape_only", "pgd_linf", "pgd_l2", "fgsm_rs", "underfit")
"""What ``roster`` may name; the standard model (the baseline) is always trained."""


def _setting(default: Any, help: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """The data the models are trained and tested on (ShapeTextureDataset sizes)."""

    num_classes: int = _setting(4, "ShapeTextureDataset classes")
    image_size: int = _setting(32, "image side in pixels")
    train_size: int = _setting(4000, "training images")
    validation_size: int = _setting(
        500, "validation images (per-epoch evaluation, underfit stopping; no test image)"
    )
    test_size: int = _setting(8000, "test images of each test split")


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How the roster's models are trained."""

    width: int = _setting(32, "small_cnn width")
    batch_size: int = _setting(64, "training batch size")
    standard_epochs: int = _setting(12, "epochs of the standard, shape-only, underfit models")
    finetune_epochs: int = _setting(3, "epochs of adversarial fine-tuning")
    train_pgd_steps: int = _setting(3, "PGD steps in adversarial training")
    lr: float = _setting(5e-3, "peak learning rate (Adam, one-cycle) from scratch")
    finetune_lr: float = _setting(1e-3, "peak learning rate of fine-tuning")
    eps_linf: tuple[float, ...] = _setting((4 / 255,), "PGD-Linf training budgets")
    eps_l2: float = _setting(0.25, "PGD-L2 training budget")
    eps_fgsm: float = _setting(4 / 255, "FGSM-RS training budget")
    roster: tuple[str, ...] = _setting(
        ("pgd_linf",),
        "configurations trained beside the standard model: any of "
        + ", ".join(ROSTER_ENTRIES)
        + " (pgd_linf: one per eps_linf; underfit needs an adversarial one)",
    )
    stack_size: int = _setting(
        3,
        "seeds per stack: more seeds train as several stacks (in seed order), which the "
        "worker processes train side by side (the default's 6 seeds: two stacks, one per "
        "worker)",
    )
    stack_seeds: bool = _setting(
        True,
        "train the seeds of a configuration as one StackedModels (false: one at a time; "
        "same numbers but for the random attack starts' draws)",
    )


@dataclasses.dataclass(frozen=True)
class EvaluationSettings:
    """What is measured on every model: attacks, saliency, frequency."""

    robust_eps: tuple[float, ...] = _setting(
        (1 / 255, 2 / 255, 4 / 255, 8 / 255), "L-inf budgets of the robustness table"
    )
    robust_size: int = _setting(500, "test images attacked for robust accuracy")
    eval_batch_size: int = _setting(
        128,
        "images per forward pass and attack batch (128 is the fastest on a 2-core CPU: "
        "benchmarks/README.md; raise it on a GPU)",
    )
    eval_attack: str = _setting(
        "apgd",
        "evaluation attack: apgd (APGD-CE then APGD-T, auto_attack version='fast') or pgd",
    )
    eval_steps: int = _setting(10, "iterations of each evaluation attack run")
    eval_restarts: int = _setting(2, "random restarts of the evaluation attack (pgd only)")
    low_pass_sigma: float = _setting(
        0.5,
        "the low-pass test set's Gaussian blur, standard deviation in pixels (calibrated on "
        "standard models: docs/calibration.rst)",
    )
    saliency_images: int = _setting(64, "test images whose SmoothGrad maps are scored")
    saliency_samples: int = _setting(50, "SmoothGrad noisy copies (n)")
    noise_level: float = _setting(0.15, "SmoothGrad noise level (of each image's range)")
    frequency_images: int = _setting(
        100, "test images of the Fourier heat map and the band eps index (per model)"
    )
    heat_map_size: int = _setting(11, "Fourier heat map: the size x size lowest frequencies")
    heat_map_eps: float = _setting(
        2.0, "Fourier heat map: L2 norm per channel of each sinusoid (pixel units)"
    )
    band_split: float = _setting(
        4.0, "band eps index: low band [0, f), high band [f, Nyquist], cycles per image"
    )
    band_steps: int = _setting(5, "band eps index: L2 PGD steps per bisection attack")


@dataclasses.dataclass(frozen=True)
class StatisticsSettings:
    """The analysis: intervals, Holm, floors and the fit check (no model is touched)."""

    fit_eps: float = _setting(2 / 255, "budget at which AT must beat the standard model")
    min_robust_gain: float = _setting(
        0.02, "AT did not fit unless its robust gain's interval clears this"
    )
    floor: float = _setting(
        0.05, "cannot discriminate: the standard model within this of chance or 100%"
    )
    confidence: float = _setting(0.95, "coverage of every interval")
    alpha: float = _setting(0.05, "family-wise error rate of each Holm family")
    holm_family: str = _setting(
        "claim",
        "Holm family: claim (the rows of one claim, each claim at alpha) or table (every "
        "tested row together)",
    )
    num_bootstrap: int = _setting(2000, "bootstrap replicates")


GROUPS: dict[str, type] = {
    "data": DataSettings,
    "training": TrainingSettings,
    "evaluation": EvaluationSettings,
    "statistics": StatisticsSettings,
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that decides a reproduction's results, in four typed groups.

    ``dataset``, ``seeds`` and ``seed`` are set by their own command-line flags; every
    other setting by its name (``settings.replace(alpha=0.01)``, ``--set alpha=0.01``).

    Attributes:
        dataset: one of :data:`DATASETS`.
        seeds: training seeds per model; every comparison is paired by seed.
        seed: the first seed (seeds are ``seed, seed + 1, ...``); it also seeds the
            distortions, attacks and bootstrap of the evaluation.
        data, training, evaluation, statistics: the groups.

    Example:
        >>> from shapebias.experiments import Settings
        >>> quick = Settings.quick().replace(alpha=0.01)
        >>> quick.statistics.alpha, quick.seed_list()
        (0.01, [0, 1])
    """

    dataset: str = _setting("shapetexture", "data set (--dataset)")
    seeds: int = _setting(6, "training seeds per model (--seeds)")
    seed: int = _setting(0, "first seed; seeds are seed, seed+1, ... (--seed)")
    data: DataSettings = dataclasses.field(default_factory=DataSettings)
    training: TrainingSettings = dataclasses.field(default_factory=TrainingSettings)
    evaluation: EvaluationSettings = dataclasses.field(default_factory=EvaluationSettings)
    statistics: StatisticsSettings = dataclasses.field(default_factory=StatisticsSettings)

    def __post_init__(self) -> None:
        problems = [problem for name, value in self.items() for problem in RULES[name](name, value)]
        if self.statistics.fit_eps not in self.evaluation.robust_eps:
            problems.append(
                f"fit_eps ({self.statistics.fit_eps:.6g}) must be one of robust_eps "
                f"({', '.join(format_budget(e) for e in self.evaluation.robust_eps)})"
            )
        if problems:
            raise ValueError("Refused settings (nothing was trained): " + "; ".join(problems) + ".")

    @classmethod
    def default(cls) -> Settings:
        """The decisive run: the standard model and PGD-Linf 4/255, 6 seeds, 8000 test images.

        Chosen by a power analysis (docs/guide/metrics.rst, "How many seeds and test
        images") to decide a 3-point effect within 15 minutes on 2 cores (8 seeds have a
        little more power and took 20 minutes); each claim is its own Holm family.
        """
        return cls()

    @classmethod
    def full(cls) -> Settings:
        """The whole roster: 7 models x 3 seeds, 1000 test images (18 min on 2 idle cores).

        Every configuration of the paper (PGD-Linf 2/255 and 4/255, PGD-L2, FGSM-RS) and
        both controls (shape-only, underfit); too few seeds and images to decide a
        3-point effect (see :meth:`default`).
        """
        return cls().replace(
            seeds=3, test_size=1000, eps_linf=(2 / 255, 4 / 255), roster=ROSTER_ENTRIES
        )

    @classmethod
    def quick(cls) -> Settings:
        """A smoke run (under a minute): tiny models, few images; its numbers are no result."""
        return cls.full().replace(
            seeds=2,
            image_size=16,
            train_size=800,
            validation_size=100,
            test_size=200,
            width=16,
            standard_epochs=4,
            finetune_epochs=1,
            train_pgd_steps=1,
            robust_eps=(2 / 255, 8 / 255),
            robust_size=100,
            eval_steps=3,
            eval_restarts=1,
            saliency_images=8,
            saliency_samples=4,
            num_bootstrap=300,
            frequency_images=24,
            heat_map_size=5,
            heat_map_eps=1.0,
            band_split=2.0,
            band_steps=2,
        )

    @staticmethod
    def preset(name: str) -> Settings:
        """``"default"``, ``"full"`` or ``"quick"``."""
        presets = {"default": Settings.default, "full": Settings.full, "quick": Settings.quick}
        if name not in presets:
            raise ValueError(f"preset must be 'default', 'full' or 'quick', got {name!r}.")
        return presets[name]()

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every setting as ``(name, value)``: the flags, then each group's settings."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in GROUPS:
                for inner in dataclasses.fields(value):
                    yield inner.name, getattr(value, inner.name)
            else:
                yield field.name, value

    def flat(self) -> dict[str, Any]:
        """Every setting by name, as one plain dict (``results.json``'s ``settings``)."""
        return dict(self.items())

    def group_of(self, name: str) -> str | None:
        """The group holding setting ``name`` (None for ``dataset``, ``seeds``, ``seed``)."""
        return _GROUP_OF.get(name)

    def replace(self, **changes: Any) -> Settings:
        """A copy with settings changed by name; checked like a new one.

        Raises:
            TypeError: an unknown setting name.
            ValueError: a value outside its range (:data:`RULES`).
        """
        unknown = sorted(set(changes) - set(RULES))
        if unknown:
            raise TypeError(
                f"unknown setting(s) {', '.join(map(repr, unknown))}; known settings: "
                f"{', '.join(sorted(RULES))}."
            )
        top = {k: v for k, v in changes.items() if k not in _GROUP_OF}
        groups = {}
        for group in GROUPS:
            mine = {k: v for k, v in changes.items() if _GROUP_OF.get(k) == group}
            if mine:
                groups[group] = dataclasses.replace(getattr(self, group), **mine)
        return dataclasses.replace(self, **top, **groups)

    def seed_list(self) -> list[int]:
        """The training seeds, ``seed, seed + 1, ...``."""
        return list(range(self.seed, self.seed + self.seeds))


_GROUP_OF = {f.name: group for group, cls in GROUPS.items() for f in dataclasses.fields(cls)}
_HELP = {
    f.name: f.metadata["help"]
    for cls in (Settings, *GROUPS.values())
    for f in dataclasses.fields(cls)
    if f.name not in GROUPS
}


# --------------------------------------------------------------------- range checks

Rule = Callable[[str, Any], list[str]]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(low: int) -> Rule:
    def rule(name: str, value: Any) -> list[str]:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{name} must be an int, got {value!r}"]
        return [] if value >= low else [f"{name} must be >= {low}, got {value}"]

    return rule


def _interval(
    low: float, high: float, *, closed_low: bool, closed_high: bool, unit: str = ""
) -> Rule:
    left, right = "[" if closed_low else "(", "]" if closed_high else ")"

    def rule(name: str, value: Any) -> list[str]:
        if not _is_number(value):
            return [f"{name} must be a number, got {value!r}"]
        above = value >= low if closed_low else value > low
        below = value <= high if closed_high else value < high
        if above and below:
            return []
        return [f"{name} must lie in {left}{low:g}, {high:g}{right}{unit}, got {value:g}"]

    return rule


def _positive(name: str, value: Any) -> list[str]:
    if not _is_number(value):
        return [f"{name} must be a number, got {value!r}"]
    return [] if value > 0 else [f"{name} must be > 0, got {value:g}"]


_BUDGET = _interval(0, 1, closed_low=False, closed_high=True, unit=" (pixel units, e.g. 4/255)")


def _budgets(name: str, value: Any) -> list[str]:
    if not isinstance(value, tuple) or not value:
        return [f"{name} must be a non-empty tuple of budgets, got {value!r}"]
    if all(_is_number(v) and 0 < v <= 1 for v in value):
        return []
    return [f"{name} must hold budgets in (0, 1] (pixel units, e.g. 4/255), got {value}"]


def _choice(*choices: str) -> Rule:
    def rule(name: str, value: Any) -> list[str]:
        if value in choices:
            return []
        return [f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"]

    return rule


def _roster(name: str, value: Any) -> list[str]:
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        return [f"{name} must be a tuple of names, got {value!r}"]
    unknown = [v for v in value if v not in ROSTER_ENTRIES]
    if unknown:
        return [f"{name} holds unknown {unknown}; known: {', '.join(ROSTER_ENTRIES)}"]
    if len(set(value)) != len(value):
        return [f"{name} names a configuration twice: {list(value)}"]
    if "underfit" in value and not set(value) & {"pgd_linf", "pgd_l2", "fgsm_rs"}:
        return [f"{name}: underfit matches adversarial models' accuracy; add one, got {value}"]
    return []


def _flag(name: str, value: Any) -> list[str]:
    return [] if isinstance(value, bool) else [f"{name} must be true or false, got {value!r}"]


# One entry per setting; the import below fails if a setting has none.
RULES: dict[str, Rule] = {
    "dataset": _choice(*DATASETS),
    "seeds": _count(1),
    "seed": _count(0),
    "num_classes": _count(2),
    "image_size": _count(1),
    "train_size": _count(1),
    "validation_size": _count(1),
    "test_size": _count(1),
    "width": _count(1),
    "batch_size": _count(1),
    "standard_epochs": _count(1),
    "finetune_epochs": _count(1),
    "train_pgd_steps": _count(1),
    "lr": _positive,
    "finetune_lr": _positive,
    "eps_linf": _budgets,
    "eps_l2": _positive,
    "eps_fgsm": _BUDGET,
    "roster": _roster,
    "stack_size": _count(1),
    "stack_seeds": _flag,
    "robust_eps": _budgets,
    "robust_size": _count(1),
    "eval_batch_size": _count(1),
    "eval_attack": _choice("apgd", "pgd"),
    "eval_steps": _count(1),
    "eval_restarts": _count(1),
    "low_pass_sigma": _positive,
    "saliency_images": _count(1),
    "saliency_samples": _count(1),
    "noise_level": _positive,
    "frequency_images": _count(1),
    "heat_map_size": _count(1),
    "heat_map_eps": _positive,
    "band_split": _positive,
    "band_steps": _count(1),
    "fit_eps": _BUDGET,
    "min_robust_gain": _interval(-1, 1, closed_low=True, closed_high=True),
    "floor": _interval(0, 0.5, closed_low=True, closed_high=False),
    "confidence": _interval(0, 1, closed_low=False, closed_high=False),
    "alpha": _interval(0, 1, closed_low=False, closed_high=False),
    "holm_family": _choice("claim", "table"),
    "num_bootstrap": _count(1),
}

_NAMES = [f.name for f in dataclasses.fields(Settings) if f.name not in GROUPS] + list(_GROUP_OF)
if sorted(_NAMES) != sorted(RULES):  # pragma: no cover - a developer's slip, caught on import
    raise ImportError(
        "every setting needs exactly one range check in RULES: missing "
        f"{sorted(set(_NAMES) - set(RULES))}, unknown {sorted(set(RULES) - set(_NAMES))}"
    )


def setting_help(name: str) -> str:
    """The one-line meaning of setting ``name``."""
    return _HELP[name]


# ------------------------------------------------------------------ typed --set values


def describe_value(value: Any, *, budget: bool = False) -> str:
    """A setting's value as a user would type it; budgets (``eps`` names) as ``k/255``."""
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        return format_budget(value) if budget else f"{value:.6g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(describe_value(v, budget=budget) for v in value) + "]"
    return json.dumps(value)


def parse_setting(name: str, text: str, default: Any) -> Any:
    """A ``--set NAME=VALUE`` value parsed as JSON (budgets also as ``4/255``) and typed
    like ``default``.

    Raises:
        ValueError: the value does not have the default's type.
    """
    try:
        value = json.loads(BUDGET_PATTERN.sub(lambda m: repr(float(m[1]) / float(m[2])), text))
    except json.JSONDecodeError:
        value = text
    kind = f"a {type(default).__name__}"
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = _is_number(value)
        value = float(value) if ok else value
    elif isinstance(default, tuple) and all(isinstance(v, str) for v in default):
        kind = "a list of names (a,b or a JSON list)"
        names = value.split(",") if isinstance(value, str) else value
        ok = isinstance(names, list) and all(isinstance(v, str) for v in names)
        value = tuple(v.strip() for v in names) if ok else value
    elif isinstance(default, tuple):
        kind = "a list of numbers"
        ok = isinstance(value, list) and bool(value) and all(_is_number(v) for v in value)
        value = tuple(float(v) for v in value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(
            f"--set {name}={text}: {name} must be {kind} (default "
            f"{describe_value(default)}), got {text!r}. Nothing was trained."
        )
    return value


def settings_from_mapping(values: Mapping[str, Any]) -> Settings:
    """:class:`Settings` from a flat mapping such as ``results.json``'s ``settings``."""
    return Settings().replace(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    )
