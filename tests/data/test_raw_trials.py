"""Raw-trial CSVs of the model-vs-human benchmark: reading, writing, names, bad input."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from shapebias.data import (
    RAW_TRIAL_COLUMNS,
    Trials,
    condition_key,
    cue_conflict_texture,
    image_id,
    read_raw_trials,
    write_raw_trials,
)
from tests._raw_trials import write_maker


def _equal(a: Trials, b: Trials) -> None:
    assert (a.dataset, a.decision_maker) == (b.dataset, b.decision_maker)
    for column in ("session", "trial", "object_response", "category", "condition", "imagename"):
        assert getattr(a, column).tolist() == getattr(b, column).tolist(), column
    np.testing.assert_array_equal(a.rt, b.rt)  # NaN == NaN here


def test_written_trials_read_back_equal(tmp_path):
    trials = Trials.from_decisions(
        "uniform-noise", "my-model", ["cat", "dog", "oven"], ["cat", "cat", "oven"],
        ["0001_nse_dnn_0.03_cat_10_n02124075_1.png", "0002_nse_dnn_0.90_cat_10_n02124075_2.png",
         "b.png"],
        ["0.03", "0.90", ""],
    )  # fmt: skip
    path = write_raw_trials(trials, tmp_path)
    assert path == tmp_path / "uniform-noise" / "uniform-noise_my-model_session-1.csv"
    rows = list(csv.reader(path.read_text().splitlines()))
    assert tuple(rows[0]) == RAW_TRIAL_COLUMNS
    assert [r[3] for r in rows[1:]] == ["NaN"] * 3  # a model's rt
    assert rows[2][6] == "0.90" and rows[3][6] == "NaN"  # condition as given, missing = NaN
    back = read_raw_trials(tmp_path)["uniform-noise"]["my-model"]
    _equal(back, trials)
    assert back.correct.tolist() == [True, False, True]


def test_headers_any_case_and_order_sessions_in_numeric_order(tmp_path):
    folder = tmp_path / "sketch"
    folder.mkdir()
    header = ["IMAGENAME", "Session", "SUBJ", "Trial", "RT", "Object_Response", "Category",
              "Condition", "extra"]  # fmt: skip
    for session, response in ((10, "dog"), (2, "cat")):
        path = folder / f"sketch_subject-01_session_{session}.csv"
        with open(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerow([f"img{session}.png", session, "subject-01", 1, 0.5, response,
                             "cat", "0", "x"])  # fmt: skip
    trials = read_raw_trials(tmp_path)["sketch"]["subject-01"]
    # Sessions in numeric order (2 before 10), not the file names' text order.
    assert trials.session.tolist() == [2, 10]
    assert trials.object_response.tolist() == ["cat", "dog"]
    assert trials.imagename.tolist() == ["img2.png", "img10.png"]
    assert trials.rt.tolist() == [0.5, 0.5]
    assert trials.human


def test_image_id_aligns_human_and_model_names():
    human = "0001_cl_s01_cr_oven_40_n04111531_14126.png"
    model = "0731_cl_dnn_cr_oven_40_n04111531_14126.png"
    assert image_id(human) == image_id(model) == "n04111531_14126.png"
    # Cue-conflict: human names carry a prefix, model names are bare.
    assert image_id("0002_s5n_s01_0_bird_00_bird2-clock3.png") == image_id("bird2-clock3.png")
    assert image_id("0001_ske_s01_0_boat_00_boat-0068-sketch-23.png") == "boat-0068-sketch-23.png"
    # Two images differing only in the synset field stay apart.
    assert image_id("1_a_s01_x_cat_0_n01111111_5.png") != image_id(
        "1_a_s01_x_cat_0_n02222222_5.png"
    )


def test_cue_conflict_texture_and_condition_key():
    assert cue_conflict_texture("0002_s5n_s01_0_bird_00_bird2-clock3.png") == "clock"
    assert cue_conflict_texture("airplane1-bicycle2.png") == "bicycle"
    assert [condition_key(c) for c in ("0.90", "0.9", "1", "1.0", "inf", "True", "true")] == [
        "0.9", "0.9", "1.0", "1.0", "inf", "true", "true",
    ]  # fmt: skip
    assert condition_key("NaN") == condition_key("") == ""
    assert condition_key("c05") != condition_key("c50")
    assert condition_key("1-10-10") == "1-10-10"


def test_skips_foreign_folders_and_merges_roots(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_maker(first, "edge", "subject-01", [("", "x.png", "cat", "cat")])
    (first / "performances").mkdir()
    (first / "performances" / "resnet50.csv").write_text("subj,dataset_name\n")
    write_maker(second, "edge", "my-model", [("", "x.png", "cat", "dog")])
    raw = read_raw_trials([first, second])
    assert list(raw) == ["edge"]
    assert list(raw["edge"]) == ["my-model", "subject-01"]
    with pytest.raises(ValueError, match="two raw-data folders"):
        read_raw_trials([first, first])


def test_model_rows_have_nan_rt(tmp_path):
    write_maker(tmp_path, "edge", "my-model", [("", "x.png", "cat", "cat")])
    trials = read_raw_trials(tmp_path)["edge"]["my-model"]
    assert math.isnan(float(trials.rt[0])) and not trials.human


def test_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_raw_trials(tmp_path / "missing")
    (tmp_path / "edge").mkdir()
    with pytest.raises(FileNotFoundError, match="no raw-trial CSVs"):
        read_raw_trials(tmp_path)
    (tmp_path / "edge" / "notes.csv").write_text("a\n")
    with pytest.raises(FileNotFoundError, match="no raw-trial CSVs"):
        read_raw_trials(tmp_path)
    write_maker(tmp_path, "edge", "subject-01", [("", "x.png", "cat", "cat")])
    with pytest.raises(ValueError, match=r"named outside the layout.*notes\.csv"):
        read_raw_trials(tmp_path)
    with pytest.raises(TypeError, match="roots must"):
        read_raw_trials(3)


def _write(tmp_path, header: str, *rows: str) -> None:
    folder = tmp_path / "edge"
    folder.mkdir(exist_ok=True)
    (folder / "edge_m_session-1.csv").write_text("\n".join([header, *rows]) + "\n")


def test_missing_columns_named(tmp_path):
    _write(tmp_path, "subj,session,trial,rt,object_response,condition", "m,1,1,NaN,cat,NaN")
    with pytest.raises(ValueError, match="lacks the column\\(s\\) category, imagename"):
        read_raw_trials(tmp_path)


HEADER = "subj,session,trial,rt,object_response,category,condition,imagename"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("m,1,1,NaN,cat,tiger,NaN,a.png", "category must be one of the 16.*'tiger'"),
        ("m,1,1,NaN,tiger,cat,NaN,a.png", "object_response must be one of the 16.*'tiger'"),
        ("m,1,one,NaN,cat,cat,NaN,a.png", "column trial .* must hold numbers"),
        ("m,1,1,NaN,cat", "fewer fields than its header"),
    ],
)
def test_bad_rows(tmp_path, row, message):
    _write(tmp_path, HEADER, row)
    with pytest.raises(ValueError, match=message):
        read_raw_trials(tmp_path)


def test_empty_and_header_only(tmp_path):
    _write(tmp_path, HEADER)
    with pytest.raises(ValueError, match="are empty"):
        read_raw_trials(tmp_path)


def test_from_decisions_checks():
    with pytest.raises(ValueError, match="one entry per trial"):
        Trials.from_decisions("edge", "m", ["cat"], ["cat", "dog"], ["a.png"])
    with pytest.raises(ValueError, match="category must be one of the 16"):
        Trials.from_decisions("edge", "m", ["cat"], ["tiger"], ["a.png"])
    with pytest.raises(ValueError, match="decision_maker must be a non-empty name"):
        Trials.from_decisions("edge", "a/b", ["cat"], ["cat"], ["a.png"])
    with pytest.raises(ValueError, match="names human observers"):
        Trials.from_decisions("edge", "subject-01", ["cat"], ["cat"], ["a.png"])
    with pytest.raises(TypeError, match="trials must be a Trials"):
        write_raw_trials("trials", ".")  # type: ignore[arg-type]
