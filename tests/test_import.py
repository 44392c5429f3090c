"""`import diffx` stays light: beyond numpy, sympy and mpmath it loads only its own modules and
a few standard-library ones, so TensorFlow, matplotlib and the rest are imported when used.

These are structural checks, exact on any machine. The time ratio itself is a benchmark
(`benchmarks/import_time.py`, about 1.1× the import of numpy+sympy+mpmath): a timed test of it
failed once in CI on a busy machine (1.62), which measured the machine, not diffx.
"""

from __future__ import annotations

import json
import subprocess
import sys

_NEW_MODULES = (
    "import json, sys\n"
    "import numpy, sympy, mpmath\n"
    "before = set(sys.modules)\n"
    "import diffx\n"
    "print(json.dumps(sorted(set(sys.modules) - before)))\n")


def _modules_added_by_import_diffx() -> list[str]:
    out = subprocess.run([sys.executable, "-c", _NEW_MODULES], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def test_heavy_modules_are_not_imported():
    code = ("import sys, diffx; heavy = [m for m in ('tensorflow', 'matplotlib', 'pandas', "
            "'keras', 'scipy', 'IPython', 'panel', 'jax') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""


def test_beyond_numpy_sympy_mpmath_only_diffx_and_the_standard_library_are_loaded():
    added = _modules_added_by_import_diffx()
    assert "diffx" in added  # the check itself works: diffx was not already loaded
    foreign = [name for name in added if name.split(".")[0] != "diffx"
               and name.split(".")[0].lstrip("_") not in sys.stdlib_module_names
               and name.split(".")[0] not in sys.stdlib_module_names]
    assert foreign == []
