"""
The shape/texture dataset
=========================

:class:`~shapebias.data.ShapeTextureDataset` draws procedural shapes filled with
textures, with the two cues under control. This example shows its five splits, the
real scikit-image textures it uses, and how its texture contrast compares with the
contrast of real textures.
"""

# %%
# Training images: each class owns a shape and a texture
# -------------------------------------------------------
# With ``texture_correlation=1`` both cues predict the label. Titles read
# ``shape / fill texture``.
from shapebias.data import ShapeTextureDataset

train = ShapeTextureDataset("train", num_classes=10, texture_correlation=1.0)
figure = train.preview(10, columns=5)

# %%
# Cue conflict: the shape of one class, the texture of another
# -------------------------------------------------------------
# Items are ``(image, shape_label, texture_label)``; a model's choice between the two
# labels measures its shape bias.
conflict = ShapeTextureDataset("cue_conflict", num_classes=10)
image, shape_label, texture_label = conflict[0]
print(image.shape, shape_label, texture_label)
figure = conflict.preview(10, columns=5)

# %%
# One cue at a time
# -----------------
# ``shape_only`` fills each shape with a random texture; ``texture_only`` shows only the
# class texture, without an outline.
figure = ShapeTextureDataset("shape_only", num_classes=10).preview(5, columns=5)
figure = ShapeTextureDataset("texture_only", num_classes=10).preview(10, columns=5)

# %%
# Deterministic, lazy and fast
# ----------------------------
# Item ``i`` depends only on ``(seed, split, i)``, so shuffling or parallel workers
# never change it. :meth:`~shapebias.data.ShapeTextureDataset.spec` tells what was
# drawn.
import time

import torch

assert torch.equal(train[123][0], ShapeTextureDataset("train")[123][0])
print(train.spec(123))
start = time.perf_counter()
for index in range(500):
    train[index]
print(f"{500 / (time.perf_counter() - start):.0f} images per second in one process")

# %%
# The texture contrast comes from real textures
# ---------------------------------------------
# The default ``texture_contrast`` (0.06) is the high-pass standard deviation of
# scikit-image's real textures at 64x64. We measure it here the same way.
import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import gaussian_filter

from shapebias.data import DEFAULT_TEXTURE_CONTRAST, sample_images

textures = sample_images(64, names=["brick", "grass", "gravel"])
fig, axes = plt.subplots(1, 3, figsize=(6, 2.3), layout="constrained")
for axis, (name, texture) in zip(axes, textures.items(), strict=True):
    gray = texture[0].double().numpy()
    contrast = np.std(gray - gaussian_filter(gray, 2, mode="reflect"))
    axis.imshow(gray, cmap="gray", vmin=0, vmax=1)
    axis.set_title(f"{name}: {contrast:.3f}", fontsize=9)
    axis.set_axis_off()
print(f"default texture_contrast = {DEFAULT_TEXTURE_CONTRAST}")

# %%
# Turning the contrast down
# -------------------------
# The same items at a tenth of the default contrast and at twice it: the outline stays,
# the texture fades or grows.
for contrast in (0.006, 0.12):
    faint = ShapeTextureDataset("train", num_classes=10, texture_contrast=contrast)
    figure = faint.preview(5, columns=5)
