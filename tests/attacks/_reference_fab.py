"""A slow literal FAB / FAB-T (Croce & Hein 2020, Algorithm 1), one image at a time.

Written from the paper's equations, not from the library's code: every logit's
gradient by its own backward pass, the closest linearised boundary picked by a loop
over classes, the box-constrained projection onto the hyperplane by bisection on the
scalar that parametrises its optimum (``delta_i = sign(w_i) min(t, room_i)`` for
L-inf, ``clip(t w_i)`` for L2), 200 halvings in float64.
"""

from __future__ import annotations

import torch


def _size(delta: torch.Tensor, norm: str) -> float:
    return float(delta.abs().max()) if norm == "linf" else float(delta.norm())


def _dual(w: torch.Tensor, norm: str) -> float:
    return float(w.abs().sum()) if norm == "linf" else float(w.norm())


def reference_projection(x: torch.Tensor, w: torch.Tensor, change: float, norm: str):
    """The smallest ``delta`` with ``<w, delta> = change`` and ``x + delta`` in ``[0, 1]``.

    Flat 1-D tensors. Where the box cannot reach the hyperplane, the farthest step
    towards it.
    """
    if change < 0:
        w, change = -w, -change
    room = torch.where(w > 0, 1 - x, x)

    def delta_at(t: float) -> torch.Tensor:
        if norm == "linf":
            return torch.sign(w) * torch.clamp(room, max=t)
        return torch.clamp(t * w, min=-room, max=room)  # room >= 0: clip to the box

    if float(w @ delta_at(1e30)) <= change:
        return delta_at(1e30)
    low, high = 0.0, 1.0
    while float(w @ delta_at(high)) < change:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if float(w @ delta_at(middle)) < change:
            low = middle
        else:
            high = middle
    return delta_at(high)


def _logits_and_gradients(model, x: torch.Tensor):
    logits, gradients = None, []
    for k in range(model(x[None]).shape[1]):
        point = x.clone().requires_grad_(True)
        out = model(point[None])[0]
        gradients.append(torch.autograd.grad(out[k], point)[0])
        logits = out.detach()
    return logits, torch.stack(gradients)


def _hyperplane(logits, gradients, label: int, target, norm: str):
    """``(w, diff)`` of the boundary towards ``target``, or the closest one (untargeted)."""
    if target is None:
        best = None
        for k in range(len(logits)):
            if k == label:
                continue
            w = gradients[k] - gradients[label]
            distance = abs(float(logits[k] - logits[label])) / (_dual(w, norm) + 1e-12)
            if best is None or distance < best[0]:
                best = (distance, k)
        target = best[1]
    return gradients[target] - gradients[label], float(logits[target] - logits[label])


def reference_fab_run(model, image, label, target, *, norm, steps, alpha_max, eta, beta):
    """One FAB run from the clean image: ``(best adversarial point or None, its norm)``."""
    x, best, best_size = image.clone(), None, float("inf")
    for _ in range(steps):
        logits, gradients = _logits_and_gradients(model, x)
        w, diff = _hyperplane(logits, gradients, label, target, norm)
        w_flat = w.flatten()
        # the hyperplane: diff + <w, z - x> = 0, for z = x + d and z = image + d0
        d = reference_projection(x.flatten(), w_flat, -diff, norm)
        change0 = -diff - float(w_flat @ (image - x).flatten())
        d0 = reference_projection(image.flatten(), w_flat, change0, norm)
        a, a0 = max(_size(d, norm), 1e-12), max(_size(d0, norm), 1e-12)
        alpha = min(a / (a + a0), alpha_max)
        step = (1 - alpha) * (x.flatten() + eta * d) + alpha * (image.flatten() + eta * d0)
        x = step.clamp(0, 1).view_as(image)
        with torch.no_grad():
            predicted = int(model(x[None])[0].argmax())
        if predicted != label:  # any misclassification, also when targeted
            size = _size(x - image, norm)
            if size < best_size:
                best, best_size = x.clone(), size
            x = image + beta * (x - image)
    return best, best_size


def reference_fab(model, images, labels, *, eps, norm="linf", steps=10, targeted=True,
                  num_targets=3, alpha_max=0.1, eta=1.05, beta=0.9):  # fmt: skip
    """FAB(-T) at budget ``eps`` (float) with one run per target, image by image."""
    out = images.clone()
    for i in range(images.shape[0]):
        label = int(labels[i])
        with torch.no_grad():
            logits = model(images[i : i + 1])[0]
        ranked = [int(k) for k in logits.argsort(descending=True) if int(k) != label]
        for target in ranked[:num_targets] if targeted else [None]:
            best, size = reference_fab_run(
                model, images[i], label, target, norm=norm, steps=steps,
                alpha_max=alpha_max, eta=eta, beta=beta,
            )  # fmt: skip
            if best is not None and size <= eps:
                out[i] = best
                break
    return out
