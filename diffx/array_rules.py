"""The array half of the rule table: one entry per numpy array function, read by every engine.

:mod:`diffx.elementary` holds the scalar rows (sin, exp, multiply, …), each with its
derivative. numpy's array functions need no derivative formula of their own: most of them are
*linear* in their array argument, and a linear function's derivative is the function itself,
``f(x + t·ε) = f(x) + f(t)·ε`` (JAX: the jvp of a linear primitive is the primitive; HIPS
autograd's ``numpy_vjps.py``). So an entry only says, as data, what *kind* of function it is
and which of its parameters are axes or shapes; each engine interprets each kind once.

===========  ==========================  =============================  =====================
kind         functions                   forward (tangent t)            reverse (cotangent g)
===========  ==========================  =============================  =====================
linear       sum mean cumsum transpose   f(t), same parameters          fᵀ(g), the adjoint:
             broadcast_to concatenate                                   sum, mean: broadcast
             stack copy real diagonal                                   back (/count); cumsum:
             triu tril repeat tile roll                                 reversed cumsum;
             flip rot90 swapaxes                                        transpose: inverse
             moveaxis pad take split                                    permutation; join:
             array_split diag                                           split g
reshape      reshape ravel squeeze       t reshaped to the result's     g reshaped to the
             expand_dims atleast_1d/2d   shape (same elements, C order) input's shape
bilinear     dot matmul                  f(ta, b) + f(a, tb)            a: f(g, bᵀ); b: f(aᵀ, g)
multilinear  einsum                      Σᵢ f(x₁ … tᵢ … xₙ)             operand i: einsum of g
                                                                        with the others
selection    where                       where(c, ta, tb), c read from  a: where(c, g, 0);
                                         values only                    b: where(c, 0, g)
extremum     max min amax amin           the tangent of the element     g to the elements
                                         equal to the result; a tie:    equal to the result,
                                         the MEAN of the tied tangents  shared equally
product      prod cumprod                Σᵢ tᵢ Πⱼ≠ᵢ xⱼ, without          g·Πⱼ≠ᵢ xⱼ (exclusive
                                         dividing by xᵢ (exclusive      products, no division)
                                         products; exact at a zero)
matrix       linalg.det inv solve        the rule's ``jvp`` (numpy      from the same formulas
             slogdet                     formulas: d det = det·tr(A⁻¹dA),  transposed
                                         d inv = −A⁻¹dA A⁻¹, …)
composed     clip hstack vstack trace    ``composition`` run on the engine's own values: it is
             append column_stack select  written with other entries and ufuncs (maximum, …)
             average std var fliplr/ud
             linalg.norm outer inner
             vdot kron cross tensordot
             linspace nan_to_num sinc
query        shape ndim size argmax      the value's answer: a number, nothing flows
             argmin argsort
constant     zeros_like ones_like        an array made from the value's shape: derivative 0
             full_like empty_like
===========  ==========================  =============================  =====================

Engines whose values carry extra axes (the dual engine's chunk of k directions in front of
each tangent, a batching reader) must move the parameters that name axes or shapes: ``axis``
(an int, a tuple or None; ``flattens``: None flattens the input first, as in cumsum and
concatenate, instead of meaning every axis, as in sum and mean), ``shape`` (a result shape)
and ``axes`` (a permutation). ``parameters`` are those the kind's reading honours; any other
must keep its default (``out=`` would write around the derivative, np.sum's ``initial=`` makes
it affine): :meth:`ArrayRule.bind` refuses it.

    >>> rule = ARRAY_RULES[np.sum]
    >>> rule.kind, rule.axis
    ('linear', 'axis')
    >>> rule.bind((np.ones(3),), {"axis": 0})
    ([array([1., 1., 1.])], {'axis': 0})
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from diffx.errors import UnsupportedError

__all__ = ["ARRAY_RULES", "KINDS", "ArrayRule", "NumpyMethods"]

KINDS = ("linear", "reshape", "bilinear", "multilinear", "selection", "extremum", "product",
         "matrix", "composed", "query", "constant")


@dataclass(frozen=True)
class ArrayRule:
    """How one numpy array function is differentiated, for any engine (see the module table).

    ``arrays`` names the differentiated arguments (default: the first parameter), ``sequence``
    says the first is a sequence of arrays (concatenate; constants in it have tangent 0),
    ``condition`` is a selection's condition (read from values), ``composition`` a composed
    function written with other entries.
    """

    function: Callable
    kind: str
    parameters: tuple[str, ...] = ()
    axis: str | None = None
    flattens: bool = False
    shape: str | None = None
    axes: str | None = None
    arrays: tuple[str, ...] = ()
    sequence: bool = False
    condition: str | None = None
    composition: Callable | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; kinds: {', '.join(KINDS)}")

    @property
    def name(self) -> str:
        return f"numpy.{self.function.__name__}"

    def bind(self, args: tuple, kwargs: dict) -> tuple[list, dict[str, Any]]:
        """The differentiated arguments (in ``arrays`` order; None if not passed) and the
        honoured ones by name (``condition`` and ``parameters``, as passed). UnsupportedError
        for any other argument not at its default."""
        if len(args) == 1 and not kwargs and not self.arrays:  # the common call, f(x)
            return list(args), {}
        names, defaults = _signature(self.function)
        if len(args) > len(names):
            raise UnsupportedError(f"{self.name} takes {len(names)} positional argument(s) "
                                   f"here, got {len(args)}")
        bound = {**dict(zip(names, args)), **kwargs}
        arrays = self.arrays or names[:1]
        honoured = {name: value for name, value in bound.items()
                    if name in self.parameters or name == self.condition}
        for name, value in bound.items():
            if name not in arrays and name not in honoured and not _is_default(
                    value, defaults.get(name, inspect.Parameter.empty)):
                takes = ", ".join(f"{p}=" for p in self.parameters) or "none"
                raise UnsupportedError(f"{self.name} is differentiated without {name}= (its "
                                       f"parameters honoured here: {takes})")
        return [bound.get(name) for name in arrays], honoured

    def default(self, parameter: str) -> Any:
        """The default of ``parameter`` (inspect.Parameter.empty when it has none)."""
        return _signature(self.function)[1].get(parameter, inspect.Parameter.empty)

    def with_leading_axis(self, params: dict, ndim: int, k: int) -> dict:
        """The parameters for the same function on arrays with one more axis in front, of
        length k (a batch; the dual engine's chunk of directions), the arrays' own ndim being
        ``ndim``: axes counted past it (axis=None: all but it), a shape with k in front.

        >>> ARRAY_RULES[np.sum].with_leading_axis({}, 2, 3)
        {'axis': (1, 2)}
        """
        moved = dict(params)
        if self.axis:
            moved[self.axis] = _past_leading_axis(params.get(self.axis, self.default(self.axis)),
                                                  ndim)
        if self.shape:
            moved[self.shape] = (k, *np.atleast_1d(params[self.shape]).tolist())
        if self.axes:
            axes = params.get(self.axes)
            order = reversed(range(ndim)) if axes is None else (a % ndim for a in axes)
            moved[self.axes] = (0, *(a + 1 for a in order))
        return moved


def _given(**arguments: Any) -> dict[str, Any]:
    """The keyword arguments a method was given beyond ndarray's defaults (None, False, 0 for
    ddof/offset), so the numpy function sees only what the caller asked for."""
    return {name: value for name, value in arguments.items()
            if value is not None and value is not False
            and not (name in ("ddof", "offset") and type(value) is int and value == 0)}


def _shape_argument(shape: tuple) -> Any:
    """``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` alike: one argument is the shape."""
    return shape[0] if len(shape) == 1 else shape


class NumpyMethods:
    """ndarray's methods for any array-like value type, each calling numpy's function on
    ``self``, so they dispatch through the type's ``__array_function__`` / ``__array_ufunc__``
    and need no derivative rule of their own (one source of truth: the table's entries).

    A value type mixes it in before its arithmetic (``class Dual(NumpyMethods,
    TableArithmetic)``) and gets ``.T .sum() .mean() .prod() .max() .min() .cumsum()
    .cumprod() .std() .var() .dot() .reshape() .ravel() .flatten() .squeeze() .transpose()
    .clip() .swapaxes() .diagonal() .trace() .repeat() .astype()`` with ndarray's signatures.
    ``astype`` to a floating dtype returns the value itself (its derivative is unchanged); any
    other dtype would cut the derivative and raises UnsupportedError.

    >>> from diffx.engines.dual import Dual
    >>> d = Dual(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)))
    >>> d.sum(axis=0).tangent, d.T.value[0, 1], d.astype(float) is d
    (array([2., 2.]), np.float64(3.0), True)
    """

    __slots__ = ()

    @property
    def T(self) -> Any: return np.transpose(self)
    def sum(self, axis=None, dtype=None, out=None, keepdims=False) -> Any:
        return np.sum(self, **_given(axis=axis, dtype=dtype, out=out, keepdims=keepdims))
    def mean(self, axis=None, dtype=None, out=None, keepdims=False) -> Any:
        return np.mean(self, **_given(axis=axis, dtype=dtype, out=out, keepdims=keepdims))
    def prod(self, axis=None, dtype=None, out=None, keepdims=False) -> Any:
        return np.prod(self, **_given(axis=axis, dtype=dtype, out=out, keepdims=keepdims))
    def max(self, axis=None, out=None, keepdims=False) -> Any:
        return np.max(self, **_given(axis=axis, out=out, keepdims=keepdims))
    def min(self, axis=None, out=None, keepdims=False) -> Any:
        return np.min(self, **_given(axis=axis, out=out, keepdims=keepdims))
    def cumsum(self, axis=None, dtype=None, out=None) -> Any:
        return np.cumsum(self, **_given(axis=axis, dtype=dtype, out=out))
    def cumprod(self, axis=None, dtype=None, out=None) -> Any:
        return np.cumprod(self, **_given(axis=axis, dtype=dtype, out=out))
    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False) -> Any:
        return np.std(self, **_given(axis=axis, dtype=dtype, out=out, ddof=ddof,
                                     keepdims=keepdims))
    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False) -> Any:
        return np.var(self, **_given(axis=axis, dtype=dtype, out=out, ddof=ddof,
                                     keepdims=keepdims))
    def dot(self, b, out=None) -> Any: return np.dot(self, b, **_given(out=out))
    def reshape(self, *shape, order="C") -> Any:
        return np.reshape(self, _shape_argument(shape), **({} if order == "C" else
                                                           {"order": order}))
    def ravel(self, order="C") -> Any:
        return np.ravel(self, **({} if order == "C" else {"order": order}))
    def flatten(self, order="C") -> Any: return self.ravel(order)
    def squeeze(self, axis=None) -> Any: return np.squeeze(self, **_given(axis=axis))
    def transpose(self, *axes) -> Any:
        return np.transpose(self, _shape_argument(axes) if axes else None)
    def clip(self, min=None, max=None, out=None) -> Any:  # noqa: A002 (ndarray's names)
        return np.clip(self, min, max, **_given(out=out))
    def swapaxes(self, axis1, axis2) -> Any: return np.swapaxes(self, axis1, axis2)
    def diagonal(self, offset=0, axis1=0, axis2=1) -> Any:
        return np.diagonal(self, offset, axis1, axis2)
    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None) -> Any:
        return np.trace(self, offset, axis1, axis2, **_given(dtype=dtype, out=out))
    def repeat(self, repeats, axis=None) -> Any: return np.repeat(self, repeats, axis)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True) -> Any:
        if np.issubdtype(np.dtype(dtype), np.floating):
            return self
        raise UnsupportedError(f"astype({np.dtype(dtype)}) of a {type(self).__name__} would "
                               f"drop its derivative; only floating dtypes keep it")


def _past_leading_axis(axis: Any, ndim: int) -> Any:
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(_past_leading_axis(a, ndim) for a in axis)
    return axis + 1 if axis >= 0 else axis


@functools.cache
def _signature(function: Callable) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Names that positional arguments bind to (the array first, also ``*arys``), defaults."""
    parameters = list(inspect.signature(function).parameters.values())
    positional = tuple(p.name for i, p in enumerate(parameters) if i == 0 or p.kind in (
        p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return positional, {p.name: p.default for p in parameters}


def _is_default(value: Any, default: Any) -> bool:
    return value is default or (isinstance(value, (str, int, float)) and type(value) is
                                type(default) and value == default)


def _clip(a: Any, a_min: Any = None, a_max: Any = None) -> Any:
    """clip = minimum(maximum(a, a_min), a_max): at the bounds, the ufuncs' kink rules apply."""
    if a_min is not None:
        a = np.maximum(a, a_min)
    return a if a_max is None else np.minimum(a, a_max)


def _hstack(arrays: Any) -> Any:
    arrays = [np.atleast_1d(a) for a in arrays]
    return np.concatenate(arrays, axis=0 if np.ndim(arrays[0]) == 1 else 1)


def _vstack(arrays: Any) -> Any:
    return np.concatenate([np.atleast_2d(a) for a in arrays], axis=0)


_REDUCTION = ("axis", "dtype", "keepdims")
_JOIN = ("axis",)
_LIKE = ("dtype", "order", "subok", "shape", "device")

ARRAY_RULES: dict[Callable, ArrayRule] = {rule.function: rule for rule in [
    ArrayRule(np.sum, "linear", _REDUCTION, axis="axis"),
    ArrayRule(np.mean, "linear", _REDUCTION, axis="axis"),
    ArrayRule(np.cumsum, "linear", ("axis", "dtype"), axis="axis", flattens=True),
    ArrayRule(np.transpose, "linear", ("axes",), axes="axes"),
    ArrayRule(np.broadcast_to, "linear", ("shape",), shape="shape"),
    ArrayRule(np.concatenate, "linear", _JOIN, axis="axis", flattens=True, sequence=True),
    ArrayRule(np.stack, "linear", _JOIN, axis="axis", sequence=True),
    ArrayRule(np.copy, "linear", ("order", "subok")),
    ArrayRule(np.real, "linear"),
    ArrayRule(np.reshape, "reshape", ("shape",)),
    ArrayRule(np.ravel, "reshape"),
    ArrayRule(np.squeeze, "reshape", ("axis",)),
    ArrayRule(np.expand_dims, "reshape", ("axis",)),
    ArrayRule(np.atleast_1d, "reshape"),
    ArrayRule(np.atleast_2d, "reshape"),
    ArrayRule(np.dot, "bilinear", arrays=("a", "b")),
    ArrayRule(np.matmul, "bilinear", arrays=("x1", "x2")),
    ArrayRule(np.where, "selection", arrays=("x", "y"), condition="condition"),
    ArrayRule(np.clip, "composed", ("a_min", "a_max"), composition=_clip),
    ArrayRule(np.hstack, "composed", sequence=True, composition=_hstack),
    ArrayRule(np.vstack, "composed", sequence=True, composition=_vstack),
    ArrayRule(np.shape, "query"),
    ArrayRule(np.ndim, "query"),
    ArrayRule(np.size, "query", ("axis",)),
    ArrayRule(np.zeros_like, "constant", _LIKE),
    ArrayRule(np.ones_like, "constant", _LIKE),
    ArrayRule(np.full_like, "constant", ("fill_value", *_LIKE)),
    ArrayRule(np.empty_like, "constant", _LIKE),
]}
