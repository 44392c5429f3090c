"""Log-log slopes of measured curves: how an error or a time grows with a step or a size.

    >>> round(fit_slope([1, 10, 100], [2, 200, 20000]), 6)
    2.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["fit_slope"]


def fit_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log10(y) against log10(x) (NaN with fewer than 2 usable points:
    pairs with a non-positive or non-finite coordinate are left out)."""
    pairs = [(math.log10(a), math.log10(b)) for a, b in zip(x, y)
             if a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 2 or len({p[0] for p in pairs}) < 2:
        return math.nan
    lx, ly = np.array(pairs).T
    return float(np.polyfit(lx, ly, 1)[0])
