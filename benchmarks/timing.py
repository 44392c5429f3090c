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


def side_by_side(calls: dict[str, Callable[[], object]], rounds: int = 40, inner: int = 5,
                 statistic: Callable[[list[float]], float] = statistics.median
                 ) -> dict[str, float]:
    """Seconds per call of each callable (``statistic`` of its samples: the median, or min),
    measured in alternation (``inner`` calls per sample, one sample of each per round), so
    that load changes on the machine hit all alike."""
    for call in calls.values():
        call()  # warm-up: tracing, caches
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                call()
            samples[name].append((time.perf_counter() - t0) / inner)
    return {name: statistic(times) for name, times in samples.items()}
