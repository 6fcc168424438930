"""
Saliency maps of a standard and an adversarially fine-tuned CNN
===============================================================

Zhang & Zhu (2019) show that the SmoothGrad maps of adversarially trained CNNs follow
the outline of objects, while those of standard CNNs are noisier. This example goes
through the same steps at toy scale, so that it runs in seconds on a CPU:

1. generate a small two-class data set: horizontal and vertical bars on a texture;
2. train a small CNN on it, then fine-tune a copy adversarially with PGD;
3. draw the paper's figure with :func:`shapebias.saliency.plot_saliency_grid`;
4. check with :func:`shapebias.saliency.model_randomization_test` that the maps
   depend on the weights.

Be aware of the scale: two classes, 24x24 images and seconds of CPU training are not
the paper's CIFAR-10 / Tiny ImageNet models. The example shows how to compute and
compare the maps, not a reproduction of the paper's result; any difference you see
here is what these two tiny models learned and nothing more.
"""

# %%
# A tiny data set: the shape decides the class, the texture is noise
# ------------------------------------------------------------------
# Class 0 is a horizontal bar, class 1 a vertical one, each in a random colour at a
# random place on a random blotchy texture: only the shape tells the classes apart.
import copy

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from shapebias.attacks import pgd
from shapebias.models import eval_mode, small_cnn
from shapebias.saliency import model_randomization_test, plot_saliency_grid

torch.set_num_threads(2)
SIZE = 24


def make_images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.randint(0, 2, (n,), generator=generator)
    coords = torch.arange(SIZE, dtype=torch.float32)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    centre = 7 + 10 * torch.rand(n, 2, 1, 1, generator=generator)
    long_side = 4 + 3 * torch.rand(n, 1, 1, generator=generator)
    dy, dx = (y - centre[:, 0]).abs(), (x - centre[:, 1]).abs()
    horizontal = (dy <= 1.5) & (dx <= long_side)
    vertical = (dx <= 1.5) & (dy <= long_side)
    mask = torch.where(labels.view(n, 1, 1) == 0, horizontal, vertical).unsqueeze(1).float()
    blotches = torch.rand(n, 3, SIZE // 4, SIZE // 4, generator=generator)
    texture = F.interpolate(blotches, size=(SIZE, SIZE), mode="bilinear")
    colour = torch.rand(n, 3, 1, 1, generator=generator)
    return (1 - mask) * texture + mask * colour, labels


generator = torch.Generator().manual_seed(0)
train_images, train_labels = make_images(1024, generator)
test_images, test_labels = make_images(128, generator)

# %%
# Train a standard model, then fine-tune a copy adversarially
# -----------------------------------------------------------
# Standard training first. The adversarial copy then trains on PGD examples
# (L-inf, eps = 8/255, 2 steps), crafted with the model in eval mode.


def train(model, steps, adversarial=False, seed=0):
    order = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        index = torch.randint(0, len(train_images), (32,), generator=order)
        images, labels = train_images[index], train_labels[index]
        if adversarial:
            with eval_mode(model):
                images = pgd(model, images, labels, eps=8 / 255, steps=2, generator=order)
        model.train()
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


torch.manual_seed(0)  # the initial weights
standard = train(small_cnn(2, width=8, depth=2), steps=120)
robust = train(copy.deepcopy(standard), steps=60, adversarial=True, seed=1)


def accuracy(model, images, labels):
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


for name, model in {"standard": standard, "adversarially fine-tuned": robust}.items():
    with eval_mode(model):
        attacked = pgd(
            model,
            test_images,
            test_labels,
            eps=8 / 255,
            steps=5,
            generator=torch.Generator().manual_seed(0),
        )
    print(
        f"{name:26s} clean accuracy {accuracy(model, test_images, test_labels):.2f}, "
        f"PGD-5 accuracy {accuracy(model, attacked, test_labels):.2f}"
    )

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
# With these seeds, on this toy task, the adversarially fine-tuned model's maps are not
# visibly cleaner than the standard model's: a minute of fine-tuning on 24x24 bars is
# far from the paper's adversarially trained CIFAR and ImageNet networks. Swap in your
# own trained models to make the paper's comparison.
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
