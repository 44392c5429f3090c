"""The numpy corpus (diffx/numpy_corpus.py) is sound test data: enough cases, unique names, each
function finite and warning-free at its point with the declared output kind, and smooth there
unless marked as a kink. This tests only the corpus itself (numpy and mpmath), never an engine.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest

from diffx.numpy_corpus import CASES, NumpyCase, by_name

SMOOTH = [case for case in CASES if not case.kink]


def _evaluate(case: NumpyCase, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return np.asarray(case.func(x))


def _central_difference(case: NumpyCase, i: int, h: float) -> np.ndarray:
    x = np.array(case.point)
    up, down = x.copy(), x.copy()
    up[i] += h
    down[i] -= h
    return (np.asarray(case.func(up)) - np.asarray(case.func(down))) / (2 * h)


def test_there_are_enough_cases_with_unique_snake_case_names():
    names = [case.name for case in CASES]
    assert len(CASES) >= 160
    assert len(set(names)) == len(names)
    assert all(name.isidentifier() and name == name.lower() for name in names)
    assert sum(case.vector_output for case in CASES) >= 20
    assert 5 <= sum(case.kink for case in CASES) <= 10
    assert all(case.note for case in CASES if case.kink)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_function_is_finite_and_warning_free_at_its_point(case):
    assert 1 <= len(case.point) <= 12
    assert all(isinstance(p, float) for p in case.point)
    x = np.array(case.point)
    y = _evaluate(case, x)
    assert np.array_equal(x, np.array(case.point)), "func must not modify its input"
    assert y.dtype == np.float64
    if case.vector_output:
        assert y.ndim == 1 and 1 <= y.size <= 6
    else:
        assert y.shape == ()
    assert np.all(np.isfinite(y))
    assert np.array_equal(_evaluate(case, x), y), "func must be deterministic"


@pytest.mark.parametrize("case", SMOOTH, ids=lambda case: case.name)
def test_smooth_cases_have_consistent_central_differences(case):
    """Two step sizes agree when f is smooth at the point; a kink within 1e-4 would break it."""
    for i in range(len(case.point)):
        coarse = _central_difference(case, i, 1e-4)
        fine = _central_difference(case, i, 1e-5)
        assert np.all(np.abs(coarse - fine) <= 1e-4 * (1 + np.abs(fine))), (case.name, i)


def test_logsumexp_matches_50_digit_mpmath():
    case = by_name("logsumexp")
    with mpmath.workdps(50):
        exact = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(p)) for p in case.point))
        value = float(case.func(np.array(case.point)))
        assert abs(value - exact) / abs(exact) <= 1e-15


def test_by_name_finds_each_case_and_names_an_unknown_one():
    assert all(by_name(case.name) is case for case in CASES)
    with pytest.raises(KeyError, match="no numpy corpus case named 'not_a_case'"):
        by_name("not_a_case")


def test_the_corpus_is_not_imported_by_diffx():
    code = "import sys, diffx; print('diffx.numpy_corpus' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
