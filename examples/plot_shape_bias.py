"""
Measuring shape bias on cue-conflict images
===========================================

A cue-conflict image has the *shape* of one class and the *texture* of another. The
shape bias of a classifier (Geirhos et al., 2019) is the share of its cue-matching
decisions that follow the shape: ``S / (S + T)``.

Here we take three classes of the library's procedural shape/texture images
(:class:`~shapebias.data.ShapeTextureDataset`), train two small CNNs for a few seconds
each with :class:`~shapebias.training.Recipe`, and measure their shape bias with
:func:`shapebias.metrics.shape_bias`:

* **texture shortcut**: during training every object wears its class's texture, so
  texture alone predicts the label (``texture_correlation=1``);
* **shape only**: the fill texture is never the class's own, so only the outline
  predicts the label (``texture_correlation=0``).
"""

# %%
# Procedural shape/texture images
# -------------------------------
# Every item is a function of (seed, split, index): no files, no download.
import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

from shapebias.data import ShapeTextureDataset, dataset_tensors
from shapebias.metrics import shape_bias, shape_bias_table
from shapebias.models import small_cnn
from shapebias.training import Recipe

OPTIONS = {"num_classes": 3, "image_size": 16}
conflict = ShapeTextureDataset("cue_conflict", size=600, **OPTIONS)
CLASSES, TEXTURES = conflict.class_shapes, conflict.class_textures
cue_conflict = dataset_tensors(conflict)

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
# Adam with a one-cycle schedule (``optimizer="adam"``) learns in a few epochs (as
# examples/reproduce_paper.py).


def train(texture_correlation, epochs=6):
    data = ShapeTextureDataset(
        "train", size=1500, texture_correlation=texture_correlation, **OPTIONS
    )
    loader = DataLoader(data, batch_size=64, shuffle=True, generator=torch.Generator())
    net = small_cnn(3, width=16)
    Recipe.standard(epochs=epochs, optimizer="adam").fit(net, loader, progress=False)
    return net.eval()


torch.manual_seed(0)  # the example's own weight initialisation and shuffling
models = {"texture shortcut": train(1.0), "shape only": train(0.0)}

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
    ax.bar(torch.arange(len(CLASSES)) + offset, centre, 0.4, yerr=errors, capsize=3, label=name)
ax.set_xticks(range(len(CLASSES)), CLASSES)
ax.set_ylabel("shape bias  S / (S + T)")
ax.set_ylim(0, 1.05)
ax.legend(fontsize=8)
plt.tight_layout()
