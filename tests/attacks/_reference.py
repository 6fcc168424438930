"""A slow, literal PGD written from Madry et al.'s formulas, one sample at a time."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reference_pgd(model, images, labels, *, eps, steps, step_size, norm, targeted=False):
    """x_{t+1} = Proj_{B(x, eps) ∩ [0,1]^d}(x_t + a * direction(grad)); no random start."""
    results = []
    for x0, y in zip(images, labels, strict=True):
        x = x0.clone()
        for _ in range(steps):
            x = x.detach().requires_grad_(True)
            loss = F.cross_entropy(model(x[None]), y[None])
            if targeted:
                loss = -loss
            (g,) = torch.autograd.grad(loss, x)
            x = x.detach()
            if norm == "linf":
                x = x + step_size * torch.sign(g)
                delta = torch.clamp(x - x0, -eps, eps)
            else:
                x = x + step_size * g / max(float(g.norm()), 1e-12)
                delta = x - x0
                if float(delta.norm()) > eps:
                    delta = delta * (eps / float(delta.norm()))
            x = torch.clamp(x0 + delta, 0.0, 1.0)
        results.append(x.detach())
    return torch.stack(results)
