"""The dual engine against JAX, HIPS autograd and plain numpy: ratios measured in one run.

Run: python benchmarks/dual_ratios.py        (jax and autograd: pip install "diffx[bench]")
     python benchmarks/dual_ratios.py jvp    (sections 2 and 4 only)

1. Scalar derivative of sin(x)·exp(x) at 1.3 through diffx's public API (parsed once) vs
   ``jax.jit(jax.grad(f))`` (compiled once, float64) and ``autograd.grad(f)``, interleaved.
2. JVP of vectorised numpy functions on n = 10⁶ points vs one plain numpy evaluation: jvp as
   it runs (block by block for these elementwise functions) and on the whole array at once
   (blocks switched off), and a function that is not elementwise (it always takes the whole
   array; its first call also runs the probe). Each in 3 fresh child processes, with the
   default allocator and with glibc keeping freed memory (MALLOC_TRIM_THRESHOLD_ /
   MALLOC_MMAP_THRESHOLD_): there no temporary page-faults, so the ratios show compute alone.
   Page faults per call (getrusage) and peak memory of one call (tracemalloc).
3. Gradient of the n-dimensional Rosenbrock function (a numpy callable), n = 2…1024, with a
   fixed chunk k: passes = ⌈n/k⌉, and the fitted slope of log(time / plain evaluation)
   against log(n) (1 = cost linear in n evaluations, as ⌈n/k⌉ passes predict).
4. The block sizes: jvp / plain for dual_speed.BLOCK_ELEMENTS (elementwise outputs) and
   dual_speed.REDUCTION_BLOCK_ELEMENTS (np.sum / np.mean outputs) from 2**12 to 2**18.
Ratios, not absolute times, are meaningful on a shared machine; each is min-of-repeats, with
the sides measured alternately so load changes hit them all.
"""

from __future__ import annotations

import functools
import json
import math
import os
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Callable

import numpy as np
from timing import side_by_side  # benchmarks/timing.py, found next to this script

import diffx
from diffx.engines import dual, dual_speed
from diffx.functions import as_function, parse

# best time per call of each, measured in alternation (benchmarks/timing.py)
best_side_by_side = functools.partial(side_by_side, inner=1, statistic=min)


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
    times = best_side_by_side({"diffx": lambda: diffx.derivative(fn, 1.3),
                          "jax": lambda: float(jax_grad(1.3)),
                          "autograd": lambda: float(autograd_grad(1.3))}, rounds=30, inner=200)
    print("1. d/dx sin(x)*exp(x) at 1.3 (values agree to "
          f"{max(values) - min(values):.1e}); time per call")
    for name, t in times.items():
        print(f"   {name:<9} {t * 1e6:8.2f} us   diffx is {t / times['diffx']:6.2f}x faster")


JVP_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp(-x**2/2)*tanh(x) + log1p(x**2)": lambda x: np.exp(-0.5 * x**2) * np.tanh(x)
    + np.log1p(x**2),
    "sin(x)*exp(-x**2)": lambda x: np.sin(x) * np.exp(-x**2),
    "sum((x - 1)**2) (a reduction)": lambda x: np.sum((x - 1.0) ** 2),
    "sum(sin(x)*exp(-x**2)) (a reduction)": lambda x: np.sum(np.sin(x) * np.exp(-x**2)),
    "x*x + 3*x (polynomial)": lambda x: x * x + 3.0 * x,
}


NOT_ELEMENTWISE = ("cumsum(sin(x)) (not elementwise)", lambda x: np.cumsum(np.sin(x)))


def whole_array(f: Callable, x: np.ndarray, v: np.ndarray) -> object:
    """dual.jvp with blocks switched off: the whole array at once."""
    size = dual_speed.BLOCK_ELEMENTS
    dual_speed.BLOCK_ELEMENTS = x.size
    try:
        return dual.jvp(f, x, v)
    finally:
        dual_speed.BLOCK_ELEMENTS = size


def peak_megabytes(call: Callable[[], object]) -> float:
    """Peak of numpy's (and Python's) allocations during one call, above what was there."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        call()
        return (tracemalloc.get_traced_memory()[1] - before) / 1e6
    finally:
        tracemalloc.stop()


def page_faults() -> int:
    """Minor page faults of this process so far (pages the OS had to map in on first touch)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def jvp_million_rows(repeats: int = 15) -> list[dict]:
    """Section 2 in this process: per function, each side's time / plain, page faults per
    call and peak MB."""
    x = np.linspace(-3.0, 3.0, 10**6)
    v = np.ones_like(x)
    rows = []
    for name, f in [*JVP_FUNCTIONS.items(), NOT_ELEMENTWISE]:
        calls = {"plain": lambda f=f: f(x), "jvp": lambda f=f: dual.jvp(f, x, v),
                 "whole": lambda f=f: whole_array(f, x, v)}
        if f is NOT_ELEMENTWISE[1]:  # a new callable each time: probed, then the whole array
            calls["first call"] = lambda f=f: dual.jvp(functools.partial(f), x, v)
        row = {"name": name}
        for side in list(calls)[1:]:  # each against plain, in pairs: one side's memory churn
            # changes how often the allocator hands the other fresh pages to fault in
            times = best_side_by_side({"plain": calls["plain"], side: calls[side]}, rounds=repeats)
            row[side] = times[side] / times["plain"]
            row["plain ms"] = times["plain"] * 1e3
        for side in ("plain", "jvp"):
            before = page_faults()
            for _ in range(5):
                calls[side]()
            row[f"faults {side}"] = (page_faults() - before) / 5
        row.update({f"MB {k}": peak_megabytes(calls[k]) for k in ("plain", "jvp", "whole")})
        rows.append(row)
    return rows


def jvp_million(runs: int = 3) -> None:
    """Section 2 in fresh child processes: with the default allocator, then with glibc keeping
    freed memory. A child's ratios depend on when glibc hands back freed memory (then the next
    call faults its pages in again), so each regime runs ``runs`` times and prints ranges."""
    keep = {"MALLOC_TRIM_THRESHOLD_": "1000000000", "MALLOC_MMAP_THRESHOLD_": "1000000000"}
    for title, env in (
            ("2. JVP on n = 10^6 points, default allocator", os.environ),
            ("2b. The same, glibc keeping freed memory (no page faults; MALLOC_TRIM_THRESHOLD_ "
             "and MALLOC_MMAP_THRESHOLD_ = 1e9)", {**os.environ, **keep})):
        results = [json.loads(subprocess.run(
            [sys.executable, __file__, "jvp-section"], env=env, check=True,
            capture_output=True, text=True).stdout) for _ in range(runs)]
        print(f"\n{title}: time / one plain numpy evaluation (min of 15 in each of {runs} "
              f"fresh processes: lowest-highest)")
        print(f"   {'':<40} {'jvp':>11} {'whole':>11}  page faults/call: plain   jvp   "
              f"peak MB: plain jvp whole")

        def span(key: str, i: int, form: str = ".2f", results: list = results) -> str:
            values = [r[i][key] for r in results]
            return f"{min(values):{form}}-{max(values):{form}}"

        for i, row in enumerate(results[0]):
            print(f"   {row['name']:<40} {span('jvp', i):>11} {span('whole', i):>11}  "
                  f"{span('faults plain', i, '.0f'):>22} {span('faults jvp', i, '.0f'):>9}   "
                  f"{row['MB plain']:9.0f} {row['MB jvp']:3.0f} {row['MB whole']:5.0f}"
                  f"   (plain {span('plain ms', i)} ms)")
            if "first call" in row:
                print(f"   {'  its first call (probe + whole array)':<40} "
                      f"{span('first call', i):>11}")


def power_label(size: int) -> str:
    """2**15, 3*2**13: a block size as written in dual_speed.py."""
    k = (size & -size).bit_length() - 1
    return f"2**{k}" if size == 2**k else f"{size >> k}*2**{k}"


def block_sizes(repeats: int = 10) -> None:
    x = np.linspace(-3.0, 3.0, 10**6)
    v = np.ones_like(x)
    sizes = [2**12, 2**13, 2**14, 3 * 2**13, 2**15, 2**16, 2**17, 2**18]
    chosen = dual_speed.BLOCK_ELEMENTS, dual_speed.REDUCTION_BLOCK_ELEMENTS
    print(f"\n4. Block sizes: jvp / plain evaluation (min of {repeats}); chosen BLOCK_ELEMENTS = "
          f"{power_label(chosen[0])}, REDUCTION_BLOCK_ELEMENTS = {power_label(chosen[1])}")
    print(f"   {'':<40}" + "".join(f"{power_label(b):>8}" for b in sizes))
    for name, f in JVP_FUNCTIONS.items():
        setting = "REDUCTION_BLOCK_ELEMENTS" if "reduction" in name else "BLOCK_ELEMENTS"

        def run(f=f, size=0, setting=setting):
            setattr(dual_speed, setting, size)
            return dual.jvp(f, x, v)

        calls = {"plain": lambda f=f: f(x)}
        calls.update({size: functools.partial(run, size=size) for size in sizes})
        try:
            times = best_side_by_side(calls, rounds=repeats)
        finally:
            dual_speed.BLOCK_ELEMENTS, dual_speed.REDUCTION_BLOCK_ELEMENTS = chosen
        print(f"   {name:<40}" + "".join(f"{times[b] / times['plain']:8.2f}" for b in sizes)
              + f"   ({setting})")


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
        times = best_side_by_side({"plain": lambda x=x: rosenbrock(x),
                              "gradient": lambda x=x: dual.gradient(fn, x, chunk=chunk)},
                             rounds=5 if n >= 256 else 15)
        ratios.append(times["gradient"] / times["plain"])
        print(f"   n={n:<5} passes={math.ceil(n / chunk):<4} ratio={ratios[-1]:9.1f}"
              f"   ratio/passes={ratios[-1] / math.ceil(n / chunk):6.1f}")
    big = [i for i, n in enumerate(sizes) if n >= 4 * chunk]
    slope = statistics.linear_regression([math.log(sizes[i]) for i in big],
                                         [math.log(ratios[i]) for i in big]).slope
    print(f"   fitted slope of log(ratio) vs log(n) for n >= {4 * chunk}: {slope:.2f}"
          f"  (ceil(n/k) passes predict 1)")
    default = best_side_by_side({"plain": lambda: rosenbrock(np.linspace(-1, 1, 1024)),
                            "gradient": lambda: dual.gradient(fn, np.linspace(-1, 1, 1024))},
                           rounds=5)
    k = dual_speed.chunk_size(fn, 1024)
    print(f"   default chunk at n=1024: k={k}, {math.ceil(1024 / k)} passes, "
          f"ratio {default['gradient'] / default['plain']:.1f}")


def main() -> None:
    if sys.argv[1:] == ["jvp-section"]:  # a child process of section 2
        print(json.dumps(jvp_million_rows()))
        return
    if sys.argv[1:] != ["jvp"]:
        scalar_derivative()
    jvp_million()
    if sys.argv[1:] != ["jvp"]:
        gradient_scaling()
    block_sizes()


if __name__ == "__main__":
    main()
