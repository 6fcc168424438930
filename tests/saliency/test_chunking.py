"""The chunked row iterator behind SmoothGrad and Integrated Gradients."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.saliency import integrated_gradients, model_randomization_test, smoothgrad
from shapebias.saliency._chunking import CPU_BATCH_SIZE, iter_rows, resolve_batch_size
from tests._models import seeded_images
from tests.saliency._nets import relu_cnn


@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 13))
def test_rows_cover_every_copy_once_in_copy_major_order(copies: int, n: int, size: int) -> None:
    def make_rows(s: int, start: int, stop: int) -> torch.Tensor:
        return (
            torch.full((stop - start, 1, 1, 1), float(s))
            + torch.arange(start, stop).view(-1, 1, 1, 1) / 10
        )

    chunks = list(iter_rows(make_rows, copies, n, size))
    assert all(0 < chunk.inputs.shape[0] <= size for chunk in chunks)
    assert all(chunk.inputs.shape[0] == size for chunk in chunks[:-1])
    copy = torch.cat([chunk.copy for chunk in chunks])
    image = torch.cat([chunk.image for chunk in chunks])
    inputs = torch.cat([chunk.inputs for chunk in chunks]).flatten()
    assert copy.tolist() == [s for s in range(copies) for _ in range(n)]
    assert image.tolist() == list(range(n)) * copies
    torch.testing.assert_close(inputs, copy.float() + image.float() / 10)


@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 7))
def test_make_rows_called_in_order_over_consecutive_ranges(copies: int, n: int, size: int) -> None:
    calls: list[tuple[int, int, int]] = []

    def make_rows(s: int, start: int, stop: int) -> torch.Tensor:
        calls.append((s, start, stop))
        return torch.zeros(stop - start, 1, 1, 1)

    for index, _ in enumerate(iter_rows(make_rows, copies, n, size)):
        # Lazy: when chunk `index` comes out, no row of a later chunk has been built.
        assert sum(stop - start for _, start, stop in calls) <= (index + 1) * size
    assert calls == sorted(calls)
    for s in range(copies):
        ranges = [(start, stop) for c, start, stop in calls if c == s]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(0 < stop - start <= size for start, stop in ranges)


def test_batch_size_default_and_errors() -> None:
    images = torch.zeros(2, 1, 1, 1)
    assert resolve_batch_size(None, images) == CPU_BATCH_SIZE
    assert resolve_batch_size(7, images) == 7
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        resolve_batch_size(0, images)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        resolve_batch_size(2.5, images)


class _Recorder(torch.nn.Module):
    """A small CNN that records how many images each call received."""

    def __init__(self) -> None:
        super().__init__()
        self.net = relu_cnn()
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        return self.net(x)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: smoothgrad(m, x, n_samples=3, batch_size=4),
        lambda m, x: integrated_gradients(m, x, steps=2, batch_size=4, return_delta=True),
        lambda m, x: model_randomization_test(
            m,
            x,
            method="smoothgrad",
            layers=["net.0"],
            method_kwargs={"n_samples": 1, "batch_size": 4},
        ),
    ],
    ids=["smoothgrad", "integrated_gradients", "model_randomization_test"],
)
def test_every_model_call_holds_at_most_batch_size_images(call) -> None:
    # target=None: the prediction, the rows and (IG) the completeness ends all go in chunks.
    model = _Recorder().eval()
    images = seeded_images(10)
    call(model, images)
    assert max(model.sizes) <= 4
    assert model.sizes[:3] == [4, 4, 2]  # the chunked prediction comes first


def test_chunked_prediction_gives_the_unchunked_target() -> None:
    model = relu_cnn().double()
    images = seeded_images(10).double()
    predicted = model(images).argmax(1)
    torch.testing.assert_close(
        smoothgrad(
            model, images, n_samples=2, batch_size=3, generator=torch.Generator().manual_seed(0)
        ),
        smoothgrad(
            model,
            images,
            predicted,
            n_samples=2,
            batch_size=3,
            generator=torch.Generator().manual_seed(0),
        ),
    )
