"""Benchmark shapebias.saliency against captum and against the bare model.

SmoothGrad (n samples) and Integrated Gradients (n steps) on a CIFAR-style ResNet-18
at 32x32, batch 8, on the CPU with 2 threads. Three kinds of figures:

* time, median of ``--repeats`` runs, the configurations interleaved so that a change
  in machine load hits all of them alike;
  - the bare model: ``n`` times (forward + input backward) of the batch, nothing else;
  - captum ``NoiseTunnel(Saliency)`` for every ``nt_samples_batch_size`` in a sweep, and
    ``IntegratedGradients`` (its default Gauss-Legendre rule) for every
    ``internal_batch_size`` in a sweep; the best of each is the comparison;
  - shapebias with its default ``batch_size`` (and the ones swept);
* peak memory: the growth of the process's peak resident set size (Linux VmHWM, reset
  before the call) during one call, each configuration in a fresh subprocess, so one
  run's allocations cannot hide another's;
* ``--chunks``: throughput of forward + input backward by chunk size, the measurement
  behind the CPU default of ``batch_size``.

Run: ``PYTHONPATH=. python benchmarks/bench_saliency.py`` (add ``--chunks``,
``--no-memory``, ``--repeats 5``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable

import torch
from _common import interleaved_medians, reset_peak_rss, status_mib

from shapebias.models import resnet18, small_cnn
from shapebias.saliency import integrated_gradients, smoothgrad
from shapebias.saliency._chunking import CPU_BATCH_SIZE

CPU = torch.device("cpu")  # the benchmark runs on CPU only
NOISE_LEVEL = 0.15


def setup(args: argparse.Namespace, arch: str = "resnet18"):
    torch.manual_seed(0)
    model = resnet18(10) if arch == "resnet18" else small_cnn(10)
    model.eval()
    images = torch.rand(args.batch, 3, args.size, args.size)
    labels = torch.randint(0, 10, (args.batch,))
    return model, images, labels


def bare(model, images, labels, passes: int) -> None:
    """The physical limit: ``passes`` x (forward + gradient w.r.t. the input)."""
    for _ in range(passes):
        x = images.clone().requires_grad_(True)
        torch.autograd.grad(model(x).gather(1, labels[:, None]).sum(), x)


def bare_chunked(model, images, labels, copies: int) -> None:
    """The same ``copies * N`` rows as SmoothGrad/IG, in chunks of the CPU default size."""
    x = images.repeat(copies, 1, 1, 1)
    y = labels.repeat(copies)
    for start in range(0, x.shape[0], CPU_BATCH_SIZE):
        bare(model, x[start : start + CPU_BATCH_SIZE], y[start : start + CPU_BATCH_SIZE], 1)


def configurations(args, model, images, labels) -> dict[str, dict[str, Callable[[], object]]]:
    """The timed calls, in two groups, each starting with its bare-model line."""
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    n, steps = args.n_samples, args.steps
    # captum's stdevs is absolute; ours is relative to each image's range (about 1 here).
    spread = (images.flatten(1).amax(1) - images.flatten(1).amin(1)).mean().item()
    tunnel = NoiseTunnel(Saliency(model))
    ig = IntegratedGradients(model)
    sg: dict[str, Callable[[], object]] = {
        f"bare model {n} x (fwd + input bwd)": lambda: bare(model, images, labels, n),
        f"bare model, same rows in chunks of {CPU_BATCH_SIZE}": lambda: bare_chunked(
            model, images, labels, n
        ),
    }
    ig_group: dict[str, Callable[[], object]] = {
        f"bare model {steps} x (fwd + input bwd)": lambda: bare(model, images, labels, steps),
        f"bare model, same rows in chunks of {CPU_BATCH_SIZE}": lambda: bare_chunked(
            model, images, labels, steps
        ),
    }
    for size in args.ours:
        label = "default" if size is None else str(size)
        sg[f"shapebias smoothgrad batch_size={label}"] = lambda size=size: smoothgrad(
            model,
            images,
            labels,
            n_samples=n,
            noise_level=NOISE_LEVEL,
            batch_size=size,
            generator=torch.Generator().manual_seed(0),
        )
        ig_group[f"shapebias IG gauss_legendre batch_size={label}"] = lambda size=size: (
            integrated_gradients(
                model, images, labels, steps=steps, method="gauss_legendre", batch_size=size
            )
        )
    ig_group[f"shapebias IG trapezoid ({steps + 1} evals) default"] = lambda: integrated_gradients(
        model, images, labels, steps=steps
    )
    for per_image in args.captum_nt:
        sg[f"captum NoiseTunnel nt_samples_batch_size={per_image}"] = lambda per_image=per_image: (
            tunnel.attribute(
                images,
                nt_type="smoothgrad",
                nt_samples=n,
                stdevs=NOISE_LEVEL * spread,
                nt_samples_batch_size=per_image,
                target=labels,
                abs=False,
            )
        )
    for internal in args.captum_ig:
        label = str(internal) if internal else f"None (all {steps * args.batch})"
        ig_group[f"captum IntegratedGradients internal_batch_size={label}"] = (
            lambda internal=internal: ig.attribute(
                images, target=labels, n_steps=steps, internal_batch_size=internal or None
            )
        )
    return {"SmoothGrad": sg, "Integrated Gradients": ig_group}


def report_times(args: argparse.Namespace) -> None:
    model, images, labels = setup(args)
    groups = configurations(args, model, images, labels)
    times = interleaved_medians(
        {k: v for group in groups.values() for k, v in group.items()}, args.repeats, CPU
    )
    print(
        f"Time, median of {args.repeats} (ResNet-18, {args.batch}x3x{args.size}x{args.size}, "
        f"{torch.get_num_threads()} threads)"
    )
    for group, names in groups.items():
        bare_time = times[next(iter(names))]
        best_captum = min(times[k] for k in names if k.startswith("captum"))
        print(f"\n{group}")
        print(f"  {'configuration':58s} {'seconds':>8s} {'/ bare':>7s} {'/ best captum':>14s}")
        for name in names:
            t = times[name]
            print(f"  {name:58s} {t:8.3f} {t / bare_time:7.2f} {t / best_captum:14.2f}")


def child(config: str, args: argparse.Namespace) -> None:
    """Run one configuration once in this fresh process; print its peak RSS growth in MiB.

    The peak is the kernel's high-water mark of this process's resident set (VmHWM),
    reset just before the call. (``getrusage``'s ru_maxrss is not used: a child started
    from a large parent inherits the parent's peak through fork and exec.)
    """
    model, images, labels = setup(args)
    bare(model, images[:1], labels[:1], 1)  # load kernels and allocator pools first
    before = reset_peak_rss()
    kind, size = config.split(":")
    batch = None if size == "all" else int(size)
    if kind == "smoothgrad":
        rows = args.n_samples * args.batch
        smoothgrad(model, images, labels, n_samples=args.n_samples, batch_size=batch or rows)
    elif kind == "ig":
        rows = (args.steps + 1) * args.batch
        integrated_gradients(model, images, labels, steps=args.steps, batch_size=batch or rows)
    elif kind == "captum_nt":
        from captum.attr import NoiseTunnel, Saliency

        NoiseTunnel(Saliency(model)).attribute(
            images,
            nt_type="smoothgrad",
            nt_samples=args.n_samples,
            stdevs=NOISE_LEVEL,
            nt_samples_batch_size=batch,
            target=labels,
            abs=False,
        )
    elif kind == "captum_ig":
        from captum.attr import IntegratedGradients

        IntegratedGradients(model).attribute(
            images, target=labels, n_steps=args.steps, internal_batch_size=batch
        )
    else:
        bare(model, images, labels, 1)
    print(json.dumps({"peak_rss_growth_mib": status_mib("VmHWM") - before}))


def report_memory(args: argparse.Namespace) -> None:
    rows = args.n_samples * args.batch
    cases = [
        (f"bare model, one batch of {args.batch} (fwd + input bwd)", "bare:1"),
        ("shapebias smoothgrad batch_size=8", "smoothgrad:8"),
        (f"shapebias smoothgrad batch_size={rows} (unbounded)", "smoothgrad:all"),
        (f"captum NoiseTunnel nt_samples_batch_size=1 ({args.batch} rows)", "captum_nt:1"),
        (f"captum NoiseTunnel nt_samples_batch_size=None ({rows} rows)", "captum_nt:all"),
        ("shapebias IG batch_size=8", "ig:8"),
        (f"shapebias IG batch_size={(args.steps + 1) * args.batch} (unbounded)", "ig:all"),
        ("captum IntegratedGradients internal_batch_size=8", "captum_ig:8"),
        (
            f"captum IntegratedGradients internal_batch_size=None ({args.steps * args.batch})",
            "captum_ig:all",
        ),
    ]
    print("\nPeak memory: growth of peak RSS (VmHWM) during one call, fresh subprocess each")
    common = [
        f"--batch={args.batch}",
        f"--size={args.size}",
        f"--n-samples={args.n_samples}",
        f"--steps={args.steps}",
        f"--threads={args.threads}",
    ]
    for label, config in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--child", config, *common],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        mib = json.loads(out.strip().splitlines()[-1])["peak_rss_growth_mib"]
        print(f"  {label:60s} {mib:8.1f} MiB")


def report_chunks(args: argparse.Namespace) -> None:
    """Images per second of forward + input backward by chunk size (the default's basis)."""
    total, sizes = 384, [4, 8, 16, 32, 64, 128, 384]
    x = torch.rand(total, 3, args.size, args.size)
    y = torch.randint(0, 10, (total,))
    print(f"Forward + input backward throughput by chunk size ({torch.get_num_threads()} threads)")
    for arch in ("resnet18", "small_cnn"):
        model, _, _ = setup(args, arch)

        def run(size: int, model=model) -> None:
            for start in range(0, total, size):
                bare(model, x[start : start + size], y[start : start + size], 1)

        times = interleaved_medians(
            {str(s): (lambda s=s: run(s)) for s in sizes}, args.repeats, CPU
        )
        cells = "  ".join(f"{s}: {total / times[str(s)]:6.0f}" for s in sizes)
        print(f"  {arch:10s} img/s by chunk  {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--n-samples", type=int, default=50)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--ours", type=lambda s: None if s == "default" else int(s), nargs="+", default=[None, 8]
    )
    parser.add_argument("--captum-nt", type=int, nargs="+", default=[1, 2, 4, 10, 50])
    parser.add_argument("--captum-ig", type=int, nargs="+", default=[8, 16, 32, 64, 0])
    parser.add_argument("--chunks", action="store_true", help="only the chunk-size sweep")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        child(args.child, args)
    elif args.chunks:
        report_chunks(args)
    else:
        report_times(args)
        if not args.no_memory:
            report_memory(args)


if __name__ == "__main__":
    main()
