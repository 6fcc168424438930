from __future__ import annotations

import functools

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from shapebias.distortions import (
    DistortedDataset,
    PatchShuffle,
    Saturate,
    item_generator,
    saturate,
)
from tests.distortions._cases import CASES


def base():
    images = torch.rand(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    return TensorDataset(images, torch.arange(10))


def collect(loader):
    images, labels = zip(*loader, strict=True)
    return torch.cat(images), torch.cat(labels)


def test_independent_of_batch_size_order_and_workers():
    dataset = DistortedDataset(base(), PatchShuffle(2), seed=3)
    reference = torch.stack([dataset[i][0] for i in range(len(dataset))])
    for options in [{"batch_size": 1}, {"batch_size": 4}, {"batch_size": 3, "num_workers": 2}]:
        images, labels = collect(DataLoader(dataset, **options))
        assert torch.equal(images, reference) and torch.equal(labels, torch.arange(10))
    shuffled = DataLoader(
        dataset, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(1)
    )
    images, labels = collect(shuffled)
    assert torch.equal(images, reference[labels])


def test_item_uses_generator_seeded_from_seed_and_index():
    data = base()
    dataset = DistortedDataset(data, PatchShuffle(2), seed=5)
    expected = PatchShuffle(2)(data[7][0], generator=item_generator(5, 7))
    assert torch.equal(dataset[7][0], expected)
    other_seed = DistortedDataset(data, PatchShuffle(4), seed=6)
    same_seed = DistortedDataset(data, PatchShuffle(4), seed=5)
    assert not torch.equal(other_seed[7][0], same_seed[7][0])
    constant = DistortedDataset(
        [(torch.arange(16.0).view(1, 4, 4) / 16, 0)] * 6, PatchShuffle(4), seed=0
    )
    assert len({tuple(constant[i][0].flatten().tolist()) for i in range(6)}) > 1


def test_plain_functions_and_bare_tensor_items():
    class Bare(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return torch.full((3, 4, 4), index / 4)

    dataset = DistortedDataset(Bare(), functools.partial(saturate, p=2), seed=0)
    torch.testing.assert_close(dataset[2], torch.full((3, 4, 4), 0.5))


def test_deterministic_module_without_a_generator_use_works():
    # The bug of issue 14: Saturate.forward took no generator= and DistortedDataset,
    # guessing from signatures, passed one anyway.
    data = base()
    image, label = DistortedDataset(data, Saturate(8), seed=0)[0]
    torch.testing.assert_close(image, saturate(data[0][0][None], 8)[0], rtol=0, atol=0)
    assert int(label) == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_distortion_module_and_function_works_with_its_item_generator(name):
    function, module, _ = CASES[name]
    data = TensorDataset(torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)))
    for distortion in (function, module):
        (image,) = DistortedDataset(data, distortion, seed=4)[2]
        expected = function(data[2][0][None], generator=item_generator(4, 2))[0]
        torch.testing.assert_close(image, expected, rtol=0, atol=0)


def test_a_callable_without_generator_gets_an_error_naming_the_protocol():
    with pytest.raises(
        TypeError, match=r"distortion is called as distortion\(images, generator=g\)"
    ):
        DistortedDataset(base(), lambda x: x.flip(-1), seed=0)[0]
    failing = DistortedDataset(base(), lambda x, generator=None: x.flip("bad"), seed=0)
    with pytest.raises(TypeError) as error:  # a TypeError of its own passes through
        failing[0]
    assert "generator" not in str(error.value)


def test_extra_fields_pass_through():
    items = [(torch.rand(3, 4, 4), 7, {"path": "x.png"})]
    image, label, meta = DistortedDataset(items, PatchShuffle(2), seed=1)[0]
    assert label == 7 and meta == {"path": "x.png"} and image.shape == (3, 4, 4)


def test_bad_arguments():
    with pytest.raises(TypeError, match="distortion must be callable"):
        DistortedDataset(base(), "saturate", seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        DistortedDataset(base(), PatchShuffle(2), seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        DistortedDataset(base(), PatchShuffle(2), seed=None)
    with pytest.raises(TypeError, match=r"dataset\[0\] must give an image tensor"):
        DistortedDataset([("not an image", 0)], PatchShuffle(2), seed=0)[0]
