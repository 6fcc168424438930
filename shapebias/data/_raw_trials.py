"""Raw trials of the model-vs-human benchmark: per-trial decisions of people and models.

One folder per dataset, one CSV per decision-maker and session::

    raw-data/<dataset>/<dataset>_<decision-maker>_session-<k>.csv

with the header ``subj,session,trial,rt,object_response,category,condition,imagename``
(read case-insensitively; the human files say ``Session``, and their names say
``session_<k>``). Human decision-makers are ``subject-01``, ``subject-02``, ...; a model's
rows have ``rt`` NaN. This is the layout of Geirhos et al.'s ``model-vs-human``
repository, so its published human trials read as they are and the CSVs written here
are read by its own plotting code.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shapebias._conditions import condition_key
from shapebias.data._categories import CATEGORIES_16

__all__ = [
    "NO_RESPONSE",
    "RAW_TRIAL_COLUMNS",
    "Trials",
    "cue_conflict_texture",
    "image_id",
    "is_human",
    "read_raw_trials",
    "write_raw_trials",
]

logger = logging.getLogger("shapebias.data.raw_trials")

RAW_TRIAL_COLUMNS = (
    "subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename",
)  # fmt: skip
"""The columns of a raw-trial CSV, in the order :func:`write_raw_trials` writes them."""

NO_RESPONSE = "na"
"""The ``object_response`` of a human trial without an answer in time (counted as wrong)."""

_FILE_NAME = re.compile(r"(?P<maker>.+)_session[-_](?P<session>\d+)\.csv", re.IGNORECASE)
_SYNSET = re.compile(r"n\d{8}")
_LAYOUT = "root/<dataset>/<dataset>_<decision-maker>_session-<k>.csv"
_SHOWN = 5


def is_human(decision_maker: str) -> bool:
    """True for the benchmark's human observers, named ``subject-01``, ``subject-02``, ..."""
    return decision_maker.startswith("subject-")


def image_id(imagename: str) -> str:
    """The part of a stimulus file name that identifies the image, shared by all observers.

    Human and model stimuli of one image differ in their leading fields (trial number,
    subject or ``dnn``): ``0001_cl_s01_cr_oven_40_n04111531_14126.png`` and
    ``0001_cl_dnn_cr_oven_40_n04111531_14126.png`` are both ``n04111531_14126.png``. The
    id is the last ``_``-separated field, or the last two when the second-to-last is an
    ImageNet synset (``n`` and eight digits); a name without ``_`` is its own id.

    Example:
        >>> from shapebias.data import image_id
        >>> image_id("0001_cl_s01_cr_oven_40_n04111531_14126.png")
        'n04111531_14126.png'
        >>> image_id("0003_s5n_s01_0_bird_00_bird3-clock2.png")
        'bird3-clock2.png'
    """
    fields = imagename.split("_")
    if len(fields) == 1:
        return imagename
    if _SYNSET.fullmatch(fields[-2]):
        return f"{fields[-2]}_{fields[-1]}"
    return fields[-1]


def cue_conflict_texture(imagename: str) -> str:
    """The texture category of a cue-conflict stimulus ``[..._]<shape><i>-<texture><j>.png``.

    Example:
        >>> from shapebias.data import cue_conflict_texture
        >>> cue_conflict_texture("0002_s5n_s01_0_bird_00_bird2-clock3.png")
        'clock'
    """
    stem = image_id(imagename).rsplit(".", 1)[0]
    return "".join(c for c in stem.rsplit("-", 1)[-1] if not c.isdigit())


@dataclasses.dataclass(frozen=True, eq=False)
class Trials:
    """The trials of one decision-maker on one dataset, in file order, column by column.

    Attributes:
        dataset: the dataset (folder) name, e.g. ``"cue-conflict"``.
        decision_maker: the decision-maker token of the file names, e.g. ``"subject-01"``
            or ``"resnet50"``.
        session: int64 ``(N,)``.
        trial: int64 ``(N,)``.
        rt: float64 ``(N,)`` reaction times in seconds, NaN for models.
        object_response: str ``(N,)``, one of the 16 categories or ``"na"``.
        category: str ``(N,)``, the true category (for cue-conflict, the shape's).
        condition: str ``(N,)``, the condition as written (``""`` where missing).
        imagename: str ``(N,)``, the stimulus file name.

    Example:
        >>> import numpy as np
        >>> from shapebias.data import Trials
        >>> trials = Trials.from_decisions(
        ...     "sketch", "my-model", ["cat", "dog"], ["cat", "cat"], ["a.png", "b.png"]
        ... )
        >>> trials.correct.tolist()
        [True, False]
    """

    dataset: str
    decision_maker: str
    session: np.ndarray
    trial: np.ndarray
    rt: np.ndarray
    object_response: np.ndarray
    category: np.ndarray
    condition: np.ndarray
    imagename: np.ndarray

    def __len__(self) -> int:
        return len(self.trial)

    @property
    def human(self) -> bool:
        """Whether the decision-maker is a human observer (``subject-<k>``)."""
        return is_human(self.decision_maker)

    @property
    def correct(self) -> np.ndarray:
        """bool ``(N,)``: ``object_response == category`` (a human ``"na"`` is wrong)."""
        return self.object_response == self.category

    @property
    def image_ids(self) -> np.ndarray:
        """str ``(N,)``: :func:`image_id` of each trial's stimulus."""
        return _mapped(self.imagename, image_id)

    @property
    def condition_keys(self) -> np.ndarray:
        """str ``(N,)``: :func:`condition_key` of each trial's condition."""
        return _mapped(self.condition, condition_key)

    @property
    def textures(self) -> np.ndarray:
        """str ``(N,)``: :func:`cue_conflict_texture` of each stimulus (cue-conflict only)."""
        return _mapped(self.imagename, cue_conflict_texture)

    @classmethod
    def from_decisions(
        cls,
        dataset: str,
        decision_maker: str,
        object_response: Sequence[str],
        category: Sequence[str],
        imagename: Sequence[str],
        condition: Sequence[str] | None = None,
        *,
        session: int = 1,
    ) -> Trials:
        """A model's trials from its decisions: ``rt`` NaN, trials numbered from 1.

        Raises:
            ValueError: columns of different lengths, a category outside the 16, or a
                decision-maker name that cannot be a file-name token or names a human
                (``subject-...``).
        """
        size = len(object_response)
        conditions = [""] * size if condition is None else list(condition)
        lengths = {len(category), len(imagename), len(conditions)}
        if lengths != {size}:
            raise ValueError(
                f"object_response, category, imagename and condition must have one entry "
                f"per trial, got lengths {size}, {len(category)}, {len(imagename)} and "
                f"{len(conditions)}."
            )
        trials = cls(
            dataset=dataset,
            decision_maker=decision_maker,
            session=np.full(size, session, dtype=np.int64),
            trial=np.arange(1, size + 1, dtype=np.int64),
            rt=np.full(size, np.nan),
            object_response=np.array(list(object_response), dtype=str),
            category=np.array(list(category), dtype=str),
            condition=np.array(conditions, dtype=str),
            imagename=np.array(list(imagename), dtype=str),
        )
        _check_token(dataset, "dataset")
        _check_token(decision_maker, "decision_maker")
        if is_human(decision_maker):
            raise ValueError(
                f"decision_maker must not start with 'subject-', which names human observers, "
                f"got {decision_maker!r}. Name the model, e.g. 'resnet50-linf4'."
            )
        _check_categories(trials, f"the trials of {decision_maker!r} on {dataset!r}")
        return trials


def _check_token(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name != name.strip():
        raise ValueError(
            f"{what} must be a non-empty name without '/' or surrounding spaces (it becomes "
            f"part of a file name), got {name!r}."
        )


def _check_categories(trials: Trials, where: str) -> None:
    known = set(CATEGORIES_16)
    bad = sorted(set(trials.category.tolist()) - known)
    if bad:
        raise ValueError(
            f"category must be one of the 16 categories {', '.join(CATEGORIES_16)}; {where} "
            f"have {', '.join(map(repr, bad[:_SHOWN]))}. The benchmark is defined on these "
            "16 categories only."
        )
    bad = sorted(set(trials.object_response.tolist()) - known - {NO_RESPONSE})
    if bad:
        raise ValueError(
            f"object_response must be one of the 16 categories or {NO_RESPONSE!r}; {where} "
            f"have {', '.join(map(repr, bad[:_SHOWN]))}. Map the model's decisions to the "
            "16 categories first (IMAGENET_16_CLASS_MAP)."
        )


def read_raw_trials(
    roots: str | os.PathLike | Iterable[str | os.PathLike],
) -> dict[str, dict[str, Trials]]:
    """Read raw-data folders: ``{dataset: {decision-maker: Trials}}``.

    Each sub-folder of a root that holds ``<folder>_<decision-maker>_session-<k>.csv``
    files (``session_<k>`` too) is a dataset; other folders (``performances/``) are
    skipped. A decision-maker's sessions are concatenated in session order. Several roots
    are merged (e.g. the published trials and the CSVs ``shapebias evaluate --humans``
    wrote), as long as no decision-maker appears twice in one dataset.

    Args:
        roots: a raw-data folder or several.

    Returns:
        dataset -> decision-maker -> :class:`Trials`, both sorted by name.

    Raises:
        TypeError: ``roots`` is not a path or a sequence of paths.
        FileNotFoundError: a root is missing, or no dataset folder with raw-trial CSVs
            was found.
        ValueError: a CSV in a dataset folder named outside the layout, with missing
            columns, unreadable numbers, a category outside the 16 (or a response outside
            them and ``"na"``), or a decision-maker found twice.

    Example:
        >>> from shapebias.data import read_raw_trials
        >>> raw = read_raw_trials("model-vs-human/raw-data")  # doctest: +SKIP
        >>> sorted(raw["cue-conflict"])[:2]  # doctest: +SKIP
        ['resnet50', 'subject-01']
    """
    folders = [roots] if isinstance(roots, (str, os.PathLike)) else roots
    if not isinstance(folders, Iterable):
        raise TypeError(f"roots must be a path or a sequence of paths, got {type(roots).__name__}.")
    found: dict[str, dict[str, Trials]] = {}
    for root in folders:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"roots must hold paths, got {type(root).__name__}.")
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"raw-data folder {folder} does not exist. Expected layout: {_LAYOUT}."
            )
        for dataset, makers in _read_root(folder).items():
            known = found.setdefault(dataset, {})
            twice = sorted(set(known) & set(makers))
            if twice:
                raise ValueError(
                    f"decision-maker(s) {', '.join(twice)} have trials for {dataset!r} in two "
                    f"raw-data folders (the second is {folder}). Remove one copy."
                )
            known.update(makers)
    if not found:
        shown = ", ".join(str(r) for r in folders)
        raise FileNotFoundError(
            f"no raw-trial CSVs found in {shown}. Expected layout: {_LAYOUT}, e.g. "
            "raw-data/sketch/sketch_subject-01_session-1.csv."
        )
    return {d: dict(sorted(found[d].items())) for d in sorted(found)}


def _read_root(folder: Path) -> dict[str, dict[str, Trials]]:
    datasets: dict[str, dict[str, Trials]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(sub.glob("*.csv"))
        sessions: dict[str, list[tuple[int, Path]]] = {}
        bad = []
        for path in files:
            match = _FILE_NAME.fullmatch(path.name)
            prefix = f"{sub.name}_"
            if match is None or not match["maker"].startswith(prefix):
                bad.append(path.name)
                continue
            maker = match["maker"][len(prefix) :]
            sessions.setdefault(maker, []).append((int(match["session"]), path))
        if not sessions:
            logger.info("skipping %s: no raw-trial CSVs named %s", sub, _LAYOUT)
            continue
        if bad:
            more = f", ... ({len(bad)} in all)" if len(bad) > _SHOWN else ""
            shown = ", ".join(bad[:_SHOWN]) + more
            raise ValueError(
                f"{sub} holds CSVs named outside the layout {_LAYOUT}: {shown}. Rename or "
                "move them."
            )
        datasets[sub.name] = {
            maker: _concatenate(sub.name, maker, [_read_csv(p) for _, p in sorted(parts)])
            for maker, parts in sessions.items()
        }
    return datasets


def _read_csv(path: Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if not rows:
        raise ValueError(f"{path} is empty; expected the header {','.join(RAW_TRIAL_COLUMNS)}.")
    header = [name.strip().lower() for name in rows[0]]
    missing = [name for name in RAW_TRIAL_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {', '.join(missing)}; a raw-trial CSV has the header "
            f"{','.join(RAW_TRIAL_COLUMNS)} (any case, any order), got {','.join(rows[0])}."
        )
    body = rows[1:]
    short = [i + 2 for i, row in enumerate(body) if len(row) < len(header)]
    if short:
        raise ValueError(
            f"{path} has rows with fewer fields than its header, e.g. line {short[0]}."
        )
    index = [header.index(name) for name in RAW_TRIAL_COLUMNS]
    columns = list(zip(*body, strict=False)) if body else [()] * len(header)
    return {name: list(columns[i]) for name, i in zip(RAW_TRIAL_COLUMNS, index, strict=True)}


def _numbers(values: list[str], dtype: Any, name: str, where: str) -> np.ndarray:
    text = np.array(values)
    try:
        return text.astype(np.float64).astype(dtype)
    except ValueError:
        pass  # empty fields or text: the slow path says which
    try:
        return np.array([float(v) if v.strip() else math.nan for v in values]).astype(dtype)
    except ValueError as error:
        raise ValueError(f"column {name} of {where} must hold numbers: {error}.") from error


def _mapped(values: Any, function: Any) -> np.ndarray:
    """``function`` applied to each distinct value only (columns repeat a few values)."""
    unique, inverse = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return np.array([function(u) for u in unique.tolist()], dtype=str)[inverse.reshape(-1)]


def _clean(value: str) -> str:
    return value.strip().lower()


def _condition_text(value: str) -> str:
    return "" if condition_key(value) == "" else value


def _concatenate(dataset: str, maker: str, parts: list[dict[str, list[str]]]) -> Trials:
    where = f"the trials of {maker!r} on {dataset!r}"
    columns = {name: [v for part in parts for v in part[name]] for name in RAW_TRIAL_COLUMNS}
    if not columns["trial"]:
        raise ValueError(f"{where} are empty: every CSV holds only its header.")
    trials = Trials(
        dataset=dataset,
        decision_maker=maker,
        session=_numbers(columns["session"], np.int64, "session", where),
        trial=_numbers(columns["trial"], np.int64, "trial", where),
        rt=_numbers(columns["rt"], np.float64, "rt", where),
        object_response=_mapped(columns["object_response"], _clean),
        category=_mapped(columns["category"], _clean),
        condition=_mapped(columns["condition"], _condition_text),
        imagename=np.array(columns["imagename"]),
    )
    _check_categories(trials, where)
    return trials


def write_raw_trials(trials: Trials, root: str | os.PathLike) -> Path:
    """Write ``trials`` as ``root/<dataset>/<dataset>_<decision-maker>_session-<k>.csv``.

    One file per session, in the benchmark's column order; ``rt`` NaN is written ``NaN``
    and a missing condition ``NaN``, as model-vs-human writes its models' trials, so its
    plotting code and :func:`read_raw_trials` read the files back. Existing files of the
    same decision-maker and session are replaced.

    Returns:
        The path of the (first session's) file written.

    Raises:
        TypeError: ``trials`` is not a :class:`Trials`.

    Example:
        >>> import tempfile
        >>> from shapebias.data import Trials, read_raw_trials, write_raw_trials
        >>> trials = Trials.from_decisions("sketch", "my-model", ["cat"], ["cat"], ["a.png"])
        >>> with tempfile.TemporaryDirectory() as root:
        ...     path = write_raw_trials(trials, root)
        ...     back = read_raw_trials(root)["sketch"]["my-model"]
        >>> path.name, back.correct.tolist()
        ('sketch_my-model_session-1.csv', [True])
    """
    if not isinstance(trials, Trials):
        raise TypeError(f"trials must be a Trials, got {type(trials).__name__}.")
    folder = Path(root).expanduser() / trials.dataset
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for session in np.unique(trials.session).tolist():
        rows = np.flatnonzero(trials.session == session)
        path = folder / f"{trials.dataset}_{trials.decision_maker}_session-{session}.csv"
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(RAW_TRIAL_COLUMNS)
            for i in rows.tolist():
                rt = float(trials.rt[i])
                writer.writerow([
                    trials.decision_maker, session, int(trials.trial[i]),
                    "NaN" if math.isnan(rt) else repr(rt), trials.object_response[i],
                    trials.category[i], trials.condition[i] or "NaN", trials.imagename[i],
                ])  # fmt: skip
        written.append(path)
    return written[0]
