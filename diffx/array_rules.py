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

__all__ = ["ARRAY_RULES", "KINDS", "MOVERS", "PRIMAL_ONLY", "ArrayRule", "NumpyMethods",
           "einsum_output"]

KINDS = ("linear", "reshape", "bilinear", "multilinear", "selection", "extremum", "product",
         "matrix", "composed", "query", "constant")

PRIMAL_ONLY = frozenset({np.greater, np.greater_equal, np.less, np.less_equal, np.equal,
                         np.not_equal, np.isfinite, np.isnan, np.isinf, np.signbit})
"""Ufuncs with no derivative to carry (comparisons, tests): every engine applies them to the
plain values under its own."""


@dataclass(frozen=True)
class ArrayRule:
    """How one numpy array function is differentiated, for any engine (see the module table).

    ``arrays`` names the differentiated arguments (default: the first parameter), ``sequence``
    says the first is a sequence of arrays (concatenate; constants in it have tangent 0),
    ``condition`` is a selection's condition (read from values), ``composition`` a composed
    function written with other entries.

    For engines with a leading batch axis (:meth:`with_leading_axis`): ``moves`` names further
    axis-like parameters and how each moves (``"axis"``: an axis or axes, counted past the
    new one; ``"reps"``: tile's repetitions, 1 in front; ``"pad_width"``: pad's widths,
    (0, 0) in front; ``"subscripts"``: einsum's, a fresh letter for the batched operand and
    the output); ``restores_shape``: a flattening call (``flattens``) keeps the input's shape
    (roll); ``batched_from``: the function treats leading axes as a batch only from this
    input ndim on (triu: 2), None: never (diag) — below it an engine applies it item by item.

    ``choices`` restricts honoured parameters to the values the kind's reading holds for
    (pad's modes that only move elements); ``accepts`` lists non-default values of parameters
    that mean the same as the default
    (pad's ``constant_values=0``); ``subscripts``: the first positional argument is einsum's
    subscript string, the rest are the arrays; ``jvp`` is a matrix function's derivative,
    ``jvp(values, tangents) -> (value, tangent)`` written with numpy calls (a tangent of None
    is a constant; tangents may carry leading batch axes; a tuple-valued function returns a
    tuple of tangents, None where the derivative is 0), for any engine to reuse;
    ``reads_values``: a query whose answer depends on the values (argmax), which a symbolic
    reader cannot give; ``analytic`` False: numpy's own function on complex input is not the
    complex-analytic extension (max compares, std and norm take |z|, slogdet log|det|), so
    complex-step differentiation cannot pass through it.
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
    moves: tuple[tuple[str, str], ...] = ()
    restores_shape: bool = False
    batched_from: int | None = 0
    accepts: tuple[tuple[str, Any], ...] = ()
    choices: tuple[tuple[str, tuple], ...] = ()
    subscripts: bool = False
    jvp: Callable | None = None
    reads_values: bool = False
    analytic: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; kinds: {', '.join(KINDS)}")

    @property
    def name(self) -> str:
        module = getattr(self.function, "__module__", None) or "numpy"
        return f"{module if module.startswith('numpy') else 'numpy'}.{self.function.__name__}"

    def bind(self, args: tuple, kwargs: dict) -> tuple[list, dict[str, Any]]:
        """The differentiated arguments (in ``arrays`` order; None if not passed) and the
        honoured ones by name (``condition`` and ``parameters``, as passed). UnsupportedError
        for any other argument not at its default."""
        if len(args) == 1 and not kwargs and not self.arrays:  # the common call, f(x)
            return list(args), {}
        if self.subscripts:  # einsum(subscripts, *operands, **options)
            if not args or not isinstance(args[0], str):
                raise UnsupportedError(f"{self.name} is differentiated with a subscript "
                                       f"string first (not the interleaved operand form)")
            self.check_defaults(kwargs, ())
            return list(args[1:]), {"subscripts": args[0], **{
                name: value for name, value in kwargs.items() if name in self.parameters}}
        names, defaults = _signature(self.function)
        if len(args) > len(names):
            raise UnsupportedError(f"{self.name} takes {len(names)} positional argument(s) "
                                   f"here, got {len(args)}")
        bound = {**dict(zip(names, args)), **kwargs}
        arrays = self.arrays or names[:1]
        honoured = {name: value for name, value in bound.items()
                    if name in self.parameters or name == self.condition}
        self.check_defaults({name: value for name, value in bound.items()
                             if name not in arrays and name not in honoured}, defaults)
        for name, allowed in self.choices:
            if name in honoured and honoured[name] not in allowed:
                raise UnsupportedError(
                    f"{self.name} is differentiated without {name}={honoured[name]!r} (the "
                    f"values of {name}= it is linear for: {', '.join(map(repr, allowed))})")
        return [bound.get(name) for name in arrays], honoured

    def call(self, values: list, params: dict) -> Any:
        """The numpy function on plain values (one per differentiated argument, None where not
        passed; the pieces of a sequence as one list), with the honoured parameters: the
        arguments put back where :meth:`bind` found them.

        >>> ARRAY_RULES[np.einsum].call([np.ones(2), np.ones(2)], {"subscripts": "i,i"})
        np.float64(2.0)
        """
        if self.sequence:
            return self.function(values[0] if len(values) == 1 else values, **params)
        present = [v for v in values if v is not None]
        if self.condition:
            return self.function(params[self.condition], *present)
        if self.subscripts:
            options = {k: v for k, v in params.items() if k != "subscripts"}
            return self.function(params["subscripts"], *present, **options)
        return self.function(*present, **params)

    def check_defaults(self, unhonoured: dict, defaults: Any) -> None:
        """UnsupportedError unless each of ``unhonoured`` is at its default (or accepted)."""
        accepted = dict(self.accepts)
        for name, value in unhonoured.items():
            default = defaults.get(name, inspect.Parameter.empty) if defaults else \
                _signature(self.function)[1].get(name, inspect.Parameter.empty)
            if _is_default(value, default) or (name in accepted and _is_default(
                    value, accepted[name])):
                continue
            takes = ", ".join(f"{p}=" for p in self.parameters) or "none"
            raise UnsupportedError(f"{self.name} is differentiated without {name}={value!r} "
                                   f"(its parameters honoured here: {takes})")

    def default(self, parameter: str) -> Any:
        """The default of ``parameter`` (inspect.Parameter.empty when it has none)."""
        return _signature(self.function)[1].get(parameter, inspect.Parameter.empty)

    def with_leading_axis(self, params: dict, ndim: int, k: int,
                          operand: int = 0) -> dict | None:
        """The parameters for the same function on arrays with one more axis in front, of
        length k (a batch; the dual engine's chunk of directions), the arrays' own ndim being
        ``ndim``: axes counted past it (axis=None: all but it), a shape with k in front, and
        each of ``moves`` by its mover (``operand``: which array carries the axis, for
        einsum). None when they cannot say it (tile with more reps than axes, a function not
        batched at this ndim, see ``batched_from``): then apply the function item by item.

        >>> ARRAY_RULES[np.sum].with_leading_axis({}, 2, 3)
        {'axis': (1, 2)}
        >>> ARRAY_RULES[np.swapaxes].with_leading_axis({"axis1": 0, "axis2": -1}, 2, 3)
        {'axis1': 1, 'axis2': -1}
        >>> ARRAY_RULES[np.tile].with_leading_axis({"reps": 2}, 2, 3)
        {'reps': (1, 1, 2)}
        >>> ARRAY_RULES[np.einsum].with_leading_axis({"subscripts": "ij,j"}, 1, 3, operand=1)
        {'subscripts': 'ij,aj->ai'}
        """
        if self.batched_from is None or ndim < self.batched_from:
            return None
        moved = dict(params)
        for name, how in self.moves:
            value = MOVERS[how](params.get(name, self.default(name)), ndim, operand)
            if value is None:
                return None
            moved[name] = value
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
    if isinstance(axis, (tuple, list)):
        return tuple(_past_leading_axis(a, ndim) for a in axis)
    return axis + 1 if axis >= 0 else axis


def _moved_reps(reps: Any, ndim: int, operand: int) -> tuple | None:
    reps = tuple(np.atleast_1d(reps).tolist())
    return None if len(reps) > ndim else (1,) * (1 + ndim - len(reps)) + reps


def _moved_pad_width(pad_width: Any, ndim: int, operand: int) -> tuple:
    widths = np.broadcast_to(np.asarray(pad_width), (ndim, 2)).tolist()
    return ((0, 0), *(tuple(w) for w in widths))


def einsum_output(inputs: str) -> str:
    """The output of an implicit-mode einsum (no ``->``): the labels used once, sorted, after
    ``...`` if an operand has one.

    >>> einsum_output("ij,jk")
    'ik'
    """
    labels = inputs.replace("...", "").replace(",", "")
    once = "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    return ("..." if "..." in inputs else "") + once


def _moved_subscripts(subscripts: str, ndim: int, operand: int) -> str:
    subscripts = subscripts.replace(" ", "")
    inputs, _, output = subscripts.partition("->")
    if "->" not in subscripts:
        output = einsum_output(inputs)
    fresh = next(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 if c not in subscripts)
    operands = inputs.split(",")
    operands[operand] = fresh + operands[operand]
    return f"{','.join(operands)}->{fresh}{output}"


MOVERS: dict[str, Callable[[Any, int, int], Any]] = {
    "axis": lambda axis, ndim, operand: _past_leading_axis(axis, ndim),
    "reps": _moved_reps, "pad_width": _moved_pad_width, "subscripts": _moved_subscripts}
"""How each kind of axis-like parameter moves past a new leading axis: (value, the arrays'
own ndim, the batched operand) -> the moved value (None: it cannot be said)."""


@functools.cache
def _signature(function: Callable) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Names that positional arguments bind to (the array first, also ``*arys``), defaults."""
    parameters = list(inspect.signature(function).parameters.values())
    positional = tuple(p.name for i, p in enumerate(parameters) if i == 0 or p.kind in (
        p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return positional, {p.name: p.default for p in parameters}


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, str) or isinstance(default, str):
        return type(value) is type(default) and value == default
    numbers = (int, float, np.integer, np.floating)
    return isinstance(value, numbers) and not isinstance(value, bool) and isinstance(
        default, numbers) and not isinstance(default, bool) and value == default


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


def _trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """trace = the sum of the diagonal (over its last axis, where np.diagonal puts it)."""
    return np.sum(np.diagonal(a, offset, axis1, axis2), axis=-1)


def _append(arr: Any, values: Any, axis: Any = None) -> Any:
    if axis is None:
        return np.concatenate([np.ravel(arr), np.ravel(values)])
    return np.concatenate([arr, values], axis=axis)


def _column_stack(arrays: Any) -> Any:
    return np.concatenate([np.reshape(a, (-1, 1)) if np.ndim(a) < 2 else a for a in arrays],
                          axis=1)


def _select(choicelist: Any, default: Any = None, condlist: Any = ()) -> Any:
    """select = nested where, the first true condition winning (conditions from values)."""
    result = 0.0 if default is None else default
    for condition, choice in reversed(list(zip(condlist, choicelist))):
        result = np.where(condition, choice, result)
    return result


def _average(a: Any, axis: Any = None, weights: Any = None, keepdims: bool = False) -> Any:
    """average = sum(a·w) / sum(w) along axis; the weights are constants (1-D weights lie
    along ``axis``, as in numpy)."""
    if weights is None:
        return np.mean(a, axis=axis, keepdims=keepdims)
    w = np.asarray(weights, dtype=float)
    shape = np.shape(a)
    if w.shape != shape:
        if w.ndim != 1 or not isinstance(axis, int):
            raise UnsupportedError("numpy.average: weights of another shape than a need an "
                                   "int axis= and 1-D weights")
        w = w.reshape([-1 if i == axis % len(shape) else 1 for i in range(len(shape))])
    total = np.sum(np.broadcast_to(w, shape), axis=axis, keepdims=keepdims)
    return np.sum(a * w, axis=axis, keepdims=keepdims) / total


def _var(a: Any, axis: Any = None, ddof: Any = 0, keepdims: bool = False) -> Any:
    """var = Σ (a − mean)² / (N − ddof) along axis (N: elements per result)."""
    centred = a - np.mean(a, axis=axis, keepdims=True)
    count = np.size(a) // max(1, np.size(np.sum(centred, axis=axis, keepdims=True)))
    return np.sum(centred * centred, axis=axis, keepdims=keepdims) / (count - ddof)


def _std(a: Any, axis: Any = None, ddof: Any = 0, keepdims: bool = False) -> Any:
    return np.sqrt(_var(a, axis, ddof, keepdims))


def _norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """np.linalg.norm by ord: None, 2 (vectors) and 'fro' (matrices): sqrt(Σ x²); vectors
    also 1 (Σ|x|), inf (max |x|), -inf (min |x|) and p > 0 ((Σ|x|ᵖ)^(1/p))."""
    matrix = (axis is None and np.ndim(x) == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if axis is not None and not isinstance(axis, tuple):
        axis = (axis,)
    if ord is None or (matrix and ord == "fro") or (not matrix and ord == 2):
        return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
    if matrix or isinstance(ord, str) or ord == 0:
        raise UnsupportedError(f"numpy.linalg.norm is differentiated with ord=None, 2, 1, inf, "
                               f"-inf or p > 0 for vectors and None/'fro' for matrices, not "
                               f"ord={ord!r}{' of a matrix' if matrix else ''}")
    magnitude = np.abs(x)
    if ord == np.inf:
        return np.max(magnitude, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(magnitude, axis=axis, keepdims=keepdims)
    if ord == 1:
        return np.sum(magnitude, axis=axis, keepdims=keepdims)
    return np.sum(magnitude ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _outer(a: Any, b: Any) -> Any:
    return np.reshape(np.ravel(a), (-1, 1)) * np.reshape(np.ravel(b), (1, -1))


def _inner(a: Any, b: Any) -> Any:
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    return np.tensordot(a, b, axes=([-1], [-1]))


def _vdot(a: Any, b: Any) -> Any:
    return np.sum(np.ravel(a) * np.ravel(b))  # real numbers: no conjugate


def _kron(a: Any, b: Any) -> Any:
    """kron: every product a[i]·b[j] at index i·shape(b) + j, by interleaved unit axes."""
    ndim = max(np.ndim(a), np.ndim(b))
    shape_a = (1,) * (ndim - np.ndim(a)) + tuple(np.shape(a))
    shape_b = (1,) * (ndim - np.ndim(b)) + tuple(np.shape(b))
    spread_a = np.reshape(a, [n for p in shape_a for n in (p, 1)])
    spread_b = np.reshape(b, [n for q in shape_b for n in (1, q)])
    return np.reshape(spread_a * spread_b, [p * q for p, q in zip(shape_a, shape_b)])


def _cross(a: Any, b: Any) -> Any:
    """The cross product of 3-vectors along the last axis (broadcasting the others)."""
    if np.shape(a)[-1:] != (3,) or np.shape(b)[-1:] != (3,):
        raise UnsupportedError("numpy.cross is differentiated for 3-vectors along the last "
                               "axis")
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """tensordot as one matrix product: a's summed axes last, b's first, both flattened."""
    ndim_a, ndim_b = np.ndim(a), np.ndim(b)
    if isinstance(axes, (int, np.integer)):
        summed_a, summed_b = list(range(ndim_a - axes, ndim_a)), list(range(axes))
    else:
        summed_a, summed_b = ([int(i) for i in np.atleast_1d(side)] for side in axes)
    summed_a = [i % ndim_a for i in summed_a]
    summed_b = [i % ndim_b for i in summed_b]
    free_a = [i for i in range(ndim_a) if i not in summed_a]
    free_b = [i for i in range(ndim_b) if i not in summed_b]
    shape_a, shape_b = np.shape(a), np.shape(b)
    size = int(np.prod([shape_a[i] for i in summed_a]))
    left = np.reshape(np.transpose(a, free_a + summed_a), (-1, size))
    right = np.reshape(np.transpose(b, summed_b + free_b), (size, -1))
    return np.reshape(np.matmul(left, right), [shape_a[i] for i in free_a]
                      + [shape_b[i] for i in free_b])


def _linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True) -> Any:
    """linspace as numpy computes it: start + i·step, step = (stop − start)/div, the last
    point stop itself (endpoint=True); start and stop may be traced."""
    div = (num - 1) if endpoint else num
    ndim = max(np.ndim(start), np.ndim(stop))
    steps = np.arange(num, dtype=float).reshape((num,) + (1,) * ndim)
    delta = stop - start
    points = start + steps * (delta / div) if div > 0 else start + steps * delta
    if endpoint and num > 1:
        last = np.arange(num).reshape(steps.shape) == num - 1
        points = np.where(last, stop + 0.0 * steps, points)
    return points


def _diff(a: Any, n: int = 1, axis: int = -1) -> Any:
    """diff = the difference of neighbours along ``axis``, n times: slices and a subtraction."""
    for _ in range(n):
        ndim = np.ndim(a)
        upper = tuple(slice(1, None) if i == axis % ndim else slice(None) for i in range(ndim))
        lower = tuple(slice(None, -1) if i == axis % ndim else slice(None) for i in range(ndim))
        a = a[upper] - a[lower]
    return a


def _piecewise(x: Any, condlist: Any, funclist: Any) -> Any:
    """piecewise = select over the pieces, each piece evaluated on all of x (numpy evaluates
    it on its own elements only); a function list one longer than the conditions has a
    default for where none holds."""
    conditions = list(condlist) if isinstance(condlist, (list, tuple)) else [condlist]
    pieces = [f(x) if callable(f) else f + 0.0 * x for f in funclist]
    default = pieces[len(conditions)] if len(pieces) > len(conditions) else 0.0 * x
    result = default
    for condition, piece in reversed(list(zip(conditions, pieces))):
        result = np.where(condition, piece, result)
    return result


def _nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None,
                neginf: Any = None) -> Any:
    """nan_to_num = where: finite values kept (with their derivative), the others replaced by
    constants."""
    largest = np.finfo(float).max
    posinf = largest if posinf is None else posinf
    neginf = -largest if neginf is None else neginf
    infinite = np.where(np.greater(x, 0), posinf, neginf)
    return np.where(np.isnan(x), nan, np.where(np.isinf(x), infinite, x))


def _sinc(x: Any) -> Any:
    """sinc = sin(πx)/(πx), 1 at 0; the denominator is made safe (1 at 0, a constant there),
    so the derivative at 0 is exactly sinc'(0) = 0."""
    zero = np.equal(x, 0)
    angle = np.pi * np.where(zero, 1.0, x)
    return np.where(zero, 1.0, np.sin(angle) / angle)


def _fliplr(m: Any) -> Any:
    return np.flip(m, axis=1)


def _flipud(m: Any) -> Any:
    return np.flip(m, axis=0)


# --------------------------------------------------------------------------------------------
# matrix functions: the derivative formulas, written with numpy calls (any engine may reuse)
# --------------------------------------------------------------------------------------------
def _trace_of_solve(a: Any, da: Any) -> Any:
    """tr(A⁻¹ dA), batched over any leading axes of dA."""
    return np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1)


def _det_jvp(values: list, tangents: list) -> tuple:
    """d det A = det A · tr(A⁻¹ dA) (Jacobi's formula)."""
    det = np.linalg.det(values[0])
    return det, det * _trace_of_solve(values[0], tangents[0])


def _inv_jvp(values: list, tangents: list) -> tuple:
    """d A⁻¹ = −A⁻¹ dA A⁻¹."""
    inverse = np.linalg.inv(values[0])
    return inverse, -(inverse @ tangents[0] @ inverse)


def _solve_jvp(values: list, tangents: list) -> tuple:
    """x = A⁻¹b: dx = A⁻¹(db − dA x). numpy 2 treats b as a vector only when b.ndim == 1, so a
    vector b's batched right-hand side gets a unit last axis."""
    (a, b), (da, db) = values, tangents
    x = np.linalg.solve(a, b)
    rhs = 0.0 if db is None else db
    if da is not None:
        rhs = rhs - da @ x
    if np.ndim(b) == 1:
        return x, np.linalg.solve(a, np.asarray(rhs)[..., None])[..., 0]
    return x, np.linalg.solve(a, rhs)


def _slogdet_jvp(values: list, tangents: list) -> tuple:
    """(sign, log|det A|): the sign has derivative 0, d log|det A| = tr(A⁻¹ dA)."""
    result = np.linalg.slogdet(values[0])
    return result, (None, _trace_of_solve(values[0], tangents[0]))


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
    ArrayRule(np.clip, "composed", ("a_min", "a_max"), composition=_clip, analytic=False),
    ArrayRule(np.hstack, "composed", sequence=True, composition=_hstack),
    ArrayRule(np.vstack, "composed", sequence=True, composition=_vstack),
    ArrayRule(np.diag, "linear", ("k",), batched_from=None),
    ArrayRule(np.diagonal, "linear", ("offset", "axis1", "axis2"),
              moves=(("axis1", "axis"), ("axis2", "axis"))),
    ArrayRule(np.triu, "linear", ("k",), batched_from=2),
    ArrayRule(np.tril, "linear", ("k",), batched_from=2),
    ArrayRule(np.repeat, "linear", ("repeats", "axis"), axis="axis", flattens=True),
    ArrayRule(np.tile, "linear", ("reps",), moves=(("reps", "reps"),)),
    ArrayRule(np.roll, "linear", ("shift", "axis"), axis="axis", flattens=True,
              restores_shape=True),
    ArrayRule(np.flip, "linear", ("axis",), axis="axis"),
    ArrayRule(np.rot90, "linear", ("k", "axes"), moves=(("axes", "axis"),)),
    ArrayRule(np.swapaxes, "linear", ("axis1", "axis2"),
              moves=(("axis1", "axis"), ("axis2", "axis"))),
    ArrayRule(np.moveaxis, "linear", ("source", "destination"),
              moves=(("source", "axis"), ("destination", "axis"))),
    ArrayRule(np.pad, "linear", ("pad_width", "mode"), moves=(("pad_width", "pad_width"),),
              accepts=(("constant_values", 0),),
              choices=(("mode", ("constant", "edge", "wrap", "symmetric", "reflect")),)),
    ArrayRule(np.diff, "composed", ("n", "axis"), composition=_diff),
    ArrayRule(np.piecewise, "composed", ("condlist", "funclist"), composition=_piecewise),
    ArrayRule(np.take, "linear", ("indices", "axis"), axis="axis", flattens=True),
    ArrayRule(np.split, "linear", ("indices_or_sections", "axis"), axis="axis"),
    ArrayRule(np.array_split, "linear", ("indices_or_sections", "axis"), axis="axis"),
    ArrayRule(np.einsum, "multilinear", ("optimize",), moves=(("subscripts", "subscripts"),),
              subscripts=True),
    ArrayRule(np.max, "extremum", ("axis", "keepdims"), axis="axis", analytic=False),
    ArrayRule(np.min, "extremum", ("axis", "keepdims"), axis="axis", analytic=False),
    ArrayRule(np.amax, "extremum", ("axis", "keepdims"), axis="axis", analytic=False),
    ArrayRule(np.amin, "extremum", ("axis", "keepdims"), axis="axis", analytic=False),
    ArrayRule(np.prod, "product", ("axis", "keepdims"), axis="axis"),
    ArrayRule(np.cumprod, "product", ("axis",), axis="axis", flattens=True),
    ArrayRule(np.linalg.det, "matrix", jvp=_det_jvp),
    ArrayRule(np.linalg.inv, "matrix", jvp=_inv_jvp),
    ArrayRule(np.linalg.solve, "matrix", arrays=("a", "b"), jvp=_solve_jvp),
    ArrayRule(np.linalg.slogdet, "matrix", jvp=_slogdet_jvp, analytic=False),
    ArrayRule(np.trace, "composed", ("offset", "axis1", "axis2"), composition=_trace),
    ArrayRule(np.append, "composed", ("axis",), arrays=("arr", "values"), composition=_append),
    ArrayRule(np.column_stack, "composed", sequence=True, composition=_column_stack),
    ArrayRule(np.select, "composed", arrays=("choicelist", "default"), condition="condlist",
              composition=_select),
    ArrayRule(np.average, "composed", ("axis", "weights", "keepdims"), composition=_average),
    ArrayRule(np.var, "composed", ("axis", "ddof", "keepdims"), composition=_var,
              analytic=False),
    ArrayRule(np.std, "composed", ("axis", "ddof", "keepdims"), composition=_std,
              analytic=False),
    ArrayRule(np.linalg.norm, "composed", ("ord", "axis", "keepdims"), composition=_norm,
              analytic=False),
    ArrayRule(np.outer, "composed", arrays=("a", "b"), composition=_outer),
    ArrayRule(np.inner, "composed", arrays=("a", "b"), composition=_inner),
    ArrayRule(np.vdot, "composed", arrays=("a", "b"), composition=_vdot),
    ArrayRule(np.kron, "composed", arrays=("a", "b"), composition=_kron),
    ArrayRule(np.cross, "composed", arrays=("a", "b"), composition=_cross),
    ArrayRule(np.tensordot, "composed", ("axes",), arrays=("a", "b"), composition=_tensordot),
    ArrayRule(np.linspace, "composed", ("num", "endpoint"), arrays=("start", "stop"),
              composition=_linspace),
    ArrayRule(np.nan_to_num, "composed", ("copy", "nan", "posinf", "neginf"),
              composition=_nan_to_num, analytic=False),
    ArrayRule(np.sinc, "composed", composition=_sinc),
    ArrayRule(np.fliplr, "composed", composition=_fliplr),
    ArrayRule(np.flipud, "composed", composition=_flipud),
    ArrayRule(np.argmax, "query", ("axis", "keepdims"), reads_values=True, analytic=False),
    ArrayRule(np.argmin, "query", ("axis", "keepdims"), reads_values=True, analytic=False),
    ArrayRule(np.argsort, "query", ("axis", "kind", "stable"), reads_values=True,
              analytic=False),
    ArrayRule(np.shape, "query"),
    ArrayRule(np.ndim, "query"),
    ArrayRule(np.size, "query", ("axis",)),
    ArrayRule(np.zeros_like, "constant", _LIKE),
    ArrayRule(np.ones_like, "constant", _LIKE),
    ArrayRule(np.full_like, "constant", ("fill_value", *_LIKE)),
    ArrayRule(np.empty_like, "constant", _LIKE),
]}
