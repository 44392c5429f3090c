"""TensorFlow automatic differentiation: reverse mode with ``tf.GradientTape`` ("tape") and forward
mode with ``tf.autodiff.ForwardAccumulator`` ("tape-forward").

TensorFlow is imported on first use only (``import diffx`` stays light). Computations run in
float64 unless ``dtype="float32"`` is asked for (the seeds use float32: about 7 correct digits).

- tape:          gradient by one reverse sweep; Jacobian by ``tape.jacobian``; Hessian by
                 nested tapes; k-th derivative by k nested tapes.
- tape-forward:  Jacobian column by column, one JVP per input direction; Hessian by
                 forward-over-reverse (a JVP of the tape gradient); k-th derivative by k nested
                 accumulators up to k = 3, reverse-over-forward beyond (TF cannot nest deeper).

Two modes run the same cores (``mode=``):

- ``"eager"`` (the default): each call records a fresh tape, op by op, from Python.
- ``"graph"``: the core is wrapped in ``tf.function`` with a fixed input signature, traced once
  per (function, derivative kind, method, dtype, number of variables) and cached; later calls
  only feed a new point. Measured by ``benchmarks/tape_modes.py`` (one run, shared 2-core
  machine): a graph call is 4-80x cheaper than an eager one (the more operations, the more it
  saves), but the first call traces, costing 10-25 eager calls, so graph mode pays off after
  10-30 calls of the same function. One-shot calls, what ``diffx.gradient`` mostly serves,
  therefore stay eager by default; loops (optimisers, sweeps) should ask for graph. In graph
  mode a callable's Python code runs once, at tracing: Python-side state it
  reads (globals, closures) is frozen into the graph.

A user's callable receives its tensor as a :class:`diffx.engines.tape_arrays.TensorBox`: the
numpy calls in it (ufuncs, the array functions of :mod:`diffx.array_rules`, operators,
indexing, ndarray's methods) become TensorFlow ops, which the tapes and accumulators
differentiate with TensorFlow's own gradients, eagerly or traced; ``np.array([...])`` of them,
or a list returned, is stacked into one tensor. Parsed expressions run on the tensor itself.

The GradientTape idioms of the seed notebooks, as functions of diffx's function model:
:func:`gradients` (persistent tape, watched constants vs Variables, ``stop_gradient``,
``unconnected_gradients``), :func:`vjp` (gradient of a non-scalar target: TensorFlow sums it),
:func:`jvp` / :func:`hvp` (ForwardAccumulator, forward-over-reverse), :func:`batch_jacobian`,
:func:`intermediate_gradients` (gradients with respect to intermediate tensors) and
:func:`keras_gradients` (a Keras model's loss with respect to its trainable weights).
"""

from __future__ import annotations

import contextlib
import functools
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.engines.registry import Engine
from diffx.errors import DiffxError, UnsupportedError
from diffx.functions import (
    Apply,
    CallableFunction,
    Function,
    NamedConstant,
    Number,
    ParsedFunction,
    Variable,
    as_function,
)

__all__ = [
    "DEFAULT_MODE",
    "DTYPES",
    "ENGINES",
    "MODES",
    "batch_jacobian",
    "clear_cache",
    "compiled",
    "derivative",
    "gradients",
    "hessian",
    "hvp",
    "intermediate_gradients",
    "jacobian",
    "jvp",
    "keras_gradients",
    "tensorflow",
    "value_and_derivative",
    "vjp",
]

DTYPES = ("float64", "float32")
MODES = ("eager", "graph")
DEFAULT_MODE = "eager"  # chosen by benchmarks/tape_modes.py: see the module docstring
MAX_NESTED_ACCUMULATORS = 3
CACHE_SIZE = 256  # compiled tf.functions kept (least recently used dropped first)


def tensorflow():
    """Import TensorFlow (quietly) and return the module."""
    global _conversion_registered, _tf_module, _arrays
    if _tf_module is not None:  # the common case: a dict lookup, nothing more, per call
        return _tf_module
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # oneDNN's reordered float sums make results vary run to run (TF says so on stderr at
    # import, the only way to silence that line); diffx compares rounding errors: keep it off
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    if not _conversion_registered:  # tf.* functions accept Boxed values (see Function)
        tf.register_tensor_conversion_function(E.Boxed, _boxed_to_tensor)
        _conversion_registered = True
    from diffx.engines import tape_arrays  # numpy in callables becomes TensorFlow ops

    _arrays = tape_arrays
    _tf_module = tf
    return tf


_conversion_registered = False
_tf_module = None
_arrays: Any = None  # diffx.engines.tape_arrays, once TensorFlow is imported


def _boxed_to_tensor(value: E.Boxed, dtype: Any = None, name: str | None = None,
                     as_ref: bool = False) -> Any:
    import tensorflow as tf

    return tf.convert_to_tensor(value.value, dtype=dtype, name=name)


def _check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise UnsupportedError(f"dtype {dtype!r} is not supported by the tape engine; "
                               f"use one of {DTYPES}")
    return dtype


def _check_mode(mode: str | None) -> str:
    mode = DEFAULT_MODE if mode is None else mode
    if mode not in MODES:
        raise DiffxError(f"mode {mode!r} is not one of {MODES} (eager: a fresh tape per call; "
                         f"graph: tf.function, traced once and cached)")
    return mode


def _on_tensor(fn: Function, x: Any, n: int) -> Any:
    """fn at a tensor: a user's callable gets it as a TensorBox (its numpy calls become
    TensorFlow ops, :mod:`diffx.engines.tape_arrays`); a parsed tree runs on the tensor."""
    if isinstance(fn, CallableFunction):
        return fn.on_vector(_arrays.TensorBox(x), n)
    return fn.on_vector(x, n)


def _parts(fn: Function, out: Any) -> list:
    """A function's return value as its list of output tensors (a list or tuple: its items;
    boxes unwrapped; an object array of boxes, as np.array([...]) of them gives, stacked)."""
    parts = list(out) if isinstance(out, (list, tuple)) else [out]
    tensors = []
    for part in parts:
        if isinstance(part, _arrays.TensorBox) or (isinstance(part, np.ndarray)
                                                   and part.dtype == object):
            part = _arrays.as_tensor(part)
        elif isinstance(fn, CallableFunction) and isinstance(part, (np.ndarray, np.generic)):
            raise UnsupportedError(
                f"{fn.name} returned a numpy array from TensorFlow input, so the tape lost "
                f"track of it (numpy applied to a tf.* result, not to the callable's input?); "
                f"use numpy or diffx functions on the input, or tf.* throughout")
        tensors.append(part)
    return tensors


def _outputs(tf, fn: Function, x, n: int, rank1: bool = False):
    """Evaluate fn on a tensor and return its outputs as a rank-1 tensor of shape (m,), or a
    single scalar output of x's dtype as it is (shape ()) unless ``rank1``: eager mode then
    runs no reshape, cast or concat (nor their gradients), which for a small function are a
    third of the work. Callers reshape results in numpy (see _run)."""
    parts = _parts(fn, _on_tensor(fn, x, n))
    tensors = []
    for part in parts:
        tensor = tf.convert_to_tensor(part)
        if tensor.dtype != x.dtype:
            tensor = tf.cast(tensor, x.dtype)
        if len(parts) == 1 and tensor.shape.rank == 0 and not rank1:
            return tensor
        tensors.append(tf.reshape(tensor, [-1]))
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=0)


def _zero(tf):
    return tf.UnconnectedGradients.ZERO


def _dense(tf, gradient: Any) -> Any:
    """A gradient as a dense tensor: through tf.gather (numpy's fancy indexing in a callable)
    TensorFlow returns IndexedSlices."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient


def _unit(tf, n: int, j: int, dtype) -> Any:
    return tf.one_hot(j, n, dtype=dtype)


# --------------------------------------------------------------------------------------------
# The cores: tensor in, tensor out; run eagerly or traced inside tf.function
# --------------------------------------------------------------------------------------------
# The three cores behind diffx.derivative / gradient / jacobian / hessian return f's value with
# the derivative: the evaluation is part of every sweep anyway, and the bad-point policy of
# diffx.points reads it instead of evaluating f once more (see value_and_derivative).
def _jacobian_core(tf, fn: Function, xt, n: int, method: str):
    """(f(x) of shape (m,), Jacobian (m, n)): one reverse sweep for m = 1, else
    ``tape.jacobian``; or n JVPs."""
    if method == "tape":
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = _outputs(tf, fn, xt, n)
        if y.shape.rank == 0 or y.shape[0] == 1:  # a gradient: one reverse sweep
            return y, _dense(tf, tape.gradient(y, xt, unconnected_gradients=_zero(tf)))
        return y, tape.jacobian(y, xt, unconnected_gradients=_zero(tf))
    columns = []
    for j in range(n):
        with tf.autodiff.ForwardAccumulator(xt, _unit(tf, n, j, xt.dtype)) as accumulator:
            y = _outputs(tf, fn, xt, n)
        columns.append(accumulator.jvp(y, unconnected_gradients=_zero(tf)))
    return y, tf.stack(columns, axis=-1)  # (m, n), or (n,) for a scalar y


def _gradient_tensor(tf, fn: Function, xt, n: int):
    """(f(x), its gradient (n,)) from one tape."""
    with tf.GradientTape() as inner:
        inner.watch(xt)
        y = _outputs(tf, fn, xt, n)
    return y, _dense(tf, inner.gradient(y, xt, unconnected_gradients=_zero(tf)))


def _hessian_core(tf, fn: Function, xt, n: int, method: str):
    """(f(x), Hessian (n, n)): reverse-over-reverse, or forward-over-reverse column by
    column."""
    if method == "tape":
        with tf.GradientTape() as outer:
            outer.watch(xt)
            y, g = _gradient_tensor(tf, fn, xt, n)
        return y, outer.jacobian(g, xt, unconnected_gradients=_zero(tf))
    columns = []
    for j in range(n):
        with tf.autodiff.ForwardAccumulator(xt, _unit(tf, n, j, xt.dtype)) as accumulator:
            y, g = _gradient_tensor(tf, fn, xt, n)
        columns.append(accumulator.jvp(g, unconnected_gradients=_zero(tf)))
    return y, tf.stack(columns, axis=1)


def _derivative_core(tf, fn: Function, xt, order: int, method: str):
    """(f(x), the order-th derivative of a scalar function of one variable), shapes (1,)."""
    # TensorFlow (2.21) fails inside nested ForwardAccumulators beyond three levels
    # (IndexError, or InternalError when mixed with tapes), so from order 4 on tape-forward
    # keeps one accumulator, innermost, under k - 1 tapes (reverse-over-forward).
    forward_levels = order if order <= MAX_NESTED_ACCUMULATORS else 1

    values = []

    def nth(k: int) -> Any:
        if k == 0:
            values.append(_outputs(tf, fn, xt, 1))
            return values[-1]
        if method == "tape" or k > forward_levels:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                inner = nth(k - 1)
            return _dense(tf, tape.gradient(inner, xt, unconnected_gradients=_zero(tf)))
        with tf.autodiff.ForwardAccumulator(xt, tf.ones_like(xt)) as accumulator:
            inner = nth(k - 1)
        return accumulator.jvp(inner, unconnected_gradients=_zero(tf))

    derivative = nth(order)
    return values[0], derivative


def _jvp_core(tf, fn: Function, xt, vt, n: int):
    with tf.autodiff.ForwardAccumulator(xt, vt) as accumulator:
        y = _outputs(tf, fn, xt, n)
    return accumulator.jvp(y, unconnected_gradients=_zero(tf))


def _vjp_core(tf, fn: Function, xt, vt, n: int):
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = _outputs(tf, fn, xt, n, rank1=True)  # shaped like the output gradients vt
    return _dense(tf, tape.gradient(y, xt, output_gradients=vt,
                                    unconnected_gradients=_zero(tf)))


def _hvp_core(tf, fn: Function, xt, vt, n: int, how: str):
    if how == "forward-over-reverse":
        with tf.autodiff.ForwardAccumulator(xt, vt) as accumulator:
            _, g = _gradient_tensor(tf, fn, xt, n)
        return accumulator.jvp(g, unconnected_gradients=_zero(tf))
    with tf.GradientTape() as outer:  # reverse-over-reverse: ∇(∇f · v)
        outer.watch(xt)
        _, g = _gradient_tensor(tf, fn, xt, n)
        gv = tf.reduce_sum(g * vt)
    return _dense(tf, outer.gradient(gv, xt, unconnected_gradients=_zero(tf)))


# --------------------------------------------------------------------------------------------
# Graph mode: each core traced once per signature and cached
# --------------------------------------------------------------------------------------------
_COMPILED: OrderedDict[tuple, Any] = OrderedDict()  # key -> (tf.function, its concrete graph)
_WITH_VALUE = ("jacobian", "hessian", "derivative")  # kinds whose cores also return f(x)


def _function_key(fn: Function) -> tuple:
    """Functions that compute the same thing share a compiled graph: a parsed tree is an
    immutable value (hashable); a callable is keyed by the callable object itself."""
    if isinstance(fn, ParsedFunction):
        return ("tree", tuple(fn.tree), fn.vector_output, fn.variables)
    return ("callable", fn.func, fn.variables)


def compiled(f: Any, kind: str = "jacobian", method: str = "tape", dtype: str = "float64",
             n: int = 1, order: int = 1, how: str = "forward-over-reverse") -> Any:
    """The cached ``tf.function`` that graph mode uses for ``kind`` in {"jacobian", "hessian",
    "derivative", "jvp", "vjp", "hvp"} of ``f`` with ``n`` variables (built and traced on
    first use). For "jacobian", "hessian" and "derivative" it returns ``(f(x), derivative)``.

    Its ``experimental_get_tracing_count()`` shows that a second call does not retrace.
    """
    return _compiled(as_function(f), kind, method, dtype, n, order, how)[0]


def _compiled(fn: Function, kind: str, method: str, dtype: str, n: int, order: int,
              how: str) -> tuple[Any, Any]:
    """The cache entry: the tf.function and its one concrete graph. diffx calls the concrete
    graph directly: the input signature is fixed, so tf.function's per-call work of matching
    arguments to signatures is not needed (it is about a third of a small call)."""
    key = (_function_key(fn), kind, method, _check_dtype(dtype), int(n), int(order), how)
    entry = _COMPILED.get(key)
    if entry is not None:
        _COMPILED.move_to_end(key)
        return entry
    tf = tensorflow()
    core = _core(tf, kind, fn, method, n, order, how)
    x_spec = tf.TensorSpec([1 if kind == "derivative" else n], dtype)
    signature = [x_spec] if kind in _WITH_VALUE else [
        x_spec, tf.TensorSpec([None], dtype) if kind == "vjp" else x_spec]
    function = tf.function(core, input_signature=signature, autograph=False)
    with _accumulating(kind, method, how):  # traced now, once
        entry = _COMPILED[key] = (function, function.get_concrete_function())
    while len(_COMPILED) > CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return entry


def _core(tf, kind: str, fn: Function, method: str, n: int, order: int, how: str) -> Callable:
    """The core for ``kind``, as a function of its tensors (x, or x and v): what graph mode
    traces and eager mode calls."""
    cores: dict[str, Callable] = {
        "jacobian": lambda x: _jacobian_core(tf, fn, x, n, method),
        "hessian": lambda x: _hessian_core(tf, fn, x, n, method),
        "derivative": lambda x: _derivative_core(tf, fn, x, order, method),
        "jvp": lambda x, v: _jvp_core(tf, fn, x, v, n),
        "vjp": lambda x, v: _vjp_core(tf, fn, x, v, n),
        "hvp": lambda x, v: _hvp_core(tf, fn, x, v, n, how),
    }
    if kind not in cores:
        raise DiffxError(f"unknown kind {kind!r}; one of {', '.join(cores)}")
    return cores[kind]


@contextlib.contextmanager
def _accumulating(kind: str, method: str, how: str) -> Iterator[None]:
    """Tell the table's TensorFlow forms whether this core runs a ForwardAccumulator
    (tape-forward, every JVP, forward-over-reverse HVPs): tanh and sigmoid then give it forward
    rules that do not cancel where they saturate (elementary._tf_with_table_rule)."""
    token = E.TF_ACCUMULATING.set(method == "tape-forward" or kind == "jvp"
                                  or (kind == "hvp" and how == "forward-over-reverse"))
    try:
        yield
    finally:
        E.TF_ACCUMULATING.reset(token)


def clear_cache() -> None:
    """Forget every compiled graph (the next graph-mode call traces again)."""
    _COMPILED.clear()
    _KERAS_COMPILED.clear()


def _run(kind: str, fn: Function, tensors: Sequence[np.ndarray], method: str, dtype: str,
         mode: str | None, n: int, order: int = 1, how: str = "forward-over-reverse"
         ) -> Any:
    """Run a core eagerly or through its compiled graph; return float64 numpy (for the kinds
    in _WITH_VALUE, the pair (f(x), derivative))."""
    tf = tensorflow()
    _check_dtype(dtype)
    args = [tf.constant(t, dtype=dtype) for t in tensors]
    if _check_mode(mode) == "graph":
        result = _compiled(fn, kind, method, dtype, n, order, how)[1](*args)
    else:
        with _accumulating(kind, method, how):
            result = _core(tf, kind, fn, method, n, order, how)(*args)
    # .numpy() is a fresh array: no second copy for float64. Cores may leave a scalar output
    # unshaped (see _outputs): shapes are set here, free in numpy
    if kind not in _WITH_VALUE:
        return np.asarray(result.numpy(), dtype=float).reshape(-1)
    value = np.asarray(result[0].numpy(), dtype=float).reshape(-1)
    derivative = np.asarray(result[1].numpy(), dtype=float)
    if kind == "jacobian":
        derivative = derivative.reshape(value.size, n)
    return value, derivative


# --------------------------------------------------------------------------------------------
# The three cores diffx.derivative / gradient / jacobian / hessian are written over
# --------------------------------------------------------------------------------------------
def value_and_derivative(kind: str, fn: Function, x: np.ndarray, method: str = "tape",
                         order: int = 1, dtype: str = "float64", mode: str | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """f(x) (shape (m,)) and, from the same run, its ``kind`` of derivative: "jacobian"
    (m, n), "hessian" (n, n) or "derivative" (the ``order``-th, of a function of x[0]).

    The value comes free with every sweep; diffx's bad-point check reads it for callables that
    compute with TensorFlow instead of evaluating them once more (see :mod:`diffx.points`).
    """
    if kind == "derivative":
        value, result = _run(kind, fn, [[float(x[0])]], method, dtype, mode, 1, order)
        return value, result.reshape(())
    return _run(kind, fn, [x], method, dtype, mode, x.size)


def jacobian(fn: Function, x: np.ndarray, method: str = "tape", dtype: str = "float64",
             mode: str | None = None) -> np.ndarray:
    """Jacobian (m, n); for m = 1 this is the gradient, from a single reverse sweep."""
    return value_and_derivative("jacobian", fn, x, method, 1, dtype, mode)[1]


def hessian(fn: Function, x: np.ndarray, method: str = "tape", dtype: str = "float64",
            mode: str | None = None) -> np.ndarray:
    """Hessian (n, n) of a scalar function: nested tapes, or forward-over-reverse."""
    return value_and_derivative("hessian", fn, x, method, 1, dtype, mode)[1]


def derivative(fn: Function, x: float, order: int = 1, method: str = "tape",
               dtype: str = "float64", mode: str | None = None) -> float:
    """The ``order``-th derivative of a scalar function of one variable, by nesting."""
    return float(value_and_derivative("derivative", fn, np.array([float(x)]), method, order,
                                      dtype, mode)[1])


# --------------------------------------------------------------------------------------------
# Products: JVP (forward), VJP (reverse; TensorFlow's sum semantics), Hessian-vector product
# --------------------------------------------------------------------------------------------
def _vector(x: Any, what: str = "the point") -> np.ndarray:
    array = np.atleast_1d(np.asarray(x, dtype=float))
    if array.ndim != 1:
        raise DiffxError(f"{what} must be a number or a 1-D vector, got shape {array.shape}")
    return array


def jvp(f: Any, x: Any, v: Any, *, dtype: str = "float64", mode: str | None = None,
        variables: Sequence[str] | None = None) -> np.ndarray:
    """J(x)·v, shape (m,), from one ``ForwardAccumulator`` pass (forward mode).

    >>> jvp("[x*y, x + y]", [2.0, 3.0], [1.0, 0.0])
    array([3., 1.])
    """
    fn, x, v = as_function(f, variables), _vector(x), _vector(v, "v")
    if v.shape != x.shape:
        raise DiffxError(f"v must have the shape of x, {x.shape}; got {v.shape}")
    return _run("jvp", fn, [x, v], "tape-forward", dtype, mode, x.size)


def vjp(f: Any, x: Any, v: Any = None, *, dtype: str = "float64", mode: str | None = None,
        variables: Sequence[str] | None = None) -> np.ndarray:
    """vᵀ·J(x), shape (n,), from one reverse sweep (``tape.gradient`` with
    ``output_gradients=v``).

    With ``v=None`` this is what ``tape.gradient(y, x)`` returns for a non-scalar target y: the
    gradient of Σᵢ yᵢ (TensorFlow seeds every output with 1), not a Jacobian. Seed 000 shows it
    with ``g.gradient(b, x)`` = 6(x + 2) for b = 3(x + 2)².

    >>> vjp("[x*y, x + y]", [2.0, 3.0])  # ∇(xy + x + y) = (y + 1, x + 1)
    array([4., 3.])
    """
    fn, x = as_function(f, variables), _vector(x)
    if v is None:
        m = int(np.size(fn.numpy_call(x)))
        v = np.ones(m)
    return _run("vjp", fn, [x, _vector(v, "v")], "tape", dtype, mode, x.size)


HVP_STRATEGIES = ("forward-over-reverse", "reverse-over-reverse")


def hvp(f: Any, x: Any, v: Any, *, how: str = "forward-over-reverse", dtype: str = "float64",
        mode: str | None = None, variables: Sequence[str] | None = None) -> np.ndarray:
    """H(x)·v, shape (n,), without forming H: a JVP of the tape gradient (forward-over-reverse,
    one forward and one reverse pass) or the gradient of ∇f·v (reverse-over-reverse).

    >>> hvp("x**2*y", [1.0, 2.0], [1.0, 0.0])  # H = [[2y, 2x], [2x, 0]]
    array([4., 2.])
    """
    if how not in HVP_STRATEGIES:
        raise DiffxError(f"how={how!r}: choose one of {HVP_STRATEGIES}")
    fn, x, v = as_function(f, variables), _vector(x), _vector(v, "v")
    if v.shape != x.shape:
        raise DiffxError(f"v must have the shape of x, {x.shape}; got {v.shape}")
    return _run("hvp", fn, [x, v], "tape", dtype, mode, x.size, how=how)


def batch_jacobian(f: Any, points: Any, *, dtype: str = "float64",
                   variables: Sequence[str] | None = None) -> np.ndarray:
    """Jacobians of F: Rⁿ → Rᵐ at B points at once, shape (B, m, n), by ``tape.batch_jacobian``.

    ``points`` has shape (B, n). F is evaluated once on the whole batch, with variable i bound
    to the column of the B values of coordinate i, so F must act elementwise across the batch
    (every parsed expression does). One tape serves the batch: each output row depends on its
    own point only, which is what lets TensorFlow vectorise the B Jacobians.

    >>> batch_jacobian("[x*y, x + y]", [[1.0, 2.0], [3.0, 4.0]])[1]
    array([[4., 3.],
           [1., 1.]])
    """
    tf = tensorflow()
    fn = as_function(f, variables)
    X = np.asarray(points, dtype=float)
    if X.ndim != 2:
        raise DiffxError(f"points must have shape (B, n), got {X.shape}")
    n = X.shape[1]
    Xt = tf.constant(X, dtype=_check_dtype(dtype))
    with tf.GradientTape() as tape:
        tape.watch(Xt)
        columns = tf.transpose(Xt)  # (n, B): variable i is row i
        parts = [row for part in _parts(fn, _on_tensor(fn, columns, n))  # (m, B): m rows
                 for row in (tf.unstack(part) if part.shape.rank == 2 else [part])]
        Y = tf.stack([tf.broadcast_to(tf.cast(tf.convert_to_tensor(p), Xt.dtype),
                                      [X.shape[0]]) for p in parts], axis=1)  # (B, m)
    return tape.batch_jacobian(Y, Xt, unconnected_gradients=_zero(tf)).numpy().astype(float)


# --------------------------------------------------------------------------------------------
# The GradientTape idioms: persistent tapes, watch semantics, stop_gradient, unconnected
# --------------------------------------------------------------------------------------------
WATCH = ("constant", "variable")
UNCONNECTED = ("zero", "none")


def gradients(f: Any, x: Any, *, watch: str = "constant", stop: Sequence[int | str] = (),
              unconnected: str = "zero", dtype: str = "float64",
              variables: Sequence[str] | None = None) -> list[list[float | None]]:
    """One row per output of f, one entry per variable: ∂fᵢ/∂xⱼ, each output's gradient taken
    from the same ``persistent=True`` tape (m ``tape.gradient`` calls on one recording).

    ``watch="constant"``: each xⱼ is a ``tf.constant`` the tape is told to ``watch`` (as seed
    000 does for x); ``"variable"``: each is a trainable ``tf.Variable``, which tapes watch
    automatically (seed 000's w and b). ``stop``: variables (by index or name) wrapped in
    ``tf.stop_gradient`` before f sees them, so they act as constants. ``unconnected``: what a
    derivative through no path is — ``"zero"`` gives 0.0, ``"none"`` gives None (TensorFlow's
    default, which tells "no path" apart from "a path whose derivative is 0").

    >>> gradients("x*y", [2.0, 3.0], stop=["y"], unconnected="none")
    [[3.0, None]]
    """
    if watch not in WATCH:
        raise DiffxError(f"watch={watch!r}: choose one of {WATCH}")
    if unconnected not in UNCONNECTED:
        raise DiffxError(f"unconnected={unconnected!r}: choose one of {UNCONNECTED}")
    tf = tensorflow()
    fn, x = as_function(f, variables), _vector(x)
    n = x.size
    names = fn.variables or tuple(f"x{i}" for i in range(n))
    stopped = {names.index(s) if isinstance(s, str) else int(s) for s in stop}
    if watch == "variable":
        sources = [tf.Variable(value, dtype=_check_dtype(dtype)) for value in x]
    else:
        sources = [tf.constant(value, dtype=_check_dtype(dtype)) for value in x]
    mode = tf.UnconnectedGradients.ZERO if unconnected == "zero" else \
        tf.UnconnectedGradients.NONE
    with tf.GradientTape(persistent=True) as tape:
        if watch == "constant":
            for source in sources:
                tape.watch(source)
        inputs = [tf.stop_gradient(s) if j in stopped else tf.identity(s)
                  for j, s in enumerate(sources)]
        if isinstance(fn, CallableFunction) and fn.takes_vector:  # one vector argument
            out = _on_tensor(fn, tf.stack(inputs), n)
        elif isinstance(fn, CallableFunction):  # one tensor per variable, each a tape source
            out = fn(*(_arrays.TensorBox(t) for t in inputs))
        else:
            out = fn(*inputs)
        # each output separately: slicing a stacked tensor would connect every output to
        # every input (with gradient 0), hiding which derivatives are truly unconnected
        parts = _parts(fn, out)
        rows = []
        for part in parts:
            tensor = tf.reshape(tf.cast(tf.convert_to_tensor(part), sources[0].dtype), [-1])
            rows.extend(tensor[i] for i in range(int(tensor.shape[0])))
    try:
        return [[None if g is None else float(_dense(tf, g).numpy())
                 for g in tape.gradient(row, sources, unconnected_gradients=mode)]
                for row in rows]
    finally:
        del tape  # a persistent tape holds its resources until it is dropped


def intermediate_gradients(f: Any, x: Any, *, dtype: str = "float64",
                           variables: Sequence[str] | None = None
                           ) -> list[tuple[str, float, float]]:
    """∂f/∂v for every intermediate value v of a parsed scalar expression (seed 001:
    ``tape.gradient(z, [x, y, z])``), as (subexpression, value, derivative) in evaluation order.

    The expression is evaluated node by node in TensorFlow, each node's tensor kept; one
    ``tape.gradient`` of the output with respect to all of them gives the adjoints — the reverse
    sweep's intermediate results, which ``tape.gradient(f, x)`` computes and discards. The last
    row is f itself, with derivative 1.

    >>> [(s, round(d, 6)) for s, _, d in intermediate_gradients("log(c*(a + b))",
    ...                                                          [5.0, 7.3, 0.2])]
    [('a + b', 0.081301), ('c*(a + b)', 0.406504), ('log(c*(a + b))', 1.0)]
    """
    tf = tensorflow()
    fn, x = as_function(f, variables), _vector(x)
    if not isinstance(fn, ParsedFunction) or fn.vector_output:
        raise UnsupportedError("intermediate_gradients needs a parsed scalar expression (a "
                               "string or SymPy expression), whose operations diffx can see")
    symbols = fn.symbols(x.size)
    xt = tf.constant(x, dtype=_check_dtype(dtype))
    recorded: list[tuple[Apply, Any]] = []

    def evaluate(node: Any) -> Any:
        if isinstance(node, Variable):
            return xt[node.index]
        if isinstance(node, Number):
            return tf.constant(node.value, dtype=xt.dtype)
        if isinstance(node, NamedConstant):
            return tf.constant(node.constant.float_value, dtype=xt.dtype)
        value = node.op(*(evaluate(a) for a in node.args))
        if any(_has_variable(a) for a in node.args):
            recorded.append((node, value))
        return value

    with tf.GradientTape() as tape:
        tape.watch(xt)
        evaluate(fn.tree[0])
    if not recorded:
        raise UnsupportedError(f"{fn.name} has no operation on a variable")
    y = recorded[-1][1]
    grads = tape.gradient(y, [value for _, value in recorded],
                          unconnected_gradients=_zero(tf))
    from diffx.functions import to_sympy

    return [(str(to_sympy(node, symbols)), float(value.numpy()), float(g.numpy()))
            for (node, value), g in zip(recorded, grads)]


def _has_variable(node: Any) -> bool:
    if isinstance(node, Variable):
        return True
    return isinstance(node, Apply) and any(_has_variable(a) for a in node.args)


# --------------------------------------------------------------------------------------------
# Keras: the gradient of a model's loss with respect to its trainable weights
# --------------------------------------------------------------------------------------------
_KERAS_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def keras_gradients(model: Any, x: Any, y: Any = None, loss: Callable | None = None, *,
                    mode: str | None = None, unconnected: str = "zero"
                    ) -> tuple[float, list[np.ndarray]]:
    """(loss value, [∂loss/∂w for w in model.trainable_weights]) for a Keras model.

    The seeds' training step: ``with tf.GradientTape() as tape: loss = loss(y, model(x))``,
    then ``tape.gradient(loss, model.trainable_weights)``. ``loss=None`` differentiates the
    model output itself (seed 001's ``tape.gradient(model(x), weights)``). A non-scalar loss (a
    per-sample vector, as ``keras.losses.categorical_crossentropy`` returns) is summed, as
    TensorFlow does — see :func:`vjp`. Computed in the model's own dtype (Keras defaults to
    float32); returned as float64 arrays shaped like the weights. ``mode="graph"`` traces the
    step once per model, loss and input signature.
    """
    if unconnected not in UNCONNECTED:
        raise DiffxError(f"unconnected={unconnected!r}: choose one of {UNCONNECTED}")
    tf = tensorflow()
    weights = list(model.trainable_weights)
    if not weights:
        raise DiffxError("the model has no trainable weights (build it, or call it once)")
    dtype = weights[0].dtype
    xt = tf.constant(np.asarray(x), dtype=dtype)
    yt = None if y is None else tf.constant(np.asarray(y), dtype=dtype)
    which = tf.UnconnectedGradients.ZERO if unconnected == "zero" else \
        tf.UnconnectedGradients.NONE

    def step(xt, yt):
        with tf.GradientTape() as tape:
            out = model(xt)
            value = out if loss is None else loss(yt, out)
        return tf.reduce_sum(value), tape.gradient(value, model.trainable_weights,
                                                   unconnected_gradients=which)

    if _check_mode(mode) == "graph":
        per_model = _KERAS_COMPILED.setdefault(model, {})
        key = (loss, unconnected, y is None)
        if key not in per_model:
            per_model[key] = tf.function(step, autograph=False, reduce_retracing=True)
        value, grads = per_model[key](xt, yt if yt is not None else tf.zeros([0], dtype))
    else:
        value, grads = step(xt, yt)
    return float(value.numpy()), [None if g is None else g.numpy().astype(float)
                                  for g in grads]


def _engine(method: str, description: str) -> Engine:
    def bound(core: Callable) -> Callable:
        return functools.partial(core, method=method)

    return Engine(method, "automatic", description,
                  jacobian=bound(jacobian), derivative=bound(derivative), hessian=bound(hessian),
                  options=frozenset({"dtype", "mode"}), dtypes=DTYPES, modes=MODES,
                  value_and_derivative=bound(value_and_derivative), warm_up=tensorflow,
                  needs_tracing=True)


ENGINES = (_engine("tape", "reverse-mode AD with TensorFlow's GradientTape"),
           _engine("tape-forward", "forward-mode AD with TensorFlow's ForwardAccumulator"))
