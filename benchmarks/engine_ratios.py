"""Cost of each method relative to one plain evaluation of the function, measured side by side.

Run: python benchmarks/engine_ratios.py
Prints, for a scalar derivative and for gradients of the n-dimensional Rosenbrock function,
(time of the derivative) / (time of one plain float evaluation) per method. Ratios, not
absolute times, are meaningful on a shared machine.
"""

from __future__ import annotations

import numpy as np
from timing import median_time  # benchmarks/timing.py, found next to this script

import diffx
from diffx.engines.tape import tensorflow
from diffx.functions import parse


def rosenbrock(n: int) -> str:
    return " + ".join(f"100*(x{i + 1} - x{i}**2)**2 + (1 - x{i})**2" for i in range(n - 1))


def main() -> None:
    tensorflow()
    fn = parse("sin(x)*exp(x)")
    x = np.array([1.3])
    plain = median_time(lambda: fn.numpy_call(x))
    print("d/dx sin(x)*exp(x) at 1.3: time / plain evaluation")
    for method in diffx.METHODS:
        t = median_time(lambda m=method: diffx.derivative(fn, 1.3, method=m))
        print(f"  {method:<13} {t / plain:8.1f}")
    print("\ngradient of Rosenbrock in n variables: time / plain evaluation")
    sizes = (2, 8, 32)
    methods = ("symbolic", "central", "dual", "tape", "tape-forward")
    print("  " + "method".ljust(13) + "".join(f"{'n=' + str(n):>10}" for n in sizes))
    results = {m: [] for m in methods}
    for n in sizes:
        f = parse(rosenbrock(n))
        point = np.linspace(-1.0, 1.0, n)
        base = median_time(lambda f=f, p=point: f.numpy_call(p))
        for m in methods:
            t = median_time(lambda f=f, p=point, m=m: diffx.gradient(f, p, method=m))
            results[m].append(t / base)
    for m in methods:
        print("  " + m.ljust(13) + "".join(f"{r:10.1f}" for r in results[m]))


if __name__ == "__main__":
    main()
