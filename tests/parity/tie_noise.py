#!/usr/bin/env python3
"""How much of the parity fixture's gradient check is luck at ReLU ties.

Command (from the repository root; needs what make_fixture.py needs):

    python3 tests/parity/tie_noise.py

For resnet20 with BatchNorm and with GroupNorm (the fixtures' models and
weights, float64), it adds Gaussian noise of standard deviation EPS times
the output's largest |value| to every conv's output (a stand-in for a
float32 path's rounding), and reports, for 8 draws per EPS, the worst of
test_parity.c's gradient metrics (16 samples per tensor over (|want| +
RMS), norm and sum over the norm) and how many draws stay within 1e-4.
It also prints the three norm layers whose outputs come nearest 0 (the
ReLU inputs a rounding can flip). docs/parity.md quotes its output.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixture as mf  # noqa: E402


def grads(norm, eps, seed):
    mf.NORM = norm
    m = mf.MODELS["resnet20"]().double()
    mf.load_generated(m)
    m.train()
    x = mf.gen_value("input", (mf.BATCH, 3, mf.SIZE, mf.SIZE)).double()
    y = torch.arange(mf.BATCH) % mf.CLASSES
    g = torch.Generator().manual_seed(seed)
    near = {}

    def noisy(mod, inp, out):
        return out + eps * out.abs().max() * torch.randn(out.shape, generator=g, dtype=out.dtype)

    def nearest(name):
        return lambda mod, inp, out: near.__setitem__(name, out.detach().abs().min().item())

    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.Conv2d) and eps > 0:
            mod.register_forward_hook(noisy)
        if isinstance(mod, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
            mod.register_forward_hook(nearest(name))
    F.cross_entropy(m(x), y).backward()
    return {n: p.grad.clone() for n, p in m.named_parameters()}, near


def metric(ref, got):
    worst = 0.0
    for n in ref:
        r, q = ref[n].flatten(), got[n].flatten()
        idx = mf.sample_indices(n, r.numel())
        rms = r.norm() / r.numel() ** 0.5
        worst = max(worst, ((q[idx] - r[idx]).abs() / (r[idx].abs() + rms)).max().item(),
                    abs(q.norm() - r.norm()).item() / r.norm().item(),
                    abs(q.sum() - r.sum()).item() / r.norm().item())
    return worst


def main():
    for norm in ("bn", "gn"):
        ref, near = grads(norm, 0.0, 0)
        close = sorted(near, key=near.get)[:3]
        print(f"resnet20 {norm}: the norm outputs nearest 0: "
              + ", ".join(f"{near[n]:.3g} ({n})" for n in close))
        for eps in (3e-7, 1e-6, 3e-6):
            res = [metric(ref, grads(norm, eps, s)[0]) for s in range(8)]
            ok = sum(r <= 1e-4 for r in res)
            print(f"  noise {eps:.0e}: {ok}/8 draws within 1e-4; worst per draw "
                  + " ".join(f"{r:.2g}" for r in res))


if __name__ == "__main__":
    main()
