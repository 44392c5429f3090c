"""Every GradientTape idiom of the seed notebooks (shared/seeds 000-004), through diffx's tape
engine, and every seed number they print, checked against mathematics.

Truth: closed forms (at 50 digits in mpmath where not integers), the 50-digit reference
(:mod:`diffx.reference`), or a seed's printed number where it is right. Never another engine
(Keras gradients are additionally shown to agree with the dual and symbolic engines, as issue 6
asks, but each is held to the reference).

float32 yardstick: float32 has unit roundoff u = 2**-24 ≈ 6e-8 (machine epsilon 2**-23 ≈ 1.2e-7);
a forward and backward pass of a few well-conditioned float32 operations (sigmoid, products,
sums of same-sign terms) lands within a couple of units in the last place (ulps) of the exact
value. ``within_ulps(value, exact, k)`` checks |float32(value) - exact| ≤ k ulps.

Stale or wrong seed outputs found (each asserted below):
- seed 001 In [37] prints y_pred = 0.8021838 and In [54] gradients (-0.22878425, -0.4575685,
  0.2287842482328415) for weights (2, -3), bias -3; the truth is σ(1) = 0.7310586 and
  (-0.19661193, -0.39322387, 0.19661193). They are outputs of later cells (σ(1.4), σ'(0.6)).
  In [48], [50] and [51] print correct values for their own weights.
- seed 002's listing of the quadratic's gradient descent (iterations = 50) ends, after
  "....", at 10.010385 = x₃₇, not at x₅₀ = 10.00057: the tail of the output is from a shorter
  run (the first 17 values match TensorFlow float32 bit for bit).
- seed 002's logistic regression passes sigmoid outputs as *logits* to
  ``sigmoid_cross_entropy_with_logits`` (a double sigmoid): its printed losses (0.70 → 0.577)
  can never fall below ≈ 0.50, however good the classifier (see the test).
- seed 003 prints Himmelblau's converged float32 value 4.483808879740536e-10 at
  x = (2.9999971, 2.000005): right for float32 (reproduced bit for bit), but 1.3 % above the
  exact value of f at that same point (4.4253e-10): cancellation in x² + y - 11 near 0.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import diffx
from diffx.engines import tape as T
from diffx.errors import DiffxError, UnsupportedError
from diffx.reference import reference_gradient, reference_hessian, reference_jacobian, to_float

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

EXACT_RTOL = 1e-13


def relative_error(value, ref) -> float:
    value, ref = np.asarray(value, dtype=float), np.asarray(ref, dtype=float)
    return float(np.linalg.norm(value - ref) / np.linalg.norm(ref))


def within_ulps(value: float, exact: float, ulps: int = 2) -> bool:
    f = np.float32(value)
    return abs(float(f) - float(exact)) <= ulps * float(np.spacing(np.abs(f)))


def float32_ulps_apart(a: float, b: float) -> float:
    """How many float32 ulps apart the float32 roundings of a and b are (a printed float32
    identifies its float32 exactly)."""
    fa, fb = np.float32(a), np.float32(b)
    return abs(float(fa) - float(fb)) / float(np.spacing(np.abs(fb)))


def sigma(z):
    return 1 / (1 + mpmath.exp(-z))


# --------------------------------------------------------------------------------------------
# Watched constants vs Variables, persistent tapes, stop_gradient, unconnected gradients
# --------------------------------------------------------------------------------------------
NEURON = "(0.2 - sigmoid(w*1.5 + b))**2"  # seed 000 In [9], variables (b, w)


def neuron_closed_form() -> list[float]:
    with mpmath.workdps(50):
        h = sigma(mpmath.mpf(3) * mpmath.mpf("1.5") - 2)
        common = 2 * (h - mpmath.mpf("0.2")) * h * (1 - h)
        return [float(common), float(common * mpmath.mpf("1.5"))]


@pytest.mark.parametrize("watch", T.WATCH)
def test_seed_000_neuron_with_watched_constants_or_variables(watch) -> None:
    """Seed 000 In [9]: b, w are tf.Variables (watched automatically), x a watched constant.
    diffx gives the same numbers either way: float64 to 1e-13 of the closed form; float32 the
    seed's prints dE/db = 0.10153006, dE/dw = 0.15229508 to one float32 ulp."""
    exact = neuron_closed_form()
    [row] = T.gradients(NEURON, [-2.0, 3.0], watch=watch)
    assert relative_error(row, exact) <= EXACT_RTOL
    [row32] = T.gradients(NEURON, [-2.0, 3.0], watch=watch, dtype="float32")
    for got, printed, e in zip(row32, (0.10153006, 0.15229508), exact):
        assert float32_ulps_apart(got, printed) <= 1 and within_ulps(got, e, 2)


def test_persistent_tape_gives_each_output_its_gradient() -> None:
    """One persistent tape, m gradient calls = the Jacobian's rows (closed form for
    F = (xy, sin x + y², exp(xy)): rows (y, x), (cos x, 2y), (y, x)·exp(xy))."""
    x, y = 0.5, 1.5
    rows = T.gradients("[x*y, sin(x) + y**2, exp(x*y)]", [x, y])
    exact = [[y, x], [math.cos(x), 2 * y], [y * math.exp(x * y), x * math.exp(x * y)]]
    assert relative_error(rows, exact) <= EXACT_RTOL


def test_unconnected_gradients_none_or_zero_and_stop_gradient() -> None:
    """No path from y to x: TensorFlow's default answer is None, diffx's default 0.0; a path
    whose derivative happens to be 0 is 0.0 in both (∂(x·y)/∂y at x = 0)."""
    assert T.gradients("[x*y, x]", [2.0, 3.0], unconnected="none") == [[3.0, 2.0], [1.0, None]]
    assert T.gradients("[x*y, x]", [2.0, 3.0]) == [[3.0, 2.0], [1.0, 0.0]]
    assert T.gradients("x*y", [0.0, 3.0], unconnected="none") == [[3.0, 0.0]]
    # stop_gradient on y: y becomes a constant, unconnected
    assert T.gradients("x*y", [2.0, 3.0], stop=["y"], unconnected="none") == [[3.0, None]]
    assert T.gradients("x*y", [2.0, 3.0], stop=[0]) == [[0.0, 2.0]]


@pytest.mark.parametrize("method", ["tape", "tape-forward"])
def test_stop_gradient_inside_a_callable(method) -> None:
    """tf.stop_gradient in user code: d/dx [x · stop(x·y)] treats x·y as a constant, so it is
    x·y (not 2xy); d/dy is 0 (the only path to y is stopped)."""
    g = diffx.gradient(lambda v: v[0] * tf.stop_gradient(v[0] * v[1]), [2.0, 3.0], method)
    np.testing.assert_array_equal(g, [6.0, 0.0])


def test_unwatched_constant_is_invisible_to_a_raw_tape() -> None:
    """Seed 003's comment "if the tensors are not variables" — a constant the tape was not told
    to watch gets None: why diffx always watches its inputs."""
    x = tf.constant(2.0, tf.float64)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    assert diffx.derivative("x*x", 2.0, "tape") == 4.0


def test_option_errors() -> None:
    with pytest.raises(DiffxError, match="watch"):
        T.gradients("x", [1.0], watch="both")
    with pytest.raises(DiffxError, match="unconnected"):
        T.gradients("x", [1.0], unconnected="nan")
    with pytest.raises(DiffxError, match="mode"):
        diffx.gradient("x*y", [1.0, 2.0], "tape", mode="lazy")
    with pytest.raises(DiffxError, match="mode"):
        diffx.gradient("x*y", [1.0, 2.0], "dual", mode="graph")
    with pytest.raises(DiffxError, match="how"):
        T.hvp("x*y", [1.0, 2.0], [1.0, 0.0], how="sideways")


# --------------------------------------------------------------------------------------------
# Non-scalar targets: TensorFlow sums them (seed 000 In [8], seed 003 softmax)
# --------------------------------------------------------------------------------------------
def test_seed_000_gradient_of_a_nonscalar_target_is_the_gradient_of_its_sum() -> None:
    """b = 3(x + 2)² elementwise on a 2x2 x; c = mean(b). tape.gradient(c, x) = 3(x + 2)/2 and
    tape.gradient(b, x) = 6(x + 2) — the gradient of Σ b, not a Jacobian (seed 000 prints
    db_dx = 4·dy_dx). Dyadic x: every value is exact in float64, so equality."""
    xs = np.array([0.25, 0.5, 0.75, 1.0])
    b = "[" + ", ".join(f"3*(x{i} + 2)**2" for i in range(4)) + "]"
    c = "(" + " + ".join(f"3*(x{i} + 2)**2" for i in range(4)) + ")/4"
    np.testing.assert_array_equal(T.vjp(b, xs), 6 * (xs + 2))
    np.testing.assert_array_equal(diffx.gradient(c, xs, "tape"), 3 * (xs + 2) / 2)
    np.testing.assert_array_equal(T.vjp(b, xs, np.full(4, 0.25)), 3 * (xs + 2) / 2)


def test_seed_003_softmax_gradient_is_zero_and_the_prints_are_float32_noise() -> None:
    """Seed 003 In [75]: tape.gradient(softmax(logits), logits) = ∇ Σᵢⱼ pᵢⱼ = ∇ (number of
    rows) = 0 exactly. It printed zeros and 1.28e-8, 2.35e-8, 2.33e-8: float32 rounding of the
    row sum (each below one float32 epsilon, 1.19e-7). In float64 diffx's VJP is within a few
    float64 epsilons of 0; in float32 within a few float32 epsilons."""
    row = [0.2, 0.7, 0.45]
    softmax = "[" + ", ".join(f"exp(x{i})/(exp(x0) + exp(x1) + exp(x2))" for i in range(3)) + "]"
    assert np.max(np.abs(T.vjp(softmax, row))) <= 4 * np.finfo(float).eps
    assert np.max(np.abs(T.vjp(softmax, row, dtype="float32"))) <= 4 * np.finfo(np.float32).eps
    for printed in (1.2822345e-08, 2.3484551e-08, 2.3297744e-08):
        assert printed < np.finfo(np.float32).eps


# --------------------------------------------------------------------------------------------
# Gradients with respect to intermediate tensors (seed 001)
# --------------------------------------------------------------------------------------------
def test_seed_001_gradients_of_intermediate_results() -> None:
    """z = log(c·(a + b)) at a = 5, b = 7.3, c = 0.2: ∂z/∂(a+b) = 1/(a+b), ∂z/∂(c(a+b)) =
    1/(c(a+b)), ∂z/∂z = 1 (the seed's tape.gradient(z, [x, y, z]))."""
    a, b, c = 5.0, 7.3, 0.2
    rows = T.intermediate_gradients("log(c*(a + b))", [a, b, c])
    assert [name for name, _, _ in rows] == ["a + b", "c*(a + b)", "log(c*(a + b))"]
    exact = [1 / (a + b), 1 / (c * (a + b)), 1.0]
    assert relative_error([d for _, _, d in rows], exact) <= EXACT_RTOL
    with pytest.raises(UnsupportedError):
        T.intermediate_gradients(lambda v: v[0] * v[1], [1.0, 2.0])


def test_seed_003_chain_rule_through_intermediates() -> None:
    """Seed 003 In [93]: y1 = x1·w1 + b1, y2 = y1·w2 + b2; dy2/dw1 = dy2/dy1 · dy1/dw1 = w2·x1
    (printed True: both are the one product w2·x1, bit for bit)."""
    x1, w1, b1, w2, b2 = 0.3, 0.7, 0.1, 0.9, 0.4
    rows = T.intermediate_gradients("(x1*w1 + b1)*w2 + b2", [b1, b2, w1, w2, x1])
    by_name = {name: d for name, _, d in rows}
    dy1_dw1 = diffx.gradient("x1*w1 + b1", [b1, w1, x1], "tape")[1]
    dy2_dw1 = diffx.gradient("(x1*w1 + b1)*w2 + b2", [b1, b2, w1, w2, x1], "tape")[2]
    assert dy2_dw1 == by_name["b1 + w1*x1"] * dy1_dw1 == w2 * x1


def test_seed_003_relu_chain_prints_differ_by_one_float32_ulp() -> None:
    """Seed 003 In [120] prints dy2_dy1[0][0]·dy1_dw1[0][0] = 292.8453 and dy2_dw1[0][0] =
    292.84534: with every relu active (all inputs positive) the two are mathematically equal;
    the prints are two float32 roundings one ulp apart (ulp at 292 is 3.05e-5)."""
    a, b = np.float32(292.8453), np.float32(292.84534)
    assert b - a == np.spacing(a)


# --------------------------------------------------------------------------------------------
# Jacobians: tape.jacobian, tape.batch_jacobian, JVPs, HVPs
# --------------------------------------------------------------------------------------------
F = "[x*y, sin(x) + y**2, exp(x*y)]"


def test_batch_jacobian_matches_the_reference_at_each_point() -> None:
    points = np.array([[0.5, 1.5], [-0.3, 0.8], [1.2, -0.4]])
    J = T.batch_jacobian(F, points)
    assert J.shape == (3, 3, 2)
    for point, Jb in zip(points, J):
        assert relative_error(Jb, to_float(reference_jacobian(F, point))) <= EXACT_RTOL


@pytest.mark.parametrize("mode", T.MODES)
def test_jvp_and_vjp_against_the_reference(mode) -> None:
    point, v, u = [0.5, 1.5], np.array([0.3, -1.1]), np.array([1.0, -2.0, 0.5])
    J = to_float(reference_jacobian(F, point))
    assert relative_error(T.jvp(F, point, v, mode=mode), J @ v) <= EXACT_RTOL
    assert relative_error(T.vjp(F, point, u, mode=mode), u @ J) <= EXACT_RTOL


@pytest.mark.parametrize("how", T.HVP_STRATEGIES)
@pytest.mark.parametrize("mode", T.MODES)
def test_hessian_vector_products(how, mode) -> None:
    f = "sin(x*y)*exp(z) + x**3*z"
    point, v = [0.3, -0.8, 0.5], np.array([0.2, 1.0, -0.7])
    H = to_float(reference_hessian(f, point))
    assert relative_error(T.hvp(f, point, v, how=how, mode=mode), H @ v) <= EXACT_RTOL


# --------------------------------------------------------------------------------------------
# Compiled mode: traced once, cached, no retracing
# --------------------------------------------------------------------------------------------
def test_graph_mode_traces_once_per_signature() -> None:
    f = "sin(x)*exp(y) + x*y**2"
    T.clear_cache()
    first = diffx.gradient(f, [0.3, 0.4], "tape", mode="graph")
    graph = T.compiled(diffx.parse(f), "jacobian", "tape", "float64", 2)
    assert graph.experimental_get_tracing_count() == 1
    second = diffx.gradient(f, [1.1, -0.7], "tape", mode="graph")  # re-parsed, new point
    assert graph.experimental_get_tracing_count() == 1  # the same graph, not retraced
    for value, (x, y) in ((first, (0.3, 0.4)), (second, (1.1, -0.7))):
        exact = [math.cos(x) * math.exp(y) + y**2, math.sin(x) * math.exp(y) + 2 * x * y]
        assert relative_error(value, exact) <= EXACT_RTOL
    diffx.gradient(f, [0.3, 0.4], "tape", mode="graph", dtype="float32")  # its own signature
    assert graph.experimental_get_tracing_count() == 1
    assert T.compiled(diffx.parse(f), "jacobian", "tape", "float32", 2) \
        .experimental_get_tracing_count() == 1


def test_graph_mode_callable_and_higher_orders() -> None:
    """A callable with numpy ufuncs under tf.function, and the 6th derivative of sin by six
    nested tapes (and 3 accumulators under 3 tapes) inside one graph: -sin(0.7)."""
    g = diffx.gradient(lambda v: np.sin(v[0]) * v[1], [1.0, 2.0], "tape", mode="graph")
    assert relative_error(g, [2 * math.cos(1.0), math.sin(1.0)]) <= EXACT_RTOL
    for method in ("tape", "tape-forward"):
        d6 = diffx.derivative("sin(x)", 0.7, method, order=6, mode="graph")
        assert abs(d6 + math.sin(0.7)) <= EXACT_RTOL * math.sin(0.7)


def test_seed_003_himmelblau_descent_compiled_reproduces_the_print_bit_for_bit() -> None:
    """Seed 003 In [45]: 2001 float32 gradient-descent steps on Himmelblau from (0, 0), lr =
    0.001, in one tf.function. Step 0 prints x = (0.014, 0.022) (= -lr·∇f(0) = lr·(14, 22)),
    pred 170; step 2000 prints x = (2.9999971, 2.000005), pred = 4.483808879740536e-10 — all
    reproduced exactly. The print is the float32 evaluation; f at that same point is
    4.4253e-10 exactly (cancellation in x² + y - 11 costs ~1 % in float32)."""
    f = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"
    np.testing.assert_array_equal(diffx.gradient(f, [0.0, 0.0], "tape", mode="graph"),
                                  [-14.0, -22.0])
    fn = diffx.parse(f)
    x = tf.Variable([0.0, 0.0], dtype=tf.float32)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            pred = fn(x[0], x[1])
        x.assign_sub(0.001 * tape.gradient(pred, x))
        return pred

    assert float(step().numpy()) == 170.0
    # numpy prints (0.014, 0.022) at 8 digits; the float32s are lr·(14, 22) rounded, which the
    # seed's PyTorch twin prints in full: 0.014000000432133675, 0.02200000174343586
    lr = np.float32(0.001)
    np.testing.assert_array_equal(x.numpy(), [lr * np.float32(14), lr * np.float32(22)])
    np.testing.assert_array_equal(x.numpy(), [0.014000000432133675, 0.02200000174343586])
    for _ in range(2000):
        pred = step()
    np.testing.assert_array_equal(x.numpy(), np.float32([2.9999971, 2.000005]))
    assert float(pred.numpy()) == 4.483808879740536e-10
    with mpmath.workdps(50):
        a, b = (mpmath.mpf(float(v)) for v in x.numpy())
        exact = (a**2 + b - 11) ** 2 + (a + b**2 - 7) ** 2
    assert abs(float(exact) - 4.4253e-10) < 1e-14
    assert abs(float(pred.numpy()) / float(exact) - 1) > 0.01


# --------------------------------------------------------------------------------------------
# Seed 000: gradient descent on the neuron; seed 002: the quadratic and the regressions
# --------------------------------------------------------------------------------------------
SEED_000_EPOCHS = [  # error, h, w, b, dE_db, dE_dw as printed by In [10] ({:.05f})
    (0.52438, 0.92414, 2.84770, -2.10153, 0.10153, 0.15230),
    (0.48654, 0.89753, 2.65524, -2.22984, 0.12831, 0.19246),
    (0.42554, 0.85233, 2.40893, -2.39404, 0.16421, 0.24631),
    (0.32713, 0.77195, 2.10687, -2.59542, 0.20138, 0.30206),
    (0.19148, 0.63758, 1.80353, -2.79765, 0.20223, 0.30334),
    (0.07669, 0.47693, 1.59628, -2.93582, 0.13817, 0.20726),
    (0.02818, 0.36786, 1.47917, -3.01388, 0.07807, 0.11710),
    (0.01234, 0.31107, 1.40777, -3.06149, 0.04761, 0.07141),
    (0.00623, 0.27892, 1.36015, -3.09323, 0.03174, 0.04762),
    (0.00344, 0.25865, 1.32641, -3.11572, 0.02249, 0.03374),
    (0.00201, 0.24488, 1.30152, -3.13232, 0.01660, 0.02490),
    (0.00123, 0.23504, 1.28261, -3.14492, 0.01260, 0.01890),
]


def test_seed_000_gradient_descent_epochs() -> None:
    """Seed 000 In [10], lr = 1, from (b, w) = (-2, 3): diffx's float64 tape gradients (in a
    compiled graph) reproduce every printed 5-decimal number of epochs 1-12 to its rounding,
    5e-6 (plus 1e-7: the seed ran in float32, whose ~1e-7 error could flip a last digit)."""
    b, w = -2.0, 3.0
    for error, h, w_new, b_new, db, dw in SEED_000_EPOCHS:
        value_h = 1 / (1 + math.exp(-(w * 1.5 + b)))
        g_b, g_w = diffx.gradient(NEURON, [b, w], "tape", mode="graph")
        b, w = b - g_b, w - g_w
        got = ((0.2 - value_h) ** 2, value_h, w, b, g_b, g_w)
        expected = (error, h, w_new, b_new, db, dw)
        assert np.all(np.abs(np.subtract(got, expected)) <= 5e-6 + 1e-7), (got, expected)


def test_seed_002_cubic_with_a_variable_prints_920() -> None:
    """tf.Variable(10.0) and tape.gradient: 9x² + 2x = 920, exact in float32 (small integers)."""
    assert T.gradients("3*x**3 + x**2", [10.0], watch="variable", dtype="float32") == [[920.0]]
    assert T.gradients("x**2 + x**3 + 5", [2.0], watch="variable", dtype="float32") == [[16.0]]


def test_seed_002_quadratic_descent_listing_ends_at_iteration_37_not_50() -> None:
    """x ← x - 0.1·(2x - 20) from 50: x_k = 10 + 40·0.8^k. The seed's float32 prints of x₁..x₁₇
    are TensorFlow's float32 iterates bit for bit (e.g. 26.383999 is float32's 26.384); the four
    after "....." are x₃₄..x₃₇ — with iterations = 50 the run ends at x₅₀ = 10.00057."""
    printed_head = [42.0, 35.6, 30.48, 26.383999, 23.107199, 20.48576, 18.388607, 16.710886,
                    15.368709, 14.294967, 13.435973, 12.748778, 12.199022, 11.759218, 11.407374,
                    11.125899, 10.90072]
    printed_tail = [10.020282, 10.016226, 10.01298, 10.010385]
    x = np.float32(50.0)
    iterates = []
    for _ in range(50):
        [[g]] = T.gradients("x**2 - 20*x + 100", [float(x)], dtype="float32")
        x = np.float32(x - np.float32(g) * np.float32(0.1))
        iterates.append(x)
    assert iterates[:17] == [np.float32(p) for p in printed_head]
    assert iterates[33:37] == [np.float32(p) for p in printed_tail]
    for k, p in zip(range(34, 38), printed_tail):  # the closed form agrees: k = 34..37
        assert abs(p - (10 + 40 * 0.8**k)) < 2e-6
    assert abs(float(iterates[49]) - (10 + 40 * 0.8**50)) < 2e-6
    assert float(iterates[49]) < 10.001 < printed_tail[-1]


def test_seed_002_linear_regression_gradient() -> None:
    """The seed's data (np.random.seed(10), 100 points, y = 2.5x + 3 + noise) and loss
    Σ(wx + c - y)²/(2m). At w = c = 0 the gradient is (-mean(x·y), -mean(y)), summed exactly
    (math.fsum). The TensorFlow sum of 100 products rounds with error ≤ 100·ε·Σ|xy|/|Σxy|
    (condition ≈ 1 here): 1e-13 holds."""
    np.random.seed(10)
    X = np.linspace(0, 10, 100)
    Y = 2.5 * X + 3 + np.random.normal(0, 1.5, 100)
    Xt, Yt = tf.constant(X), tf.constant(Y)
    g = diffx.gradient(lambda v: tf.reduce_sum((v[0] * Xt + v[1] - Yt) ** 2) / 200,
                       [0.0, 0.0], "tape", mode="graph")
    exact = [-math.fsum(X * Y) / 100, -math.fsum(Y) / 100]
    assert relative_error(g, exact) <= EXACT_RTOL


def test_seed_002_logistic_loss_is_a_double_sigmoid() -> None:
    """The seed's predict() returns σ(Wx + b) and loss_funct() feeds it to
    sigmoid_cross_entropy_with_logits as *logits*: each sample costs softplus(p) - y·p with
    p = σ(z) ∈ (0, 1), at least softplus(-1) = 0.313 (y = 1) or log 2 = 0.693 (y = 0). With the
    seed's 324 training digits (0s and 1s) the mean loss is ≥ 0.50 whatever the weights: the
    printed 0.70 → 0.577 plateau is the bug, not slow learning. At W = 0, b = 0 the gradient
    in b is mean(σ(½) - y)·σ'(0) = mean(σ(½) - y)/4 (closed form)."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    y = digits.target[(digits.target == 0) | (digits.target == 1)][:324].astype(float)
    bound = np.mean(np.where(y == 1, math.log1p(math.exp(-1.0)), math.log(2.0)))
    assert 0.49 < bound < 0.51 and bound < 0.5774078  # the seed's last printed loss

    def seed_loss(v):
        p = tf.sigmoid(v + 0 * tf.constant(y))  # W·x = 0: z = b for every sample
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=p, labels=y))

    db = diffx.derivative(seed_loss, 0.0, "tape")
    exact = float(np.mean([float(sigma(mpmath.mpf("0.5"))) - t for t in y]) / 4)
    assert abs(db - exact) <= 1e-13 * abs(exact) + 1e-16


# --------------------------------------------------------------------------------------------
# Seed 000: hinge and cross-entropy losses through softmax (Keras losses, float32)
# --------------------------------------------------------------------------------------------
def _softmax_mp(z) -> list:
    with mpmath.workdps(50):
        e = [mpmath.exp(mpmath.mpf(float(np.float32(v)))) for v in z]
        s = sum(e)
        return [v / s for v in e]


def test_seed_000_categorical_hinge_through_softmax() -> None:
    """In [11]-[12]: y_true = e₀, logits (0, 1, 0). p = softmax; hinge = max(0, max_{j≠0} pⱼ -
    p₀ + 1) = 1 + p₁ - p₀ = 1.3641753; ∂h/∂p = (-1, 1, 0); ∂h/∂z = Jᵀg with J = diag(p) - ppᵀ:
    pⱼ(gⱼ - p·g) = (-0.28912547, 0.36630934, -0.07718389). All printed values within 2 float32
    ulps of the closed forms, and diffx's float32 tape within 2 ulps too."""
    z = [0.0, 1.0, 0.0]
    p = _softmax_mp(z)
    g = [-1, 1, 0]
    pg = sum(pi * gi for pi, gi in zip(p, g))
    exact_h = float(1 + p[1] - p[0])
    exact_dz = [float(pi * (gi - pg)) for pi, gi in zip(p, g)]
    assert within_ulps(1.3641753, exact_h)
    for printed, e in zip((-0.28912547, 0.36630934, -0.07718389), exact_dz):
        assert within_ulps(printed, e)
    hinge = keras.losses.CategoricalHinge()
    y_true = tf.constant([[1.0, 0.0, 0.0]])

    def loss(v):
        return hinge(y_true, tf.nn.softmax(tf.reshape(v, [1, 3])))

    dz = diffx.gradient(loss, z, "tape", dtype="float32")
    for got, e in zip(dz, exact_dz):
        assert within_ulps(got, e)


def test_seed_000_nine_class_hinge_and_cross_entropy() -> None:
    """In [13]-[15], 9 logits, true class 0. hinge = 1 + p₃ - p₀ = 0.926781; CCE = -log p₀ =
    1.3720545; ∂hinge/∂z = pⱼ(gⱼ - p·g), g = e₃ - e₀; ∂CCE/∂p (Keras normalises p by Σp):
    -1/p₀ + 1/Σp = -2.9434438 and 1/Σp = 1 elsewhere. Printed values within 2 float32 ulps of
    the closed forms; diffx float64 tape within 1e-13 of them."""
    z = [1.26908707619, 0.61077165603, -0.7032195329, 0.92837673425, -0.5457400083,
         -0.6242400407, 0.45880278945, 0.64756596088, -0.0037845533]
    p = _softmax_mp(z)
    g = [-1, 0, 0, 1, 0, 0, 0, 0, 0]
    pg = sum(pi * gi for pi, gi in zip(p, g))
    exact_dz = [float(pi * (gi - pg)) for pi, gi in zip(p, g)]
    assert within_ulps(0.926781, float(1 + p[3] - p[0]))
    assert within_ulps(1.3720545, float(-mpmath.log(p[0])))
    assert within_ulps(-2.9434438, float(-1 / p[0] + 1))
    printed_dz = [-0.23501818, 0.0096127, 0.00258337, 0.1935727, 0.00302398, 0.00279568,
                  0.00825746, 0.00997298, 0.00519933]
    # numpy prints arrays with 8 decimals: ±5e-9 of print rounding. And the seed's float32
    # p·g = p₃ - p₀ carries an absolute error of a few ulps of p₀ (softmax rounds each p by a
    # few u), passed on times pⱼ: within 5e-9 + pⱼ·4·ulp(p₀)
    ulp_p0 = float(np.spacing(np.float32(p[0])))
    for printed, e, pj in zip(printed_dz, exact_dz, p):
        allowed = 5e-9 + float(pj) * 4 * ulp_p0
        assert abs(printed - e) <= allowed, (printed, e, allowed)
    # float64 through Keras' loss and softmax, against the closed form at the float32 logits
    hinge = keras.losses.CategoricalHinge(dtype="float64")
    y_true = tf.constant([[1.0] + [0.0] * 8], tf.float64)
    z32 = [float(np.float32(v)) for v in z]
    dz = diffx.gradient(lambda v: hinge(y_true, tf.nn.softmax(tf.reshape(v, [1, 9]))), z32,
                        "tape")
    assert relative_error(dz, exact_dz) <= EXACT_RTOL


# --------------------------------------------------------------------------------------------
# Keras models: seed 001's neuron, a two-layer softmax network, seed 004's vector loss
# --------------------------------------------------------------------------------------------
def _array_initializer(values):
    def initializer(shape, dtype=None):
        array = np.asarray(values, dtype=float)
        assert tuple(shape) == array.shape
        return array
    return initializer


def cs231n_neuron(kernel, bias, dtype):
    # Constant(bias) as in the seed for float32; an array initialiser for float64, because
    # Keras' Constant rounds its value to float32 even for a float64 layer (test below)
    bias_initializer = keras.initializers.Constant(bias) if dtype == "float32" else \
        _array_initializer([bias])
    return keras.Sequential([
        keras.Input(shape=(2,), dtype=dtype),
        keras.layers.Dense(1, kernel_initializer=_array_initializer(kernel),
                           bias_initializer=bias_initializer,
                           activation="sigmoid", dtype=dtype),
    ])


SEED_001_CELLS = [  # cell, kernel, bias, z = w·x + b, printed y, printed (dk0, dk1, db) or None
    ("In [37]/[54] (stale)", (2.0, -3.0), -3.0, 1.0, None, None),
    ("In [48]", (1.9, -3.1), -2.9, 1.4, 0.8021838, (-0.15868495, -0.3173699, 0.15868495)),
    ("In [50]", (2.1, -2.9), -3.1, 0.6, 0.6456564, (-0.22878422, -0.45756844, 0.2287842184)),
    ("In [51]", (2.45, -2.55), -3.25, -0.6, 0.35434368, (-0.22878425, -0.4575685, 0.2287842482)),
]


@pytest.mark.parametrize(("cell", "kernel", "bias", "z", "printed_y", "printed_grad"),
                         SEED_001_CELLS, ids=[c[0] for c in SEED_001_CELLS])
def test_seed_001_keras_neuron(cell, kernel, bias, z, printed_y, printed_grad) -> None:
    """Dense(1, sigmoid) with an initialiser function for the kernel and Constant for the bias,
    x = (-1, -2): y = σ(z), ∂y/∂(k₀, k₁, b) = σ'(z)·(-1, -2, 1). float64 model (eager and
    graph) within 1e-13 of the closed form; float32 model, and each printed number of the cells
    that are not stale, within 4 float32 ulps of the closed form at the float32 weights."""
    with mpmath.workdps(50):
        s = sigma(mpmath.mpf(kernel[0]) * -1 + mpmath.mpf(kernel[1]) * -2 + mpmath.mpf(bias))
        exact_y, d = float(s), s * (1 - s)
        exact = [float(d * -1), float(d * -2), float(d)]
    assert abs(float(s) - float(sigma(mpmath.mpf(z)))) < 1e-12  # the z in the table is right
    x = [[-1.0, -2.0]]
    with mpmath.workdps(50):  # the float32 model's weights are float32(1.9), ... exactly
        k0, k1, b0 = (mpmath.mpf(float(np.float32(v))) for v in (*kernel, bias))
        s32 = sigma(-k0 - 2 * k1 + b0)
        exact_y32, d32 = float(s32), s32 * (1 - s32)
        exact32 = [float(-d32), float(-2 * d32), float(d32)]
    for mode in T.MODES:
        value, (dk, db) = T.keras_gradients(cs231n_neuron([[kernel[0]], [kernel[1]]], bias,
                                                          "float64"), x, mode=mode)
        assert abs(value - exact_y) <= EXACT_RTOL * exact_y
        assert relative_error([*dk.ravel(), *db], exact) <= EXACT_RTOL
    value, (dk, db) = T.keras_gradients(cs231n_neuron([[kernel[0]], [kernel[1]]], bias,
                                                      "float32"), x)
    # float32: z = -k₀ - 2k₁ + b is rounded once (≤ u·|k₀ + 2k₁| ≈ 4u absolute), moving σ'(z)
    # by |1 - 2σ|·4u relative, ≤ 2 ulps; σ, 1 - σ and the products round ~2 more: 4 ulps
    assert within_ulps(value, exact_y32, 4)
    assert all(within_ulps(g, e, 4) for g, e in zip([*dk.ravel(), *db], exact32))
    if printed_y is not None:
        assert within_ulps(printed_y, exact_y32, 4)
        assert all(within_ulps(p, e, 4) for p, e in zip(printed_grad, exact32))
    else:  # the stale prints are not σ(1) and σ'(1)·(-1, -2, 1)
        assert abs(0.8021838 - exact_y) > 0.07 and abs(0.2287842482 - exact[2]) > 0.03


def test_keras_constant_initializer_rounds_to_float32_in_a_float64_layer() -> None:
    """A trap for float64 comparisons (Keras 3.15 behaviour, not diffx's): Constant(-2.9) gives
    float32(-2.9) = -2.9000000953674316 even when asked for float64, so a float64 model built
    with it is σ'(z) at a bias 1e-7 away — a 2e-8 relative change of σ(1.4), far above 1e-13."""
    value = keras.initializers.Constant(-2.9)(shape=(1,), dtype="float64").numpy()[0]
    assert value == float(np.float32(-2.9)) != -2.9


# the seed's 2-5-5 network, with fixed weights instead of RandomNormal(seed=7)
RNG = np.random.default_rng(7)
W1, B1 = RNG.normal(0, 0.5, (2, 5)), RNG.normal(0, 0.5, 5)
W2, B2 = RNG.normal(0, 0.5, (5, 5)), RNG.normal(0, 0.5, 5)
NET_X, NET_LABEL = (0.3, 0.8), 2


def network_loss(v):
    """Cross-entropy of softmax(W2ᵀσ(W1ᵀx + b1) + b2) for class NET_LABEL, as a function of the
    45 weights in Keras' order (W1 row-major, b1, W2 row-major, b2); written with diffx's
    functions so it runs on floats, duals, SymPy symbols and mpmath numbers."""
    w1 = [[v[5 * i + j] for j in range(5)] for i in range(2)]
    b1 = [v[10 + j] for j in range(5)]
    w2 = [[v[15 + 5 * i + j] for j in range(5)] for i in range(5)]
    b2 = [v[40 + j] for j in range(5)]
    hidden = [diffx.sigmoid(NET_X[0] * w1[0][j] + NET_X[1] * w1[1][j] + b1[j]) for j in range(5)]
    scores = [sum(hidden[j] * w2[j][k] for j in range(5)) + b2[k] for k in range(5)]
    return -scores[NET_LABEL] + diffx.log(sum(diffx.exp(s) for s in scores))


def test_two_layer_softmax_network_gradient_against_reference_dual_and_symbolic() -> None:
    """Keras Dense(5, sigmoid) → Dense(5) with categorical cross-entropy from logits, float64:
    the 45 weight gradients (eager and graph) within 1e-13 of the 50-digit reference; the dual
    and symbolic engines on the same loss written out (network_loss) also within 1e-13 of it."""
    model = keras.Sequential([
        keras.Input(shape=(2,), dtype="float64"),
        keras.layers.Dense(5, activation="sigmoid", kernel_initializer=_array_initializer(W1),
                           bias_initializer=_array_initializer(B1), dtype="float64"),
        keras.layers.Dense(5, kernel_initializer=_array_initializer(W2),
                           bias_initializer=_array_initializer(B2), dtype="float64"),
    ])
    weights = np.concatenate([W1.ravel(), B1, W2.ravel(), B2])
    reference = to_float(reference_gradient(network_loss, weights))

    def cce(y, logits):
        return keras.losses.categorical_crossentropy(y, logits, from_logits=True)

    onehot = np.eye(5)[[NET_LABEL]]
    for mode in T.MODES:
        value, grads = T.keras_gradients(model, [NET_X], onehot, cce, mode=mode)
        flat = np.concatenate([g.ravel() for g in grads])
        assert relative_error(flat, reference) <= EXACT_RTOL
    assert abs(value - float(network_loss(weights))) <= EXACT_RTOL * value
    for method in ("dual", "symbolic"):
        assert relative_error(diffx.gradient(network_loss, weights, method), reference) \
            <= EXACT_RTOL


def test_seed_004_per_sample_loss_vector_is_summed() -> None:
    """Seed 004 differentiates keras' categorical_crossentropy(y, pred), a per-sample vector:
    tape.gradient returns the gradient of its sum. For a softmax layer z = xW + b the gradient
    of Σₛ CE is Σₛ xₛᵀ(pₛ - yₛ) for W and Σₛ (pₛ - yₛ) for b (closed form, 50 digits)."""
    W, b = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.6]]), np.array([0.1, 0.0, -0.1])
    X, Y = np.array([[1.0, 2.0], [-0.5, 0.3], [0.7, -1.2]]), np.eye(3)[[0, 2, 1]]
    model = keras.Sequential([
        keras.Input(shape=(2,), dtype="float64"),
        keras.layers.Dense(3, activation="softmax", kernel_initializer=_array_initializer(W),
                           bias_initializer=_array_initializer(b), dtype="float64")])
    _, (dW, db) = T.keras_gradients(model, X, Y, keras.losses.categorical_crossentropy)
    with mpmath.workdps(50):
        exact_W = [[mpmath.mpf(0)] * 3 for _ in range(2)]
        exact_b = [mpmath.mpf(0)] * 3
        for x, y in zip(X, Y):
            z = [sum(mpmath.mpf(x[i]) * mpmath.mpf(W[i, k]) for i in range(2))
                 + mpmath.mpf(b[k]) for k in range(3)]
            s = sum(mpmath.exp(v) for v in z)
            for k in range(3):
                r = mpmath.exp(z[k]) / s - y[k]
                exact_b[k] += r
                for i in range(2):
                    exact_W[i][k] += mpmath.mpf(x[i]) * r
        exact = [float(v) for v in [*exact_W[0], *exact_W[1], *exact_b]]
    # Keras clips p to [1e-7, 1 - 1e-7] before the log; every p here is in (0.03, 0.9)
    assert relative_error(np.concatenate([dW.ravel(), db]), exact) <= EXACT_RTOL
