"""numpy code on TensorFlow tensors: the tape engines' reading of diffx's two tables.

A user's callable written with numpy (``np.sum(np.sin(x)**2)``, ``x[1:] - x[:-1]**2``,
``W @ x``, ``np.where(x > 0, x, 0)``) receives its input as a :class:`TensorBox`: a
TensorFlow tensor whose numpy protocol hooks turn every numpy call into TensorFlow ops, so
``tf.GradientTape`` and ``tf.autodiff.ForwardAccumulator`` differentiate them with
TensorFlow's own gradients, eagerly or traced into a graph (``mode="graph"``: the hooks then
run only at tracing). Nothing here has a derivative rule of its own:

- ufuncs (``__array_ufunc__``): the row of :mod:`diffx.elementary` the ufunc stands for runs
  its TensorFlow form (``tf.math.sin``; tanh and sigmoid with the table's accurate rules); the
  ufuncs of no row that TensorFlow differentiates as numpy would (np.maximum/np.minimum) and
  the comparisons and logical ufuncs map to their ``tf.math`` ops;
- array functions (``__array_function__``): the function's entry in
  :data:`diffx.array_rules.ARRAY_RULES`, read once per *kind*: ``composed`` runs its
  ``composition`` on boxes, ``query`` answers from the static shape, ``matrix`` runs the
  same-named ``tf.linalg`` function, and every other kind (linear, reshape, bilinear,
  selection, constant, ...) the same-named function of ``tf.experimental.numpy`` with the
  parameters the entry honours. A numpy function outside the table raises UnsupportedError;
- operators, ``@``, comparisons (boxed boolean tensors, usable by np.where), indexing (basic;
  integer arrays by ``tf.gather``/``tf.gather_nd``; boolean masks by ``tf.boolean_mask``),
  ``len``, iteration, ``.shape``/``.ndim``/``.size``/``.dtype``, and ndarray's methods
  (``.sum() .T .reshape() .max()`` ...: :class:`diffx.array_rules.NumpyMethods`, which calls
  numpy's functions on the box, so they come back through ``__array_function__``);
- ``np.array([...])`` of boxes makes an object array of boxes (numpy cannot hold tensors);
  where it meets a box again, and as a return value (like a list or tuple), it becomes one
  stacked tensor (``tf.stack``), so vector-valued callables work under ``tape.jacobian`` and
  ForwardAccumulator.

At kinks TensorFlow's conventions apply: abs'(0) = sign(0) = 0, relu'(0) = 0; np.maximum(a, b)
at a tie passes the whole derivative to a (TF: a ≥ b), np.minimum to a (a ≤ b); np.max / np.min
at ties split the derivative evenly between the tied entries; np.where differentiates both
branches and selects (a NaN derivative of the unused branch, e.g. sqrt at a negative
number, still gives NaN: mask the argument too).

Known limits: ``np.asarray(x)`` / ``np.array(x)`` of a whole boxed vector gives an object array
of one box per element (correct, but one TensorFlow op per element afterwards: leave it out);
``float(x)``, ``x.item()`` and index assignment ``y[i] = ...`` are refused (they would make the
value a constant); ``if x > 0:`` works eagerly but not in graph mode (use np.where).

    >>> import numpy as np, tensorflow as tf
    >>> x = tf.constant([0.5, 1.0])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = np.sum(np.sin(TensorBox(x)) ** 2)
    >>> np.allclose(tape.gradient(y.value, x), np.sin(2 * x.numpy()))
    True
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from diffx import elementary as E
from diffx.array_rules import ARRAY_RULES, ArrayRule, NumpyMethods
from diffx.errors import UnsupportedError

__all__ = ["ENGINES", "TensorBox", "as_tensor", "stacked"]

ENGINES = "the TensorFlow engines (tape, tape-forward)"


class TensorBox(NumpyMethods, E.Boxed):
    """A TensorFlow tensor (``.value``) that numpy code runs on as TensorFlow ops (see the
    module docstring). A :class:`diffx.elementary.Boxed` value, so ``diffx.elementary.unbox``
    and ``tf.convert_to_tensor`` see through it, and ``tf.*`` functions accept it.

    >>> b = TensorBox(tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    >>> b.shape, float((b @ b)[1, 0].value), bool(np.all((b > 2.0)[1].value))
    ((2, 2), 15.0, True)
    """

    __slots__ = ()
    __array_priority__ = 1000

    # --- operators: the tensor's own ops, after numpy's type promotion ----------------------
    def __add__(self, other): return _operator(operator.add, self, other)
    def __radd__(self, other): return _operator(operator.add, self, other, True)
    def __sub__(self, other): return _operator(operator.sub, self, other)
    def __rsub__(self, other): return _operator(operator.sub, self, other, True)
    def __mul__(self, other): return _operator(operator.mul, self, other)
    def __rmul__(self, other): return _operator(operator.mul, self, other, True)
    def __truediv__(self, other): return _operator(operator.truediv, self, other)
    def __rtruediv__(self, other): return _operator(operator.truediv, self, other, True)
    def __pow__(self, other): return _operator(operator.pow, self, other)
    def __rpow__(self, other): return _operator(operator.pow, self, other, True)
    def __matmul__(self, other): return array_function(np.matmul, (self, other), {})
    def __rmatmul__(self, other): return array_function(np.matmul, (other, self), {})
    def __mod__(self, other): return np.remainder(self, other)
    def __rmod__(self, other): return np.remainder(other, self)
    def __neg__(self): return TensorBox(-self.value)
    def __pos__(self): return self
    def __abs__(self): return TensorBox(tf.math.abs(self.value))

    def __lt__(self, other): return _operator(operator.lt, self, other)
    def __le__(self, other): return _operator(operator.le, self, other)
    def __gt__(self, other): return _operator(operator.gt, self, other)
    def __ge__(self, other): return _operator(operator.ge, self, other)
    def __eq__(self, other): return _binary(tf.math.equal, self, other)  # type: ignore[override]
    def __ne__(self, other): return _binary(tf.math.not_equal, self, other)  # type: ignore[override]
    def __and__(self, other): return _binary(tf.math.logical_and, self, other)
    def __rand__(self, other): return _binary(tf.math.logical_and, other, self)
    def __or__(self, other): return _binary(tf.math.logical_or, self, other)
    def __ror__(self, other): return _binary(tf.math.logical_or, other, self)
    def __invert__(self): return TensorBox(tf.math.logical_not(self.value))
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if not tf.executing_eagerly():
            raise UnsupportedError(
                "a branch on a traced value (if, while, and, or on an array) cannot be traced "
                "by the TensorFlow engines in graph mode; use np.where, or mode='eager'")
        return bool(self.value)

    def __float__(self) -> float:
        raise UnsupportedError(
            "float() of a traced value (also math.sin(x), x.item(), storing it in a float "
            f"array) would make it a constant that {ENGINES} cannot differentiate; use numpy "
            "functions on the array itself, and np.where / np.stack instead of index "
            "assignment")

    __int__ = __complex__ = __float__

    # --- shape, length, iteration, indexing --------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return self.value.shape.rank

    @property
    def size(self) -> int:
        return self.value.shape.num_elements()

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.value.dtype.as_numpy_dtype)

    def __len__(self) -> int:
        if self.value.shape.rank == 0:
            raise TypeError("len() of unsized object")
        return self.value.shape[0]

    def __iter__(self):
        return (TensorBox(t) for t in tf.unstack(self.value))

    def __getitem__(self, index: Any) -> TensorBox:
        kind = type(index)
        if kind is int or kind is slice:  # the common cases first: x[0], x[1:]
            return TensorBox(self.value[index])
        return TensorBox(_indexed(self.value, index))

    def __setitem__(self, index: Any, value: Any) -> None:
        raise UnsupportedError(
            f"index assignment (x[i] = ...) on a traced array: {ENGINES} differentiate "
            "TensorFlow tensors, which are immutable; build the array with np.where, "
            "np.stack or np.concatenate instead")

    # --- numpy's protocols ------------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """An object array of boxes (numpy cannot hold tensors): one box for a scalar, one
        per element otherwise (see the module's known limits)."""
        out = np.empty(self.shape, dtype=object)
        if out.ndim == 0:
            out[()] = self
        else:
            out.reshape(-1)[:] = [TensorBox(t) for t in tf.unstack(tf.reshape(self.value, [-1]))]
        return out if dtype is None else out.astype(dtype)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            form = UFUNC_FORMS.get(ufunc)
            if form is not None:
                if len(inputs) == 1:
                    return TensorBox(form(_raw(inputs[0])))
                return _binary(form, *inputs)
            if ufunc in ARRAY_RULES:  # np.matmul is a ufunc
                return array_function(ufunc, inputs, {})
        reduction = _UFUNC_METHODS.get((ufunc, method))
        if reduction is not None and not kwargs.keys() - {"axis", "keepdims"}:
            axis = kwargs.get("axis", 0)
            return array_function(reduction, inputs, {**kwargs, "axis": axis})
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        extra = f" with {', '.join(f'{k}=' for k in kwargs)}" if kwargs else ""
        raise UnsupportedError(
            f"numpy.{name}{extra} has no row in diffx's elementary table (diffx.elementary), "
            f"so {ENGINES} cannot differentiate it")

    def __array_function__(self, func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
        return array_function(func, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        # numpy runs a ufunc on an object array by calling the method of its name on each item
        ufunc = _UFUNC_OF_NAME.get(name)
        if ufunc is not None:
            return functools.partial(ufunc, self)
        return getattr(self.value, name)

    def __repr__(self) -> str:
        return f"TensorBox({self.value!r})"


# --------------------------------------------------------------------------------------------
# Operands: boxes unwrapped, numpy constants and object arrays made tensors, dtypes promoted
# --------------------------------------------------------------------------------------------
def _raw(x: Any) -> Any:
    """The TensorFlow-side value of ``x``: a box's tensor, an object array of boxes stacked,
    a sequence elementwise; anything else as it is."""
    kind = type(x)
    if kind is TensorBox:
        return x.value
    if kind is np.ndarray and x.dtype == object:
        return stacked(x)
    if kind is list or kind is tuple:
        return kind(_raw(item) for item in x)
    return x


_PYTHON_NUMBERS = (float, int, bool)


def _operator(op: Callable, box: TensorBox, other: Any, reflected: bool = False) -> TensorBox:
    """A Python operator: with a Python number, the tensor's own operator (which converts
    the number to the tensor's dtype); otherwise :func:`_binary`."""
    t = box.value
    if type(other) in _PYTHON_NUMBERS and not t.dtype.is_bool:
        return TensorBox(op(other, t) if reflected else op(t, other))
    return _binary(op, other, box) if reflected else _binary(op, box, other)


def _binary(op: Callable, a: Any, b: Any) -> TensorBox:
    """``op(a, b)`` on the tensors of a and b, after numpy's promotion: a Python number or a
    numpy constant takes the tensor's dtype; a boolean or integer tensor takes the float
    operand's; float32 meets float64 as float64."""
    a, b = _raw(a), _raw(b)
    if getattr(a, "dtype", None) is not getattr(b, "dtype", None):
        a, b = _promoted(a, b)
    return TensorBox(op(a, b))


def _promoted(a: Any, b: Any) -> tuple[Any, Any]:
    if not tf.is_tensor(a):  # a constant (number or numpy): the tensor's dtype
        b = _float_if_number(b, a)
        return _constant(a, b.dtype), b
    if not tf.is_tensor(b):
        a = _float_if_number(a, b)
        return a, _constant(b, a.dtype)
    if a.dtype == b.dtype:
        return a, b
    if a.dtype.is_floating and b.dtype.is_floating:
        wide = a.dtype if a.dtype.size >= b.dtype.size else b.dtype
        return tf.cast(a, wide), tf.cast(b, wide)
    if b.dtype.is_floating or (a.dtype.is_bool and not b.dtype.is_bool):
        return tf.cast(a, b.dtype), b
    return a, tf.cast(b, a.dtype)


def _float_if_number(t: Any, constant: Any) -> Any:
    """A boolean or integer tensor meeting a float constant becomes float64 (numpy's rule)."""
    if not t.dtype.is_floating and np.asarray(constant).dtype.kind == "f":
        return tf.cast(t, tf.float64)
    return t


def _constant(x: Any, dtype: Any) -> Any:
    """A numpy constant as a tensor of ``dtype`` (bool constants beside a bool tensor stay)."""
    if type(x) in _PYTHON_NUMBERS and not dtype.is_bool:
        return tf.constant(x, dtype=dtype)
    array = np.asarray(x)
    if array.dtype.kind == "b" and dtype.is_bool:
        return tf.constant(array)
    if array.dtype.kind in "biuf" and not dtype.is_bool:
        return tf.constant(array, dtype=dtype)
    return tf.constant(array)


def stacked(items: np.ndarray) -> Any:
    """An object array of boxes, tensors and numbers as one tensor of its shape (``tf.stack``
    of its items, in the dtype of its first tensor): how ``np.array([...])`` of boxes becomes
    an array TensorFlow differentiates."""
    flat = [_raw(item) for item in items.reshape(-1)]
    dtype = next((t.dtype for t in flat if tf.is_tensor(t)), tf.float64)
    tensors = [t if tf.is_tensor(t) and t.dtype == dtype else
               (tf.cast(t, dtype) if tf.is_tensor(t) else tf.constant(t, dtype=dtype))
               for t in flat]
    return tf.reshape(tf.stack(tensors), items.shape + tuple(tensors[0].shape))


def as_tensor(x: Any) -> Any:
    """A callable's return value (or one of its parts) as TensorFlow sees it: a box's tensor,
    an object array of boxes stacked; anything else as it is."""
    return _raw(x)


def _boxed(result: Any) -> Any:
    """Tensors in a result (also in a tuple, such as np.linalg.slogdet's) boxed again."""
    if tf.is_tensor(result):
        return TensorBox(result)
    if isinstance(result, tuple):
        return type(result)(*map(_boxed, result)) if hasattr(result, "_fields") else \
            tuple(map(_boxed, result))
    if isinstance(result, list):
        return [_boxed(r) for r in result]
    return result


# --------------------------------------------------------------------------------------------
# Indexing: basic by the tensor's own slicing; integer arrays by gather; boolean masks
# --------------------------------------------------------------------------------------------
def _is_index_array(index: Any) -> bool:
    return isinstance(index, (list, np.ndarray)) or (tf.is_tensor(index) and index.shape.rank)


def _indexed(t: Any, index: Any) -> Any:
    index = _raw(index)
    if _is_index_array(index):
        return _gathered(t, index, 0)
    if isinstance(index, tuple) and any(_is_index_array(i) for i in index):
        arrays = [k for k, i in enumerate(index) if _is_index_array(i)]
        if len(arrays) == 1 and all(isinstance(i, slice) and i == slice(None)
                                    for k, i in enumerate(index) if k != arrays[0]):
            return _gathered(t, index[arrays[0]], arrays[0])  # x[:, [0, 2]]
        if len(arrays) == len(index):  # x[[0, 1], [1, 2]]: one element per index tuple
            parts = np.broadcast_arrays(*(np.asarray(i) for i in index))
            positions = np.stack([p % t.shape[k] for k, p in enumerate(parts)], axis=-1)
            return tf.gather_nd(t, positions)
        raise UnsupportedError(
            f"index {index!r}: {ENGINES} take basic indices, one integer or boolean array "
            f"(with full slices elsewhere), or integer arrays on every axis")
    return t[index]


def _gathered(t: Any, index: Any, axis: int) -> Any:
    if tf.is_tensor(index):
        if index.dtype.is_bool:
            return tf.boolean_mask(t, index, axis=axis)
        return tf.gather(t, index, axis=axis)
    index = np.asarray(index)
    if index.dtype.kind == "b":
        return tf.boolean_mask(t, index, axis=axis)
    if index.dtype.kind not in "iu":
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    return tf.gather(t, index % t.shape[axis], axis=axis)  # numpy's negative indices


# --------------------------------------------------------------------------------------------
# ufuncs: the elementary table's TensorFlow forms
# --------------------------------------------------------------------------------------------
def _ufunc_forms() -> dict[np.ufunc, Callable]:
    """Each ufunc's TensorFlow op: its table row's form, else (no row: nothing to derive, or
    TensorFlow's derivative is numpy's) the tf.math op of the same meaning."""
    forms: dict[np.ufunc, Callable] = {
        np.maximum: tf.math.maximum, np.minimum: tf.math.minimum,
        np.greater: tf.math.greater, np.greater_equal: tf.math.greater_equal,
        np.less: tf.math.less, np.less_equal: tf.math.less_equal,
        np.equal: tf.math.equal, np.not_equal: tf.math.not_equal,
        np.logical_and: tf.math.logical_and, np.logical_or: tf.math.logical_or,
        np.logical_xor: tf.math.logical_xor, np.logical_not: tf.math.logical_not,
        np.isnan: tf.math.is_nan, np.isinf: tf.math.is_inf, np.isfinite: tf.math.is_finite,
    }
    forms.update({ufunc: row.tf(tf) for ufunc, row in E.ROW_OF_UFUNC.items()})
    return forms


UFUNC_FORMS: dict[np.ufunc, Callable] = _ufunc_forms()
_UFUNC_OF_NAME: dict[str, np.ufunc] = {ufunc.__name__: ufunc for ufunc in UFUNC_FORMS}
# ufunc methods that are array functions of the table: np.add.reduce(x) is np.sum(x, axis=0)
_UFUNC_METHODS: dict[tuple[np.ufunc, str], Callable] = {
    key: function for key, function in {
        (np.add, "reduce"): np.sum, (np.multiply, "reduce"): np.prod,
        (np.maximum, "reduce"): np.max, (np.minimum, "reduce"): np.min,
        (np.add, "accumulate"): np.cumsum, (np.multiply, "accumulate"): np.cumprod,
    }.items() if function in ARRAY_RULES}


# --------------------------------------------------------------------------------------------
# Array functions: each entry of diffx.array_rules, read once per kind
# --------------------------------------------------------------------------------------------
Reader = Callable[[tuple, dict], Any]
_READERS: dict[Callable, Reader] = {}


def array_function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """``func(*args, **kwargs)`` with boxes among the arguments, as TensorFlow ops."""
    reader = _READERS.get(func)
    if reader is None:
        rule = ARRAY_RULES.get(func)
        if rule is None:
            raise UnsupportedError(
                f"numpy.{getattr(func, '__name__', func)} is not in diffx's table of array "
                f"rules (diffx.array_rules), so {ENGINES} cannot differentiate it")
        reader = _READERS[func] = KIND_READERS.get(rule.kind, _same_named)(rule)
    return reader(args, kwargs)


# Where tf.experimental.numpy names a parameter otherwise than numpy: numpy's name -> tnp's
TNP_KEYWORDS: dict[str, dict[str, str]] = {"reshape": {"shape": "newshape"}}


def _pad(array: Any, pad_width: Any, mode: str = "constant") -> Any:
    """np.pad: tnp's mode has no default, and its widths must be given per axis; the modes
    TensorFlow lacks (edge, wrap) gather the elements numpy's own pad of their positions
    names (they only move elements)."""
    array = tf.convert_to_tensor(array)
    widths = np.broadcast_to(np.asarray(pad_width), (array.shape.rank, 2))
    if mode in ("edge", "wrap"):
        shape = tuple(array.shape.as_list())
        positions = np.pad(np.arange(int(np.prod(shape))).reshape(shape), widths, mode=mode)
        return tf.reshape(tf.gather(tf.reshape(array, [-1]), positions.ravel()),
                          positions.shape)
    return tnp.pad(array, widths, mode)


def _array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> Any:
    """np.array_split (tnp has only split): k sections of numpy's sizes, the first n % k one
    longer."""
    if not isinstance(indices_or_sections, int):
        return tnp.split(ary, indices_or_sections, axis=axis)
    n, k = ary.shape[axis], indices_or_sections
    sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    return tf.split(ary, sizes, axis=axis)


def _triangle(part: Callable) -> Callable:
    """np.triu / np.tril: a vector is first repeated into rows (numpy's reading); tnp refuses
    it."""
    def triangle(m: Any, k: int = 0) -> Any:
        m = tf.convert_to_tensor(m)
        if m.shape.rank < 2:
            m = tf.broadcast_to(m, [m.shape[-1], m.shape[-1]])
        return part(m, k)

    return triangle


def _roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """np.roll with its axes made non-negative (TensorFlow's vectorised Jacobian of a roll
    over a negative axis rolls the wrong axis)."""
    a = tf.convert_to_tensor(a)
    if axis is not None:
        rank = a.shape.rank
        axis = tuple(i % rank for i in axis) if isinstance(axis, (tuple, list)) else axis % rank
    return tnp.roll(a, shift, axis)


def _cumprod(a: Any, axis: Any = None, dtype: Any = None) -> Any:
    """np.cumprod without division (TensorFlow's cumprod gradient divides by the entries, so
    a zero entry gives a wrong derivative): each partial product a reduce_prod over a
    triangular mask, whose gradient TensorFlow forms from exclusive products. O(n²) work
    along the axis."""
    a = tf.convert_to_tensor(a)
    if axis is None:
        a, axis = tf.reshape(a, [-1]), 0
    moved = tf.experimental.numpy.moveaxis(a, axis, -1)
    n = moved.shape[-1]
    mask = tf.constant(np.tril(np.ones((n, n), dtype=bool)))  # row i: entries j <= i
    ones = tf.ones_like(moved)[..., None, :]
    products = tf.reduce_prod(tf.where(mask, moved[..., None, :], ones), axis=-1)
    return tf.experimental.numpy.moveaxis(products, -1, axis)


# numpy functions whose tnp namesake differs in signature or derivative (the rest: same name)
TNP_ADAPTERS: dict[str, Callable] = {
    "pad": _pad, "array_split": _array_split, "triu": _triangle(tnp.triu),
    "tril": _triangle(tnp.tril), "roll": _roll, "cumprod": _cumprod}


def _same_named(rule: ArrayRule, namespace: Any = tnp,
                adapters: dict[str, Callable] = TNP_ADAPTERS) -> Reader:
    """The reading of the kinds that TensorFlow's numpy has: the same-named function of
    ``namespace`` (tf.experimental.numpy; tf.linalg for matrices) on the differentiated
    arrays (a selection's condition first), with the parameters the entry honours."""
    name = rule.function.__name__
    target = adapters.get(name) or getattr(namespace, name, None)
    if target is None:
        return _refusing(rule, f"has no form in {namespace.__name__}")
    renamed = TNP_KEYWORDS.get(name, {})
    try:
        parameters = inspect.signature(target).parameters
        accepted = None if any(p.kind is p.VAR_KEYWORD for p in parameters.values()) \
            else set(parameters)
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
        accepted = None

    def read(args: tuple, kwargs: dict) -> Any:
        arrays, params = rule.bind(args, kwargs)
        positional = [_raw(a) for a in arrays]
        if rule.sequence and rule.flattens and params.get(rule.axis, 0) is None:
            positional[0] = [tf.reshape(p, [-1]) for p in positional[0]]  # concatenate(None)
            params = {**params, rule.axis: 0}
        while positional and positional[-1] is None:  # np.where(c): no x, y
            positional.pop()
        if rule.condition:
            positional.insert(0, _raw(params.pop(rule.condition)))
        elif rule.subscripts:  # einsum(subscripts, *operands)
            positional.insert(0, params.pop("subscripts"))
        keywords = {}
        for key, value in params.items():
            key_there = renamed.get(key, key)
            if accepted is None or key_there in accepted:
                keywords[key_there] = _raw(value)
            elif not _is_default(value, rule.default(key)):
                raise UnsupportedError(f"{rule.name} with {key}= has no TensorFlow form here")
        return _boxed(target(*positional, **keywords))

    return read


def _is_default(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


def _refusing(rule: ArrayRule, why: str) -> Reader:
    def read(args: tuple, kwargs: dict) -> Any:
        raise UnsupportedError(f"{rule.name} {why}, so {ENGINES} cannot differentiate it")

    return read


def _composed(rule: ArrayRule) -> Reader:
    """The entry's composition, run on the boxes themselves: its numpy calls come back here."""
    def read(args: tuple, kwargs: dict) -> Any:
        arrays, params = rule.bind(args, kwargs)
        return rule.composition(*arrays, **params)

    return read


def _query(rule: ArrayRule) -> Reader:
    """shape, ndim, size: read from the static shape (known in graph mode too)."""
    answers: dict[str, Callable[..., Any]] = {
        "shape": lambda t: tuple(t.shape), "ndim": lambda t: t.shape.rank,
        "size": lambda t, axis=None: (t.shape.num_elements() if axis is None
                                      else t.shape[axis])}
    answer = answers.get(rule.function.__name__)
    if answer is None:
        return _same_named(rule)

    def read(args: tuple, kwargs: dict) -> Any:
        arrays, params = rule.bind(args, kwargs)
        x = _raw(arrays[0])
        return answer(x, **params) if tf.is_tensor(x) else rule.function(x, **params)

    return read


def _solve(a: Any, b: Any) -> Any:
    """np.linalg.solve: b a vector (or a stack of them) as well as a matrix."""
    a = tf.convert_to_tensor(a)
    b = tf.cast(tf.convert_to_tensor(b), a.dtype)
    if b.shape.rank == a.shape.rank - 1:
        return tf.linalg.solve(a, b[..., None])[..., 0]
    return tf.linalg.solve(a, b)


def _matrix(rule: ArrayRule) -> Reader:
    """np.linalg's det, inv, solve, slogdet, ...: the same-named tf.linalg function."""
    return _same_named(rule, tf.linalg, {"solve": _solve})


KIND_READERS: dict[str, Callable[[ArrayRule], Reader]] = {
    "composed": _composed, "query": _query, "matrix": _matrix}


def _as_box(row: E.Elementary, args: tuple) -> TensorBox:
    """A table row called on a box (``diffx.sin(x)`` in a callable): its TensorFlow form."""
    if row.arity == 2:
        return _binary(row.tf(tf), *args)
    return TensorBox(row.tf(tf)(*(_raw(a) for a in args)))


E.register_type(TensorBox, _as_box)
tf.register_tensor_conversion_function(
    TensorBox, lambda value, dtype=None, name=None, as_ref=False:
    tf.convert_to_tensor(value.value, dtype=dtype, name=name))
