"""The seed notebooks' worked values (shared/seeds/000-003), each checked against mathematics.

Every expected value here is a closed form (evaluated in mpmath at 50 digits where it is not an
integer) or a number a seed printed; diffx's engines are held to the closed form, and the seeds'
printed float32 numbers are held to the closed form within float32 rounding.

float32 yardsticks: a float32 has a 24-bit significand, so one unit in the last place (ulp) is
2**-23 relative at most and a correctly rounded result is within half an ulp. The seeds print
float32 values in the shortest decimal that identifies the float32, so ``np.float32(printed)``
recovers the exact float32 the seed computed. A forward-and-backward pass of a handful of float32
operations (sigmoid, subtraction, square, products) lands within ``F32_ULPS = 2`` ulps of the
exact value; two float32 computations of the same formula (the seed's TF 2.x on a GPU, TF 2.21 on
this CPU, possibly other operation order) agree within 1 ulp in every case below.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import diffx
from diffx import catalog
from diffx.engines import methods

EXACT = methods(exact=True)  # read from the registry: every method exact up to rounding
NUMERIC = methods(family="numeric")
EXACT_RTOL = 1e-13
EPS = float(np.finfo(float).eps)
SAFETY = 10.0
F32_ULPS = 2


def fd_bound(method: str, s: float, M0: float, M1: float, M2: float, M3: float) -> float:
    """Textbook bound on the absolute error of a first derivative by ``method`` with its
    default step (s = max(|x|, 1); Mk = |f^(k)(x)| along the coordinate):

    forward/backward h = √ε·s:       h·M2/2 + 2ε·M0/h   (truncation + rounding)
    central          h = ∛ε·s:       h²·M3/6 + ε·M0/h
    richardson       finest ε^(1/5)·s: 2ε·M0/h           (rounding; truncation extrapolated away)
    complex-step     h = 1e-100:     ε·M1               (no subtraction: rounding of f' only)
    """
    if method in ("forward", "backward"):
        h = EPS**0.5 * s
        return h * M2 / 2 + 2 * EPS * M0 / h
    if method == "central":
        h = EPS ** (1 / 3) * s
        return h**2 * M3 / 6 + EPS * M0 / h
    if method == "richardson":
        return 2 * EPS * M0 / (EPS**0.2 * s)
    return EPS * M1


def assert_matches(value, exact, method: str, bounds=None) -> None:
    """Exact engines: relative error <= 1e-13. Numeric: within SAFETY x the textbook bound,
    entry by entry (plus 4ε|exact| for the rounding of the exact value itself)."""
    value = np.asarray(value, dtype=float)
    exact = np.asarray(exact, dtype=float)
    if method in EXACT:
        error = np.linalg.norm(value - exact) / np.linalg.norm(exact)
        assert error <= EXACT_RTOL, (method, value, exact, error)
    else:
        allowed = SAFETY * np.asarray(bounds) + 4 * EPS * np.abs(exact)
        assert np.all(np.abs(value - exact) <= allowed), (method, value, exact, allowed)


def within_f32_ulps(printed: float, exact: float, ulps: int = F32_ULPS) -> bool:
    """Is the float32 a seed printed within ``ulps`` float32 ulps of the exact value?"""
    f = np.float32(printed)
    return abs(float(f) - exact) <= ulps * float(np.spacing(np.abs(f)))


def sigma(z):
    return 1 / (1 + mpmath.exp(-z))


# --------------------------------------------------------------------------------------------
# seed 002: d/dx (3x³ + x²) = 9x² + 2x, at 10: 920
# seed 003: d/dx (x² + x³ + 5) at 2 = 2x + 3x² = 16
# --------------------------------------------------------------------------------------------
POLYNOMIALS = {
    # name: (expression, x, f, f', f'', f''')   — f'' and f''' feed the finite-difference bounds
    "seed_cubic": ("3*x**3 + x**2", 10.0, 3100.0, 920.0, 182.0, 18.0),
    "seed_poly": ("x**2 + x**3 + 5", 2.0, 17.0, 16.0, 14.0, 6.0),
    "seed_quadratic": ("x**2 - 20*x + 100", 50.0, 1600.0, 80.0, 2.0, 0.0),
}


@pytest.mark.parametrize("method", diffx.METHODS)
@pytest.mark.parametrize("name", list(POLYNOMIALS))
def test_polynomial_seed_derivatives(name: str, method: str) -> None:
    expression, x, f0, f1, f2, f3 = POLYNOMIALS[name]
    entry = catalog.get(name)
    assert entry.expression == expression and entry.point == (x,)
    value = diffx.derivative(expression, x, method)
    if method in EXACT:
        # integer polynomial at an integer point: every intermediate value is an exactly
        # representable integer, so exact engines give exactly 920 / 16 / 80
        assert value == f1
    else:
        assert_matches(value, f1, method, fd_bound(method, max(abs(x), 1), f0, f1, f2, f3))


@pytest.mark.parametrize("method", ["tape", "tape-forward"])
def test_seed_002_and_003_in_float32_print_920_and_16(method: str) -> None:
    # the seeds print tf.Tensor(920.0, dtype=float32) and tf.Tensor([16.], dtype=float32);
    # all intermediate values are small integers, exact in float32 too
    assert diffx.derivative("3*x**3 + x**2", 10.0, method, dtype="float32") == 920.0
    assert diffx.derivative("x**2 + x**3 + 5", 2.0, method, dtype="float32") == 16.0


# --------------------------------------------------------------------------------------------
# seed 003: Himmelblau, gradient at (0, 0) and the first gradient-descent step
# --------------------------------------------------------------------------------------------
HIMMELBLAU = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"


def himmelblau_gradient(x: float, y: float) -> np.ndarray:
    return np.array([4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
                     2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)])


def test_himmelblau_closed_form_at_origin() -> None:
    np.testing.assert_array_equal(himmelblau_gradient(0.0, 0.0), [-14.0, -22.0])


@pytest.mark.parametrize("method", diffx.METHODS)
def test_himmelblau_gradient_at_origin(method: str) -> None:
    value = diffx.gradient(HIMMELBLAU, [0.0, 0.0], method)
    assert value.shape == (2,)
    if method in EXACT:
        np.testing.assert_array_equal(value, [-14.0, -22.0])  # integers all the way
    else:
        # f = 170; along x: f_xx = 12x² + 4y - 42 = -42, f_xxx = 24x = 0;
        # along y: f_yy = 4x + 12y² - 26 = -26, f_yyy = 24y = 0
        bounds = [fd_bound(method, 1.0, 170.0, 14.0, 42.0, 0.0),
                  fd_bound(method, 1.0, 170.0, 22.0, 26.0, 0.0)]
        assert_matches(value, [-14.0, -22.0], method, bounds)


@pytest.mark.parametrize("method", ["symbolic", "dual", "tape", "tape-forward", "complex-step"])
def test_himmelblau_first_descent_step_reproduces_the_seed(method: str) -> None:
    # seed 003 prints "step 0: x = [0.014 0.022], pred = 170.0" (TF) and, for the same float32
    # computation in PyTorch, x = [0.014000000432133675, 0.02200000174343586]: the float32
    # update x1 = 0 - float32(0.001) * grad. Those two doubles are exactly the float32 values.
    grad = diffx.gradient(HIMMELBLAU, [0.0, 0.0], method).astype(np.float32)
    x1 = np.float32(0.0) - np.float32(0.001) * grad
    assert [float(v) for v in x1] == [0.014000000432133675, 0.02200000174343586]
    assert np.allclose(x1, [0.014, 0.022], rtol=0, atol=5e-4)  # TF's 3-digit print
    assert float(diffx.parse(HIMMELBLAU)(0.0, 0.0)) == 170.0  # pred = 170.0


# --------------------------------------------------------------------------------------------
# seed 000: c(a) = mean(3(a + 2)²) over a 2x2 array, gradient 3(a + 2)/2
# --------------------------------------------------------------------------------------------
SEED_A = np.array([0.83705306, 0.6542785, 0.80893373, 0.13885796])  # "a=" as printed (In [6])
SEED_B = np.array([24.14661, 21.135582, 23.670326, 13.724138])        # "b=" (In [6]), same a
SEED_C = 20.669163                                                     # "mean" (In [7]), same a
# In [8] draws a NEW x = tf.random.uniform([2, 2]) and never prints it; these are its gradients:
SEED_DY_DX = np.array([4.1359673, 3.4799776, 3.4273653, 3.6203592])   # tape gradient of y
SEED_MANUAL = np.array([4.1359673, 3.4799776, 3.4273653, 3.6203594])  # 3 * (x + 2) / 2
SEED_DB_DX = np.array([16.543869, 13.91991, 13.709461, 14.481437])    # tape gradient of b


def mean_cost(v):
    return sum(3 * (v[i] + 2) ** 2 for i in range(4)) / 4


@pytest.mark.parametrize("method", diffx.METHODS)
def test_mean_cost_gradient_at_the_seed_a(method: str) -> None:
    exact = 3 * (SEED_A + 2) / 2
    value = diffx.gradient(mean_cost, SEED_A, method)
    assert value.shape == (4,)
    # c ≈ 20.67; along each a_i: c'' = 6/4 = 1.5, c''' = 0 (a quadratic)
    bounds = [fd_bound(method, 1.0, 20.67, e, 1.5, 0.0) for e in exact]
    assert_matches(value, exact, method, bounds)


def test_mean_cost_seed_values_at_a_are_reproduced() -> None:
    """b and c were printed for the same a: they match 3(a+2)² and its mean within float32
    rounding (the seed computed in float32; 2 ulps, module docstring)."""
    exact_b = 3 * (SEED_A + 2) ** 2
    assert all(within_f32_ulps(p, e) for p, e in zip(SEED_B, exact_b)), (SEED_B, exact_b)
    assert within_f32_ulps(SEED_C, float(np.mean(exact_b)))
    assert float(mean_cost(SEED_A)) == pytest.approx(float(np.mean(exact_b)), rel=1e-15)


def test_mean_cost_printed_gradient_is_not_at_a() -> None:
    """The printed gradient CANNOT be reproduced from the printed a: In [8] differentiates at a
    fresh random x (tf.random.uniform again, unseeded) that is never printed.

    What can be checked: 3(a+2)/2 at the printed a is far from the printed gradient; the
    printed gradient is 3(x+2)/2 for an x = 2g/3 - 2 inside [0, 1)⁴, the range of
    tf.random.uniform; diffx's float32 tape at that x reproduces the print to 1 ulp; the
    printed db/dx (gradient of the sum of b = 3(x+2)²) is 6(x+2) = 4 x the printed dy/dx; and the
    "manually expressed" 3(x+2)/2 differs from the tape's value by one float32 ulp in its last
    entry (3.6203594 vs 3.6203592), float32 rounding of two different formulas.
    """
    at_a = 3 * (SEED_A + 2) / 2
    assert np.all(np.abs(at_a - SEED_DY_DX) > 0.05)
    x = 2 * SEED_DY_DX / 3 - 2
    assert np.all((0 <= x) & (x < 1)), x
    tape32 = diffx.gradient(mean_cost, x, "tape", dtype="float32")
    for got, printed in zip(tape32, SEED_DY_DX):
        assert abs(np.float32(got) - np.float32(printed)) <= np.spacing(np.float32(printed))
    for db, dy in zip(SEED_DB_DX, SEED_DY_DX):
        # 4·dy is exact in float32 (a power of two), so they agree to the float32 ulp of db
        assert abs(np.float32(db) - 4 * np.float32(dy)) <= np.spacing(np.float32(db))
    difference = np.abs(SEED_MANUAL.astype(np.float32) - SEED_DY_DX.astype(np.float32))
    assert np.array_equal(difference[:3], [0, 0, 0])
    assert difference[3] == np.spacing(np.float32(3.6203592))


# --------------------------------------------------------------------------------------------
# seed 000: the sigmoid neuron, error = (y - σ(wx + b))², x = 1.5, y = 0.2 at b = -2, w = 3
# --------------------------------------------------------------------------------------------
NEURON = "(0.2 - sigmoid(w*1.5 + b))**2"  # variables sorted: (b, w)
SEED_H, SEED_DB, SEED_DW = 0.9241418, 0.10153006, 0.15229508  # In [9], float32 prints


def neuron_closed_form() -> tuple[mpmath.mpf, list[mpmath.mpf]]:
    """h = σ(wx + b) = σ(2.5); dE/d(b, w) = 2(h - y)·h(1 - h)·(1, x), at 50 digits."""
    with mpmath.workdps(50):
        x, y = mpmath.mpf("1.5"), mpmath.mpf("0.2")  # the expression's decimals, exactly
        h = sigma(3 * x - 2)
        common = 2 * (h - y) * h * (1 - h)
        return h, [common, common * x]


def test_neuron_closed_form_values() -> None:
    h, (_db, _dw) = neuron_closed_form()
    assert float(h) == pytest.approx(1 / (1 + math.exp(-2.5)), rel=1e-15)
    assert catalog.get("sigmoid_neuron").expression == NEURON


@pytest.mark.parametrize("method", diffx.METHODS)
def test_neuron_gradient_full_precision(method: str) -> None:
    _, exact = neuron_closed_form()
    exact = np.array([float(v) for v in exact])
    value = diffx.gradient(NEURON, [-2.0, 3.0], method)
    if method in EXACT:
        assert_matches(value, exact, method)
    else:
        # the derivatives of E along b and along w for the numeric bounds, from mpmath
        bounds = []
        for j, s in ((0, 2.0), (1, 3.0)):
            with mpmath.workdps(40):
                def along(t, j=j):
                    b, w = mpmath.mpf(-2) + (t if j == 0 else 0), mpmath.mpf(3) + (t if j else 0)
                    return (mpmath.mpf("0.2") - sigma(w * mpmath.mpf("1.5") + b)) ** 2
                M = [abs(float(d)) for d in mpmath.diffs(along, 0, 3)]
            bounds.append(fd_bound(method, s, *M))
        assert_matches(value, exact, method, bounds)


def test_neuron_seed_prints_are_float32_roundings_of_the_closed_form() -> None:
    """The seed's float32 prints lie within 2 float32 ulps of the exact values.

    A tighter "relative 1e-7" does not hold: the printed dE/dw 0.15229508 is 1.2e-7 below the
    exact 0.152295098659 — 1.1 ulp (the ulp there is 1.5e-8, 9.8e-8 relative), ordinary float32
    rounding of a ~6-operation forward/backward pass."""
    h, (db, dw) = neuron_closed_form()
    for printed, exact in ((SEED_H, h), (SEED_DB, db), (SEED_DW, dw)):
        assert within_f32_ulps(printed, float(exact)), (printed, exact)
        assert abs(printed - float(exact)) / float(exact) <= 2.0**-22


@pytest.mark.parametrize("method", ["tape", "tape-forward"])
def test_neuron_float32_tape_matches_the_seed(method: str) -> None:
    """diffx in float32 (the seed's precision) agrees with each seed print to one float32 ulp,
    i.e. to 2**-23 ≈ 1.2e-7 relative (measured: 7.5e-8 for dE/db, 1.2e-7 for dE/dw, both
    exactly one ulp: the two float32 evaluations round their last bit differently)."""
    value = diffx.gradient(NEURON, [-2.0, 3.0], method, dtype="float32")
    for got, printed in zip(value, (SEED_DB, SEED_DW)):
        assert np.float32(got) == got  # the float32 result, widened exactly to float64
        assert abs(np.float32(got) - np.float32(printed)) <= np.spacing(np.float32(printed))
        assert abs(got - printed) / printed <= 2.0**-23


# --------------------------------------------------------------------------------------------
# seed 001: the CS231n neuron σ(w·x + b), x = (-1, -2), w = (2, -3), b = -3
# --------------------------------------------------------------------------------------------
CS231N = "sigmoid(-w0 - 2*w1 + b)"  # variables (b, w0, w1)
CS231N_POINT = [-3.0, 2.0, -3.0]
CS231N_X = (-1.0, -2.0)


def cs231n_closed_form() -> tuple[float, np.ndarray]:
    """σ(w·x + b) = σ(1); d/d(b, w0, w1) = σ'(1)·(1, x0, x1) with σ' = σ(1 - σ)."""
    with mpmath.workdps(50):
        s = sigma(mpmath.mpf(1))
        d = s * (1 - s)
        return float(s), np.array([float(d), float(d * -1), float(d * -2)])


def test_cs231n_closed_form_values() -> None:
    value, gradient = cs231n_closed_form()
    assert value == pytest.approx(0.7310585786300049, rel=1e-15)
    assert within_f32_ulps(0.7310586, value)
    assert all(within_f32_ulps(p, e) for p, e in
               zip((0.19661193, -0.19661193, -0.39322387), gradient))


@pytest.mark.parametrize("method", diffx.METHODS)
def test_cs231n_gradient(method: str) -> None:
    _, exact = cs231n_closed_form()
    value = diffx.gradient(CS231N, CS231N_POINT, method)
    if method in EXACT:
        assert_matches(value, exact, method)
    else:
        # along each parameter p with coefficient c (1, -1, -2): D^k = c^k σ^(k)(1);
        # σ(1) = 0.731, |σ'| = 0.197, |σ''| = 0.091, |σ'''| = 0.018 (from mpmath below)
        with mpmath.workdps(40):
            derivs = [abs(float(d)) for d in mpmath.diffs(sigma, 1, 3)]
        bounds = [fd_bound(method, max(abs(p), 1), *(derivs[k] * abs(c) ** k for k in range(4)))
                  for p, c in zip(CS231N_POINT, (1, -1, -2))]
        assert_matches(value, exact, method, bounds)


def test_cs231n_printed_values_are_stale() -> None:
    """Seed 001 prints y_pred = 0.8021838 (In [37]) and gradients [-0.22878425], [-0.4575685],
    0.2287842482328415 (In [54]) for the weights (2, -3) and bias -3 — but at those weights
    σ(w·x + b) = σ(1) = 0.731 and the gradients are σ'(1)·(x, 1) = (-0.197, -0.393, 0.197).

    The notebook ran out of order (In [37] < In [47], In [54] > In [51]):
    - 0.8021838 = σ(1.4), the output of In [47]'s weights (1.9, -3.1), bias -2.9:
      w·x + b = -1.9 + 6.2 - 2.9 = 1.4;
    - 0.2287842... = σ'(0.6) = σ'(-0.6): the gradient of a later cell's model. The float32
      digits are identical to In [51]'s print (weights 2.45, -2.55, bias -3.25: w·x + b = -0.6);
      In [50] (2.1, -2.9, bias -3.1: w·x + b = +0.6) has the same exact value but printed
      0.2287842184305191 (the two prints are one float32 ulp either side of the correctly
      rounded σ'(0.6)).
    """
    with mpmath.workdps(50):
        s14 = float(sigma(mpmath.mpf("1.4")))
        s06 = sigma(mpmath.mpf("0.6"))
        d06 = float(s06 * (1 - s06))
    value, gradient = cs231n_closed_form()
    printed_y, printed_kernel, printed_bias = 0.8021838, (-0.22878425, -0.4575685), \
        0.2287842482328415
    # the stale values ARE σ(1.4) and σ'(0.6)·(x, 1), to float32 rounding ...
    assert within_f32_ulps(printed_y, s14)
    assert within_f32_ulps(printed_bias, d06)
    for printed, xi in zip(printed_kernel, CS231N_X):
        assert within_f32_ulps(printed, d06 * xi)
    # ... and NOT the value or gradient at the stated weights
    assert abs(printed_y - value) > 0.07
    assert abs(printed_bias - gradient[0]) > 0.03
    # which cell: the weights of In [47] give 1.4; In [51] gives -0.6, In [50] +0.6
    assert -1.9 * 1 + 3.1 * 2 - 2.9 == pytest.approx(1.4)
    assert 2.45 * -1 + -2.55 * -2 - 3.25 == pytest.approx(-0.6)
    assert 2.1 * -1 + -2.9 * -2 - 3.1 == pytest.approx(0.6)
    # In [51] printed bias gradient 0.2287842482328415, digit for digit the stale print;
    # In [50] printed 0.2287842184305191. The correctly rounded float32 of σ'(0.6) lies between
    # them: In [51] is one ulp above it, In [50] one ulp below.
    ulp = np.spacing(np.float32(d06))
    assert np.float32(0.2287842482328415) - np.float32(d06) == ulp
    assert np.float32(d06) - np.float32(0.2287842184305191) == ulp


def test_cs231n_keras_dense_layer_matches_closed_form() -> None:
    """The seed's model, rebuilt: Dense(1, sigmoid) with kernel [[2], [-3]] from an initialiser
    function and bias Constant(-3), called under tf.GradientTape in float32."""
    tf = pytest.importorskip("tensorflow")

    def init_with_specified_values(shape, dtype=None):
        assert tuple(shape) == (2, 1)  # as the seed prints
        return np.array([[2.0], [-3.0]])

    model = tf.keras.Sequential([
        tf.keras.Input(shape=(2,)),
        tf.keras.layers.Dense(units=1, kernel_initializer=init_with_specified_values,
                              bias_initializer=tf.keras.initializers.Constant(value=-3),
                              activation="sigmoid", name="DenseLayer"),
    ])
    x = tf.constant([list(CS231N_X)])
    with tf.GradientTape() as tape:
        y = model(x)
    kernel_grad, bias_grad = tape.gradient(y, model.trainable_weights)
    assert y.dtype == tf.float32 and kernel_grad.dtype == tf.float32
    value, gradient = cs231n_closed_form()
    # float32 forward and backward through matmul + bias + sigmoid: within 1e-6 (~17 ulps)
    assert float(y.numpy()[0, 0]) == pytest.approx(value, rel=1e-6)
    np.testing.assert_allclose(kernel_grad.numpy().ravel(), gradient[1:], rtol=1e-6)
    np.testing.assert_allclose(bias_grad.numpy(), gradient[:1], rtol=1e-6)
