"""Run in a fresh process by tests/test_kernels.py: everything that must not depend on the CPU.

Prints JSON: the pinned ShapeTextureDataset digests and a digest of the resized sample
images; runs the float-reference checks whose tolerances come from error analysis (an
assertion error fails the process).
"""

from __future__ import annotations

import hashlib
import json

from shapebias.data import sample_images
from tests.test_seeds import PINNED, dataset_digest
from tests.training._data import two_feature_data
from tests.training.test_losses import test_trades_parameter_gradients_match_the_reference


def main() -> None:
    for attack_mode in ("eval", "train"):
        test_trades_parameter_gradients_match_the_reference(
            two_feature_data(16, seed=3), attack_mode
        )
    samples = b"".join(image.numpy().tobytes() for image in sample_images(48).values())
    result = {
        "datasets": {name: dataset_digest(settings) for name, (settings, _) in PINNED.items()},
        "samples": hashlib.sha256(samples).hexdigest(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
