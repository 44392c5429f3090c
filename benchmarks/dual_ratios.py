"""The dual engine against JAX, HIPS autograd and plain numpy: ratios measured in one run.

Run: python benchmarks/dual_ratios.py        (jax and autograd: pip install "diffx[bench]")

1. Scalar derivative of sin(x)·exp(x) at 1.3 through diffx's public API (parsed once) vs
   ``jax.jit(jax.grad(f))`` (compiled once, float64) and ``autograd.grad(f)``, interleaved.
2. JVP of vectorised numpy functions on n = 10⁶ points vs one plain numpy evaluation.
3. Gradient of the n-dimensional Rosenbrock function (a numpy callable), n = 2…1024, with a
   fixed chunk k: passes = ⌈n/k⌉, and the fitted slope of log(time / plain evaluation)
   against log(n) (1 = cost linear in n evaluations, as ⌈n/k⌉ passes predict).
Ratios, not absolute times, are meaningful on a shared machine; each is min-of-repeats, with
the two sides measured alternately so load changes hit both.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import numpy as np

import diffx
from diffx.engines import dual
from diffx.functions import as_function, parse


def _once(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def side_by_side(calls: dict[str, Callable[[], object]], repeats: int, inner: int = 1) -> dict:
    """Best time per call of each, measured in alternation (``inner`` calls per sample)."""
    for call in calls.values():
        call()  # warm-up: compilation, caches
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(_once(lambda c=call: [c() for _ in range(inner)]) / inner)
    return {name: min(times) for name, times in samples.items()}


def scalar_derivative() -> None:
    import autograd
    import autograd.numpy as anp
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    fn = parse("sin(x)*exp(x)")
    jax_grad = jax.jit(jax.grad(lambda x: jnp.sin(x) * jnp.exp(x)))
    autograd_grad = autograd.grad(lambda x: anp.sin(x) * anp.exp(x))
    values = {float(diffx.derivative(fn, 1.3)), float(jax_grad(1.3)), float(autograd_grad(1.3))}
    times = side_by_side({"diffx": lambda: diffx.derivative(fn, 1.3),
                          "jax": lambda: float(jax_grad(1.3)),
                          "autograd": lambda: float(autograd_grad(1.3))}, repeats=30, inner=200)
    print("1. d/dx sin(x)*exp(x) at 1.3 (values agree to "
          f"{max(values) - min(values):.1e}); time per call")
    for name, t in times.items():
        print(f"   {name:<9} {t * 1e6:8.2f} us   diffx is {t / times['diffx']:6.2f}x faster")


JVP_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp(-x**2/2)*tanh(x) + log1p(x**2)": lambda x: np.exp(-0.5 * x**2) * np.tanh(x)
    + np.log1p(x**2),
    "sin(x)*exp(-x**2)": lambda x: np.sin(x) * np.exp(-x**2),
    "sum((x - 1)**2) (a reduction)": lambda x: np.sum((x - 1.0) ** 2),
    "x*x + 3*x (polynomial)": lambda x: x * x + 3.0 * x,
}


def jvp_million() -> None:
    x = np.linspace(-3.0, 3.0, 10**6)
    v = np.ones_like(x)
    print("\n2. JVP on n = 10^6 points: time / plain numpy evaluation")
    for name, f in JVP_FUNCTIONS.items():
        times = side_by_side({"plain": lambda f=f: f(x), "jvp": lambda f=f: dual.jvp(f, x, v)},
                             repeats=15)
        print(f"   {name:<40} {times['jvp'] / times['plain']:5.2f}x"
              f"   (plain {times['plain'] * 1e3:6.2f} ms)")


def rosenbrock(x: np.ndarray) -> object:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def gradient_scaling(chunk: int = 8) -> None:
    sizes = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    fn = as_function(rosenbrock)
    print(f"\n3. Rosenbrock gradient, chunk k = {chunk}: passes = ceil(n/k); "
          f"time / plain evaluation")
    ratios = []
    for n in sizes:
        x = np.linspace(-1.0, 1.0, n)
        times = side_by_side({"plain": lambda x=x: rosenbrock(x),
                              "gradient": lambda x=x: dual.gradient(fn, x, chunk=chunk)},
                             repeats=5 if n >= 256 else 15)
        ratios.append(times["gradient"] / times["plain"])
        print(f"   n={n:<5} passes={math.ceil(n / chunk):<4} ratio={ratios[-1]:9.1f}"
              f"   ratio/passes={ratios[-1] / math.ceil(n / chunk):6.1f}")
    big = [i for i, n in enumerate(sizes) if n >= 4 * chunk]
    slope = statistics.linear_regression([math.log(sizes[i]) for i in big],
                                         [math.log(ratios[i]) for i in big]).slope
    print(f"   fitted slope of log(ratio) vs log(n) for n >= {4 * chunk}: {slope:.2f}"
          f"  (ceil(n/k) passes predict 1)")
    default = side_by_side({"plain": lambda: rosenbrock(np.linspace(-1, 1, 1024)),
                            "gradient": lambda: dual.gradient(fn, np.linspace(-1, 1, 1024))},
                           repeats=5)
    k = dual.chunk_size(fn, 1024)
    print(f"   default chunk at n=1024: k={k}, {math.ceil(1024 / k)} passes, "
          f"ratio {default['gradient'] / default['plain']:.1f}")


def main() -> None:
    scalar_derivative()
    jvp_million()
    gradient_scaling()


if __name__ == "__main__":
    main()
