"""The protocol's speed: ``reproduce --quick`` cold, the re-analysis after changing ``alpha``,
and ``compare``'s time breakdown on the quick run's models.

    python benchmarks/bench_experiments.py --out /tmp/bench-experiments

The re-analysis is compared with the cold run it avoids (the ratio is the saving); the
``compare`` breakdown names each part's CPU seconds per model, beside one bare forward
pass over the same clean and distorted test images (the floor of any evaluation).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _common import machine

from shapebias.experiments import Settings, compare, load_data, paper_distortions, reproduce
from shapebias.models import small_cnn
from shapebias.training import load_model


def _timed(label: str, function: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    value = function()
    seconds = time.perf_counter() - began
    print(f"{label}: {seconds:.1f} s")
    return value, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-experiments"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(machine())
    settings = Settings.quick()
    run, cold = _timed(
        "reproduce --quick, cold (trains 14 models, evaluates them, analyses)",
        lambda: reproduce(settings, args.out, fresh=True, workers=args.workers, progress=False),
    )
    _, warm = _timed(
        "reproduce --quick --set alpha=0.01 (re-analysis from the cache)",
        lambda: reproduce(settings.replace(alpha=0.01), args.out, workers=args.workers,
                          progress=False),
    )  # fmt: skip
    print(f"re-analysis / cold run: {warm / cold:.2f}")
    data = load_data(settings)
    models = {}
    for name in ("standard", "pgd_linf_4"):
        models[name] = []
        for seed in settings.seed_list():
            model = small_cnn(data.num_classes, width=settings.training.width)
            load_model(run.out / "models" / _file(run.out, name, seed), model)
            models[name].append(model.eval())
    result, total = _timed(
        "compare(standard vs pgd_linf_4, 2 seeds each, every claim)",
        lambda: compare(models, data.test, baseline="standard", cue_conflict=data.cue_conflict,
                        shape_only=data.shape_only, settings=settings, progress=False),
    )  # fmt: skip
    for name, parts in result.time_breakdown().items():
        listed = ", ".join(f"{part} {seconds:.2f}" for part, seconds in parts.items())
        print(f"  {name} (2 seeds), CPU s: {listed}; wall {result.seconds[name]:.1f} s")
    print(f"  analysis (paired differences, Holm, verdicts): {result.seconds['analysis']:.2f} s")
    distortions = paper_distortions(data.test[0].shape[-1])
    images = data.test[0]
    generator = torch.Generator().manual_seed(0)
    sets = [images] + [d(images, generator=generator) for d in distortions.values()]
    model = models["standard"][0]
    with torch.no_grad():
        began = time.perf_counter()
        for batch in sets:
            model(batch)
        bare = time.perf_counter() - began
    per_model = sum(p["distortions"] for p in result.time_breakdown().values()) / 4
    print(
        f"bare forwards over the clean and {len(distortions)} distorted sets, one model: "
        f"{bare:.3f} s; compare's distortions part per model and seed: {per_model:.3f} CPU s"
    )
    print(f"compare total {total:.1f} s")


def _file(out: Path, name: str, seed: int) -> str:
    (path,) = (out / "models").glob(f"{name}_seed{seed}-*.pt")
    return path.name


if __name__ == "__main__":
    main()
