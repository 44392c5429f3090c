"""Import cost of diffx relative to its unavoidable dependencies (numpy, sympy, mpmath).

Run: python benchmarks/import_time.py   — prints the ratio of medians over fresh interpreters.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def fresh_import(statement: str, runs: int = 9) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    base = fresh_import("import numpy, sympy, mpmath")
    ours = fresh_import("import diffx")
    print(f"import diffx / import numpy, sympy, mpmath = {ours / base:.2f} (median of 9 each)")
