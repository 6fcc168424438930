"""
Fourier heat maps: which frequencies does a model listen to?
============================================================

Yin et al. (NeurIPS 2019) perturb every test image along a single 2-D Fourier basis
image ``U_ij`` and record the model's error rate for each frequency ``(i, j)``: a
*Fourier heat map*. Adversarial training makes a model less sensitive to high
frequencies and more to low ones, the frequency-domain side of the shape-versus-texture
story: texture lives mostly at high spatial frequencies, outlines at low ones.

Here we train a standard small CNN on the library's procedural shape/texture images
(:class:`~shapebias.data.ShapeTextureDataset`) with a :class:`~shapebias.training.Recipe`,
fine-tune a copy with PGD adversarial training, and draw both heat maps with
:func:`~shapebias.frequency.fourier_heat_map` and
:func:`~shapebias.frequency.plot_fourier_heat_map`, then compare them on the
band eps index (:func:`~shapebias.frequency.band_eps_index`).
"""

# %%
# The basis images
# ----------------
# ``U_ij`` is a real cosine grating of unit L2 norm: ``i`` cycles down the image, ``j``
# across it. ``(0, 0)`` is the constant image; ``(-8, -8)`` on 16 x 16 pixels is the
# finest checkerboard.
import dataclasses
import math

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, TensorDataset

from shapebias.data import ShapeTextureDataset, dataset_tensors
from shapebias.frequency import (
    band_eps_index,
    fourier_basis,
    fourier_heat_map,
    plot_fourier_heat_map,
)
from shapebias.models import small_cnn
from shapebias.training import Recipe

SIZE = 16
fig, axes = plt.subplots(1, 5, figsize=(9, 2))
for ax, (i, j) in zip(axes, [(0, 0), (1, 0), (0, 2), (2, -3), (-8, -8)], strict=True):
    ax.imshow(fourier_basis(SIZE, i, j), cmap="gray")
    ax.set_title(f"U({i}, {j})", fontsize=9)
    ax.axis("off")
plt.tight_layout()

# %%
# Two models
# ----------
# Four classes at 16 x 16 pixels; each shape mostly wears its own class's texture, so a
# standard model may read either cue. The PGD-AT model is fine-tuned from the standard
# one (as in ``examples/reproduce_paper.py``), a few epochs of a CPU budget: read it as a
# demonstration of the tool, not as a converged robust model.
options = {"num_classes": 4, "image_size": SIZE}


def tensors(split, size):
    return dataset_tensors(ShapeTextureDataset(split, size=size, **options))


train, test = tensors("train", 1500), tensors("test", 80)
loader = DataLoader(
    TensorDataset(*train), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0)
)
torch.manual_seed(0)  # the example's own weight initialisation
standard = small_cnn(4, width=16)
Recipe.standard(epochs=6, optimizer="adam").fit(standard, loader, progress=False)
robust = small_cnn(4, width=16)
robust.load_state_dict(standard.state_dict())
fine_tune = dataclasses.replace(
    Recipe.pgd_linf(4 / 255, steps=2, epochs=2, optimizer="adam"), lr=2e-3
)
fine_tune.fit(robust, loader, progress=False)
models = {"standard": standard.eval(), "PGD-AT 4/255": robust.eval()}

# %%
# Heat maps
# ---------
# ``eps`` is the L2 norm of the perturbation of each channel in ``[0, 1]`` pixel units:
# at 16 x 16 pixels, ``eps = 1`` is a grating of root-mean-square amplitude
# ``1 / 16`` (peak ``0.088``). The sign of the grating is drawn at random per image and
# channel. Only half of the frequency plane is evaluated (``U_ij`` and ``U_-i,-j`` are
# the same image), so each map is point-symmetric by construction; DC is in the middle.
EPS = 1.0
results = {
    name: fourier_heat_map(
        model, test, eps=EPS, generator=torch.Generator().manual_seed(0), progress=False
    )
    for name, model in models.items()
}
fig, axes = plt.subplots(2, 2, figsize=(8.4, 7))
for column, (name, result) in enumerate(results.items()):
    clean_error = 1 - result.clean_accuracy
    plot_fourier_heat_map(result, axes[0, column], title=f"{name}: error (clean {clean_error:.2f})")
    plot_fourier_heat_map(result, axes[1, column], quantity="relative", title="relative accuracy")
plt.tight_layout()

# %%
# A number per ring of frequencies: the mean error rate and the mean relative accuracy
# over the cells at radius ``sqrt(i^2 + j^2)`` in each range. A model that ignores a
# ring keeps its clean error (and a relative accuracy of 1) there.
for name, result in results.items():
    rows = result.vertical_frequencies.double()
    cols = result.horizontal_frequencies.double()
    radius = torch.hypot(rows[:, None], cols[None, :])
    rings = {"r <= 2": radius <= 2, "2 < r <= 5": (radius > 2) & (radius <= 5)}
    rings["r > 5"] = radius > 5
    error = ", ".join(f"{ring} {float(result.error[m].mean()):.2f}" for ring, m in rings.items())
    kept = ", ".join(f"{ring} {float(result.relative[m].mean()):.2f}" for ring, m in rings.items())
    print(f"{name}: clean error {1 - result.clean_accuracy:.2f}")
    print(f"  mean error:             {error}")
    print(f"  mean relative accuracy: {kept}")

# %%
# The band eps index
# ------------------
# A second, attack-based measure (:func:`~shapebias.frequency.band_eps_index`): per
# image, the smallest L2 budget on a grid at which PGD restricted to a radial band of
# frequencies fools the model, once in the low band (radius below 4 cycles per image)
# and once in the high band (4 and above). The index is the median of
# ``log(eps_high / eps_low)``: positive when the low band fools on a smaller budget.
# Read it beside its censoring counts (images never fooled on the grid).
for name, model in models.items():
    index = band_eps_index(
        model,
        test,
        low_band=(0, 4),
        high_band=(4, math.inf),
        steps=5,
        progress=False,
        generator=torch.Generator().manual_seed(0),
    )
    print(
        f"{name}: band eps index {index.index:+.2f}; low band first for "
        f"{index.low_first:.0%} of {index.evaluated} images (never fooled: low band "
        f"{index.censored_low}, high band {index.censored_high})"
    )
plt.show()
