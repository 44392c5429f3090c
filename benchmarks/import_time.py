"""Import cost of diffx relative to its unavoidable dependencies (numpy, sympy, mpmath).

Run: python benchmarks/import_time.py   — prints the ratio of medians over fresh interpreters,
the two statements alternating, in two regimes:

- bytecode cached, as after `pip install` or any second import: compiled files go to a
  temporary PYTHONPYCACHEPREFIX, which a warm-up run fills;
- compiling from source every time, as under PYTHONDONTWRITEBYTECODE=1 (set on some machines,
  this one among them), where diffx's own modules cost about 70 ms to compile.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

BASE = "import numpy, sympy, mpmath"
OURS = "import diffx"


def _seconds(statement: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, env=env)
    return time.perf_counter() - start


def ratio(env: dict[str, str], runs: int = 9) -> float:
    """Median fresh-interpreter time of `import diffx` / that of numpy+sympy+mpmath."""
    for statement in (BASE, OURS):  # warm-up: fills the bytecode cache when there is one
        _seconds(statement, env)
    base, ours = [], []
    for _ in range(runs):
        base.append(_seconds(BASE, env))
        ours.append(_seconds(OURS, env))
    return statistics.median(ours) / statistics.median(base)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as cache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        print(f"bytecode cached:        import diffx / {BASE} = {ratio(cached):.2f}")
    uncached = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    uncached.pop("PYTHONPYCACHEPREFIX", None)
    print(f"compiled every time:    import diffx / {BASE} = {ratio(uncached):.2f}  "
          "(median of 9 each; diffx's own bytecode is not cached)")
