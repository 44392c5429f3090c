"""A numpy callable under the tape vs the same function written in tf.*, side by side in one run.

Run: python benchmarks/tape_numpy.py

Numpy calls inside a callable reach TensorFlow through diffx.engines.tape_arrays.TensorBox
(eager: its dispatch runs on every call; graph: only at tracing). The issue's target: the
numpy callable costs <= 1.5x the same function in tf.*, eager and graph, at n = 10, 1e3, 1e5.

Columns (gradient of f at x in R^n, ``method="tape"``; medians of alternated samples):
  numpy/tf     diffx.gradient on the numpy callable / diffx.gradient on the tf.* callable
               (the same diffx path: the target);
  numpy/hand   diffx.gradient on the numpy callable / the tf.* gradient written by hand (eager:
               a GradientTape; graph: the concrete function of a tf.function, fed a constant).

Measured (two runs, shared 2-core machine): numpy/tf 0.94-1.08 eager, 0.96-1.25 graph (the
graph gap at n = 10 is ~40 us per call); numpy/hand 1.03-1.6 eager, 1.23-1.82 graph, the same
as tf/hand: diffx.gradient's own work (input checks, the bad-point policy), not the numpy.
Before TensorBox (numpy ufuncs on elementwise Boxed scalars): 3.2 ms at n = 10 (5x the tf.*
callable), 232 ms at n = 1000 (350x; 1709 ms in the issue's run), graph mode failed.
"""

from __future__ import annotations

import numpy as np
from timing import side_by_side  # benchmarks/timing.py

import diffx
from diffx.engines import tape as T


def functions(tf) -> dict[str, tuple]:
    """name -> (numpy callable, the same in tf.*)."""
    def sin2_np(x):
        return np.sum(np.sin(x) ** 2)

    def sin2_tf(x):
        return tf.reduce_sum(tf.sin(x) ** 2)

    def rosenbrock_np(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    def rosenbrock_tf(x):
        return tf.reduce_sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    return {"sum sin^2": (sin2_np, sin2_tf), "rosenbrock": (rosenbrock_np, rosenbrock_tf)}


def by_hand(tf, f, n: int, mode: str):
    def gradient(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = f(v)
        return tape.gradient(y, v)

    if mode == "eager":
        return gradient
    return tf.function(gradient, input_signature=[tf.TensorSpec([n], tf.float64)],
                       autograph=False).get_concrete_function()


def main() -> None:
    tf = T.tensorflow()
    print("gradient of a numpy callable under method='tape' vs the same written in tf.*")
    print(f"   {'function':<11} {'mode':<6} {'n':>7} {'numpy (ms)':>11} {'tf (ms)':>9} "
          f"{'hand (ms)':>10} {'numpy/tf':>9} {'numpy/hand':>11}")
    worst = {}
    for name, (f_np, f_tf) in functions(tf).items():
        for mode in ("eager", "graph"):
            for n in (10, 1000, 100_000):
                x = np.linspace(-1.0, 1.0, n)
                hand = by_hand(tf, f_tf, n, mode)
                calls = {
                    "numpy": lambda x=x, m=mode, f=f_np: diffx.gradient(f, x, "tape", mode=m),
                    "tf": lambda x=x, m=mode, f=f_tf: diffx.gradient(f, x, "tape", mode=m),
                    "hand": lambda x=x, h=hand: h(tf.constant(x)).numpy(),
                }
                t = side_by_side(calls, rounds=15 if n == 100_000 else 30, inner=3)
                ratio = t["numpy"] / t["tf"]
                worst[mode] = max(worst.get(mode, 0.0), ratio)
                print(f"   {name:<11} {mode:<6} {n:>7} {1e3 * t['numpy']:>11.3f} "
                      f"{1e3 * t['tf']:>9.3f} {1e3 * t['hand']:>10.3f} {ratio:>9.2f} "
                      f"{t['numpy'] / t['hand']:>11.2f}")
    print(f"   worst numpy/tf: eager {worst['eager']:.2f}, graph {worst['graph']:.2f} "
          f"(target <= 1.5)")


if __name__ == "__main__":
    main()
