"""
Attacking a model
=================

Train a small CNN for a few seconds on oriented gratings, then measure its robust
accuracy under PGD in the L-inf and L2 balls as the budget grows, and look at an
adversarial example.
"""

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from shapebias.attacks import PGD, pgd, robust_accuracy
from shapebias.models import small_cnn

torch.manual_seed(0)
generator = torch.Generator().manual_seed(0)


def gratings(n):
    """Four classes: the orientation of a faint sine grating in noise, random phase and colour."""
    labels = torch.randint(0, 4, (n,), generator=generator)
    angle = labels.float() * torch.pi / 4
    coords = torch.linspace(-1, 1, 32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    phase = 2 * torch.pi * torch.rand(n, 1, 1, generator=generator)
    direction = xx * angle.cos().view(-1, 1, 1) + yy * angle.sin().view(-1, 1, 1)
    wave = torch.sin(6 * torch.pi * direction + phase)
    colour = 0.3 + 0.4 * torch.rand(n, 3, 1, 1, generator=generator)
    noise = 0.05 * torch.randn(n, 3, 32, 32, generator=generator)
    return (colour + 0.06 * wave[:, None] + noise).clamp(0, 1), labels


train_images, train_labels = gratings(1024)
test_images, test_labels = gratings(128)
model = small_cnn(4, width=16)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for _epoch in range(3):
    for start in range(0, 1024, 64):
        optimizer.zero_grad()
        batch = slice(start, start + 64)
        F.cross_entropy(model(train_images[batch]), train_labels[batch]).backward()
        optimizer.step()
model.eval()

# %%
# Robust accuracy as the budget grows. Early exit makes the evaluation cheap: a sample
# leaves the batch as soon as one PGD iterate fools the model.
budgets = {"linf": [0, 1 / 255, 2 / 255, 4 / 255], "l2": [0, 0.1, 0.25, 0.5]}
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
for ax, (norm, epsilons) in zip(axes, budgets.items(), strict=True):
    accuracy = [
        robust_accuracy(
            model, (test_images, test_labels), PGD(eps=eps, norm=norm, steps=5), progress=False
        ).robust
        for eps in epsilons
    ]
    print(norm, [f"{a:.2f}" for a in accuracy])
    ax.plot(epsilons, accuracy, marker="o")
    ax.set(xlabel=f"eps ({norm})", ylabel="robust accuracy", ylim=(0, 1))
fig.tight_layout()

# %%
# One adversarial example and its (amplified) perturbation.
image, label = test_images[:1], test_labels[:1]
adversarial = pgd(model, image, label, eps=8 / 255, generator=generator)
delta = adversarial - image
fig, axes = plt.subplots(1, 3, figsize=(7, 2.5))
panels = [image, adversarial, 0.5 + delta / (2 * 8 / 255)]
titles = [
    f"clean: {model(image).argmax().item()}",
    f"adversarial: {model(adversarial).argmax().item()}",
    "perturbation (scaled)",
]
for ax, panel, title in zip(axes, panels, titles, strict=True):
    ax.imshow(panel[0].permute(1, 2, 0).detach().clamp(0, 1))
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
