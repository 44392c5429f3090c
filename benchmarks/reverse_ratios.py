"""The cheap-gradient principle, measured: diffx's reverse engine against its forward engine.

Run: python benchmarks/reverse_ratios.py
For Rosenbrock in n variables written as a Python loop, prints per n: the trace's node count,
(recording time)/(plain evaluation), (one reverse sweep)/(recording) — constant in n: a whole
gradient for a few evaluations — and (dual gradient)/(plain evaluation), which grows like n
(one forward pass per input). Ratios measured side by side in one run; fitted log-log slopes.
"""

from __future__ import annotations

import time

import numpy as np

from diffx.engines import dual
from diffx.functions import as_function
from diffx.trace import record, reverse_sweep


def rosenbrock(x):
    total = 0.0
    for i in range(len(x) - 1):
        total = total + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return total


def best_time(call, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main(sizes: tuple[int, ...] = (10, 100, 1000, 10000), dual_max: int = 1000) -> None:
    fn = as_function(rosenbrock)
    rows = []
    for n in sizes:
        x = np.linspace(-1.2, 1.0, n)
        plain = best_time(lambda x=x: rosenbrock(x))
        recording = best_time(lambda x=x: record(fn, x))
        tape = record(fn, x)
        sweep = best_time(lambda tape=tape: reverse_sweep(tape, [1.0]))
        forward = (best_time(lambda x=x: dual.jacobian(fn, x), repeats=1 if n >= 1000 else 3)
                   if n <= dual_max else float("nan"))
        rows.append((n, sweep / recording, forward / plain))
        print(f"n={n:6d}  nodes={len(tape.nodes):7d}  record/plain={recording / plain:6.1f}  "
              f"sweep/record={sweep / recording:5.2f}  dual-gradient/plain={forward / plain:9.1f}")
    n = np.log([r[0] for r in rows])
    sweep_ratio = np.log([r[1] for r in rows])
    dual_ratio = np.array([r[2] for r in rows])
    ok = np.isfinite(dual_ratio)
    print(f"slope of log(sweep/record) vs log n:      {np.polyfit(n, sweep_ratio, 1)[0]:.2f}")
    print(f"slope of log(dual gradient/plain) vs log n: "
          f"{np.polyfit(n[ok], np.log(dual_ratio[ok]), 1)[0]:.2f}")


if __name__ == "__main__":
    main()
