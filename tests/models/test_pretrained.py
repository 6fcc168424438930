"""load_pretrained: each ecosystem's checkpoint format round-trips to the same predictions."""

from __future__ import annotations

import logging
import sys
import types
from collections import OrderedDict

import pytest
import torch
from torch import nn

from shapebias.models import IMAGENET_MEAN, NormalizedModel, build_architecture, load_pretrained
from tests._models import tiny_cnn

MADRY_MEAN, MADRY_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


class _InputNormalize(nn.Module):
    """MadryLab robustness' normaliser: buffers new_mean / new_std of shape (3, 1, 1)."""

    def __init__(self, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.register_buffer("new_mean", torch.tensor(mean).view(3, 1, 1))
        self.register_buffer("new_std", torch.tensor(std).view(3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.new_mean) / self.new_std


class _Attacker(nn.Module):
    def __init__(self, model: nn.Module, normalize: nn.Module) -> None:
        super().__init__()
        self.model, self.normalize = model, normalize


class _AttackerModel(nn.Module):
    """robustness.attacker.AttackerModel's module layout (normalizer, model, attacker)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.normalizer = _InputNormalize(MADRY_MEAN, MADRY_STD)
        self.model = model
        self.attacker = _Attacker(model, _InputNormalize(MADRY_MEAN, MADRY_STD))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalizer(x))


class _ImageNormalizer(nn.Module):
    """RobustBench's normaliser: buffers mean / std of shape (1, 3, 1, 1)."""

    def __init__(self, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _trained_like(num_classes: int = 5) -> nn.Module:
    """A tiny CNN with non-default BatchNorm statistics, so a lost buffer shows."""
    net = tiny_cnn(num_classes, seed=7)
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    return net.eval()


def _net(num_classes: int = 5) -> nn.Module:
    return tiny_cnn(num_classes, seed=99)  # other random weights: loading must overwrite them


IMAGES = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def _same_predictions(model: NormalizedModel, reference: nn.Module) -> None:
    assert isinstance(model, NormalizedModel) and not model.training
    with torch.no_grad():
        torch.testing.assert_close(model(IMAGES), reference(IMAGES), rtol=0, atol=1e-6)


def test_plain_state_dict_round_trips(tmp_path):
    source = _trained_like()
    torch.save(source.state_dict(), tmp_path / "plain.pth")
    model = load_pretrained(tmp_path / "plain.pth", _net)
    _same_predictions(model, NormalizedModel(source, IMAGENET_MEAN, (0.229, 0.224, 0.225)))


def test_madrylab_robustness_checkpoint_round_trips(tmp_path):
    source = _AttackerModel(_trained_like()).eval()
    state = nn.DataParallel(source).state_dict()  # keys module.model.*, module.attacker.*
    assert any(k.startswith("module.attacker.model.") for k in state)
    checkpoint = {"model": state, "optimizer": {"state": {}}, "schedule": None, "epoch": 90}
    torch.save(checkpoint, tmp_path / "checkpoint.pt.best")
    model = load_pretrained(tmp_path / "checkpoint.pt.best", _net)
    _same_predictions(model, source)
    assert model.mean.flatten().tolist() == pytest.approx(MADRY_MEAN)
    assert model.std.flatten().tolist() == pytest.approx(MADRY_STD)


def test_robustbench_imagenet_and_cifar_layouts_round_trip(tmp_path):
    source = nn.Sequential(
        OrderedDict(normalize=_ImageNormalizer(MADRY_MEAN, MADRY_STD), model=_trained_like())
    ).eval()
    torch.save(source.state_dict(), tmp_path / "imagenet.pt")  # normalize.*, model.*
    _same_predictions(load_pretrained(tmp_path / "imagenet.pt", _net), source)
    plain = _trained_like()
    wrapped = {"state_dict": {f"module.{k}": v for k, v in plain.state_dict().items()}}
    torch.save(wrapped, tmp_path / "cifar.pt")
    model = load_pretrained(tmp_path / "cifar.pt", _net, mean=MADRY_MEAN, std=MADRY_STD)
    _same_predictions(model, NormalizedModel(plain, MADRY_MEAN, MADRY_STD))


def test_saved_normalized_model_and_ready_module_round_trip(tmp_path):
    source = NormalizedModel(_trained_like(), MADRY_MEAN, MADRY_STD).eval()
    torch.save(source.state_dict(), tmp_path / "ours.pt")
    _same_predictions(load_pretrained(tmp_path / "ours.pt", _net()), source)


def test_torchvision_name_with_num_classes_and_old_checkpoints_without_counters(tmp_path):
    import torchvision

    source = torchvision.models.mobilenet_v3_small(num_classes=7).eval()
    state = {k: v for k, v in source.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(state, tmp_path / "mobilenet.pth")
    model = load_pretrained(tmp_path / "mobilenet.pth", "mobilenet_v3_small", num_classes=7)
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = NormalizedModel(source, IMAGENET_MEAN, (0.229, 0.224, 0.225))(images)
        torch.testing.assert_close(model(images), expected, rtol=0, atol=1e-5)


def test_timm_names_go_to_timm_create_model_without_pretrained(monkeypatch):
    calls = []

    def create_model(name, pretrained, **kwargs):
        calls.append((name, pretrained, kwargs))
        return _net(kwargs.get("num_classes", 5))

    fake = types.SimpleNamespace(
        is_model=lambda name: name == "tiny_vit", create_model=create_model
    )
    monkeypatch.setitem(sys.modules, "timm", fake)
    assert isinstance(build_architecture("timm/tiny_vit", num_classes=3), nn.Module)
    assert isinstance(build_architecture("tiny_vit"), nn.Module)
    assert calls == [("tiny_vit", False, {"num_classes": 3}), ("tiny_vit", False, {})]
    with pytest.raises(ValueError, match="nor a timm model name"):
        build_architecture("no_such_net")


def test_unknown_name_without_timm_suggests_close_torchvision_names(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm raises ImportError
    with pytest.raises(
        ValueError, match=r"'resnet05'.*Close torchvision names: resnet50.*timm is not installed"
    ):
        build_architecture("resnet05")


def test_missing_and_corrupt_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pt is not a file.*never downloads"):
        load_pretrained(tmp_path / "nowhere.pt", _net)
    torch.save(_trained_like().state_dict(), tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.pt is not a readable PyTorch weight file"):
        load_pretrained(tmp_path / "truncated.pt", _net)
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "no_weights.pt")
    with pytest.raises(ValueError, match=r"no_weights\.pt holds no state dict.*\['epoch', 'lr'\]"):
        load_pretrained(tmp_path / "no_weights.pt", _net)
    torch.save({"model": _trained_like()}, tmp_path / "pickled.pt")  # a whole module: pickle
    with pytest.raises(ValueError, match=r"pickled\.pt holds Python objects beyond tensors"):
        load_pretrained(tmp_path / "pickled.pt", _net)


def test_mismatches_list_differences_and_the_likely_cause(tmp_path):
    torch.save(_trained_like(5).state_dict(), tmp_path / "five.pt")
    with pytest.raises(
        ValueError, match=r"(?s)shape mismatches: 7\.weight: file \(5, 32\).*num_classes=5"
    ):
        load_pretrained(tmp_path / "five.pt", _net, num_classes=3)
    prefixed = {f"backbone.{k}": v for k, v in _trained_like().state_dict().items()}
    torch.save(prefixed, tmp_path / "prefixed.pt")
    with pytest.raises(
        ValueError,
        match=r"(?s)missing: 0\.weight.*unexpected: backbone\.0\.weight.*strip.*'backbone\.'",
    ):
        load_pretrained(tmp_path / "prefixed.pt", _net)
    with pytest.raises(ValueError, match=r"(?s)missing: conv1\.weight.*wrong architecture"):
        load_pretrained(tmp_path / "five.pt", "resnet18")


def test_non_strict_loads_the_matching_keys_and_logs_the_rest(tmp_path, caplog):
    state = _trained_like().state_dict()
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pt")
    with pytest.raises(ValueError, match=r"unexpected: extra\.weight"):
        load_pretrained(tmp_path / "extra.pt", _net)
    with caplog.at_level(logging.WARNING, logger="shapebias.models"):
        model = load_pretrained(tmp_path / "extra.pt", _net, strict=False)
    assert "1 file keys ignored" in caplog.text
    _same_predictions(model, NormalizedModel(_trained_like(), IMAGENET_MEAN, (0.229, 0.224, 0.225)))


def test_bad_architecture_arguments():
    with pytest.raises(TypeError, match="architecture must be a torchvision/timm model name"):
        build_architecture(3)
    with pytest.raises(TypeError, match=r"architecture must return an nn\.Module, got str"):
        build_architecture(lambda: "resnet")
    with pytest.raises(ValueError, match="num_classes must be None when architecture is a ready"):
        build_architecture(_net(), num_classes=3)
    with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike, got int"):
        load_pretrained(3, _net)
