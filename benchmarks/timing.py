"""The timer every benchmark shares: median of repeated warm calls (the machine is noisy;
benchmarks report ratios of medians measured side by side in one run)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(call: Callable[[], object], min_time: float = 0.2,
                max_repeats: int = 200) -> float:
    """Median seconds per call: one warm-up (tracing, caches), then at least 5 calls and
    ``min_time`` seconds (at most ``max_repeats`` calls)."""
    call()
    times, start = [], time.perf_counter()
    while (time.perf_counter() - start < min_time or len(times) < 5) and len(times) < max_repeats:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
