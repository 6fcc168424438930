"""
Measuring shape bias on cue-conflict images
===========================================

A cue-conflict image has the *shape* of one class and the *texture* of another. The
shape bias of a classifier (Geirhos et al., 2019) is the share of its cue-matching
decisions that follow the shape: ``S / (S + T)``.

Here we make a tiny three-class world on the fly (disc, square and triangle, filled
with stripes, checks or dots), train two small CNNs for a few seconds each, and measure
their shape bias with :func:`shapebias.metrics.shape_bias`:

* **texture shortcut**: during training every object wears its class's texture, so
  texture alone predicts the label;
* **shape only**: the fill texture is random, so only the outline predicts the label.
"""

# %%
# A generated shape/texture world
# -------------------------------
# Everything is drawn with tensor operations from a seeded generator: no files.
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from shapebias.metrics import shape_bias, shape_bias_table
from shapebias.models import small_cnn

SIZE, CLASSES = 24, ("disc", "square", "triangle")
TEXTURES = ("stripes", "checks", "dots")


def masks(shapes, generator):
    """Boolean object masks (N, SIZE, SIZE) at a random position and scale."""
    n = len(shapes)
    coords = torch.arange(SIZE, dtype=torch.float32)
    y, x = coords.view(1, -1, 1), coords.view(1, 1, -1)
    center = SIZE / 2 + (torch.rand(n, 2, generator=generator) - 0.5) * 6
    radius = (5.5 + 2.5 * torch.rand(n, generator=generator)).view(-1, 1, 1)
    dy, dx = y - center[:, 0].view(-1, 1, 1), x - center[:, 1].view(-1, 1, 1)
    disc = dy**2 + dx**2 <= radius**2
    square = (dy.abs() <= radius * 0.85) & (dx.abs() <= radius * 0.85)
    triangle = (dy <= radius * 0.8) & (dy >= 2 * dx.abs() - radius)
    return torch.stack([disc, square, triangle], 1)[torch.arange(n), shapes]


def textures(kinds, generator):
    """Grayscale textures (N, SIZE, SIZE) in [0, 1], randomly phased."""
    n = len(kinds)
    coords = torch.arange(SIZE, dtype=torch.float32)
    phase = torch.rand(n, 2, generator=generator).view(n, 2, 1, 1) * 6
    y, x = coords.view(1, -1, 1) + phase[:, 0], coords.view(1, 1, -1) + phase[:, 1]
    stripes = (0.5 + 0.5 * torch.sin(y * math.pi / 2)).expand(n, SIZE, SIZE)
    checks = (((y // 3) + (x // 3)) % 2).float()
    dots = ((torch.remainder(y, 5) - 2) ** 2 + (torch.remainder(x, 5) - 2) ** 2 <= 2).float()
    return torch.stack([stripes, checks, dots], 1)[torch.arange(n), kinds]


def images_of(shapes, fills, generator):
    """Objects filled with a texture on a plain noisy background, as RGB (N, 3, H, W)."""
    inside = masks(shapes, generator)
    texture = 0.15 + 0.7 * textures(fills, generator)
    background = 0.5 + 0.05 * torch.randn(len(shapes), SIZE, SIZE, generator=generator)
    gray = torch.where(inside, texture, background).clamp(0, 1)
    return gray.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


generator = torch.Generator().manual_seed(0)
n_train, n_test = 1024, 600
labels = torch.randint(0, 3, (n_train,), generator=generator)
random_fills = torch.randint(0, 3, (n_train,), generator=generator)
train_sets = {
    "texture shortcut": (images_of(labels, labels, generator), labels),
    "shape only": (images_of(labels, random_fills, generator), labels),
}

# Cue-conflict test images: shape of one class, texture of another.
shapes = torch.randint(0, 3, (n_test,), generator=generator)
fills = (shapes + torch.randint(1, 3, (n_test,), generator=generator)) % 3
cue_conflict = (images_of(shapes, fills, generator), shapes, fills)

fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))
for ax, image, s, t in zip(axes, *cue_conflict, strict=False):
    ax.imshow(image.permute(1, 2, 0))
    ax.set_title(f"{CLASSES[s]}\n{TEXTURES[t]}", fontsize=8)
    ax.axis("off")
fig.suptitle("cue-conflict images: shape / texture", fontsize=9)
plt.tight_layout()

# %%
# Train two small CNNs
# --------------------


def train(images, labels, epochs=4):
    net = small_cnn(3, width=8)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        for batch in torch.randperm(len(labels), generator=order).split(64):
            loss = nn.functional.cross_entropy(net(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


torch.manual_seed(0)  # the example's own weight initialisation
models = {name: train(*data) for name, data in train_sets.items()}

# %%
# Measure the shape bias
# ----------------------
# Every number comes with a percentile bootstrap interval over the test images. The
# stimulus classes are the models' own classes here; for an ImageNet model on Geirhos'
# 16-class stimuli pass ``class_map=IMAGENET_16_CLASS_MAP``.
results = {
    name: shape_bias(model, cue_conflict, class_names=CLASSES, progress=False)
    for name, model in models.items()
}
print(shape_bias_table(results, per_class=True))

# %%
# Per-class shape bias, with the intervals as error bars.
fig, ax = plt.subplots(figsize=(5, 3))
for offset, (name, result) in zip((-0.2, 0.2), results.items(), strict=True):
    values = [result.per_class[c] for c in CLASSES]
    centre = [v.value for v in values]
    errors = [[v.value - v.low for v in values], [v.high - v.value for v in values]]
    ax.bar(torch.arange(3) + offset, centre, 0.4, yerr=errors, capsize=3, label=name)
ax.set_xticks(range(3), CLASSES)
ax.set_ylabel("shape bias  S / (S + T)")
ax.set_ylim(0, 1.05)
ax.legend(fontsize=8)
plt.tight_layout()
