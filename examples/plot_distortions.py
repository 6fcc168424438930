"""
A gallery of shape- and texture-destroying distortions
======================================================

Every distortion of :mod:`shapebias.distortions` on three real photos from
``skimage.data``: saturation and patch shuffling (the paper's probes), the weight-free
stylisation backends (brick, grass and gravel textures as styles), and the standard
frequency, noise and edge probes.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from skimage import data, transform

from shapebias import distortions as D

SIZE = 128


def to_tensor(image: np.ndarray) -> torch.Tensor:
    image = transform.resize(image, (SIZE, SIZE), anti_aliasing=True)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return torch.from_numpy(image[..., :3]).permute(2, 0, 1).float()


photos = torch.stack([to_tensor(f()) for f in (data.astronaut, data.chelsea, data.coffee)])
textures = torch.stack([to_tensor(f()) for f in (data.brick, data.grass, data.gravel)])
generator = torch.Generator().manual_seed(0)

# %%
# Each function takes a batch ``(N, C, H, W)`` in ``[0, 1]`` and returns one like it.
rows = {
    "original": photos,
    "saturate p=8": D.saturate(photos, 8),
    "saturate p=1024": D.saturate(photos, 1024),
    "patch_shuffle 2x2": D.patch_shuffle(photos, 2, generator=generator),
    "patch_shuffle 4x4": D.patch_shuffle(photos, 4, generator=generator),
    "stylize fourier": D.stylize(photos, textures, method="fourier"),
    "stylize random_features": D.stylize(
        photos, textures, method="random_features", steps=8, generator=generator
    ),
    "low_pass sigma=3": D.low_pass(photos, sigma=3.0),
    "high_pass sigma=3": D.high_pass(photos, sigma=3.0),
    "phase_scramble 90°": D.phase_scramble(photos, np.pi / 2, generator=generator),
    "uniform_noise 0.2": D.uniform_noise(photos, 0.2, generator=generator),
    "contrast 0.3": D.contrast(photos, 0.3),
    "edges": D.edges(photos, sigma=2.0),
}

fig, axes = plt.subplots(3, len(rows), figsize=(1.6 * len(rows), 5.2))
for column, (name, batch) in enumerate(rows.items()):
    for row, image in enumerate(batch):
        axes[row, column].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        axes[row, column].axis("off")
    axes[0, column].set_title(name, fontsize=7)
fig.tight_layout()
plt.show()

# %%
# The Module twins work on single images inside ``torchvision.transforms.v2.Compose``,
# and :class:`~shapebias.distortions.DistortedDataset` makes a distorted test set whose
# item ``i`` is the same whatever the DataLoader does.
from torch.utils.data import TensorDataset

dataset = TensorDataset(photos, torch.tensor([0, 1, 2]))
stylized = D.DistortedDataset(dataset, D.Stylize(textures), seed=0)
image, label = stylized[1]
print(image.shape, int(label), torch.equal(image, stylized[1][0]))
