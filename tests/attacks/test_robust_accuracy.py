import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.attacks import APGD, FGSM, PGD, Square, apgd, pgd, robust_accuracy, square
from shapebias.models import NormalizedModel
from tests._models import seeded_images, seeded_labels, tiny_cnn
from tests.attacks._nets import mlp_task


def _brightness_task(n=64, seed=0):
    """Class 1 iff the image is bright: a robust margin of |mean - 0.5| per sample."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    level = 0.5 + (labels.float() * 2 - 1) * torch.rand(n, generator=generator) * 0.4
    noise = (torch.rand(n, 1, 4, 4, generator=generator) - 0.5) * 0.04
    images = (level.view(n, 1, 1, 1) + noise).clamp(0, 1)
    return images, labels


def _trained_linear_model(images, labels):
    torch.manual_seed(0)
    model = NormalizedModel(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), [0.5], [0.25])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(300):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return model.eval()


def test_robust_accuracy_falls_to_zero_and_is_monotone_in_eps():
    images, labels = _brightness_task()
    model = _trained_linear_model(images, labels)
    results = [
        robust_accuracy(model, (images, labels), PGD(eps=eps, steps=20), progress=False)
        for eps in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
    ]
    assert results[0].clean > 0.9 and results[0].robust == results[0].clean
    robust = [r.robust for r in results]
    assert robust == sorted(robust, reverse=True)
    assert robust[-1] == 0.0 and robust[1] > robust[-2]


def test_early_exit_equals_attacking_everything():
    model = tiny_cnn()
    images, labels = seeded_images(40, seed=3), seeded_labels(40, seed=4)
    attack = PGD(eps=3 / 255, steps=5, random_start=False)
    result = robust_accuracy(model, (images, labels), attack, batch_size=16, progress=False)
    # Attack every sample, track success at every iterate (what early exit reports).
    with torch.no_grad():
        correct = model(images).argmax(1) == labels
    fooled_any = torch.zeros_like(correct)
    for steps in range(6):
        adv = pgd(model, images, labels, eps=3 / 255, steps=steps, random_start=False)
        with torch.no_grad():
            fooled_any |= model(adv).argmax(1) != labels
    assert result.clean_correct == int(correct.sum())
    assert result.robust_correct == int((correct & ~fooled_any).sum())
    assert result.total == 40


def test_early_exit_with_random_start_equals_full_early_stop_attack():
    model = tiny_cnn()
    images, labels = seeded_images(24, seed=5), seeded_labels(24, seed=6)
    kwargs = {"eps": 4 / 255, "steps": 4, "restarts": 2, "early_stop": True}
    result = robust_accuracy(
        model,
        (images, labels),
        PGD(**kwargs, generator=torch.Generator().manual_seed(1)),
        batch_size=24,
        progress=False,
    )
    adv = pgd(model, images, labels, **kwargs, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        correct = model(images).argmax(1) == labels
        survived = correct & (model(adv).argmax(1) == labels)
    assert result.robust_correct == int(survived.sum())


def test_generic_callable_attack_and_dataloader():
    model = tiny_cnn()
    images, labels = seeded_images(20, seed=7), seeded_labels(20, seed=8)
    loader = DataLoader(TensorDataset(images, labels), batch_size=7)
    calls = []

    def attack(model, x, y):
        calls.append(x.shape[0])
        return FGSM(eps=8 / 255)(model, x, y)

    result = robust_accuracy(model, loader, attack, progress=False)
    builtin = robust_accuracy(model, loader, FGSM(eps=8 / 255), progress=False)
    with torch.no_grad():
        correct = model(images).argmax(1) == labels
    assert sum(calls) == int(correct.sum())
    assert result.clean_correct == builtin.clean_correct == int(correct.sum())
    assert result.robust_correct == builtin.robust_correct


def test_progress_bar_runs():
    model = tiny_cnn()
    result = robust_accuracy(model, (seeded_images(), seeded_labels()), FGSM(eps=0.01))
    assert 0.0 <= result.robust <= result.clean <= 1.0


class _ItemDataset(torch.utils.data.Dataset):
    """A map-style Dataset of (image, int label) items, as torchvision datasets yield."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], int(self.labels[index])


def test_dataset_input_equals_the_tensor_pair():
    model = tiny_cnn()
    images, labels = seeded_images(20, seed=7), seeded_labels(20, seed=8)
    attack = PGD(eps=4 / 255, steps=3, random_start=False)
    expected = robust_accuracy(model, (images, labels), attack, batch_size=6, progress=False)
    for dataset in (TensorDataset(images, labels), _ItemDataset(images, labels)):
        result = robust_accuracy(model, dataset, attack, batch_size=6, progress=False)
        assert result == expected and result.total == 20
        assert torch.equal(result.broken_by, expected.broken_by)


def test_fast_path_keys_on_the_library_types_not_on_a_plan_attribute():
    model = tiny_cnn()
    images, labels = seeded_images(12, seed=1), seeded_labels(12, seed=2)
    calls = []

    class LooksLikePGD:
        def plan(self, *args):
            raise AssertionError("a user object's plan() must not be called")

        def __call__(self, model, x, y):
            calls.append(x.shape[0])
            return x

    result = robust_accuracy(model, (images, labels), LooksLikePGD(), progress=False)
    assert calls == [result.clean_correct] and result.robust == result.clean


def test_apgd_and_square_fast_paths_equal_attacking_everything():
    model, images, labels = mlp_task(n=24, seed=3)
    with torch.no_grad():
        correct = model(images).argmax(1) == labels
    for attack, run in (
        (APGD(eps=0.03, steps=5, generator=torch.Generator().manual_seed(0)), apgd),
        (Square(eps=0.05, queries=40, generator=torch.Generator().manual_seed(0)), square),
    ):
        result = robust_accuracy(model, (images, labels), attack, batch_size=24, progress=False)
        kwargs = {k: v for k, v in vars(attack).items() if k != "generator"}
        adv = run(model, images, labels, **kwargs, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            survived = correct & (model(adv).argmax(1) == labels)
        assert result.robust_correct == int(survived.sum()) < result.clean_correct


def test_non_model_first_argument_and_bad_attack_sequences():
    images, labels = seeded_images(), seeded_labels()
    with pytest.raises(TypeError, match="model must be a callable mapping images"):
        robust_accuracy(42, (images, labels), PGD(eps=0.1), progress=False)
    with pytest.raises(ValueError, match="non-empty sequence"):
        robust_accuracy(tiny_cnn(), (images, labels), [], progress=False)
    with pytest.raises(TypeError, match=r"attack\[1\] must be callable"):
        robust_accuracy(tiny_cnn(), (images, labels), [PGD(eps=0.1), "fgsm"], progress=False)
