#!/usr/bin/env python3
"""Float32 error of Winograd F(4x4, 3x3) for several interpolation point sets.

Command (from the repository root; needs only numpy):

    python3 tests/ref/wino_points.py

For each set of 5 finite points (plus infinity) it builds the Toom-Cook
matrices A^T, G and B^T (B^T solved from the convolution identity), then
runs the 2D transform, the per-channel products summed over C input
channels and the output transform in float32 (NumPy, rounding after every
step) on random 6x6 tiles (ReLU'd normal inputs, He-scaled weights), and
prints the largest and RMS error against the float64 direct sum, relative
to the largest / RMS output, worst over 3 seeds. Then the chosen points
with their rows rescaled (the factors of G moved into A^T or B^T, or
powers of 2): the rescalings that are not powers of 2 are where float32
could differ. docs/semantics.md quotes its output; cl/conv_wino.cl uses
0, 1, -1, 1/2, -2 (BT6T, AT6T, conv_wino4_w).
"""
import numpy as np


def mats(pts, m=4, r=3):
    n = m + r - 1
    AT = np.zeros((m, n))
    G = np.zeros((n, r))
    for j, p in enumerate(pts):
        for i in range(m):
            AT[i, j] = p ** i
        f = np.prod([p - q for q in pts if q != p])
        for k in range(r):
            G[j, k] = p ** k / f
    AT[m - 1, n - 1] = 1
    G[n - 1, r - 1] = 1
    # B^T from sum_j AT[i, j] G[j, k] BT[j, l] = [l == i + k]
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):
                row = np.zeros((n, n))
                row[:, l] = AT[i, :] * G[:, k]
                rows.append(row.ravel())
                rhs.append(1.0 if l == i + k else 0.0)
    rows, rhs = np.array(rows), np.array(rhs)
    sol = np.linalg.lstsq(rows, rhs, rcond=None)[0]
    assert np.abs(rows @ sol - rhs).max() < 1e-9
    return AT, G, sol.reshape(n, n)


def scaled(AT, G, BT, a, g):
    a, g = np.asarray(a, float), np.asarray(g, float)
    return AT * a[None, :], G * g[:, None], BT / (a * g)[:, None]


def error(AT, G, BT, C, T=200, seed=0):
    rng = np.random.default_rng(seed)
    d = np.maximum(rng.standard_normal((C, T, 6, 6)), 0)
    w = rng.standard_normal((C, 3, 3)) * np.sqrt(2 / (9 * C))
    y = np.zeros((T, 4, 4))
    for a in range(4):
        for b in range(4):
            y[:, a, b] = np.einsum("ctij,cij->t", d[:, :, a:a + 3, b:b + 3], w)
    f = np.float32
    ATf, Gf, BTf = AT.astype(f), G.astype(f), BT.astype(f)
    V = np.einsum("ij,ctjk->ctik", BTf, d.astype(f)).astype(f)
    V = np.einsum("ctik,lk->ctil", V, BTf).astype(f)
    U = np.einsum("ij,cjk->cik", Gf, w.astype(f)).astype(f)
    U = np.einsum("cik,lk->cil", U, Gf).astype(f)
    M = np.zeros((T, 6, 6), f)
    for c in range(C):
        M = (M + V[c] * U[c][None]).astype(f)
    Y = np.einsum("ij,tjk->tik", ATf, M).astype(f)
    Y = np.einsum("tik,lk->til", Y, ATf).astype(f)
    e = Y - y
    return np.abs(e).max() / np.abs(y).max(), np.sqrt((e ** 2).mean() / (y ** 2).mean())


def worst(AT, G, BT, C):
    es = [error(AT, G, BT, C, seed=s) for s in range(3)]
    return max(e[0] for e in es), max(e[1] for e in es)


def main():
    sets = [(0, 1, -1, 2, -2), (0, 1, -1, 0.5, -2), (0, 1, -1, 0.5, -0.5),
            (0, 1, -1, 0.5, -3), (0, -1, 1, 0.5, 2), (0, 1, -1, 1 / 3, -1 / 3)]
    print("points                  channels  max error  rms error (relative)")
    for pts in sets:
        AT, G, BT = mats(pts)
        for C in (128, 512):
            mx, rms = worst(AT, G, BT, C)
            name = ", ".join(f"{p:g}" for p in pts)
            print(f"{name:<24}{C:>8}  {mx:9.2e}  {rms:9.2e}")
    AT, G, BT = mats((0, 1, -1, 0.5, -2))
    f = np.array([1, 1 / 3, -1 / 3, -16 / 15, 1 / 15, 1.0])  # G's row factors
    one = np.ones(6)
    print("0, 1, -1, 1/2, -2 rescaled")
    for tag, a, g in (("G holds the factors", one, one), ("A^T holds them", f, 1 / f),
                      ("B^T holds them", one, 1 / f),
                      ("rows 0-2, 4, 5 of G halved", one, [.5, .5, .5, 1, .5, .5])):
        for C in (256, 512):
            mx, rms = worst(*scaled(AT, G, BT, a, g), C)
            print(f"  {tag:<28}{C:>6}  {mx:9.2e}  {rms:9.2e}")


if __name__ == "__main__":
    main()
