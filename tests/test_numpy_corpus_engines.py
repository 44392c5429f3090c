"""Every method on every function of the numpy corpus, each against the 50-digit reference.

:mod:`diffx.numpy_corpus` holds user-style numpy code (losses, MLPs, norms, determinants,
solves, physics energies, piecewise ``np.where`` …). One test per (case, method): the Jacobian
(the gradient of a scalar case as 1 × n) by ``diffx.jacobian(..., full_output=True)`` against
:mod:`diffx.reference` (SymPy ``diff`` at 50 digits of the function traced with symbols, or
``mpmath.diff`` of the function evaluated in mpmath where it branches on values). Never another
engine.

Tolerances: exact methods ``||J − ref||∞ ≤ EXACT_RTOL·||ref||∞`` (1e-13, as in
tests/test_agreement.py); finite differences within their own error estimate (entrywise, with a
floor of 8ε·||ref||∞ for entries whose estimate is 0) times ``ESTIMATE_SAFETY``. Cases built on
a kink or tie (``kink=True``) have no derivative to compare; their conventions are tested per
rule in tests/test_array_rules.py.

A case whose output's shape depends on values (a boolean mask) has no SymPy form: the symbolic
method must refuse it with UnsupportedError, and the reference falls back to mpmath.diff.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import diffx
from diffx.engines.registry import methods
from diffx.errors import UnsupportedError
from diffx.numpy_corpus import CASES, by_name
from diffx.reference import reference_jacobian, reference_value, to_float

EXACT_RTOL = 1e-13
ESTIMATE_SAFETY = 1.0
SMOOTH = [case.name for case in CASES if not case.kink]
EXACT = methods(exact=True)
DATA_DEPENDENT = "data-dependent shape"


@functools.cache
def _reference(name: str) -> np.ndarray:
    case = by_name(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_float(reference_jacobian(case.func, np.array(case.point)))


def _refused(name: str, method: str) -> bool:
    return method == "symbolic" and by_name(name).note == DATA_DEPENDENT


@pytest.mark.parametrize("name", SMOOTH)
def test_reference_traces_the_function_itself(name: str) -> None:
    """The reference's reading of the numpy code (SymPy or mpmath) computes f: its value at
    50 digits rounds to what numpy computes in float64, up to float64's own rounding."""
    case = by_name(name)
    x = np.array(case.point)
    numpy_value = np.ravel(case.func(x))
    if case.vector_output:
        return  # reference_value is for scalar functions; the Jacobian test covers these
    value = float(reference_value(case.func, x))
    assert abs(value - numpy_value[0]) <= 1e-12 * max(1.0, abs(value)), (value, numpy_value)


@pytest.mark.parametrize("method", methods())
@pytest.mark.parametrize("name", SMOOTH)
def test_corpus_jacobian(name: str, method: str) -> None:
    case = by_name(name)
    x = np.array(case.point)
    if _refused(name, method):
        with pytest.raises(UnsupportedError, match=case.name):
            diffx.jacobian(case.func, x, method)
        return
    reference = _reference(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", diffx.errors.DomainWarning)
        estimate = diffx.jacobian(case.func, x, method, full_output=True)
    value = np.atleast_2d(estimate.value)
    assert value.shape == reference.shape
    scale = max(float(np.max(np.abs(reference))), 1e-300)
    error = np.abs(value - reference)
    if method in EXACT:
        assert np.max(error) <= EXACT_RTOL * scale, (
            f"{name}-{method}: relative error {np.max(error) / scale:.2e}")
        return
    allowed = ESTIMATE_SAFETY * np.atleast_2d(estimate.error) + 8 * np.finfo(float).eps * scale
    assert np.all(error <= allowed), (
        f"{name}-{method}: error {np.max(error):.2e} exceeds its estimate "
        f"(worst ratio {np.max(error / allowed):.2f})")
