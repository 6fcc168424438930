"""The one image reader and extension list (shapebias._images), shared by data and distortions."""

import numpy as np
import torch
from PIL import Image

from shapebias._images import IMAGE_EXTENSIONS, image_files, read_image
from shapebias.data import IMAGE_EXTENSIONS as DATA_EXTENSIONS
from shapebias.data import image_folder
from shapebias.distortions import StyleSource


def _pixels(seed, mode):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, (5, 7, channels), dtype=np.uint8)
    return array[..., 0] if channels == 1 else array


def test_read_image_is_rgb_float32_over_255_for_every_mode(tmp_path):
    for seed, mode in enumerate(["RGB", "RGBA", "L"]):
        array = _pixels(seed, mode)
        path = tmp_path / f"{mode}.png"
        Image.fromarray(array, mode=mode).save(path)
        rgb = np.repeat(array[..., None], 3, axis=2) if mode == "L" else array[..., :3]
        expected = torch.from_numpy(rgb.astype(np.float32) / np.float32(255)).permute(2, 0, 1)
        image = read_image(path)
        assert image.dtype == torch.float32 and image.shape == (3, 5, 7)
        torch.testing.assert_close(image, expected, rtol=0, atol=0)


def test_data_and_styles_share_the_extensions_and_the_reader(tmp_path):
    assert DATA_EXTENSIONS is IMAGE_EXTENSIONS
    folder = tmp_path / "cls"
    folder.mkdir()
    for index, name in enumerate(["b.PPM", "a.png", "c.tif", "notes.txt"]):
        if name.endswith(".txt"):
            (folder / name).write_text("not an image")
        else:
            Image.fromarray(_pixels(index, "RGB")).save(folder / name)
    expected = [read_image(folder / name) for name in ("a.png", "b.PPM", "c.tif")]
    assert [p.name for p in image_files(folder)] == ["a.png", "b.PPM", "c.tif"]
    styles = StyleSource(folder)
    dataset = image_folder(tmp_path)
    assert len(styles) == len(dataset) == 3
    for index, image in enumerate(expected):
        assert torch.equal(styles.images[index], image)
        assert torch.equal(dataset[index][0], image)


def test_image_files_recursive_only_when_asked(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.fromarray(_pixels(0, "RGB")).save(tmp_path / "sub" / "x.jpg")
    Image.fromarray(_pixels(1, "RGB")).save(tmp_path / "y.jpg")
    assert [p.name for p in image_files(tmp_path)] == ["y.jpg"]
    assert [p.name for p in image_files(tmp_path, recursive=True)] == ["x.jpg", "y.jpg"]
