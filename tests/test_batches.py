import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from shapebias._batches import batch_count, iterate_batches
from tests._models import seeded_images, seeded_labels


def test_tensor_pair_dataset_and_loader_yield_the_same_batches():
    images, labels = seeded_images(7), seeded_labels(7)
    dataset = TensorDataset(images, labels)
    for data in ((images, labels), dataset, DataLoader(dataset, batch_size=3)):
        batches = list(iterate_batches(data, 3))
        assert [b[0].shape[0] for b in batches] == [3, 3, 1]
        assert torch.equal(torch.cat([b[0] for b in batches]), images)
        assert torch.equal(torch.cat([b[1] for b in batches]), labels)
        assert batch_count(data, 3) == 3


def test_batch_count_unknown_for_a_generator_and_dataset_items_are_checked():
    images, labels = seeded_images(4), seeded_labels(4)
    assert batch_count(((images, labels) for _ in range(2)), 2) is None
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        list(iterate_batches(TensorDataset(images * 3, labels), 2))
    with pytest.raises(TypeError, match="data must be a DataLoader"):
        list(iterate_batches(3, 2))
