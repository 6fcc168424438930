"""
Saliency maps of a standard and an adversarially fine-tuned CNN
===============================================================

Zhang & Zhu (2019) show that the SmoothGrad maps of adversarially trained CNNs follow
the outline of objects, while those of standard CNNs are noisier. This example goes
through the same steps at toy scale, so that it runs in seconds on a CPU:

1. take four classes of the library's procedural shape/texture images
   (:class:`~shapebias.data.ShapeTextureDataset`);
2. train a small CNN with :meth:`Recipe.standard <shapebias.training.Recipe.standard>`,
   then fine-tune a copy with :meth:`Recipe.pgd_linf <shapebias.training.Recipe.pgd_linf>`;
3. draw the paper's figure with :func:`shapebias.saliency.plot_saliency_grid`;
4. check with :func:`shapebias.saliency.model_randomization_test` that the maps
   depend on the weights.

Be aware of the scale: four classes, 16x16 images and seconds of CPU training are not
the paper's CIFAR-10 / Tiny ImageNet models. The example shows how to compute and
compare the maps, not a reproduction of the paper's result; any difference you see
here is what these two tiny models learned and nothing more.
"""

# %%
# Shapes filled with textures
# ---------------------------
# Class ``k`` is a shape (circle, square, triangle, star) filled with its own texture
# family, on a background of another texture; each item is a function of
# (seed, split, index), so the images need no files and no download.
import copy

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, TensorDataset

from shapebias.attacks import PGD, robust_accuracy
from shapebias.data import ShapeTextureDataset, dataset_tensors
from shapebias.models import small_cnn
from shapebias.saliency import model_randomization_test, plot_saliency_grid
from shapebias.training import Recipe

OPTIONS = {"num_classes": 4, "image_size": 16}
EPS = 4 / 255


def tensors(split, size):
    """All items of a split, rendered once, as an ``(images, labels)`` pair."""
    return dataset_tensors(ShapeTextureDataset(split, size=size, **OPTIONS))


train, (test_images, test_labels) = tensors("train", 1536), tensors("test", 128)
loader = DataLoader(TensorDataset(*train), batch_size=64, shuffle=True, generator=torch.Generator())

# %%
# Train a standard model, then fine-tune a copy adversarially
# -----------------------------------------------------------
# Adam with a one-cycle schedule (``optimizer="adam"``) learns in a few epochs. The
# adversarial copy then trains on 3-step PGD examples (L-inf, eps = 4/255), crafted
# with the model in eval mode, as the library's losses do.
torch.manual_seed(0)  # the initial weights
standard = small_cnn(OPTIONS["num_classes"], width=16)
Recipe.standard(epochs=8, optimizer="adam").fit(standard, loader, progress=False)
robust = copy.deepcopy(standard)
Recipe.pgd_linf(EPS, steps=3, epochs=3, optimizer="adam").fit(robust, loader, progress=False)

for name, model in {"standard": standard, "adversarially fine-tuned": robust}.items():
    result = robust_accuracy(
        model.eval(), (test_images, test_labels), PGD(eps=EPS, steps=5), progress=False
    )
    print(f"{name:26s} clean accuracy {result.clean:.2f}, PGD-5 accuracy {result.robust:.2f}")

# %%
# The paper's figure
# ------------------
# SmoothGrad of the cross-entropy of the true label (the paper's choice), displayed as
# ``|g|`` summed over channels and clipped at its 99th percentile. The generator is
# rewound for every model, so both rows see exactly the same noise.

images, labels = test_images[:6], test_labels[:6]
figure = plot_saliency_grid(
    {"standard": standard, "adversarial": robust},
    images,
    labels,
    method="smoothgrad",
    method_kwargs={
        "output": "loss",
        "n_samples": 30,
        "noise_level": 0.1,
        "generator": torch.Generator().manual_seed(0),
    },
    figure=plt.figure(figsize=(9, 4.8)),
)
plt.show()

# %%
# Look for outlines in the adversarial row and for texture in the standard one, but
# judge with care: a few epochs of fine-tuning on 16x16 toy images are far from the
# paper's adversarially trained CIFAR and ImageNet networks, and with other seeds the
# rows may look alike. Swap in your own trained models to make the paper's comparison,
# and measure it with :func:`shapebias.metrics.edge_alignment` rather than by eye.
#
# Do the maps depend on the weights?
# ----------------------------------
# The model randomisation test of Adebayo et al. (2018) randomises the layers from the
# top down and measures how similar the maps stay. A map that does not change is
# flagged. Plain gradients should change; guided backprop is known to change little.

for method in ("gradient", "guided_backprop"):
    result = model_randomization_test(
        robust, images, labels, method, generator=torch.Generator().manual_seed(0)
    )
    means = result.correlation.nanmean(1).tolist()
    steps = "  ".join(
        f"{layer}: {value:+.2f}" for layer, value in zip(result.layers, means, strict=True)
    )
    print(f"{method:16s} {steps}   flagged {int(result.flagged.sum())}/{result.flagged.numel()}")
