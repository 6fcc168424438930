"""fourier_heat_map: models with known frequency responses, a literal reference, invariants."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.frequency import FourierHeatMap, fourier_basis, fourier_heat_map
from shapebias.frequency._heat_map import half_plane
from tests._models import tiny_cnn
from tests.frequency._reference import reference_heat_map, same_pair


def grey_images(n: int, channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Mid-grey images with faint noise: far from the clipping bounds at the eps used here."""
    noise = torch.randn(n, channels, height, width, generator=torch.Generator().manual_seed(seed))
    return 0.5 + 0.01 * noise


def gaussian_kernel(sigma: float, radius: int = 3) -> torch.Tensor:
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    line = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = line[:, None] * line[None, :]
    return kernel / kernel.sum()


class EnergyDetector(nn.Module):
    """Class 1 when the energy of ``filter(x - 0.5)`` exceeds ``threshold``, else class 0.

    ``filter`` is linear and shift-invariant (circular), so the frequency ``f`` reaches the
    detector with the gain ``|H(f)|``: under ``eps * r_c * U_f`` the energy is
    ``C * eps^2 * |H(f)|^2`` whatever the signs, and the detector fires iff that gain is large.
    """

    def __init__(self, transfer: torch.Tensor, threshold: float) -> None:
        super().__init__()
        self.register_buffer("transfer", transfer)  # (H, W) real gain per fft2 bin
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        filtered = torch.fft.ifft2(torch.fft.fft2(x - 0.5) * self.transfer).real
        energy = filtered.pow(2).flatten(1).sum(1)
        return torch.stack([self.threshold - energy, energy - self.threshold], dim=1)


class BlurThenDetector(nn.Module):
    """A fixed Gaussian blur (circular convolution) in front of an energy detector."""

    def __init__(self, kernel: torch.Tensor, threshold: float, high_pass: bool) -> None:
        super().__init__()
        self.register_buffer("kernel", kernel[None, None].float())
        self.threshold, self.high_pass = threshold, high_pass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - 0.5
        radius = self.kernel.shape[-1] // 2
        padded = F.pad(centred, (radius,) * 4, mode="circular")
        channels = x.shape[1]
        blurred = F.conv2d(padded, self.kernel.expand(channels, 1, -1, -1), groups=channels)
        kept = centred - blurred if self.high_pass else blurred
        energy = kept.pow(2).flatten(1).sum(1)
        return torch.stack([self.threshold - energy, energy - self.threshold], dim=1)


def kernel_gain(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """The real gain of a symmetric circular-convolution kernel at each centred frequency."""
    radius = kernel.shape[-1] // 2
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    freqs = torch.arange(size, dtype=torch.float64) - size // 2
    # symmetric kernel: gain(i, j) = sum_ab k[a, b] cos(2 pi (i a + j b) / N)
    angle = (
        2
        * math.pi
        * (
            freqs[:, None, None, None] * offsets[None, None, :, None]
            + freqs[None, :, None, None] * offsets[None, None, None, :]
        )
        / size
    )
    return (kernel[None, None] * torch.cos(angle)).sum((2, 3))


def linear(channels: int, height: int, width: int, classes: int = 3) -> nn.Module:
    """A random linear classifier: sensitive to every frequency, and to the signs."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, classes)).eval()


def radius_map(size: int) -> torch.Tensor:
    freqs = torch.arange(size, dtype=torch.float64) - size // 2
    return torch.hypot(freqs[:, None], freqs[None, :])


@pytest.mark.parametrize("high_pass", [False, True])
def test_blur_model_is_blind_to_high_frequencies_and_a_high_pass_model_to_low_ones(high_pass):
    size, channels, eps = 16, 3, 2.0
    kernel = gaussian_kernel(sigma=1.0)
    model = BlurThenDetector(kernel, threshold=0.5 * channels * eps**2, high_pass=high_pass)
    images = grey_images(12, channels, size, size)
    labels = torch.zeros(12, dtype=torch.long)
    result = fourier_heat_map(model, (images, labels), eps=eps, progress=False)
    assert result.clean_accuracy == 1.0
    gain = kernel_gain(kernel, size)
    gain = 1 - gain if high_pass else gain
    fires = gain**2 > 0.5
    clear = (gain**2 - 0.5).abs() > 0.05  # leave out the cells at the threshold
    torch.testing.assert_close(result.error[clear], fires[clear].double(), atol=0, rtol=0)
    radius = radius_map(size)
    high, low = radius >= size / 4, radius <= 1
    if high_pass:  # DC and its neighbours pass the model untouched; the corners fool it
        assert float(result.error[low].max()) == 0.0 and float(result.error[high].min()) == 1.0
    else:  # "near-zero error at high frequencies": exactly zero here
        assert float(result.error[high].max()) == 0.0 and float(result.error[low].min()) == 1.0


def test_oriented_detector_lights_up_exactly_its_frequency_pair_on_a_non_square_image():
    height, width, channels, eps = 12, 16, 2, 1.5
    i0, j0 = 1, 2  # vertical 1, horizontal 2; (1, -2) has the other orientation
    transfer = torch.zeros(height, width)
    transfer[i0 % height, j0 % width] = transfer[-i0 % height, -j0 % width] = 1.0
    model = EnergyDetector(transfer, threshold=0.5 * channels * eps**2)
    images = grey_images(6, channels, height, width)
    labels = torch.zeros(6, dtype=torch.long)
    result = fourier_heat_map(model, (images, labels), eps=eps, progress=False)
    expected = torch.zeros(height, width, dtype=torch.float64)
    expected[i0 + height // 2, j0 + width // 2] = expected[-i0 + height // 2, -j0 + width // 2] = 1
    torch.testing.assert_close(result.error, expected, atol=0, rtol=0)
    assert result.vertical_frequencies[i0 + height // 2] == i0
    assert result.horizontal_frequencies[j0 + width // 2] == j0


class ChannelSumProjection(nn.Module):
    """Wrong iff ``|sum_c <x_c - 0.5, U>| > eps``: fooled when all channels' signs agree."""

    def __init__(self, basis: torch.Tensor, eps: float) -> None:
        super().__init__()
        self.register_buffer("basis", basis)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        projection = ((x - 0.5) * self.basis).sum((1, 2, 3)).abs()
        return torch.stack([self.eps - projection, projection - self.eps], dim=1)


def test_signs_are_drawn_per_image_and_channel():
    size, eps, n = 8, 1.0, 200
    model = ChannelSumProjection(fourier_basis(size, 1, 1), eps)
    images = torch.full((n, 2, size, size), 0.5)
    labels = torch.zeros(n, dtype=torch.long)
    generator = torch.Generator().manual_seed(3)
    result = fourier_heat_map(model, (images, labels), eps=eps, generator=generator, progress=False)
    # two channels with independent signs agree half the time (one shared sign: always)
    error = float(result.error[1 + size // 2, 1 + size // 2])
    assert 0.35 < error < 0.65
    assert float(result.error[size // 2, size // 2]) == 0.0  # DC is orthogonal to U_11


@pytest.mark.parametrize(("size", "window"), [((6, 5), None), ((6, 5), (4, 3)), ((5, 5), 3)])
@pytest.mark.parametrize("batch_size", [4, 64])
def test_batched_map_equals_a_literal_loop_over_frequencies_and_images(size, window, batch_size):
    height, width = size
    model = linear(2, height, width).double()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(6, 2, height, width, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 3, (6,), generator=generator)
    result = fourier_heat_map(
        model,
        (images, labels),
        eps=2.0,
        size=window,
        generator=torch.Generator().manual_seed(7),
        batch_size=batch_size,
        progress=False,
    )
    cells = size if window is None else ((window, window) if isinstance(window, int) else window)
    order = [tuple(f) for f in result.frequencies.tolist()]
    clean, correct, both = reference_heat_map(
        model, images, labels, eps=2.0, window=cells, order=order, seed=7
    )
    assert result.clean_correct == clean and result.total == 6
    assert 0 < clean < 6  # the comparison sees right and wrong images
    assert torch.equal(result.correct, correct)
    assert torch.equal(result.correct_on_both, both)
    assert len(set(correct.flatten().tolist())) > 1  # the frequencies' outcomes differ


def test_half_plane_lists_each_conjugate_pair_once():
    for image, window in [((8, 8), (8, 8)), ((6, 5), (6, 5)), ((8, 8), (4, 4)), ((7, 6), (3, 6))]:
        frequencies, cells = half_plane(image, window)
        pairs = [tuple(f) for f in frequencies.tolist()]
        for a in range(len(pairs)):
            for b in range(a):
                assert not same_pair(pairs[a], pairs[b], image)
        h, w = window
        for index, cell in enumerate(cells.tolist()):
            i, j = index // w - h // 2, index % w - w // 2
            assert same_pair((i, j), pairs[cell], image)
    # the full 8 x 8 plane: (64 + 4 self-conjugate) / 2 pairs
    assert len(half_plane((8, 8), (8, 8))[0]) == 34


class CountingModel(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.seen, self.largest = model, 0, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += x.shape[0]
        self.largest = max(self.largest, x.shape[0])
        return self.model(x)


def test_evaluates_half_the_plane_once_symmetric_and_memory_bounded():
    model = CountingModel(linear(3, 8, 8))
    images = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    labels = model.model(images).argmax(1)
    result = fourier_heat_map(model, (images, labels), eps=3.0, batch_size=12, progress=False)
    assert model.seen == 5 * (34 + 1)  # one pass per evaluated frequency and image, + clean
    assert model.largest <= 12
    error = result.error  # (-i, -j) sits at [(8 - p) % 8, (8 - q) % 8]
    mirrored = error[(8 - torch.arange(8)) % 8][:, (8 - torch.arange(8)) % 8]
    assert torch.equal(error, mirrored)
    assert len(set(error.flatten().tolist())) > 1  # not trivially symmetric
    odd = fourier_heat_map(model, (images, labels), eps=3.0, size=7, progress=False)
    assert torch.equal(odd.error, odd.error.flip(0, 1))


def test_eps_zero_leaves_every_outcome_as_on_clean_images():
    model = tiny_cnn(channels=3)
    images = torch.rand(9, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    labels = torch.randint(0, 3, (9,), generator=torch.Generator().manual_seed(2))
    result = fourier_heat_map(model, (images, labels), eps=0.0, progress=False)
    assert 0 < result.clean_correct < 9
    assert torch.equal(result.correct, torch.full((8, 8), result.clean_correct))
    assert torch.equal(result.relative, torch.ones(8, 8, dtype=torch.float64))
    assert torch.allclose(result.error, torch.full((8, 8), 1 - result.clean_accuracy).double())


def test_relative_accuracy_counts_images_right_on_both():
    result = FourierHeatMap(
        eps=1.0,
        image_size=(1, 2),
        total=10,
        clean_correct=4,
        correct=torch.tensor([[5, 2]]),
        correct_on_both=torch.tensor([[3, 2]]),
        frequencies=torch.tensor([[0, -1], [0, 0]]),
    )
    assert torch.equal(result.relative, torch.tensor([[0.75, 0.5]], dtype=torch.float64))
    assert torch.equal(result.error, torch.tensor([[0.5, 0.8]], dtype=torch.float64))
    none_right = FourierHeatMap(
        1.0, (1, 2), 10, 0, result.correct, result.correct, result.frequencies
    )
    assert torch.isnan(none_right.relative).all()
    assert none_right.to_dict()["relative"] == [[None, None]]
    summary = result.to_dict()
    assert summary["relative"] == [[0.75, 0.5]] and summary["horizontal_frequencies"] == [-1, 0]


def test_deterministic_under_generator_and_seed_changes_the_draws():
    model = linear(3, 8, 8)
    images = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    labels = model(images).argmax(1)

    def run(seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return fourier_heat_map(
            model, (images, labels), eps=4.0, generator=generator, progress=False
        ).correct

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_loader_input_and_tensor_input_agree_when_signs_do_not_matter():
    height, width, channels, eps = 8, 8, 1, 1.0
    transfer = torch.zeros(height, width)
    transfer[1, 0] = transfer[-1, 0] = 1.0
    model = EnergyDetector(transfer, threshold=0.5 * eps**2)
    images = grey_images(8, channels, height, width)
    labels = torch.zeros(8, dtype=torch.long)
    tensors = fourier_heat_map(model, (images, labels), eps=eps, progress=False)
    loader = DataLoader(TensorDataset(images, labels), batch_size=3)
    batches = fourier_heat_map(model, loader, eps=eps, progress=True)
    dataset = fourier_heat_map(model, TensorDataset(images, labels), eps=eps, progress=False)
    for other in (batches, dataset):
        assert torch.equal(other.correct, tensors.correct) and other.total == 8


def test_model_state_and_caller_tensors_are_left_alone():
    model = tiny_cnn(channels=3).train()
    model[0].weight.requires_grad_(False)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    labels = torch.randint(0, 3, (6,), generator=torch.Generator().manual_seed(5))
    kept = images.clone(), labels.clone()
    result = fourier_heat_map(
        model, (images, labels), eps=2.0, generator=torch.Generator().manual_seed(0)
    )
    assert model.training and all(m.training for m in model.modules())
    assert not model[0].weight.requires_grad and model[-1].weight.requires_grad
    assert all(p.grad is None for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key  # BatchNorm statistics untouched
    assert torch.equal(images, kept[0]) and torch.equal(labels, kept[1])
    # the map is the eval-mode model's (train-mode BatchNorm would use batch statistics)
    expected = fourier_heat_map(
        model.eval(), (images, labels), eps=2.0, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(result.correct, expected.correct)


def test_mode_restored_when_the_call_fails():
    model = tiny_cnn(channels=3).train()
    images = torch.rand(2, 3, 8, 8)
    labels = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match=r"size must be at most the image size \(8, 8\)"):
        fourier_heat_map(model, (images, labels), eps=1.0, size=9, progress=False)
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": -1.0}, ValueError, r"eps must be >= 0, got -1"),
        ({"eps": math.nan}, ValueError, r"eps must be a finite number"),
        ({"eps": "1"}, TypeError, r"eps must be a real number"),
        ({"eps": 1.0, "size": 0}, ValueError, r"size must have sides >= 1"),
        ({"eps": 1.0, "size": (4, 9)}, ValueError, r"size must be at most the image size"),
        ({"eps": 1.0, "size": 2.5}, TypeError, r"size must be an int or a pair"),
        ({"eps": 1.0, "batch_size": 0}, ValueError, r"batch_size must be >= 1"),
        ({"eps": 1.0, "progress": "no"}, TypeError, r"progress must be True or False"),
        ({"eps": 1.0, "generator": 0}, TypeError, r"generator must be a torch.Generator"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, error, match):
    data = (torch.rand(2, 3, 8, 8), torch.zeros(2, dtype=torch.long))
    with pytest.raises(error, match=match):
        fourier_heat_map(tiny_cnn(), data, **{"progress": False, **kwargs})


def test_bad_data_and_models_are_refused():
    labels = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\), got 3 dim"):
        fourier_heat_map(tiny_cnn(), (torch.rand(3, 8, 8), labels[:1]), eps=1.0)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        fourier_heat_map(tiny_cnn(), (torch.rand(2, 3, 8, 8) * 255, labels), eps=1.0)
    mixed = [(torch.rand(2, 3, 8, 8), labels), (torch.rand(2, 3, 6, 6), labels)]
    with pytest.raises(ValueError, match=r"data must hold images of one size.*\(3, 6, 6\)"):
        fourier_heat_map(tiny_cnn(), mixed, eps=1.0, progress=False)
    with pytest.raises(ValueError, match=r"data must hold at least one batch"):
        fourier_heat_map(tiny_cnn(), [], eps=1.0, progress=False)
    with pytest.raises(TypeError, match=r"model must be a callable"):
        fourier_heat_map("model", (torch.rand(2, 3, 8, 8), labels), eps=1.0)
    softmax = nn.Sequential(tiny_cnn(), nn.Softmax(dim=1))
    with pytest.raises(ValueError, match=r"these look like probabilities"):
        fourier_heat_map(softmax, (torch.rand(2, 3, 8, 8), labels), eps=1.0, progress=False)
