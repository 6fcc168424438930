"""fit under torchrun: two gloo processes on CPU match their single-process equivalent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shapebias.attacks import PGD, robust_accuracy
from shapebias.training import init_distributed, is_main_process, load_checkpoint
from shapebias.training._distributed import (
    all_reduce_sum,
    gather_objects,
    shard_loader,
    unwrap,
    wrap,
)
from tests._torchrun import ROOT, run_two_ranks
from tests.training import _ddp_worker
from tests.training._data import conv_net, loader, two_feature_data


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> tuple[Path, dict]:
    """One torchrun launch (2 gloo processes) whose results several tests read."""
    out = tmp_path_factory.mktemp("ddp")
    run_two_ranks(ROOT / "tests" / "training" / "_ddp_worker.py", str(out))
    return out, torch.load(out / "result.pt", weights_only=True)


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(two_processes):
    """Two processes of batch 8 on a DistributedSampler = one process of batch 16.

    Without BatchNorm and with a deterministic attack, every step averages the same
    per-sample gradients, so the weights agree up to float summation order.
    """
    tmp_path, distributed = two_processes

    single, history = _ddp_worker.train(tmp_path / "single", 2 * _ddp_worker.BATCH)
    for name, value in single.state_dict().items():
        assert torch.allclose(distributed["model"][name], value, atol=1e-5), name
    for ours, theirs in zip(history, distributed["history"], strict=True):
        assert ours["clean_accuracy"] == pytest.approx(theirs["clean_accuracy"], abs=0.05)
        assert ours["robust_accuracy"] == pytest.approx(theirs["robust_accuracy"], abs=0.05)
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-4)

    record = load_checkpoint(tmp_path / "checkpoints" / "checkpoint-00002.pt")
    assert record["world_size"] == 2 and len(record["rng"]) == 2  # one RNG state per process


def test_helpers_are_identities_in_a_single_process():
    images, labels = two_feature_data(8)
    data = loader(images, labels)
    model = conv_net()
    assert init_distributed() == torch.device("cpu") and is_main_process()
    assert shard_loader(data) is data
    assert wrap(model, torch.device("cpu")) is model and unwrap(model) is model
    assert all_reduce_sum([1.0, 2.0], torch.device("cpu")) == [1.0, 2.0]
    assert gather_objects({"a": 1}) == [{"a": 1}]


@pytest.mark.slow
def test_ddp_evaluation_counts_are_exact_on_unbalanced_shards(two_processes):
    """13 samples on 2 ranks (7 + 6), a class the model never predicts: exact counts.

    Expected counts come from the same shards scored in this process, and from the
    whole set at once; clean and robust accuracy must be those integer ratios exactly.
    """
    _, distributed = two_processes
    model = _ddp_worker.never_predicting().eval()
    images, labels = _ddp_worker.eval_data()
    attack = PGD(eps=_ddp_worker.EVAL_EPS, steps=2, random_start=False)
    shards = [
        robust_accuracy(model, (images[rank::2], labels[rank::2]), attack, progress=False)
        for rank in range(2)
    ]
    assert [s.total for s in shards] == [7, 6]
    clean = sum(s.clean_correct for s in shards)
    robust = sum(s.robust_correct for s in shards)
    with torch.no_grad():
        predicted = model(images).argmax(1)
    assert not (predicted == _ddp_worker.MISSING_CLASS).any()
    assert clean == int((predicted == labels).sum())  # sharding lost and repeated nothing
    assert 0 < robust < clean <= 13 - int((labels == _ddp_worker.MISSING_CLASS).sum())
    (entry,) = distributed["evaluated"]
    assert entry["clean_accuracy"] == clean / 13
    assert entry["robust_accuracy"] == robust / 13
