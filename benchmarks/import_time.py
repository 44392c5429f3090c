"""Import cost of diffx relative to its unavoidable dependencies (numpy, sympy, mpmath).

Run: python benchmarks/import_time.py   — prints the ratio of medians over 21 fresh interpreters,
the two statements alternating, in two regimes:

- bytecode cached, as after `pip install` or any second import: compiled files go to a
  temporary PYTHONPYCACHEPREFIX, which a warm-up run fills;
- compiling from source every time, as under PYTHONDONTWRITEBYTECODE=1 (set on some machines,
  this one among them), where diffx's own modules cost about 70 ms to compile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from functools import partial

from timing import side_by_side  # benchmarks/timing.py, next to this script

BASE = "import numpy, sympy, mpmath"
OURS = "import diffx"


def _fresh_interpreter(statement: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", statement], check=True, env=env)


def ratio(env: dict[str, str], runs: int = 21) -> float:
    """Median fresh-interpreter time of `import diffx` / that of numpy+sympy+mpmath, the two
    alternating (the warm-up fills the bytecode cache when there is one)."""
    times = side_by_side({"base": partial(_fresh_interpreter, BASE, env),
                          "ours": partial(_fresh_interpreter, OURS, env)}, rounds=runs, inner=1)
    return times["ours"] / times["base"]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as cache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        print(f"bytecode cached:        import diffx / {BASE} = {ratio(cached):.2f}")
    uncached = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    uncached.pop("PYTHONPYCACHEPREFIX", None)
    print(f"compiled every time:    import diffx / {BASE} = {ratio(uncached):.2f}  "
          "(median of 21 each; diffx's own bytecode is not cached)")
