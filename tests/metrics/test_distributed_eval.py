"""Sharded evaluation: two gloo processes give exactly the single-process numbers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from shapebias import cli
from shapebias._distributed import (
    all_reduce_sum,
    gather_objects,
    gather_tensor,
    rank_and_world,
    shard_bounds,
    shard_data,
)
from tests._stimuli import card_arguments, write_stimulus_tree
from tests._torchrun import ROOT, run_two_ranks
from tests.metrics import _distributed_worker


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory) -> dict[str, Path]:
    return write_stimulus_tree(tmp_path_factory.mktemp("stimuli"))


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, stimuli) -> list[dict]:
    out = tmp_path_factory.mktemp("ranks")
    worker = ROOT / "tests" / "metrics" / "_distributed_worker.py"
    run_two_ranks(worker, str(out), *card_arguments(stimuli, out / "card"))
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]
    card = json.loads((out / "card" / "card.json").read_text())  # written by rank 0 only
    return [{**rank, "card": card} for rank in ranks]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tensors", "loader"])
def test_two_ranks_equal_one_process_exactly(two_ranks, kind):
    single = _distributed_worker.evaluate(loader=kind == "loader")
    total, clean, robust = single["robust"]
    assert total == _distributed_worker.TOTAL and 0 < robust < clean < total  # discriminates
    assert 0 < single["shape_bias"]["shape_decisions"] < single["shape_bias"]["conflict_images"]
    for rank in two_ranks:
        # counts, per-image outcomes in dataset order, and bootstrap intervals all equal
        assert rank[kind] == single


@pytest.mark.slow
def test_two_ranks_refuse_what_they_cannot_split_exactly(two_ranks):
    listed, shuffled, too_few = two_ranks[0]["refusals"]
    assert "must be a DataLoader or a tuple of tensors when running distributed" in listed
    assert "shuffle=False" in shuffled and "RandomSampler" in shuffled
    assert "1 samples, fewer than the 2 processes" in too_few


@pytest.mark.slow
def test_the_cli_under_torchrun_writes_the_single_process_card(two_ranks, stimuli, tmp_path):
    """Accuracies and shape bias equal exactly; the PGD random start draws per rank."""
    assert cli.main(card_arguments(stimuli, tmp_path)) == 0
    single = json.loads((tmp_path / "card.json").read_text())
    sharded = two_ranks[0]["card"]
    assert sharded["provenance"]["world_size"] == 2
    assert sharded["accuracy"] == single["accuracy"]
    assert sharded["shape_bias"] == single["shape_bias"]
    assert sharded["robust"]["total"] == single["robust"]["total"] == 4
    assert sharded["robust"]["clean_correct"] == single["robust"]["clean_correct"]


@given(total=st.integers(1, 200), world=st.integers(1, 9))
def test_shards_tile_the_dataset_in_order_with_sizes_within_one(total, world):
    bounds = [shard_bounds(total, rank, world) for rank in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    assert all(stop == start for (_, stop), (start, _) in itertools.pairwise(bounds))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == total


def test_helpers_are_identities_in_a_single_process():
    data = (torch.rand(3, 3, 4, 4), torch.zeros(3, dtype=torch.long))
    loader = DataLoader(TensorDataset(*data), batch_size=2, shuffle=True)
    values = torch.tensor([True, False])
    assert rank_and_world() == (0, 1)
    assert shard_data(data) is data and shard_data(loader) is loader
    assert all_reduce_sum([1.0, 2.0]) == [1.0, 2.0] and gather_objects("x") == ["x"]
    assert gather_tensor(values) is values
