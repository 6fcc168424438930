"""
Attacking a model
=================

Train a small CNN for a few seconds on the library's procedural shape/texture images
(:class:`~shapebias.data.ShapeTextureDataset`, with :class:`~shapebias.training.Recipe`),
then measure its robust accuracy under PGD in the L-inf and L2 balls as the budget
grows, and look at an adversarial example.
"""

# %%
import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

from shapebias.attacks import PGD, pgd, robust_accuracy
from shapebias.data import ShapeTextureDataset, dataset_tensors
from shapebias.models import small_cnn
from shapebias.training import Recipe

torch.manual_seed(0)
generator = torch.Generator().manual_seed(0)

# Four classes at 16x16 pixels; each shape mostly comes with its own texture.
options = {"num_classes": 4, "image_size": 16}
train_set = ShapeTextureDataset("train", size=1500, **options)
test_images, test_labels = dataset_tensors(ShapeTextureDataset("test", size=256, **options))

# A short run learns with Adam and a one-cycle schedule (``optimizer="adam"``, as
# examples/reproduce_paper.py); the recipe builds both and calls fit.
model = small_cnn(4, width=16)
loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=generator)
history = Recipe.standard(epochs=8, optimizer="adam").fit(
    model, loader, eval_data=(test_images, test_labels), progress=False
)
print(f"clean test accuracy {history[-1]['clean_accuracy']:.2f} (chance 0.25)")
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
