"""`import diffx` stays light: no TensorFlow, no matplotlib, and little time beyond numpy+sympy."""

from __future__ import annotations

import subprocess
import sys
import time


def _fresh_import_seconds(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - start


def test_heavy_modules_are_not_imported():
    code = ("import sys, diffx; heavy = [m for m in ('tensorflow', 'matplotlib', 'pandas', "
            "'keras') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""


def test_import_time_within_1_5x_of_numpy_and_sympy():
    # A guard required by the core issue, not a benchmark: the minimum over 5 fresh
    # interpreters is robust to a noisy machine, and the measured ratio is ~1.1 (see
    # benchmarks/import_time.py), far from the 1.5 limit.
    base = min(_fresh_import_seconds("import numpy, sympy, mpmath") for _ in range(5))
    ours = min(_fresh_import_seconds("import diffx") for _ in range(5))
    assert ours / base <= 1.5, (ours, base)
