"""Benchmark: ``small_cnn`` in its shipped ``channels_last`` layout against the default layout.

``small_cnn`` returns its parameters in ``channels_last`` memory format, so every
activation follows in that layout. The peer is the same network, same weights, in
PyTorch's default contiguous (NCHW) layout -- what the same ``nn.Sequential`` gives a
user who builds it by hand. Timed on the three calls the library makes of a model:

* ``forward``: a no-grad forward pass (accuracy, distortions, Fourier heat maps);
* ``input gradient``: forward + ``torch.autograd.grad`` of the loss on the images
  (attacks, saliency), model in eval mode;
* ``train step``: forward + backward + Adam step in train mode (training).

Median of interleaved rounds after a warm-up; the ratio is default-layout seconds over
channels_last seconds (> 1: the shipped layout is faster). Both layouts' logits are
also compared, to show that the layout changes only float rounding.

Usage: PYTHONPATH=. python benchmarks/bench_small_cnn.py [--threads 1 --repeats 7]
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from _common import interleaved_medians, machine

from shapebias.models import small_cnn


def calls(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """The three timed calls on ``model`` (its own optimizer for the train step)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    inputs = images.clone().requires_grad_(True)

    def forward() -> None:
        with torch.no_grad():
            model.eval()(images)

    def input_gradient() -> None:
        torch.autograd.grad(F.cross_entropy(model.eval()(inputs), labels), inputs)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model.train()(images), labels).backward()
        optimizer.step()

    return {"forward": forward, "input gradient": input_gradient, "train step": train_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine())
    print(f"small_cnn(4, width={args.width}), 3x{args.size}x{args.size}, CPU\n")
    print(f"{'batch':>5}  {'call':<15} {'default s':>10} {'channels_last s':>16} {'ratio':>6}")
    for batch in args.batches:
        torch.manual_seed(0)
        shipped = small_cnn(4, width=args.width)
        default = copy.deepcopy(shipped).to(memory_format=torch.contiguous_format)
        images = torch.rand(batch, 3, args.size, args.size)
        labels = torch.randint(0, 4, (batch,))
        with torch.no_grad():
            gap = (shipped.eval()(images) - default.eval()(images)).abs().max().item()
        layouts = {"default": calls(default, images, labels), "cl": calls(shipped, images, labels)}
        timed = {
            f"{layout} {name}": call for layout, c in layouts.items() for name, call in c.items()
        }
        seconds = interleaved_medians(timed, args.repeats, torch.device("cpu"))
        for name in layouts["cl"]:
            slow, fast = seconds[f"default {name}"], seconds[f"cl {name}"]
            print(f"{batch:>5}  {name:<15} {slow:>10.4f} {fast:>16.4f} {slow / fast:>5.2f}x")
        print(f"{batch:>5}  max |logit difference| between layouts: {gap:.1e}")


if __name__ == "__main__":
    main()
