"""The reverse reading of the array table: for each kind of :mod:`diffx.array_rules`, the linear
maps a recorded numpy call hands its arguments — the derivative applied to a tangent
(``forward``) and its transpose applied to a cotangent (``transpose``, the VJP).

The recorder (:mod:`diffx.recording`) writes one trace node per numpy call on array values, as
HIPS autograd and JAX do, so a vectorised function's gradient costs a few numpy calls per
recorded call whatever the array's size (the cheap-gradient principle kept on array code). The
elementwise ufuncs need nothing here: their local partials are arrays from the elementary
table's rows, and a sweep multiplies by them (then sums over broadcast axes, :func:`unbroadcast`).

=========  =======================================================================
kind       transpose of the derivative (cotangent g of the result's shape)
=========  =======================================================================
linear     sum, mean: g broadcast back over the reduced axes (÷ count for mean);
           cumsum: reversed cumsum; every other linear or reshape entry only moves
           elements (reshape, transpose, concatenate, stack, broadcast_to, …): it is
           run once on the *positions* of its input's elements, and g is summed back
           to those positions (``np.bincount``), so one generic rule serves them all
bilinear   a·b: ḡa = g·bᵀ, ḡb = aᵀ·g (vectors promoted to matrices, batches summed)
selection  where(c, a, b): ḡa = where(c, g, 0), ḡb = where(c, 0, g)
multi-     einsum: each operand's cotangent is the einsum of g with the other operands
linear
extremum   max, min: g to the elements equal to the result, shared equally at a tie
product    prod: g times the product of the other factors (no division: zeros are exact);
           cumprod: reversed cumulative sums
matrix     det, inv, solve, slogdet: the matrix-calculus adjoints
=========  =======================================================================

    >>> import numpy as np
    >>> from diffx.array_rules import ARRAY_RULES
    >>> x = np.arange(6.0).reshape(2, 3)
    >>> (grad,) = READINGS["linear"](ARRAY_RULES[np.sum], [x], {"axis": 0}, np.sum(x, axis=0))
    >>> grad.transpose(np.array([1.0, 2.0, 3.0]))
    array([[1., 2., 3.],
           [1., 2., 3.]])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from diffx.array_rules import ArrayRule
from diffx.elementary import primal
from diffx.errors import NonDifferentiableWarning, UnsupportedError

__all__ = ["LAYERED", "READINGS", "Linear", "index_map", "unbroadcast"]


@dataclass(frozen=True)
class Linear:
    """A recorded call's derivative with respect to one argument, as a linear map: ``forward``
    takes a tangent of the argument's shape to one of the result's, ``transpose`` a cotangent
    of the result's shape back to the argument's. ``name`` is what the trace tables show."""

    name: str
    forward: Callable[[Any], Any]
    transpose: Callable[[Any], Any]

    def __repr__(self) -> str:
        return f"<linear map {self.name}>"


LAYERED: dict[type, tuple[Callable, Callable]] = {}
"""Value types carrying a tangent (the dual engine registers ``Dual``): type -> (split, join),
``split(d) -> (value, tangent)`` and ``join(d, value, tangent)``. A linear map written with
numpy calls that such values do not support (``np.bincount``, index assignment) is applied to
value and tangent separately: it is linear, so that is the same map."""


def layered(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``function`` (a linear map written for plain arrays) extended to layered values."""

    def apply(g: Any) -> Any:
        for kind, (split, join) in LAYERED.items():
            if isinstance(g, kind):
                value, tangent = split(g)
                return join(g, apply(value), apply(tangent))
        return function(g)

    return apply


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched, down to ``shape``.

    >>> unbroadcast(np.ones((2, 3)), (3,))
    array([2., 2., 2.])
    """
    g_shape = np.shape(primal(g))
    if g_shape == tuple(shape):
        return g
    extra = len(g_shape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(primal(g))[i] != 1)
    if stretched:
        g = np.sum(g, axis=stretched, keepdims=True)
    return g


# --------------------------------------------------------------------------------------------
# linear and reshape: reductions by their adjoint, everything else by its index map
# --------------------------------------------------------------------------------------------
def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _sum_like(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    (x,) = values
    shape = np.shape(primal(x))
    axes = _axes(params.get("axis"), len(shape))
    keep = params.get("keepdims", False)
    count = int(np.prod([shape[a] for a in axes])) if rule.function is np.mean else 1

    def transpose(g: Any) -> Any:
        if not keep:
            g = np.reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))
        g = np.broadcast_to(g, shape) if np.shape(primal(g)) != shape else g
        return g / count if count != 1 else g

    return (Linear(rule.name, lambda t: rule.function(t, **params), transpose),)


def _cumsum(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    (x,) = values
    shape = np.shape(primal(x))
    axis = params.get("axis")

    def transpose(g: Any) -> Any:
        along = 0 if axis is None else axis
        flipped = np.flip(np.cumsum(np.flip(g, along), axis=along), along)
        return np.reshape(flipped, shape) if axis is None else flipped

    return (Linear(rule.name, lambda t: np.cumsum(t, **params), transpose),)


def index_map(rule: ArrayRule, shapes: list[tuple], params: dict) -> np.ndarray:
    """Where each element of the result of an element-moving function comes from: the function
    run on the positions 1, 2, … of its inputs' elements (0 where the result holds a constant
    zero, as triu and pad put there).

    >>> from diffx.array_rules import ARRAY_RULES
    >>> index_map(ARRAY_RULES[np.transpose], [(2, 2)], {})
    array([[1, 3],
           [2, 4]])
    """
    sizes = [int(np.prod(s)) for s in shapes]
    starts = np.cumsum([1, *sizes[:-1]])
    pieces = [np.arange(start, start + size).reshape(shape)
              for start, size, shape in zip(starts, sizes, shapes)]
    return np.asarray(rule.function(pieces if rule.sequence else pieces[0], **params))


def _moves_elements(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    pieces = values[0] if rule.sequence else values
    shapes = [np.shape(primal(p)) for p in pieces]
    positions = index_map(rule, shapes, params).ravel()
    total = int(sum(np.prod(s) for s in shapes))
    bounds = np.cumsum([0, *(int(np.prod(s)) for s in shapes)])

    def transpose_all(g: Any) -> np.ndarray:
        return np.bincount(positions, weights=np.ravel(g), minlength=total + 1)[1:]

    def piece(i: int) -> Linear:
        def forward(t: Any) -> Any:
            if not rule.sequence:
                return rule.function(t, **params)
            return rule.function([t if j == i else np.zeros(shapes[j]) for j in
                                  range(len(shapes))], **params)

        def transpose(g: Any) -> Any:
            return transpose_all(g)[bounds[i]:bounds[i + 1]].reshape(shapes[i])

        return Linear(rule.name, forward, layered(transpose))

    return tuple(piece(i) for i in range(len(pieces)))


_REDUCTIONS: dict[Callable, Callable] = {np.sum: _sum_like, np.mean: _sum_like,
                                         np.cumsum: _cumsum}


def _linear(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    reading = _REDUCTIONS.get(rule.function, _moves_elements)
    return reading(rule, values, params, out)


# --------------------------------------------------------------------------------------------
# bilinear, selection, extremum, product, matrix
# --------------------------------------------------------------------------------------------
def _bilinear(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    """a·b (np.dot, np.matmul): vectors are promoted to matrices (a row, b a column), the
    adjoints computed for matrices (batched), and the promoted axes dropped again."""
    a, b = values
    if np.ndim(primal(a)) == 0 or np.ndim(primal(b)) == 0:
        return (Linear(rule.name, lambda t: t * b, lambda g: unbroadcast(g * b, np.shape(a))),
                Linear(rule.name, lambda t: a * t, lambda g: unbroadcast(a * g, np.shape(b))))
    if rule.function is np.dot and max(np.ndim(primal(a)), np.ndim(primal(b))) > 2:
        raise UnsupportedError("numpy.dot of arrays with more than 2 dimensions is not "
                               "differentiated by the reverse engine; use np.matmul or einsum")
    a_vector, b_vector = np.ndim(primal(a)) == 1, np.ndim(primal(b)) == 1
    a2 = np.reshape(a, (1, -1)) if a_vector else a
    b2 = np.reshape(b, (-1, 1)) if b_vector else b
    out_shape = np.shape(primal(np.matmul(primal(a2), primal(b2))))

    def as_matrix(g: Any) -> Any:
        return np.reshape(g, out_shape)

    def grad_a(g: Any) -> Any:
        ga = unbroadcast(np.matmul(as_matrix(g), np.swapaxes(b2, -1, -2)), np.shape(primal(a2)))
        return np.reshape(ga, np.shape(primal(a)))

    def grad_b(g: Any) -> Any:
        gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), as_matrix(g)), np.shape(primal(b2)))
        return np.reshape(gb, np.shape(primal(b)))

    return (Linear(rule.name, lambda t: rule.function(t, b), grad_a),
            Linear(rule.name, lambda t: rule.function(a, t), grad_b))


def _selection(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    condition = np.asarray(primal(params[rule.condition]), dtype=bool)
    shape = np.shape(primal(out))

    def branch(i: int, value: Any) -> Linear | None:
        if value is None:
            return None
        keep = condition if i == 0 else ~condition
        return Linear(rule.name,
                      lambda t: np.where(keep, np.broadcast_to(t, shape) if np.ndim(t) else t,
                                         0.0),
                      lambda g: unbroadcast(np.where(keep, g, 0.0), np.shape(primal(value))))

    return tuple(branch(i, v) for i, v in enumerate(values))


def _extremum(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    """max / min: the result's element, shared equally among tied elements (the table's tie
    convention: JAX's and PyTorch's)."""
    (x,) = values
    shape = np.shape(primal(x))
    axes = _axes(params.get("axis"), len(shape))
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    winners = primal(x) == np.reshape(primal(out), kept)
    counts = np.sum(winners, axis=axes, keepdims=True)
    share = winners / counts
    if np.any(counts > 1):
        warnings.warn(NonDifferentiableWarning(
            f"{rule.name} at a tie of its arguments: not differentiable there unless the tied "
            f"arguments' derivatives are equal, which a reverse sweep cannot see; the "
            f"cotangent is shared equally among them (the table's convention)"), stacklevel=2)
    keep = params.get("keepdims", False)

    def forward(t: Any) -> Any:
        return np.sum(share * t, axis=axes, keepdims=keep)

    def transpose(g: Any) -> Any:
        return share * (g if keep else np.reshape(g, kept))

    return (Linear(rule.name, forward, transpose),)


def _others_product(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Πⱼ≠ᵢ xⱼ over ``axes`` for every i, without dividing: exclusive products from the left
    and from the right of the flattened reduced axes."""
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape((*moved.shape[:moved.ndim - len(axes)], -1))
    ones = np.ones((*flat.shape[:-1], 1))
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], -1), -1), -1)
    return np.moveaxis((left * right).reshape(moved.shape), tuple(range(-len(axes), 0)), axes)


def _cumprod(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    """cumprod: yₖ = Πᵢ≤ₖ xᵢ, so x̄ⱼ = Σₖ≥ⱼ gₖ Πᵢ≤ₖ,ᵢ≠ⱼ xᵢ — by the reversed cumulative sum
    of g·y divided by x where no factor is zero, else by the products written out."""
    (x,) = values
    axis = params.get("axis")
    shape = np.shape(primal(x))
    along = 0 if axis is None else axis % len(shape)

    def transpose(g: Any) -> Any:
        xs = np.ravel(x) if axis is None else x
        gs = np.reshape(g, np.shape(primal(xs)))
        if np.all(primal(xs) != 0):
            total = np.flip(np.cumsum(np.flip(gs * out.reshape(np.shape(primal(xs))), along),
                                      axis=along), along)
            result = total / xs
        else:
            moved_x, moved_g = np.moveaxis(primal(xs), along, -1), np.moveaxis(gs, along, -1)
            n = moved_x.shape[-1]
            result = np.zeros(moved_x.shape)
            for j in range(n):
                factors = moved_x.copy()
                factors[..., j] = 1.0
                result[..., j] = np.sum(moved_g[..., j:] * np.cumprod(factors, axis=-1)[..., j:],
                                        axis=-1)
            result = np.moveaxis(result, -1, along)
        return np.reshape(result, shape)

    def forward(t: Any) -> Any:
        """ẏₖ = ẏₖ₋₁·xₖ + yₖ₋₁·ṫₖ (the product rule step by step: exact at a zero factor)."""
        xs = np.moveaxis(np.ravel(primal(x)) if axis is None else primal(x), along, -1)
        ts = np.moveaxis(np.reshape(t, np.shape(xs)) if axis is None else t, along, -1)
        ys = np.cumprod(xs, axis=-1)
        tangent = np.zeros(np.shape(xs))
        tangent[..., 0] = ts[..., 0]
        for k in range(1, xs.shape[-1]):
            tangent[..., k] = tangent[..., k - 1] * xs[..., k] + ys[..., k - 1] * ts[..., k]
        return np.moveaxis(tangent, -1, along)

    return (Linear(rule.name, forward, transpose),)


def _product(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    (x,) = values
    if rule.function is np.cumprod:
        return _cumprod(rule, values, params, out)
    shape = np.shape(primal(x))
    axes = _axes(params.get("axis"), len(shape))
    keep = params.get("keepdims", False)
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    others = _others_product(np.asarray(primal(x), dtype=float), axes) if shape else 1.0

    def forward(t: Any) -> Any:
        return np.sum(others * t, axis=axes, keepdims=keep)

    def transpose(g: Any) -> Any:
        return others * (g if keep else np.reshape(g, kept))

    return (Linear(rule.name, forward, transpose),)


def _matrix(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    """np.linalg.det, inv, solve, slogdet (square matrices, no batches)."""
    f = getattr(rule.function, "base", rule.function)
    A = values[0]
    Ainv_T = np.swapaxes(np.linalg.inv(A), -1, -2)
    if f is np.linalg.slogdet:  # (sign, log|det|): the sign is constant
        if getattr(rule.function, "output", 1) == 0:
            return (None,)
        return (Linear(rule.name, lambda t: np.trace(np.linalg.solve(A, t)),
                       lambda g: g * Ainv_T),)
    if f is np.linalg.det:
        return (Linear(rule.name, lambda t: out * np.trace(np.linalg.solve(A, t)),
                       lambda g: g * out * Ainv_T),)
    if f is np.linalg.inv:
        return (Linear(rule.name, lambda t: -(out @ t @ out),
                       lambda g: -(Ainv_T @ g @ Ainv_T)),)
    if f is np.linalg.solve:
        b = values[1]
        x = out
        x2 = x if np.ndim(x) > 1 else x[:, None]

        def grad_b(g: Any) -> Any:
            return np.linalg.solve(np.swapaxes(A, -1, -2), g)

        def grad_A(g: Any) -> Any:
            gb = grad_b(g)
            gb2 = gb if np.ndim(gb) > 1 else gb[:, None]
            return -(gb2 @ np.swapaxes(x2, -1, -2))

        return (Linear(rule.name, lambda t: -np.linalg.solve(A, t @ x), grad_A),
                None if b is None else Linear(rule.name, lambda t: np.linalg.solve(A, t),
                                              grad_b))
    raise UnsupportedError(f"{rule.name} is not differentiated by the reverse engine yet")


def _subscripts(spec: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """An einsum spec written out: each operand's subscripts and the output's, with ``...``
    replaced by letters of its own (numpy's right-aligned broadcasting of the ellipsis axes),
    and implicit mode's output (the letters used once, sorted, after the ellipsis axes)."""
    spec = spec.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    operands = inputs.split(",")
    if len(operands) != len(shapes):
        raise UnsupportedError(f"numpy.einsum: {len(operands)} subscripts for {len(shapes)} "
                               f"operands")
    spare = (c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)
    widest = max((len(shape) - len(sub.replace("...", "")) for sub, shape in
                  zip(operands, shapes) if "..." in sub), default=0)
    ellipsis = "".join(next(spare) for _ in range(widest))
    written = [sub.replace("...", ellipsis[widest - (len(shape) - len(sub) + 3):])
               if "..." in sub else sub for sub, shape in zip(operands, shapes)]
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        letters = "".join(s.replace("...", "") for s in operands)
        output = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return written, output


def _multilinear(rule: ArrayRule, values: list, params: dict, out: Any) -> tuple:
    """einsum: linear in each operand; operand i's cotangent is the einsum of g with the other
    operands onto operand i's letters, broadcast along letters only it has and put on the
    diagonal where a letter repeats in it ('ii': the trace)."""
    operands = values
    shapes = [np.shape(primal(o)) for o in operands]
    subs, output = _subscripts(params["subscripts"], shapes)
    spec = ",".join(subs) + "->" + output

    def grad(i: int) -> Linear:
        mine, shape = subs[i], shapes[i]
        others = [s for j, s in enumerate(subs) if j != i]
        seen = set(output).union(*others)
        unique = "".join(dict.fromkeys(mine))
        kept = "".join(c for c in unique if c in seen)
        size = {c: n for c, n in zip(mine, shape)}

        def transpose(g: Any) -> Any:
            rest = [o for j, o in enumerate(operands) if j != i]
            reduced = np.einsum(f"{','.join([output, *others])}->{kept}", g, *rest)
            if kept != unique:  # letters only operand i has: g is constant along them
                reduced = np.broadcast_to(
                    np.reshape(reduced, tuple(size[c] if c in kept else 1 for c in unique)),
                    tuple(size[c] for c in unique))
            if unique == mine:
                return reduced
            return layered(lambda r: _on_diagonal(r, mine, unique, shape))(reduced)

        def forward(t: Any) -> Any:
            return np.einsum(spec, *(t if j == i else o for j, o in enumerate(operands)))

        return Linear(rule.name, forward, transpose)

    return tuple(grad(i) for i in range(len(operands)))


def _on_diagonal(reduced: np.ndarray, mine: str, unique: str, shape: tuple) -> np.ndarray:
    """An array of letters ``mine`` (some repeated) that is ``reduced`` on its diagonal
    (numpy's einsum of repeated letters is a writeable view of it) and 0 elsewhere."""
    full = np.zeros(shape)
    np.einsum(f"{mine}->{unique}", full)[...] = reduced
    return full


READINGS: dict[str, Callable[[ArrayRule, list, dict, Any], tuple]] = {
    "multilinear": _multilinear,
    "linear": _linear, "reshape": _moves_elements, "bilinear": _bilinear,
    "selection": _selection, "extremum": _extremum, "product": _product, "matrix": _matrix}
"""kind -> reading(rule, values, params, out): one :class:`Linear` (or None: constant) per
differentiated argument (per piece of a sequence). ``composed``, ``query`` and ``constant``
need none: the recorder runs a composition on its nodes and the others on values."""
