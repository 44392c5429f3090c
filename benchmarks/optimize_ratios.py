"""A whole optimisation per gradient method, timed side by side in one run.

Run: python benchmarks/optimize_ratios.py [PROBLEM ...]
Default: seed 002's linear regression (10000 GD steps, lr 0.001) and Himmelblau (2000 GD steps).
Prints each method's total time and per-gradient time as ratios to the fastest method, with how
far its path strays from the exact engines' (the table of diffx.optimize.compare_methods).
"""

from __future__ import annotations

import sys

from diffx.optimize import compare_methods


def main(names: list[str]) -> None:
    for name in names or ["linear_regression", "himmelblau"]:
        print(compare_methods(name))
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
