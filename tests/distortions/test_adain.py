from __future__ import annotations

import pytest
import torch

from shapebias.distortions import AdaIN, Stylize, adain_decoder, load_adain, stylize, vgg_encoder
from shapebias.distortions._adain import adain_statistics

WIDTH = 2


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adain")
    torch.manual_seed(0)
    encoder, decoder = vgg_encoder(WIDTH), adain_decoder(WIDTH)
    torch.save(encoder.state_dict(), folder / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), folder / "decoder.pth")
    return folder / "vgg_normalised.pth", folder / "decoder.pth", encoder, decoder


def test_published_layout_keys():
    encoder_keys = set(vgg_encoder().state_dict())
    assert len(vgg_encoder()) == 53 and len(adain_decoder()) == 29
    conv = [0, 2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51]
    assert encoder_keys == {f"{i}.{p}" for i in conv for p in ("weight", "bias")}
    assert vgg_encoder().state_dict()["29.weight"].shape == (512, 256, 3, 3)
    decoder_conv = [1, 5, 8, 11, 14, 18, 21, 25, 28]
    assert set(adain_decoder().state_dict()) == {
        f"{i}.{p}" for i in decoder_conv for p in ("weight", "bias")
    }
    assert adain_decoder().state_dict()["1.weight"].shape == (256, 512, 3, 3)


def test_round_trip_loads_weights_exactly(weight_files):
    encoder_path, decoder_path, encoder, decoder = weight_files
    net = load_adain(encoder_path, decoder_path)
    for key, value in encoder[:31].state_dict().items():
        assert torch.equal(net.encoder.state_dict()[key], value)
    for key, value in decoder.state_dict().items():
        assert torch.equal(net.decoder.state_dict()[key], value)
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_truncated_encoder_file_is_accepted(tmp_path, weight_files):
    _, decoder_path, encoder, _ = weight_files
    torch.save(encoder[:31].state_dict(), tmp_path / "vgg_relu4_1.pth")
    assert isinstance(load_adain(tmp_path / "vgg_relu4_1.pth", decoder_path), AdaIN)


def test_adain_forward_matches_literal_formula(weight_files):
    net = load_adain(*weight_files[:2]).double()
    content = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    style = torch.rand(1, 3, 24, 24, dtype=torch.float64)
    out = stylize(content, style, method="adain", adain=net, alpha=0.6)
    fc, fs = net.encoder(content), net.encoder(style)
    mc, sc = fc.mean((2, 3), keepdim=True), (fc.var((2, 3), keepdim=True) + 1e-5).sqrt()
    ms, ss = fs.mean((2, 3), keepdim=True), (fs.var((2, 3), keepdim=True) + 1e-5).sqrt()
    target = 0.6 * ((fc - mc) / sc * ss + ms) + 0.4 * fc
    torch.testing.assert_close(out, net.decoder(target).clamp(0, 1))
    mean, std = adain_statistics(fc)
    torch.testing.assert_close(mean, mc)
    torch.testing.assert_close(std, sc)


def test_adain_keeps_shape_for_odd_sizes_and_module(weight_files):
    net = load_adain(*weight_files[:2])
    content = torch.rand(2, 3, 18, 21)
    assert stylize(content, content[:1], method="adain", adain=net).shape == content.shape
    module = Stylize(torch.rand(3, 3, 16, 16), method="adain", adain=net)
    assert module(content[0], generator=torch.Generator().manual_seed(0)).shape == (3, 18, 21)
    assert any(name.startswith("adain.") for name, _ in module.named_parameters())


def test_missing_file_names_the_file(tmp_path, weight_files):
    with pytest.raises(FileNotFoundError, match=r"encoder file '.*nothing\.pth' does not exist"):
        load_adain(tmp_path / "nothing.pth", weight_files[1])
    with pytest.raises(FileNotFoundError, match="decoder file"):
        load_adain(weight_files[0], tmp_path / "nothing.pth")


def test_mismatched_keys_name_file_and_keys(tmp_path, weight_files):
    encoder_path, decoder_path, encoder, decoder = weight_files
    state = dict(decoder.state_dict())
    del state["28.bias"]
    state["99.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad_decoder.pth")
    with pytest.raises(
        ValueError, match=r"bad_decoder\.pth.*missing keys \[28\.bias\].*99\.weight"
    ):
        load_adain(encoder_path, tmp_path / "bad_decoder.pth")
    with pytest.raises(ValueError, match=r"encoder file '.*decoder\.pth' has no key '2\.weight'"):
        load_adain(decoder_path, decoder_path)
    extra = {**encoder.state_dict(), "60.weight": torch.zeros(1)}
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match=r"extra\.pth.*unexpected keys \[60\.weight\]"):
        load_adain(tmp_path / "extra.pth", decoder_path)
    state = dict(decoder.state_dict())
    state["5.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"shape\.pth': key '5\.weight' has shape"):
        load_adain(encoder_path, tmp_path / "shape.pth")


def test_width_mismatch_and_unreadable_files(tmp_path, weight_files):
    torch.save(adain_decoder(WIDTH + 1).state_dict(), tmp_path / "wide.pth")
    with pytest.raises(ValueError, match=r"base width 2 but decoder file .* has 3"):
        load_adain(weight_files[0], tmp_path / "wide.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.pth' is not a readable state dict"):
        load_adain(tmp_path / "junk.pth", weight_files[1])
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match=r"list\.pth' must hold a state dict"):
        load_adain(tmp_path / "list.pth", weight_files[1])
    with pytest.raises(TypeError, match="encoder must be a path"):
        load_adain(123, weight_files[1])


def test_network_device_dtype_mismatch(weight_files):
    net = load_adain(*weight_files[:2])
    content = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"move it with adain\.to\(content\)"):
        stylize(content, content, method="adain", adain=net)


def _identity_conv() -> torch.nn.Sequential:
    conv = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        conv.bias.zero_()
    return torch.nn.Sequential(conv)


def _literal_adain(content, style, alpha):
    """Per image and channel, from the formula: (c - mean_c) / std_c * std_s + mean_s,
    std from the unbiased variance + 1e-5, then lerp with alpha, then clip to [0, 1]."""
    out = torch.empty_like(content)
    for n in range(content.shape[0]):
        s_image = style[n if style.shape[0] > 1 else 0]
        for ch in range(content.shape[1]):
            c, s = content[n, ch].flatten().tolist(), s_image[ch].flatten().tolist()
            mean_c, mean_s = sum(c) / len(c), sum(s) / len(s)
            std_c = (sum((v - mean_c) ** 2 for v in c) / (len(c) - 1) + 1e-5) ** 0.5
            std_s = (sum((v - mean_s) ** 2 for v in s) / (len(s) - 1) + 1e-5) ** 0.5
            target = [(v - mean_c) / std_c * std_s + mean_s for v in c]
            mixed = [alpha * t + (1 - alpha) * v for t, v in zip(target, c, strict=True)]
            out[n, ch] = torch.tensor(mixed, dtype=content.dtype).view(content.shape[2:])
    return out.clamp(0, 1)


def test_adain_in_pixel_space_matches_the_formula_and_moves_the_statistics():
    # Identity encoder and decoder: AdaIN acts on the pixels themselves. Content and style
    # differ strongly in mean and std, so an AdaIN that did nothing (or swapped only the
    # mean, or used the biased variance) would fail.
    net = AdaIN(_identity_conv(), _identity_conv()).double()
    generator = torch.Generator().manual_seed(3)
    # Uniform values: content in [0.55, 0.65], style in [0.1, 0.5] (std 0.029 vs 0.115).
    content = 0.55 + 0.1 * torch.rand(2, 3, 12, 12, generator=generator, dtype=torch.float64)
    style = 0.1 + 0.4 * torch.rand(2, 3, 10, 10, generator=generator, dtype=torch.float64)
    for alpha in (1.0, 0.4):
        out = stylize(content, style, method="adain", adain=net, alpha=alpha)
        torch.testing.assert_close(out, _literal_adain(content, style, alpha), rtol=0, atol=1e-12)
    out = stylize(content, style, method="adain", adain=net, alpha=1.0)
    assert not bool((out == 0).any() or (out == 1).any())  # no clipping: the moments are exact
    style_mean, style_std = adain_statistics(style)
    out_mean, out_std = adain_statistics(out)
    torch.testing.assert_close(out_mean, style_mean, rtol=0, atol=1e-12)
    raw_std = content.flatten(2).std(2)[..., None, None]  # without the + 1e-5
    expected_std = style_std * raw_std / adain_statistics(content)[1]
    torch.testing.assert_close(out_std.square() - 1e-5, expected_std.square(), rtol=1e-9, atol=0)
    assert float((out_mean - adain_statistics(content)[0]).abs().min()) > 0.2
    shared = stylize(content, style[:1], method="adain", adain=net, alpha=1.0)
    torch.testing.assert_close(shared, _literal_adain(content, style[:1], 1.0), rtol=0, atol=1e-12)
    kept = stylize(content, style, method="adain", adain=net, alpha=0.0)
    torch.testing.assert_close(kept, content, rtol=0, atol=1e-12)
