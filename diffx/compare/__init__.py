"""Measure every method on one function at one point: error against the 50-digit reference, time.

    >>> from diffx.compare import compare
    >>> c = compare("sin(x)*exp(x)", at=1.3, methods=["central", "dual"])
    >>> [row.method for row in c.rows]
    ['central', 'dual']

One module per job; this package re-exports their public names:

* :mod:`~diffx.compare.measurement` — one method on one prepared function at one point
  (:func:`measure`, :func:`score`, :class:`ComparisonRow`, :func:`correct_digits`);
* :mod:`~diffx.compare.comparison` — every method at one point as a table (:func:`compare`);
* :mod:`~diffx.compare.sweep` — error against the finite-difference step (:func:`step_sweep`);
* :mod:`~diffx.compare.timings` — per-call time with its spread (:func:`timing`);
* :mod:`~diffx.compare.dimension_scaling` — gradient time against dimension (:func:`scaling`);
* :mod:`~diffx.compare.swell` — symbolic derivative size against depth
  (:func:`expression_swell`);
* :mod:`~diffx.compare.fitting` — log-log slopes (:func:`fit_slope`);
* :mod:`~diffx.compare.formatting` — cells, text and HTML tables, method colours.

Errors are always measured against :mod:`diffx.reference`, never against another engine. Times
are medians over repeated calls after a first (cold) call; the cold call's extra time — SymPy's
``diff`` + ``lambdify``, TensorFlow's tracing — is reported separately as ``setup_seconds``.
"""

from diffx.compare.comparison import Comparison, compare
from diffx.compare.dimension_scaling import (
    SCALING_FAMILIES,
    Scaling,
    ScalingFamily,
    rosenbrock,
    scaling,
)
from diffx.compare.fitting import fit_slope
from diffx.compare.formatting import ERROR_FLOOR, METHOD_COLOURS
from diffx.compare.measurement import (
    MAX_DIGITS,
    ComparisonRow,
    Progress,
    correct_digits,
    measure,
    score,
    warm_up,
)
from diffx.compare.sweep import DEFAULT_STEPS, EPS, SWEEP_METHODS, StepSweep, SweepRow, step_sweep
from diffx.compare.swell import SWELL_FAMILIES, Swell, SwellRow, expression_swell
from diffx.compare.timings import VARIANTS, Timing, TimingRow, timing

__all__ = [
    "DEFAULT_STEPS",
    "EPS",
    "ERROR_FLOOR",
    "MAX_DIGITS",
    "METHOD_COLOURS",
    "SCALING_FAMILIES",
    "SWEEP_METHODS",
    "SWELL_FAMILIES",
    "VARIANTS",
    "Comparison",
    "ComparisonRow",
    "Progress",
    "Scaling",
    "ScalingFamily",
    "StepSweep",
    "SweepRow",
    "Swell",
    "SwellRow",
    "Timing",
    "TimingRow",
    "compare",
    "correct_digits",
    "expression_swell",
    "fit_slope",
    "measure",
    "rosenbrock",
    "scaling",
    "score",
    "step_sweep",
    "timing",
    "warm_up",
]
