"""Clean and robust accuracy over a dataset under one attack or a sequence of them.

Only samples still classified right are attacked: by the first attack those right on
clean images, by each later one those every earlier attack left standing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from tqdm import tqdm

from shapebias._batches import batch_count, is_tensor_tuple, iterate_batches
from shapebias._config import config_kwargs
from shapebias._distributed import all_reduce_sum, gather_tensor, shard_data
from shapebias._environment import environment_record
from shapebias._precision import evaluation_autocast
from shapebias._validation import (
    check_autocast,
    check_bool,
    check_callable,
    check_int,
    check_logits,
    check_model,
)
from shapebias.attacks._apgd import APGD, apgd_fooled
from shapebias.attacks._diagnostics import (
    Diagnostics,
    Expectation,
    check_eot,
    differs_between_passes,
    has_known_start,
    masked_gradients,
    start_point,
    warn_diagnostics,
)
from shapebias.attacks._fab import FAB, fab_fooled
from shapebias.attacks._fgsm import FGSM
from shapebias.attacks._manifest import ImageHasher, attack_config, parameter_hash
from shapebias.attacks._masking import warn_if_black_box_stronger
from shapebias.attacks._model_checks import refuse_stack
from shapebias.attacks._pgd import PGD, run_attack
from shapebias.attacks._square import Square, square_fooled
from shapebias.models import warn_if_train_mode

__all__ = ["RobustAccuracy", "attack_name", "robust_accuracy"]


@dataclasses.dataclass(frozen=True)
class RobustAccuracy:
    """Counts and rates from :func:`robust_accuracy`.

    Attributes:
        clean: share of samples classified correctly.
        robust: share classified correctly *and* not broken by any attack.
        total: number of samples.
        clean_correct: number classified correctly.
        robust_correct: number that survived every attack.
        attacks: the attacks' names, in the order they ran (:func:`attack_name`).
        robust_after: robust accuracy after each attack, cumulative (the last equals
            ``robust``); non-increasing.
        broken_by: ``(total,)`` int64 on the CPU, in data order: the index (into ``attacks``) of the
            attack that first broke each sample, ``-1`` where none did (robust samples
            and those wrong on clean images).
        correct: ``(total,)`` bool on the CPU, in data order: classified correctly on clean images.
        diagnostics: the :class:`~shapebias.attacks.Diagnostics` that say whether
            ``robust`` can be trusted (masked gradients at the clean and the start point,
            black-box breaks, monotonicity, a stochastic model, the verified count).
        manifest: what a second run needs to reproduce the numbers (JSON-ready): versions,
            device, dtype, autocast, every attack field with its generator's seed and state
            hash, the model's parameter hash, the number of samples and a hash of them.
    """

    clean: float
    robust: float
    total: int
    clean_correct: int
    robust_correct: int
    attacks: tuple[str, ...] = ()
    robust_after: tuple[float, ...] = ()
    broken_by: torch.Tensor | None = dataclasses.field(default=None, compare=False, repr=False)
    correct: torch.Tensor | None = dataclasses.field(default=None, compare=False, repr=False)
    diagnostics: Diagnostics = dataclasses.field(default_factory=Diagnostics, compare=False)
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Rates, counts, attacks, diagnostics and manifest as a JSON-ready dict.

        Example:
            >>> import json
            >>> from shapebias.attacks import RobustAccuracy
            >>> json.loads(json.dumps(RobustAccuracy(1.0, 0.5, 2, 2, 1).to_dict()))["robust"]
            0.5
        """
        return {
            "clean": self.clean,
            "robust": self.robust,
            "total": self.total,
            "clean_correct": self.clean_correct,
            "robust_correct": self.robust_correct,
            "attacks": list(self.attacks),
            "robust_after": list(self.robust_after),
            "diagnostics": self.diagnostics.to_dict(),
            "manifest": self.manifest,
        }


def attack_name(attack: Any) -> str:
    """A short name for reports: ``"APGD-CE"``, ``"APGD-T"``, ``"Square"``, ``"PGD"``, ...

    Example:
        >>> from shapebias.attacks import APGD, attack_name
        >>> attack_name(APGD(eps=0.03, loss="dlr", targeted=True))
        'APGD-T'
    """
    if isinstance(attack, APGD):
        return "APGD-T" if attack.targeted else f"APGD-{attack.loss.upper()}"
    if isinstance(attack, FAB):
        return "FAB-T" if attack.targeted else "FAB"
    if isinstance(attack, (PGD, FGSM, Square)):
        return type(attack).__name__
    return str(getattr(attack, "__name__", type(attack).__name__))


def is_gradient_free(attack: Any) -> bool:
    """Whether ``attack`` is one of the library's score-based (black-box) attacks."""
    return isinstance(attack, Square)


def _fooled(
    model: Any, attack: Any, images: torch.Tensor, labels: torch.Tensor, active: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fooled, adversarial)``: the ``active`` samples ``attack`` claims to break (others:
    False) and the images it returned (the clean image where it attacked nothing).

    The library's attacks run on the active samples in place, each leaving the batch
    at its first misclassifying iterate; any other callable gets the active samples.
    """
    if isinstance(attack, (PGD, FGSM)):
        plan = dataclasses.replace(attack.plan(model, images, labels), early_stop=True)
        if plan.targeted:
            raise ValueError(
                "attack must be untargeted for robust_accuracy (labels are the true classes), "
                "got a targeted attack. Use targeted=False."
            )
        outcome = run_attack(model, images, labels, plan, active=active)
        if outcome.fooled is None:  # an active= mask makes run_attack evaluate the end points
            raise RuntimeError("robust_accuracy internal error: the attack left no outcome.")
        return outcome.fooled, outcome.adversarial
    if isinstance(attack, APGD):
        return apgd_fooled(model, images, labels, active, **config_kwargs(attack))
    if isinstance(attack, FAB):
        return fab_fooled(model, images, labels, active, **config_kwargs(attack))
    if isinstance(attack, Square):
        return square_fooled(model, images, labels, active, **config_kwargs(attack))
    fooled = torch.zeros_like(active)
    returned = images.clone()
    if bool(active.any()):
        adversarial = attack(model, images[active], labels[active])
        if not isinstance(adversarial, torch.Tensor) or adversarial.shape != images[active].shape:
            raise ValueError(
                "attack must return adversarial images shaped like its input, got "
                f"{getattr(adversarial, 'shape', type(adversarial).__name__)}."
            )
        with torch.no_grad():
            fooled[active] = model(adversarial).argmax(1) != labels[active]
        returned[active] = adversarial.detach()
    return fooled, returned


def _misclassified(
    model: Any, images: torch.Tensor, labels: torch.Tensor, active: torch.Tensor, passes: int
) -> torch.Tensor:
    """The verified count's re-classification: ``active`` samples misclassified in any of
    ``passes`` fresh forward passes at the images' own precision (float32 for float32
    images), outside any autocast (others: False)."""
    wrong = torch.zeros_like(active)
    if bool(active.any()):
        device_type = images.device.type
        with torch.no_grad(), torch.autocast(device_type=device_type, enabled=False):
            for _ in range(passes):
                logits = model(images[active])
                wrong[active] |= logits.argmax(1) != labels[active]
    return wrong


def _check_attacks(attack: Any) -> tuple[Any, ...]:
    attacks = tuple(attack) if isinstance(attack, (list, tuple)) else (attack,)
    if not attacks:
        raise ValueError("attack must be an attack or a non-empty sequence of them, got [].")
    for index, one in enumerate(attacks):
        check_callable(one, "attack" if len(attacks) == 1 else f"attack[{index}]")
    return attacks


def _check_per_sample_budgets(attacks: tuple[Any, ...], data: Any, batch_size: int) -> None:
    """A per-sample ``(N,)`` eps budgets the images of one batch: refuse it for more."""
    for index, one in enumerate(attacks):
        eps = getattr(one, "eps", None)
        if not isinstance(eps, torch.Tensor) or eps.ndim == 0:
            continue
        n = eps.shape[0]
        name = "attack" if len(attacks) == 1 else f"attack[{index}]"
        if is_tensor_tuple(data):
            if data[0].shape[0] == n and batch_size >= n:
                continue
            came = f"{data[0].shape[0]} images in batches of batch_size={batch_size}"
        else:
            came = f"data given as batches ({type(data).__name__})"
        raise ValueError(
            f"{name}.eps is a per-sample tensor of shape ({n},), one budget per image of a "
            f"single batch of {n}, but robust_accuracy got {came}, so budgets would not line "
            f"up with images. Pass (images, labels) with {n} images and batch_size >= {n} "
            "(on one process), or a float eps."
        )


def robust_accuracy(
    model: Any,
    data: Any,
    attack: Any,
    *,
    batch_size: int = 256,
    progress: bool = True,
    autocast: torch.dtype | None = None,
    distributed: bool = True,
    eot: int | None = None,
) -> RobustAccuracy:
    """Clean and robust accuracy of ``model`` on ``data`` under ``attack`` (or several).

    Only samples the model classifies correctly are attacked. Given a sequence of
    attacks, each attacks only the samples all earlier ones left standing (early exit
    across attacks); a sample is robust if no attack broke it, exactly as if every
    attack had been run on every sample. With the library's attacks
    (:class:`~shapebias.attacks.PGD`, :class:`~shapebias.attacks.FGSM`,
    :class:`~shapebias.attacks.APGD`, :class:`~shapebias.attacks.Square`) a sample
    also leaves the batch at the first iterate that fools the model, so the count
    equals attacking every sample with ``early_stop=True`` (robust only if no iterate
    fooled the model); with :class:`~shapebias.attacks.FAB` at the first adversarial
    iterate within ``eps``, which is exactly when :func:`~shapebias.attacks.fab`
    returns an adversarial point. Any other callable ``attack(model, images, labels)`` is run on
    the samples still standing.

    Every result carries :class:`~shapebias.attacks.Diagnostics` (see the guide "Can I
    trust this robust accuracy?"): the share of correctly classified samples with a zero
    or non-finite input gradient at the clean point and at the point where the first
    gradient attack starts (its own random start, drawn from a copy of its generator:
    one more forward and backward pass per batch), black-box breaks, whether the model
    is stochastic, and the verified count: the images each attack returned for the
    samples it attacked are re-classified in fresh float32 forward passes outside any
    autocast, and only a re-classified misclassification counts (the reported ``robust``
    is this verified number; disagreements with the attacks' bookkeeping are counted).
    Each suspect finding also raises a :class:`GradientMaskingWarning`.

    A stochastic model (two eval-mode forward passes of one batch differ: dropout left
    on, a randomised defence) is refused unless ``eot`` is given: one lucky pass would
    count a sample robust. With ``eot=k`` the attacks see the mean logits of ``k``
    passes (expectation over transformation), and a sample counts correct, and robust,
    only if it is classified correctly in each of ``k`` fresh passes, at the clean point
    and at every attack's returned point.

    Args:
        model: callable ``images -> logits``, normally in eval mode.
        data: a DataLoader (or iterable) of ``(images, labels)``, a
            :class:`~torch.utils.data.Dataset` of ``(image, label)`` items (batched by
            ``batch_size``) or a tensor pair ``(images, labels)``.
        attack: e.g. ``PGD(eps=8/255)``, or a list/tuple of attacks run in order; all
            untargeted (APGD-T counts, as it only needs a misclassification).
        batch_size: batch size for a Dataset or a tensor pair.
        progress: show a tqdm progress bar.
        autocast: ``torch.bfloat16`` or ``torch.float16`` runs the clean forward under
            :func:`torch.autocast`; the attacks (and their gradients) stay in float32.
        distributed: under ``torchrun``, evaluate this process's block of ``data`` and
            combine the processes' counts and per-sample outcomes (default); ``False``
            evaluates ``data`` on this process alone, for callers that shard themselves.
        eot: forward passes per expectation and per verification for a stochastic model
            (a positive int); ``None`` (default) refuses a stochastic model. On a
            deterministic model ``eot`` only repeats identical passes (allowed; use 1).

    Returns:
        A :class:`RobustAccuracy` with rates and counts over the whole dataset, the
        robust accuracy after each attack and which attack broke each sample.

    Raises:
        TypeError: ``model`` or an attack is not callable; ``data`` is not one of the
            accepted kinds; ``progress`` or ``distributed`` not a ``bool``.
        ValueError: a :class:`~shapebias.models.StackedModels` as ``model`` (it drops
            samples: attack each member of ``stack.unstack()``), empty data, a targeted
            PGD/FGSM, an attack with a per-sample ``(N,)`` eps on data that is not one
            batch of ``N`` images, or any input check of the attacks; ``eot`` below 1; a
            stochastic model without ``eot``; output shapes that change between passes.

    Warns:
        GradientMaskingWarning: a suspect finding of :class:`~shapebias.attacks.Diagnostics`.
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.attacks import PGD, robust_accuracy
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(3).eval()
        >>> data = (torch.rand(8, 3, 16, 16), torch.randint(0, 3, (8,)))
        >>> result = robust_accuracy(model, data, PGD(eps=8 / 255, steps=3), progress=False)
        >>> 0.0 <= result.robust <= result.clean <= 1.0
        True
    """
    check_model(model)
    refuse_stack(
        model,
        "robust_accuracy",
        "it attacks only the samples classified right, each attack only those the earlier "
        "ones left standing",
        " (In fit, pass eval_attack=None for a stack.)",
    )
    check_int(batch_size, "batch_size", low=1)
    attacks = _check_attacks(attack)
    check_autocast(autocast)
    check_bool(progress, "progress")
    check_bool(distributed, "distributed")
    check_eot(eot)
    passes = eot or 1
    warn_if_train_mode(model, "robust_accuracy")
    data = shard_data(data, active=distributed)
    _check_per_sample_budgets(attacks, data, batch_size)
    names = tuple(attack_name(one) for one in attacks)
    manifest: dict[str, Any] = {
        "environment": environment_record(),
        "attacks": [attack_config(one, name) for one, name in zip(attacks, names, strict=True)],
        "model_sha256": parameter_hash(model),
        "autocast": None if autocast is None else str(autocast),
        "batch_size": batch_size,
        "eot": eot,
    }
    attack_model = Expectation(model, passes) if passes > 1 else model
    first = _first_gradient_attack(attacks)
    start_known = has_known_start(first)
    total = clean_correct = zero_gradient = start_zero = disagreements = 0
    stochastic = False
    standing = [0] * len(attacks)
    broken_parts, correct_parts = [], []
    hasher = ImageHasher()
    batches = tqdm(
        iterate_batches(data, batch_size),
        total=batch_count(data, batch_size),
        desc="robust accuracy",
        disable=not progress,
        leave=False,
    )
    for images, labels in batches:
        hasher.update(images, labels)
        with torch.no_grad(), evaluation_autocast(autocast, images.device):
            logits = model(images)
        check_logits(logits, images.shape[0], labels)
        if total == 0:
            manifest.update(device=str(images.device), dtype=str(images.dtype))
            stochastic = differs_between_passes(model, images)
            if stochastic and eot is None:
                raise ValueError(
                    "model is stochastic: two eval-mode forward passes of the same images "
                    "gave different logits (dropout left on, a randomised defence), so one "
                    "lucky pass would count a sample robust. Pass eot=k (e.g. eot=10): the "
                    "attacks then follow the mean of k passes and a sample counts robust only "
                    "if it is right in each of k fresh passes. Or make the model deterministic."
                )
        correct = logits.argmax(1) == labels
        if passes > 1:
            correct &= ~_misclassified(model, images, labels, correct, passes)
        clean_zero = masked_gradients(model, images, labels, correct)
        zero_gradient += clean_zero
        start = start_point(first, attack_model, images, labels) if start_known else None
        if start is not None:  # a clean start: the clean check's count; else one more pass
            start_zero += (
                clean_zero
                if start is images
                else masked_gradients(attack_model, start, labels, correct)
            )
        alive = correct.clone()
        broken = torch.full_like(labels, -1)
        for index, one in enumerate(attacks):
            claimed, adversarial = _fooled(attack_model, one, images, labels, alive)
            claimed &= alive
            fooled = _misclassified(model, adversarial, labels, alive, passes)
            disagreements += int((claimed != fooled).sum())
            broken[fooled] = index
            alive &= ~fooled
            standing[index] += int(alive.sum())
        total += images.shape[0]
        clean_correct += int(correct.sum())
        broken_parts.append(broken.cpu())
        correct_parts.append(correct.cpu())
        batches.set_postfix(clean=clean_correct / total, robust=standing[-1] / total)
    counts: list[float] = [total, clean_correct, zero_gradient, start_zero, disagreements]
    counts += [int(stochastic), *standing]
    summed = [int(c) for c in all_reduce_sum(counts, active=distributed)]
    total, clean_correct, zero_gradient, start_zero, disagreements, stochastic_count = summed[:6]
    standing = summed[6:]
    if total == 0:
        raise ValueError("data must hold at least one sample, got an empty dataset.")
    broken_by = gather_tensor(torch.cat(broken_parts), active=distributed)
    gradient_free = [is_gradient_free(one) for one in attacks]
    warn_if_black_box_stronger(names, gradient_free, broken_by)
    manifest.update(samples=total, data_sha256=hasher.hexdigest())
    diagnostics = Diagnostics(
        zero_gradient=zero_gradient / clean_correct if clean_correct else 0.0,
        zero_gradient_count=zero_gradient,
        start_zero_gradient=(
            None if not start_known else start_zero / clean_correct if clean_correct else 0.0
        ),
        start_zero_gradient_count=start_zero if start_known else None,
        start_attack=attack_name(first) if start_known else None,
        black_box_breaks=_black_box_breaks(gradient_free, broken_by),
        stochastic=bool(stochastic_count),
        eot=passes,
        verified=standing[-1],
        disagreements=disagreements,
    )
    warn_diagnostics(diagnostics, clean_correct)
    return RobustAccuracy(
        clean=clean_correct / total,
        robust=standing[-1] / total,
        total=total,
        clean_correct=clean_correct,
        robust_correct=standing[-1],
        attacks=names,
        robust_after=tuple(count / total for count in standing),
        broken_by=broken_by,
        correct=gather_tensor(torch.cat(correct_parts), active=distributed),
        diagnostics=diagnostics,
        manifest=manifest,
    )


def _first_gradient_attack(attacks: tuple[Any, ...]) -> Any:
    """The first attack that is not gradient-free (it attacks every correct sample), or None."""
    return next((one for one in attacks if not is_gradient_free(one)), None)


def _black_box_breaks(gradient_free: list[bool], broken_by: torch.Tensor) -> int:
    """Samples broken by a gradient-free attack that runs after at least one gradient attack."""
    count = 0
    for index, free in enumerate(gradient_free):
        if free and not all(gradient_free[:index]):
            count += int((broken_by == index).sum())
    return count
