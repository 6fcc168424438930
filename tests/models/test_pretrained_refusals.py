"""load_pretrained refuses, naming the path, every file it cannot honestly load.

The reliability sweep found ``KeyError: 101`` for a text file (torch's weights-only
unpickler reading ``e``), and ``strict=False`` loading a file that matched no key at all,
which returns a network with every weight still random.
"""

from __future__ import annotations

import json
import re
import struct

import pytest
import torch

from shapebias.models import load_pretrained, small_cnn


def _small() -> torch.nn.Module:
    return small_cnn(3, width=4, depth=2)


def _safetensors_like(path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0\0\0")


NOT_CHECKPOINTS = {
    "text": (lambda p: p.write_text("epoch,loss\n1,0.5\n"), "A text file, an HTML page"),
    "html": (lambda p: p.write_text("<!DOCTYPE html><html>Not found</html>"), "HTML page"),
    "png": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), "another format"),
    "empty": (lambda p: p.write_bytes(b""), "It is empty"),
    "safetensors": (_safetensors_like, "safetensors"),
    "truncated": (
        lambda p: p.write_bytes(_saved_bytes(p)[:200]),
        "not a readable PyTorch weight file",
    ),
}


def _saved_bytes(path) -> bytes:
    whole = path.with_name("whole.pt")
    torch.save(_small().state_dict(), whole)
    return whole.read_bytes()


@pytest.mark.parametrize("kind", list(NOT_CHECKPOINTS))
@pytest.mark.parametrize("strict", [True, False])
def test_a_file_that_is_not_a_checkpoint_is_refused_naming_the_path(tmp_path, kind, strict):
    make, cause = NOT_CHECKPOINTS[kind]
    path = tmp_path / "weights.pt"
    make(path)
    with pytest.raises(ValueError, match=rf"^path {re.escape(str(path))} ") as error:
        load_pretrained(path, _small, strict=strict)
    assert cause in str(error.value)


@pytest.mark.parametrize("strict", [True, False])
def test_a_file_matching_no_key_is_refused_even_without_strict(tmp_path, strict):
    path = tmp_path / "other.pt"
    torch.save({"encoder.layer.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match=r"none of its 1 keys is one of the network's") as error:
        load_pretrained(path, _small, strict=strict)
    assert str(path) in str(error.value)


def test_strict_false_still_loads_a_partial_match(tmp_path, caplog):
    """The refusal is about no match at all: a file missing a few keys loads with a warning."""
    source = _small()
    state = source.state_dict()
    dropped = next(iter(state))
    path = tmp_path / "partial.pt"
    torch.save({k: v for k, v in state.items() if k != dropped}, path)
    with caplog.at_level("WARNING", logger="shapebias.models"):
        model = load_pretrained(path, _small, strict=False)
    assert "1 network keys missing" in caplog.text
    kept = next(k for k in state if k != dropped and state[k].is_floating_point())
    assert torch.equal(model.model.state_dict()[kept], state[kept])


def test_strict_must_be_a_bool(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(_small().state_dict(), path)
    with pytest.raises(TypeError, match=r"strict must be True or False, got str 'False'"):
        load_pretrained(path, _small, strict="False")
