"""diffx central differences against scipy ``approx_fprime`` on a numpy callable's gradient.

Run: ``python benchmarks/numeric_gradients.py`` (needs scipy, which diffx does not depend on).
Vectorised Rosenbrock at n = 10, 100, 1000 (at linspace(−1.2, 1.1)): time per gradient of both,
measured side by side in one run (:func:`benchmarks.timing.side_by_side`), their ratio, points
evaluated per gradient, and correct digits (−log10 of the normwise relative error against the
closed-form gradient). Issue 21's target: diffx ≤ 3× scipy's time at n = 1000 with ≥ 9 digits.
Benchmarks are not tests: nothing here asserts.
"""

from __future__ import annotations

import math

import numpy as np
from timing import side_by_side  # benchmarks/timing.py, found next to this script

import diffx


def rosenbrock(x: np.ndarray) -> float:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_gradient(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def digits(value: np.ndarray, exact: np.ndarray) -> float:
    rel = float(np.linalg.norm(value - exact) / np.linalg.norm(exact))
    return 16.0 if rel == 0 else min(16.0, -math.log10(rel))


def main() -> None:
    try:
        from scipy.optimize import approx_fprime
    except ImportError:
        print("scipy is not installed: pip install scipy")
        return
    print(f"{'n':>6} {'diffx ms':>9} {'scipy ms':>9} {'ratio':>6} {'diffx evals':>12} "
          f"{'scipy evals':>12} {'diffx digits':>13} {'scipy digits':>13} {'covered':>8}")
    for n in (10, 100, 1000):
        x = np.linspace(-1.2, 1.1, n)
        exact = rosenbrock_gradient(x)
        times = side_by_side({
            "diffx": lambda x=x: diffx.gradient(rosenbrock, x, "central"),
            "scipy": lambda x=x: approx_fprime(x, rosenbrock),
        }, rounds=max(5, 4000 // n), inner=1)
        est = diffx.gradient(rosenbrock, x, "central", full_output=True)
        covered = int(np.sum(np.abs(est.value - exact) <= est.error))
        print(f"{n:>6} {times['diffx'] * 1e3:>9.2f} {times['scipy'] * 1e3:>9.2f} "
              f"{times['diffx'] / times['scipy']:>6.2f} {est.evaluations:>12} {n + 1:>12} "
              f"{digits(est.value, exact):>13.2f} "
              f"{digits(approx_fprime(x, rosenbrock), exact):>13.2f} {covered:>5}/{n}")


if __name__ == "__main__":
    main()
