"""The one seed derivation (shapebias._seeds), used by metrics, distortions and data."""

import hashlib
import subprocess
import sys

import torch

from shapebias._seeds import derive_seed, seeded_generator


def literal_derive_seed(seed, *keys):
    text = "\x1f".join(str(part) for part in (seed, *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def test_matches_the_documented_formula_and_is_key_dependent():
    for args in [(0,), (0, "a", 1), (7, "distortion", 0, "saturated"), (2**40, -3)]:
        assert derive_seed(*args) == literal_derive_seed(*args)
    seeds = {derive_seed(0, "a"), derive_seed(1, "a"), derive_seed(0, "b"), derive_seed(0, "a", 0)}
    assert len(seeds) == 4
    assert all(0 <= s < 2**63 for s in seeds)


def test_stable_across_processes_unlike_hash():
    code = "from shapebias._seeds import derive_seed; print(derive_seed(3, 'x', 5))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(hash_seed), "PATH": ""},
            cwd=".",
        ).stdout.strip()
        for hash_seed in (1, 2)
    }
    assert outputs == {str(derive_seed(3, "x", 5))}


def test_seeded_generator_is_seeded_with_derive_seed():
    generator = seeded_generator(4, "item", 9)
    reference = torch.Generator().manual_seed(derive_seed(4, "item", 9))
    assert torch.equal(torch.rand(5, generator=generator), torch.rand(5, generator=reference))
    assert generator.initial_seed() != seeded_generator(4, "item", 10).initial_seed()
