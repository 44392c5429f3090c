"""Every method on every function of the numpy corpus, each against the 50-digit reference.

:mod:`diffx.numpy_corpus` holds user-style numpy code (losses, MLPs, norms, determinants,
solves, physics energies, piecewise ``np.where`` …). One test per (case, method): the Jacobian
(the gradient of a scalar case as 1 × n) by ``diffx.jacobian(..., full_output=True)`` against
:mod:`diffx.reference` (SymPy ``diff`` at 50 digits of the function traced with symbols, or
``mpmath.diff`` of the function evaluated in mpmath where it branches on values). Never another
engine.

Tolerances: exact methods ``||J − ref||∞ ≤ EXACT_RTOL·||ref||∞`` (1e-13, as in
tests/test_agreement.py); finite differences within their own error estimate (entrywise, with a
floor of ``ROUNDING_FLOOR``·||ref||∞) times ``ESTIMATE_SAFETY``. Cases built on
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
# finite differences: the estimate is of the error's size (step doubling, the noise measured),
# not a bound; measured worst ratio error/estimate over the corpus 1.51 (gram_matrix_logdet,
# forward), so twice the estimate
ESTIMATE_SAFETY = 2.0
SMOOTH = [case.name for case in CASES if not case.kink]
EXACT = methods(exact=True)
DATA_DEPENDENT = "data-dependent shape"
# Cases no tracing reader can take, so the reference refuses them too (and finite differences,
# which only evaluate f, have no truth to be held to): the refusal must name the function
NO_REFERENCE = {
    "det_2x2_literal": "np.linalg.det of np.array([[a, b], [c, d]]) of traced scalars: numpy "
                       "never hands an object array's linalg to diffx (np.stack would)",
    "matrix_of_scalars_det": "the same",
    "inverse_quadratic": "the same, np.linalg.inv",
    "trace_of_inverse_literal": "the same, np.linalg.inv",
    "spectral_norm": "np.linalg.norm(matrix, 2): the largest singular value, not in the table",
    "matrix_one_norm": "np.linalg.norm(matrix, 1): not in the table",
    "logaddexp2_reduce": "np.logaddexp2.reduce: ufunc methods other than a call are refused",
}
# Known limits of the symbolic method on smooth cases, each refused with a clear error
SYMBOLIC_REFUSES = {
    "quantile_loss": "SymPy recurses too deeply on its nested Piecewise",
    "clip_ufunc_softplus": "lambdify prints np.maximum's Piecewise as an np.select numpy "
                           "refuses",
    "power_iteration_eigenvalue": "expression swell: its formula written out is too large",
    "matrix_exponential_series": "expression swell: its formula written out is too large",
}
# complex step's estimate is ε·|f'| (no subtraction); f's own rounding, amplified through a
# sum of many terms, reaches a few ε more: measured worst 5.1e-15 on michalewicz (|f'| ≈ 2)
ROUNDING_FLOOR = 32 * np.finfo(float).eps
COMPLEX_UNSUPPORTED = "not supported for the input types"  # numpy's words: no complex loop
COMPLEX_STEP_RUNS_AT_LEAST = 120  # of the smooth cases; the others use abs, max, std, norm …


@functools.cache
def _reference(name: str) -> np.ndarray:
    case = by_name(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_float(reference_jacobian(case.func, np.array(case.point)))


def _refused(name: str, method: str) -> bool:
    return method == "symbolic" and (by_name(name).note == DATA_DEPENDENT
                                     or name in SYMBOLIC_REFUSES)


def _complex_step_refuses(name: str) -> bool:
    """Does the case use an operation whose numpy form on complex input is not
    complex-analytic (the tape's record of it says so, independently of complex step)?"""
    case = by_name(name)
    from diffx.functions import as_function
    from diffx.recording import record

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tape = record(as_function(case.func), np.array(case.point))
        except Exception:  # not recordable: complex step has nothing to refuse by
            return False
        return bool(tape.not_complex_analytic())


@pytest.mark.parametrize("name", SMOOTH)
def test_reference_traces_the_function_itself(name: str) -> None:
    """The reference's reading of the numpy code (SymPy or mpmath) computes f: its value at
    50 digits rounds to what numpy computes in float64, up to float64's own rounding."""
    case = by_name(name)
    if name in NO_REFERENCE:
        with pytest.raises(UnsupportedError):
            reference_jacobian(case.func, np.array(case.point))
        return
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
    if name in NO_REFERENCE:
        if method in methods(needs_tracing=True):
            with pytest.raises(UnsupportedError):
                diffx.jacobian(case.func, x, method)
            return
        pytest.skip(f"no reference: {NO_REFERENCE[name]}")
    if _refused(name, method) or (method == "complex-step" and _complex_step_refuses(name)):
        with pytest.raises(UnsupportedError, match=case.name):
            diffx.jacobian(case.func, x, method)
        return
    reference = _reference(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", diffx.errors.DomainWarning)
        try:
            estimate = diffx.jacobian(case.func, x, method, full_output=True)
        except UnsupportedError as refusal:
            # numpy itself has no complex loop for some ufuncs (radians, logaddexp): refused
            if method == "complex-step" and COMPLEX_UNSUPPORTED in str(refusal):
                return
            raise
    value = np.atleast_2d(estimate.value)
    assert value.shape == reference.shape
    scale = float(np.max(np.abs(reference))) or 1.0  # an exactly zero derivative: absolute
    error = np.abs(value - reference)
    if method in EXACT:
        assert np.max(error) <= EXACT_RTOL * scale, (
            f"{name}-{method}: relative error {np.max(error) / scale:.2e}")
        return
    allowed = ESTIMATE_SAFETY * np.atleast_2d(estimate.error) + ROUNDING_FLOOR * scale
    assert np.all(error <= allowed), (
        f"{name}-{method}: error {np.max(error):.2e} exceeds its estimate "
        f"(worst ratio {np.max(error / allowed):.2f})")


def test_complex_step_runs_on_most_of_the_corpus() -> None:
    """complex-step's refusals above are not a blanket: it differentiates most cases."""
    runs = [name for name in SMOOTH if name not in NO_REFERENCE
            and not _complex_step_refuses(name)]
    assert len(runs) >= COMPLEX_STEP_RUNS_AT_LEAST, len(runs)
