import pytest
import torch
import torch.nn.functional as F

from shapebias.attacks import FGSM, fgsm, pgd
from tests._models import linear_model, seeded_images, seeded_labels, tiny_cnn


def test_fgsm_is_the_formula():
    model = tiny_cnn().double()
    images, labels = seeded_images(5).double(), seeded_labels(5)
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)
    expected = (images + 4 / 255 * grad.sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(model, images, labels, eps=4 / 255), expected, atol=0, rtol=0)


def test_fgsm_is_one_step_pgd_and_class_matches():
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    adv = fgsm(model, images, labels, eps=2 / 255)
    same = pgd(model, images, labels, eps=2 / 255, steps=1, step_size=2 / 255, random_start=False)
    assert torch.equal(adv, same)
    assert torch.equal(FGSM(eps=2 / 255)(model, images, labels), adv)


def test_targeted_fgsm_lowers_target_loss():
    model = linear_model(num_classes=3, channels=1, size=4)
    images = seeded_images(8, channels=1, size=4)
    targets = (model(images).argmax(1) + 1) % 3
    adv = fgsm(model, images, targets, eps=0.05, targeted=True)
    with torch.no_grad():
        before = F.cross_entropy(model(images), targets, reduction="none")
        after = F.cross_entropy(model(adv), targets, reduction="none")
    assert bool((after < before).all())


def test_fgsm_stays_in_ball_and_range():
    model, images, labels = tiny_cnn(), seeded_images(), seeded_labels()
    adv = fgsm(model, images, labels, eps=0.5)
    assert float((adv - images).abs().max()) <= 0.5 + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


def test_fgsm_rejects_unknown_keyword():
    with pytest.raises(TypeError, match="steps"):
        fgsm(tiny_cnn(), seeded_images(), seeded_labels(), eps=0.1, steps=3)
