"""Caching by stage: a model keyed by what shapes it, an evaluation by the model file and
the evaluation settings; claims are always recomputed.

Changing a statistics setting (``alpha``, ``floor``, ``confidence``) therefore re-analyses
without touching a model or an evaluation; changing a training setting trains only the
models it shapes (and evaluates only those). Files of other settings stay where they are
until :meth:`RunFolder.fresh` deletes them, naming each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shapebias.experiments._evaluation import RESULT_FORMAT
from shapebias.experiments._roster import ModelSpec
from shapebias.experiments._settings import Settings

__all__ = ["RunFolder", "file_hash", "settings_key"]

log = logging.getLogger("shapebias.experiments")

# What a reproduction writes into its folder; --fresh deletes exactly these.
_OWNED = (
    "models",
    "evaluations",
    "checkpoints",
    "config.json",
    "results.json",
    "results.md",
    "saliency.png",
    "paired_differences.png",
    "fourier_heat_maps.png",
    "figures.key",
)


def settings_key(value: Any) -> str:
    """A short, stable hash of a JSON-able value (the cache key of a stage)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes (an evaluation is keyed by its model's file)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass
class RunFolder:
    """The output folder of one reproduction, and where each stage's files go.

    Attributes:
        root: the folder.
        model_keys: per roster name, the key of the settings that shape that model.
        evaluation_key: the key of the settings every evaluation depends on (besides
            its model's file) and of the evaluation files' format (``RESULT_FORMAT``):
            evaluations cached in an older format are evaluated again, never read with
            fields missing.
    """

    root: Path
    model_keys: dict[str, str]
    evaluation_key: str

    @classmethod
    def plan(
        cls,
        root: Path,
        settings: Settings,
        specs: Sequence[ModelSpec],
        axes: Mapping[str, Any],
        data_root: Path | None = None,
    ) -> RunFolder:
        """The keys of every model of ``specs`` and of the evaluations."""
        data = {
            "dataset": settings.dataset,
            "seed": settings.seed,
            "data": dataclasses.asdict(settings.data),
            "axes": dict(axes),
            "data_root": None if data_root is None else str(data_root),
        }
        keys: dict[str, str] = {}
        for spec in specs:
            training = {name: getattr(settings.training, name) for name in spec.shaped_by}
            keys[spec.name] = settings_key(
                {
                    **data,
                    "model": spec.name,
                    "seeds": settings.seed_list() if spec.stacked else None,
                    "training": training,
                    "depends_on": {name: keys[name] for name in spec.depends_on},
                }
            )
        evaluation = settings_key(
            {
                **data,
                "evaluation": dataclasses.asdict(settings.evaluation),
                # what an evaluation file holds: a file of an older format is not read
                # as one of this format (it lacks fields), but evaluated again
                "format": RESULT_FORMAT,
            }
        )
        return cls(Path(root), keys, evaluation)

    def model_path(self, name: str, seed: int) -> Path:
        """The file of seed ``seed``'s model ``name`` under the current settings."""
        return self.root / "models" / f"{name}_seed{seed}-{self.model_keys[name]}.pt"

    def checkpoint_dir(self, name: str, what: str) -> Path:
        """Where an interrupted training of ``name`` resumes from."""
        return self.root / "checkpoints" / f"{name}_{what}-{self.model_keys[name]}"

    def evaluation_path(self, name: str, seed: int) -> Path:
        """The cached evaluation of seed ``seed``'s model ``name``: keyed by the model
        file's hash and the evaluation settings."""
        model = file_hash(self.model_path(name, seed))[:12]
        key = settings_key([self.evaluation_key, model])
        return self.root / "evaluations" / f"{name}_seed{seed}-{key}.pt"

    def stale(self, wanted: Sequence[Path]) -> list[Path]:
        """Cached models and evaluations of other settings (kept until ``--fresh``)."""
        keep = {path.resolve() for path in wanted}
        found = []
        for folder in ("models", "evaluations"):
            if (self.root / folder).is_dir():
                found += [
                    p for p in sorted((self.root / folder).iterdir()) if p.resolve() not in keep
                ]
        return found

    def fresh(self) -> list[Path]:
        """Delete everything a reproduction wrote into the folder; return what was deleted.

        Only the reproduction's own files and folders (models, evaluations, checkpoints,
        results, figures, config) are deleted, each logged by name; other files stay.
        """
        deleted = []
        for name in _OWNED:
            path = self.root / name
            if not path.exists():
                continue
            inner = sorted(path.rglob("*")) if path.is_dir() else []
            for item in inner:
                if item.is_file():
                    log.warning("--fresh: deleting %s", item)
            log.warning("--fresh: deleting %s", path)
            deleted += [item for item in inner if item.is_file()] + [path]
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        return deleted
