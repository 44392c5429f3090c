"""numpy code on SymPy symbols and mpmath numbers: the exact backends' reading of the table.

The symbolic engine traces a user's numpy callable with a vector of SymPy symbols, and the
reference evaluates it with mpmath numbers at 50 digits. Neither is a numpy dtype: numpy holds
them in object arrays, where ufuncs call each element's method of the ufunc's name (which SymPy
and mpmath numbers lack) and many functions (``np.linalg.det``, ``np.where`` on symbolic
conditions, ``np.max`` of symbols) fail or silently need a value. :class:`ObjectArray` wraps
such an array and reads numpy's calls from the two halves of diffx's rule table:

- a ufunc is its elementary row, applied element by element (the row's SymPy or mpmath form);
- an array function by its kind (:mod:`diffx.array_rules`): linear, reshape, bilinear and
  product functions are numpy's own, run on the object array (they only add and multiply);
  ``where`` becomes SymPy's ``Piecewise`` of the symbolic condition (values: numpy's choice);
  ``max``/``min`` pairwise as (a + b ± |a − b|)/2 (values: comparisons); the matrix
  functions SymPy's or mpmath's matrices; a composed function runs its composition on the
  wrapped array.

A symbolic value has no truth value: a Python ``if`` on it (a data-dependent branch) raises
UnsupportedError with that reason, as does anything outside the table.

    >>> import sympy
    >>> x = ObjectArray(np.array(sympy.symbols("a b"), dtype=object))
    >>> unwrap(np.sum(np.sin(x) ** 2))
    sin(a)**2 + sin(b)**2
    >>> unwrap(np.where(x > 0, x, -x)[0])
    Piecewise((a, a > 0), (-a, True))
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import sympy

from diffx import elementary as E
from diffx.array_rules import ARRAY_RULES, PRIMAL_ONLY, ArrayRule, NumpyMethods
from diffx.errors import UnsupportedError

__all__ = ["ObjectArray", "flat_outputs", "unwrap", "wrap"]

_COMPARISONS = {np.greater: sympy.Gt, np.greater_equal: sympy.Ge, np.less: sympy.Lt,
                np.less_equal: sympy.Le, np.equal: sympy.Eq, np.not_equal: sympy.Ne}


class ObjectArray(E.TableArithmetic, NumpyMethods):
    """An object array of SymPy expressions or mpmath numbers that numpy's functions, ufuncs,
    methods and operators act on through diffx's table (see the module). ``value`` is the
    object ndarray; a 0-d result is wrapped too, so ``np.sin`` still works on it."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = np.asarray(value, dtype=object)

    # --- array behaviour ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple: return self.value.shape
    @property
    def ndim(self) -> int: return self.value.ndim
    @property
    def size(self) -> int: return self.value.size

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: Any) -> ObjectArray:
        return ObjectArray(self.value[unwrap(index)])

    def __setitem__(self, index: Any, item: Any) -> None:
        self.value[unwrap(index)] = unwrap(item)

    def __matmul__(self, other): return np.matmul(self, other)
    def __rmatmul__(self, other): return np.matmul(other, self)
    def __lt__(self, other): return _compare(np.less, self, other)
    def __le__(self, other): return _compare(np.less_equal, self, other)
    def __gt__(self, other): return _compare(np.greater, self, other)
    def __ge__(self, other): return _compare(np.greater_equal, self, other)

    def __bool__(self) -> bool:
        if self.value.size == 1 and not _symbolic(self.value):
            return bool(self.value.item())
        if _symbolic(self.value):
            raise UnsupportedError(
                "the function branches on the value of its input (a Python if or while on "
                "it), which a SymPy expression does not have: there is no single formula to "
                "differentiate; write the branch with np.where")
        return bool(self.value)

    def __float__(self) -> float:
        if _symbolic(self.value):
            raise TypeError("converting a traced SymPy value to float would drop it; use "
                            "numpy or diffx functions instead of math.*")
        return float(self.value.item())

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs:
            if ufunc in _COMPARISONS:
                return _compare(ufunc, *inputs)
            if ufunc in PRIMAL_ONLY:
                return _tests(ufunc, [unwrap(a) for a in inputs])
            row = E.row_for_ufunc(ufunc, method, kwargs)
            if row is not None:
                return row(*inputs)
            if ufunc is np.matmul:
                return _numpy_on_objects(ARRAY_RULES[np.matmul], list(inputs), {})
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        raise UnsupportedError(f"numpy.{name} is not in diffx's table, so it cannot be traced "
                               f"with SymPy symbols or mpmath numbers")

    def __array_function__(self, func, types, args, kwargs):
        rule = ARRAY_RULES.get(func)
        if rule is None or rule.kind not in READINGS:
            raise UnsupportedError(
                f"numpy.{func.__name__} has no rule in the symbolic engine or the reference's "
                f"mpmath reading (diffx's array table has no entry for it)")
        arrays, params = rule.bind(args, kwargs)
        return READINGS[rule.kind](rule, arrays, params)

    def __repr__(self) -> str:
        return f"ObjectArray({self.value!r})"


def _symbolic(values: np.ndarray) -> bool:
    return any(isinstance(v, sympy.Basic) and not v.is_Number for v in values.ravel())


def unwrap(x: Any) -> Any:
    """The object array (or element) inside ``x``; lists and tuples item by item."""
    if isinstance(x, ObjectArray):
        return x.value if x.value.ndim else x.value.item()
    if isinstance(x, E.Boxed):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap(item) for item in x)
    return x


def flat_outputs(out: Any) -> list:
    """A traced callable's output (a wrapped array or scalar, a list or tuple of them, an
    object array) as a flat list of SymPy expressions or mpmath numbers.

    >>> flat_outputs([ObjectArray(np.array([1, 2], dtype=object)), 3])
    [1, 2, 3]
    """
    if isinstance(out, (list, tuple)):
        return [item for o in out for item in flat_outputs(o)]
    value = unwrap(out)
    if isinstance(value, np.ndarray):
        return [item for v in value.ravel() for item in flat_outputs(v)]
    return [value]


def wrap(x: Any) -> Any:
    """A result as the callable should see it: object arrays and SymPy/mpmath scalars wrapped,
    plain numbers and bool arrays (from values) as they are."""
    if isinstance(x, np.ndarray):
        return ObjectArray(x) if x.dtype == object else x
    if isinstance(x, (sympy.Basic, mpmath.mpf, mpmath.mpc)):
        return ObjectArray(np.array(x, dtype=object))
    if isinstance(x, tuple):
        return tuple(wrap(item) for item in x)
    return x


def _elementwise(function: Any, arrays: list) -> np.ndarray:
    broadcast = np.broadcast_arrays(*[np.asarray(a, dtype=object) for a in arrays])
    out = np.empty(broadcast[0].shape, dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = function(*(a[index] for a in broadcast))
    return out


def _compare(ufunc: np.ufunc, a: Any, b: Any) -> Any:
    """A comparison: SymPy relationals for symbols (a condition np.where can read), booleans
    for numbers."""
    values = [unwrap(a), unwrap(b)]
    if any(_symbolic(np.asarray(v, dtype=object)) for v in values):
        def relation(p: Any, q: Any) -> Any:
            if _is_symbol(p) or _is_symbol(q):
                return _COMPARISONS[ufunc](p, q)
            return bool(ufunc(float(p), float(q)))  # numbers (NaN included) compare as floats

        return wrap(_elementwise(relation, values))
    return _elementwise(lambda p, q: bool(ufunc(p, q)), values).astype(bool)


_MPMATH_TESTS = {np.isnan: mpmath.isnan, np.isinf: mpmath.isinf, np.isfinite: mpmath.isfinite,
                 np.signbit: lambda v: v < 0}
_SYMBOL_TESTS = {np.isnan: False, np.isinf: False, np.isfinite: True}  # real symbols


def _is_symbol(v: Any) -> bool:
    return isinstance(v, sympy.Basic) and not v.is_Number


def _number(v: Any) -> Any:
    return mpmath.mpf(float(v)) if isinstance(v, (sympy.Basic, float, int)) else v


def _tests(ufunc: np.ufunc, values: list) -> Any:
    """isnan, isinf, isfinite, signbit on SymPy or mpmath values, element by element
    (booleans; a real symbol is finite, a number is tested)."""
    def test(v: Any) -> bool:
        if _is_symbol(v):
            if ufunc not in _SYMBOL_TESTS:
                raise UnsupportedError(f"numpy.{ufunc.__name__} of a SymPy symbol has no value")
            return _SYMBOL_TESTS[ufunc]
        return bool(_MPMATH_TESTS[ufunc](_number(v)))

    return _elementwise(test, values).astype(bool)


def _handle_row(row: E.Elementary, args: tuple) -> Any:
    values = [unwrap(a) for a in args]
    if any(isinstance(v, np.ndarray) for v in values):
        return wrap(row._elementwise(tuple(values)))
    return wrap(row(*values))


E.register_type(ObjectArray, _handle_row)


# --------------------------------------------------------------------------------------------
# Readings by kind
# --------------------------------------------------------------------------------------------
def _numpy_on_objects(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """numpy's own function on the object arrays: it only moves, adds and multiplies them."""
    if rule.sequence:
        values = [[np.asarray(unwrap(p), dtype=object) for p in arrays[0]]]
    else:
        values = [None if a is None else _as_operand(unwrap(a)) for a in arrays]
    if rule.condition:
        params = {**params, rule.condition: unwrap(params[rule.condition])}
    return wrap(rule.call(values, params))


def _as_operand(v: Any) -> Any:
    return np.asarray(v, dtype=object) if isinstance(v, np.ndarray) or _is_object(v) else v


def _is_object(v: Any) -> bool:
    return isinstance(v, (sympy.Basic, mpmath.mpf, mpmath.mpc))


def _selection(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """np.where: Piecewise of a symbolic condition, numpy's choice for a boolean one."""
    condition = unwrap(params[rule.condition])
    values = [unwrap(a) for a in arrays if a is not None]
    if not (isinstance(condition, np.ndarray) and condition.dtype == object
            and _symbolic(condition)) and not isinstance(condition, sympy.Basic):
        return wrap(np.where(np.asarray(condition, dtype=bool), *values))
    return wrap(_elementwise(lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
                             [condition, *values]))


def _pairwise(values: list, largest: bool) -> Any:
    """max (min) of SymPy expressions as (a + b ± |a − b|)/2, reduced as a balanced tree. Its
    derivative follows the table's tie convention (two tied arguments share equally, as
    sign(0) = 0 gives) and has no Piecewise: SymPy's own Max differentiates into nested
    Heaviside conditions that lambdify prints as an np.select numpy refuses."""
    while len(values) > 1:
        pairs = [(a + b + (1 if largest else -1) * sympy.Abs(a - b)) / 2
                 for a, b in zip(values[0::2], values[1::2])]
        values = pairs + ([values[-1]] if len(values) % 2 else [])
    return values[0]


def _extremum(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """max / min: numpy's own on numbers; on symbols, :func:`_pairwise` along the axes."""
    values = np.asarray(unwrap(arrays[0]), dtype=object)
    if not _symbolic(values):
        return wrap(rule.function(values, **params))
    largest = rule.function in (np.max, np.amax)
    axis, keepdims = params.get("axis"), params.get("keepdims", False)
    axes = tuple(range(values.ndim)) if axis is None else tuple(
        a % values.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    moved = np.moveaxis(values, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape((*moved.shape[:moved.ndim - len(axes)], -1))
    out = np.empty(flat.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = _pairwise(list(flat[index]), largest)
    if keepdims:
        out = out.reshape(tuple(1 if i in axes else n for i, n in enumerate(values.shape)))
    return wrap(out if out.ndim else out.item())


def _matrix(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """det, inv, solve, slogdet with SymPy's matrices (symbols) or mpmath's (numbers)."""
    A = np.asarray(unwrap(arrays[0]), dtype=object)
    if A.ndim != 2:
        raise UnsupportedError(f"{rule.name} of a stack of matrices is not traced here")
    symbolic = any(_symbolic(np.asarray(unwrap(a), dtype=object)) for a in arrays
                   if a is not None)
    name = rule.function.__name__
    if symbolic:
        M = sympy.Matrix(A.tolist())
        if name == "det":
            return wrap(M.det(method="berkowitz"))
        if name == "slogdet":
            det = M.det(method="berkowitz")
            return (wrap(sympy.sign(det)), wrap(sympy.log(sympy.Abs(det))))
        if name == "inv":
            return wrap(np.array(M.inv().tolist(), dtype=object))
        b = np.asarray(unwrap(arrays[1]), dtype=object)
        x = M.LUsolve(sympy.Matrix(b.reshape(len(b), -1).tolist()))
        return wrap(np.array(x.tolist(), dtype=object).reshape(b.shape))
    M = mpmath.matrix(A.tolist())
    if name == "det":
        return wrap(mpmath.det(M))
    if name == "slogdet":
        det = mpmath.det(M)
        return (wrap(mpmath.sign(det)), wrap(mpmath.log(abs(det))))
    if name == "inv":
        return wrap(np.array(M ** -1, dtype=object).reshape(A.shape))
    b = np.asarray(unwrap(arrays[1]), dtype=object)
    columns = b.reshape(len(b), -1)
    x = np.array([[v for v in mpmath.lu_solve(M, mpmath.matrix(columns[:, j].tolist()))]
                  for j in range(columns.shape[1])], dtype=object).T
    return wrap(x.reshape(b.shape))


def _query(rule: ArrayRule, arrays: list, params: dict) -> Any:
    values = unwrap(arrays[0])
    if rule.reads_values and _symbolic(np.asarray(values, dtype=object)):
        raise UnsupportedError(f"{rule.name} depends on the values of its argument, which "
                               f"SymPy symbols do not have: there is no single formula")
    return rule.function(values, **params)


READINGS = {
    "linear": _numpy_on_objects, "multilinear": _numpy_on_objects,
    "reshape": _numpy_on_objects, "bilinear": _numpy_on_objects,
    "product": _numpy_on_objects, "selection": _selection, "extremum": _extremum,
    "matrix": _matrix,
    "composed": lambda rule, arrays, params: rule.composition(*arrays, **params),
    "query": _query,
    "constant": lambda rule, arrays, params: rule.function(
        np.zeros(np.shape(unwrap(arrays[0]))), **params)}
