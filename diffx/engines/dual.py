"""Forward-mode automatic differentiation with dual numbers (and Taylor jets for higher orders).

A dual number ``a + b·ε`` with ``ε² = 0`` carries a value ``a`` and a tangent ``b``. Evaluating
``f(x + v·ε)`` gives ``f(x) + (f'(x)·v)·ε``: the tangent of the result is the directional
derivative (a Jacobian-vector product). Every operation applies the chain rule with the partial
derivatives written once, in the elementary table:

    out.value   = op(args.value)
    out.tangent = Σᵢ ∂op/∂argᵢ · argsᵢ.tangent        (partials read from diffx.elementary)

Five ideas on top of that rule make the engine:

1. **numpy-native.** Values and tangents may be numpy arrays. ``np.sin(d)`` goes through
   ``__array_ufunc__`` to the table's row; ``np.sum``, ``np.dot``, ``np.where``, ``np.maximum``,
   ``np.stack``, ``np.reshape`` … go through ``__array_function__`` to the small rules below
   (linear functions act on value and tangent alike). Anything else raises UnsupportedError.
2. **Chunks of directions.** A tangent may carry k directions at once: its shape is then
   ``(k, *value.shape)`` (the dual is *chunked*). One pass gives k columns of a Jacobian, so an
   n-gradient costs ⌈n/k⌉ passes. The chunk axis always comes first; rules shift axes by one.
3. **Tags.** Each derivative operator gives its perturbation a fresh ``tag``. When duals with
   different tags meet, the newest (innermost) is the outer layer and older ones are constants
   to it, so nested derivatives never confuse their perturbations.
4. **Jets for higher orders.** ``derivative(order=k)`` pushes a truncated Taylor series
   ``x + t`` (a :class:`Jet`) through ``f``: the k-th coefficient of ``f(x + t)`` is f⁽ᵏ⁾(x)/k!.
   Nested duals would cost 2ᵏ (each nesting doubles the components); a jet costs O(k³)
   and uses the same first-order partials: if y = op(u) then y' = Σ ∂op/∂uᵢ · uᵢ', i.e.

       k·y[k] = Σᵢ Σⱼ j·uᵢ[j]·pᵢ[k-j]       with pᵢ = ∂op/∂uᵢ evaluated on jets,

   which needs pᵢ only to order k-1 — so coefficients are computed on demand, one at a time.
5. **Blocks for long vectors.** ``jvp`` of a callable at a vector of BLOCKED_FROM_ELEMENTS
   points or more runs f once, on the first block only, as a *probe*: every operation f applies to
   the block or to a result made from it is recorded. If each was elementwise (a row of the
   table, a composed ufunc, np.maximum / np.minimum; other arguments only real numbers) and
   f's result is one of those results, or np.sum / np.mean of one, the recorded operations
   are replayed on the other blocks, whose intermediates stay in cache (on 10⁶ points: up to
   2x faster, a third of the peak memory). An elementwise result is bitwise the whole-array
   one (and warns alike). A sum or mean adds the blocks' sums exactly (math.fsum); in each
   block the summed operation's tangent (and a product's value) is summed as it is made, by
   dots over rows of 256 points, never stored: it differs from numpy's whole-array sum by
   rounding only (under 3e-14·Σ|term| with any BLAS; numpy's pairwise sum: 3e-15).
   Anything else — indexing, shape, len, comparisons, truth values, ``.value``, other numpy
   functions, array constants, another derivative's duals, np.errstate or warning filters
   changed inside f — stops the probe, and f runs on the whole array as before; the callable
   is remembered and not probed again. So f is called once per jvp (twice on the first call
   of a callable the probe refuses), and during the probe its argument is a Dual subclass
   (``isinstance`` holds, ``type(x) is Dual`` does not).

Kinks follow one convention: at a point where the one-sided derivatives differ, the derivative
is the value *between them closest to zero* (the minimum-norm subgradient). That is the
table's abs'(0) = relu'(0) = 0 (as in TensorFlow, PyTorch and JAX), and it makes
``np.maximum(x, 0)`` agree with ``relu`` and ``np.maximum(x, -x)`` with ``abs``; a tie of
``np.maximum``/``np.minimum`` with different tangents warns (NonDifferentiableWarning).

    >>> import diffx
    >>> jvp(lambda x: diffx.sin(x) * x, 0.0, 1.0)
    (0.0, 0.0)
    >>> jvp(lambda x: np.sum(x**2), np.array([1.0, 2.0]), np.eye(2))   # two directions at once
    (5.0, array([2., 4.]))
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import math
import operator
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.errors import DiffxError, DomainWarning, NonDifferentiableWarning, UnsupportedError
from diffx.functions import Apply, Function, NamedConstant, Number, Variable
from diffx.points import all_finite

__all__ = ["BLOCKED_FROM_ELEMENTS", "BLOCK_ELEMENTS", "CHUNK_ELEMENTS", "REDUCTION_BLOCK_ELEMENTS",
           "Dual", "Jet", "derivative", "gradient", "hessian", "jacobian", "jvp"]

_tags = itertools.count(1)

# Default chunk size for callables: k directions of an n-vector use k·n floats per intermediate.
CHUNK_ELEMENTS = 2**18


def _ndim(x: Any) -> int:
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def _is_two(x: Any) -> bool:
    return type(x) in (int, float) and x == 2


def _primal(x: Any) -> Any:
    """The plain number under any layers of duals and jets."""
    while isinstance(x, (Dual, Jet)):
        x = x.value
    return x


# ============================================================================================
# The dual number
# ============================================================================================
class Dual(E.TableArithmetic):
    """A value and its tangent, owned by the derivative operator ``tag``.

    The tangent has the value's shape (one direction) or ``(k, *value.shape)`` (k directions).
    """

    __slots__ = ("tag", "tangent", "value")

    def __init__(self, value: Any, tangent: Any, tag: int = 0):
        self.value = value
        self.tangent = tangent
        self.tag = tag

    # arithmetic: E.TableArithmetic (every operator is a row of the elementary table), plus
    def __pow__(self, other):  # x**2 as x·x: the same numbers, without a general pow
        return E.multiply(self, self) if _is_two(other) else E.power(self, other)
    def __matmul__(self, other): return _matmul(self, other)
    def __rmatmul__(self, other): return _matmul(other, self)

    # comparisons look at values only (so branches in user code follow the primal path)
    def __lt__(self, other): return _primal(self) < _primal(other)
    def __le__(self, other): return _primal(self) <= _primal(other)
    def __gt__(self, other): return _primal(self) > _primal(other)
    def __ge__(self, other): return _primal(self) >= _primal(other)
    def __bool__(self): return bool(_primal(self))

    # array behaviour: shape and indexing are the value's; the chunk axis stays in front
    @property
    def shape(self) -> tuple:
        return np.shape(_primal(self))

    @property
    def ndim(self) -> int:
        return _ndim(self.value)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def chunked(self) -> bool:
        """Does the tangent carry several directions (an extra leading axis)?"""
        return _ndim(self.tangent) > _ndim(self.value)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("a scalar Dual has no len()")
        return len(self.value)

    def __getitem__(self, index) -> Dual:
        tangent_index = index
        if self.chunked:  # keep all k directions
            tangent_index = (slice(None), *index) if isinstance(index, tuple) else (
                slice(None), index)
        return Dual(self.value[index], self.tangent[tangent_index], self.tag)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def T(self) -> Dual:  # numpy's name for the transpose
        return _transpose(self)

    def sum(self, axis=None, keepdims=False) -> Dual: return _sum(self, axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False) -> Dual: return _mean(self, axis, keepdims=keepdims)
    def reshape(self, *shape) -> Dual: return _reshape(self, shape[0] if len(shape) == 1 else shape)
    def ravel(self) -> Dual: return _reshape(self, (-1,))
    def transpose(self, *axes) -> Dual:
        return _transpose(self, axes[0] if len(axes) == 1 else (axes or None))
    def dot(self, other) -> Dual: return _dot(self, other)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        rule = ARRAY_FUNCTIONS.get(func)
        if rule is None:
            raise UnsupportedError(
                f"numpy.{func.__name__} has no rule for dual numbers; supported numpy functions: "
                f"{', '.join(sorted(f.__name__ for f in ARRAY_FUNCTIONS))}; ufuncs: those of "
                f"diffx's elementary table, maximum, minimum, matmul and comparisons")
        return rule(*args, **kwargs)

    def __float__(self):
        raise TypeError("converting a Dual to float would drop its derivative; "
                        "use diffx functions (diffx.sin, ...) or numpy instead of math.*")

    def __repr__(self) -> str:
        return f"Dual({self.value!r}, {self.tangent!r}, tag={self.tag})"


# ============================================================================================
# The chain rule, for every row of the table
# ============================================================================================
def _apply(row: E.Elementary, args: tuple) -> Any:
    """The table calls this for an operation on duals or jets: the newest tag owns the result."""
    if type(args[0]) is _Probe or type(args[-1]) is _Probe:  # f is being probed (see jvp)
        return _record(args, functools.partial(_apply_rule, row))
    return _apply_rule(row, args)


def _apply_rule(row: E.Elementary, args: tuple) -> Any:
    owner = _owner(args)
    if isinstance(owner, Dual):
        return _dual_rule(row, args, owner.tag)
    return _jet_rule(row, args, owner.tag)


def _is_float(v: Any) -> bool:
    """A value that the table's dispatch sends to the row's numpy form unchanged."""
    return type(v) is float or (type(v) is np.ndarray and v.dtype == np.float64)


def _owner(args: tuple) -> Dual | Jet:
    """The dual or jet with the newest tag among ``args`` (the first of them)."""
    owner = None
    for a in args:
        if isinstance(a, (Dual, Jet)) and (owner is None or a.tag > owner.tag):
            owner = a
    return owner


def _dual_rule(row: E.Elementary, args: tuple, tag: int, out: Any = None,
               into: tuple[np.ndarray, np.ndarray] | None = None) -> Dual:
    """Push duals through one table row: value by the row (or ``out``, when the caller has
    it), tangent by the row's partials. ``into`` (only from jvp's blocks, all float arrays):
    arrays for the last pass of the value and of the tangent to write into."""
    values = [a.value if isinstance(a, Dual) and a.tag == tag else a for a in args]
    if out is None:
        out = _row_value(row, values, None if into is None else into[0])
    ours = [i for i, a in enumerate(args) if isinstance(a, Dual) and a.tag == tag]
    doubled = row is E.multiply and args[0] is args[1]  # u·u: both terms are one product u·t
    if doubled:
        ours = ours[:1]
    last = None if into is None else into[1]  # where the tangent's last pass may write
    tangent, owned = None, False
    for k, i in enumerate(ours):
        final = k == len(ours) - 1 and not doubled
        term, term_owned = _times(row.partials[i](*values, out), _aligned(args[i], _ndim(out)),
                                  values, out, last if final and tangent is None else None)
        if tangent is None:
            tangent, owned = term, term_owned
        elif final and last is not None:
            tangent = np.add(tangent, term, out=last)
        elif owned and np.shape(term) == tangent.shape:
            tangent += term  # an array made here: add in place
        else:
            tangent = tangent + term
            owned = type(tangent) is np.ndarray
    if doubled:  # t·u + u·t, exactly
        tangent = np.add(tangent, tangent, out=last if last is not None else tangent) \
            if owned or last is not None else tangent + tangent
    return Dual(out, tangent, tag)


def _row_value(row: E.Elementary, values: list, into: np.ndarray | None = None) -> Any:
    """The row on the arguments' values: its numpy form without dispatch when they are plain
    floats (written into ``into``, when given and the form is a ufunc)."""
    if not all(map(_is_float, values)):
        return row(*values)
    if into is not None and type(row.numpy) is np.ufunc:
        return row.numpy(*values, out=into)
    return row.numpy(*values)


def _times(partial: Any, tangent: Any, values: list, out: Any,
           into: np.ndarray | None = None) -> tuple[Any, bool]:
    """partial · tangent, and whether the result is a new ndarray that this rule may update.

    Large arrays make a pass memory-bound, so two shortcuts save allocations: a partial of
    exactly 1.0 passes the tangent through, and a partial that is a new array of the full
    shape (cos(x), 1/x — not ``out`` or an argument) is multiplied in place. ``into``: an
    array to write the product into instead.
    """
    if type(partial) is float and partial == 1.0:
        return tangent, False
    if into is not None:
        return np.multiply(partial, tangent, out=into), False
    if (type(partial) is np.ndarray and type(tangent) is np.ndarray and partial.base is None
            and partial is not out and all(partial is not v for v in values)
            and (partial.shape == tangent.shape
                 or partial.shape == np.broadcast_shapes(partial.shape, tangent.shape))):
        return np.multiply(partial, tangent, out=partial), True
    product = partial * tangent
    return product, type(product) is np.ndarray


def _aligned(d: Dual, ndim: int) -> Any:
    """``d``'s tangent, ready to broadcast against a result with ``ndim`` dimensions: when an
    operation broadcasts d up, a chunked tangent gets unit axes after its chunk axis."""
    tangent, extra = d.tangent, ndim - _ndim(d.value)
    if extra > 0 and _ndim(tangent) > _ndim(d.value):
        tangent = tangent.reshape(tangent.shape[:1] + (1,) * extra + tangent.shape[1:])
    return tangent


# ============================================================================================
# numpy ufuncs: table rows (every ufunc with a derivative, E.ROW_OF_UFUNC), comparisons
# ============================================================================================
# ufuncs that look at values only (their result has no derivative)
PRIMAL_ONLY = frozenset({np.greater, np.greater_equal, np.less, np.less_equal, np.equal,
                         np.not_equal, np.isfinite, np.isnan, np.isinf, np.signbit})


def _ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    if method == "__call__" and not kwargs:
        row = E.ROW_OF_UFUNC.get(ufunc)
        if row is not None:
            return row(*inputs)
        if ufunc in PRIMAL_ONLY:
            return ufunc(*(_primal(x) for x in inputs))
        if ufunc is np.maximum or ufunc is np.minimum:
            return _extremum(*inputs, largest=ufunc is np.maximum)
        if ufunc is np.matmul:
            return _matmul(*inputs)
    name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
    raise UnsupportedError(
        f"numpy.{name}{' with ' + ', '.join(kwargs) + '=' if kwargs else ''} has no rule for "
        f"dual numbers (it is not in diffx's elementary table); use the table's functions "
        f"({', '.join(E.FUNCTIONS)}) and + - * / **")


def _extremum(a: Any, b: Any, largest: bool) -> Dual:
    """np.maximum / np.minimum: the tangent of the winner; at a tie the value between the two
    tangents closest to zero (the module's kink convention)."""
    tag, (va, vb), (ta, tb), _ = _split((a, b))
    value = np.maximum(va, vb) if largest else np.minimum(va, vb)
    pa, pb = _primal(va), _primal(vb)
    a_wins = pa > pb if largest else pa < pb
    tie = pa == pb
    tangent = np.where(a_wins, ta, tb)
    if np.any(tie):
        low, high = np.minimum(ta, tb), np.maximum(ta, tb)
        between = np.maximum(low, np.minimum(high, 0.0))  # the median of (ta, tb, 0)
        tangent = np.where(tie, between, tangent)
        if np.any(tie & (_primal(ta) != _primal(tb))):
            _warn(NonDifferentiableWarning(
                f"numpy.{'maximum' if largest else 'minimum'} at a tie of arguments with "
                f"different derivatives: not differentiable there; using the derivative "
                f"between the one-sided ones closest to zero"))
    return Dual(value, tangent, tag)


def _split(items: tuple) -> tuple[int, list, list, tuple]:
    """For a rule with several array arguments: the newest tag, the values and the tangents
    (aligned to the broadcast result; zeros for constants), and the chunk prefix ``(k,)``."""
    duals = [x for x in items if isinstance(x, Dual)]
    tag = max(d.tag for d in duals)
    ours = [x for x in duals if x.tag == tag]
    lead = tuple(np.shape(_primal(ours[0].tangent)))[:1] if ours[0].chunked else ()
    values = [x.value if isinstance(x, Dual) and x.tag == tag else x for x in items]
    ndim = max(np.ndim(_primal(v)) for v in values)
    zero = np.zeros(lead + (1,) * ndim) if lead else 0.0  # broadcasts like any tangent
    tangents = [_aligned(x, ndim) if isinstance(x, Dual) and x.tag == tag else zero
                for x in items]
    return tag, values, tangents, lead


# ============================================================================================
# numpy array functions
# ============================================================================================
def _tangent_axis(axis: Any, ndim: int, chunked: bool) -> Any:
    """The tangent's axis for a value axis (the chunk axis, if any, comes first)."""
    if not chunked:
        return axis
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(_tangent_axis(a, ndim, True) for a in axis)
    return axis + 1 if axis >= 0 else axis


def _linear_reduction(func: Callable) -> Callable:
    """sum, mean: linear, so the same reduction of the tangent (over the shifted axes)."""
    def rule(x, axis=None, dtype=None, out=None, keepdims=False, **unsupported):
        if not isinstance(x, Dual):
            return func(x, axis=axis, keepdims=keepdims)
        if out is not None or unsupported:
            raise UnsupportedError(f"numpy.{func.__name__} on dual numbers takes axis= and "
                                   f"keepdims= only")
        axis_t = _tangent_axis(axis, x.ndim, x.chunked)
        return Dual(func(x.value, axis=axis, keepdims=keepdims),
                    func(x.tangent, axis=axis_t, keepdims=keepdims), x.tag)
    rule.__name__ = func.__name__
    return rule


_sum = _linear_reduction(np.sum)
_mean = _linear_reduction(np.mean)


def _cumsum(x: Dual, axis=None, dtype=None, out=None) -> Dual:
    if axis is None:
        x, axis = _reshape(x, (-1,)), 0
    return Dual(np.cumsum(x.value, axis=axis), np.cumsum(
        x.tangent, axis=_tangent_axis(axis, x.ndim, x.chunked)), x.tag)


def _reshape(x: Dual, shape: Any, order: str = "C", **kwargs) -> Dual:
    """Reshapes keep the chunk axis in front; everything after it is reshaped like the value."""
    if order != "C" or kwargs:
        raise UnsupportedError("numpy.reshape on dual numbers supports order='C' only")
    value = np.reshape(x.value, shape)
    lead = np.shape(_primal(x.tangent))[:1] if x.chunked else ()
    return Dual(value, np.reshape(x.tangent, lead + np.shape(_primal(value))), x.tag)


def _shape_only(func: Callable) -> Callable:
    """squeeze, expand_dims, atleast_1d, …: the value's new shape, tangent reshaped to match."""
    def rule(x, *args, **kwargs):
        if not isinstance(x, Dual):
            return func(x, *args, **kwargs)
        return _reshape(x, np.shape(func(_primal(x), *args, **kwargs)))
    rule.__name__ = func.__name__
    return rule


def _transpose(x: Dual, axes: Any = None) -> Dual:
    value = np.transpose(x.value, axes)
    if x.chunked:
        d = x.ndim
        order = tuple(reversed(range(d))) if axes is None else tuple(a % d for a in axes)
        return Dual(value, np.transpose(x.tangent, (0, *(a + 1 for a in order))), x.tag)
    return Dual(value, np.transpose(x.tangent, axes), x.tag)


def _broadcast_to(x: Dual, shape: Any, subok: bool = False) -> Dual:
    value = np.broadcast_to(x.value, shape)
    lead = np.shape(_primal(x.tangent))[:1] if x.chunked else ()
    return Dual(value, np.broadcast_to(_aligned(x, np.ndim(_primal(value))),
                                       lead + tuple(np.shape(_primal(value)))),
                x.tag)


def _join(func: Callable) -> Callable:
    """concatenate and stack: value and tangent joined alike (zeros for constant pieces)."""
    def rule(arrays, axis=0, out=None, **kwargs):
        if out is not None or kwargs:
            raise UnsupportedError(f"numpy.{func.__name__} on dual numbers takes axis= only")
        if axis is None:
            return rule([_reshape(a, (-1,)) if isinstance(a, Dual) else np.ravel(a)
                         for a in arrays], axis=0)
        tag, values, _, lead = _split(tuple(arrays)) if _has_dual(arrays) else (0, [], [], ())
        if not tag:
            return func(arrays, axis=axis)
        tangents = [a.tangent if isinstance(a, Dual) and a.tag == tag
                    else np.zeros(lead + np.shape(_primal(v))) for a, v in zip(arrays, values)]
        axis_t = axis + 1 if lead and axis >= 0 else axis
        return Dual(func(values, axis=axis), func(tangents, axis=axis_t), tag)
    rule.__name__ = func.__name__
    return rule


def _has_dual(items: Any) -> bool:
    return any(isinstance(x, Dual) for x in items)


_concatenate = _join(np.concatenate)
_stack = _join(np.stack)


def _hstack(arrays, **kwargs) -> Dual:
    arrays = [_shape_only(np.atleast_1d)(a) for a in arrays]
    return _concatenate(arrays, axis=0 if np.ndim(_primal(arrays[0])) == 1 else 1)


def _vstack(arrays, **kwargs) -> Dual:
    return _concatenate([_shape_only(np.atleast_2d)(a) for a in arrays], axis=0)


def _where(condition: Any, a: Any = None, b: Any = None) -> Any:
    """np.where(c, a, b): the tangent of the chosen branch (c is read from primal values)."""
    if a is None and b is None:
        return np.where(_primal(condition))
    condition = _primal(condition)
    if not _has_dual((a, b)):
        return np.where(condition, a, b)
    tag, (va, vb), (ta, tb), _ = _split((a, b))
    return Dual(np.where(condition, va, vb), np.where(condition, ta, tb), tag)


def _clip(x: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **kwargs) -> Any:
    """clip = minimum(maximum(x, low), high): at the bounds, the kink convention applies."""
    if out is not None or kwargs:
        raise UnsupportedError("numpy.clip on dual numbers takes a_min and a_max only")
    if a_min is not None:
        x = np.maximum(x, a_min)
    return x if a_max is None else np.minimum(x, a_max)


def _matmul(a: Any, b: Any) -> Any:
    """a @ b for vectors and matrices: d(ab) = da·b + a·db (bilinear)."""
    if not _has_dual((a, b)):
        return np.matmul(a, b)
    if max(np.ndim(_primal(a)), np.ndim(_primal(b))) > 2:
        raise UnsupportedError("matmul/dot of dual numbers supports vectors and matrices "
                               "(ndim <= 2) only")
    tag = max(x.tag for x in (a, b) if isinstance(x, Dual))
    va, vb = (x.value if isinstance(x, Dual) and x.tag == tag else x for x in (a, b))
    tangent = None
    if isinstance(a, Dual) and a.tag == tag:
        tangent = a.tangent @ vb  # a chunk axis in front acts as extra rows or a batch axis
    if isinstance(b, Dual) and b.tag == tag:
        tb = b.tangent
        term = (va @ tb.T).T if b.chunked and b.ndim == 1 else va @ tb
        tangent = term if tangent is None else tangent + term
    return Dual(va @ vb, tangent, tag)


def _dot(a: Any, b: Any, out: Any = None) -> Any:
    if out is not None:
        raise UnsupportedError("numpy.dot on dual numbers does not write into out=")
    if np.ndim(_primal(a)) == 0 or np.ndim(_primal(b)) == 0:
        return a * b
    return _matmul(a, b)


def _constant_like(func: Callable) -> Callable:
    """zeros_like and friends: constants shaped like the value."""
    def rule(x, *args, **kwargs):
        return func(_primal(x), *args, **kwargs)
    rule.__name__ = func.__name__
    return rule


ARRAY_FUNCTIONS: dict[Callable, Callable] = {
    np.sum: _sum, np.mean: _mean, np.cumsum: _cumsum,
    np.dot: _dot, np.where: _where, np.clip: _clip,
    np.concatenate: _concatenate, np.stack: _stack, np.hstack: _hstack, np.vstack: _vstack,
    np.reshape: _reshape, np.ravel: lambda x, order="C": _reshape(x, (-1,), order),
    np.transpose: _transpose, np.broadcast_to: _broadcast_to,
    np.squeeze: _shape_only(np.squeeze), np.expand_dims: _shape_only(np.expand_dims),
    np.atleast_1d: _shape_only(np.atleast_1d), np.atleast_2d: _shape_only(np.atleast_2d),
    np.real: lambda x: x,  # dual and jet parts are real
    np.copy: lambda x, **kw: Dual(np.copy(x.value), np.copy(x.tangent), x.tag),
    np.shape: lambda x: x.shape, np.ndim: lambda x: x.ndim, np.size: lambda x, axis=None: (
        x.size if axis is None else x.shape[axis]),
    np.zeros_like: _constant_like(np.zeros_like), np.ones_like: _constant_like(np.ones_like),
    np.full_like: _constant_like(np.full_like), np.empty_like: _constant_like(np.empty_like),
}


# ============================================================================================
# Jets: truncated Taylor series for higher derivatives
# ============================================================================================
class Jet(E.TableArithmetic):
    """Taylor coefficients u[0] + u[1]·t + u[2]·t² + … of one scalar, computed on demand.

    ``coefficient(k)`` is u⁽ᵏ⁾(0)/k!. A jet made by an operation knows how to compute its next
    coefficient from those before (``rule``); a seed jet lists its coefficients (then zeros).
    """

    __slots__ = ("coefficients", "rule", "tag")

    def __init__(self, coefficients: list, tag: int, rule: Callable[[int], Any] | None = None):
        self.coefficients = list(coefficients)
        self.tag = tag
        self.rule = rule

    def coefficient(self, k: int) -> Any:
        while len(self.coefficients) <= k:
            n = len(self.coefficients)
            self.coefficients.append(self.rule(n) if self.rule is not None else 0.0)
        return self.coefficients[k]

    @property
    def value(self) -> Any:
        return self.coefficient(0)

    __pow__ = Dual.__pow__
    __lt__, __le__, __gt__, __ge__ = Dual.__lt__, Dual.__le__, Dual.__gt__, Dual.__ge__
    __bool__, __float__ = Dual.__bool__, Dual.__float__
    ndim = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc in (np.maximum, np.minimum, np.matmul):
            raise UnsupportedError(f"numpy.{ufunc.__name__} has no rule for higher-order "
                                   f"derivatives (order >= 2 runs on Taylor jets, elementwise)")
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func is np.real:
            return args[0]
        raise UnsupportedError(
            f"numpy.{func.__name__} has no rule for higher-order derivatives: order >= 2 runs "
            f"on Taylor jets of a scalar, which support elementwise functions only")

    def __repr__(self) -> str:
        return f"Jet({self.coefficients!r}{', ...' if self.rule else ''}, tag={self.tag})"


def _coefficient(x: Any, k: int, tag: int) -> Any:
    """Coefficient k of ``x`` as a series in this tag's t (a constant has only x[0])."""
    if isinstance(x, Jet) and x.tag == tag:
        return x.coefficient(k)
    return x if k == 0 else 0.0


def _jet_rule(row: E.Elementary, args: tuple, tag: int) -> Jet:
    """y = row(u₁, …): y[0] = row(u[0]); k·y[k] = Σᵢ Σⱼ j·uᵢ[j]·pᵢ[k-j], pᵢ = ∂row/∂uᵢ(u, y)."""
    ours = [isinstance(a, Jet) and a.tag == tag for a in args]
    y = Jet([row(*(_coefficient(a, 0, tag) for a in args))], tag)
    partials: list = []  # the partials as jets, built at first use (they may refer to y itself)

    def next_coefficient(k: int) -> Any:
        if not partials:
            partials.extend(row.partials[i](*args, y) if mine else None
                            for i, mine in enumerate(ours))
        total = 0.0
        for u, p, mine in zip(args, partials, ours):
            if mine:
                for j in range(1, k + 1):
                    total = total + j * u.coefficient(j) * _coefficient(p, k - j, tag)
        return total / k

    y.rule = next_coefficient
    return y


E.register_type(Dual, _apply)
E.register_type(Jet, _apply)

# numpy applies a ufunc to an object array (say np.array([d1, d2])) by calling each element's
# method of the ufunc's name: np.sin(array_of_duals) calls d.sin() for each element
for _row in E.FUNCTIONS.values():
    if isinstance(_row.numpy, np.ufunc) and _row.arity == 1:
        setattr(Dual, _row.numpy.__name__, lambda self, row=_row: row(self))


# ============================================================================================
# The cores: push a block of directions through f; everything else is built on it
# ============================================================================================
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
        return [out] if out.ndim == 0 else [item for o in out for item in _outputs(o)]
    if isinstance(out, (list, tuple)) or (isinstance(out, np.ndarray) and out.ndim > 0):
        return [item for o in out for item in _outputs(o)]
    return [out]


class _NotChunkable(Exception):
    """f built duals by hand assuming one direction per pass (a tangent shaped like its value)."""


def _push(fn: Function, x: Any, directions: np.ndarray) -> tuple[list, list]:
    """The core: evaluate ``fn`` once at ``x + Σ directions[i]·εᵢ``; return the outputs' values
    and tangents (each tangent has shape (k,) for a block of k directions, () for one)."""
    tag = next(_tags)
    out = fn.on_vector(Dual(x, directions, tag), np.size(_primal(x)))
    lead = directions.shape[:1] if directions.ndim > np.ndim(_primal(x)) else ()
    if isinstance(out, Dual) and out.tag == tag and out.ndim > 0 \
            and not isinstance(out.value, (Dual, Jet)):  # one array output: no per-item duals
        if np.shape(out.tangent) != lead + out.shape:
            raise _NotChunkable
        tangents = np.reshape(out.tangent, (*lead, out.size))
        return list(np.ravel(out.value)), list(np.moveaxis(tangents, -1, 0))
    outs = _outputs(out)
    tangents = []
    for o in outs:
        t = _tangent(o, tag) if isinstance(o, Dual) and o.tag == tag else np.zeros(lead)
        if np.shape(_primal(t)) != lead:
            raise _NotChunkable
        tangents.append(t)
    return [_value(o, tag) for o in outs], tangents


def chunk_size(fn: Function, n: int, chunk: int | None = None, nested: bool = False) -> int:
    """Directions per pass: ``chunk`` if given; else all n for parsed functions (their
    variables are scalars), and for callables as many as keep the k·n floats of an intermediate
    (k²·n when ``nested``, for Hessians) within CHUNK_ELEMENTS."""
    if chunk is not None:
        if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
            raise DiffxError(f"chunk must be a positive integer, got {chunk!r}")
        return int(min(chunk, n))
    if fn.tree is not None:
        return n
    k = CHUNK_ELEMENTS // max(n, 1)
    return max(1, min(n, math.isqrt(k) if nested else k))


def _blocks(n: int, k: int | None) -> list[tuple[slice, np.ndarray]]:
    """Basis directions in blocks of k (shape (k, n)); k=None: one direction (n,) at a time."""
    identity = np.eye(n)
    if k is None:
        return [(slice(j, j + 1), identity[j]) for j in range(n)]
    return [(slice(j, min(j + k, n)), identity[j:j + k]) for j in range(0, n, k)]


def jacobian(fn: Function, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """Jacobian (m, n) in ⌈n/k⌉ forward passes, each carrying k basis directions."""
    try:
        return _jacobian(fn, x, chunk_size(fn, x.size, chunk))
    except (_NotChunkable, ValueError, TypeError, IndexError):
        # a callable that handles Dual tangents itself (Dual(v.value.sum(), v.tangent.sum())):
        # give it what it expects, one direction per pass (an error of its own recurs here)
        return _jacobian(fn, x, None)


def _jacobian(fn: Function, x: np.ndarray, k: int | None) -> np.ndarray:
    columns = [np.array(_push(fn, x, directions)[1], dtype=float).reshape(-1, block.stop -
                                                                             block.start)
               for block, directions in _blocks(x.size, k)]
    return np.hstack(columns)


def gradient(fn: Function, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """Gradient (n,) of a scalar function: the one row of its Jacobian."""
    J = jacobian(fn, x, chunk)
    if J.shape[0] != 1:
        raise DiffxError(f"gradient needs a scalar function; {fn.name} has {J.shape[0]} "
                         f"outputs (use jacobian)")
    return J[0]


def hessian(fn: Function, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """Hessian (n, n), forward over forward: an outer dual (directions eᵢ) under an inner dual
    (directions eⱼ); the outer tangent of the inner tangent is ∂ᵢ∂ⱼ f. ⌈n/k⌉² passes."""
    try:
        return _hessian(fn, x, chunk_size(fn, x.size, chunk, nested=True))
    except (_NotChunkable, ValueError, TypeError, IndexError):
        return _hessian(fn, x, None)


def _hessian(fn: Function, x: np.ndarray, k: int | None) -> np.ndarray:
    n = x.size
    H = np.zeros((n, n))
    for rows, outer_directions in _blocks(n, k):
        outer_tag = next(_tags)
        x_outer = Dual(x, outer_directions, outer_tag)
        for columns, inner_directions in _blocks(n, k):
            _, tangents = _push(fn, x_outer, inner_directions)
            if len(tangents) != 1:
                raise DiffxError(f"hessian needs a scalar function; {fn.name} has "
                                 f"{len(tangents)} outputs")
            inner = tangents[0]  # ∂f/∂xⱼ for this block, a dual in the outer directions
            if isinstance(inner, Dual) and inner.tag == outer_tag:
                H[rows, columns] = np.reshape(inner.tangent, (rows.stop - rows.start,
                                                              columns.stop - columns.start))
    return H


def jvp(f: Any, x: Any, v: Any) -> tuple[Any, Any]:
    """Value and Jacobian-vector product of ``f`` at ``x`` in direction ``v``, in one pass.

    ``x`` is a float or an array; ``v`` has x's shape (one direction, broadcast if needed) or
    one more leading axis (k directions at once). Returns ``(f(x), J(x)·v)``; the tangent has
    the output's shape, with the k axis in front for a block of directions. An elementwise
    callable on a long vector is evaluated block by block (module docstring, 5.).

    >>> jvp("x*y", [1.0, 2.0], [3.0, -1.0])
    (2.0, 5.0)
    """
    from diffx.functions import as_function

    fn = as_function(f)
    if isinstance(x, (Dual, Jet)):  # a point that is itself a perturbed number (nesting)
        point, direction = x, v
    else:
        point = np.atleast_1d(np.asarray(x, dtype=float))
        direction = np.asarray(v, dtype=float)
        if direction.ndim == np.ndim(x) + 1 and direction.ndim > 0:  # a block of directions
            direction = direction.reshape(direction.shape[:1] + point.shape)
        elif direction.shape != point.shape:
            direction = np.broadcast_to(direction, point.shape).copy()
    tag = next(_tags)
    with np.errstate(all="ignore"):
        blocked = _by_blocks(fn, point, direction, tag)
        if blocked is None:
            out = fn.on_vector(Dual(point, direction, tag), np.size(_primal(point)))
    if blocked is not None:
        value, tangent, finite = blocked
    else:
        value, tangent = _value_and_tangent(out, tag, direction, point)
        finite = all_finite(_primal(value)) and all_finite(_primal(tangent))
    if not finite:
        warnings.warn(DomainWarning(
            f"jvp of {fn.name}: the value or the tangent is not finite (a point outside the "
            f"domain, on its edge, or an overflow)"), stacklevel=2)
    return _float(value), _float(tangent)


def _value_and_tangent(out: Any, tag: int, direction: Any, point: Any) -> tuple[Any, Any]:
    """jvp's result from f's output: arrays for one output, stacked for a list of outputs."""
    lead = direction.shape[:1] if np.ndim(direction) > np.ndim(_primal(point)) else ()
    if isinstance(out, (list, tuple)):
        values = np.array([_primal(_value(o, tag)) for o in out], dtype=float)
        tangents = [_tangent(o, tag) for o in out]
        return values, np.stack([np.broadcast_to(np.asarray(t, dtype=float), lead)
                                 for t in tangents], axis=-1)
    value = _value(out, tag)
    tangent = _tangent(out, tag) if isinstance(out, Dual) and out.tag == tag else \
        np.zeros(lead + np.shape(_primal(out)))
    return value, tangent


def _float(x: Any) -> Any:
    return float(x) if np.ndim(x) == 0 and not isinstance(x, (Dual, Jet)) else x


def derivative(fn: Function, x: Any, order: int = 1) -> Any:
    """The ``order``-th derivative of a scalar function of one variable; exact to rounding.

    Order 1 pushes one dual; order k ≥ 2 pushes the jet x + t and reads k!·(coefficient k).
    ``x`` may itself be a dual or jet (a derivative nested inside another): the result then
    keeps the outer perturbation.
    """
    if order == 0:
        return fn.on_vector([x], 1)
    if order == 1:
        if fn.tree is not None and len(fn.variables) == 1 and not fn.vector_output \
                and not isinstance(x, (Dual, Jet)):
            return float(_program(fn)(float(x))[1])
        tag = next(_tags)
        out = _outputs(fn.on_vector([Dual(x, 1.0, tag)], 1))[0]
        result = _tangent(out, tag)
    else:
        tag = next(_tags)
        out = _outputs(fn.on_vector([Jet([x, 1.0], tag)], 1))[0]
        result = math.factorial(order) * _coefficient(out, order, tag) if isinstance(
            out, Jet) and out.tag == tag else 0.0
    return result if isinstance(result, (Dual, Jet)) else float(_primal(result))


# ============================================================================================
# Speed: jvp of an elementwise callable on a long vector, block by block
# ============================================================================================
# On 10⁶ points each intermediate value and tangent is an 8 MB array that lives in main memory,
# and a freed one often comes back as fresh pages to fault in again; on a block the
# intermediates stay in cache and their memory is reused. The sizes are measured
# (benchmarks/dual_ratios.py, section 4): for elementwise outputs 3·2**13 points (192 kB per
# array) was fastest or within noise of it between 2**12 and 2**18 (smaller blocks pay the
# per-operation Python cost more often, larger ones fault their temporaries in); a sum or
# mean stores no block, so only the per-operation cost counts and larger blocks win.
BLOCK_ELEMENTS = 3 * 2**13
REDUCTION_BLOCK_ELEMENTS = 2**17
# Shorter vectors take the whole-array path: their intermediates fit in cache anyway, and the
# probe's fixed cost (50-100 µs) is not repaid (blocks break even at about 10⁵ points).
BLOCKED_FROM_ELEMENTS = 2**17

_TAPES: dict[int, _Tape] = {}  # the tape of each probe being run, by its tag
_NOT_ELEMENTWISE: weakref.WeakSet = weakref.WeakSet()  # callables a probe refused
# while jvp runs blocks: (warnings noted, whether to warn at once); see _warn
_TIES: contextvars.ContextVar[tuple[list, bool] | None] = contextvars.ContextVar(
    "diffx_dual_ties", default=None)
_TAG = Dual.tag  # the slot itself (a probe's ``tag`` attribute is guarded)


def _warn(warning: Warning) -> None:
    """Warn from an operation; while jvp runs blocks, also note it (once per operation)."""
    notes = _TIES.get()
    if notes is None or notes[1]:
        warnings.warn(warning, stacklevel=4)
    if notes is not None:
        notes[0].append(warning)


class _NotElementwise(BaseException):
    """Stops a probed f at its first operation that is not elementwise (a BaseException, so
    that ``except Exception`` in f does not swallow it; the tape's verdict stands anyway)."""


class _Node:
    """An argument of a recorded operation that is an earlier result (an index on the tape)."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


class _Tape:
    """What f did to the first block of its point: each operation (a call and its arguments,
    earlier results as _Node, real constants as themselves) and each result (a node)."""

    def __init__(self, probe: Dual):
        self.tag, self.shape, self.tangent_shape = probe.tag, probe.value.shape, \
            probe.tangent.shape
        self.nodes: list[Dual] = [probe]
        self.index = {id(probe): 0}
        self.operations: list[tuple[Callable[[tuple], Any], list, bool]] = []
        self.reductions: set[int] = set()  # nodes made by np.sum / np.mean
        self.warned: set[int] = set()  # nodes whose operation warned on the probe (a tie)
        self.depth = 0  # > 0 while a recorded operation runs (inner operations are its own)
        self.refused: str | None = None
        self.context = (np.geterr(), list(warnings.filters))
        _TAPES[self.tag] = self
        probe.__class__ = _Probe

    def refuse(self, what: str) -> None:
        self.refused = self.refused or what
        raise _NotElementwise(what)

    def record(self, call: Callable[[tuple], Any], inputs: tuple, reduction: bool) -> Any:
        """Run ``call(inputs)``; when f (not an operation already running) applies it, check
        that it is elementwise here and write it on the tape."""
        if self.depth:
            return call(inputs)
        arguments: list = []
        for a in inputs:
            index = self.index.get(id(a)) if isinstance(a, Dual) else None
            if index is not None and index not in self.reductions:
                arguments.append(_Node(index))
            elif index is None and _is_real_number(a):  # the same for every element
                arguments.append(np.array(a) if isinstance(a, np.ndarray) else a)  # a copy
            else:
                self.refuse(f"an argument {type(a).__name__} that is neither a real number "
                            f"nor an elementwise result of the point")
        if (np.geterr(), warnings.filters) != self.context:  # blocks run outside f's context
            self.refuse("np.errstate or warning filters changed inside f")
        notes = _TIES.get()
        if notes is not None:
            notes[0].clear()
        probes = [a for a in inputs if type(a) is _Probe]
        for a in probes:  # plain duals while the operation runs: its reads are not f's
            a.__class__ = Dual
        self.depth += 1
        try:
            out = call(inputs)
        finally:
            self.depth -= 1
            for a in probes:
                a.__class__ = _Probe
        if notes is not None and notes[0]:
            self.warned.add(len(self.nodes))  # (the node this operation makes)
        shape, tangent_shape = ((), self.tangent_shape[:-1]) if reduction else (
            self.shape, self.tangent_shape)
        if not (isinstance(out, Dual) and out.tag == self.tag and np.shape(out.value) == shape
                and np.shape(out.tangent) == tangent_shape
                and np.result_type(out.value, out.tangent) == np.float64):
            self.refuse("a result that is not a float array of the point's shape")
        out.__class__ = _Probe
        self.index[id(out)] = len(self.nodes)
        if reduction:
            self.reductions.add(len(self.nodes))
        self.nodes.append(out)
        self.operations.append((call, arguments, reduction))
        return out

    def close(self) -> None:
        del _TAPES[self.tag]
        for node in self.nodes:
            node.__class__ = Dual


def _is_real_number(a: Any) -> bool:
    return isinstance(a, (int, float, np.integer, np.floating, np.bool_)) or (
        type(a) is np.ndarray and a.ndim == 0 and a.dtype.kind in "biuf")


def _tape_of(a: Any) -> _Tape | None:
    return _TAPES.get(_TAG.__get__(a)) if type(a) is _Probe else None


def _record(inputs: tuple, call: Callable[[tuple], Any], reduction: bool = False) -> Any:
    """``call(inputs)``, recorded on the tape of the probe among ``inputs`` (if still running)."""
    tape = next((t for t in map(_tape_of, inputs) if t is not None), None)
    return call(inputs) if tape is None else tape.record(call, inputs, reduction)


def _ufunc_call(ufunc: np.ufunc, inputs: tuple) -> Any:
    return _ufunc(ufunc, "__call__", inputs, {})


ELEMENTWISE_UFUNCS = frozenset({*E.ROW_OF_UFUNC, np.maximum, np.minimum})
_REDUCTIONS = {np.sum: lambda inputs: _sum(inputs[0]), np.mean: lambda inputs: _mean(inputs[0])}


class _Probe(Dual):
    """The first block of jvp's point, and each result f makes from it, while f runs on it.

    Table rows, elementwise ufuncs and np.sum / np.mean are recorded on the tape; anything else
    that looks at the block as a whole (its shape, items, values, truth) stops f. After the run
    the nodes are plain Duals again.
    """

    __slots__ = ()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        tape = _tape_of(self)
        if tape is not None and not tape.depth and (
                method != "__call__" or kwargs or ufunc not in ELEMENTWISE_UFUNCS):
            tape.refuse(f"numpy.{ufunc.__name__}.{method}")
        return _record(inputs, functools.partial(_ufunc_call, ufunc))

    def __array_function__(self, func, types, args, kwargs):
        tape = _tape_of(self)
        if tape is None or tape.depth:
            return super().__array_function__(func, types, args, kwargs)
        if func not in _REDUCTIONS or kwargs or len(args) != 1 or args[0] is not self:
            tape.refuse(f"numpy.{func.__name__}")
        return tape.record(_REDUCTIONS[func], args, reduction=True)

    def sum(self, axis=None, keepdims=False) -> Dual:
        if axis is None and not keepdims:
            return _record((self,), _REDUCTIONS[np.sum], reduction=True)
        return _guard(self, "sum", lambda: super(_Probe, self).sum(axis, keepdims))

    def mean(self, axis=None, keepdims=False) -> Dual:
        if axis is None and not keepdims:
            return _record((self,), _REDUCTIONS[np.mean], reduction=True)
        return _guard(self, "mean", lambda: super(_Probe, self).mean(axis, keepdims))


def _guard(probe: _Probe, what: str, then: Callable[[], Any]) -> Any:
    """Refuse ``what`` if f (not a recorded operation) does it to a running probe, else do it."""
    tape = _tape_of(probe)
    if tape is not None and not tape.depth:
        tape.refuse(what)
    return then()


def _guarded(name: str) -> Any:
    attribute = getattr(Dual, name)
    if hasattr(attribute, "__get__") and hasattr(attribute, "__set__"):  # a slot or property
        return property(lambda self: _guard(self, f".{name}",
                                            lambda: attribute.__get__(self, Dual)),
                        lambda self, value: _guard(self, f".{name} =",
                                                   lambda: attribute.__set__(self, value)))
    return lambda self, *args, **kwargs: _guard(self, name,
                                                lambda: attribute(self, *args, **kwargs))


for _name in ("value", "tangent", "tag", "shape", "ndim", "size", "chunked", "T", "__len__",
              "__getitem__", "__iter__", "__bool__", "__lt__", "__le__", "__gt__", "__ge__",
              "__float__", "__matmul__", "__rmatmul__", "__repr__", "__format__", "__reduce__",
              "__reduce_ex__", "reshape", "ravel", "transpose", "dot"):
    setattr(_Probe, _name, _guarded(_name))


def _by_blocks(fn: Function, x: Any, v: Any, tag: int) -> tuple[Any, Any, bool] | None:
    """jvp's value, tangent and whether both are finite, computed block by block; or None
    when that does not apply: the point is short, f is not a callable of one vector, or f's
    run on the first block (the probe) showed an operation that is not elementwise."""
    size, func = BLOCK_ELEMENTS, fn.func
    if not (func is not None and fn.variables is None and type(x) is np.ndarray
            and x.ndim == 1 and x.size >= BLOCKED_FROM_ELEMENTS and x.size > size
            and x.dtype == np.float64
            and type(v) is np.ndarray and v.ndim <= 2 and v.shape[-1:] == x.shape
            and v.dtype == np.float64):
        return None
    key = getattr(func, "__func__", func)  # a bound method: its function
    try:
        if key in _NOT_ELEMENTWISE:
            return None
    except TypeError:  # not weakly referable: probed at every call
        key = None
    tape, notes = _Tape(Dual(x[:size], v[..., :size], tag)), []
    token = _TIES.set((notes, True))
    try:
        out = fn.on_vector(tape.nodes[0], x.size)
        output = tape.index.get(id(out)) if isinstance(out, Dual) and not tape.refused \
            else None  # (f, or numpy, may have caught the refusal)
    except _NotElementwise:
        if tape.refused is None:  # another probe's (f runs inside an outer probe)
            raise
        output = None
    except Exception:  # f fails on a Dual: let the whole-array path raise its own error
        output = None
    finally:
        tape.close()
        _TIES.reset(token)
    if output is None:
        if key is not None:
            _NOT_ELEMENTWISE.add(key)
        return None
    return _replay(tape, output, x, v)


@functools.cache
def _keep_freed_blocks() -> None:
    """Once per process: allocate an 8 MB array and free it untouched.

    The blocks' intermediates are freed and allocated again for each block. glibc's malloc
    gives freed memory at the top of its heap back to the OS once it exceeds a threshold that
    starts at 128 kB and is raised (to twice its size) when a large array is freed; until then
    each block's intermediates are fresh pages, faulted in one by one (a 10⁶-point jvp of
    Σ sin(x)·exp(-x²): 12967 page faults, 2x slower). Any numpy program that frees an array
    of 10⁶ floats raises it the same way; nothing is written, and other allocators ignore
    this.
    """
    np.empty(2**20)


def _replay(tape: _Tape, output: int, x: np.ndarray, v: np.ndarray) -> tuple[Any, Any, bool]:
    """The tape's operations on every block after the first; the output put together."""
    _keep_freed_blocks()
    reduction = output in tape.reductions
    source = tape.operations[output - 1][1][0].index if reduction else output
    program, constants = _program_of(tape, source, summed=reduction)
    summed = any(position == source and getattr(call, "func", None) is _summed_rule_of
                 for position, call, _, _ in program)  # the sum of the block is made there
    empty = [None] * len(tape.operations)  # the operations' results, in each block
    first, n = BLOCK_ELEMENTS, x.size
    size = REDUCTION_BLOCK_ELEMENTS if reduction else first
    if reduction:
        sums = [_sum(tape.nodes[source])]
    else:
        value, tangent = np.empty(x.shape), np.empty(v.shape)
        _put((value[:first], tangent[..., :first]), tape.nodes[source])
    tape.nodes.clear()  # the first block's intermediates
    notes: list = []
    pending: dict[int, Warning] = {}
    token = _TIES.set((notes, False))
    try:
        for start in range(first, n, size):
            block = slice(start, start + size)
            nodes = [Dual(x[block], v[..., block], tape.tag), *empty, *constants]
            into = None if reduction else (value[block], tangent[..., block])
            for position, call, fetch, drop in program:
                # the output's operation writes into the output where it can
                nodes[position] = call(fetch(nodes), into) if position == source \
                    else call(fetch(nodes))
                for j in drop:
                    nodes[j] = None  # freed: the next intermediate reuses its memory
                if notes:
                    pending.setdefault(position, notes[0])
                    notes.clear()
            if reduction:
                sums.append(nodes[source] if summed else _sum(nodes[source]))
            else:
                _put(into, nodes[source])
            del nodes
    finally:
        _TIES.reset(token)
    for position, warning in sorted(pending.items()):
        if position not in tape.warned:  # each operation warns once, as on the whole array
            warnings.warn(warning, stacklevel=4)
    if reduction:
        mean = tape.operations[output - 1][0] is _REDUCTIONS[np.mean]
        return _sum_of_blocks(sums, n if mean else 1)
    return value, tangent, all_finite(value) and all_finite(tangent)


def _program_of(tape: _Tape, source: int, summed: bool = False) -> tuple[list, list]:
    """The tape as straight code for one block: (node, call, fetch, drop) per operation, with
    the nodes in one list: the block at 0, operation i's result at i + 1, then the constants.

    ``call`` is the rule that the recorded call's dispatch ends in (a table row, whether f wrote
    ``a * b`` or ``np.multiply(a, b)``, is _dual_rule with the probe's tag: the same numbers
    without the dispatch; the output's operation also takes the output blocks to write into,
    or, when ``summed`` (np.sum / np.mean follows it) and it is a table row, is _summed_rule);
    ``fetch`` gathers its arguments; ``drop`` lists the nodes it used last. np.sum / np.mean
    are left out (they apply to all blocks at once).
    """
    count, constants, program = len(tape.operations) + 1, [], []
    last_use = {a.index: i for i, (_, arguments, _) in enumerate(tape.operations)
                for a in arguments if type(a) is _Node}
    for i, (call, arguments, reduction) in enumerate(tape.operations):
        if reduction:
            continue
        slots = []
        for a in arguments:
            if type(a) is _Node:
                slots.append(a.index)
            else:
                slots.append(count + len(constants))
                constants.append(a)
        row = None
        if isinstance(call, functools.partial) and call.func is _apply_rule:
            row = call.args[0]
        elif isinstance(call, functools.partial) and call.func is _ufunc_call:
            row = E.ROW_OF_UFUNC.get(call.args[0])
        if row is not None and i + 1 == source and summed:
            call = functools.partial(_summed_rule_of, row, tape.tag)
        elif row is not None:
            call = functools.partial(_dual_rule_of, row, tape.tag)
        elif i + 1 == source:  # the output's operation, called with the output blocks
            call = functools.partial(_without_into, call)
        get = operator.itemgetter(*slots)
        fetch = get if len(slots) > 1 else (lambda nodes, get=get: (get(nodes),))
        drop = [j for j, last in last_use.items() if last == i and j != source]
        program.append((i + 1, call, fetch, drop))
    return program, constants


def _dual_rule_of(row: E.Elementary, tag: int, args: tuple, into: Any = None) -> Dual:
    return _dual_rule(row, args, tag, into=into)


def _summed_rule_of(row: E.Elementary, tag: int, args: tuple, into: Any = None) -> Dual:
    return _summed_rule(row, args, tag)


def _summed_rule(row: E.Elementary, args: tuple, tag: int) -> Dual:
    """np.sum over one block of a table row's result, value and tangent, when f sums that
    result: the tangent Σₚ Σᵢ ∂ᵢ(p)·tᵢ(p) is summed as its products are made (_summed_products),
    so no tangent array is stored and summed again; a doubled u·u is 2·Σ u·t (exact doubling).
    The value of a product is summed the same way (Σ a·b is a dot; its partials need no a·b)."""
    values = [a.value if isinstance(a, Dual) and a.tag == tag else a for a in args]
    if row is E.multiply and type(values[-1]) is np.ndarray:
        out, total = None, _summed_products(*values)
    elif row is E.multiply and type(values[0]) is np.ndarray:
        out, total = None, _summed_products(*values[::-1])
    else:
        out = _row_value(row, values)
        total = np.sum(out)
    ours = [i for i, a in enumerate(args) if isinstance(a, Dual) and a.tag == tag]
    doubled = row is E.multiply and args[0] is args[1]
    tangent = sum(_summed_products(row.partials[i](*values, out), args[i].tangent)
                  for i in ours[:1 if doubled else None])
    return Dual(total, 2.0 * tangent if doubled else tangent, tag)


# Points per BLAS dot in _summed_products. A dot adds its products in one running sum (or a few:
# OpenBLAS keeps 16), so its rounding error grows with its length; 256 keeps it under
# 256·2⁻⁵³ ≈ 3e-14 of Σ|products| with any BLAS, and the dots are still 2x faster than a
# stored product and numpy's sum of it (benchmarks/dual_ratios.py, section 2).
SUMMED_ROW = 256


def _summed_products(partial: Any, tangent: np.ndarray) -> Any:
    """Σ over the last axis of partial·tangent, without storing the product: tangent (n,) or
    (k, n), partial a number or (n,); result () or (k,). BLAS dots over rows of SUMMED_ROW
    points (one stacked matmul), the rows' sums then added by numpy's pairwise sum: at most
    about (256 + log2(n/256)) roundings of Σ|products|, against numpy's (16 + log2(n/128))."""
    if np.ndim(partial) == 0:
        return partial * np.sum(tangent, axis=-1)
    n = partial.shape[-1]
    whole = n - n % SUMMED_ROW
    lead = tangent.shape[:-1]
    rows = tangent[..., :whole].reshape(*lead, -1, 1, SUMMED_ROW) @ \
        partial[:whole].reshape(-1, SUMMED_ROW, 1)
    return rows.sum(axis=(-3, -2, -1)) + tangent[..., whole:] @ partial[whole:]


def _without_into(call: Callable[[tuple], Any], args: tuple, into: Any) -> Any:
    return call(args)


def _put(into: tuple[np.ndarray, np.ndarray], result: Dual) -> None:
    """Put one block's result into the output blocks ``into`` (unless the operation wrote it
    there already)."""
    for array, part in zip(into, (result.value, result.tangent)):
        if part is not array:
            array[...] = part


def _sum_of_blocks(sums: list[Dual], count: int) -> tuple[Any, Any, bool]:
    """np.sum (count = 1) or np.mean (count = n) of the whole from the sums of the blocks
    (numpy's pairwise sums), added exactly (math.fsum)."""
    value = _exact_sum([s.value for s in sums]) / count
    tangents = np.array([s.tangent for s in sums])
    tangent = np.array([_exact_sum(column) for column in tangents.reshape(len(sums), -1).T]
                       ).reshape(tangents.shape[1:]) / count
    tangent = tangent[()] if tangent.ndim == 0 else tangent
    return value, tangent, bool(np.isfinite(value) and np.isfinite(tangent).all())


def _exact_sum(terms: Any) -> np.float64:
    """The correctly rounded sum (numpy's sum when that overflows: ±inf, as numpy's is)."""
    try:
        return np.float64(math.fsum(terms))
    except OverflowError:
        return np.sum(terms)


# ============================================================================================
# Speed: a parsed function compiled once into straight chain-rule code on floats
# ============================================================================================
def _program(fn: Function) -> Callable[[float], tuple[float, float]]:
    """``x -> (f(x), f'(x))`` for a parsed scalar function of one variable, compiled once.

    The same rule as :func:`_dual_rule` (value by the row's numpy form, tangent by its partials),
    without building Dual objects; constant subtrees carry no tangent at all.
    """
    program = fn.__dict__.get("_dual_program")
    if program is None:
        run, _ = _compile(fn.tree[0])
        program = fn.__dict__["_dual_program"] = lambda x: run(np.float64(x))
    return program


def _compile(node: Any) -> tuple[Callable, bool]:
    """(closure x -> (value, derivative), whether the node depends on x)."""
    if isinstance(node, Variable):
        return (lambda x: (x, 1.0)), True
    if isinstance(node, (Number, NamedConstant)):
        value = node.value if isinstance(node, Number) else node.constant.float_value
        return (lambda x: (value, 0.0)), False
    assert isinstance(node, Apply)
    op, partials = node.op.numpy, node.op.partials
    children = [_compile(a) for a in node.args]
    if len(children) == 1:
        (child, _), = children

        def unary(x):
            u, du = child(x)
            out = op(u)
            return out, partials[0](u, out) * du

        return unary, children[0][1]
    (left, left_varies), (right, right_varies) = children

    def binary(x):
        (a, da), (b, db) = left(x), right(x)
        out = op(a, b)
        if not right_varies:
            return out, partials[0](a, b, out) * da
        if not left_varies:
            return out, partials[1](a, b, out) * db
        return out, partials[0](a, b, out) * da + partials[1](a, b, out) * db

    return binary, left_varies or right_varies


def fast_derivative(f: Any, x: Any, order: int) -> float | None:
    """The public API's shortcut for ``derivative(f, x, "dual")``: a parsed scalar function,
    a plain finite x, order 1, no operation with a domain edge or kink, and a finite value and
    derivative. Returns None whenever the full path (with its point checks) must run."""
    if not (isinstance(x, (float, int)) and not isinstance(x, bool) and order == 1
            and isinstance(f, Function) and f.tree is not None and not f.vector_output
            and len(f.variables) == 1 and math.isfinite(x)):
        return None
    from diffx.points import _may_be_restricted

    if _may_be_restricted(f):
        return None
    with np.errstate(all="ignore"):
        value, slope = _program(f)(x)
    if math.isfinite(value) and math.isfinite(slope):
        return float(slope)
    return None
