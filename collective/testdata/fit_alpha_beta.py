#!/usr/bin/python3
"""Fit the alpha-beta cost model of a ring all-reduce to `lens bench
allreduce` rows (ranks bytes time_ms algbw_GBps busbw_GBps) read from stdin.

For n ranks and S bytes a ring all-reduce takes 2(n-1) steps, each moving
S/n bytes per link, so

    T(n, S) = 2(n-1) * alpha + 2(n-1)/n * S * beta

alpha is the per-step latency, 1/beta the per-link bandwidth. The fit is a
least-squares fit of the relative error (weights 1/T), pooled over all rank
counts; when a (ranks, bytes) pair appears several times the fastest time is
used (the others carry noise from other tenants of the machine).
"""
import sys

best = {}
for line in sys.stdin:
    f = line.split()
    if len(f) != 5 or not f[0].isdigit():
        continue
    n, s, t = int(f[0]), int(f[1]), float(f[2]) / 1e3
    best[(n, s)] = min(best.get((n, s), t), t)

# Linear in (alpha, beta): T = x1*alpha + x2*beta, x1 = 2(n-1), x2 = 2(n-1)/n*S.
a11 = a12 = a22 = b1 = b2 = 0.0
for (n, s), t in best.items():
    w = 1 / t
    x1, x2 = 2 * (n - 1) * w, 2 * (n - 1) / n * s * w
    y = t * w
    a11 += x1 * x1
    a12 += x1 * x2
    a22 += x2 * x2
    b1 += x1 * y
    b2 += x2 * y
det = a11 * a22 - a12 * a12
alpha = (b1 * a22 - b2 * a12) / det
beta = (a11 * b2 - a12 * b1) / det
print(f"alpha = {alpha * 1e6:.1f} us per step, beta = {beta * 1e9:.4f} ns/byte (1/beta = {1 / beta / 1e9:.3f} GB/s)")
print(f"{'ranks':>5} {'bytes':>10} {'measured_ms':>12} {'model_ms':>9} {'err':>6}")
for (n, s), t in sorted(best.items()):
    m = 2 * (n - 1) * alpha + 2 * (n - 1) / n * s * beta
    print(f"{n:>5} {s:>10} {t * 1e3:>12.3f} {m * 1e3:>9.3f} {100 * (m - t) / t:>5.0f}%")
