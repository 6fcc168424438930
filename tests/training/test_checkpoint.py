"""Checkpoint files: checksums, orphans, unreadable folders and failed writes lose nothing."""

from __future__ import annotations

import errno
import logging

import pytest
import torch

from shapebias.training import StandardLoss, fit, load_checkpoint
from shapebias.training import _checkpoint as checkpoint_module
from shapebias.training._checkpoint import (
    atomic_save,
    list_checkpoints,
    prune_checkpoints,
    remove_orphans,
)
from shapebias.training._checksum import CHECKSUM_KEY, payload_digest, seal, verify
from tests.training._data import conv_net, loader, two_feature_data


@pytest.fixture(scope="module")
def data():
    return two_feature_data(64, seed=0)


def _train(data, directory, epochs, *, model=None, **kwargs):
    images, labels = data
    model = conv_net() if model is None else model
    fit(
        model,
        loader(images, labels, seed=0),
        loss=StandardLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=epochs,
        checkpoint_dir=directory,
        progress=False,
        **kwargs,
    )
    return model


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_digest_sees_every_value_and_ignores_nothing_but_itself():
    record = {"a": torch.arange(4.0), "b": [1, 2.5, "x", None, True], "c": {"d": torch.ones(2)}}
    base = payload_digest(record)
    assert payload_digest(seal(record)) == base  # the checksum entry itself is left out
    changed = [
        {**record, "a": torch.tensor([0.0, 1.0, 2.0, 3.0000002])},  # one ulp-ish change
        {**record, "a": torch.arange(4.0).double()},  # same values, other dtype
        {**record, "a": torch.arange(4.0).view(2, 2)},  # same bytes, other shape
        {**record, "b": [1, 2.5, "x", None, 1]},  # True vs 1
        {**record, "c": {"e": torch.ones(2)}},  # a renamed key
        {"b": record["b"], "a": record["a"], "c": record["c"]},  # another order
    ]
    assert len({base, *(payload_digest(r) for r in changed)}) == 1 + len(changed)


def test_every_flipped_payload_byte_of_a_tensor_is_detected(tmp_path):
    record = seal({"format": "x", "weights": torch.linspace(0, 1, 64)})
    verify(record, "fresh")  # passes
    for index in range(0, 64 * 4, 37):
        damaged = record["weights"].clone()
        damaged.view(torch.uint8)[index] ^= 0x10
        with pytest.raises(ValueError, match="does not match its sha256 checksum"):
            verify({**record, "weights": damaged}, "damaged")
    with pytest.raises(ValueError, match="carries no sha256"):
        verify({"format": "x"}, "bare")


def test_flipped_bit_in_a_checkpoint_file_is_refused_and_the_older_one_used(data, tmp_path, caplog):
    _train(data, tmp_path, 2)
    newest = tmp_path / "checkpoint-00002.pt"
    raw = bytearray(newest.read_bytes())
    weight = load_checkpoint(newest)["model"]["0.weight"]
    needle = weight.flatten()[:4].numpy().tobytes()  # the stored bytes of the first weights
    offset = bytes(raw).index(needle)
    raw[offset] ^= 0x01  # one flipped bit in the payload: still a valid zip and pickle
    newest.write_bytes(bytes(raw))
    damaged = torch.load(newest, weights_only=True)  # torch alone loads it silently
    assert not torch.equal(damaged["model"]["0.weight"], weight)
    with pytest.raises(ValueError, match=r"checkpoint-00002\.pt does not match its sha256"):
        load_checkpoint(newest)
    with caplog.at_level(logging.WARNING, logger="shapebias.training"):
        record = checkpoint_module.latest_checkpoint(tmp_path)
    assert record is not None and record["epoch"] == 1 and "sha256" in caplog.text


def test_all_unreadable_checkpoints_raise_naming_them_and_the_flag(data, tmp_path):
    _train(data, tmp_path, 2)
    for path in list_checkpoints(tmp_path):
        path.write_bytes(path.read_bytes()[:200])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    model = conv_net(seed=5)
    initial = _weights(model)
    with pytest.raises(
        ValueError, match=r"checkpoint-00002\.pt, checkpoint-00001\.pt.*resume=False"
    ):
        _train(data, tmp_path, 3, model=model)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing overwritten
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in initial.items())
    _train(data, tmp_path, 1, model=model, resume=False)  # the flag starts fresh
    assert load_checkpoint(tmp_path / "checkpoint-00001.pt")["epoch"] == 1


def test_version_1_checkpoint_without_checksum_still_loads_with_a_warning(tmp_path, caplog):
    path = tmp_path / "checkpoint-00001.pt"
    torch.save({"format": "shapebias-checkpoint", "version": 1, "epoch": 1}, path)
    with caplog.at_level(logging.WARNING, logger="shapebias.training"):
        assert load_checkpoint(path)["epoch"] == 1
    assert "predates checksums" in caplog.text
    torch.save({"format": "shapebias-checkpoint", "version": 2, "epoch": 1}, path)
    with pytest.raises(ValueError, match="carries no sha256"):
        load_checkpoint(path)


def test_orphans_are_removed_on_start_and_by_prune(data, tmp_path, caplog):
    orphan = tmp_path / ".checkpoint-00002.pt.4242.tmp"
    keep = [tmp_path / "notes.txt", tmp_path / ".model.pt.4242.tmp", tmp_path / "checkpoint-x.pt"]
    for path in [orphan, *keep]:
        path.write_bytes(b"PK\x03\x04 half a zip")
    with caplog.at_level(logging.WARNING, logger="shapebias.training"):
        _train(data, tmp_path, 1)
    assert not orphan.exists() and ".checkpoint-00002.pt.4242.tmp" in caplog.text
    assert all(path.exists() for path in keep)  # only files fit itself creates are removed
    orphan.write_bytes(b"late")
    prune_checkpoints(tmp_path, keep=1)
    assert not orphan.exists()
    assert remove_orphans(tmp_path / "missing") == []


def _refuse_write(code):
    def write(record, temporary):
        temporary.write_bytes(b"PK\x03\x04 partial")  # a half-written file, then the failure
        raise OSError(code, "simulated")

    return write


@pytest.mark.parametrize(
    ("code", "error", "match"),
    [
        (errno.ENOSPC, OSError, "the disk is full"),
        (errno.EDQUOT, OSError, "the disk is full"),
        (errno.EROFS, OSError, "the folder is not writable"),
        (errno.EACCES, PermissionError, "the folder is not writable"),
    ],
)
def test_full_or_read_only_folder_keeps_the_previous_checkpoint(
    data, tmp_path, monkeypatch, code, error, match
):
    model = _train(data, tmp_path, 1)
    saved = (tmp_path / "checkpoint-00001.pt").read_bytes()
    monkeypatch.setattr(checkpoint_module, "_write", _refuse_write(code))
    with pytest.raises(error, match=match) as raised:
        _train(data, tmp_path, 2, model=model)
    message = str(raised.value)
    assert "checkpoint-00002.pt" in message and "previous checkpoint included) is intact" in message
    assert raised.value.errno == code
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-00001.pt"]  # no orphan
    assert (tmp_path / "checkpoint-00001.pt").read_bytes() == saved
    assert load_checkpoint(tmp_path / "checkpoint-00001.pt")["epoch"] == 1


def test_atomic_save_round_trip_and_replaces_whole_files(tmp_path):
    path = tmp_path / "deep" / "file.pt"
    atomic_save({"a": torch.ones(3)}, path)
    atomic_save({"a": torch.zeros(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.zeros(2))
    assert [p.name for p in path.parent.iterdir()] == ["file.pt"]


def test_checkpoint_carries_a_valid_checksum(data, tmp_path):
    _train(data, tmp_path, 1)
    record = torch.load(tmp_path / "checkpoint-00001.pt", weights_only=True)
    assert record["version"] == 2 and len(record[CHECKSUM_KEY]) == 64
    assert payload_digest(record) == record[CHECKSUM_KEY]
