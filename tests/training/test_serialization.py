"""save_model / load_model: round trip, weights_only loading, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.training import Recipe, load_model, save_model
from tests.training._data import conv_net


def test_round_trip_with_recipe_meta(tmp_path):
    path = tmp_path / "sub" / "model.pt"
    model = conv_net(seed=1)
    save_model(path, model, meta=Recipe.pgd_linf(8 / 255).meta(data="CIFAR-10 train"))
    fresh = conv_net(seed=2)
    meta = load_model(path, fresh)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())
    assert meta["recipe"] == "pgd_linf" and meta["eps"] == pytest.approx(8 / 255)
    assert meta["data"] == "CIFAR-10 train" and meta["epochs"] == 100
    assert meta["architecture"] == "Sequential" and isinstance(meta["library_version"], str)
    assert load_model(path) == meta  # model=None reads only the metadata


def test_file_loads_with_plain_torch_load_weights_only(tmp_path):
    path = tmp_path / "model.pt"
    save_model(path, conv_net(), meta={"recipe": "standard", "milestones": [0.5, 0.75]})
    record = torch.load(path, weights_only=True)
    assert record["format"] == "shapebias-model" and "0.weight" in record["state_dict"]
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed away


def test_wrong_architecture_lists_keys_and_leaves_model_untouched(tmp_path):
    path = tmp_path / "model.pt"
    save_model(path, conv_net(), meta={})
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(ValueError, match=r"another architecture; unexpected keys: 0\.bias"):
        load_model(path, other)
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in before.items())


def test_errors(tmp_path):
    with pytest.raises(TypeError, match="meta\\['when'\\] must hold only"):
        save_model(tmp_path / "m.pt", conv_net(), meta={"when": object()})
    with pytest.raises(TypeError, match="meta must be a mapping"):
        save_model(tmp_path / "m.pt", conv_net(), meta=[("a", 1)])
    with pytest.raises(TypeError, match="keys must be str"):
        save_model(tmp_path / "m.pt", conv_net(), meta={1: "a"})
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        save_model(tmp_path / "m.pt", lambda x: x, meta={})
    with pytest.raises(FileNotFoundError, match="no shapebias-model file"):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable shapebias-model file"):
        load_model(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a shapebias-model file"):
        load_model(tmp_path / "other.pt")
