"""numpy's array functions and kinked ufuncs on dual numbers: the dual engine's reading of the
array half of the table (:mod:`diffx.array_rules`).

Each numpy function there is stated by *kind*, and one rule per kind serves all of them:

- **linear** (sum, mean, cumsum, transpose, concatenate, stack, broadcast_to, …): f(x + t·ε) =
  f(x) + f(t)·ε, so the function itself runs on the tangent, its axis and shape parameters
  moved past a chunk axis (:meth:`~diffx.array_rules.ArrayRule.with_leading_axis`);
- **reshape** (reshape, ravel, squeeze, expand_dims, atleast_1d/2d): the tangent takes the
  value's new shape;
- **bilinear** (dot, and ``@``): d(ab) = da·b + a·db;
- **multilinear** (einsum): Σᵢ f(x₁ … tᵢ … xₙ), a chunk axis as one more subscript;
- **selection** (where; np.maximum / np.minimum as ufuncs): the tangent is chosen like the
  value; at a tie of np.maximum / np.minimum, the MEAN of the two tangents (JAX's and
  PyTorch's convention, with a NonDifferentiableWarning; changed from "the value between
  the one-sided tangents closest to zero", which a reverse-mode engine cannot follow);
- **extremum** (max, min, amax, amin): the tangent of the maximal element, the mean at a tie;
- **product** (prod, cumprod): exclusive products, no division (exact at a zero factor);
- **matrix** (linalg.det, inv, solve, slogdet): the rule's ``jvp`` formula;
- **composed** (clip, hstack, vstack, trace, std, norm, tensordot, sinc, …): written with
  the others;
- **query** and **constant** (shape, ndim, zeros_like, …): read from the value, no tangent.

:mod:`diffx.engines.dual` calls these through ``Installed``, which this module fills in at
import (``diffx.engines`` imports it), so the dual number's own module imports nothing of it.

    >>> import numpy as np
    >>> from diffx.engines.dual import Dual
    >>> d = np.sum(np.where(np.array([True, False]), Dual(np.array([1.0, 2.0]), np.ones(2)), 0.0))
    >>> float(d.value), float(d.tangent)
    (1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diffx.array_rules import ArrayRule
from diffx.elementary import primal
from diffx.engines.dual import Dual, Installed, aligned_tangent, warn
from diffx.errors import NonDifferentiableWarning, UnsupportedError

__all__ = ["KIND_RULES", "UFUNC_RULES"]


def _extremum(a: Any, b: Any, largest: bool) -> Dual:
    """np.maximum / np.minimum: the tangent of the winner; at a tie the MEAN of the two
    tangents, ½ each (JAX's jnp.maximum and torch.maximum; it is max(a, b) = (a + b + |a − b|)/2
    with the table's sign(0) = 0, and linear in the tangents, so a reverse-mode engine
    follows it exactly). A deliberate change from the earlier convention (the value between
    the one-sided tangents closest to zero): np.maximum(x, 0) now has derivative ½ at 0,
    while the table's relu row keeps relu'(0) = 0. A tie with different tangents warns."""
    tag, (va, vb), (ta, tb), _ = _split((a, b))
    value = np.maximum(va, vb) if largest else np.minimum(va, vb)
    pa, pb = primal(va), primal(vb)
    a_wins = pa > pb if largest else pa < pb
    tie = pa == pb
    tangent = np.where(a_wins, ta, tb)
    if np.any(tie):
        tangent = np.where(tie, (ta + tb) * 0.5, tangent)
        if np.any(tie & (primal(ta) != primal(tb))):
            warn(NonDifferentiableWarning(
                f"numpy.{'maximum' if largest else 'minimum'} at a tie of arguments with "
                f"different derivatives: not differentiable there; using the mean of the two "
                f"derivatives (JAX's and PyTorch's convention)"))
    return Dual(value, tangent, tag)


def _split(items: tuple) -> tuple[int, list, list, tuple]:
    """For a rule with several array arguments: the newest tag, the values and the tangents
    (aligned to the broadcast result; zeros for constants), and the chunk prefix ``(k,)``."""
    duals = [x for x in items if isinstance(x, Dual)]
    tag = max(d.tag for d in duals)
    ours = [x for x in duals if x.tag == tag]
    lead = tuple(np.shape(primal(ours[0].tangent)))[:1] if ours[0].chunked else ()
    values = [x.value if isinstance(x, Dual) and x.tag == tag else x for x in items]
    ndim = max(np.ndim(primal(v)) for v in values)
    zero = np.zeros(lead + (1,) * ndim) if lead else 0.0  # broadcasts like any tangent
    tangents = [aligned_tangent(x, ndim) if isinstance(x, Dual) and x.tag == tag else zero
                for x in items]
    return tag, values, tangents, lead


# --------------------------------------------------------------------------------------------
# numpy array functions: each kind of diffx.array_rules, read once for duals
# --------------------------------------------------------------------------------------------
def _linear(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """f(x + t·ε) = f(x) + f(t)·ε: the function itself on the tangent (zeros for constant
    pieces of a sequence), with its axis-like parameters moved past a chunk axis (if any), or
    item by item along it where they cannot be (:meth:`ArrayRule.with_leading_axis`). A
    function returning a list (split) gives a list of duals."""
    pieces = list(arrays[0]) if rule.sequence else arrays
    shape = None
    if rule.flattens and params.get(rule.axis, rule.default(rule.axis)) is None:
        shape = np.shape(primal(pieces[0]))
        pieces, params = [np.ravel(p) for p in pieces], {**params, rule.axis: 0}
    duals = [p for p in pieces if isinstance(p, Dual)]
    if not duals:
        return rule.function(pieces if rule.sequence else pieces[0], **params)
    tag = max(d.tag for d in duals)
    owner = next(d for d in duals if d.tag == tag)
    lead = np.shape(primal(owner.tangent))[:1] if owner.chunked else ()
    mine = [isinstance(p, Dual) and p.tag == tag for p in pieces]
    values = [p.value if m else p for p, m in zip(pieces, mine)]
    tangents = [p.tangent if m else np.zeros(lead + np.shape(primal(p)))
                for p, m in zip(pieces, mine)]
    if rule.shape and lead:  # broadcast_to: unit axes after the chunk axis, then the shape
        tangents = [aligned_tangent(pieces[0], len(np.atleast_1d(params[rule.shape])))]
    ndim = np.ndim(primal(values[0]))
    moved = rule.with_leading_axis(params, ndim, lead[0]) if lead else params
    if not rule.sequence:
        values, tangents = values[0], tangents[0]
    value = rule.function(values, **params)
    if moved is not None:
        tangent = rule.function(tangents, **moved)
    else:  # one direction at a time (np.diag; tile with more reps than axes)
        items = [rule.function([t[i] for t in tangents] if rule.sequence else tangents[i],
                               **params) for i in range(lead[0])]
        tangent = [np.stack(parts) for parts in zip(*items)] if isinstance(
            value, (list, tuple)) else np.stack(items)
    if isinstance(value, (list, tuple)):  # split, array_split
        return [Dual(v, t, tag) for v, t in zip(value, tangent)]
    result = Dual(value, tangent, tag)
    return np.reshape(result, shape) if shape is not None and rule.restores_shape else result


def _reshape(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """Same elements in the same order, a new shape: the tangent takes the value's new shape."""
    x = arrays[0]
    if not isinstance(x, Dual):
        return rule.function(x, **params)
    value = rule.function(x.value, **params)
    lead = np.shape(primal(x.tangent))[:1] if x.chunked else ()
    return Dual(value, np.reshape(x.tangent, lead + np.shape(primal(value))), x.tag)


def _bilinear(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """np.dot: matmul on vectors and matrices (:func:`_matmul`), a product with a scalar."""
    a, b = arrays
    if np.ndim(primal(a)) == 0 or np.ndim(primal(b)) == 0:
        return a * b
    return _matmul(a, b)


def _matmul(a: Any, b: Any) -> Any:
    """a @ b for vectors and matrices: d(ab) = da·b + a·db (bilinear)."""
    if not any(isinstance(x, Dual) for x in (a, b)):
        return np.matmul(a, b)
    if max(np.ndim(primal(a)), np.ndim(primal(b))) > 2:
        raise UnsupportedError("matmul/dot of dual numbers supports vectors and matrices "
                               "(ndim <= 2) only")
    tag, (va, vb), _, _ = _split((a, b))
    terms = []
    if isinstance(a, Dual) and a.tag == tag:
        terms.append(a.tangent @ vb)  # a chunk axis in front acts as extra rows or a batch axis
    if isinstance(b, Dual) and b.tag == tag:
        tb = b.tangent
        terms.append((va @ tb.T).T if b.chunked and b.ndim == 1 else va @ tb)
    return Dual(va @ vb, sum(terms[1:], terms[0]), tag)


def _selection(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """np.where(c, a, b): c is read from values; the tangent is chosen like the value."""
    condition = primal(params[rule.condition])
    if not any(isinstance(a, Dual) for a in arrays):
        return rule.function(condition, *(a for a in arrays if a is not None))
    tag, values, tangents, _ = _split(tuple(arrays))
    return Dual(rule.function(condition, *values), rule.function(condition, *tangents), tag)


def _ours(arrays: list) -> tuple[int, list, list, tuple]:
    """The newest tag among ``arrays``, their values, their tangents (None for constants, as
    they are: not broadcast) and the chunk prefix ``(k,)`` or ()."""
    tag = max(a.tag for a in arrays if isinstance(a, Dual))
    mine = [isinstance(a, Dual) and a.tag == tag for a in arrays]
    owner = next(a for a, m in zip(arrays, mine) if m)
    lead = np.shape(primal(owner.tangent))[:1] if owner.chunked else ()
    return (tag, [a.value if m else a for a, m in zip(arrays, mine)],
            [a.tangent if m else None for a, m in zip(arrays, mine)], lead)


def _multilinear(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """einsum: linear in each operand, so d f = Σᵢ f(x₁ … tᵢ … xₙ); a chunk axis is one more
    subscript letter on tᵢ and on the output."""
    options = {name: value for name, value in params.items() if name != "subscripts"}
    subscripts = params["subscripts"]
    if not any(isinstance(a, Dual) for a in arrays):
        return rule.function(subscripts, *arrays, **options)
    tag, values, tangents, lead = _ours(arrays)
    tangent = None
    for i, t in enumerate(tangents):
        if t is not None:
            operands = [*values[:i], t, *values[i + 1:]]
            moved = rule.with_leading_axis(params, np.ndim(primal(values[i])), lead[0],
                                           operand=i)["subscripts"] if lead else subscripts
            term = rule.function(moved, *operands, **options)
            tangent = term if tangent is None else tangent + term
    return Dual(rule.function(subscripts, *values, **options), tangent, tag)


def _reduced_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in (axis if isinstance(axis, (tuple, list)) else
                                            (axis,))))


def _extremum_reduction(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """np.max / np.min: the tangent of the element equal to the result; at a tie (several
    equal along the reduced axes) the MEAN of their tangents (JAX's and PyTorch's
    convention), with a NonDifferentiableWarning when the tied tangents differ."""
    x = arrays[0]
    if not isinstance(x, Dual):
        return rule.function(x, **params)
    axis, keepdims = params.get("axis"), params.get("keepdims", False)
    lead = np.shape(primal(x.tangent))[:1] if x.chunked else ()
    value = rule.function(x.value, axis=axis, keepdims=keepdims)
    kept = rule.function(primal(x.value), axis=axis, keepdims=True)
    chosen = primal(x.value) == kept
    count = np.sum(chosen, axis=axis, keepdims=True)
    over = rule.with_leading_axis({"axis": axis}, x.ndim, lead[0])["axis"] if lead else axis
    tangent = np.sum(np.where(chosen, x.tangent, 0.0), axis=over, keepdims=True) / count
    if np.any(count > 1):
        tangents = primal(x.tangent)
        high = np.max(np.where(chosen, tangents, -np.inf), axis=over, keepdims=True)
        low = np.min(np.where(chosen, tangents, np.inf), axis=over, keepdims=True)
        if np.any((count > 1) & (high != low)):
            warn(NonDifferentiableWarning(
                f"{rule.name} at a tie of elements with different derivatives: not "
                f"differentiable there; using the mean of the tied derivatives (JAX's and "
                f"PyTorch's convention)"))
    return Dual(value, np.reshape(tangent, lead + np.shape(primal(value))), x.tag)


def _product(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """np.prod: Σᵢ tᵢ Πⱼ≠ᵢ xⱼ from exclusive products (cumulative products from the left and
    from the right), never dividing by xᵢ, so a zero factor gives the right derivative;
    np.cumprod: the product rule step by step, dyᵢ = dyᵢ₋₁·xᵢ + yᵢ₋₁·tᵢ (no division)."""
    x = arrays[0]
    if not isinstance(x, Dual):
        return rule.function(x, **params)
    if rule.flattens and params.get(rule.axis) is None:
        x, params = np.ravel(x), {**params, rule.axis: 0}
    lead = np.shape(primal(x.tangent))[:1] if x.chunked else ()
    ndim, shift = x.ndim, len(lead)
    value = rule.function(x.value, **params)
    if rule.flattens:  # cumprod along one axis
        axis = params[rule.axis] % max(ndim, 1)
        factors = np.moveaxis(x.value, axis, 0)
        tangents = np.moveaxis(x.tangent, axis + shift, 0)
        before = np.moveaxis(value, axis, 0)
        steps = [tangents[0]]
        for i in range(1, len(factors)):
            steps.append(steps[-1] * factors[i] + before[i - 1] * tangents[i])
        return Dual(value, np.moveaxis(np.stack(steps), 0, axis + shift), x.tag)
    reduced = _reduced_axes(params.get(rule.axis), ndim)
    kept = [a for a in range(ndim) if a not in reduced]
    size = int(np.prod([x.shape[a] for a in reduced]))
    factors = np.reshape(np.transpose(x.value, kept + list(reduced)),
                         [x.shape[a] for a in kept] + [size])
    tangents = np.reshape(np.transpose(x.tangent, list(range(shift)) + [a + shift for a in
                                                                         kept + list(reduced)]),
                          list(lead) + [x.shape[a] for a in kept] + [size])
    if size == 0:
        return Dual(value, np.zeros(lead + np.shape(primal(value))), x.tag)
    ones = np.ones_like(primal(factors[..., :1]))
    left = np.concatenate([ones, np.cumprod(factors[..., :-1], axis=-1)], axis=-1)
    right = np.flip(np.concatenate([ones, np.cumprod(np.flip(factors[..., 1:], axis=-1),
                                                     axis=-1)], axis=-1), axis=-1)
    tangent = np.sum(left * right * tangents, axis=-1)
    return Dual(value, np.reshape(tangent, lead + np.shape(primal(value))), x.tag)


def _matrix(rule: ArrayRule, arrays: list, params: dict) -> Any:
    """det, inv, solve, slogdet: the rule's own ``jvp`` formula on values and tangents (a
    chunk axis in front of a tangent is a batch axis to numpy's linear algebra)."""
    if not any(isinstance(a, Dual) for a in arrays):
        return rule.function(*arrays)
    tag, values, tangents, _ = _ours(arrays)
    value, tangent = rule.jvp(values, tangents)
    if isinstance(tangent, tuple):  # slogdet: (sign, logabsdet)
        return type(value)(*(v if t is None else Dual(v, t, tag)
                             for v, t in zip(value, tangent)))
    return Dual(value, tangent, tag)


def _of_the_value(rule: ArrayRule, arrays: list, params: dict) -> Any:
    return rule.function(primal(arrays[0]), **params)  # shape, zeros_like: no derivative


KIND_RULES: dict[str, Callable[[ArrayRule, list, dict], Any]] = {
    "linear": _linear, "reshape": _reshape, "bilinear": _bilinear,
    "multilinear": _multilinear, "selection": _selection, "extremum": _extremum_reduction,
    "product": _product, "matrix": _matrix,
    "composed": lambda rule, arrays, params: rule.composition(*arrays, **params),
    "query": _of_the_value, "constant": _of_the_value}


UFUNC_RULES: dict[np.ufunc, Callable[..., Any]] = {
    np.maximum: lambda a, b: _extremum(a, b, largest=True),
    np.minimum: lambda a, b: _extremum(a, b, largest=False),
    np.matmul: lambda a, b: _matmul(a, b),
}

Installed.array_rules.update(KIND_RULES)
Installed.ufuncs.update(UFUNC_RULES)
