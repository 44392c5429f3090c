"""numpy code inside a callable under the TensorFlow engines (diffx.engines.tape_arrays): its
ufuncs, array functions, operators and indexing become TensorFlow ops, eager and graph, for
"tape" and "tape-forward" and the tape idioms (jvp, vjp, hvp, batch_jacobian, gradients).

Truth: closed forms written by hand here (never another diffx engine); float64 results within
1e-13 relative error.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import diffx
from diffx.engines import tape
from diffx.errors import NonDifferentiableWarning, UnsupportedError

pytest.importorskip("tensorflow")

TAPES = ("tape", "tape-forward")
MODES = ("eager", "graph")
EXACT_RTOL = 1e-13
BOTH = [pytest.param(m, mode, id=f"{m}-{mode}") for m in TAPES for mode in MODES]


def relative_error(value, ref) -> float:
    value, ref = np.asarray(value, dtype=float), np.asarray(ref, dtype=float)
    scale = np.linalg.norm(ref)
    return float(np.linalg.norm(value - ref) / (scale if scale else 1.0))


def close(value, ref) -> bool:
    return relative_error(value, ref) <= EXACT_RTOL


X5 = np.array([0.3, -0.7, 1.1, 0.45, -1.3])


def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_gradient(x):
    """∂/∂xᵢ: -400xᵢ(xᵢ₊₁ - xᵢ²) - 2(1 - xᵢ) (i < n-1) + 200(xᵢ - xᵢ₋₁²) (i > 0)."""
    g = np.zeros_like(x)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def rosenbrock_hessian(x):
    """Tridiagonal: Hᵢᵢ = 1200xᵢ² - 400xᵢ₊₁ + 2 (i < n-1) + 200 (i > 0); Hᵢ,ᵢ₊₁ = -400xᵢ."""
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        if i < n - 1:
            H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
            H[i, i + 1] = H[i + 1, i] = -400 * x[i]
        if i > 0:
            H[i, i] += 200
    return H


# --------------------------------------------------------------------------------------------
# Gradients, Hessians, derivatives of scalar numpy callables
# --------------------------------------------------------------------------------------------
# (callable, closed-form gradient) at X5
GRADIENTS = {
    "sum sin^2": (lambda x: np.sum(np.sin(x) ** 2), lambda x: np.sin(2 * x)),
    "rosenbrock": (rosenbrock, rosenbrock_gradient),
    "v @ v": (lambda x: x @ x, lambda x: 2 * x),
    "dot A": (lambda x: np.dot(x, np.arange(1.0, 6.0) * x), lambda x: 2 * np.arange(1.0, 6.0) * x),
    "mean exp": (lambda x: np.mean(np.exp(x)), lambda x: np.exp(x) / 5),
    "logsumexp": (lambda x: np.log(np.sum(np.exp(x))),
                  lambda x: np.exp(x) / np.sum(np.exp(x))),
    "relu where": (lambda x: np.sum(np.where(x > 0, x ** 2, 0.0)),
                   lambda x: np.where(x > 0, 2 * x, 0.0)),
    "maximum": (lambda x: np.sum(np.maximum(x, 0.0) * x), lambda x: np.where(x > 0, 2 * x, 0.0)),
    "minimum": (lambda x: np.sum(np.minimum(x, 0.5) ** 2),
                lambda x: np.where(x < 0.5, 2 * x, 0.0)),
    "clip": (lambda x: np.sum(np.clip(x, -1.0, 1.0) ** 3),
             lambda x: np.where(np.abs(x) < 1, 3 * x ** 2, 0.0)),
    "cumsum": (lambda x: np.sum(np.cumsum(x) ** 2),  # ∂/∂xⱼ Σᵢ Sᵢ² = 2 Σ_{i≥j} Sᵢ
               lambda x: 2 * np.cumsum(np.cumsum(x)[::-1])[::-1]),
    "reshape transpose": (lambda x: np.sum(np.transpose(np.reshape(x[:4], (2, 2)))[0] * x[4]),
                          lambda x: np.array([x[4], 0.0, x[4], 0.0, x[0] + x[2]])),
    "concatenate": (lambda x: np.sum(np.concatenate([x, x[:2] ** 2]) ** 2),
                    lambda x: 2 * x + np.r_[4 * x[:2] ** 3, 0.0, 0.0, 0.0]),
    "hstack stack": (lambda x: np.sum(np.hstack([x[:2], np.stack([x[2], x[3] * x[4]])]) ** 2),
                     lambda x: np.array([2 * x[0], 2 * x[1], 2 * x[2], 2 * x[3] * x[4] ** 2,
                                         2 * x[4] * x[3] ** 2])),
    "fancy index": (lambda x: np.sum(x[[0, 2, -1]] ** 2), lambda x: 2 * x * [1, 0, 1, 0, 1]),
    "boolean mask": (lambda x: np.sum(x[x > 0] ** 3), lambda x: np.where(x > 0, 3 * x ** 2, 0)),
    "mask as numpy": (lambda x: np.sum(x[np.array([True, False, True, False, False])]),
                      lambda x: np.array([1.0, 0, 1, 0, 0])),
    "ufuncs": (lambda x: np.sum(np.tanh(x) + np.arctan(x) + np.hypot(x, 2.0) + np.square(x)),
               lambda x: 1 / np.cosh(x) ** 2 + 1 / (1 + x ** 2) + x / np.hypot(x, 2.0) + 2 * x),
    "iterate": (lambda x: sum(xi * xi for xi in x), lambda x: 2 * x),
    "len and ndim": (lambda x: np.sum(x ** 2) * len(x) * x.ndim * x.size, lambda x: 50 * x),
    "abs sign": (lambda x: np.sum(abs(x) * np.sign(x)), lambda x: np.ones(5)),
    "numpy constant left": (lambda x: np.sum(np.arange(5) * x) + np.array(2.0) ** x[0],
                            lambda x: np.arange(5.0) + np.r_[2.0 ** x[0] * math.log(2), 0, 0, 0,
                                                             0]),
}


@pytest.mark.parametrize(("method", "mode"), BOTH)
@pytest.mark.parametrize("name", GRADIENTS)
def test_gradients(name, method, mode) -> None:
    f, exact = GRADIENTS[name]
    g = diffx.gradient(f, X5, method=method, mode=mode)
    assert close(g, exact(X5)), (g, exact(X5))


@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_rosenbrock_hessian(method, mode) -> None:
    assert close(diffx.hessian(rosenbrock, X5, method=method, mode=mode),
                 rosenbrock_hessian(X5))


@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_hessian_of_sum_sin_squared(method, mode) -> None:
    H = diffx.hessian(lambda x: np.sum(np.sin(x) ** 2), X5, method=method, mode=mode)
    assert close(H, np.diag(2 * np.cos(2 * X5)))


@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_derivatives(method, mode) -> None:
    """(e^{sin x})' = cos x·e^{sin x}; '' = (cos²x - sin x)·e^{sin x}."""
    x = 0.7
    d1 = diffx.derivative(lambda t: np.exp(np.sin(t)), x, method=method, mode=mode)
    d2 = diffx.derivative(lambda t: np.exp(np.sin(t)), x, order=2, method=method, mode=mode)
    assert close(d1, math.cos(x) * math.exp(math.sin(x)))
    assert close(d2, (math.cos(x) ** 2 - math.sin(x)) * math.exp(math.sin(x)))


# --------------------------------------------------------------------------------------------
# Vector-valued callables: np.array([...]), lists, tuples, np.stack, array expressions
# --------------------------------------------------------------------------------------------
def _exact_pair_jacobian(v):
    return np.array([[v[1], v[0]], [math.cos(v[0]), 0.0]])


PAIRS = {
    "np.array": lambda v: np.array([v[0] * v[1], np.sin(v[0])]),
    "np.asarray": lambda v: np.asarray([v[0] * v[1], np.sin(v[0])]),
    "list": lambda v: [v[0] * v[1], np.sin(v[0])],
    "tuple": lambda v: (v[0] * v[1], np.sin(v[0])),
    "np.stack": lambda v: np.stack([v[0] * v[1], np.sin(v[0])]),
    "array then ops": lambda v: np.array([v[0], 1.0]) * np.array([v[1], np.sin(v[0])]),
}


@pytest.mark.parametrize(("method", "mode"), BOTH)
@pytest.mark.parametrize("name", PAIRS)
def test_vector_valued_jacobians(name, method, mode) -> None:
    v = np.array([1.2, -0.4])
    J = diffx.jacobian(PAIRS[name], v, method=method, mode=mode)
    assert close(J, _exact_pair_jacobian(v))


@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_matrix_vector_jacobian(method, mode) -> None:
    """F(x) = tanh(W x + b): J = diag(1 - tanh²(Wx + b))·W."""
    W = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.6]])
    b = np.array([0.1, -0.1])
    x = np.array([0.4, -0.3, 0.9])
    J = diffx.jacobian(lambda v: np.tanh(W @ v + b), x, method=method, mode=mode)
    assert close(J, (1 / np.cosh(W @ x + b) ** 2)[:, None] * W)


@pytest.mark.parametrize("mode", MODES)
def test_jvp_vjp_hvp(mode) -> None:
    v = np.array([1.2, -0.4])
    u, w = np.array([0.3, -1.1]), np.array([2.0, 0.5])
    f = PAIRS["np.array"]
    J = _exact_pair_jacobian(v)
    assert close(tape.jvp(f, v, u, mode=mode), J @ u)
    assert close(tape.vjp(f, v, w, mode=mode), w @ J)
    assert close(tape.vjp(f, v, mode=mode), np.ones(2) @ J)
    for how in tape.HVP_STRATEGIES:
        assert close(tape.hvp(rosenbrock, X5, X5[::-1], how=how, mode=mode),
                     rosenbrock_hessian(X5) @ X5[::-1])


def test_batch_jacobian_and_gradients_idioms() -> None:
    """F(x, y) = (x·y, sin x), at B points (rows of ``points``); and the persistent tape."""
    points = np.array([[0.5, 1.5], [-0.3, 0.8], [1.2, -0.4]])
    J = tape.batch_jacobian(lambda v: np.array([v[0] * v[1], np.sin(v[0])]), points)
    assert close(J, np.array([_exact_pair_jacobian(p) for p in points]))
    rows = tape.gradients(lambda x, y: np.array([x * y, np.sin(x)]), [1.2, -0.4])
    assert close(rows, _exact_pair_jacobian([1.2, -0.4]))


def test_float32_dtype() -> None:
    g = diffx.gradient(lambda x: np.sum(np.sin(x) ** 2), X5, method="tape", dtype="float32")
    assert relative_error(g, np.sin(2 * X5)) < 1e-6


# --------------------------------------------------------------------------------------------
# Linear algebra and the kink conventions (TensorFlow's)
# --------------------------------------------------------------------------------------------
def test_maximum_tie_shares_the_derivative() -> None:
    """np.maximum / np.minimum run the table's rows, whose TensorFlow form is differentiated
    as (a + b ± |a − b|)/2: at a tie each argument gets ½ (the table's convention; tf.maximum's
    own gradient would give all of it to a)."""
    g = diffx.gradient(lambda v: np.maximum(2 * v[0], v[1]), [1.0, 2.0], method="tape")
    assert list(g) == [1.0, 0.5]
    g = diffx.gradient(lambda v: np.minimum(v[1], 2 * v[0]), [1.0, 2.0], method="tape")
    assert list(g) == [1.0, 0.5]


def test_abs_at_zero_has_derivative_zero() -> None:
    with pytest.warns(NonDifferentiableWarning):
        assert diffx.derivative(lambda t: np.abs(t), 0.0, method="tape") == 0.0


# --------------------------------------------------------------------------------------------
# Refusals: UnsupportedError naming the numpy function and the engines
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("f", "name"), [
    (lambda x: np.sum(np.sort(x)), "numpy.sort"),
    (lambda x: np.sum(np.floor(x)), "numpy.floor"),
    (lambda x: np.add.reduceat(x, [0, 2]), "numpy.add.reduceat"),
    (lambda x: np.sum(np.sin(x, dtype=np.float64)), "numpy.sin with dtype="),
])
@pytest.mark.parametrize("method", TAPES)
def test_functions_outside_the_tables_are_refused(f, name, method) -> None:
    with pytest.raises(UnsupportedError, match=f"{name}.*tape, tape-forward"):
        diffx.gradient(f, X5, method=method)


def test_index_assignment_and_float_are_refused() -> None:
    def assign(x):
        y = np.zeros(2)
        y[0] = x[0]
        return np.sum(y)

    # numpy refuses a box in a float array (it looks like a sequence to numpy)
    with pytest.raises(UnsupportedError, match="setting an array element"):
        diffx.gradient(assign, X5, method="tape")

    def assign_box(x):
        x[0] = 1.0
        return np.sum(x)

    with pytest.raises(UnsupportedError, match="index assignment"):
        diffx.gradient(assign_box, X5.copy(), method="tape")  # numpy's run assigns
    with pytest.raises(UnsupportedError, match="float"):
        diffx.gradient(lambda x: math.sin(x[0]), X5, method="tape")


def test_a_branch_on_values_works_eagerly_and_is_refused_in_graph_mode() -> None:
    def f(x):
        return x[0] ** 2 if x[0] > 0 else -x[0]

    assert diffx.gradient(f, [0.5, 1.0], method="tape")[0] == 1.0
    with pytest.raises(UnsupportedError, match=r"np\.where"):
        diffx.gradient(f, [0.5, 1.0], method="tape", mode="graph")


def test_import_diffx_still_does_not_import_tensorflow() -> None:
    code = ("import sys, diffx, diffx.engines.tape, numpy as np; "
            "diffx.gradient(lambda x: np.sum(np.sin(x)), [1.0], method='dual'); "
            "print('tensorflow' in sys.modules, 'diffx.engines.tape_arrays' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False False"


# --------------------------------------------------------------------------------------------
# ndarray's methods (diffx.array_rules.NumpyMethods) and the table's newer kinds
# --------------------------------------------------------------------------------------------
METHODS = {
    ".sum() .T .reshape": (lambda x: (x[:4].reshape(2, 2).T * np.array([1.0, 2.0])).sum()
                           + x.sum(), lambda x: np.array([2.0, 2.0, 3.0, 3.0, 1.0])),
    ".mean(axis) .dot": (lambda x: x[:4].reshape((2, 2)).mean(axis=0).dot(x[:2]),
                         # ((x0 + x2)x0 + (x1 + x3)x1)/2
                         lambda x: np.array([x[0] + x[2] / 2, x[1] + x[3] / 2, x[0] / 2,
                                             x[1] / 2, 0.0])),
    ".flatten .squeeze .astype .ravel": (
        lambda x: np.sum(x[None, :].squeeze().astype(float).flatten().ravel() ** 2),
        lambda x: 2 * x),
    ".clip .cumsum": (lambda x: x.clip(-1.0, 1.0).cumsum()[-1], lambda x: np.where(
        np.abs(x) < 1, 1.0, 0.0)),
}


@pytest.mark.parametrize(("method", "mode"), BOTH)
@pytest.mark.parametrize("name", METHODS)
def test_array_methods(name, method, mode) -> None:
    f, exact = METHODS[name]
    assert close(diffx.gradient(f, X5, method=method, mode=mode), exact(X5))


def _in_table(function) -> pytest.MarkDecorator:
    from diffx.array_rules import ARRAY_RULES

    return pytest.mark.skipif(function not in ARRAY_RULES,
                              reason=f"{function.__name__} has no entry in ARRAY_RULES yet")


A4 = np.array([1.3, -0.4, 0.7, 2.1])  # the matrix [[1.3, -0.4], [0.7, 2.1]], row by row


@_in_table(np.linalg.det)
@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_det_slogdet(method, mode) -> None:
    """det [[a, b], [c, d]] = ad - bc: ∇ = (d, -c, -b, a); log|det|: that / det."""
    a, b, c, d = A4
    grad = np.array([d, -c, -b, a])
    g = diffx.gradient(lambda x: np.linalg.det(np.reshape(x, (2, 2))), A4, method=method,
                       mode=mode)
    assert close(g, grad)
    g = diffx.gradient(lambda x: np.linalg.slogdet(np.reshape(x, (2, 2)))[1], A4,
                       method=method, mode=mode)
    assert close(g, grad / (a * d - b * c))


@_in_table(np.linalg.solve)
@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_solve_and_inv(method, mode) -> None:
    """Σ A⁻¹x over x: ∇ = A⁻ᵀ1; Σ inv(A) as a function of A's entries: -(A⁻ᵀ 1)(1ᵀA⁻ᵀ)."""
    A = np.array([[2.0, 0.5], [-0.3, 1.5]])
    x = np.array([0.4, -1.2])
    g = diffx.gradient(lambda v: np.sum(np.linalg.solve(A, v)), x, method=method, mode=mode)
    assert close(g, np.linalg.inv(A).T @ np.ones(2))
    Ai = np.linalg.inv(A)
    g = diffx.gradient(lambda v: np.sum(np.linalg.inv(np.reshape(v, (2, 2)))), A.ravel(),
                       method=method, mode=mode)
    assert close(g, -np.outer(Ai.T @ np.ones(2), np.ones(2) @ Ai.T).ravel())


@_in_table(np.max)
@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_max_and_min(method, mode) -> None:
    """∇ max = the indicator of the maximum; at a tie TensorFlow shares it equally."""
    assert close(diffx.gradient(lambda x: np.max(x), X5, method=method, mode=mode),
                 [0, 0, 1, 0, 0])
    assert close(diffx.gradient(lambda x: x.min(), X5, method=method, mode=mode),
                 [0, 0, 0, 0, 1])
    assert close(diffx.gradient(lambda x: np.max(x), [1.0, 3.0, 3.0], method=method,
                                mode=mode), [0, 0.5, 0.5])


@_in_table(np.prod)
@pytest.mark.parametrize(("method", "mode"), BOTH)
def test_prod(method, mode) -> None:
    """∂/∂xᵢ Π x = Πⱼ≠ᵢ xⱼ, exact at a zero entry too."""
    x = np.array([0.5, -2.0, 3.0])
    assert close(diffx.gradient(lambda v: np.prod(v), x, method=method, mode=mode),
                 [-6.0, 1.5, -1.0])
    assert close(diffx.gradient(lambda v: v.prod(), [0.0, 2.0, 3.0], method=method,
                                mode=mode), [6.0, 0.0, 0.0])


# --------------------------------------------------------------------------------------------
# Every entry of the array rule table: tests/test_array_rules.py's cases (values and Jacobians
# against 50-digit mpmath) under the TensorFlow engines. Its tie and refusal tests are the dual
# engine's conventions and wording: here TensorFlow's apply (see the kink tests above).
# --------------------------------------------------------------------------------------------
def _array_rule_cases():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "array_rule_cases", Path(__file__).with_name("test_array_rules.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


RULES = _array_rule_cases()


@pytest.mark.parametrize("method", TAPES)
@pytest.mark.parametrize("case", RULES.CASES, ids=[c.name for c in RULES.CASES])
def test_every_array_rule_against_mpmath(case, method) -> None:
    x = np.array(case.x)
    _, jacobian = RULES.truth(case.reference, x)
    got = diffx.jacobian(case.f, x, method=method, mode="graph" if len(case.name) % 2 else "eager")
    RULES.assert_close(got, jacobian, case.rtol * RULES.condition(case), "jacobian")
