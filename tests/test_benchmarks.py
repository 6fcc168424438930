"""The benchmark scripts keep working as the library changes (they are not run by users
every day, so nothing else notices when one breaks): every script imports and has a
``main``, and the cheap ones, and the one that patches private training names, run end
to end at toy sizes. No timing is asserted."""

from __future__ import annotations

import sys

import pytest
import torch

from tests.data._examples import BENCHMARKS, load_script

SCRIPTS = sorted(BENCHMARKS.glob("bench_*.py"))


def test_there_are_benchmarks_to_check():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.stem)
def test_every_benchmark_imports_and_has_a_main(path):
    assert callable(load_script(path).main)


@pytest.mark.parametrize(
    ("name", "argv", "expected"),
    [
        ("bench_metrics", ["--images", "64", "--repeats", "1"],
         "counts identical to the bare loop: True"),
        ("bench_small_cnn", ["--repeats", "1", "--batches", "4", "--width", "4", "--size", "16"],
         "max |logit difference| between layouts"),
        ("bench_training",
         ["--checks", "--images", "16", "--batch", "8", "--steps", "1", "--repeats", "1"],
         "check_logits (8x10)"),
        ("bench_attack_checks", ["--batch", "4", "--steps", "1", "--repeats", "1"],
         "robust_accuracy (APGD-CE)"),
    ],
)  # fmt: skip
def test_cheap_benchmarks_run_end_to_end(name, argv, expected, monkeypatch, capsys):
    script = load_script(BENCHMARKS / f"{name}.py")
    monkeypatch.setattr(sys, "argv", [name, *argv])
    threads = torch.get_num_threads()
    try:
        script.main()
    finally:  # the scripts set torch's thread count; later tests compare bit for bit
        torch.set_num_threads(threads)
    assert expected in capsys.readouterr().out
