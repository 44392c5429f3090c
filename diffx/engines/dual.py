"""Forward-mode automatic differentiation with dual numbers.

A dual number ``a + b·ε`` with ``ε² = 0`` carries a value ``a`` and a tangent ``b``. Evaluating
``f(x + v·ε)`` gives ``f(x) + (f'(x)·v)·ε``: the tangent of the result is the directional
derivative (a Jacobian-vector product). Every operation applies the chain rule from the
elementary table:

    out.value   = op(args.value)
    out.tangent = Σᵢ ∂op/∂argᵢ · argsᵢ.tangent        (partials read from diffx.elementary)

Values and tangents may be numpy arrays (elementwise duals). Each derivative operator gives its
perturbation a fresh ``tag``; when duals with different tags meet, the newer (inner) one is the
outer layer and the older one is treated as a constant. That keeps nested derivatives —
higher orders and Hessians — free of perturbation confusion.

    >>> import diffx
    >>> jvp(lambda x: diffx.sin(x) * x, 0.0, 1.0)
    (0.0, 0.0)
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.functions import Function

__all__ = ["Dual", "derivative", "hessian", "jacobian", "jvp"]

_tags = itertools.count(1)


class Dual:
    """A value and its tangent (same shape), owned by the derivative operator ``tag``."""

    __slots__ = ("tag", "tangent", "value")
    __array_priority__ = 1000  # numpy defers to our operators

    def __init__(self, value: Any, tangent: Any, tag: int = 0):
        self.value = value
        self.tangent = tangent
        self.tag = tag

    # arithmetic: every operator is a row of the elementary table
    def __add__(self, other): return E.add(self, other)
    def __radd__(self, other): return E.add(other, self)
    def __sub__(self, other): return E.subtract(self, other)
    def __rsub__(self, other): return E.subtract(other, self)
    def __mul__(self, other): return E.multiply(self, other)
    def __rmul__(self, other): return E.multiply(other, self)
    def __truediv__(self, other): return E.divide(self, other)
    def __rtruediv__(self, other): return E.divide(other, self)
    def __pow__(self, other): return E.power(self, other)
    def __rpow__(self, other): return E.power(other, self)
    def __neg__(self): return E.negative(self)
    def __pos__(self): return self
    def __abs__(self): return E.abs(self)

    # comparisons look at values only (so branches in user code follow the primal path)
    def __lt__(self, other): return self.value < _primal(other)
    def __le__(self, other): return self.value <= _primal(other)
    def __gt__(self, other): return self.value > _primal(other)
    def __ge__(self, other): return self.value >= _primal(other)

    # array behaviour
    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("a scalar Dual has no len()")
        return len(self.value)

    def __getitem__(self, index) -> Dual:
        return Dual(self.value[index], self.tangent[index], self.tag)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def sum(self, axis=None, dtype=None, out=None, **kwargs) -> Dual:  # np.sum(d) calls d.sum
        if out is not None:
            raise TypeError("Dual.sum does not write into out=")
        return Dual(np.sum(self.value, axis=axis, **kwargs),
                    np.sum(self.tangent, axis=axis, **kwargs), self.tag)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        row = E.row_for_ufunc(ufunc, method, kwargs)
        if row is None:
            return NotImplemented
        return row(*inputs)

    def __float__(self):
        raise TypeError("converting a Dual to float would drop its derivative; "
                        "use diffx functions (diffx.sin, ...) instead of math.*")

    def __repr__(self) -> str:
        return f"Dual({self.value!r}, {self.tangent!r}, tag={self.tag})"


def _primal(x: Any) -> Any:
    while isinstance(x, Dual):
        x = x.value
    return x


def _apply(row: E.Elementary, args: tuple) -> Dual:
    """Push duals through one table row: value by the row, tangent by its partials."""
    tag = max(a.tag for a in args if isinstance(a, Dual))
    values = [a.value if isinstance(a, Dual) and a.tag == tag else a for a in args]
    out = row(*values)
    tangent = 0.0
    for partial, arg in zip(row.partials, args):
        if isinstance(arg, Dual) and arg.tag == tag:
            tangent = tangent + partial(*values, out) * arg.tangent
    return Dual(out, tangent, tag)


E.register_type(Dual, _apply)


def _tangent(out: Any, tag: int) -> Any:
    """The tangent of ``out`` for perturbation ``tag`` (zero when ``out`` does not depend on it)."""
    if isinstance(out, Dual) and out.tag == tag:
        return out.tangent
    return np.zeros_like(_primal(out), dtype=float) if np.ndim(_primal(out)) else 0.0


def _value(out: Any, tag: int) -> Any:
    return out.value if isinstance(out, Dual) and out.tag == tag else out


def _outputs(out: Any) -> list:
    """Flatten a function's output (scalar, list, array of duals, or array-valued dual)."""
    if isinstance(out, Dual):
        return [out] if out.ndim == 0 else [out[i] for i in range(len(out))]
    if isinstance(out, (list, tuple)) or (isinstance(out, np.ndarray) and out.ndim > 0):
        return [item for o in out for item in _outputs(o)]
    return [out]


def _push(fn: Function, x: Any, v: np.ndarray, n: int) -> tuple[list, list]:
    """The core: evaluate ``fn`` at ``x + v·ε`` once; return output values and tangents."""
    tag = next(_tags)
    outs = _outputs(fn.on_vector(Dual(x, v, tag), n))
    return [_value(o, tag) for o in outs], [_tangent(o, tag) for o in outs]


def jvp(f: Any, x: Any, v: Any) -> tuple[Any, Any]:
    """Value and Jacobian-vector product of ``f`` at ``x`` in direction ``v``, in one pass.

    ``x`` and ``v`` are floats or arrays of shape (n,); returns ``(f(x), J(x) @ v)`` with the
    shapes of ``f``'s output.
    """
    from diffx.functions import as_function

    fn = as_function(f)
    x_arr = np.atleast_1d(np.asarray(x, dtype=float))
    v_arr = np.broadcast_to(np.asarray(v, dtype=float), x_arr.shape).copy()
    values, tangents = _push(fn, x_arr, v_arr, x_arr.size)
    if len(values) == 1:
        return _float(values[0]), _float(tangents[0])
    return np.array(values, dtype=float), np.array(tangents, dtype=float)


def _float(x: Any) -> Any:
    return float(x) if np.ndim(x) == 0 and not isinstance(x, Dual) else x


def derivative(fn: Function, x: float, order: int = 1) -> float:
    """The ``order``-th derivative of a scalar function of one variable, by nested duals.

    Each level of nesting gets its own tag, so the cost grows as 2**order operations per
    operation of ``f``; exact to rounding.
    """

    def nth(point: Any, k: int) -> Any:
        if k == 0:
            return _outputs(fn.on_vector([point], 1))[0]
        tag = next(_tags)
        return _tangent(nth(Dual(point, 1.0, tag), k - 1), tag)

    result = nth(x, order)
    # a Dual here carries an outer derivative's perturbation (nested diffx.derivative): keep it
    return result if isinstance(result, Dual) else float(result)


def jacobian(fn: Function, x: np.ndarray) -> np.ndarray:
    """Jacobian (m, n) by n forward passes, one per basis direction."""
    n = x.size
    columns = [_push(fn, x, np.eye(n)[j], n)[1] for j in range(n)]
    return np.array(columns, dtype=float).T


def hessian(fn: Function, x: np.ndarray) -> np.ndarray:
    """Hessian (n, n) of a scalar function, forward-over-forward: H[j, i] = ∂ᵢ ∂ⱼ f."""
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        outer = next(_tags)
        x_outer = Dual(x, np.eye(n)[i], outer)
        for j in range(n):
            _, tangents = _push(fn, x_outer, np.eye(n)[j], n)
            H[j, i] = float(_primal(_tangent(tangents[0], outer)))
    return H
