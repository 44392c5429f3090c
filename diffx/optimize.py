"""Gradient descent, momentum and Adam driven by any diffx engine; the seed notebooks' problems.

The seeds train with ``tf.GradientTape``; here the gradient comes from whichever method of
``diffx.METHODS`` you name, so the same loop runs on symbolic, finite-difference, dual-number
and tape gradients and shows what the choice changes (path, final accuracy, time)::

    >>> from diffx.optimize import minimize
    >>> result = minimize("x**2 - 20*x + 100", [50.0], method="dual", optimizer="gd",
    ...                   lr=0.1, steps=3)
    >>> [round(float(v), 10) for v in result.path[:, 0]]   # 10 + 40·0.8^k, seed 002's loop
    [50.0, 42.0, 35.6, 30.48]
    >>> minimize("himmelblau", method="symbolic").x        # a seed problem, by name
    array([3., 2.])

The optimizers are the update rules of ``tf.keras.optimizers`` (SGD, SGD with momentum, Adam),
written out in numpy in the same operation order, so a diffx path can be checked against a real
Keras run on the same problem. Problems are in :data:`problems` (see :func:`problem`);
:func:`compare_methods` runs one problem with several methods and tabulates path agreement and
time; :func:`plot` draws loss curves, paths on contours and regression lines (matplotlib,
imported lazily). TensorFlow is imported only by the tape methods, scikit-learn only by the
digits problem.

Divergence (a non-finite iterate, loss or gradient) stops the run with a
:class:`DivergenceWarning`; the result then has ``status == "diverged"`` and its path ends at
the last finite iterate.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diffx import catalog
from diffx import elementary as E
from diffx.elementary import backend_of, softplus
from diffx.engines import METHODS, engine, gradient, registry
from diffx.errors import DiffxError, UnsupportedError
from diffx.functions import Function, ParsedFunction, as_function

__all__ = [
    "OPTIMIZERS",
    "Adam",
    "DivergenceWarning",
    "GradientDescent",
    "Momentum",
    "OptimizeError",
    "OptimizeResult",
    "PathComparison",
    "Problem",
    "UnknownProblemError",
    "accuracy",
    "compare_methods",
    "digits_data",
    "linear_regression_loss",
    "logistic_regression_loss",
    "make_optimizer",
    "minimize",
    "path_deviation",
    "plot",
    "problem",
    "problems",
    "seed_regression_data",
]


class OptimizeError(DiffxError, ValueError):
    """A bad argument to :func:`minimize` (optimizer, learning rate, steps, x0, dtype)."""


class UnknownProblemError(DiffxError, KeyError):
    """A problem name that does not exist (a DiffxError and a KeyError)."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class DivergenceWarning(RuntimeWarning):
    """The iteration produced inf or NaN (learning rate too large, or outside the domain)."""


# --------------------------------------------------------------------------------------------
# The optimizers: one small class each, the Keras update rules written out
# --------------------------------------------------------------------------------------------
class GradientDescent:
    """Plain gradient descent: ``x ← x − g·lr``.

    The seeds' ``x.assign_sub(lr * grads)`` and ``tf.keras.optimizers.SGD(lr)``.
    """

    def __init__(self, lr: float):
        self.lr = lr

    def update(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        return x - g * self.lr


class Momentum:
    """Gradient descent with (heavy-ball) momentum, as ``tf.keras.optimizers.SGD(lr, momentum)``::

        velocity ← momentum·velocity − g·lr
        x        ← x + velocity

    With a constant learning rate this is the same sequence of iterates as the textbook (and
    PyTorch) form ``v ← μ·v + g;  x ← x − lr·v``: Keras's velocity is −lr times PyTorch's.
    """

    def __init__(self, lr: float, momentum: float = 0.9):
        self.lr = lr
        self.momentum = momentum
        self.velocity: np.ndarray | None = None

    def update(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.velocity is None:
            self.velocity = np.zeros_like(x)
        self.velocity = self.velocity * self.momentum - g * self.lr
        return x + self.velocity


class Adam:
    """Adam (Kingma & Ba 2015) exactly as ``tf.keras.optimizers.Adam`` computes it, step t = 1, 2…::

        m ← m + (g − m)·(1 − β₁)            (= β₁m + (1 − β₁)g)
        v ← v + (g² − v)·(1 − β₂)
        α ← lr·√(1 − β₂ᵗ) / (1 − β₁ᵗ)       (bias correction folded into the step size)
        x ← x − m·α / (√v + ε)

    Defaults are Keras's: lr = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-7. Note where ε sits: it is
    added to √v, not to the bias-corrected √v̂ as in the paper's Algorithm 1 (the paper's
    section 2 gives this "ε̂" form as the efficient equivalent). The two agree except when
    √v̂ is within a few ε of zero.
    """

    def __init__(self, lr: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        self.lr = lr
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def update(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.m is None:
            self.m, self.v = np.zeros_like(x), np.zeros_like(x)
        self.t += 1
        dtype = x.dtype.type  # float32 runs keep every quantity in float32, as Keras does
        beta_1_power = dtype(self.beta_1) ** dtype(self.t)
        beta_2_power = dtype(self.beta_2) ** dtype(self.t)
        alpha = dtype(self.lr) * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        self.m = self.m + (g - self.m) * (1 - self.beta_1)
        self.v = self.v + (np.square(g) - self.v) * (1 - self.beta_2)
        return x - (self.m * alpha) / (np.sqrt(self.v) + self.epsilon)


OPTIMIZERS: dict[str, type] = {"gd": GradientDescent, "momentum": Momentum, "adam": Adam}
DEFAULT_LR: dict[str, float] = {"gd": 0.01, "momentum": 0.01, "adam": 0.001}  # Keras defaults
DEFAULT_STEPS = 1000
_HYPERPARAMETERS = {"gd": (), "momentum": ("momentum",),
                    "adam": ("beta_1", "beta_2", "epsilon")}


def make_optimizer(name: str, lr: float, **hyperparameters: float) -> Any:
    """The optimizer object ``name`` (``"gd"``, ``"momentum"``, ``"adam"``), validated.

    >>> make_optimizer("adam", 0.01).epsilon
    1e-07
    """
    if name not in OPTIMIZERS:
        close = difflib.get_close_matches(str(name), OPTIMIZERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OptimizeError(f"unknown optimizer {name!r}{hint}; choose one of "
                            f"{', '.join(OPTIMIZERS)}")
    _check_lr(lr)
    allowed = _HYPERPARAMETERS[name]
    for key, value in hyperparameters.items():
        if key not in allowed:
            raise OptimizeError(f"optimizer {name!r} takes no {key}= (it takes "
                                f"{', '.join(allowed) or 'only lr'})")
        if key == "epsilon":
            ok = _is_real(value) and math.isfinite(value) and value > 0
        else:
            ok = _is_real(value) and 0 <= value < 1
        if not ok:
            bound = "a positive finite number" if key == "epsilon" else "in [0, 1)"
            raise OptimizeError(f"{key} must be {bound}, got {value!r}")
    return OPTIMIZERS[name](lr, **hyperparameters)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_lr(lr: Any) -> float:
    if not (_is_real(lr) and math.isfinite(lr) and lr > 0):
        raise OptimizeError(f"the learning rate must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_steps(steps: Any) -> int:
    if not (isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps >= 1):
        raise OptimizeError(f"steps must be a whole number >= 1, got {steps!r}")
    return int(steps)


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizeResult:
    """What :func:`minimize` did, step by step.

    ``path`` has shape (k + 1, n): ``path[0]`` is x0 and ``path[i]`` the iterate after step i
    (k = steps taken). ``losses[i] = f(path[i])``; ``grad_norms[i]`` is ‖∇f(path[i])‖₂ as the
    method computed it and ``grad_seconds[i]`` the wall time of that gradient (k entries, or
    k + 1 when the run stopped or diverged on a gradient it had computed).
    ``grad_evals`` counts gradients, ``function_evals`` the evaluations of f the
    finite-difference methods spent on them (0 for exact methods). ``seconds`` is the wall
    time of the whole run. ``status`` is "completed", "stopped" (callback) or "diverged".
    """

    x: np.ndarray
    fun: float
    path: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    grad_seconds: np.ndarray
    grad_evals: int
    function_evals: int
    seconds: float
    method: str
    optimizer: str
    lr: float
    steps: int
    dtype: str = "float64"
    status: str = "completed"
    message: str = ""
    problem: str | None = None
    hyperparameters: dict = field(default_factory=dict)

    @property
    def nit(self) -> int:
        """Number of steps taken (``steps`` unless stopped early)."""
        return len(self.path) - 1

    def __str__(self) -> str:
        where = np.array2string(self.x, precision=10, max_line_width=90, threshold=8)
        name = self.problem or "f"
        lines = [f"{name}: {self.optimizer} (lr {self.lr:g}) for {self.nit} steps with "
                 f"{self.method} gradients ({self.dtype}): {self.status}",
                 f"  x = {where}",
                 f"  f(x) = {self.fun:.17g}",
                 f"  {self.grad_evals} gradients in {self.seconds:.3g} s"
                 + (f" ({self.function_evals} function evaluations)"
                    if self.function_evals else "")]
        if self.message:
            lines.append(f"  {self.message}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# minimize
# --------------------------------------------------------------------------------------------
def minimize(f: Any, x0: Any = None, method: str = "dual", optimizer: str | None = None, *,
             lr: float | None = None, steps: int | None = None, callback: Callable | None = None,
             dtype: str = "float64", step: float | str | None = None,
             variables: Sequence[str] | None = None,
             **hyperparameters: float) -> OptimizeResult:
    """Minimise ``f`` from ``x0`` with ``optimizer``, taking gradients with ``method``.

    Parameters
    ----------
    f : str, SymPy expression, callable, :class:`Problem` or problem name
        The objective (scalar). A problem name (``"himmelblau"``; see :data:`problems`) brings
        its own function, x0 and default optimizer, lr and steps; any of them may be overridden.
    x0 : float or sequence of floats, shape (n,)
        The start. Required unless ``f`` is a problem.
    method : str
        Any of ``diffx.METHODS``: where the gradients come from.
    optimizer : ``"gd"``, ``"momentum"`` or ``"adam"``
        The update rule (see :class:`GradientDescent`, :class:`Momentum`, :class:`Adam`).
        Default ``"gd"`` (or the problem's).
    lr, steps : learning rate (> 0, finite) and number of steps (>= 1). Defaults: Keras's
        learning rate for the optimizer (0.01, 0.01, 0.001) and 1000 steps, or the problem's.
    callback : ``callback(k, x, loss, grad)`` after the gradient at iterate k; return True to
        stop (status "stopped").
    dtype : ``"float64"``, or ``"float32"`` to keep iterates, gradients and optimizer state in
        float32 as the seeds' TensorFlow variables are (tape methods only).
    step : the finite-difference step for every gradient (numeric methods only; default: the
        engine chooses, see ``diffx.engines.numeric``).
    **hyperparameters : ``momentum=`` (0.9), ``beta_1=``, ``beta_2=``, ``epsilon=``.

    Returns
    -------
    OptimizeResult

    Raises OptimizeError for bad arguments (before any work), UnknownProblemError for a name
    that is neither a problem nor an expression, and warns DivergenceWarning on inf/NaN.
    """
    started = time.perf_counter()
    spec = _resolve(f, x0, variables)
    fn, point, name, defaults = spec.function, spec.x0, spec.name, spec.problem
    optimizer = optimizer or (defaults.optimizer if defaults else "gd")
    own = defaults is not None and optimizer == defaults.optimizer  # the problem's settings
    if lr is None:
        lr = defaults.lr if own else DEFAULT_LR.get(optimizer, 0.01)
    if steps is None:
        steps = defaults.steps if defaults else DEFAULT_STEPS
    if own:
        hyperparameters = {**defaults.hyperparameters, **hyperparameters}
    updater = make_optimizer(optimizer, lr, **hyperparameters)
    steps = _check_steps(steps)
    if method not in METHODS:
        raise OptimizeError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if dtype not in ("float64", "float32"):
        raise OptimizeError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if dtype not in engine(method).dtypes:
        raise UnsupportedError(
            f"{dtype} runs need a method that computes in {dtype} "
            f"({', '.join(registry.methods(dtype=dtype))}); {method!r} computes in "
            f"{' or '.join(engine(method).dtypes)} only")
    if step is not None and "step" not in engine(method).options:
        raise OptimizeError(f"method {method!r} takes no step= (only finite differences do)")
    options = {} if step is None else {"step": step}
    if callback is not None and not callable(callback):
        raise OptimizeError(f"callback must be callable, got {callback!r}")

    real = np.float32 if dtype == "float32" else np.float64
    x = point.astype(real)
    loss_of = _loss_function(fn, x.size, dtype)
    path, losses, norms, seconds = [x.copy()], [loss_of(x)], [], []
    grad_evals = function_evals = 0
    status, message = "completed", ""
    if not math.isfinite(losses[0]):
        raise OptimizeError(f"f(x0) = {losses[0]} at x0 = {tuple(point)}: start inside the "
                            f"domain of the function")
    for k in range(steps):
        tick = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # non-finite values handled below
            estimate = gradient(fn, x.astype(float), method, dtype=dtype, full_output=True,
                                **options)
        seconds.append(time.perf_counter() - tick)
        grad_evals += 1
        function_evals += estimate.evaluations or 0
        g = np.asarray(estimate.value, dtype=float).astype(real)
        norms.append(float(np.linalg.norm(g.astype(float))))
        if not np.all(np.isfinite(g)):
            status, message = "diverged", f"the gradient at step {k} is not finite: {g}"
            break
        if callback is not None and callback(k, x.copy(), losses[-1], g.copy()):
            status, message = "stopped", f"the callback stopped the run at step {k}"
            break
        with np.errstate(all="ignore"):
            x = updater.update(x, g)
        loss = loss_of(x) if np.all(np.isfinite(x)) else math.nan
        if not math.isfinite(loss):
            status = "diverged"
            message = (f"step {k + 1} left the finite numbers (x = {x}, f = {loss}); "
                       f"try a smaller learning rate than {lr:g}")
            break
        path.append(x.copy())
        losses.append(loss)
    if status == "diverged":
        warnings.warn(DivergenceWarning(f"{name}: {message}"), stacklevel=2)
    final = path[-1]
    return OptimizeResult(
        x=final.astype(float), fun=float(losses[-1]), path=np.array(path, dtype=float),
        losses=np.array(losses, dtype=float), grad_norms=np.array(norms),
        grad_seconds=np.array(seconds), grad_evals=grad_evals, function_evals=function_evals,
        seconds=time.perf_counter() - started, method=method, optimizer=optimizer,
        lr=float(lr), steps=steps, dtype=dtype, status=status, message=message,
        problem=spec.problem.name if spec.problem else None,
        hyperparameters=dict(hyperparameters))


@dataclass(frozen=True)
class _Spec:
    function: Function
    x0: np.ndarray
    name: str
    problem: Problem | None


def _resolve(f: Any, x0: Any, variables: Sequence[str] | None) -> _Spec:
    """Turn the ``f, x0`` of minimize into a Function and a validated start point."""
    chosen = None
    if isinstance(f, Problem):
        chosen = f
    elif isinstance(f, str) and f.strip() in problems:
        chosen = problems[f.strip()]
    elif isinstance(f, str) and _looks_like_a_name(f):
        raise _unknown_problem(f.strip())
    if chosen is not None:
        fn = chosen.function()
        start = chosen.x0 if x0 is None else _start(x0)
        name = chosen.name
    else:
        if x0 is None:
            raise OptimizeError("x0 is required (only named problems bring their own start)")
        fn = as_function(f, variables)
        start = _start(x0)
        name = fn.name
    if fn.variables is not None and start.size != len(fn.variables):
        raise OptimizeError(f"x0 has {start.size} coordinate(s) but {name} is a function of "
                            f"{len(fn.variables)} variable(s) ({', '.join(fn.variables)})")
    return _Spec(fn, start, name, chosen)


def _start(x0: Any) -> np.ndarray:
    try:
        point = np.atleast_1d(np.asarray(x0, dtype=float))
    except (TypeError, ValueError):
        raise OptimizeError(f"x0 must be a number or a vector of numbers, got {x0!r}") from None
    if point.ndim != 1 or point.size == 0:
        raise OptimizeError(f"x0 must be a number or a 1-D vector, got shape {point.shape}")
    if not np.all(np.isfinite(point)):
        raise OptimizeError(f"x0 = {tuple(point)} contains NaN or infinity")
    return point


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VARIABLE = re.compile(r"[A-Za-z](_?[0-9]+)?\Z")


def _looks_like_a_name(text: str) -> bool:
    """A bare identifier that is not a variable name ("x", "x1"): meant as a problem name."""
    text = text.strip()
    return bool(_NAME.match(text)) and not _VARIABLE.match(text) and text not in ("pi", "e")


def _unknown_problem(name: str) -> UnknownProblemError:
    close = difflib.get_close_matches(name, problems, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UnknownProblemError(f"unknown problem {name!r}{hint}; known: {', '.join(problems)}")


def _loss_function(fn: Function, n: int, dtype: str) -> Callable[[np.ndarray], float]:
    """f as a float-valued function of the iterate, in the run's precision."""
    if dtype == "float32":
        from diffx.engines.tape import tensorflow

        tf = tensorflow()

        def loss32(x: np.ndarray) -> float:
            value = fn.on_vector(tf.constant(x, dtype=tf.float32), n)
            return float(np.float32(np.asarray(value)))

        return loss32

    def loss64(x: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = np.asarray(fn.numpy_call(x.astype(float)), dtype=float)
        if value.size != 1:
            raise OptimizeError(f"{fn.name} has {value.size} outputs; minimize needs a scalar "
                                f"function")
        return float(value.reshape(()))

    return loss64


# --------------------------------------------------------------------------------------------
# Backend-neutral helpers for the data-driven losses (numpy, Dual, tf, SymPy object arrays)
# --------------------------------------------------------------------------------------------
def _raw(p: Any) -> Any:
    """The parameters as plain backend values. diffx may hand a callable its SymPy, mpmath or
    TensorFlow input wrapped (``elementary.Boxed``, so that numpy ufuncs in user code work);
    these losses call the backends directly (tf.linalg.matvec), so they unwrap first."""
    return E.unbox(p)


def _total(v: Any) -> Any:
    """Σ of the entries of an array-like of any backend: numpy's sum, which every diffx value
    type reads from the table (a Dual keeps its tangent's direction axis); TensorFlow's for a
    tensor."""
    if backend_of(v) == "tf":
        from diffx.engines.tape import tensorflow

        return tensorflow().reduce_sum(v)
    return np.sum(v)


def _constant(data: np.ndarray, like: Any) -> Any:
    """The data array in the backend (and precision) of the parameters ``like``."""
    if backend_of(like) == "tf":
        from diffx.engines.tape import tensorflow

        return tensorflow().constant(data, dtype=like.dtype)
    return data


def _matvec(matrix: np.ndarray, w: Any) -> Any:
    """matrix @ w for a parameter vector of any backend (Dual: its own matmul)."""
    if backend_of(w) == "tf":
        from diffx.engines.tape import tensorflow

        return tensorflow().linalg.matvec(_constant(matrix, w), w)
    return matrix @ w


def linear_regression_loss(x: np.ndarray, y: np.ndarray) -> Callable[[Any], Any]:
    """Seed 002's loss of the line ŷ = w·x + c: Σ(ŷ − y)²/(2m), as a function of p = (w, c)."""
    m = len(x)

    def loss(p: Any) -> Any:
        p = _raw(p)
        # data on the left: ndarray * Symbol is an object array (Symbol * ndarray would be a
        # SymPy Array), ndarray * Dual defers to the Dual
        error = _constant(x, p) * p[0] + p[1] - _constant(y, p)
        # times 1/(2m) rather than "/ (2m)": the same value to one rounding, and no division
        # node, so diffx's bad-point check (diffx.points) need not record f at every iterate
        return _total(error**2) * (1 / (2 * m))

    loss.__name__ = "linear_regression"
    return loss


def logistic_regression_loss(features: np.ndarray, labels: np.ndarray) -> Callable[[Any], Any]:
    """Mean sigmoid cross-entropy of logits z = X·w + b, p = (w₁…wₙ, b).

    Per sample softplus(z) − y·z, which is ``tf.nn.sigmoid_cross_entropy_with_logits``
    (max(z, 0) − z·y + log(1 + e^−|z|)) written with one smooth function.
    """
    n, m = features.shape[1], len(labels)

    def loss(p: Any) -> Any:
        p = _raw(p)
        z = _matvec(features, p[:n]) + p[n]
        return _total(softplus(z) - _constant(labels, p) * z) / m

    loss.__name__ = "logistic_regression"
    return loss


# --------------------------------------------------------------------------------------------
# The seed problems
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """A named optimisation problem from the seeds: objective, start and default optimizer.

    ``function()`` and ``x0`` are built on first use (the digits problem loads scikit-learn's
    bundled data then). ``data`` holds what a data-driven problem was built from (arrays) and
    ``skip`` the methods that are impractical for it, with the reason.
    """

    name: str
    description: str
    seed: str
    optimizer: str
    lr: float
    steps: int
    build: Callable[[], tuple[Function, np.ndarray, dict]] = field(repr=False)
    minima: tuple[tuple[float, ...], ...] = ()
    hyperparameters: dict = field(default_factory=dict)
    skip: dict = field(default_factory=dict)
    box: tuple[float, float, float, float] | None = None  # contour-plot window

    @functools.cached_property
    def _built(self) -> tuple[Function, np.ndarray, dict]:
        return self.build()

    def function(self) -> Function:
        return self._built[0]

    @property
    def x0(self) -> np.ndarray:
        return self._built[1].copy()

    @property
    def data(self) -> dict:
        return self._built[2]

    def minimize(self, method: str = "dual", **options: Any) -> OptimizeResult:
        """:func:`minimize` on this problem (``options`` override the problem's defaults)."""
        return minimize(self, method=method, **options)

    def notes(self, result: OptimizeResult) -> list[str]:
        """Problem-specific lines about a result (distance to a known minimum, accuracy…)."""
        lines = []
        if self.minima:
            distances = [float(np.linalg.norm(result.x - np.array(m))) for m in self.minima]
            best = int(np.argmin(distances))
            lines.append(f"nearest known minimum {self.minima[best]} at distance "
                         f"{distances[best]:.3g}")
        if "least_squares" in self.data:
            exact = self.data["least_squares"]
            lines.append(f"least squares (w, c) = ({exact[0]:.12g}, {exact[1]:.12g}); "
                         f"distance {np.linalg.norm(result.x - exact):.3g}")
        if "test_features" in self.data:
            lines.append(f"accuracy: train {accuracy(self, result.x, 'train'):.4f}, "
                         f"test {accuracy(self, result.x, 'test'):.4f}")
        return lines


def _expression(text: str) -> Callable[[], tuple[Function, np.ndarray, dict]]:
    def build() -> tuple[Function, np.ndarray, dict]:
        fn = as_function(text)
        return fn, np.zeros(len(fn.variables)), {}

    return build


def _catalogued(name: str) -> Callable[[], tuple[Function, np.ndarray, dict]]:
    def build() -> tuple[Function, np.ndarray, dict]:
        entry = catalog.get(name)
        return entry.function(), np.array(entry.point, dtype=float), {}

    return build


def seed_regression_data() -> tuple[np.ndarray, np.ndarray]:
    """Seed 002's ``generateData()``: np.random.seed(10), x = linspace(0, 10, 100),
    y = 2.5x + 3 + N(0, 1.5) noise. Uses its own RandomState(10): the same numbers, without
    touching numpy's global generator."""
    x = np.linspace(0, 10, 100)
    noise = np.random.RandomState(10).normal(0, 1.5, 100)
    return x, 2.5 * x + 3 + noise


def _build_linear_regression() -> tuple[Function, np.ndarray, dict]:
    x, y = seed_regression_data()
    solution, *_ = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)
    fn = as_function(linear_regression_loss(x, y), variables=("w", "c"))
    return fn, np.zeros(2), {"x": x, "y": y, "least_squares": solution}


def digits_data() -> dict:
    """Seed 002's ``loadData()`` + ``splitData()``: digits 0 and 1 from scikit-learn's bundled
    ``load_digits`` (no download), standardised, first 90% for training (324 × 64), rest for
    testing (36 × 64)."""
    try:
        from sklearn import datasets, preprocessing
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise UnsupportedError("the logistic_regression problem needs scikit-learn "
                               "(pip install scikit-learn)") from None
    digits = datasets.load_digits()
    keep = (digits.target == 0) | (digits.target == 1)
    features = preprocessing.StandardScaler().fit_transform(digits.data[keep])
    labels = digits.target[keep].astype(float)
    cut = int(0.9 * len(labels))
    return {"train_features": features[:cut], "train_labels": labels[:cut],
            "test_features": features[cut:], "test_labels": labels[cut:]}


def _build_logistic_regression() -> tuple[Function, np.ndarray, dict]:
    data = digits_data()
    n = data["train_features"].shape[1]
    fn = as_function(logistic_regression_loss(data["train_features"], data["train_labels"]),
                     variables=(*(f"w{i}" for i in range(n)), "b"))
    # the seed's tf.random.normal([1, 64], stddev=0.05) and b = 0, from a fixed generator
    x0 = np.concatenate([np.random.default_rng(0).normal(0.0, 0.05, n), [0.0]])
    return fn, x0, data


def accuracy(problem_: Problem | str, params: np.ndarray, split: str = "test") -> float:
    """Fraction of ``split`` ("train" or "test") samples the logistic model classifies right
    (round(σ(z)) == label, as the seed's ``calculate_accuracy``)."""
    chosen = problem(problem_) if isinstance(problem_, str) else problem_
    data = chosen.data
    if f"{split}_features" not in data:
        raise OptimizeError(f"problem {chosen.name!r} has no {split!r} classification data")
    features, labels = data[f"{split}_features"], data[f"{split}_labels"]
    z = features @ params[:-1] + params[-1]
    return float(np.mean((z > 0) == (labels == 1)))


_HIMMELBLAU_MINIMA = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                      (3.584428, -1.848126))

problems: dict[str, Problem] = {p.name: p for p in (
    Problem("quadratic", "x² − 20x + 100 from x = 50, gradient descent lr 0.1: iterates "
            "10 + 40·0.8ᵏ", "seed 002", "gd", 0.1, 50,
            _catalogued("seed_quadratic"), minima=((10.0,),)),
    Problem("cubic", "3x³ + x² (seed 002's derivative example, 920 at x = 10), descending "
            "from 10 into its local minimum at 0; unbounded below, so a large lr diverges",
            "seed 002", "gd", 0.01, 500, _catalogued("seed_cubic"), minima=((0.0,),)),
    Problem("cubic_plus_five", "x² + x³ + 5 (seed 003's tape example, 16 at x = 2), from 2 "
            "into its local minimum at 0", "seed 003", "gd", 0.01, 500,
            _catalogued("seed_poly"), minima=((0.0,),)),
    Problem("sigmoid_neuron", "(y − σ(w·x + b))² with x = 1.5, y = 0.2 over (b, w) from "
            "(-2, 3): gradient descent with α = 1 for 20 epochs", "seed 000", "gd", 1.0, 20,
            _catalogued("sigmoid_neuron"), box=(-4.0, 0.0, 0.0, 4.0)),
    Problem("linear_regression", "line w·x + c through seed 002's 100 noisy points, loss "
            "Σ(ŷ − y)²/2m, gradient descent lr 0.001 for 10000 steps (the seed updates `m` "
            "where it means `w`, and plots predict(x_train) without w and c)",
            "seed 002", "gd", 0.001, 10000, _build_linear_regression, box=(-0.5, 4.0, -1, 4)),
    Problem("logistic_regression", "digits 0 vs 1 (scikit-learn's bundled load_digits), "
            "64 weights + bias, mean sigmoid cross-entropy of the logits, Adam lr 0.01 for "
            "70 iterations. The seed passes sigmoid(z) where the logits z are meant (so it "
            "minimises a double sigmoid) and creates Adam() without its learning_rate = 0.01 "
            "(so it ran at Keras's 0.001); here the loss is on z and lr is 0.01",
            "seed 002", "adam", 0.01, 70, _build_logistic_regression,
            skip={"symbolic": "SymPy traces 324 softplus terms of 65-term sums (24 s), "
                              "then differentiating and compiling them did not finish in "
                              "5 minutes",
                  "tape-forward": "65 forward passes per gradient through TensorFlow: "
                                  "slow, and the same numbers as tape"}),
    Problem("himmelblau", "(x² + y − 11)² + (x + y² − 7)² from (0, 0), gradient descent "
            "lr 0.001 (the seed runs 30000 steps; it has stopped moving, in float32, by step "
            "2000)", "seed 003", "gd", 0.001, 2000, _catalogued("himmelblau"),
            minima=_HIMMELBLAU_MINIMA, box=(-6.0, 6.0, -6.0, 6.0)),
    Problem("rosenbrock", "(1 − x)² + 100(y − x²)² from (-1.2, 1): the banana valley; "
            "momentum 0.9 with lr 0.001 reaches (1, 1) in 5000 steps where plain gradient "
            "descent needs several times more", "classic", "momentum", 0.001, 5000,
            _catalogued("rosenbrock"), minima=((1.0, 1.0),), box=(-2.0, 2.0, -1.0, 3.0)),
)}


def problem(name: str) -> Problem:
    """The problem called ``name``; UnknownProblemError (listing the names) if there is none.

    >>> problem("quadratic").x0
    array([50.])
    """
    if isinstance(name, str) and name.strip() in problems:
        return problems[name.strip()]
    raise _unknown_problem(str(name))


# --------------------------------------------------------------------------------------------
# Comparing gradient methods on one problem
# --------------------------------------------------------------------------------------------
# the default selection of compare_methods: one or two of each family, the quick ones
COMPARED_METHODS = ("symbolic", "dual", "tape", "richardson", "complex-step", "central",
                    "forward")


def path_deviation(path: np.ndarray, reference: np.ndarray) -> float:
    """max over iterates k of ‖path_k − reference_k‖∞ / ‖reference_k‖∞ (inf if lengths differ;
    an iterate equal to a zero reference counts 0)."""
    if path.shape != reference.shape:
        return math.inf
    difference = np.max(np.abs(path - reference), axis=1)
    scale = np.max(np.abs(reference), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(difference == 0, 0.0, difference / scale)
    return float(np.max(relative))


@dataclass(frozen=True)
class PathComparison:
    """One problem minimised with several gradient methods (same optimizer, lr, steps).

    ``results`` maps method → OptimizeResult; ``reference`` is the element-wise median path of
    the exact methods that ran (symbolic, dual, tape, tape-forward), against which
    ``deviations[method]`` (see :func:`path_deviation`) is measured; ``skipped`` maps a method
    to why it did not run.
    """

    problem: str
    results: dict[str, OptimizeResult]
    reference: np.ndarray | None
    deviations: dict[str, float]
    skipped: dict[str, str]

    def ratios(self) -> dict[str, float]:
        """Each method's median time per gradient divided by the fastest method's (measured in
        this run; the first gradient, which carries set-up such as SymPy compilation or the
        TensorFlow import, is excluded when there are others)."""
        per = {m: _per_gradient(r) for m, r in self.results.items()}
        fastest = min(per.values())
        return {m: t / fastest for m, t in per.items()}

    def __str__(self) -> str:
        first = next(iter(self.results.values()))
        head = (f"{self.problem}: {first.optimizer} lr {first.lr:g}, {first.steps} steps; "
                f"path deviation from the median path of the exact methods; time per "
                f"gradient as a ratio to the fastest")
        rows = [("method", "final f", "max path dev", "f evals", "first grad s",
                 "per grad us", "total s", "x fastest")]
        ratios = self.ratios()
        for method, result in self.results.items():
            deviation = self.deviations.get(method)
            rows.append((method, f"{result.fun:.10g}",
                         "-" if deviation is None else f"{deviation:.1e}",
                         str(result.function_evals), f"{result.grad_seconds[0]:.3g}",
                         f"{_per_gradient(result) * 1e6:.0f}", f"{result.seconds:.3g}",
                         f"{ratios[method]:.1f}"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [head] + ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                    for i, (cell, w) in enumerate(zip(row, widths)))
                          for row in rows]
        lines += [f"{method}: skipped ({why})" for method, why in self.skipped.items()]
        return "\n".join(lines)


def _per_gradient(result: OptimizeResult) -> float:
    times = result.grad_seconds[1:] if len(result.grad_seconds) > 1 else result.grad_seconds
    return float(np.median(times)) if len(times) else math.nan


def compare_methods(name: str | Problem, methods: Sequence[str] | None = None,
                    **options: Any) -> PathComparison:
    """Run problem ``name`` once per gradient method and compare paths, accuracy and time.

    ``options`` go to :func:`minimize` (optimizer, lr, steps, x0…). Methods the problem lists
    in ``skip`` are not run (and are reported as skipped) unless named in ``methods``.
    """
    chosen = problem(name) if isinstance(name, str) else name
    requested = list(methods) if methods is not None else list(COMPARED_METHODS)
    skipped = {m: chosen.skip[m] for m in requested if m in chosen.skip and methods is None}
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        for method in requested:
            if method not in skipped:
                results[method] = minimize(chosen, method=method, **options)
    exact = [results[m].path for m in registry.methods(exact=True) if m in results]
    reference = None
    deviations: dict[str, float] = {}
    if exact and all(p.shape == exact[0].shape for p in exact):
        reference = np.median(np.stack(exact), axis=0)
        deviations = {m: path_deviation(r.path, reference) for m, r in results.items()}
    return PathComparison(chosen.name, results, reference, deviations, skipped)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
def plot(results: OptimizeResult | Sequence[OptimizeResult] | PathComparison,
         problem_: Problem | str | None = None) -> Any:
    """A matplotlib Figure: loss against iteration for each result; for two-variable problems
    the paths over a contour plot; for the linear regression the data with the fitted lines.

    ``results`` may be one result, several, or a :class:`PathComparison`.
    """
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing global

    if isinstance(results, PathComparison):
        problem_ = problem_ or results.problem
        results = list(results.results.values())
    elif isinstance(results, OptimizeResult):
        results = [results]
    results = list(results)
    if problem_ is None and results and results[0].problem:
        problem_ = results[0].problem
    chosen = problem(problem_) if isinstance(problem_, str) else problem_
    n = results[0].path.shape[1]
    panels = ["loss"]
    if n == 2:
        panels.append("contour")
    if chosen is not None and "least_squares" in chosen.data:
        panels.append("line")
    figure = Figure(figsize=(5.2 * len(panels), 4.4), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        {"loss": _plot_losses, "contour": _plot_contour, "line": _plot_line}[panel](
            ax, results, chosen)
    title = chosen.name if chosen is not None else (results[0].problem or "f")
    settings = {(r.optimizer, r.lr) for r in results}
    if len(settings) == 1:
        title += f": {results[0].optimizer}, lr {results[0].lr:g}"
    figure.suptitle(title)
    return figure


def _label(result: OptimizeResult, results: Sequence[OptimizeResult]) -> str:
    """The method if methods differ, the optimizer and lr if those differ."""
    methods = {r.method for r in results}
    settings = {(r.optimizer, r.lr) for r in results}
    parts = []
    if len(methods) > 1 or len(settings) == 1:
        parts.append(result.method)
    if len(settings) > 1:
        parts.append(f"{result.optimizer} lr {result.lr:g}")
    return " / ".join(parts)


_STYLES = ("-", "--", ":", "-.")


def _plot_losses(ax: Any, results: Sequence[OptimizeResult], chosen: Problem | None) -> None:
    positive = all(np.all(r.losses > 0) for r in results)
    for i, result in enumerate(results):
        ax.plot(np.arange(len(result.losses)), result.losses, _STYLES[i % 4],
                label=_label(result, results), linewidth=1.4)
    if chosen is not None and "least_squares" in chosen.data:
        best = float(chosen.function().numpy_call(chosen.data["least_squares"]))
        ax.axhline(best, color="k", linewidth=0.8, alpha=0.5, label="least-squares minimum")
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss f(x)")
    ax.set_title("loss per iteration")
    ax.legend(fontsize=8)


def _grid_values(fn: Function, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if isinstance(fn, ParsedFunction):
            return np.asarray(fn(X, Y), dtype=float)
        return np.array([float(fn.numpy_call(np.array([a, b])))
                         for a, b in zip(X.ravel(), Y.ravel())]).reshape(X.shape)


def _plot_contour(ax: Any, results: Sequence[OptimizeResult], chosen: Problem | None) -> None:
    points = np.concatenate([r.path for r in results])
    if chosen is not None and chosen.box is not None:
        x_lo, x_hi, y_lo, y_hi = chosen.box
    else:
        (x_lo, y_lo), (x_hi, y_hi) = points.min(axis=0), points.max(axis=0)
        pad = 0.15 * max(x_hi - x_lo, y_hi - y_lo, 1e-3)
        x_lo, x_hi, y_lo, y_hi = x_lo - pad, x_hi + pad, y_lo - pad, y_hi + pad
    X, Y = np.meshgrid(np.linspace(x_lo, x_hi, 161), np.linspace(y_lo, y_hi, 161))
    fn = chosen.function() if chosen is not None else None
    if fn is not None:
        Z = _grid_values(fn, X, Y)
        finite = Z[np.isfinite(Z)]
        low = max(float(finite.min()), 1e-12 * max(float(finite.max()), 1.0))
        levels = np.geomspace(low, float(finite.max()), 30) if low > 0 else 30
        ax.contour(X, Y, np.maximum(Z, low) if low > 0 else Z, levels=levels,
                   cmap="viridis", linewidths=0.6)
        marks = list(chosen.minima) + ([tuple(chosen.data["least_squares"])]
                                       if "least_squares" in chosen.data else [])
        for minimum in marks:
            ax.plot(*minimum, "k*", markersize=9)
    for i, result in enumerate(results):
        ax.plot(result.path[:, 0], result.path[:, 1], _STYLES[i % 4], marker=".",
                markersize=2, linewidth=1.2, label=_label(result, results))
    ax.plot(*results[0].path[0], "ro", markersize=5, label="start")
    names = chosen.function().variables if chosen is not None else ("x0", "x1")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_title("paths on the contours of f")
    ax.legend(fontsize=8)


def _plot_line(ax: Any, results: Sequence[OptimizeResult], chosen: Problem) -> None:
    x, y = chosen.data["x"], chosen.data["y"]
    ax.scatter(x, y, s=8, color="0.5", label="data")
    w, c = chosen.data["least_squares"]
    ax.plot(x, w * x + c, "k-", linewidth=2.5, alpha=0.4, label=f"least squares {w:.3f}x + "
                                                                   f"{c:.3f}")
    for i, result in enumerate(results):
        w, c = result.x
        ax.plot(x, w * x + c, _STYLES[i % 4], label=f"{_label(result, results)} {w:.3f}x + "
                                                    f"{c:.3f}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("fitted line")
    ax.legend(fontsize=8)
