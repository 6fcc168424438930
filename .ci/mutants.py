#!/usr/bin/env python
"""A small, hand-written mutation job: plant realistic one-line slips, check the suite fails.

Each mutant replaces one exact snippet of library code (it must occur exactly once) with a
plausible slip, runs the tests that should catch it and restores the file, also on error
or Ctrl-C. A mutant the tests miss ("SURVIVED") is a gap in the suite: write a test that
fails with the slip and passes without it (see docs/testing.rst). Manual / weekly target,
not part of ``.ci/run``::

    python .ci/mutants.py                  # every mutant, its own tests (a few minutes)
    python .ci/mutants.py apgd-increase-tie fab-restart-clean   # chosen ones
    python .ci/mutants.py --without-new    # as if the slip-catching test files did not exist
    python .ci/mutants.py --new-only       # only those files (seconds per mutant)
    python .ci/mutants.py --list

Exit status 1 when a mutant survives.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Test files written to catch these slips; --without-new leaves them out.
NEW_FILES = (
    "tests/attacks/test_apgd_slips.py",
    "tests/attacks/test_fab_slips.py",
    "tests/attacks/test_square_slips.py",
    "tests/attacks/test_ensemble_slips.py",
    "tests/metrics/test_decision_rule_slips.py",
    "tests/models/test_layout_slips.py",
    "tests/data/test_stimulus_layouts.py",
    "tests/test_card_values.py",
)


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str


A, F, S = "shapebias/attacks/_apgd.py", "shapebias/attacks/_fab.py", "shapebias/attacks/_square.py"
E, M = "shapebias/attacks/_ensemble.py", "shapebias/attacks/_masking.py"
CM, CAT = "shapebias/metrics/_class_map.py", "shapebias/metrics/_category_model.py"
SB, P = "shapebias/metrics/_shape_bias.py", "shapebias/models/_pretrained.py"
ST, STIM, CARD = "shapebias/models/_stacked.py", "shapebias/data/_stimuli.py", "shapebias/_card.py"
T_ATT, T_MET, T_MOD = ("tests/attacks",), ("tests/metrics",), ("tests/models",)
T_DATA, T_CARD = ("tests/data",), ("tests/test_cli.py", "tests/test_card_values.py")

MUTANTS = (
    Mutant("apgd-increase-tie", A, '(f > s["f"])', '(f >= s["f"])', T_ATT,
           "condition 1 counts an equal objective as a rise"),
    Mutant("apgd-stall-tie", A, 's["best_f"] <= s["best_checked"]',
           's["best_f"] < s["best_checked"]', T_ATT,
           "condition 2 misses a best objective that stayed exactly equal"),
    Mutant("apgd-rho-boundary", A, 's["increases"] < rho * period',
           's["increases"] <= rho * period', T_ATT,
           "condition 1 fires when exactly rho of the steps rose"),
    Mutant("apgd-best-tie", A, "better = f > s[\"best_f\"]", "better = f >= s[\"best_f\"]", T_ATT,
           "x_max moves to a later point of equal objective"),
    Mutant("apgd-period", A, "_checkpoint(s, k - last_check, settings.rho)",
           "_checkpoint(s, k, settings.rho)", T_ATT, "condition 1 over all steps, not the period"),
    Mutant("apgd-one-start", A,
           "        for _ in range(settings.restarts):\n"
           "            start = random_start(clean, settings.eps, settings.norm, "
           "settings.generator)",
           "        start = random_start(clean, settings.eps, settings.norm, settings.generator)\n"
           "        for _ in range(settings.restarts):", T_ATT,
           "every restart of a target repeats one random start"),
    Mutant("fab-restart-clean", F, "if restart > 0:", "if restart > 1:", T_ATT,
           "the second FAB run repeats the clean start"),
    Mutant("fab-budget-edge", F, "won = size <= eps[run]", "won = size < eps[run]", T_ATT,
           "a perturbation exactly on the budget is thrown away"),
    Mutant("square-accept-tie", S, "improved = (objective > best_objective) | success",
           "improved = (objective >= best_objective) | success", T_ATT,
           "Square accepts proposals of equal margin"),
    Mutant("square-l2-size-edge", S, "if size > min(delta.shape[-2:]):",
           "if size >= min(delta.shape[-2:]):", T_ATT,
           "an L2 window exactly as large as the image is shrunk"),
    Mutant("suite-fab-norm", E,
           "fab_t = FAB(eps=eps, norm=norm, steps=steps, num_targets=num_targets, "
           "generator=generator)",
           "fab_t = FAB(eps=eps, steps=steps, num_targets=num_targets, generator=generator)", T_ATT,
           "auto_attack(norm='l2') builds FAB-T with the default L-inf norm"),
    Mutant("suite-square-norm", E,
           "square = Square(eps=eps, norm=norm, queries=queries, generator=generator)",
           "square = Square(eps=eps, queries=queries, generator=generator)", T_ATT,
           "auto_attack(norm='l2') builds Square with the default L-inf norm"),
    Mutant("curve-unsorted", M, "itertools.pairwise(sorted(robust_by_eps.items()))",
           "itertools.pairwise(robust_by_eps.items())", T_ATT,
           "the monotonicity check reads the budgets in the order given"),
    Mutant("curve-equal-warns", M, "        if high > low:", "        if high >= low:", T_ATT,
           "a flat robustness curve is flagged as masking"),
    Mutant("rule-mean-logits", CAT, "mean = mean_by_group(logits.softmax(1), members",
           "mean = mean_by_group(logits.log_softmax(1), members", T_MET + T_CARD,
           "CategoryModel averages member log-probabilities (logits) instead of probabilities"),
    Mutant("rule-sum-probs", CM, "    return sums / counts", "    return sums", T_MET + T_CARD,
           "the 1000->16 rule sums member probabilities instead of averaging them"),
    Mutant("rule-decider-logits", SB, "scores = mean_by_group(logits.softmax(1), *self.index",
           "scores = mean_by_group(logits, *self.index", T_MET,
           "shape_bias decides on mean member logits"),
    Mutant("bias-group-texture", SB, "torch.unique(shapes[conflict], return_inverse=True)",
           "torch.unique(textures[conflict], return_inverse=True)", T_MET + T_CARD,
           "per-class shape bias grouped by texture class"),
    Mutant("bias-conflict-count", SB, "conflict_images=int(conflict.sum()),",
           "conflict_images=len(shapes),", T_MET + T_CARD,
           "images with equal cues counted as cue-conflict images"),
    Mutant("masking-no-earlier", M, "if free and earlier and count:", "if free and count:",
           T_ATT, "Square alone (no gradient attack before it) flagged as masking"),
    Mutant("bias-per-class-name", SB, "names[int(c)]: estimate(bias([g])",
           "names[g]: estimate(bias([g])", T_MET + T_CARD,
           "per-class shape bias named by group position, not by the shape class"),
    Mutant("null-denominator", "shapebias/metrics/_null.py", "(1 - s) / (k - 1)", "(1 - s) / k",
           T_MET + T_CARD, "null with K instead of K - 1 other classes"),
    Mutant("load-module-once", P, "    while state and all(k.startswith(prefix) for k in state):",
           "    if state and all(k.startswith(prefix) for k in state):", T_MOD,
           "module.module.* (a model wrapped twice) keeps one module. prefix"),
    Mutant("load-unnest-once", P, "    while isinstance(content, Mapping):\n        inner",
           "    if isinstance(content, Mapping):\n        inner", T_MOD,
           "a state dict nested twice ({'model': {'state_dict': ...}}) is not found"),
    Mutant("stack-bn-momentum", ST, "            momentum=norm.momentum,\n", "", T_MOD,
           "the stacked BatchNorm drops a non-default momentum"),
    Mutant("stack-bn-eps", ST, "            eps=norm.eps,\n", "", T_MOD,
           "the stacked BatchNorm drops a non-default eps"),
    Mutant("stack-conv-groups", ST, "groups=members * conv.groups,", "groups=members,", T_MOD,
           "the widened Conv2d ignores the members' own groups"),
    Mutant("stack-conv-dilation", ST,
           "            dilation=conv.dilation,  # type: ignore[arg-type]\n", "", T_MOD,
           "the widened Conv2d drops a dilation"),
    Mutant("stack-conv-padding-mode", ST, "            padding_mode=conv.padding_mode,\n", "",
           T_MOD, "the widened Conv2d pads with zeros whatever the members do"),
    Mutant("cue-name-prefix", STIM, "_CUE_NAME.fullmatch(path.stem)", "_CUE_NAME.match(path.stem)",
           T_DATA, "a file name with trailing text (a copy) is read as one more stimulus"),
    Mutant("files-hidden", "shapebias/_images.py",
           '        and not any(part.startswith(".") for part in p.relative_to(folder).parts)\n',
           "", T_DATA, "hidden files and folders (.ipynb_checkpoints, macOS ._) read as images"),
    Mutant("folder-label-position", STIM,
           "(path, names.index(category.name))\n        for category in _category_dirs",
           "(path, position)\n        for position, category in enumerate(_category_dirs",
           T_DATA, "labels count the folders present, not the category list"),
    Mutant("card-robust-raw-model", CARD,
           "card[\"robust\"] = _robust(mapped, clean,", "card[\"robust\"] = _robust(model, clean,",
           T_CARD, "the robust section attacks the 1000-class model"),
    Mutant("card-null-classes", CARD, "metrics.texture_blind_null(accuracy, len(CATEGORIES_16))",
           "metrics.texture_blind_null(accuracy, 1000)", T_CARD,
           "the null uses the model's 1000 classes, not the 16 categories"),
    Mutant("card-null-condition", CARD, 'accuracy = card["accuracy"][settings.shape_only]["value"]',
           'accuracy = card["accuracy"]["clean"]["value"]', T_CARD,
           "the null computed from the clean accuracy, not the shape-only condition's"),
    Mutant("card-attack-images", CARD, "range(min(settings.attack_images, len(clean)))",
           "range(min(settings.attack_images, len(clean)) - 1)", T_CARD,
           "one image fewer attacked than asked"),
    Mutant("card-md-robust", CARD, "robust {100 * robust['robust']:.1f} %",
           "robust {100 * robust['clean']:.1f} %", T_CARD,
           "the Markdown shows the clean rate as the robust one"),
)  # fmt: skip


def run(mutant: Mutant, without_new: bool, new_only: bool = False) -> bool:
    """Plant ``mutant``, run its tests; True when the tests fail (the slip is caught)."""
    file = ROOT / mutant.path
    original = file.read_text()
    if original.count(mutant.old) != 1:
        raise SystemExit(f"{mutant.name}: the snippet occurs {original.count(mutant.old)} times")
    ignore = [f"--ignore={f}" for f in NEW_FILES] if without_new else []
    tests = [t for t in mutant.tests if not (without_new and t in NEW_FILES)]
    if new_only:
        tests = [f for f in NEW_FILES if any(f.startswith(t) for t in mutant.tests)]
    try:
        file.write_text(original.replace(mutant.old, mutant.new))
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *ignore]
        done = subprocess.run(
            [*command, *tests], cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    finally:
        file.write_text(original)
    return done.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--without-new", action="store_true", help="leave out NEW_FILES")
    parser.add_argument("--new-only", action="store_true", help="run only NEW_FILES")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    # restore the planted file also when stopped: SIGTERM, and SIGINT in a background job
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list or not chosen:
        for m in MUTANTS:
            print(f"{m.name:24} {m.path}: {m.why}")
        return 0 if chosen else 2
    survivors = 0
    for mutant in chosen:
        start = time.perf_counter()
        caught = run(mutant, args.without_new, args.new_only)
        survivors += not caught
        verdict = "caught" if caught else "SURVIVED"
        elapsed = time.perf_counter() - start
        print(f"{verdict:8} {mutant.name:24} {elapsed:5.0f} s  {mutant.why}", flush=True)
    print(f"{len(chosen) - survivors} of {len(chosen)} caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
