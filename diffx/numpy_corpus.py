"""Numpy code the way engineers write it, each function with a point: the data of issue 21.

"Your own numpy code, through every engine": a user hands diffx a function written with numpy
(softmax cross-entropy, a small MLP, a Lennard-Jones energy, a linear solve, ``np.where``
piecewise losses, reshapes and concatenations, ufuncs) and asks for its gradient. This module
is that user code, collected once so that every engine can be run on the same cases and a test
can list which numpy functions and methods they use. It imports only numpy, and
``import diffx`` does not import it.

Each :class:`NumpyCase` holds a ``func`` of ONE float vector ``x`` of shape (n,), 1 <= n <= 12,
returning a float of shape () or, when ``vector_output``, a 1-D array of length m <= 6, and a
``point`` (n floats) where ``func`` is analytic in a neighbourhood: off every kink and tie of
abs/max/where/clip, inside every domain (log > 0, arccosh > 1, |arctanh| < 1), away from the
zeros of prod's factors, with well-conditioned matrices. A few cases (``kink=True``) sit
deliberately on a kink or tie; their ``note`` says which. ``note="data-dependent shape"``
marks boolean indexing, whose result's shape depends on the values. Constants (weights, data)
are small fixed arrays, literal or drawn from ``np.random.default_rng`` with a fixed seed.

    >>> import numpy as np
    >>> case = by_name("logsumexp")
    >>> case.point
    (0.3, -1.2, 2.0, 0.5, -0.7)
    >>> round(float(case.func(np.array(case.point))), 12)
    2.414610759465
    >>> len(CASES) >= 160, sum(case.vector_output for case in CASES) >= 20
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CASES", "NumpyCase", "by_name"]


@dataclass(frozen=True)
class NumpyCase:
    """One user function ``func(x: (n,)) -> () or (m,)`` and the point where it is evaluated.

    ``kink=True``: the point sits on a kink or tie on purpose (``note`` says which); otherwise
    ``func`` is analytic near ``point``.
    """

    name: str
    func: Callable[[np.ndarray], np.ndarray | float]
    point: tuple[float, ...]
    vector_output: bool = False
    kink: bool = False
    note: str = ""


_REGISTERED: list[NumpyCase] = []


def _case(*point: float, vector_output: bool = False, kink: bool = False,
          note: str = "") -> Callable[[Callable], Callable]:
    """Register the decorated function as a case named after it, at ``point``."""
    def register(func: Callable) -> Callable:
        _REGISTERED.append(NumpyCase(func.__name__, func, tuple(float(p) for p in point),
                                     vector_output, kink, note))
        return func
    return register


def _fixed(seed: int, *shape: int) -> np.ndarray:
    """Small deterministic weights: standard normal draws from a seeded generator, 2 decimals."""
    return np.round(np.random.default_rng(seed).standard_normal(shape), 2)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


# Shared data: 6 samples of 3 features, regression targets, 0/1 labels and ±1 labels
_X_DATA = _fixed(1, 6, 3)
_Y_REG = np.array([0.5, -1.2, 0.3, 2.0, -0.7, 1.1])
_Y_BIN = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
_Y_SIGN = 2.0 * _Y_BIN - 1.0
_COUNTS = np.array([1.0, 0.0, 3.0, 2.0, 1.0, 4.0])
_TARGET4 = np.array([0.2, -0.5, 1.0, 0.3])
_A3 = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.2], [0.5, -0.2, 2.5]])
_B3 = np.array([1.0, -2.0, 0.5])
_SPD4 = np.array([[3.0, 0.5, 0.0, 0.2], [0.5, 2.0, 0.3, 0.0],
                  [0.0, 0.3, 1.5, 0.1], [0.2, 0.0, 0.1, 1.0]])
_W6 = np.array([0.3, -0.1, 0.7, 0.2, -0.4, 0.5])
_W8 = np.array([0.5, -0.2, 0.1, 0.3, -0.6, 0.4, 0.05, -0.15])
_W12 = np.linspace(-0.55, 0.55, 12)


# ---------------------------------------------------------------------------------------------
# Losses and classifiers
# ---------------------------------------------------------------------------------------------

@_case(0.3, -1.2, 2.0, 0.5, -0.7)
def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@_case(0.2, -0.4, 1.1, 0.7)
def softmax_cross_entropy(x):
    label = 2
    z = x - np.max(x)
    log_probs = z - np.log(np.sum(np.exp(z)))
    return -log_probs[label]


@_case(0.5, -1.0, 0.25, 1.5, vector_output=True)
def softmax_probabilities(x):
    e = np.exp(x - x.max())
    return e / e.sum()


@_case(0.1, 0.9, -0.3, 0.4, -1.2)
def softmax_entropy(x):
    p = np.exp(x - np.max(x))
    p = p / np.sum(p)
    return -np.sum(p * np.log(p))


@_case(0.3, -0.2, 0.5, 0.1)
def kl_divergence_to_fixed(x):
    q = np.array([0.1, 0.2, 0.3, 0.4])
    p = _softmax(x)
    return np.sum(p * (np.log(p) - np.log(q)))


@_case(0.5, -0.3, 2.0, 1.0)
def log_softmax_vector(x):
    shifted = x - np.max(x)
    log_p = shifted - np.log(np.exp(shifted).sum())
    return log_p @ np.array([0.1, 0.2, 0.6, 0.1])


@_case(0.4, -0.3, 0.8)
def mse_linear_regression(x):
    residual = _X_DATA @ x - _Y_REG
    return np.mean(residual ** 2)


@_case(0.4, -0.3, 0.8)
def ridge_regression_loss(x):
    r = _X_DATA.dot(x) - _Y_REG
    return r @ r + 0.1 * (x @ x)


@_case(0.6, -0.9, 0.35)
def elastic_net_loss(x):
    r = _X_DATA @ x - _Y_REG
    return 0.5 * np.mean(r ** 2) + 0.05 * np.sum(np.abs(x)) + 0.01 * np.sum(np.square(x))


@_case(0.2, -0.5, 0.7)
def logistic_regression_loss(x):
    margins = _Y_SIGN * (_X_DATA @ x)
    return np.sum(np.logaddexp(0.0, -margins))


@_case(0.3, 0.6, -0.4)
def binary_cross_entropy(x):
    p = _sigmoid(_X_DATA @ x)
    return -np.mean(_Y_BIN * np.log(p) + (1 - _Y_BIN) * np.log1p(-p))


@_case(0.3, 0.6, -0.4)
def bce_with_logits_stable(x):
    z = _X_DATA @ x
    return np.mean(np.maximum(z, 0) - z * _Y_BIN + np.log1p(np.exp(-np.abs(z))))


@_case(0.35, 0.45, -0.25)
def huber_loss(x):
    delta = 1.0
    r = _X_DATA @ x - _Y_REG
    quadratic = 0.5 * r ** 2
    linear = delta * (np.abs(r) - 0.5 * delta)
    return np.sum(np.where(np.abs(r) <= delta, quadratic, linear))


@_case(0.9, -0.3, 0.1, 1.6)
def smooth_l1_loss(x):
    beta = 0.5
    diff = x - _TARGET4
    abs_diff = np.abs(diff)
    return np.mean(np.where(abs_diff < beta, 0.5 * diff ** 2 / beta, abs_diff - 0.5 * beta))


@_case(0.9, -0.3, 0.1, 1.6)
def log_cosh_loss(x):
    return np.sum(np.log(np.cosh(x - _TARGET4)))


@_case(0.8, -0.6, 0.3)
def hinge_loss(x):
    return np.mean(np.maximum(0.0, 1.0 - _Y_SIGN * (_X_DATA @ x)))


@_case(0.8, -0.6, 0.3)
def squared_hinge_loss(x):
    slack = np.maximum(0.0, 1.0 - _Y_SIGN * (_X_DATA @ x))
    return np.sum(slack ** 2)


@_case(0.8, -0.6, 0.3)
def quantile_loss(x):
    q = 0.7
    r = _Y_REG - _X_DATA @ x
    return np.sum(np.maximum(q * r, (q - 1) * r))


@_case(0.1, 0.2, -0.15)
def poisson_regression_nll(x):
    eta = _X_DATA @ x
    return np.sum(np.exp(eta) - _COUNTS * eta)


@_case(0.7, -0.2, 1.3, 0.4)
def focal_loss(x):
    gamma = 2.0
    p = _sigmoid(x)
    return -np.sum((1 - p) ** gamma * np.log(p))


@_case(0.5, -1.0, 2.0)
def cosine_similarity(x):
    u = np.array([1.0, 0.5, -0.3])
    return x @ u / (np.linalg.norm(x) * np.linalg.norm(u))


@_case(0.7, 0.2, 1.1, -0.4)
def dice_loss_soft(x):
    p = _sigmoid(x)
    target = np.array([1.0, 0.0, 1.0, 0.0])
    return 1.0 - 2.0 * np.sum(p * target) / (np.sum(p) + np.sum(target))


@_case(0.3, 0.6, -0.4, vector_output=True)
def logistic_probabilities(x):
    return _sigmoid(_X_DATA @ x)


@_case(0.5, -1.0, 0.3, 0.8, vector_output=True)
def gradient_descent_step(x):
    grad = _SPD4 @ x - _TARGET4 + 0.1 * np.tanh(x)
    return x - 0.1 * grad

# ---------------------------------------------------------------------------------------------
# Small neural networks
# ---------------------------------------------------------------------------------------------

_W1 = _fixed(2, 4, 3)
_B1 = _fixed(3, 4)
_W2 = _fixed(4, 4)
_W_OUT = _fixed(7, 2, 4)


@_case(0.5, -0.2, 0.8)
def mlp_tanh(x):
    h = np.tanh(_W1 @ x + _B1)
    return _W2 @ h


@_case(0.5, -0.2, 0.8)
def mlp_relu(x):
    h = np.maximum(_W1 @ x + _B1, 0.0)
    return _W2 @ h + 0.1


@_case(0.5, -0.2, 0.8)
def mlp_leaky_relu(x):
    z = _W1 @ x + _B1
    h = np.where(z > 0, z, 0.01 * z)
    return np.dot(_W2, h)


@_case(0.5, -0.2, 0.8)
def mlp_sigmoid(x):
    h = _sigmoid(np.matmul(_W1, x) + _B1)
    return np.sum(_W2 * h)


@_case(0.5, -0.2, 0.8, vector_output=True)
def mlp_two_outputs(x):
    h = np.tanh(_W1 @ x + _B1)
    return _W_OUT @ h


@_case(0.3, -0.1, 0.4, 0.2, 0.5, -0.3, 0.6, -0.8, 0.1)
def mlp_weights_from_x(x):
    w1 = x[:6].reshape(2, 3)
    w2 = x[6:8]
    b = x[8]
    hidden = np.tanh(_X_DATA @ w1.T)
    prediction = hidden @ w2 + b
    return np.mean((prediction - _Y_REG) ** 2)


@_case(0.2, -0.3, 0.5, 0.1, 0.4, -0.6)
def mlp_batch_forward(x):
    batch = x.reshape(2, 3)
    hidden = np.tanh(batch @ _W1.T + _B1)
    return (hidden @ _W2).mean()


@_case(0.5, -0.2, 0.8)
def mlp_gelu(x):
    z = _W1 @ x + _B1
    gelu = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
    return _W2 @ gelu


@_case(0.5, -0.2, 0.8)
def mlp_softplus_swish(x):
    z = _W1 @ x + _B1
    swish = z * _sigmoid(z)
    return np.sum(np.log1p(np.exp(swish)))


@_case(0.5, -0.2, 0.8)
def mlp_elu(x):
    z = _W1 @ x + _B1
    h = np.where(z > 0, z, np.expm1(z))
    return _W2 @ h


@_case(0.3, -0.7, 0.2, vector_output=True)
def residual_block(x):
    v = _fixed(8, 3, 3)
    return x + 0.5 * np.tanh(v @ x)


@_case(0.4, -0.5, 0.9, 0.1, 0.3, -0.2)
def attention_pooled(x):
    keys = _fixed(5, 4, 3)
    values = _fixed(6, 4, 2)
    queries = x.reshape(2, 3)
    scores = queries @ keys.T / np.sqrt(3.0)
    scores = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=1, keepdims=True)
    return np.sum(weights @ values)


@_case(0.4, -0.5, 0.9, 0.1, 0.3, -0.2, vector_output=True)
def attention_output(x):
    keys = _fixed(5, 4, 3)
    values = _fixed(6, 4, 2)
    scores = x.reshape(2, 3) @ keys.T
    weights = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    weights /= np.sum(weights, axis=-1, keepdims=True)
    return (weights @ values).ravel()


@_case(0.3, 0.8, -0.5, 0.2, 1.0, -0.1)
def self_attention(x):
    tokens = x.reshape(3, 2)
    scores = tokens @ tokens.T
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights = weights / weights.sum(axis=1, keepdims=True)
    return np.sum((weights @ tokens) ** 2)


@_case(0.5, -1.2, 0.3, 2.0, 0.8)
def layer_norm(x):
    gamma = np.array([1.0, 0.5, -0.3, 0.8, 0.2])
    mu = x.mean()
    var = x.var()
    return ((x - mu) / np.sqrt(var + 1e-5)) @ gamma


@_case(0.5, -1.2, 0.3, 2.0, 0.8, -0.4)
def batch_norm(x):
    batch = x.reshape(3, 2)
    centred = batch - batch.mean(axis=0, keepdims=True)
    normalised = centred / batch.std(axis=0, keepdims=True)
    return np.sum(normalised * np.array([[0.3, -0.2], [0.5, 0.1], [-0.4, 0.6]]))


@_case(0.2, -0.1, 0.4, 0.3)
def rnn_unrolled(x):
    w_h = np.array([[0.5, -0.3], [0.2, 0.4]])
    w_x = np.array([0.7, -0.6])
    h = np.zeros(2)
    for x_t in x:
        h = np.tanh(w_h @ h + w_x * x_t)
    return h.sum()


# ---------------------------------------------------------------------------------------------
# Statistics and likelihoods
# ---------------------------------------------------------------------------------------------

_SAMPLES = np.array([1.2, 0.7, 2.1, 1.6, 0.9, 1.4])


@_case(1.1, -0.4)
def gaussian_nll(x):
    mu, log_sigma = x
    sigma = np.exp(log_sigma)
    z = (_SAMPLES - mu) / sigma
    return 0.5 * np.sum(z ** 2) + _SAMPLES.size * (log_sigma + 0.5 * np.log(2 * np.pi))


@_case(1.0, 1.5, 0.6, 2.2)
def gaussian_loglik_moments(x):
    mu = np.mean(x)
    var = np.var(x)
    return -0.5 * np.sum((_SAMPLES - mu) ** 2) / var - 0.5 * _SAMPLES.size * np.log(2 * np.pi * var)


@_case(1.0, 1.5, 0.6, 2.2, 0.3)
def sample_skewness(x):
    s = np.std(x)
    return np.mean(((x - x.mean()) / s) ** 3)


@_case(1.0, 1.5, 0.6, 2.2, 0.3)
def sample_std_method(x):
    return x.std() + 0.5 * x.var(ddof=1)


@_case(1.2, 0.3, -0.4, 0.9, 0.2, 0.1)
def mvn_logpdf(x):
    mu = x[:2]
    a = x[2:].reshape(2, 2)
    cov = a @ a.T + np.eye(2)
    d = np.array([1.5, -0.5]) - mu
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * (d @ np.linalg.solve(cov, d) + logdet + 2 * np.log(2 * np.pi))


@_case(0.5, 1.3, 2.2)
def gaussian_mixture_loglik(x):
    log_weights = np.log(np.array([0.3, 0.5, 0.2]))
    log_comp = -0.5 * (_SAMPLES[None, :] - x[:, None]) ** 2 - 0.5 * np.log(2 * np.pi)
    a = log_weights[:, None] + log_comp
    m = np.max(a, axis=0)
    return np.sum(m + np.log(np.sum(np.exp(a - m), axis=0)))


@_case(0.3, 1.2, 0.8, 2.0, 1.5)
def weighted_mean_variance(x):
    w = np.exp(x) / np.sum(np.exp(x))
    mean = np.sum(w * _SAMPLES[:5])
    return np.sum(w * (_SAMPLES[:5] - mean) ** 2)


@_case(0.4, 1.7)
def exponential_family_loglik(x):
    shape, log_rate = x
    rate = np.exp(log_rate)
    log_terms = (shape - 1) * np.log(_SAMPLES) - rate * _SAMPLES
    return np.sum(log_terms) + _SAMPLES.size * shape * log_rate


@_case(0.2, 1.1, -0.5, 0.6)
def covariance_logdet(x):
    data = np.column_stack([_SAMPLES[:4], x, x ** 2])
    centred = data - data.mean(axis=0)
    cov = centred.T @ centred / 3 + 0.1 * np.eye(3)
    return np.linalg.slogdet(cov)[1]


# ---------------------------------------------------------------------------------------------
# Optimisation test functions
# ---------------------------------------------------------------------------------------------

@_case(-1.2, 1.0, 0.8, 1.5, 0.3)
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@_case(-1.2, 1.0, 0.8, vector_output=True)
def rosenbrock_residuals(x):
    return np.concatenate([10.0 * (x[1:] - x[:-1] ** 2), 1.0 - x[:-1]])


@_case(0.5, -0.3, 1.2, 0.8)
def ackley(x):
    a = -20.0 * np.exp(-0.2 * np.sqrt(np.mean(x ** 2)))
    b = -np.exp(np.mean(np.cos(2 * np.pi * x)))
    return a + b + 20.0 + np.e


@_case(0.3, -1.1, 2.4, 0.7, -0.2)
def rastrigin(x):
    return 10 * x.size + np.sum(x ** 2 - 10 * np.cos(2 * np.pi * x))


@_case(-2.5, 1.0, -0.5, 2.2)
def styblinski_tang(x):
    return 0.5 * np.sum(x ** 4 - 16 * x ** 2 + 5 * x)


@_case(0.5, -1.5, 2.0, 0.1, -0.3, 0.7)
def sphere(x):
    return x @ x


@_case(2.5, 0.4)
def beale(x):
    x0, x1 = x
    return ((1.5 - x0 + x0 * x1) ** 2 + (2.25 - x0 + x0 * x1 ** 2) ** 2
            + (2.625 - x0 + x0 * x1 ** 3) ** 2)


@_case(0.7, 2.4)
def booth(x):
    return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2


@_case(2.8, 1.9)
def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


@_case(0.4, -0.6)
def three_hump_camel(x):
    a, b = x
    return 2 * a ** 2 - 1.05 * a ** 4 + a ** 6 / 6 + a * b + b ** 2


@_case(0.3, -0.4)
def six_hump_camel(x):
    a, b = x
    return (4 - 2.1 * a ** 2 + a ** 4 / 3) * a ** 2 + a * b + (-4 + 4 * b ** 2) * b ** 2


@_case(1.5, -0.5)
def matyas(x):
    return 0.26 * (x[0] ** 2 + x[1] ** 2) - 0.48 * x[0] * x[1]


@_case(0.2, -0.8)
def goldstein_price(x):
    a, b = x
    first = 1 + (a + b + 1) ** 2 * (19 - 14 * a + 3 * a ** 2 - 14 * b + 6 * a * b + 3 * b ** 2)
    second = 30 + (2 * a - 3 * b) ** 2 * (18 - 32 * a + 12 * a ** 2 + 48 * b - 36 * a * b
                                        + 27 * b ** 2)
    return first * second


@_case(1.3, -0.7, 2.1, 0.4)
def levy(x):
    w = 1 + (x - 1) / 4
    head = np.sin(np.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    return head + body + tail


@_case(1.3, -2.7, 4.1, 0.4, 3.3)
def griewank(x):
    i = np.arange(1, x.size + 1)
    return 1 + np.sum(x ** 2) / 4000 - np.prod(np.cos(x / np.sqrt(i)))


@_case(0.5, -0.3, 0.8, 0.2)
def zakharov(x):
    s2 = np.sum(0.5 * np.arange(1, x.size + 1) * x)
    return np.sum(x ** 2) + s2 ** 2 + s2 ** 4


@_case(1.2, 0.6, -0.4, 0.9)
def dixon_price(x):
    i = np.arange(2, x.size + 1)
    return (x[0] - 1) ** 2 + np.sum(i * (2 * x[1:] ** 2 - x[:-1]) ** 2)


@_case(2.2, 1.6, 1.3)
def michalewicz(x):
    i = np.arange(1, x.size + 1)
    return -np.sum(np.sin(x) * np.sin(i * x ** 2 / np.pi) ** 20)


@_case(120.0, -300.5, 410.0)
def schwefel(x):
    return 418.9829 * x.size - np.sum(x * np.sin(np.sqrt(np.abs(x))))


@_case(1.5, 2.5, 3.0, 2.0)
def trid(x):
    return np.sum((x - 1) ** 2) - np.sum(x[1:] * x[:-1])


@_case(0.5, -0.7, 0.9, -0.3)
def sum_of_different_powers(x):
    return np.sum(np.abs(x) ** np.arange(2, x.size + 2))


@_case(0.5, -0.7, 0.9, -0.3, 1.1)
def rotated_hyper_ellipsoid(x):
    return np.sum(np.cumsum(x) ** 2)


@_case(2.9, 3.4)
def easom(x):
    return -np.cos(x[0]) * np.cos(x[1]) * np.exp(-((x[0] - np.pi) ** 2 + (x[1] - np.pi) ** 2))


@_case(3.0, -1.0, 0.5, 1.0)
def powell(x):
    a, b, c, d = x
    return (a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4


@_case(0.6, -0.4)
def bohachevsky(x):
    return (x[0] ** 2 + 2 * x[1] ** 2 - 0.3 * np.cos(3 * np.pi * x[0])
            - 0.4 * np.cos(4 * np.pi * x[1]) + 0.7)


# ---------------------------------------------------------------------------------------------
# Polynomial features and series
# ---------------------------------------------------------------------------------------------

_COEFFS = np.array([0.5, -1.0, 0.25, 0.1])
_NODES = np.linspace(-1.0, 1.0, 5)


@_case(0.3, -0.8, 1.2)
def polynomial_features(x):
    features = x[:, None] ** np.arange(4)
    return np.sum(features @ _COEFFS)


@_case(0.5, -1.0, 0.3, 0.2, vector_output=True)
def polynomial_at_nodes(x):
    vander = _NODES[:, None] ** np.arange(x.size)
    return vander @ x


@_case(0.1, 0.9, -0.4, 0.2)
def polynomial_fit_loss(x):
    y = np.array([0.8, 0.3, 0.1, 0.5, 1.4])
    vander = _NODES[:, None] ** np.arange(x.size)
    return np.sum((vander @ x - y) ** 2)


@_case(0.6, -0.4, 1.1)
def quadratic_features(x):
    pairwise = np.outer(x, x)
    weights = np.array([[1.0, 0.5, -0.2], [0.0, 0.3, 0.7], [0.0, 0.0, -0.4]])
    return np.sum(np.triu(pairwise) * weights)


@_case(1.0, -0.5, 0.25, 0.75)
def horner_polynomial(x):
    t = 0.7
    acc = 0.0
    for c in x:
        acc = acc * t + c
    return acc ** 2


@_case(0.4, 1.0, 0.5, -0.3, 0.2)
def chebyshev_series(x):
    t = np.tanh(x[0])
    t_prev, t_curr = 1.0, t
    total = x[1] * t_prev + x[2] * t_curr
    for c in x[3:]:
        t_prev, t_curr = t_curr, 2 * t * t_curr - t_prev
        total = total + c * t_curr
    return total


@_case(0.4, -0.7, 1.1, 0.2)
def power_sums(x):
    k = np.arange(1, 5)
    sums = np.sum(x[:, None] ** k, axis=0)
    return sums @ np.array([1.0, 0.5, 0.25, 0.125])


@_case(0.3, 0.9, -0.5)
def polynomial_kernel_gram(x):
    points = np.array([[1.0, 0.0, 0.5], [0.2, -0.3, 1.0], [0.7, 0.4, -0.1]])
    return np.sum((points @ x + 1.0) ** 3)


# ---------------------------------------------------------------------------------------------
# Norms and distances
# ---------------------------------------------------------------------------------------------

@_case(0.6, -1.3, 0.4, 2.0)
def euclidean_norm(x):
    return np.linalg.norm(x)


@_case(0.6, -1.3, 0.4, 2.0)
def l1_norm(x):
    return np.linalg.norm(x, ord=1)


@_case(0.6, -1.3, 0.4, 2.0)
def max_norm(x):
    return np.linalg.norm(x, ord=np.inf)


@_case(0.6, -1.3, 0.4, 2.0)
def p3_norm(x):
    return np.linalg.norm(x, 3)


@_case(0.6, -1.3, 0.4, 2.0, 0.9, -0.2)
def frobenius_norm(x):
    return np.linalg.norm(x.reshape(2, 3), "fro")


@_case(0.6, -1.3, 0.4, 2.0, 0.9, -0.2, vector_output=True)
def row_norms(x):
    return np.linalg.norm(x.reshape(3, 2), axis=1)


@_case(0.6, -1.3, 0.4, 2.0, 0.9, -0.2)
def column_norms_keepdims(x):
    m = x.reshape(2, 3)
    return np.sum(m / np.linalg.norm(m, axis=0, keepdims=True))


@_case(1.5, 0.3, -0.4, 0.8)
def spectral_norm(x):
    return np.linalg.norm(x.reshape(2, 2), ord=2)


@_case(1.5, 0.3, -0.4, 0.8, 0.2, -1.1)
def matrix_one_norm(x):
    return np.linalg.norm(x.reshape(2, 3), ord=1)


@_case(0.6, -1.3, 0.4, vector_output=True)
def normalize_vector(x):
    return x / np.linalg.norm(x)


@_case(0.0, 0.1, 1.2, 0.3, 0.4, 1.5)
def pairwise_distance_sum(x):
    points = x.reshape(3, 2)
    i, j = np.triu_indices(3, k=1)
    return np.linalg.norm(points[i] - points[j], axis=1).sum()


@_case(0.5, -0.5, 1.0)
def rbf_kernel_sum(x):
    centres = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [0.3, 0.2, 1.5]])
    sq_dists = np.sum((x[None, :] - centres) ** 2, axis=-1)
    return np.sum(np.array([0.5, -1.0, 2.0]) * np.exp(-sq_dists / 0.8))


@_case(0.2, 0.9, 1.7, 0.4)
def rbf_gram_quadratic(x):
    diffs = x[:, None] - x[None, :]
    gram = np.exp(-0.5 * diffs ** 2)
    return _TARGET4 @ gram @ _TARGET4


@_case(0.2, 0.9, 1.7, 0.4)
def gaussian_process_nll(x):
    diffs = x[:, None] - x[None, :]
    k = np.exp(-0.5 * diffs ** 2) + 0.1 * np.eye(x.size)
    alpha = np.linalg.solve(k, _TARGET4)
    return 0.5 * _TARGET4 @ alpha + 0.5 * np.linalg.slogdet(k)[1]


@_case(1.0, 2.0, -0.5, 0.3)
def mahalanobis_distance(x):
    d = x - np.array([0.5, 1.0, 0.0, -0.2])
    return np.sqrt(d @ np.linalg.inv(_SPD4) @ d)


# ---------------------------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------------------------

@_case(2.0, 0.5, -0.3, 0.4, 1.5, 0.2, -0.1, 0.6, 1.8)
def det_3x3(x):
    return np.linalg.det(x.reshape(3, 3))


@_case(0.4, -0.6, 0.9)
def det_rank_one_update(x):
    return np.linalg.det(np.eye(x.size) + np.outer(x, x))


@_case(1.5, 0.4, -0.3, 2.0)
def det_2x2_literal(x):
    return np.linalg.det(np.array([[x[0], x[1]], [x[2], x[3]]]))


@_case(0.8, -0.3, 0.5, 0.2, 1.1, -0.6)
def slogdet_spd(x):
    a = x.reshape(2, 3)
    _, logdet = np.linalg.slogdet(a @ a.T + np.eye(2))
    return logdet


@_case(0.3, -0.5, 0.2)
def slogdet_shifted(x):
    sign, logabsdet = np.linalg.slogdet(_A3 + np.diag(x))
    return sign * logabsdet


@_case(0.3, -0.5, 0.2)
def solve_diagonal_shift(x):
    return np.linalg.solve(_A3 + np.diag(x), _B3).sum()


@_case(0.5, 1.0, -0.5, 2.0, vector_output=True)
def solve_vector(x):
    a = _A3 + x[0] * np.eye(3)
    return np.linalg.solve(a, x[1:])


@_case(0.3, -0.5, 0.2)
def inverse_trace(x):
    return np.trace(np.linalg.inv(_A3 + np.diag(x ** 2)))


@_case(2.0, 0.3, 1.5)
def inverse_quadratic(x):
    m = np.array([[x[0], x[1]], [x[1], x[2]]])
    b = np.array([1.0, -0.5])
    return b @ np.linalg.inv(m) @ b


@_case(0.5, -1.0, 0.3, 0.8)
def quadratic_form(x):
    return x @ _SPD4 @ x


@_case(0.5, -1.0, 0.3, 0.8)
def quadratic_form_einsum(x):
    return np.einsum("i,ij,j->", x, _SPD4, x)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def einsum_matmul_sum(x):
    a = x.reshape(2, 3)
    return np.einsum("ij,jk->ik", a, _A3).sum()


@_case(0.5, -1.0, 0.3, 0.8)
def einsum_trace(x):
    m = np.outer(x, x) + _SPD4
    return np.einsum("ii", m @ m)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, 0.9, 0.1)
def einsum_batched(x):
    mats = x.reshape(2, 2, 2)
    vecs = np.array([[1.0, 0.5], [-0.3, 0.8]])
    out = np.einsum("bij,bj->bi", mats, vecs)
    return np.sum(out ** 2)


@_case(0.5, -1.0, 0.3, 0.8)
def tensordot_contraction(x):
    t = _fixed(9, 3, 2, 2)
    contracted = np.tensordot(t, x.reshape(2, 2), axes=([1, 2], [0, 1]))
    return np.sum(np.sin(contracted))


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def tensordot_axes_one(x):
    m = x.reshape(2, 3)
    return np.sum(np.tensordot(m, _A3, axes=1) ** 2)


@_case(0.5, -1.0, 0.3, 0.8)
def kron_vectors(x):
    return np.kron(x[:2], x[2:]) @ np.array([1.0, -0.5, 0.3, 0.2])


@_case(1.2, 0.3, -0.4, 0.9)
def kron_matrix_trace(x):
    a = x.reshape(2, 2)
    b = np.array([[1.0, 0.2], [0.1, 0.5]])
    return np.trace(np.kron(a, b) @ np.kron(b, a))


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, vector_output=True)
def cross_product(x):
    return np.cross(x[:3], x[3:])


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def scalar_triple_product(x):
    c = np.array([0.1, 0.7, -0.2])
    return np.dot(x[:3], np.cross(x[3:], c))


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def torque_magnitude(x):
    r, f = x[:3], x[3:]
    return np.linalg.norm(np.cross(r, f))


@_case(1.2, 0.3, -0.4, 0.9)
def trace_of_cube(x):
    m = x.reshape(2, 2)
    return np.trace(m @ m @ m)


@_case(0.7, -0.3, 1.2)
def diag_scaling_trace(x):
    d = np.diag(x)
    return np.trace(d @ _A3 @ d)


@_case(0.7, -0.3, 1.2)
def diagonal_product(x):
    m = np.outer(x, x) + _A3
    return np.prod(np.diag(m))


@_case(0.7, -0.3, 1.2)
def upper_triangle_sum(x):
    return np.sum(np.triu(np.outer(x, x), k=1))


@_case(0.7, -0.3, 1.2)
def lower_triangle_weighted(x):
    m = np.outer(x, np.cos(x))
    return np.sum(np.tril(m) * _A3)


@_case(0.3, -0.2, 0.5)
def power_iteration_eigenvalue(x):
    a = _A3 + np.diag(x)
    v = np.ones(3)
    for _ in range(30):
        v = a @ v
        v = v / np.linalg.norm(v)
    return v @ a @ v


@_case(1.2, 0.8, 1.5)
def least_squares_scaled_features(x):
    a = _X_DATA * x
    w = np.linalg.solve(a.T @ a, a.T @ _Y_REG)
    r = a @ w - _Y_REG
    return r @ r


@_case(0.8, -0.3, 0.5, 0.2, 1.1, -0.6)
def gram_matrix_logdet(x):
    v = x.reshape(2, 3)
    return np.linalg.slogdet(v @ v.T)[1]


@_case(0.2, -0.1, 0.3, 0.15)
def matrix_exponential_series(x):
    a = x.reshape(2, 2)
    term = np.eye(2)
    total = np.eye(2)
    for k in range(1, 12):
        term = term @ a / k
        total = total + term
    return np.trace(total)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def matmul_chain(x):
    a = x.reshape(2, 3)
    return np.sum(np.matmul(np.matmul(a, _A3), a.T))


@_case(0.9, 0.2, -0.1, 0.3, 1.1, 0.4, 0.1, -0.2, 1.3)
def rayleigh_quotient_matrix(x):
    m = x.reshape(3, 3)
    s = m + m.T
    v = np.array([1.0, 0.5, -0.5])
    return (v @ s @ v) / (v @ v)


@_case(0.5, -1.0, 0.3)
def projection_residual(x):
    basis = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, -0.3]])
    coef = np.linalg.solve(basis.T @ basis, basis.T @ x)
    r = x - basis @ coef
    return r @ r


# ---------------------------------------------------------------------------------------------
# Physics
# ---------------------------------------------------------------------------------------------

@_case(0.1, 1.2, 2.05, 3.3, 4.1)
def spring_chain_energy(x):
    stretch = np.diff(x) - 1.0
    return 0.5 * 50.0 * np.sum(stretch ** 2) + 0.5 * 10.0 * x[0] ** 2


@_case(0.0, 0.1, 1.2, 0.3, 0.4, 1.5)
def spring_network_2d(x):
    points = x.reshape(3, 2)
    i = np.array([0, 1, 0])
    j = np.array([1, 2, 2])
    lengths = np.sqrt(np.sum((points[i] - points[j]) ** 2, axis=1))
    return 0.5 * 20.0 * np.sum((lengths - 1.0) ** 2)


@_case(0.6, -1.1)
def pendulum_lagrangian(x):
    theta, omega = x
    m, length, g = 1.0, 2.0, 9.81
    kinetic = 0.5 * m * length ** 2 * omega ** 2
    potential = m * g * length * (1 - np.cos(theta))
    return kinetic - potential


@_case(0.6, -0.3, 1.1, 0.4)
def double_pendulum_lagrangian(x):
    t1, t2, w1, w2 = x
    m1, m2, l1, l2, g = 1.0, 0.5, 1.0, 0.8, 9.81
    kinetic = (0.5 * (m1 + m2) * l1 ** 2 * w1 ** 2 + 0.5 * m2 * l2 ** 2 * w2 ** 2
               + m2 * l1 * l2 * w1 * w2 * np.cos(t1 - t2))
    potential = -(m1 + m2) * g * l1 * np.cos(t1) - m2 * g * l2 * np.cos(t2)
    return kinetic - potential


@_case(0.0, 0.0, 1.1, 0.1, 0.5, 1.0)
def lennard_jones_cluster(x):
    points = x.reshape(3, 2)
    i, j = np.triu_indices(3, k=1)
    r2 = np.sum((points[i] - points[j]) ** 2, axis=1)
    inv6 = 1.0 / r2 ** 3
    return 4.0 * np.sum(inv6 ** 2 - inv6)


@_case(0.0, 1.1, 2.3, 3.35)
def lennard_jones_chain(x):
    r = np.diff(x)
    return 4.0 * np.sum(r ** -12 - r ** -6)


@_case(0.0, 0.0, 1.5, 0.2, 0.4, 1.3)
def coulomb_energy(x):
    charges = np.array([1.0, -1.0, 0.5])
    points = x.reshape(3, 2)
    total = 0.0
    for a in range(3):
        for b in range(a + 1, 3):
            r = np.hypot(*(points[a] - points[b]))
            total = total + charges[a] * charges[b] / r
    return total


@_case(0.0, 0.0, 0.0, 1.0, 0.2, -0.1, 0.3, 1.4, 0.5)
def gravitational_potential(x):
    masses = np.array([2.0, 1.0, 0.5])
    points = x.reshape(3, 3)
    diffs = points[:, None, :] - points[None, :, :]
    i, j = np.triu_indices(3, k=1)
    r = np.sqrt(np.sum(diffs[i, j] ** 2, axis=-1))
    return -np.sum(masses[i] * masses[j] / r)


@_case(1.0, 0.2, -0.1, 0.9)
def kepler_hamiltonian(x):
    q, p = x[:2], x[2:]
    return 0.5 * p @ p - 1.0 / np.linalg.norm(q)


@_case(0.3, -0.2, 0.5, 0.1, 0.4, -0.3)
def harmonic_chain_hamiltonian(x):
    q, p = np.split(x, 2)
    spring = np.diff(np.concatenate([[0.0], q, [0.0]]))
    return 0.5 * np.sum(p ** 2) + 0.5 * 4.0 * np.sum(spring ** 2)


@_case(0.0, 0.0, 1.3, 0.4)
def morse_potential(x):
    r = np.linalg.norm(x[2:] - x[:2])
    well, a, r_eq = 2.0, 1.5, 1.2
    return well * (1 - np.exp(-a * (r - r_eq))) ** 2


@_case(0.5, -1.0, 2.0)
def rigid_body_kinetic(x):
    inertia = np.diag([1.0, 2.0, 3.0]) + 0.1 * np.ones((3, 3))
    return 0.5 * x @ inertia @ x


@_case(20.0, 35.0)
def projectile_range(x):
    speed, angle_deg = x
    return speed ** 2 * np.sin(2 * np.radians(angle_deg)) / 9.81


@_case(0.1, 1.2, 2.05, 3.3, 4.1, vector_output=True)
def spring_chain_forces(x):
    tension = 50.0 * (np.diff(x) - 1.0)
    return np.diff(tension)

@_case(0.4, -0.2, vector_output=True)
def pendulum_euler_step(x):
    theta, omega = x
    dt, g, length = 0.01, 9.81, 1.0
    return np.array([theta + dt * omega, omega - dt * g / length * np.sin(theta)])


@_case(1.2, 0.8, vector_output=True)
def lotka_volterra_rk4_step(x):
    def rhs(u):
        prey, predator = u
        return np.array([1.1 * prey - 0.4 * prey * predator,
                         0.1 * prey * predator - 0.4 * predator])
    h = 0.1
    k1 = rhs(x)
    k2 = rhs(x + 0.5 * h * k1)
    k3 = rhs(x + 0.5 * h * k2)
    k4 = rhs(x + h * k3)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


@_case(1.0, 1.5, 2.0, vector_output=True)
def lorenz_euler_step(x):
    sigma, rho, beta, dt = 10.0, 28.0, 8.0 / 3.0, 0.005
    dx = np.array([sigma * (x[1] - x[0]), x[0] * (rho - x[2]) - x[1], x[0] * x[1] - beta * x[2]])
    return x + dt * dx


@_case(0.3, -0.1, 0.8, 0.2, vector_output=True)
def velocity_verlet_step(x):
    q, v = x[:2], x[2:]
    dt = 0.05

    def force(pos):
        return -4.0 * pos - 0.5 * pos ** 3
    v_half = v + 0.5 * dt * force(q)
    q_new = q + dt * v_half
    v_new = v_half + 0.5 * dt * force(q_new)
    return np.hstack([q_new, v_new])


@_case(0.1, 0.5, 0.9, 0.4, 0.2, vector_output=True)
def heat_equation_step(x):
    r = 0.2
    return x + r * (np.roll(x, 1) - 2 * x + np.roll(x, -1))


@_case(0.1, 0.5, 0.9, 0.4, 0.2)
def string_potential_energy(x):
    u = np.pad(x, 1)
    return 0.5 * np.sum(np.diff(u) ** 2) + 0.25 * np.sum(u ** 4)


@_case(0.4, 1.2, 0.3)
def ideal_gas_work(x):
    v = np.linspace(1.0, 1.0 + x[1], 9)
    pressure = x[0] * x[2] / v
    return np.sum(0.5 * (pressure[1:] + pressure[:-1]) * np.diff(v))


@_case(300.0, 2.0)
def planck_radiance(x):
    temperature, wavelength_um = x
    c1, c2 = 3.7418e8, 1.4388e4
    return c1 / wavelength_um ** 5 / np.expm1(c2 / (wavelength_um * temperature))


# ---------------------------------------------------------------------------------------------
# Piecewise functions
# ---------------------------------------------------------------------------------------------

@_case(0.4, 1.6, -0.8, 2.3)
def where_piecewise(x):
    return np.sum(np.where(x > 1.0, x ** 2, 2 * x - 1))


@_case(-1.7, 0.4, 1.9, -0.3)
def select_piecewise(x):
    conditions = [x < -1.0, x < 1.0]
    choices = [-x - 0.5, 0.5 * x ** 2]
    return np.sum(np.select(conditions, choices, default=x - 0.5))


@_case(12000.0, 45000.0, 90000.0)
def tax_brackets(x):
    rate = np.select([x < 10000.0, x < 40000.0], [0.1 * x, 1000.0 + 0.2 * (x - 10000.0)],
                     default=7000.0 + 0.35 * (x - 40000.0))
    return rate.sum() / 1000.0


@_case(1.2, -0.3, 0.8, -1.5, vector_output=True)
def soft_threshold(x):
    lam = 0.5
    return np.sign(x) * np.maximum(np.abs(x) - lam, 0.0)


@_case(0.4, 1.6, -0.8, -2.3)
def clipped_activation(x):
    return np.clip(x, -1.0, 1.0) @ np.array([1.0, 2.0, -0.5, 0.3]) + 0.1 * x @ x


@_case(0.4, 1.6, -0.8, 2.3)
def clip_method_bounds(x):
    return np.sum(x.clip(0.0, 2.0) ** 2)


@_case(0.4, 1.6, -0.8, 2.3)
def heaviside_gate(x):
    return np.sum(np.heaviside(x, 0.5) * x ** 2)


@_case(0.4, 1.6, -0.8, 2.3)
def saturating_minimum(x):
    return np.sum(np.minimum(x, 2.0) ** 2 + np.maximum(x, -0.5))


@_case(0.7, -1.3, 2.2)
def piecewise_absolute(x):
    return np.sum(np.fabs(x) * np.array([1.0, 0.5, 0.25]))


@_case(0.3, 1.4, 2.6)
def np_piecewise_ramp(x):
    return np.sum(np.piecewise(x, [x < 1.0, x >= 1.0], [lambda t: t ** 2, lambda t: 2 * t - 1]))


# ---------------------------------------------------------------------------------------------
# Shapes, joins and indexing
# ---------------------------------------------------------------------------------------------

@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def reshape_transpose_gram(x):
    m = x.reshape(2, 3)
    return np.sum(m.T @ m * _A3)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def np_reshape_transpose(x):
    m = np.reshape(x, (3, 2))
    return np.sum(np.transpose(m) @ np.array([1.0, 2.0, -1.0]))


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def ravel_weighted(x):
    m = x.reshape(2, 3) ** 2
    return m.ravel() @ _W6 + np.ravel(m.T) @ _W6


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def flatten_method(x):
    return np.sin(x.reshape(3, 2).T).flatten() @ _W6


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, 0.9, 0.1)
def swapaxes_weighted(x):
    t = x.reshape(2, 2, 2)
    return np.swapaxes(t, 0, 2).reshape(-1) @ _W8 + t.swapaxes(1, 2).ravel() @ _W8 ** 2


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, 0.9, 0.1)
def moveaxis_weighted(x):
    t = np.exp(x).reshape(2, 2, 2)
    return np.moveaxis(t, 0, -1).ravel() @ _W8


@_case(0.5, -1.0, 0.3, 0.8)
def squeeze_singleton(x):
    col = x.reshape(1, 4, 1)
    return np.squeeze(col) @ _TARGET4 + col.squeeze().prod()


@_case(0.5, -1.0, 0.3)
def expand_dims_broadcast(x):
    row = np.expand_dims(x, 0)
    col = np.expand_dims(x, axis=1)
    return np.sum(np.tanh(row - col) * _A3)


@_case(0.5, -1.0, 0.3, 0.8)
def concatenate_features(x):
    features = np.concatenate([x, x ** 2, [1.0]])
    return features @ np.linspace(-1.0, 1.0, 9)


@_case(0.5, -1.0, 0.3, 0.8)
def stack_columns(x):
    pairs = np.stack([x, np.sin(x)], axis=1)
    return np.sum(pairs @ np.array([1.0, -2.0]) ** 2)


@_case(0.5, -1.0, 0.3, 0.8)
def hstack_vstack(x):
    wide = np.hstack([x, np.cos(x)])
    tall = np.vstack([x, x ** 3])
    return wide @ _W8 + np.sum(tall * np.array([[1.0], [0.5]]))


@_case(0.5, -1.0, 0.3, 0.8)
def column_stack_design(x):
    design = np.column_stack([np.ones(4), x, x ** 2])
    return np.sum((design @ np.array([0.5, -1.0, 0.3])) ** 2)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def split_halves(x):
    a, b = np.split(x, 2)
    return a @ b + np.sum(a ** 2)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def split_sections(x):
    parts = np.split(x, [1, 4])
    return parts[0][0] * np.sum(parts[1]) + np.prod(parts[2])


@_case(0.5, -1.0, 0.3, 0.8)
def repeat_upsample(x):
    up = np.repeat(x, 2)
    return up @ _W8 + np.sum(np.repeat(x.reshape(2, 2), 3, axis=0) ** 2)


@_case(0.5, -1.0, 0.3, 0.8)
def tile_pattern(x):
    return np.tile(x, 2) @ _W8 + np.sum(np.tile(x[:2], (2, 2)) ** 2)


@_case(0.5, -1.0, 0.3, 0.8, 0.2)
def roll_cyclic_chain(x):
    return np.sum(x * np.roll(x, 1)) + np.sum((x - np.roll(x, -2)) ** 2)


@_case(0.5, -1.0, 0.3, 0.8, 0.2)
def flip_palindrome(x):
    return np.sum((x - np.flip(x)) ** 2) + x @ x[::-1]


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def fliplr_flipud(x):
    m = x.reshape(2, 3)
    return np.sum(np.fliplr(m) * m) + np.sum(np.flipud(m) * m ** 2)


@_case(0.5, -1.0, 0.3, 0.8)
def rot90_matrix(x):
    m = x.reshape(2, 2)
    return np.sum(np.rot90(m) * np.array([[1.0, 2.0], [3.0, 4.0]])) + np.trace(np.rot90(m, 2) @ m)


@_case(0.5, -1.0, 0.3, 0.8)
def pad_boundary_laplacian(x):
    padded = np.pad(x, (1, 1), mode="edge")
    return np.sum((padded[2:] - 2 * padded[1:-1] + padded[:-2]) ** 2)


@_case(0.5, -1.0, 0.3)
def append_bias(x):
    augmented = np.append(x, 1.0)
    return np.tanh(augmented) @ np.array([0.5, -0.3, 0.8, 0.2])


@_case(0.5, -1.0, 0.3, 0.8)
def take_permuted(x):
    return np.take(x, [2, 0, 3, 1]) @ _TARGET4 + np.sum(np.take(x.reshape(2, 2), [1], axis=0))


@_case(0.5, -1.0, 0.3, 0.8, 0.2)
def fancy_index(x):
    return np.sum(x[[0, 2, 4]] ** 2) - x[[1, 3]] @ np.array([1.0, 2.0])


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def integer_array_gather(x):
    m = x.reshape(2, 3)
    idx = np.array([[0, 1], [2, 1]])
    return np.sum(m[[0, 1]][:, [2, 0]]) + np.sum(m[idx[0], idx[1]])


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, note="data-dependent shape")
def boolean_mask_positive(x):
    return np.sum(x[x > 0] ** 2)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, note="data-dependent shape")
def boolean_mask_outliers(x):
    centred = x - np.mean(x)
    outliers = centred[np.abs(centred) > 0.5]
    return np.sum(outliers ** 2) + np.mean(x)


@_case(0.5, -1.0, 0.3, 0.8)
def slicing_strides(x):
    return x[::2] @ x[1::2] + x[-1] * x[0] + np.sum(x[1:3])


@_case(0.5, -1.0, 0.3)
def array_of_scalars(x):
    v = np.array([x[0] * x[1], x[2] ** 2, np.sin(x[0])])
    return v @ v


@_case(0.5, -1.0, 0.3, 0.8)
def matrix_of_scalars_det(x):
    m = np.array([[x[0], x[1], 1.0], [x[2], 2.0, x[3]], [0.5, x[0] * x[3], 3.0]])
    return np.linalg.det(m)


@_case(0.5, -1.0, 0.3, 0.8)
def zeros_like_accumulate(x):
    out = np.zeros_like(x)
    for k in range(3):
        out = out + np.sin((k + 1) * x)
    return out @ _TARGET4


@_case(0.5, -1.0, 0.3, 0.8)
def ones_like_full_like(x):
    return np.sum(np.ones_like(x) * x ** 2) + np.sum(np.full_like(x, 0.5) * x)


@_case(1.4, 0.3)
def linspace_traced_endpoint(x):
    t = np.linspace(0.0, x[0], 21)
    y = np.sin(t) * np.exp(-x[1] * t)
    return np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t))


@_case(0.5, -1.0, 0.3, 0.8)
def astype_float(x):
    return np.sum(x.astype(float) ** 3) + x.astype(np.float64) @ _TARGET4


@_case(0.5, 1.0, 0.3, 0.8)
def transpose_attribute(x):
    m = x.reshape(2, 2)
    return np.sum(m.T * m) + np.sum(m.T @ m.T)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def max_min_axis(x):
    m = x.reshape(2, 3)
    return np.sum(np.max(m, axis=0)) - np.sum(np.min(m, axis=1) ** 2)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def max_min_methods(x):
    m = x.reshape(3, 2)
    return m.max() * m.min() + m.max(axis=1) @ np.array([1.0, 2.0, 3.0])


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def mean_keepdims_centering(x):
    m = x.reshape(2, 3)
    centred = m - np.mean(m, axis=1, keepdims=True)
    return np.sum(centred ** 2 * np.array([1.0, 2.0, 3.0]))


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4)
def sum_mean_axis_methods(x):
    m = x.reshape(2, 3)
    return m.sum(axis=0) @ np.array([1.0, -1.0, 0.5]) + m.mean(axis=1).prod() + m.sum()


@_case(0.5, 1.2, 0.3, 0.8)
def cumsum_cumprod(x):
    return np.sum(np.cumsum(x) ** 2) + np.sum(np.cumprod(x))


@_case(0.5, 1.2, 0.3, 0.8)
def cumsum_method_prod_method(x):
    return x.cumsum() @ _TARGET4 + x.prod() + x.mean()


@_case(0.5, 1.2, 0.3, 0.8, 1.1)
def product_of_terms(x):
    return np.prod(1.0 + x ** 2) * np.prod(x)


@_case(0.5, -1.0, 0.3, 0.8)
def sum_method_of_vector(x):
    v = x * np.arange(1.0, 5.0)
    return v.sum() + (v ** 2).sum()


@_case(0.5, -1.0, 0.3, 0.8)
def matmul_self(x):
    return x @ x + np.sin(x) @ np.cos(x)


@_case(0.5, -1.0, 0.3, 0.8)
def dot_method(x):
    return x.dot(_SPD4).dot(x) + x.dot(_TARGET4)


@_case(0.5, -1.0, 0.3, 0.8)
def broadcast_outer_difference(x):
    d = x[:, None] - x[None, :]
    return np.sum(np.cos(d) * _SPD4)


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, 0.9, 0.1, 0.6, -0.7, 0.35, 1.2)
def twelve_inputs_weighted(x):
    return np.sum(np.sin(x) * _W12) + np.tanh(x.reshape(3, 4)).sum(axis=0) @ _TARGET4


@_case(0.5, -1.0, 0.3, 0.8, 0.2, -0.4, vector_output=True)
def reshape_row_sums(x):
    return x.reshape(3, 2).sum(axis=1) ** 2


@_case(0.5, -1.0, 0.3, 0.8, vector_output=True)
def cumulative_softmax(x):
    c = np.cumsum(x)
    e = np.exp(c - c.max())
    return e / e.sum()


@_case(0.5, -1.0, 0.3, 0.8, vector_output=True)
def diag_of_outer(x):
    return np.diag(np.outer(x, np.roll(x, 1)) + _SPD4)


@_case(1.5, 0.3, -0.4, 2.0)
def trace_of_inverse_literal(x):
    m = np.array([[x[0], x[1]], [x[2], x[3]]])
    return np.trace(np.linalg.inv(m)) + np.trace(m)


# ---------------------------------------------------------------------------------------------
# Ufuncs
# ---------------------------------------------------------------------------------------------

@_case(0.5, -1.2, 2.0)
def arcsinh_features(x):
    return np.sum(np.arcsinh(x) * np.array([1.0, 0.5, 0.2]))


@_case(1.5, 2.2, 3.0)
def arccosh_distance(x):
    return np.sum(np.arccosh(x) ** 2)


@_case(0.3, -0.6, 0.1)
def arctanh_fisher(x):
    return np.sum(np.arctanh(x)) + np.arctanh(x[0] * x[1])


@_case(30.0, 45.0, 120.0)
def radians_trig(x):
    return np.sum(np.sin(np.radians(x)) * np.cos(np.deg2rad(x[::-1])))


@_case(0.5, 1.2, -0.3)
def degrees_conversion(x):
    return np.sum(np.degrees(x) ** 2) / 1000 + np.rad2deg(x) @ np.array([0.01, -0.02, 0.03])


@_case(0.7, 2.3, 5.1)
def remainder_phase(x):
    return np.sum(np.sin(np.remainder(x, 2.0)) * x)


@_case(0.7, 2.3, -5.1)
def fmod_wrap(x):
    return np.sum(np.fmod(x, 1.5) ** 2)


@_case(0.3, -0.7, 1.4)
def sinc_filter(x):
    return np.sum(np.sinc(x) * np.array([1.0, 0.5, 0.25]))


@_case(0.4, -1.1, 2.0)
def copysign_magnitude(x):
    return np.sum(np.copysign(x, np.array([-1.0, 1.0, -1.0])) * x ** 2)


@_case(0.3, -0.8, 1.5, 0.2)
def logaddexp_pairs(x):
    return np.sum(np.logaddexp(x[:2], x[2:])) + np.logaddexp2(x[0], x[3])


@_case(0.3, -0.8, 1.5, 0.2)
def logaddexp2_reduce(x):
    return np.logaddexp2.reduce(x)


@_case(0.6, -0.8, 1.5, 0.2)
def hypot_distances(x):
    return np.sum(np.hypot(x[:2], x[2:]))


@_case(0.6, 0.8, -1.5, 0.2)
def arctan2_angles(x):
    return np.sum(np.arctan2(x[:2], x[2:]) ** 2)


@_case(1e-3, 0.5, -0.2)
def expm1_log1p(x):
    return np.sum(np.expm1(x) * np.log1p(x ** 2))


@_case(1.5, 3.0, 0.7)
def log2_log10(x):
    return np.sum(np.log2(x)) + np.log10(x) @ np.array([1.0, 2.0, -1.0])


@_case(0.5, -1.0, 1.7)
def exp2_cbrt(x):
    return np.sum(np.exp2(x)) + np.sum(np.cbrt(x))


@_case(0.5, -1.0, 1.7)
def square_sum(x):
    return np.sum(np.square(x - 0.2)) + np.square(x).prod()


@_case(0.5, 1.3, 2.1)
def float_power_growth(x):
    return np.sum(np.float_power(x, 2.5)) + np.sum(np.power(x, 1.5))


@_case(0.5, -1.0, 1.7, 0.2)
def fmax_fmin(x):
    return np.sum(np.fmax(x, 0.3) ** 2) + np.sum(np.fmin(x, 1.0))


@_case(0.5, -1.0, 1.7)
def fabs_sum(x):
    return np.sum(np.fabs(x) ** 1.5)


@_case(0.5, -1.0, 1.7)
def nan_to_num_log(x):
    return np.sum(np.nan_to_num(np.log(x ** 2)))


@_case(0.5, -1.0, 1.7)
def trig_mix(x):
    return np.sum(np.sin(x) * np.cos(x) + np.tan(x / 4))


@_case(0.3, -0.5, 0.7)
def inverse_trig(x):
    return np.sum(np.arcsin(x) + np.arccos(x) * x + np.arctan(x))


@_case(0.3, -0.5, 0.7)
def hyperbolic(x):
    return np.sum(np.sinh(x) * np.cosh(x) - np.tanh(x))


@_case(0.5, 1.3, 2.1)
def sqrt_reciprocal(x):
    return np.sum(np.sqrt(x) + np.reciprocal(x))


@_case(0.5, -1.0, 1.7)
def exp_log_abs(x):
    return np.sum(np.exp(-x ** 2) * np.log(np.abs(x)))


@_case(0.5, -1.0, 1.7)
def sign_times_square(x):
    return np.sum(np.sign(x) * x ** 2)


@_case(0.5, -1.0, 1.7)
def negative_positive(x):
    return np.sum(np.negative(x) * np.positive(x) + np.subtract(x, 1.0) * np.divide(x, 2.0))


@_case(0.5, -1.0, 1.7)
def add_multiply_ufuncs(x):
    return np.sum(np.multiply(np.add(x, 1.0), x)) + np.true_divide(x[0], x[2])


@_case(0.5, -1.0, 1.7)
def clip_ufunc_softplus(x):
    return np.sum(np.log1p(np.exp(np.clip(x, -30.0, 30.0))))


@_case(2.0, 0.5)
def power_of_variables(x):
    return np.power(x[0], x[1]) + x[0] ** x[1] * np.exp(x[1])


# ---------------------------------------------------------------------------------------------
# Deliberately on a kink or a tie (kink=True)
# ---------------------------------------------------------------------------------------------

@_case(0.5, 0.0, -0.3, kink=True, note="relu at exactly 0 (second coordinate)")
def relu_at_zero(x):
    return np.sum(np.maximum(x, 0.0) * np.array([1.0, 2.0, 3.0]))


@_case(0.7, -0.2, 0.7, kink=True, note="max with a tie (coordinates 0 and 2)")
def max_with_tie(x):
    return np.max(x) + 0.5 * x @ x


@_case(0.4, 0.0, -1.1, kink=True, note="abs at exactly 0 (second coordinate)")
def l1_at_zero(x):
    return np.sum(np.abs(x))


@_case(1.0, 0.3, -0.4, kink=True, note="clip at its upper bound 1 (first coordinate)")
def clip_at_bound(x):
    return np.sum(np.clip(x, -1.0, 1.0) ** 2)


@_case(1.0, 0.0, kink=True, note="hinge at the margin: 1 - y*(w@x) = 0")
def hinge_at_margin(x):
    return np.maximum(0.0, 1.0 - x @ np.array([1.0, 0.5]))


@_case(0.0, 0.6, kink=True, note="np.where branch boundary at x[0] = 0 (slopes 2 and -1)")
def where_at_boundary(x):
    return np.where(x[0] > 0, 2 * x[0], -x[0]) + x[1] ** 2


@_case(0.0, 0.0, 0.0, kink=True, note="euclidean norm at the origin")
def norm_at_origin(x):
    return np.linalg.norm(x)


CASES: tuple[NumpyCase, ...] = tuple(_REGISTERED)
_BY_NAME = {case.name: case for case in CASES}


def by_name(name: str) -> NumpyCase:
    """The case called ``name``; KeyError naming the unknown name otherwise.

    >>> by_name("rosenbrock").point
    (-1.2, 1.0, 0.8, 1.5, 0.3)
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no numpy corpus case named {name!r}; there are {len(CASES)} cases, "
                       f"e.g. {', '.join(sorted(_BY_NAME)[:3])}") from None
