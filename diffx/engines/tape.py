"""TensorFlow automatic differentiation: reverse mode with ``tf.GradientTape`` ("tape") and forward
mode with ``tf.autodiff.ForwardAccumulator`` ("tape-forward").

TensorFlow is imported on first use only (``import diffx`` stays light). Computations run in
float64 unless ``dtype="float32"`` is asked for (the seeds use float32: about 7 correct digits).

- tape:          gradient by one reverse sweep; Jacobian by ``tape.jacobian``; Hessian by
                 nested tapes; k-th derivative by k nested tapes.
- tape-forward:  Jacobian column by column, one JVP per input direction; Hessian by
                 forward-over-reverse (a JVP of the tape gradient); k-th derivative by k nested
                 accumulators up to k = 3, reverse-over-forward beyond (TF cannot nest deeper).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.errors import UnsupportedError
from diffx.functions import Function

__all__ = ["DTYPES", "derivative", "hessian", "jacobian", "tensorflow"]

DTYPES = ("float64", "float32")
MAX_NESTED_ACCUMULATORS = 3


def tensorflow():
    """Import TensorFlow (quietly) and return the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    global _conversion_registered
    if not _conversion_registered:  # tf.* functions accept Boxed values (see Function)
        tf.register_tensor_conversion_function(E.Boxed, _boxed_to_tensor)
        _conversion_registered = True
    return tf


_conversion_registered = False


def _boxed_to_tensor(value: E.Boxed, dtype: Any = None, name: str | None = None,
                     as_ref: bool = False) -> Any:
    import tensorflow as tf

    return tf.convert_to_tensor(value.value, dtype=dtype, name=name)


def _check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise UnsupportedError(f"dtype {dtype!r} is not supported by the tape engine; "
                               f"use one of {DTYPES}")
    return dtype


def _outputs(tf, fn: Function, x, n: int):
    """Evaluate fn on a tensor and return its outputs as a rank-1 tensor of shape (m,)."""
    out = fn.on_vector(x, n)
    parts = out if isinstance(out, (list, tuple)) else [out]
    tensors = []
    for part in parts:
        if fn.tree is None and isinstance(part, (np.ndarray, np.generic)):
            raise UnsupportedError(
                f"{fn.name} returned a numpy array from TensorFlow input, so the tape lost "
                f"track of it; use diffx.sin, diffx.exp, ... (or tf.math) instead of numpy "
                f"functions")
        tensors.append(tf.reshape(tf.cast(tf.convert_to_tensor(part), x.dtype), [-1]))
    return tf.concat(tensors, axis=0)


def _zero(tf):
    return tf.UnconnectedGradients.ZERO


def jacobian(fn: Function, x: np.ndarray, method: str = "tape",
             dtype: str = "float64") -> np.ndarray:
    """Jacobian (m, n); for m = 1 this is the gradient, from a single reverse sweep."""
    tf = tensorflow()
    xt = tf.constant(x, dtype=_check_dtype(dtype))
    n = x.size
    if method == "tape":
        with tf.GradientTape(persistent=False) as tape:
            tape.watch(xt)
            y = _outputs(tf, fn, xt, n)
        if y.shape[0] == 1:
            J = tape.gradient(y, xt, unconnected_gradients=_zero(tf))[None]
        else:
            J = tape.jacobian(y, xt, unconnected_gradients=_zero(tf))
        return J.numpy().astype(float)
    columns = []
    for j in range(n):
        direction = tf.constant(np.eye(n)[j], dtype=dtype)
        with tf.autodiff.ForwardAccumulator(xt, direction) as accumulator:
            y = _outputs(tf, fn, xt, n)
        jvp = accumulator.jvp(y, unconnected_gradients=_zero(tf))
        columns.append(jvp.numpy())
    return np.array(columns, dtype=float).T


def hessian(fn: Function, x: np.ndarray, method: str = "tape",
            dtype: str = "float64") -> np.ndarray:
    """Hessian (n, n) of a scalar function: nested tapes, or forward-over-reverse."""
    tf = tensorflow()
    xt = tf.constant(x, dtype=_check_dtype(dtype))
    n = x.size

    def gradient():
        with tf.GradientTape() as inner:
            inner.watch(xt)
            y = _outputs(tf, fn, xt, n)
        return inner.gradient(y, xt, unconnected_gradients=_zero(tf))

    if method == "tape":
        with tf.GradientTape() as outer:
            outer.watch(xt)
            g = gradient()
        return outer.jacobian(g, xt, unconnected_gradients=_zero(tf)).numpy().astype(float)
    columns = []
    for j in range(n):
        direction = tf.constant(np.eye(n)[j], dtype=dtype)
        with tf.autodiff.ForwardAccumulator(xt, direction) as accumulator:
            g = gradient()
        columns.append(accumulator.jvp(g, unconnected_gradients=_zero(tf)).numpy())
    return np.array(columns, dtype=float).T


def derivative(fn: Function, x: float, order: int = 1, method: str = "tape",
               dtype: str = "float64") -> float:
    """The ``order``-th derivative of a scalar function of one variable, by nesting."""
    tf = tensorflow()
    xt = tf.constant([float(x)], dtype=_check_dtype(dtype))

    # TensorFlow (2.21) fails inside nested ForwardAccumulators beyond three levels
    # (IndexError, or InternalError when mixed with tapes), so from order 4 on tape-forward
    # keeps one accumulator, innermost, under k - 1 tapes (reverse-over-forward).
    forward_levels = order if order <= MAX_NESTED_ACCUMULATORS else 1

    def nth(k: int) -> Any:
        if k == 0:
            return _outputs(tf, fn, xt, 1)
        if method == "tape" or k > forward_levels:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                inner = nth(k - 1)
            return tape.gradient(inner, xt, unconnected_gradients=_zero(tf))
        with tf.autodiff.ForwardAccumulator(xt, tf.ones_like(xt)) as accumulator:
            inner = nth(k - 1)
        return accumulator.jvp(inner, unconnected_gradients=_zero(tf))

    return float(nth(order).numpy()[0])
