"""numpy's array functions and kinked ufuncs on dual numbers: the dual engine's reading of the
array half of the table (:mod:`diffx.array_rules`).

Each numpy function there is stated by *kind*, and one rule per kind serves all of them:

- **linear** (sum, mean, cumsum, transpose, concatenate, stack, broadcast_to, …): f(x + t·ε) =
  f(x) + f(t)·ε, so the function itself runs on the tangent, its axis and shape parameters
  moved past a chunk axis (:meth:`~diffx.array_rules.ArrayRule.with_leading_axis`);
- **reshape** (reshape, ravel, squeeze, expand_dims, atleast_1d/2d): the tangent takes the
  value's new shape;
- **bilinear** (dot, and ``@``): d(ab) = da·b + a·db;
- **selection** (where; np.maximum / np.minimum as ufuncs): the tangent is chosen like the
  value; at a tie of np.maximum / np.minimum, the value between the one-sided tangents
  closest to zero (the engine's kink convention, with a NonDifferentiableWarning);
- **composed** (clip, hstack, vstack): written with the others;
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
    """np.maximum / np.minimum: the tangent of the winner; at a tie the value between the two
    tangents closest to zero (the module's kink convention)."""
    tag, (va, vb), (ta, tb), _ = _split((a, b))
    value = np.maximum(va, vb) if largest else np.minimum(va, vb)
    pa, pb = primal(va), primal(vb)
    a_wins = pa > pb if largest else pa < pb
    tie = pa == pb
    tangent = np.where(a_wins, ta, tb)
    if np.any(tie):
        low, high = np.minimum(ta, tb), np.maximum(ta, tb)
        between = np.maximum(low, np.minimum(high, 0.0))  # the median of (ta, tb, 0)
        tangent = np.where(tie, between, tangent)
        if np.any(tie & (primal(ta) != primal(tb))):
            warn(NonDifferentiableWarning(
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
    pieces of a sequence), with its axes and shape moved past a chunk axis (if any)."""
    pieces = list(arrays[0]) if rule.sequence else arrays
    if rule.flattens and params.get(rule.axis, rule.default(rule.axis)) is None:
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
    moved = rule.with_leading_axis(params, np.ndim(primal(values[0])), lead[0]) if lead else params
    if not rule.sequence:
        values, tangents = values[0], tangents[0]
    return Dual(rule.function(values, **params), rule.function(tangents, **moved), tag)


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


def _of_the_value(rule: ArrayRule, arrays: list, params: dict) -> Any:
    return rule.function(primal(arrays[0]), **params)  # shape, zeros_like: no derivative


KIND_RULES: dict[str, Callable[[ArrayRule, list, dict], Any]] = {
    "linear": _linear, "reshape": _reshape, "bilinear": _bilinear, "selection": _selection,
    "composed": lambda rule, arrays, params: rule.composition(*arrays, **params),
    "query": _of_the_value, "constant": _of_the_value}


UFUNC_RULES: dict[np.ufunc, Callable[..., Any]] = {
    np.maximum: lambda a, b: _extremum(a, b, largest=True),
    np.minimum: lambda a, b: _extremum(a, b, largest=False),
    np.matmul: lambda a, b: _matmul(a, b),
}

Installed.array_rules.update(KIND_RULES)
Installed.ufuncs.update(UFUNC_RULES)
