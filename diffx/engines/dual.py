"""Forward-mode automatic differentiation with dual numbers (and Taylor jets for higher orders).

A dual number ``a + b·ε`` with ``ε² = 0`` carries a value ``a`` and a tangent ``b``. Evaluating
``f(x + v·ε)`` gives ``f(x) + (f'(x)·v)·ε``: the tangent of the result is the directional
derivative (a Jacobian-vector product). Every operation applies the chain rule with the partial
derivatives written once, in the elementary table:

    out.value   = op(args.value)
    out.tangent = Σᵢ ∂op/∂argᵢ · argsᵢ.tangent        (partials read from diffx.elementary)

Five ideas on top of that rule make the engine:

1. **numpy-native.** Values and tangents may be numpy arrays. ``np.sin(d)`` goes through
   ``__array_ufunc__`` to the table's row; ``np.sum``, ``np.where``, ``np.reshape`` … through
   ``__array_function__`` to their entry in :mod:`diffx.array_rules`, read by kind in
   :mod:`diffx.engines.dual_arrays` (a linear function acts on value and tangent alike).
   Anything else raises UnsupportedError.
2. **Chunks of directions.** A tangent may carry k directions at once: its shape is then
   ``(k, *value.shape)`` (the dual is *chunked*). One pass gives k columns of a Jacobian, so an
   n-gradient costs ⌈n/k⌉ passes. The chunk axis always comes first; rules shift axes by one.
3. **Tags.** Each derivative operator gives its perturbation a fresh ``tag``. When duals with
   different tags meet, the newest (innermost) is the outer layer and older ones are constants
   to it, so nested derivatives never confuse their perturbations.
4. **Jets for higher orders.** ``derivative(order=k)`` pushes a truncated Taylor series
   ``x + t`` (a :class:`Jet`) through ``f``: the k-th coefficient of ``f(x + t)`` is f⁽ᵏ⁾(x)/k!.
   Nested duals would cost 2ᵏ (each nesting doubles the components); a jet costs O(k³) and
   uses the same first-order partials (:func:`_jet_rule`), one coefficient at a time.
5. **Speed lives next door.** :mod:`diffx.engines.dual_speed` makes the same contract faster
   with the same numbers: a chain rule that allocates less, ``jvp`` of an elementwise callable
   on a long vector block by block, and ``derivative`` of a parsed function as compiled code.

Kinks of the table's rows follow one convention: at a point where the one-sided derivatives
differ, the derivative is the value *between them closest to zero* (the minimum-norm
subgradient): abs'(0) = relu'(0) = 0 (as in TensorFlow, PyTorch and JAX). A tie of
``np.maximum``/``np.minimum`` (and of np.max / np.min along an axis) takes the MEAN of the tied
tangents, as jnp.maximum and torch.maximum do (a deliberate change from the rows' convention:
it is linear in the tangents, so reverse mode follows it exactly); so ``np.maximum(x, 0)`` has
derivative ½ at 0 while ``relu`` has 0, and ``np.maximum(x, -x)`` agrees with ``abs`` (0). A
tie with different tangents warns (NonDifferentiableWarning).

    >>> import diffx
    >>> jvp(lambda x: diffx.sin(x) * x, 0.0, 1.0)
    (0.0, 0.0)
    >>> jvp(lambda x: np.sum(x**2), np.array([1.0, 2.0]), np.eye(2))   # two directions at once
    (5.0, array([2., 4.]))
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from diffx import elementary as E
from diffx.array_rules import ARRAY_RULES, PRIMAL_ONLY, NumpyMethods
from diffx.elementary import primal
from diffx.engines.registry import Engine
from diffx.errors import DiffxError, DomainWarning, UnsupportedError
from diffx.functions import Function, ParsedFunction
from diffx.points import all_finite

__all__ = ["ENGINES", "Dual", "Installed", "Jet", "aligned_tangent", "apply_rule", "derivative",
           "dual_rule", "gradient", "hessian", "jacobian", "jvp", "new_tag", "tangent_of", "warn"]

_TAGS = itertools.count(1)


def new_tag() -> int:
    """A fresh tag for a new perturbation (newer tags are larger)."""
    return next(_TAGS)


def _ndim(x: Any) -> int:
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


class Installed:
    """What the two modules beside this one install when they are imported (``diffx.engines``
    imports both; neither is imported from here, so the lesson reads without them):

    - :mod:`diffx.engines.dual_arrays` — the rules for numpy's array functions (``np.sum``,
      ``np.where``, ``@`` …, read from :mod:`diffx.array_rules` by kind) and for the ufuncs
      with a kink, ``np.maximum`` / ``np.minimum``: ``array_rules[kind]``, ``ufuncs[ufunc]``;
    - :mod:`diffx.engines.dual_speed` — the same numbers, faster: ``chunk_size`` (directions
      per pass), ``by_blocks`` (jvp of a long elementwise callable), ``compiled_program`` and
      ``fast_derivative`` (a parsed f of one variable as straight code), ``holds_back`` (a
      warning the block replay reports once).
    """

    array_rules: ClassVar[dict[str, Callable]] = {}
    ufuncs: ClassVar[dict[np.ufunc, Callable]] = {}
    chunk_size: ClassVar[Callable | None] = None
    by_blocks: ClassVar[Callable | None] = None
    compiled_program: ClassVar[Callable | None] = None
    fast_derivative: ClassVar[Callable | None] = None
    holds_back: ClassVar[Callable[[Warning], bool] | None] = None


def warn(warning: Warning) -> None:
    """Warn from an operation (a tie of np.maximum), unless dual_speed's replay holds it back."""
    if Installed.holds_back is None or not Installed.holds_back(warning):
        warnings.warn(warning, stacklevel=4)


# ============================================================================================
# The dual number
# ============================================================================================
class Dual(NumpyMethods, E.TableArithmetic):
    """A value and its tangent, owned by the derivative operator ``tag``.

    The tangent has the value's shape (one direction) or ``(k, *value.shape)`` (k directions).
    ndarray's methods (``.sum()``, ``.T``, ``.reshape()`` …) are numpy's functions on it
    (:class:`~diffx.array_rules.NumpyMethods`), whose rules are the table's array entries.
    """

    __slots__ = ("tag", "tangent", "value")

    def __init__(self, value: Any, tangent: Any, tag: int = 0):
        self.value = value
        self.tangent = tangent
        self.tag = tag

    # arithmetic: E.TableArithmetic (every operator is a row of the elementary table), plus
    def __pow__(self, other):  # x**2 as x·x: the same numbers, without a general pow
        two = type(other) in (int, float) and other == 2
        return E.multiply(self, self) if two else E.power(self, other)
    def __matmul__(self, other): return np.matmul(self, other)
    def __rmatmul__(self, other): return np.matmul(other, self)

    # comparisons look at values only (so branches in user code follow the primal path)
    def __lt__(self, other): return primal(self) < primal(other)
    def __le__(self, other): return primal(self) <= primal(other)
    def __gt__(self, other): return primal(self) > primal(other)
    def __ge__(self, other): return primal(self) >= primal(other)
    def __bool__(self): return bool(primal(self))

    # array behaviour: shape and indexing are the value's; the chunk axis stays in front
    @property
    def shape(self) -> tuple: return np.shape(primal(self))
    @property
    def ndim(self) -> int: return _ndim(self.value)
    @property
    def size(self) -> int: return int(np.prod(self.shape))

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

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        rule = ARRAY_RULES.get(func)
        if rule is None or rule.kind not in Installed.array_rules:
            raise UnsupportedError(
                f"{getattr(func, '__module__', None) or 'numpy'}.{func.__name__} has no rule in "
                f"the dual engine (for dual numbers); supported numpy functions: "
                f"{', '.join(sorted(f.__name__ for f in ARRAY_RULES if f is not np.matmul))}; "
                f"ufuncs: those of diffx's elementary table, maximum, minimum, matmul and "
                f"comparisons")
        return Installed.array_rules[rule.kind](rule, *rule.bind(args, kwargs))

    def __float__(self):
        raise TypeError("converting a Dual to float would drop its derivative; "
                        "use diffx functions (diffx.sin, ...) or numpy instead of math.*")

    def __repr__(self) -> str:
        return f"Dual({self.value!r}, {self.tangent!r}, tag={self.tag})"


# ============================================================================================
# The chain rule, for every row of the table
# ============================================================================================
def apply_rule(row: E.Elementary, args: tuple, rule: Callable | None = None) -> Dual | Jet:
    """The table calls this for an operation on duals or jets: the newest tag owns the result.
    ``rule`` replaces :func:`dual_rule` (dual_speed registers its faster one, same numbers)."""
    owner = _owner(args)
    if isinstance(owner, Dual):
        return (rule or dual_rule)(row, args, owner.tag)
    return _jet_rule(row, args, owner.tag)


def _owner(args: tuple) -> Dual | Jet:
    """The dual or jet with the newest tag among ``args`` (the first of them)."""
    owner = None
    for a in args:
        if isinstance(a, (Dual, Jet)) and (owner is None or a.tag > owner.tag):
            owner = a
    return owner


def dual_rule(row: E.Elementary, args: tuple, tag: int, out: Any = None) -> Dual:
    """Push duals through one table row: the value by the row (or ``out``, when the caller has
    it), the tangent Σᵢ ∂row/∂argᵢ · tangentᵢ by the row's partials (constants: no term).
    For u·u both terms are u·t: their sum, exactly 2·(u·t)."""
    values = [a.value if isinstance(a, Dual) and a.tag == tag else a for a in args]
    out = row(*values) if out is None else out
    tangent = None
    for i, a in enumerate(args):
        if isinstance(a, Dual) and a.tag == tag:
            term = row.partials[i](*values, out) * aligned_tangent(a, _ndim(out))
            tangent = term if tangent is None else tangent + term
    return Dual(out, tangent, tag)


def aligned_tangent(d: Dual, ndim: int) -> Any:
    """``d``'s tangent, ready to broadcast against a result with ``ndim`` dimensions: when an
    operation broadcasts d up, a chunked tangent gets unit axes after its chunk axis."""
    tangent, extra = d.tangent, ndim - _ndim(d.value)
    if extra > 0 and _ndim(tangent) > _ndim(d.value):
        tangent = tangent.reshape(tangent.shape[:1] + (1,) * extra + tangent.shape[1:])
    return tangent


# ============================================================================================
# numpy ufuncs: table rows (every ufunc with a derivative, E.ROW_OF_UFUNC), comparisons,
# and those dual_arrays installs
# ============================================================================================
# ufuncs that look at values only (their result has no derivative)


def _ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    if method == "__call__" and not kwargs:
        if ufunc in Installed.ufuncs:  # np.maximum, np.minimum (their tie warning), np.matmul
            return Installed.ufuncs[ufunc](*inputs)
        row = E.ROW_OF_UFUNC.get(ufunc)
        if row is not None:
            return row(*inputs)
        if ufunc in PRIMAL_ONLY:
            return ufunc(*(primal(x) for x in inputs))
    name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
    raise UnsupportedError(
        f"numpy.{name}{' with ' + ', '.join(kwargs) + '=' if kwargs else ''} has no rule for "
        f"dual numbers (it is not in diffx's elementary table); use the table's functions "
        f"({', '.join(E.FUNCTIONS)}) and + - * / **")


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
            _refuse(ufunc)
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return args[0] if func is np.real else _refuse(func)

    def __repr__(self) -> str:
        return f"Jet({self.coefficients!r}{', ...' if self.rule else ''}, tag={self.tag})"


def _refuse(func: Callable) -> None:
    raise UnsupportedError(f"numpy.{func.__name__} has no rule for higher-order derivatives: "
                           f"order >= 2 runs on Taylor jets of a scalar, elementwise only")


def _coefficient(x: Any, k: int, tag: int) -> Any:
    """Coefficient k of ``x`` as a series in this tag's t (a constant has only x[0])."""
    if isinstance(x, Jet) and x.tag == tag:
        return x.coefficient(k)
    return x if k == 0 else 0.0


def _jet_rule(row: E.Elementary, args: tuple, tag: int) -> Jet:
    """y = row(u₁, …): y[0] = row(u[0]), and from y' = Σᵢ ∂row/∂uᵢ · uᵢ' (the first-order
    partials pᵢ = ∂row/∂uᵢ(u, y), evaluated on jets): k·y[k] = Σᵢ Σⱼ j·uᵢ[j]·pᵢ[k-j], which
    needs pᵢ only to order k-1, so the coefficients come on demand, one at a time."""
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


E.register_type(Dual, apply_rule)
E.register_type(Jet, apply_rule)

# numpy applies a ufunc to an object array (say np.array([d1, d2])) by calling each element's
# method of the ufunc's name: np.sin(array_of_duals) calls d.sin() for each element
for _row in E.FUNCTIONS.values():
    if isinstance(_row.numpy, np.ufunc) and _row.arity == 1:
        setattr(Dual, _row.numpy.__name__, lambda self, row=_row: row(self))


# ============================================================================================
# The cores: push a block of directions through f; everything else is built on it
# ============================================================================================
def tangent_of(out: Any, tag: int) -> Any:
    """The tangent of ``out`` for perturbation ``tag`` (zero when ``out`` does not depend on it)."""
    if isinstance(out, Dual) and out.tag == tag:
        return out.tangent
    return np.zeros_like(primal(out), dtype=float) if np.ndim(primal(out)) else 0.0


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
    tag = new_tag()
    out = fn.on_vector(Dual(x, directions, tag), np.size(primal(x)))
    lead = directions.shape[:1] if directions.ndim > np.ndim(primal(x)) else ()
    if isinstance(out, Dual) and out.tag == tag and out.ndim > 0 \
            and not isinstance(out.value, (Dual, Jet)):  # one array output: no per-item duals
        if np.shape(out.tangent) != lead + out.shape:
            raise _NotChunkable
        tangents = np.reshape(out.tangent, (*lead, out.size))
        return list(np.ravel(out.value)), list(np.moveaxis(tangents, -1, 0))
    outs = _outputs(out)
    tangents = [tangent_of(o, tag) if isinstance(o, Dual) and o.tag == tag else np.zeros(lead)
                for o in outs]
    if any(np.shape(primal(t)) != lead for t in tangents):
        raise _NotChunkable
    return [_value(o, tag) for o in outs], tangents


def _blocks(n: int, k: int | None) -> list[tuple[slice, np.ndarray]]:
    """Basis directions in blocks of k (shape (k, n)); k=None: one direction (n,) at a time."""
    identity = np.eye(n)
    if k is None:
        return [(slice(j, j + 1), identity[j]) for j in range(n)]
    return [(slice(j, min(j + k, n)), identity[j:j + k]) for j in range(0, n, k)]


def jacobian(fn: Function, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """Jacobian (m, n) in ⌈n/k⌉ forward passes, each carrying k basis directions."""
    return _chunked(_jacobian, fn, x, chunk)


def _chunked(core: Callable, fn: Function, x: np.ndarray, chunk: int | None,
             nested: bool = False) -> np.ndarray:
    """``core`` with k directions per pass: ``chunk``, or dual_speed's choice (all n without)."""
    k = chunk if Installed.chunk_size is None else Installed.chunk_size(fn, x.size, chunk,
                                                                        nested)
    try:
        return core(fn, x, k or x.size)
    except (_NotChunkable, ValueError, TypeError, IndexError):
        # a callable that handles Dual tangents itself (Dual(v.value.sum(), v.tangent.sum())):
        # give it what it expects, one direction per pass (an error of its own recurs here)
        return core(fn, x, None)


def _jacobian(fn: Function, x: np.ndarray, k: int | None) -> np.ndarray:
    return np.hstack([np.array(_push(fn, x, directions)[1], dtype=float).reshape(
        -1, block.stop - block.start) for block, directions in _blocks(x.size, k)])


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
    return _chunked(_hessian, fn, x, chunk, nested=True)


def _hessian(fn: Function, x: np.ndarray, k: int | None) -> np.ndarray:
    H = np.zeros((x.size, x.size))
    for rows, outer_directions in _blocks(x.size, k):
        outer_tag = new_tag()
        for columns, inner_directions in _blocks(x.size, k):
            _, tangents = _push(fn, Dual(x, outer_directions, outer_tag), inner_directions)
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
    callable on a long vector runs block by block (:func:`diffx.engines.dual_speed.by_blocks`).

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
    tag = new_tag()
    with np.errstate(all="ignore"):
        blocked = Installed.by_blocks and Installed.by_blocks(fn, point, direction, tag)
        if blocked is None:
            out = fn.on_vector(Dual(point, direction, tag), np.size(primal(point)))
    if blocked is not None:
        value, tangent, finite = blocked
    else:
        value, tangent = _value_and_tangent(out, tag, direction, point)
        finite = all_finite(primal(value)) and all_finite(primal(tangent))
    if not finite:
        warnings.warn(DomainWarning(
            f"jvp of {fn.name}: the value or the tangent is not finite (a point outside the "
            f"domain, on its edge, or an overflow)"), stacklevel=2)
    return _float(value), _float(tangent)


def _value_and_tangent(out: Any, tag: int, direction: Any, point: Any) -> tuple[Any, Any]:
    """jvp's result from f's output: arrays for one output, stacked for a list of outputs."""
    lead = direction.shape[:1] if np.ndim(direction) > np.ndim(primal(point)) else ()
    if isinstance(out, (list, tuple)):
        values = np.array([primal(_value(o, tag)) for o in out], dtype=float)
        return values, np.stack([np.broadcast_to(np.asarray(tangent_of(o, tag), dtype=float),
                                                 lead) for o in out], axis=-1)
    tangent = tangent_of(out, tag) if isinstance(out, Dual) and out.tag == tag else \
        np.zeros(lead + np.shape(primal(out)))
    return _value(out, tag), tangent


def _float(x: Any) -> Any:
    return float(x) if np.ndim(x) == 0 and not isinstance(x, (Dual, Jet)) else x


def derivative(fn: Function, x: Any, order: int = 1) -> Any:
    """The ``order``-th derivative of a scalar function of one variable; exact to rounding.

    Order 1 pushes one dual (a parsed function: as compiled code, dual_speed.compiled_program);
    order k ≥ 2 pushes the jet x + t and reads k!·(coefficient k). ``x`` may itself be a dual
    or jet (a derivative nested inside another): the result then keeps the outer perturbation.
    """
    if order == 0:
        return fn.on_vector([x], 1)
    tag = new_tag()
    if order == 1 and Installed.compiled_program and isinstance(fn, ParsedFunction) \
            and len(fn.variables) == 1 and not fn.vector_output and not isinstance(x, (Dual, Jet)):
        return float(Installed.compiled_program(fn)(float(x))[1])
    if order == 1:
        result = tangent_of(_outputs(fn.on_vector([Dual(x, 1.0, tag)], 1))[0], tag)
    else:
        out = _outputs(fn.on_vector([Jet([x, 1.0], tag)], 1))[0]
        result = math.factorial(order) * _coefficient(out, order, tag) if isinstance(
            out, Jet) and out.tag == tag else 0.0
    return result if isinstance(result, (Dual, Jet)) else float(primal(result))


def _shortcut(f: Any, x: Any, order: int, variables: Any, full_output: bool) -> Any:
    """``derivative(f, x, "dual")`` before the general path: at a dual or jet x (a derivative
    nested in an outer one) the result keeps the outer perturbation; a parsed f at a plain
    point may take dual_speed's one-pass program (``Installed.fast_derivative``)."""
    if isinstance(x, (Dual, Jet)):
        from diffx.functions import as_function

        return derivative(as_function(f, variables), x, order)
    fast = Installed.fast_derivative
    return None if full_output or fast is None else fast(f, x, order)


ENGINES = (Engine("dual", "automatic", "forward-mode AD with diffx's dual numbers",
                  jacobian=jacobian, derivative=derivative, hessian=hessian,
                  shortcut=_shortcut, needs_tracing=True),)
