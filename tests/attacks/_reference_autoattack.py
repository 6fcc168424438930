"""Slow, literal APGD and Square written from the papers' pseudo-code, one sample at a time."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def reference_dlr(z, y, target=None):
    """Croce & Hein eq. (5) / (6) on one logit vector, with sorted Python floats."""
    values = sorted(z.tolist(), reverse=True)
    if target is None:
        best_other = max(v for i, v in enumerate(z.tolist()) if i != y)
        return -(float(z[y]) - best_other) / (values[0] - values[2] + 1e-12)
    return -(float(z[y]) - float(z[target])) / (values[0] - (values[2] + values[3]) / 2 + 1e-12)


def _project(v, x0, eps, norm):
    if norm == "linf":
        return torch.clamp(torch.clamp(v, x0 - eps, x0 + eps), 0.0, 1.0)
    d = v - x0
    if float(d.norm()) > eps:
        d = d * (eps / float(d.norm()))
    return torch.clamp(x0 + d, 0.0, 1.0)


def _direction(g, norm):
    return torch.sign(g) if norm == "linf" else g / max(float(g.norm()), 1e-12)


def reference_apgd(
    model, x0, y, start, *, eps, steps, norm, loss, checkpoints, rho=0.75, target=None
):
    """Algorithm 1 of Croce & Hein (2020) for one image; returns (point, fooled, objective).

    Stops at the first misclassifying iterate (returned); otherwise returns x_max.
    """

    def evaluate(x):
        x = x.detach().requires_grad_(True)
        z = model(x[None])[0]
        if target is None:
            value = F.cross_entropy(z[None], y[None]) if loss == "ce" else None
        else:
            value = -F.cross_entropy(z[None], target[None]) if loss == "ce" else None
        if value is None:
            top = torch.sort(z, descending=True).values
            best_other = torch.cat([z[:y], z[y + 1 :]]).max()
            if target is None:
                value = -(z[y] - best_other) / (top[0] - top[2] + 1e-12)
            else:
                value = -(z[y] - z[target]) / (top[0] - (top[2] + top[3]) / 2 + 1e-12)
        (g,) = torch.autograd.grad(value, x)
        return float(value.detach()), g, int(z.argmax()) != int(y)

    x = torch.clamp(x0 + start, 0.0, 1.0)
    f, g, fooled = evaluate(x)
    if fooled:
        return x, True, f
    eta = 2 * eps
    x_prev = x
    f_max, x_max, g_max = f, x, g
    count, last_w, reduced_last, f_max_last = 0, 0, True, f
    for k in range(1, steps + 1):
        alpha = 1.0 if k == 1 else 0.75
        z = _project(x + eta * _direction(g, norm), x0, eps, norm)
        x_new = _project(x + alpha * (z - x) + (1 - alpha) * (x - x_prev), x0, eps, norm)
        x_prev, x = x, x_new
        f_new, g, fooled = evaluate(x)
        if fooled:
            return x, True, f_new
        count += f_new > f
        f = f_new
        if f > f_max:
            f_max, x_max, g_max = f, x, g
        if k in checkpoints:
            condition_1 = count < rho * (k - last_w)
            condition_2 = (not reduced_last) and f_max_last >= f_max
            if condition_1 or condition_2:
                eta, x, g, f = eta / 2, x_max, g_max, f_max
            reduced_last, f_max_last, count, last_w = condition_1 or condition_2, f_max, 0, k
    return x_max, False, f_max


def reference_p(iteration, queries, p_init):
    """Andriushchenko et al.'s schedule for p, literally (iterations rescaled to 10 000)."""
    it = int(iteration / queries * 10000)
    if 10 < it <= 50:
        return p_init / 2
    if 50 < it <= 200:
        return p_init / 4
    if 200 < it <= 500:
        return p_init / 8
    if 500 < it <= 1000:
        return p_init / 16
    if 1000 < it <= 2000:
        return p_init / 32
    if 2000 < it <= 4000:
        return p_init / 64
    if 4000 < it <= 6000:
        return p_init / 128
    if 6000 < it <= 8000:
        return p_init / 256
    if it > 8000:
        return p_init / 512
    return p_init


def reference_eta(rows, cols):
    """The paper code's nested-rectangle pattern (unit L2 norm), built by its loop."""
    delta = torch.zeros(rows, cols, dtype=torch.float64)
    if rows == 0:
        return delta
    centre_r, centre_c = rows // 2 + 1, cols // 2 + 1
    r0, c0 = centre_r - 1, centre_c - 1
    for counter in range(max(centre_r, centre_c)):
        delta[
            max(r0, 0) : min(r0 + 2 * counter + 1, rows),
            max(c0, 0) : min(c0 + 2 * counter + 1, cols),
        ] += 1.0 / (counter + 1) ** 2
        r0, c0 = r0 - 1, c0 - 1
    return delta / delta.norm()


def reference_l2_pattern(size):
    half = size // 2
    delta = torch.cat([reference_eta(half, size), -reference_eta(size - half, size)])
    return delta / delta.norm()


def _margin(model, x, y):
    with torch.no_grad():
        z = model(x[None])[0]
    others = torch.cat([z[:y], z[y + 1 :]])
    return float(others.max() - z[y]), int(z.argmax()) != int(y)


def _signs(shape, generator):
    return (2 * torch.randint(0, 2, shape, generator=generator) - 1).double()


def reference_square(model, images, labels, *, eps, norm, queries, p_init, generator):
    """Square attack (Algorithms 1-3), one sample at a time, drawing randomness per batch.

    The draws follow the library's order (whole batch per draw) so that the same
    generator gives the same proposals; everything else is per-sample slicing.
    """
    n, c, h, w = images.shape
    x_best = []
    if norm == "linf":
        stripes = eps * _signs((n, c, 1, w), generator)
        x_best = [torch.clamp(images[i] + stripes[i], 0, 1) for i in range(n)]
    else:
        s = max(h // 5, 1)
        pattern = reference_l2_pattern(s)
        delta = torch.zeros_like(images)
        top0, left0 = (h - s * (h // s)) // 2, (w - s * (w // s)) // 2
        for top in range(top0, top0 + s * (h // s), s):
            for left in range(left0, left0 + s * (w // s), s):
                flip = torch.randint(0, 2, (n, 1, 1, 1), generator=generator)
                signs = _signs((n, c, 1, 1), generator)
                for i in range(n):
                    cell = pattern.T if bool(flip[i]) else pattern
                    delta[i, :, top : top + s, left : left + s] += cell * signs[i]
        x_best = [torch.clamp(images[i] + delta[i] / delta[i].norm() * eps, 0, 1) for i in range(n)]
    state = [_margin(model, x_best[i], labels[i]) for i in range(n)]
    best_margin = [m for m, _ in state]
    done = [f for _, f in state]
    for iteration in range(queries - 1):
        if all(done):
            break
        p = reference_p(iteration, queries, p_init)
        s = min(max(round(math.sqrt(p * h * w)), 1), h, w)
        if norm == "l2":
            s = max(s, 3)
            s = s + 1 if s % 2 == 0 else s
            s = s - 2 if s > min(h, w) else s
        top = torch.randint(0, h - s + 1, (n,), generator=generator)
        left = torch.randint(0, w - s + 1, (n,), generator=generator)
        if norm == "l2":
            top2 = torch.randint(0, h - s + 1, (n,), generator=generator)
            left2 = torch.randint(0, w - s + 1, (n,), generator=generator)
            transpose = torch.randint(0, 2, (n,), generator=generator)
        signs = _signs((n, c, 1, 1), generator)
        for i in range(n):
            if done[i]:
                continue
            x0 = images[i]
            delta = x_best[i] - x0
            t, left_i = int(top[i]), int(left[i])
            if norm == "linf":
                delta[:, t : t + s, left_i : left_i + s] = eps * signs[i]
            else:
                t2, l2 = int(top2[i]), int(left2[i])
                window = delta[:, t : t + s, left_i : left_i + s]
                union = torch.zeros(h, w, dtype=torch.bool)
                union[t : t + s, left_i : left_i + s] = True
                union[t2 : t2 + s, l2 : l2 + s] = True
                windows_norm = float(delta[:, union].norm())
                image_norm = float(delta.norm())
                pattern = reference_l2_pattern(s)
                pattern = pattern.T if bool(transpose[i]) else pattern
                new = (
                    pattern * signs[i]
                    + window / window.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
                )
                budget = math.sqrt(max(eps**2 - image_norm**2, 0.0) / c + windows_norm**2)
                new = new / new.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None] * budget
                delta[:, t2 : t2 + s, l2 : l2 + s] = 0.0
                delta[:, t : t + s, left_i : left_i + s] = new
                delta = delta / max(float(delta.norm()), 1e-12) * eps
            candidate = torch.clamp(x0 + delta, 0, 1)
            margin, fooled = _margin(model, candidate, labels[i])
            if fooled or margin > best_margin[i]:
                x_best[i], best_margin[i] = candidate, margin
            done[i] = fooled
    return torch.stack(x_best), torch.tensor(done)
