"""Rank statistics shared by the benchmark reports (bank-model agreement, the alternatives bench).

    kendall_tau_b(xs, ys)   Kendall's tau-b of two equally long lists: (concordant - discordant) over
                            sqrt((pairs not tied in x) * (pairs not tied in y)); pairs tied in both
                            are dropped; None when either list is constant
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def kendall_tau_b(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    conc = disc = tx = ty = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif (dx > 0) == (dy > 0):
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + tx) * (conc + disc + ty))
    return None if denom == 0 else (conc - disc) / denom
