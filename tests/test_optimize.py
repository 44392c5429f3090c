"""diffx.optimize: optimizers, the seed problems, cross-engine paths, the CLI.

Every number is checked against something independent of diffx's engines:
- closed forms: gradient descent on a quadratic (seed 002's x² − 20x + 100, and the linear
  regression, whose loss is quadratic in (w, c)) has iterates x* + (I − lr·H)ᵏ(x0 − x*); heavy-ball
  momentum on a quadratic is a 2×2 linear recurrence; Adam's first step is lr·g/(|g| + ε/√(1−β₂));
  evaluated in mpmath at 30+ digits;
- the seeds' printed numbers, with float32 arithmetic done by hand (numpy float32 scalars running
  the closed-form gradient) where the seeds printed float32;
- real ``tf.keras.optimizers`` runs (SGD, SGD with momentum, Adam) on the same problems, with
  the loss written in TensorFlow here, not by diffx;
- numpy's least squares for the regression's limit; mpmath root finding for Himmelblau's minima.

Tolerances, and why:
- float64 iterates vs a 30-digit closed form: each step rounds at ε = 2.2e-16 relative; a
  contraction with rate ρ accumulates at most ε/(1 − ρ) per unit of |x|. Quadratic (ρ = 0.8):
  2e-14 relative. Regression (slow direction ρ = 1 − 2.7e-4): 1e-12 relative of |x*|.
- exact engines against each other (symbolic, dual, tape, Richardson, complex-step): the issue
  asks for <= 1e-9 relative at every iterate; measured at most 3.6e-12 over 300 steps of every
  problem (Richardson; symbolic, dual and tape agree to 7e-14), and the tests assert 1e-10.
- diffx vs a real Keras run in float64: the same update formulas in the same operation order,
  gradients from different engines (rounding differences ~1e-16): <= 1e-12 relative along
  150-step paths (measured 0 to 6.8e-14, listed in the test); in float32, bit for bit.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest

import diffx
from diffx import optimize as O
from diffx.cli import main
from diffx.optimize import minimize

EPS = float(np.finfo(float).eps)
f32 = np.float32


def tensorflow():
    return pytest.importorskip("tensorflow")


# --------------------------------------------------------------------------------------------
# Gradient descent on seed 002's quadratic: x_k = 10 + 40·0.8^k exactly
# --------------------------------------------------------------------------------------------
def quadratic_iterates(k_max: int) -> list[float]:
    """x_{k+1} = x_k − 0.1·(2x_k − 20) = 0.8·x_k + 2, x_0 = 50  ⇒  x_k = 10 + 40·0.8^k."""
    with mpmath.workdps(40):
        return [float(10 + 40 * mpmath.mpf("0.8") ** k) for k in range(k_max + 1)]


@pytest.mark.parametrize("method", ["symbolic", "dual", "complex-step", "tape"])
def test_gradient_descent_on_the_quadratic_follows_the_closed_form(method):
    result = minimize("quadratic", method=method)
    assert (result.optimizer, result.lr, result.steps) == ("gd", 0.1, 50)  # seed 002's loop
    exact = np.array(quadratic_iterates(50))
    # contraction 0.8: rounding accumulates to <= ε/(1 - 0.8) = 5ε relative, 2e-14 with margin
    np.testing.assert_allclose(result.path[:, 0], exact, rtol=2e-14, atol=0)
    # f = x² − 20x + 100 evaluated as written cancels: its rounding error is absolute,
    # <= 4ε·(x² + 20|x| + 100) (a few roundings of terms up to that size)
    bound = 4 * EPS * (exact**2 + 20 * exact + 100) + 4 * EPS * (exact - 10) ** 2
    assert np.all(np.abs(result.losses - (exact - 10) ** 2) <= bound)
    assert result.grad_evals == 50 and result.status == "completed"


# Seed 002 prints x after each of the first 17 steps, then "....." and 4 more values.
SEED_002_HEAD = ["42.0", "35.6", "30.48", "26.383999", "23.107199", "20.48576", "18.388607",
                 "16.710886", "15.368709", "14.294967", "13.435973", "12.748778", "12.199022",
                 "11.759218", "11.407374", "11.125899", "10.90072"]
SEED_002_TAIL = ["10.020282", "10.016226", "10.01298", "10.010385"]


def test_quadratic_in_float32_prints_seed_002_digit_for_digit():
    """The seed's tf.Variable is float32: diffx's float32 tape run prints the same 17 numbers
    (26.383999, not 26.384: float32 rounding of each step, which the closed form confirms)."""
    result = minimize("quadratic", method="tape", dtype="float32")
    printed = [str(f32(v)) for v in result.path[1:18, 0]]
    assert printed == SEED_002_HEAD
    exact = quadratic_iterates(17)[1:]
    for value, truth in zip(result.path[1:18, 0], exact):  # float32 iterates: a few ulps off
        assert abs(value - truth) <= 4 * np.spacing(f32(truth)), (value, truth)


def test_seed_002_tail_is_from_a_37_step_run_not_50():
    """STALE OUTPUT: the four values after "....." are iterates 34-37, not the last ones of the
    50-iteration loop the slide shows. 10 + 40·0.8^k = 10.010385 at k = 37; after 50 steps
    x = 10.000571 (float32 prints 10.00057). The slide's output came from a shorter run (or
    its last 13 lines were cut without saying so)."""
    result = minimize("quadratic", method="tape", dtype="float32")
    float32_path = [str(f32(v)) for v in result.path[:, 0]]
    assert float32_path[34:38] == SEED_002_TAIL
    assert float32_path[50] == "10.00057" != SEED_002_TAIL[-1]
    exact = quadratic_iterates(50)
    for truth, printed in zip(exact[34:38], SEED_002_TAIL):  # float32: within 2 ulps
        assert abs(truth - float(printed)) <= 2 * np.spacing(f32(printed))
    assert abs(exact[50] - 10.000570899) < 1e-9


# --------------------------------------------------------------------------------------------
# Momentum and Adam: the Keras rules against closed forms
# --------------------------------------------------------------------------------------------
def test_momentum_on_the_quadratic_is_the_heavy_ball_recurrence():
    """Keras momentum: v ← μv − lr·g, x ← x + v. On f = (x − 10)², g = 2e with e = x − 10, so
    (e, v)_{k+1} = [[1 − 2lr, μ], [−2lr, μ]]·(e, v)_k: a closed form by matrix powers."""
    lr, mu, steps = 0.1, 0.9, 100
    result = minimize("quadratic", method="dual", optimizer="momentum", lr=lr, steps=steps,
                      momentum=mu)
    with mpmath.workdps(40):
        M = mpmath.matrix([[1 - 2 * mpmath.mpf(lr), mpmath.mpf(mu)],
                           [-2 * mpmath.mpf(lr), mpmath.mpf(mu)]])
        state = mpmath.matrix([40, 0])
        exact = []
        for _ in range(steps + 1):
            exact.append(float(10 + state[0]))
            state = M * state
    # spectral radius √0.9 ≈ 0.95: rounding of ~ε·50 per step accumulates to < 1e-12 absolute
    np.testing.assert_allclose(result.path[:, 0], exact, rtol=0, atol=1e-12)
    # the textbook/PyTorch form v ← μv + g, x ← x − lr·v gives the same iterates
    x, v = 50.0, 0.0
    for k in range(steps):
        v = mu * v + 2 * (x - 10)
        x = x - lr * v
        assert abs(x - result.path[k + 1, 0]) <= 1e-12


def adam_first_step(g: float, lr: float, beta_2: float = 0.999, eps: float = 1e-7) -> float:
    """Δx₁ = −α₁·m₁/(√v₁ + ε) with m₁ = (1−β₁)g, v₁ = (1−β₂)g², α₁ = lr√(1−β₂)/(1−β₁):
    = −lr·g/(|g| + ε/√(1−β₂))  (β₁ cancels)."""
    with mpmath.workdps(40):
        g, lr = mpmath.mpf(g), mpmath.mpf(lr)
        return float(-lr * g / (abs(g) + mpmath.mpf(eps) / mpmath.sqrt(1 - mpmath.mpf(beta_2))))


def test_adam_first_step_from_the_himmelblau_origin():
    result = minimize("himmelblau", method="dual", optimizer="adam", lr=0.001, steps=1)
    expected = [adam_first_step(-14.0, 0.001), adam_first_step(-22.0, 0.001)]
    np.testing.assert_allclose(result.path[1], expected, rtol=4 * EPS)
    assert result.path[1][0] == pytest.approx(0.001 * 14 / (14 + 1e-7 / math.sqrt(0.001)))


def test_adam_puts_epsilon_on_sqrt_v_as_keras_does():
    """With a tiny gradient ε matters: f = 1e-9·x² at x = 1 has g = 2e-9. Keras's rule (ε added
    to √v) moves lr·g/(|g| + ε/√(1−β₂)) = 6.3e-4·lr; the paper's Algorithm 1 (ε added to √v̂)
    would move lr·g/(|g| + ε) = 0.0196·lr — 31 times more."""
    result = minimize("1e-9*x**2", [1.0], method="dual", optimizer="adam", lr=0.001, steps=1)
    step = result.path[1, 0] - 1.0
    assert step == pytest.approx(adam_first_step(2e-9, 0.001), rel=1e-13)
    paper = -0.001 * 2e-9 / (2e-9 + 1e-7)
    assert abs(paper / step) > 30


# --------------------------------------------------------------------------------------------
# Real tf.keras optimizers on the same problems (loss written in TensorFlow, gradient by tape)
# --------------------------------------------------------------------------------------------
def keras_optimizer(tf, optimizer: str, lr: float, float64: bool = True):
    """A tf.keras optimizer for diffx's ``optimizer``. Keras turns Python-float hyperparameters
    into float32 tensors before casting them to the variable's dtype (its learning_rate is a
    float32 variable; β₂ = 0.999 becomes 0.99900001287), so a float64 run with Python floats
    uses slightly different constants (first Adam step 6.4e-6 shorter, see
    test_keras_rounds_python_hyperparameters_to_float32). With ``float64`` they are given as
    float64 tensors instead: the same formulas with the same constants as diffx."""
    kinds = {"gd": lambda: tf.keras.optimizers.SGD(lr),
             "momentum": lambda: tf.keras.optimizers.SGD(lr, momentum=0.9),
             "adam": lambda: tf.keras.optimizers.Adam(lr)}
    keras = kinds[optimizer]()
    if float64:
        keras.learning_rate = lambda: tf.constant(lr, tf.float64)
        if optimizer == "momentum":
            keras.momentum = tf.constant(0.9, tf.float64)
        if optimizer == "adam":
            keras.beta_1 = tf.constant(0.9, tf.float64)
            keras.beta_2 = tf.constant(0.999, tf.float64)
    return keras


def keras_path(tf, loss, x0, optimizer, steps: int, dtype="float64") -> np.ndarray:
    variable = tf.Variable(np.array(x0), dtype=dtype)
    path = [variable.numpy().copy()]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = loss(variable)
        grads = tape.gradient(value, [variable])
        optimizer.apply_gradients(zip(grads, [variable]))
        path.append(variable.numpy().copy())
    return np.array(path, dtype=float)


def tf_rosenbrock(v):
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def tf_himmelblau(v):
    return (v[0] ** 2 + v[1] - 11) ** 2 + (v[0] + v[1] ** 2 - 7) ** 2


def tf_linear_regression(tf):
    x, y = O.seed_regression_data()

    def loss(v):  # seed 002's predict + loss_func
        error = v[0] * x + v[1] - y
        return tf.reduce_sum(error**2) / (2 * len(x))

    return loss


KERAS_CASES = [("rosenbrock", "gd", 0.001), ("rosenbrock", "momentum", 0.001),
               ("himmelblau", "adam", 0.05), ("linear_regression", "adam", 0.001)]


@pytest.mark.parametrize("name, optimizer, lr", KERAS_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in KERAS_CASES])
def test_optimizer_matches_a_real_keras_run(name, optimizer, lr):
    tf = tensorflow()
    loss = {"rosenbrock": tf_rosenbrock, "himmelblau": tf_himmelblau,
            "linear_regression": tf_linear_regression(tf)}[name]
    problem = O.problem(name)
    keras = keras_path(tf, loss, problem.x0, keras_optimizer(tf, optimizer, lr), 150)
    ours = minimize(name, method="dual", optimizer=optimizer, lr=lr, steps=150).path
    # same formulas, constants and operation order; the gradients (dual here, TensorFlow's
    # tape there) and TF's kernels may round differently in the last bit. Measured: 0
    # (bit-identical) for Rosenbrock GD and Himmelblau Adam, 2.3e-16 for the regression's
    # Adam, 6.8e-14 for Rosenbrock momentum (its oscillating path amplifies last-bit
    # differences ~300-fold in 150 steps). 1e-12 bounds all with margin.
    assert O.path_deviation(ours, keras) <= 1e-12


def test_keras_rounds_python_hyperparameters_to_float32():
    """Keras quirk (not diffx's rule): with Python floats, a float64 Adam step uses
    float32(lr), float32(β₁)ᵗ and float32(β₂)ᵗ in α, while m and v use 1 − β in float64. The
    first step from the Himmelblau origin is then exactly that formula, 6.4e-6 shorter than
    Adam's with the constants as given (√((1 − f32(0.999))/(1 − 0.999)) = 1 − 6.4e-6)."""
    tf = tensorflow()
    keras = keras_path(tf, tf_himmelblau, [0.0, 0.0], keras_optimizer(tf, "adam", 0.05,
                                                                        float64=False), 1)
    lr, b1, b2 = (float(f32(v)) for v in (0.05, 0.9, 0.999))
    g = np.array([-14.0, -22.0])
    m, v = (g - 0) * (1 - 0.9), (g * g) * (1 - 0.999)
    step = -(m * (lr * math.sqrt(1 - b2) / (1 - b1))) / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(keras[1], step, rtol=4 * EPS)
    ours = minimize("himmelblau", method="dual", optimizer="adam", lr=0.05, steps=1).path[1]
    # same m, v and ε, so the steps differ by the ratio of the two α's:
    # (0.05/f32(0.05))·√((1 − 0.999)/(1 − f32(0.999)))·((1 − f32(0.9))/(1 − 0.9)) = 1 + 6.66e-6
    ratio = (0.05 / lr) * math.sqrt((1 - 0.999) / (1 - b2)) * ((1 - b1) / (1 - 0.9))
    np.testing.assert_allclose(ours / keras[1], ratio, rtol=1e-14)
    assert 6.6e-6 < ratio - 1 < 6.7e-6


def test_float32_adam_matches_keras_float32_bit_for_bit():
    """In float32 (the seeds' precision) diffx's Adam, fed by the float32 tape, reproduces a
    float32 Keras Adam run exactly: same gradient ops, same update ops, same roundings."""
    tf = tensorflow()
    keras = keras_path(tf, tf_himmelblau, [0.0, 0.0],
                       keras_optimizer(tf, "adam", 0.05, float64=False), 40, dtype="float32")
    ours = minimize("himmelblau", method="tape", optimizer="adam", lr=0.05, steps=40,
                    dtype="float32")
    assert np.array_equal(ours.path, keras)


# --------------------------------------------------------------------------------------------
# Seed 000: the sigmoid neuron, plain gradient descent with α = 1 for 20 epochs
# --------------------------------------------------------------------------------------------
SEED_000_EPOCHS = """\
Epoch 1 error=0.52438 h=0.92414 w=2.84770 b=-2.10153 dE_db=0.10153 dE_dw=0.15230
Epoch 2 error=0.48654 h=0.89753 w=2.65524 b=-2.22984 dE_db=0.12831 dE_dw=0.19246
Epoch 3 error=0.42554 h=0.85233 w=2.40893 b=-2.39404 dE_db=0.16421 dE_dw=0.24631
Epoch 4 error=0.32713 h=0.77195 w=2.10687 b=-2.59542 dE_db=0.20138 dE_dw=0.30206
Epoch 5 error=0.19148 h=0.63758 w=1.80353 b=-2.79765 dE_db=0.20223 dE_dw=0.30334
Epoch 6 error=0.07669 h=0.47693 w=1.59628 b=-2.93582 dE_db=0.13817 dE_dw=0.20726
Epoch 7 error=0.02818 h=0.36786 w=1.47917 b=-3.01388 dE_db=0.07807 dE_dw=0.11710
Epoch 8 error=0.01234 h=0.31107 w=1.40777 b=-3.06149 dE_db=0.04761 dE_dw=0.07141
Epoch 9 error=0.00623 h=0.27892 w=1.36015 b=-3.09323 dE_db=0.03174 dE_dw=0.04762
Epoch 10 error=0.00344 h=0.25865 w=1.32641 b=-3.11572 dE_db=0.02249 dE_dw=0.03374
Epoch 11 error=0.00201 h=0.24488 w=1.30152 b=-3.13232 dE_db=0.01660 dE_dw=0.02490
Epoch 12 error=0.00123 h=0.23504 w=1.28261 b=-3.14492 dE_db=0.01260 dE_dw=0.01890"""


def test_neuron_first_step_by_hand():
    """h = σ(3·1.5 − 2) = σ(2.5); dE/db = 2(h − 0.2)·h(1 − h); dE/dw = 1.5·dE/db; with α = 1:
    (b, w)₁ = (−2 − dE/db, 3 − dE/dw) = (−2.10153…, 2.84770…) as the seed prints."""
    with mpmath.workdps(50):
        h = 1 / (1 + mpmath.exp(-mpmath.mpf("2.5")))
        db = 2 * (h - mpmath.mpf("0.2")) * h * (1 - h)
        expected = [float(-2 - db), float(3 - db * mpmath.mpf("1.5"))]
        error = float((mpmath.mpf("0.2") - h) ** 2)
    for method in ("symbolic", "dual", "tape"):
        result = minimize("sigmoid_neuron", method=method, steps=1)
        np.testing.assert_allclose(result.path[1], expected, rtol=4 * EPS)
        assert result.losses[0] == pytest.approx(error, rel=4 * EPS)
    assert (round(expected[0], 5), round(expected[1], 5)) == (-2.10153, 2.84770)


def epoch_lines(result) -> list[str]:
    """The seed's print for each epoch: error and h at the point before the update, w and b
    after it, and the gradient, which with α = 1 is exactly the step (b, w)_k − (b, w)_{k+1}."""
    lines = []
    for k in range(12):
        (b, w), (b1, w1) = result.path[k], result.path[k + 1]
        h = 1 / (1 + math.exp(-(w * 1.5 + b)))
        lines.append(f"Epoch {k + 1} error={result.losses[k]:.05f} h={h:.05f} w={w1:.05f} "
                     f"b={b1:.05f} dE_db={b - b1:.05f} dE_dw={w - w1:.05f}")
    return lines


def test_neuron_twenty_epochs_reproduce_the_seed_print():
    """All 12 printed epochs (the seed's output is cut off in epoch 13) match to every printed
    digit, in float64 and in the seed's float32."""
    expected = SEED_000_EPOCHS.splitlines()
    result = minimize("sigmoid_neuron", method="dual")
    assert (result.steps, result.lr) == (20, 1.0)
    assert epoch_lines(result) == expected
    assert epoch_lines(minimize("sigmoid_neuron", method="tape", dtype="float32")) == expected


# --------------------------------------------------------------------------------------------
# Seed 003: Himmelblau from (0, 0), gradient descent lr 0.001
# --------------------------------------------------------------------------------------------
def himmelblau_float32_by_hand(steps: int) -> np.ndarray:
    """The seed's loop in float32 with the closed-form gradient
    (4x·a + 2b, 2a + 4y·b), a = x² + y − 11, b = x + y² − 7, and x ← x − float32(0.001)·g."""
    x = np.zeros(2, f32)
    path = [x]
    for _ in range(steps):
        a = x[0] * x[0] + x[1] - f32(11)
        b = x[0] + x[1] * x[1] - f32(7)
        g = np.array([f32(4) * (a * x[0]) + f32(2) * b, f32(2) * a + f32(4) * (b * x[1])])
        x = x - f32(0.001) * g
        path.append(x)
    return np.array(path)


def test_himmelblau_seed_prints_are_float32_gradient_descent():
    """Seed 003 prints x = [0.014 0.022] after step 0 and x = [2.9999971 2.000005],
    pred = 4.483808879740536e-10 from step 2000 to step 28000. Not stale: float32 arithmetic
    stalls there — lr·g is below half an ulp of x — so every later print is identical."""
    path = himmelblau_float32_by_hand(4001)
    assert [float(v) for v in path[1]] == [0.014000000432133675, 0.02200000174343586]
    assert str(path[2001]) == "[2.9999971 2.000005 ]"
    x = path[2000]  # pred is f at the point before step 2000's update, in float32
    pred = (x[0] * x[0] + x[1] - f32(11)) ** 2 + (x[0] + x[1] * x[1] - f32(7)) ** 2
    assert repr(float(pred)) == "4.483808879740536e-10"
    assert np.array_equal(path[2001], path[4001])  # stalled


def test_himmelblau_float32_tape_run_is_the_hand_computation():
    result = minimize("himmelblau", method="tape", dtype="float32", steps=150)
    assert np.array_equal(result.path, himmelblau_float32_by_hand(150).astype(float))


def test_himmelblau_float64_reaches_the_exact_minimum():
    """f(3, 2) = 0 and f >= 0, so (3, 2) is a minimum; the Hessian there [[74, 20], [20, 34]]
    has eigenvalues 54 ± 20√2 ≥ 25.7, so each step contracts by <= 1 − 0.0257 and 2000 steps
    leave e^-52 of the error: only rounding, ~1e-15."""
    result = minimize("himmelblau", method="symbolic")
    assert np.max(np.abs(result.x - [3.0, 2.0])) <= 1e-13
    assert result.fun <= 1e-25


def test_himmelblau_minima_and_the_seeds_typo():
    """The seed lists the fourth minimum as (3.583328, -1.848126); the root of the gradient
    there is (3.584428…, -1.848126…): the seed's 3.583328 mistypes 4428 as 3328 (f there is
    9e-5, not 0). diffx's list has the right value, each within 1e-6 of an mpmath root."""
    def grad(x, y):
        return [4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
                2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)]

    def f(x, y):
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2

    with mpmath.workdps(30):
        for minimum in O.problem("himmelblau").minima:
            root = mpmath.findroot(grad, minimum)
            assert max(abs(float(r) - m) for r, m in zip(root, minimum)) < 1e-6
            assert f(*root) < mpmath.mpf("1e-25")
        assert f(mpmath.mpf("3.583328"), mpmath.mpf("-1.848126")) > 1e-5


# --------------------------------------------------------------------------------------------
# Seed 002: linear regression
# --------------------------------------------------------------------------------------------
def test_regression_data_is_the_seeds():
    state = np.random.get_state()
    try:
        np.random.seed(10)  # the seed's generateData(), verbatim
        train_x = np.linspace(0, 10, 100)
        noise = np.random.normal(0, 1.5, 100)
    finally:
        np.random.set_state(state)
    x, y = O.seed_regression_data()
    assert np.array_equal(x, train_x) and np.array_equal(y, 2.5 * train_x + 3 + noise)


def test_regression_gradient_descent_follows_the_closed_form_for_10000_steps():
    """The loss Σ(wx + c − y)²/2m is quadratic: gradient H·p − r with H = [[Σx², Σx],
    [Σx, m]]/m, r = [Σxy, Σy]/m, so p_k = p* + (I − lr·H)ᵏ(p0 − p*), p* = H⁻¹r. Evaluated in
    mpmath (40 digits). The eigenvalues of lr·H are 0.0344 and 2.7e-4: after 10000 steps the
    slow direction keeps e^-2.7 = 6.6% of the initial error, so gradient descent is still
    0.243 from the least-squares line — the closed form predicts that distance exactly."""
    x, y = O.seed_regression_data()
    lr, steps = 0.001, 10000
    result = minimize("linear_regression", method="complex-step")
    assert (result.optimizer, result.lr, result.steps) == ("gd", lr, steps)
    with mpmath.workdps(40):
        xs, ys = [mpmath.mpf(v) for v in x], [mpmath.mpf(v) for v in y]
        m = len(xs)
        H = mpmath.matrix([[sum(v * v for v in xs), sum(xs)], [sum(xs), m]]) / m
        r = mpmath.matrix([sum(a * b for a, b in zip(xs, ys)), sum(ys)]) / m
        star = mpmath.lu_solve(H, r)
        A = mpmath.eye(2) - mpmath.mpf(lr) * H
        error = -star
        exact = []
        for _ in range(steps + 1):
            exact.append([float(star[0] + error[0]), float(star[1] + error[1])])
            error = A * error
        p_star = [float(star[0]), float(star[1])]
    exact = np.array(exact)
    # rounding accumulates along the slow direction: <= ε/(1 − ρ)·|p*| ≈ 2.7e-12 (measured
    # 1.5e-14 absolute)
    assert np.max(np.abs(result.path - exact)) <= 1e-12 * np.max(np.abs(p_star))
    lstsq, *_ = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)
    np.testing.assert_allclose(lstsq, p_star, rtol=1e-13)
    np.testing.assert_allclose(O.problem("linear_regression").data["least_squares"], lstsq,
                               rtol=1e-15)
    distance = np.linalg.norm(result.x - lstsq)
    assert distance == pytest.approx(np.linalg.norm(exact[-1] - p_star), rel=1e-9)
    assert 0.24 < distance < 0.25


def test_regression_adam_for_10000_steps():
    """The seed's second loop: Adam (Keras defaults, lr 0.001) for 10000 steps. The truth is
    the Keras rule (checked against Keras itself above) fed the closed-form gradient
    H·p − r, run here in plain numpy; the path agrees to 1e-12 relative (measured 5.7e-15).
    Adam moves each coordinate by <= ~lr per step, so c (which must reach 3.31) is still
    catching up: 0.084 from least squares, a third of plain GD's 0.243, at a loss above the
    least-squares minimum as it must be."""
    result = minimize("linear_regression", method="complex-step", optimizer="adam", lr=0.001)
    x, y = O.seed_regression_data()
    m = len(x)
    H = np.array([[x @ x, x.sum()], [x.sum(), m]]) / m
    r = np.array([x @ y, y.sum()]) / m
    p, mom, vel = np.zeros(2), np.zeros(2), np.zeros(2)
    path = [p]
    for t in range(1, 10001):
        g = H @ p - r
        mom = mom + (g - mom) * (1 - 0.9)
        vel = vel + (g * g - vel) * (1 - 0.999)
        alpha = 0.001 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        p = p - (mom * alpha) / (np.sqrt(vel) + 1e-7)
        path.append(p)
    assert O.path_deviation(result.path, np.array(path)) <= 1e-12
    lstsq = O.problem("linear_regression").data["least_squares"]
    best = np.sum((lstsq[0] * x + lstsq[1] - y) ** 2) / (2 * m)
    assert result.fun > best
    assert np.linalg.norm(result.x - lstsq) == pytest.approx(0.0842, abs=1e-4)


# --------------------------------------------------------------------------------------------
# Seed 002: logistic regression on digits 0 and 1
# --------------------------------------------------------------------------------------------
def test_digits_split_is_the_seeds():
    data = O.problem("logistic_regression").data
    assert data["train_features"].shape == (324, 64) and data["test_features"].shape == (36, 64)
    assert set(np.unique(data["train_labels"])) == {0.0, 1.0}
    # the seed prints training accuracies in multiples of 1/324 (0.7407407 = 240/324)
    assert round(0.7407407 * 324) == 240 and abs(240 / 324 - 0.7407407) < 1e-7


def test_logistic_gradient_is_the_closed_form():
    """∇ mean(softplus(z) − y·z) with z = Xw + b is (Xᵀ(σ(z) − y), Σ(σ(z) − y))/m."""
    entry = O.problem("logistic_regression")
    X, y = entry.data["train_features"], entry.data["train_labels"]
    p = entry.x0
    s = 1 / (1 + np.exp(-(X @ p[:64] + p[64])))
    exact = np.concatenate([X.T @ (s - y), [np.sum(s - y)]]) / len(y)
    for method in ("dual", "tape"):
        value = diffx.gradient(entry.function(), p, method)
        assert np.max(np.abs(value - exact)) <= 1e-14 * np.max(np.abs(exact)) * 64


def test_logistic_adam_matches_keras_and_reports_test_accuracy():
    """70 Adam steps at lr 0.01 with the tape gradient, against Keras's Adam on the seed's
    model written in TensorFlow (matmul + sigmoid_cross_entropy_with_logits)."""
    tf = tensorflow()
    entry = O.problem("logistic_regression")
    X = tf.constant(entry.data["train_features"])
    y = tf.constant(entry.data["train_labels"])

    def loss(v):
        logits = tf.linalg.matvec(X, v[:64]) + v[64]
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))

    keras = keras_path(tf, loss, entry.x0, keras_optimizer(tf, "adam", 0.01), 70)
    result = minimize("logistic_regression", method="tape")
    assert (result.optimizer, result.lr, result.steps) == ("adam", 0.01, 70)
    assert O.path_deviation(result.path, keras) <= 1e-12  # measured 3.4e-16
    final = keras[-1]
    X_test = entry.data["test_features"]
    predictions = np.round(1 / (1 + np.exp(-(X_test @ final[:64] + final[64]))))
    keras_accuracy = np.mean(predictions == entry.data["test_labels"])
    assert O.accuracy(entry, result.x, "test") == keras_accuracy == 35 / 36
    assert O.accuracy(entry, result.x, "train") == 1.0


def test_logistic_seed_printed_losses_come_from_its_double_sigmoid():
    """SLIP in seed 002: loss_func(tr_y, y_pred) feeds sigmoid(z) as the *logits* of
    sigmoid_cross_entropy_with_logits, and Adam() is created without learning_rate=0.01, so the
    seed minimised mean(softplus(s) − y·s), s = σ(z), at lr 0.001. Its printed losses fit that
    and nothing else: (1) that loss is bounded below by
    (n₁·softplus(−1) + n₀·log 2)/m ≈ 0.502 (s ∈ (0, 1)), and the printed loss after 70 steps,
    0.5774, is above it; the intended loss at lr 0.01 reaches 0.015 (below). (2) The printed
    drop over the 70 iterations, 0.7032 → 0.5774, is within 25% of the double-sigmoid drop at
    lr 0.001 from diffx's start (the seed's random start was not seeded, so not exactly), and
    far from the intended loss's drop at either learning rate."""
    entry = O.problem("logistic_regression")
    X, y = entry.data["train_features"], entry.data["train_labels"]
    n1 = float(np.sum(y))
    bound = (n1 * math.log1p(math.exp(-1)) + (len(y) - n1) * math.log(2)) / len(y)
    assert bound < 0.5774078

    def double_sigmoid(p):
        s = diffx.sigmoid(O._matvec(X, p[:64]) + p[64])
        return O._total(diffx.softplus(s) - y * s) / len(y)

    printed_drop = 0.70315564 - 0.5774078
    seed_like = minimize(double_sigmoid, entry.x0, "dual", "adam", lr=0.001, steps=70)
    drop = seed_like.losses[0] - seed_like.losses[-1]
    assert abs(drop - printed_drop) < 0.25 * printed_drop
    assert seed_like.fun > bound
    for lr in (0.001, 0.01):
        intended = minimize("logistic_regression", method="tape", lr=lr)
        assert intended.losses[0] - intended.fun > 3 * printed_drop


# --------------------------------------------------------------------------------------------
# Cross-engine agreement: the same path whichever exact method supplies the gradient
# --------------------------------------------------------------------------------------------
AGREEMENT_STEPS = {"quadratic": 50, "cubic": 60, "cubic_plus_five": 60, "sigmoid_neuron": 20,
                   "linear_regression": 60, "logistic_regression": 8, "himmelblau": 60,
                   "rosenbrock": 60}
AGREEING = ("symbolic", "dual", "tape", "richardson")


@pytest.mark.parametrize("name", list(AGREEMENT_STEPS))
def test_paths_agree_across_exact_methods(name):
    """The issue asks for 1e-9 relative at every iterate; measured (300 steps of each problem):
    at most 3.6e-12 (Richardson, on x² + x³ + 5), 7e-14 among symbolic, dual and tape."""
    entry = O.problem(name)
    methods = [m for m in AGREEING if m not in entry.skip]
    comparison = O.compare_methods(name, methods, steps=AGREEMENT_STEPS[name])
    paths = [r.path for r in comparison.results.values()]
    worst = max(O.path_deviation(p, q) for p in paths for q in paths)
    assert worst <= 1e-10, (name, comparison)
    assert all(r.steps == r.nit for r in comparison.results.values())


def test_finite_differences_drift_to_predicted_fixed_points():
    """Where finite differences make the path diverge from the exact one, and by how much.

    Gradient descent converges to where the *computed* gradient vanishes. With a fixed step h
    a difference quotient along xᵢ has a truncation bias bᵢ: forward (h/2)·∂ᵢᵢf, central
    (h²/6)·∂ᵢᵢᵢf. At Himmelblau's (3, 2), H = [[74, 20], [20, 34]], ∂ₓₓₓf = 24x = 72,
    ∂ᵧᵧᵧf = 24y = 48, so the fixed point moves by −H⁻¹b. With the textbook steps at |x| = 3,
    h = √ε·3 (forward) and ∛ε·3 (central) on both axes, that is (−1.94e-8, −1.09e-8) and
    (−3.87e-11, −5.49e-11): measured to 4-5 digits (rounding, ε·f/h with f ≈ 0, is
    negligible). The exact methods land
    on (3, 2) to 1e-13 (test_himmelblau_float64_reaches_the_exact_minimum). The steps are
    given explicitly: the engine's automatic step choice is a policy of its own (see
    test_forward_difference_default_step_near_a_zero_of_f)."""
    H = np.array([[74.0, 20.0], [20.0, 34.0]])
    x_star = np.array([3.0, 2.0])
    for method, h, bias in (("forward", math.sqrt(EPS) * 3, lambda h: h / 2 * np.diag(H)),
                            ("central", np.cbrt(EPS) * 3,
                             lambda h: h**2 / 6 * np.array([72.0, 48.0]))):
        result = minimize("himmelblau", method=method, steps=3000, step=h)
        used = (x_star + h) - x_star  # diffx rounds x + h to a float along each axis
        predicted = -np.linalg.solve(H, bias(used))
        np.testing.assert_allclose(result.x - x_star, predicted, rtol=1e-3, err_msg=method)
        assert np.max(np.abs(result.x - x_star)) > 1e-12  # visibly off the exact minimum


def test_forward_difference_default_step_near_a_zero_of_f():
    """Regression (numeric engine's step selection, since fixed). Near Himmelblau's minimum
    f ≈ 1e-8 is computed by cancellation (x² + y − 11 adds terms of size 11), so its rounding
    error is ~ε·11·|∂f|, not ε·|f|. A rounding bound ε·Σ|wᵢ||f(xᵢ)|/h shrinks with f, so the
    step used to move to a "balance point" h ≈ 9e-16, two ulps of x = 3, and the forward
    gradient at (3 + 1e-4, 2 − 1e-4) was off by 1.4e-3, where the textbook step h = √ε·3 is
    off by (h/2)·|∂ₓₓf| = 1.65e-6; default-step forward-difference descent stalled ~7e-5 from
    (3, 2). Expected: no worse than 10× the textbook error."""
    x, y = 3 + 1e-4, 2 - 1e-4
    exact = np.array([4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
                      2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)])
    value = diffx.gradient("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", [x, y], "forward")
    textbook = math.sqrt(EPS) * 3 / 2 * (12 * x**2 + 4 * y - 42)  # (h/2)·f_xx, the larger
    assert np.max(np.abs(value - exact)) <= 10 * textbook


# --------------------------------------------------------------------------------------------
# Divergence, callbacks, bad input
# --------------------------------------------------------------------------------------------
def test_divergence_warns_and_keeps_the_finite_path():
    """3x³ + x² is unbounded below: at lr 0.1 the first step from 10 goes to 10 − 92 = −82,
    and from there to −∞ (each step multiplies x by about −0.9·x)."""
    with pytest.warns(O.DivergenceWarning, match="smaller learning rate"):
        result = minimize("cubic", method="dual", lr=0.1)
    assert result.status == "diverged"
    assert result.path[1, 0] == 10 - 0.1 * 920
    assert np.all(np.isfinite(result.path)) and np.all(np.isfinite(result.losses))
    assert result.nit < result.steps


def test_callback_sees_every_iterate_and_can_stop():
    seen = []

    def callback(k, x, loss, grad):
        seen.append((k, float(x[0]), loss, float(grad[0])))
        return k == 2

    result = minimize("quadratic", method="dual", callback=callback)
    assert result.status == "stopped" and result.nit == 2
    assert seen[0] == (0, 50.0, 1600.0, 80.0)  # f(50) = 1600, f'(50) = 80
    assert [s[1] for s in seen] == list(result.path[:3, 0])


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lr": 0.0}, O.OptimizeError, "positive finite"),
    ({"lr": -0.1}, O.OptimizeError, "positive finite"),
    ({"lr": float("nan")}, O.OptimizeError, "positive finite"),
    ({"lr": float("inf")}, O.OptimizeError, "positive finite"),
    ({"lr": True}, O.OptimizeError, "positive finite"),
    ({"steps": 0}, O.OptimizeError, "steps must be a whole number >= 1"),
    ({"steps": -3}, O.OptimizeError, "steps must be a whole number >= 1"),
    ({"steps": 2.5}, O.OptimizeError, "steps must be a whole number >= 1"),
    ({"optimizer": "adagrad"}, O.OptimizeError, "unknown optimizer 'adagrad'"),
    ({"optimizer": "adm"}, O.OptimizeError, "did you mean 'adam'"),
    ({"method": "magic"}, O.OptimizeError, "unknown method 'magic'"),
    ({"x0": [1.0, 2.0, 3.0]}, O.OptimizeError, "x0 has 3 coordinate(s) but himmelblau is a "
                                               "function of 2 variable(s) (x, y)"),
    ({"x0": [1.0, float("nan")]}, O.OptimizeError, "NaN or infinity"),
    ({"x0": "origin"}, O.OptimizeError, "x0 must be a number"),
    ({"momentum": 1.5, "optimizer": "momentum"}, O.OptimizeError, "momentum must be in [0, 1)"),
    ({"momentum": 0.9}, O.OptimizeError, "optimizer 'gd' takes no momentum="),
    ({"epsilon": 0.0, "optimizer": "adam"}, O.OptimizeError, "epsilon must be a positive"),
    ({"dtype": "float16"}, O.OptimizeError, "dtype must be"),
    ({"dtype": "float32"}, diffx.UnsupportedError,
     "float32 runs need a method that computes in float32"),
    ({"step": 1e-6}, O.OptimizeError, "method 'dual' takes no step="),
])
def test_bad_arguments_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        minimize("himmelblau", **kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, diffx.DiffxError)


def test_unknown_problem_names_suggest_the_closest():
    with pytest.raises(O.UnknownProblemError, match="did you mean 'himmelblau'") as info:
        minimize("himmelbau")
    assert isinstance(info.value, KeyError) and isinstance(info.value, diffx.DiffxError)
    with pytest.raises(O.UnknownProblemError, match="known: quadratic, cubic"):
        O.problem("banana")


def test_expressions_need_x0_and_x_is_still_an_expression():
    with pytest.raises(O.OptimizeError, match="x0 is required"):
        minimize("x**2")
    result = minimize("x", [1.0], method="dual", lr=0.5, steps=2)  # a variable, not a name
    np.testing.assert_array_equal(result.path[:, 0], [1.0, 0.5, 0.0])


def test_start_outside_the_domain_is_refused():
    with pytest.raises(O.OptimizeError, match="start inside the domain"):
        minimize("log(x)", [-1.0])


# --------------------------------------------------------------------------------------------
# Results, comparison table, figures
# --------------------------------------------------------------------------------------------
def test_result_records_cost_and_history():
    result = minimize("himmelblau", method="central", steps=5)
    assert result.path.shape == (6, 2) and result.losses.shape == (6,)
    assert result.grad_norms.shape == (5,) and result.grad_seconds.shape == (5,)
    assert result.grad_norms[0] == pytest.approx(math.hypot(14, 22), rel=1e-9)
    evaluations = [diffx.gradient("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", x, "central",
                                  full_output=True).evaluations for x in result.path[:-1]]
    assert result.function_evals == sum(evaluations) > 0
    assert minimize("himmelblau", method="dual", steps=5).function_evals == 0
    assert result.losses[0] == 170.0
    assert "himmelblau: gd (lr 0.001) for 5 steps with central gradients" in str(result)


def test_compare_table_ranks_time_and_marks_skips():
    comparison = O.compare_methods("sigmoid_neuron", ["dual", "complex-step", "forward"],
                                   steps=20)
    text = str(comparison)
    assert text.splitlines()[1].split()[:3] == ["method", "final", "f"]
    assert min(comparison.ratios().values()) == 1.0
    assert comparison.deviations["forward"] > 1e-9 > comparison.deviations["complex-step"]
    skipped = O.compare_methods("logistic_regression", steps=1).skipped
    assert list(skipped) == ["symbolic"]  # tape-forward is not in the default set


def test_plot_draws_losses_paths_and_the_fitted_line():
    pytest.importorskip("matplotlib")
    comparison = O.compare_methods("himmelblau", ["symbolic", "forward"], steps=30)
    figure = O.plot(comparison)
    loss_axes, contour_axes = figure.axes[:2]
    assert loss_axes.get_yscale() == "log"
    lines = [line for line in contour_axes.get_lines() if line.get_label() == "forward"]
    np.testing.assert_array_equal(lines[0].get_xydata(), comparison.results["forward"].path)
    regression = O.plot(minimize("linear_regression", method="dual", steps=50))
    assert len(regression.axes) == 3  # loss, contours over (w, c), the line over the data


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def test_cli_runs_a_seed_problem(capsys):
    assert main(["optimize", "quadratic", "--method", "dual", "--every", "10"]) == 0
    out = capsys.readouterr().out
    assert "step 0: x = [50.], loss = 1600.0" in out
    assert "quadratic: gd (lr 0.1) for 50 steps with dual gradients (float64): completed" in out
    assert "nearest known minimum (10.0,) at distance 0.000571" in out  # 40·0.8^50


def test_cli_optimizer_lr_steps_and_expression(capsys):
    assert main(["optimize", "himmelblau", "--method", "dual", "--optimizer", "adam",
                 "--lr", "0.05", "--steps", "3"]) == 0
    assert "himmelblau: adam (lr 0.05) for 3 steps" in capsys.readouterr().out
    assert main(["optimize", "(x - 2)**2", "--x0", "0", "--lr", "0.25", "--steps", "1"]) == 0
    assert "x = [1.]" in capsys.readouterr().out  # 0 − 0.25·(−4)


def test_cli_compare_and_list(capsys):
    assert main(["optimize", "sigmoid_neuron", "--compare", "dual,forward"]) == 0
    out = capsys.readouterr().out
    assert "sigmoid_neuron: gd lr 1, 20 steps" in out and "forward" in out
    assert main(["optimize", "--list"]) == 0
    assert "logistic_regression" in capsys.readouterr().out


def test_cli_plot_writes_a_png_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "q.png"
    assert main(["optimize", "rosenbrock", "--steps", "50", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["optimize", "rosenbrock", "--steps", "5", "--plot", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["optimize", "rosenbrok"], "unknown problem 'rosenbrok' (did you mean 'rosenbrock'?)"),
    (["optimize", "quadratic", "--lr", "-1"], "learning rate must be a positive"),
    (["optimize", "quadratic", "--steps", "0"], "steps must be a whole number >= 1"),
    (["optimize", "himmelblau", "--x0", "1,2,3"], "x0 has 3 coordinate(s)"),
    (["optimize", "x**2"], "x0 is required"),
    (["optimize"], "name a PROBLEM"),
])
def test_cli_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffx: error: ") and message in err.splitlines()[0]
    assert "Traceback" not in err


def test_importing_optimize_stays_light():
    code = ("import sys, diffx.optimize; heavy = [m for m in ('tensorflow', 'sklearn', "
            "'matplotlib') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_problem_catalogue_is_complete():
    assert list(O.problems) == ["quadratic", "cubic", "cubic_plus_five", "sigmoid_neuron",
                                "linear_regression", "logistic_regression", "himmelblau",
                                "rosenbrock"]

def test_cubics_descend_into_their_local_minimum_at_zero():
    """3x³ + x²: x ← x·(1 − lr(9x + 2)); x² + x³ + 5: x ← x·(1 − lr(3x + 2)). While 0 < x and
    lr(9x + 2) < 1 each step multiplies x by at most 1 − 2lr = 0.98, so after the first step
    (10 → 10 − 9.2 = 0.8) and 499 more, 0 < x <= 0.8·0.98^499 = 3.4e-5 (cubic), and from 2,
    0 < x <= 2·0.98^500 = 8.2e-5 (cubic_plus_five)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the problems' defaults
        cubic = minimize("cubic", method="symbolic")
        plus_five = minimize("cubic_plus_five", method="symbolic")
    assert cubic.path[1, 0] == pytest.approx(0.8, abs=1e-14)
    assert 0 < cubic.x[0] <= 0.8 * 0.98**499
    assert np.all(np.diff(cubic.path[1:, 0]) < 0)
    assert 0 < plus_five.x[0] <= 2 * 0.98**500
    assert plus_five.fun == pytest.approx(5 + plus_five.x[0] ** 2 + plus_five.x[0] ** 3,
                                          rel=1e-15)
