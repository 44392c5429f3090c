"""Gradient of a vectorised numpy Rosenbrock function: every diffx method beside JAX, HIPS
autograd, TensorFlow and scipy, as time / one plain numpy evaluation (diffx issue 21).

Run: python benchmarks/numpy_gradients.py [--quick] [--json PATH] [--cap SECONDS]
     (jax, autograd, scipy: pip install -e '.[bench]'; each reference is skipped with a note
     when it cannot be imported)

f(x) = Σ 100·(x[1:] − x[:-1]²)² + (1 − x[:-1])², written once in numpy (what diffx gets) and
again in jax.numpy, autograd.numpy and tf ops for the references, at n = 10, 100, 1000, 10 000
(--quick: n = 10, 100 and fewer rounds). The point is seeded (numpy default_rng(21), uniform on
[−1.5, 1.5]).

Per method and n: time of one gradient / time of one plain numpy evaluation of f, best of
samples taken in alternation in this run (benchmarks/timing.py); the error column is
‖g − g_true‖∞ / ‖g_true‖∞ against the closed-form gradient written out by hand below (an
independent truth: a fast wrong answer shows). One call is measured first; a method that
raises prints "refused: <first line of the error>", one whose call exceeds the cap (20 s; also
when the fitted growth predicts more than the cap at the next n) prints "skipped (> cap)" and
is not run at larger n. Calls slower than 1 s are timed once more, not in rounds.

"n-tangent floor": f evaluated on the n points x + e_i·t stacked as an (n, n) array (rows in
blocks of at most 2**22 elements): what forward mode with all n tangents at once must at
least cost, a lower bound for the dual engine.

Last column block: fitted slope of log(time / plain) vs log(n) over the n each method ran
(diffx.compare.fitting.fit_slope): 0 = a constant number of evaluations per gradient (reverse
mode), 1 = n evaluations (forward mode, differences).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from timing import median_time, side_by_side  # benchmarks/timing.py, found next to this script

import diffx
from diffx.compare.fitting import fit_slope

FULL_SIZES = (10, 100, 1000, 10_000)
QUICK_SIZES = (10, 100)
FLOOR_BLOCK_ELEMENTS = 2**22
SLOW_CALL = 1.0  # seconds: slower calls are timed once more instead of in rounds

# label -> (method, keyword arguments) of diffx.gradient
DIFFX_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "diffx dual": ("dual", {}),
    "diffx reverse": ("reverse", {}),
    "diffx tape (eager)": ("tape", {}),
    "diffx tape (graph)": ("tape", {"mode": "graph"}),
    "diffx central": ("central", {}),
    "diffx forward": ("forward", {}),
}


def rosenbrock(x: np.ndarray) -> float:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_gradient(x: np.ndarray) -> np.ndarray:
    """The closed form, shape (n,): ∂/∂x_i of the term i (−400·x_i·(x_{i+1} − x_i²) −
    2·(1 − x_i)) plus of the term i − 1 (200·(x_i − x_{i−1}²))."""
    g = np.zeros_like(x)
    inner = x[1:] - x[:-1] ** 2
    g[:-1] += -400.0 * x[:-1] * inner - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * inner
    return g


def rosenbrock_rows(points: np.ndarray) -> np.ndarray:
    """f of each row of ``points`` (k, n): shape (k,)."""
    return np.sum(100.0 * (points[:, 1:] - points[:, :-1] ** 2) ** 2
                  + (1 - points[:, :-1]) ** 2, axis=1)


def tangent_floor(x: np.ndarray, t: float = 1e-3) -> Callable[[], object]:
    """One evaluation of f on the n points x + e_i·t, in blocks of rows (the (n, n) array of
    n = 10⁴ would take 800 MB per temporary)."""
    n = x.size
    rows = max(1, FLOOR_BLOCK_ELEMENTS // n)
    blocks = [np.tile(x, (min(rows, n - start), 1)) for start in range(0, n, rows)]
    for start, block in zip(range(0, n, rows), blocks):
        block[np.arange(block.shape[0]), start + np.arange(block.shape[0])] += t
    return lambda: [rosenbrock_rows(block) for block in blocks]


def diffx_makers() -> dict[str, Callable[[np.ndarray], Callable[[], object]]]:
    return {label: (lambda x, m=m, kw=kw: lambda: diffx.gradient(rosenbrock, x, method=m, **kw))
            for label, (m, kw) in DIFFX_METHODS.items()}


def reference_makers() -> tuple[dict[str, Callable[[np.ndarray], Callable[[], object]]],
                                list[str]]:
    """Each importable reference: label -> (x -> a call returning its gradient as numpy);
    and a note per reference that could not be imported."""
    makers: dict[str, Callable[[np.ndarray], Callable[[], object]]] = {}
    notes = []
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jax_grad = jax.jit(jax.grad(
            lambda x: jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)))
        makers["jax.jit(jax.grad)"] = lambda x: lambda: np.asarray(jax_grad(x))
    except ImportError as error:
        notes.append(f"jax skipped: {error}")
    try:
        import autograd
        import autograd.numpy as anp

        autograd_grad = autograd.grad(
            lambda x: anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
        makers["autograd.grad"] = lambda x: lambda: autograd_grad(x)
    except ImportError as error:
        notes.append(f"autograd skipped: {error}")
    try:
        import tensorflow as tf

        def tf_gradient(v):
            with tf.GradientTape() as tape:
                tape.watch(v)
                y = tf.reduce_sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)
            return tape.gradient(y, v)

        def tf_graph(x):
            graph = tf.function(tf_gradient, autograph=False,
                                input_signature=[tf.TensorSpec([x.size], tf.float64)])
            return lambda: graph(tf.constant(x)).numpy()

        makers["tf.function tape"] = tf_graph
        makers["tf eager tape"] = lambda x: lambda: tf_gradient(tf.constant(x)).numpy()
    except ImportError as error:
        notes.append(f"tensorflow skipped: {error}")
    try:
        from scipy.optimize import approx_fprime

        makers["scipy approx_fprime"] = lambda x: lambda: approx_fprime(x, rosenbrock)
    except ImportError as error:
        notes.append(f"scipy skipped: {error}")
    return makers, notes


class CallTimeout(Exception):
    """A call ran past the cap (raised by SIGALRM)."""


def first_call(call: Callable[[], object], cap: float) -> tuple[object, float]:
    """The call's result and its seconds; CallTimeout once it runs past ``cap`` (SIGALRM:
    Python code is interrupted at once, a long C call when it returns)."""
    def alarm(signum, frame):
        raise CallTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        start = time.perf_counter()
        result = call()
        return result, time.perf_counter() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def predicted_seconds(done: list[tuple[int, float]], n: int) -> float:
    """Seconds one warm call will take at n, from the warm calls so far (n, seconds): the
    fitted log-log slope of the last two (at least 1), or slope 2 after one (forward mode: n
    passes of O(n)). A first call's one-off cost (tracing, compiling) is left to the alarm."""
    if not done:
        return 0.0
    slope = 2.0 if len(done) == 1 else max(1.0, fit_slope(*zip(*done[-2:])))
    slope = 2.0 if math.isnan(slope) else slope
    n_last, t_last = done[-1]
    return t_last * (n / n_last) ** slope


def measure(call: Callable[[], object], plain: Callable[[], object], seconds: float,
            plain_seconds: float, quick: bool) -> tuple[float, int]:
    """(time of call / time of plain, samples of call): best of samples taken in alternation
    with plain (the best is what load on a shared machine disturbs least), rounds sized so that
    one method takes about 1 s (0.3 s with --quick); a slow call (> SLOW_CALL) once more.

    Each plain sample is a batch of calls about as long as one sample of the method (up to
    2 ms): a lone µs call right after a long one runs on cold caches and freshly mapped pages,
    up to 8× slower than in a loop — and the loop is what "one evaluation" means here."""
    if seconds > SLOW_CALL:
        start = time.perf_counter()
        call()
        return min(seconds, time.perf_counter() - start) / median_time(plain), 1
    budget = 0.3 if quick else 1.0
    inner = max(1, min(20, int(2e-3 / max(seconds, 1e-7))))
    rounds = max(3, min(15 if quick else 40, int(budget / (seconds * inner))))
    batch = max(1, min(int(seconds * inner / plain_seconds), int(2e-3 / plain_seconds)))
    times = side_by_side({"plain": lambda: [plain() for _ in range(batch)], "method": call},
                         rounds=rounds, inner=inner, statistic=min)
    return times["method"] / (times["plain"] / batch), rounds * inner


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def run(sizes: tuple[int, ...], cap: float, quick: bool) -> dict[str, Any]:
    makers = diffx_makers()
    references, notes = reference_makers()
    makers.update(references)
    rng = np.random.default_rng(21)
    results: dict[str, dict[int, dict[str, Any]]] = {label: {} for label in makers}
    results["n-tangent floor"] = {}
    done: dict[str, list[tuple[int, float]]] = {label: [] for label in makers}
    stopped: dict[str, str] = {}
    plain_seconds = {}
    for n in sizes:
        x = rng.uniform(-1.5, 1.5, n)
        truth = rosenbrock_gradient(x)
        plain = lambda x=x: rosenbrock(x)  # noqa: E731
        plain_seconds[n] = median_time(plain)
        floor = tangent_floor(x)
        floor_seconds = median_time(floor, 0.1, 20)
        results["n-tangent floor"][n] = {
            "ratio": measure(floor, plain, floor_seconds, plain_seconds[n], quick)[0]}
        for label, maker in makers.items():
            if label in stopped:
                results[label][n] = {"status": stopped[label]}
                continue
            if predicted_seconds(done[label], n) > cap:
                stopped[label] = "skipped (> cap)"
                results[label][n] = {"status": "skipped (> cap)", "predicted seconds":
                                     predicted_seconds(done[label], n)}
                continue
            call = maker(x)
            try:
                value, seconds = first_call(call, cap)
            except CallTimeout:
                stopped[label] = "skipped (> cap)"
                results[label][n] = {"status": "skipped (> cap)"}
                continue
            except Exception as error:
                results[label][n] = {"status": f"refused: {first_line(error)}"}
                continue
            error = float(np.max(np.abs(np.asarray(value, dtype=float) - truth))
                          / np.max(np.abs(truth)))
            ratio, samples = measure(call, plain, seconds, plain_seconds[n], quick)
            done[label].append((n, ratio * plain_seconds[n]))  # warm: no tracing, compiling
            results[label][n] = {"ratio": ratio, "error": error, "first call s": seconds,
                                 "samples": samples}
        print(f"  n={n} done", flush=True)
    for per_n in results.values():
        ran = [(n, r["ratio"]) for n, r in per_n.items() if "ratio" in r]
        slope = fit_slope(*zip(*ran)) if len(ran) >= 2 else math.nan
        per_n["slope"] = slope if math.isfinite(slope) else None  # None: JSON's null
    return {"sizes": list(sizes), "cap seconds": cap, "plain seconds": plain_seconds,
            "notes": notes, "results": results}


def print_table(report: dict[str, Any]) -> None:
    sizes = report["sizes"]
    print("\nGradient of numpy Rosenbrock: time / one plain numpy evaluation "
          "[max rel. error vs closed form]")
    print("  plain evaluation: " + ", ".join(
        f"n={n}: {1e6 * s:.1f} us" for n, s in report["plain seconds"].items()))
    width = 26
    print(f"  {'method':<22}" + "".join(f"{'n=' + str(n):>{width}}" for n in sizes)
          + f"{'slope':>7}")
    refusals: list[str] = []  # footnotes: the first line of each distinct refusal
    for label, per_n in report["results"].items():
        cells = []
        for n in sizes:
            r = per_n[n]
            if r.get("status", "").startswith("refused"):
                if r["status"] not in refusals:
                    refusals.append(r["status"])
                cells.append(f"refused ({refusals.index(r['status']) + 1})".rjust(width))
            elif "ratio" not in r:
                cells.append(r["status"].rjust(width))
            elif "error" in r:
                cells.append(f"{r['ratio']:10.1f} [{r['error']:8.1e}]".rjust(width))
            else:
                cells.append(f"{r['ratio']:10.1f} (bound)".rjust(width))
        slope = per_n["slope"]
        print(f"  {label:<22}" + "".join(cells)
              + (f"{slope:7.2f}" if slope is not None else f"{'-':>7}"))
    for number, text in enumerate(refusals, 1):
        print(f"  ({number}) {text}")
    for note in report["notes"]:
        print(f"  {note}")
    print(f"  (cap {report['cap seconds']:.0f} s per call; slope: of log(ratio) vs log(n); "
          "error: max|g - g_true| / max|g_true|)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 10, 100 and fewer rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to PATH")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds per call (default 20)")
    args = parser.parse_args()
    start = time.perf_counter()
    report = run(QUICK_SIZES if args.quick else FULL_SIZES, args.cap, args.quick)
    print_table(report)
    print(f"  total {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1)
        print(f"  written {args.json}")


if __name__ == "__main__":
    main()
