"""Tiny model-vs-human raw-data folders, written the way the published files are.

Human files are ``<dataset>_subject-XX_session_1.csv`` with a ``Session`` header and
image names carrying the subject (``0003_xx_s01_<condition>_<category>_00_<id>``) in a
per-subject trial order; model files are ``<dataset>_<model>_session-1.csv`` with
``dnn`` in the names, NaN reaction times and their own order.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shapebias.data import CATEGORIES_16

# One trial: (condition, image id, category, response). The image id is what the
# benchmark aligns on; the full file name is built around it.
Trial = tuple[str, str, str, str]


def stimulus_name(number: int, maker: str, condition: str, category: str, image: str) -> str:
    """``0001_ds_s01_<condition>_<category>_00_<image>`` (``dnn`` for models)."""
    tag = f"s{maker[-2:]}" if maker.startswith("subject-") else "dnn"
    return f"{number:04d}_ds_{tag}_{condition or '0'}_{category}_00_{image}"


def write_maker(
    root: Path,
    dataset: str,
    maker: str,
    trials: Sequence[Trial],
    *,
    seed: int = 0,
    session: int = 1,
    plain_names: bool = False,
) -> Path:
    """Write one decision-maker's trials, shuffled, as the benchmark's files are."""
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    human = maker.startswith("subject-")
    separator = "_" if human else "-"
    path = folder / f"{dataset}_{maker}_session{separator}{session}.csv"
    order = np.random.default_rng(seed).permutation(len(trials))
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        session_column = "Session" if human else "session"
        writer.writerow(["subj", session_column, "trial", "rt", "object_response", "category",
                         "condition", "imagename"])  # fmt: skip
        for number, i in enumerate(order.tolist(), start=1):
            condition, image, category, response = trials[i]
            name = (
                image if plain_names else stimulus_name(number, maker, condition, category, image)
            )
            rt = "0.8" if human else "NaN"
            writer.writerow([maker, session, number, rt, response, category,
                             condition or "NaN", name])  # fmt: skip
    return path


def random_trials(
    rng: np.random.Generator,
    conditions: Sequence[str],
    images_per_condition: int,
    accuracy: float,
    *,
    truth: list[Trial] | None = None,
    na: float = 0.0,
) -> list[Trial]:
    """Random trials over ``conditions``; with ``truth``, the same images and categories."""
    if truth is None:
        truth = [
            (c, f"n0{k:07d}_{j}.png", CATEGORIES_16[int(rng.integers(16))], "")
            for k, c in enumerate(conditions)
            for j in range(images_per_condition)
        ]
    out = []
    for condition, image, category, _ in truth:
        u = rng.random()
        if u < na:
            response = "na"
        elif u < na + accuracy:
            response = category
        else:
            response = CATEGORIES_16[int(rng.integers(16))]
        out.append((condition, image, category, response))
    return out
