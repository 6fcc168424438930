"""
Robust training in 20 lines
===========================

Train the same tiny model twice on generated images, once with standard training and
once with PGD adversarial training, and watch robust accuracy per epoch.

The images carry two cues for their class: overall brightness (robust: a small
perturbation cannot change it much) and a faint +-0.04 checkerboard whose sign is the
label (perfectly predictive, but an L-inf perturbation of 0.05 flips it). Standard
training is free to use the fragile cue; adversarial training has to use the robust one.
"""

# %%
# Data: brightness 0.4 vs 0.6 with noise, plus a label-signed checkerboard.
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.attacks import PGD
from shapebias.training import AdversarialLoss, StandardLoss, fit


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    sign = (2 * labels - 1).view(n, 1, 1, 1).float()
    checker = (torch.arange(8).view(8, 1) + torch.arange(8)) % 2 * 2 - 1
    brightness = 0.4 + 0.2 * labels.view(n, 1, 1, 1) + 0.1 * torch.randn(n, 1, 1, 1, generator=g)
    noise = 0.05 * torch.randn(n, 1, 8, 8, generator=g)
    return (brightness + 0.04 * sign * checker + noise).clamp(0, 1), labels


train, test = make_data(256, seed=0), make_data(256, seed=1)

# %%
# The whole training: a loss, an optimizer, ``fit``.
histories = {}
for name, loss in [
    ("standard", StandardLoss()),
    ("PGD-AT", AdversarialLoss(PGD(eps=0.05, steps=3))),
]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    histories[name] = fit(
        model,
        DataLoader(TensorDataset(*train), batch_size=32, shuffle=True),
        loss=loss,
        optimizer=torch.optim.Adam(model.parameters(), lr=0.05),
        epochs=10,
        eval_data=test,  # a fixed evaluation batch
        eval_attack=PGD(eps=0.05, steps=10),  # robust accuracy after every epoch
        progress=False,
    )

# %%
# Standard training reaches perfect clean accuracy through the checkerboard and stays
# fragile; adversarial training gives up a little clean accuracy for robustness.
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
for ax, key in zip(axes, ["clean_accuracy", "robust_accuracy"], strict=True):
    for name, history in histories.items():
        ax.plot([e["epoch"] for e in history], [e[key] for e in history], marker="o", label=name)
    ax.set(title=key.replace("_", " "), xlabel="epoch", ylim=(0, 1.05))
axes[0].set_ylabel("accuracy")
axes[0].legend()
fig.tight_layout()
plt.show()
