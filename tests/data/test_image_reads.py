"""Every image read converts each PIL mode correctly or refuses it, naming the file.

The reliability sweep found a 16-bit grey PNG read as saturated white (PIL's
``convert("RGB")`` clips ``I;16`` values to 255: silently wrong) and a truncated PNG in
a stimulus folder ending in Pillow's ``OSError`` without the file's path. All readers
(stimulus folders, cue-conflict and OOD sets, image folders, style folders) share one
reader, so each property is checked through each of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shapebias.data import (
    CueConflictDataset,
    image_folder,
    ood_datasets,
    sample_images,
    stimulus_folder,
)
from shapebias.distortions import StyleSource

H, W = 3, 4


def _grey16() -> np.ndarray:
    return (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 5000 + 7).astype(np.uint16)


def _expected_grey(values: np.ndarray, scale: float) -> torch.Tensor:
    grey = torch.from_numpy(values.astype(np.float64) / scale).float()
    return grey.expand(3, -1, -1)


# name -> (write the file at path, expected (3, H, W) tensor)
def _write_grey16(path: Path) -> torch.Tensor:
    Image.fromarray(_grey16()).save(path)  # mode I;16
    return _expected_grey(_grey16(), 65535)


def _write_int32_16bit_range(path: Path) -> torch.Tensor:
    Image.fromarray(_grey16().astype(np.int32)).save(path.with_suffix(".tif"))  # mode I
    return _expected_grey(_grey16(), 65535)


def _write_float(path: Path) -> torch.Tensor:
    values = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    Image.fromarray(values).save(path.with_suffix(".tif"))  # mode F
    return torch.from_numpy(values).expand(3, -1, -1)


def _write_palette(path: Path) -> torch.Tensor:
    palette = [255, 0, 0, 0, 128, 255] + [0] * (256 * 3 - 6)
    image = Image.new("P", (W, H))
    image.putpalette(palette)
    image.putdata([i % 2 for i in range(H * W)])
    image.save(path)
    colours = torch.tensor([[255, 0, 0], [0, 128, 255]], dtype=torch.float32) / 255
    index = torch.tensor([i % 2 for i in range(H * W)]).view(H, W)
    return colours[index].permute(2, 0, 1)


def _write_grey_alpha(path: Path) -> torch.Tensor:
    Image.new("LA", (W, H), (100, 30)).save(path)
    return torch.full((3, H, W), 100 / 255)


def _write_rgba(path: Path) -> torch.Tensor:
    Image.new("RGBA", (W, H), (10, 20, 30, 0)).save(path)
    return torch.tensor([10.0, 20.0, 30.0]).div(255).view(3, 1, 1).expand(3, H, W)


def _write_cmyk(path: Path) -> torch.Tensor:
    Image.new("CMYK", (W, H), (0, 255, 255, 0)).save(path.with_suffix(".tif"))
    return torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1).expand(3, H, W)  # pure red


def _write_bilevel(path: Path) -> torch.Tensor:
    image = Image.new("1", (W, H), 0)
    image.putpixel((0, 0), 1)
    image.save(path)
    expected = torch.zeros(3, H, W)
    expected[:, 0, 0] = 1
    return expected


CONVERTED = {
    "16-bit grey (I;16)": _write_grey16,
    "32-bit integers within 16 bits (I)": _write_int32_16bit_range,
    "float in [0, 1] (F)": _write_float,
    "palette (P)": _write_palette,
    "grey + alpha (LA)": _write_grey_alpha,
    "RGBA": _write_rgba,
    "CMYK": _write_cmyk,
    "bilevel (1)": _write_bilevel,
}


def _write_in(folder: Path, writer) -> tuple[Path, torch.Tensor]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / "cat1-dog1.png"
    expected = writer(stem)
    written = next(p for p in folder.iterdir() if p.stem == stem.stem)
    return written, expected


# reader name -> (folder the image goes into, under root; read item 0 of the set)
READERS = {
    "stimulus_folder": ("clean/cat", lambda r: stimulus_folder(r / "clean", size=None)[0][0]),
    "CueConflictDataset": ("cue/cat", lambda r: CueConflictDataset(r / "cue", size=None)[0][0]),
    "ood_datasets": ("ood/edge/cat", lambda r: ood_datasets(r / "ood", size=None)["edge"][0][0]),
    "image_folder": ("folder/cat", lambda r: image_folder(r / "folder")[0][0]),
    "StyleSource": ("styles", lambda r: StyleSource(r / "styles").images[0]),
}


@pytest.mark.parametrize("mode", list(CONVERTED))
@pytest.mark.parametrize("reader", list(READERS))
def test_each_mode_reads_as_its_true_rgb_values(tmp_path, mode, reader):
    where, read = READERS[reader]
    _, expected = _write_in(tmp_path / where, CONVERTED[mode])
    image = read(tmp_path)
    assert image.shape == (3, H, W) and image.dtype == torch.float32
    # 8-bit levels are exact in float32 (v / 255 rounds once), 16-bit ones likewise
    torch.testing.assert_close(image, expected, rtol=0, atol=1e-7)


def test_sixteen_bit_grey_is_not_saturated(tmp_path):
    """The silently wrong read of the sweep: every pixel above 255 came back as 1.0."""
    _write_in(tmp_path / "clean" / "cat", _write_grey16)
    image = stimulus_folder(tmp_path / "clean", size=None)[0][0]
    assert float(image.max()) < 0.85 and len(image.unique()) == H * W


def _truncated_png(path: Path) -> None:
    Image.fromarray(np.full((32, 32, 3), 128, dtype=np.uint8)).save(path.with_name("whole.png"))
    data = path.with_name("whole.png").read_bytes()
    path.with_name("whole.png").unlink()
    path.write_bytes(data[: len(data) // 2])


REFUSED = {
    "truncated PNG": (_truncated_png, r"could not be read.*truncated, damaged or not an image"),
    "text named .png": (lambda p: p.write_text("not an image"), r"could not be read"),
    "empty file": (lambda p: p.write_bytes(b""), r"could not be read"),
    "32-bit integers beyond 16 bits": (
        lambda p: Image.fromarray(np.full((H, W), 70000, dtype=np.int32)).save(p),
        r"\(mode I\): integer pixels in \[70000, 70000\], beyond 16 bits",
    ),
    "float outside [0, 1]": (
        lambda p: Image.fromarray(np.full((H, W), 2.5, dtype=np.float32)).save(p),
        r"\(mode F\): floating-point pixels in \[2\.5, 2\.5\], not in \[0, 1\]",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("reader", list(READERS))
def test_an_unreadable_image_is_refused_naming_the_file(tmp_path, case, reader):
    where, read = READERS[reader]
    folder = tmp_path / where
    folder.mkdir(parents=True)
    suffix = ".tif" if "bits" in case or "float" in case else ".png"
    path = folder / f"cat1-dog1{suffix}"
    write, match = REFUSED[case]
    write(path)
    with pytest.raises(ValueError, match=match) as error:
        read(tmp_path)
    assert str(error.value).startswith(f"image file {path}")


def test_sample_images_name_the_image_on_failure_and_scale_16_bits(monkeypatch):
    from skimage import data

    from shapebias.data import _samples

    def broken():
        raise OSError("data file missing")

    _samples._load.cache_clear()
    monkeypatch.setattr(data, "brick", broken)
    monkeypatch.setattr(data, "grass", lambda: _grey16())
    try:
        with pytest.raises(ValueError, match=r"^sample image 'brick' \(skimage\.data\.brick\) "):
            sample_images(names=["brick"])
        grass = sample_images(names=["grass"])["grass"]
        torch.testing.assert_close(grass, _expected_grey(_grey16(), 65535), rtol=0, atol=1e-7)
    finally:
        _samples._load.cache_clear()


def test_a_damaged_cifar10_batch_is_named(tmp_path):
    """CIFAR-10's images come in pickled batches: a truncated batch names its file too."""
    import pickle

    from shapebias.data import cifar10

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {"data": np.zeros((1, 3072), dtype=np.uint8), "labels": [0]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": ["a"] * 10}))
    whole = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(whole[: len(whole) // 2])
    assert len(cifar10(tmp_path, train=True)) == 5
    with pytest.raises(ValueError, match=r"test_batch is not a readable CIFAR-10 batch"):
        cifar10(tmp_path, train=False)
