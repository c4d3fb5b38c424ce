#!/usr/bin/env python3
"""Writes tests/ref/plateau_ref.txt: learning rates of PyTorch's
ReduceLROnPlateau for metric sequences under several option sets, which
tests/test_host_plateau.c replays through rcl_plateau (no torch needed
there). Rerun after changing the cases: python3 tests/ref/make_plateau_ref.py

Format: '#' comments; 'case MODE TMODE FACTOR PATIENCE THRESHOLD COOLDOWN
MIN_LR EPS LR0 N', then N lines 'METRIC LR_AFTER_STEP' (%.17g)."""
import math
import os
import random

import torch

CASES = [
    # mode, threshold_mode, factor, patience, threshold, cooldown, min_lr, eps, lr0
    ("min", "rel", 0.1, 10, 1e-4, 0, 0.0, 1e-8, 0.1),      # PyTorch's defaults
    ("min", "rel", 0.1, 2, 1e-4, 0, 0.0, 1e-8, 0.1),
    ("min", "abs", 0.5, 1, 0.05, 2, 0.0, 1e-8, 1.0),
    ("max", "rel", 0.1, 3, 1e-3, 1, 1e-4, 1e-8, 0.1),
    ("max", "abs", 0.2, 0, 0.0, 0, 1e-3, 1e-8, 0.5),
    ("min", "rel", 0.1, 1, 0.0, 3, 2e-3, 1e-3, 0.1),        # min lr and eps reached
    ("min", "abs", 0.3, 2, 0.01, 0, 0.0, 1e-8, 0.02),       # with NaN metrics
]


def metrics(rng, n, nan):
    """A noisy decreasing error with long plateaus and exact repeats."""
    out, v = [], 0.9
    for i in range(n):
        r = rng.random()
        if r < 0.3:
            v -= rng.uniform(0.0, 0.05)
        elif r < 0.5:
            pass   # the same value again
        else:
            v += rng.uniform(-0.004, 0.01)
        x = round(v, 6)
        if nan and rng.random() < 0.1:
            x = float("nan")
        out.append(x)
    return out


def main():
    rng = random.Random(1234)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plateau_ref.txt")
    lines = ["# ReduceLROnPlateau reference, torch %s (tests/ref/make_plateau_ref.py)" % torch.__version__]
    for k, (mode, tmode, factor, patience, thr, cooldown, min_lr, eps, lr0) in enumerate(CASES):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=lr0)
        sch = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=factor, patience=patience, threshold=thr,
            threshold_mode=tmode, cooldown=cooldown, min_lr=min_lr, eps=eps)
        ms = metrics(rng, 80, nan=(k == len(CASES) - 1))
        if mode == "max":
            ms = [1.0 - m if not math.isnan(m) else m for m in ms]
        lines.append("case %s %s %.17g %d %.17g %d %.17g %.17g %.17g %d" %
                     (mode, tmode, factor, patience, thr, cooldown, min_lr, eps, lr0, len(ms)))
        for m in ms:
            sch.step(m)
            lines.append("%.17g %.17g" % (m, opt.param_groups[0]["lr"]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
