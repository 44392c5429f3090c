"""Reverse-mode automatic differentiation over a recorded trace: diffx's own, pure Python.

The mirror image of :mod:`diffx.engines.dual`. Forward mode pushes one tangent from the inputs
to the outputs during the evaluation; reverse mode first *records* the evaluation, then pulls
one adjoint from an output back to every input:

1. record (:func:`diffx.recording.record`): run ``f`` once on recording values. Each elementary
   operation appends a node ``vᵢ = op(args)`` holding its value and its local partials
   ∂vᵢ/∂vⱼ, read from the elementary table's ``partials`` (the rules the dual engine uses).
2. sweep (:func:`diffx.recording.reverse_sweep`): set ȳ = 1 on an output, then visit the nodes
   backwards and hand each node's adjoint to its arguments,

       v̄ⱼ += v̄ᵢ · ∂vᵢ/∂vⱼ

   When the sweep reaches the inputs, x̄ⱼ = ∂y/∂xⱼ: the whole gradient, for a few times the
   cost of one evaluation however many inputs there are (the cheap-gradient principle).

The three cores read naturally from there:

* ``jacobian``: record once, sweep once per output (row k of J is the sweep from ȳ = eₖ).
* ``derivative`` and ``hessian``: forward over reverse. Record the trace on *dual numbers*
  ``x + v·ε`` (the dual engine's); every value, partial and adjoint then carries a tangent, and
  one reverse sweep returns ∇f(x) + (H·v)·ε. With v = eᵢ that is column i of the Hessian, exact
  to rounding (no step, no cancellation). Higher orders nest more duals under the sweep.

    >>> from diffx.functions import parse
    >>> jacobian(parse("log(x1) + x1*x2 - sin(x2)"), np.array([2.0, 5.0]))[0, 0]
    np.float64(5.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffx.array_adjoints import LAYERED
from diffx.engines.dual import Dual, new_tag, tangent_of
from diffx.engines.registry import Engine
from diffx.errors import DiffxError
from diffx.functions import Function
from diffx.recording import record, records_arrays, reverse_sweep

__all__ = ["ENGINES", "derivative", "gradients", "hessian", "jacobian"]


def gradients(fn: Function, x: Any) -> list[list[Any]]:
    """The core: record ``fn`` at ``x`` once; row k is ∂yₖ/∂x from one reverse sweep.

    ``x`` is a sequence of n floats or dual numbers; entries are floats (or duals).
    """
    tape = record(fn, x)
    m = tape.size
    rows = []
    for k in range(m):
        adjoints = reverse_sweep(tape, [1.0 if i == k else 0.0 for i in range(m)])
        rows.append(tape.input_adjoints(adjoints))
    return rows


def _scalar_gradient(fn: Function, x: Any, what: str) -> list[Any]:
    rows = gradients(fn, x)
    if len(rows) != 1:
        raise DiffxError(f"{what} needs a scalar function; {fn.name} has {len(rows)} outputs "
                         f"(use jacobian)")
    return rows[0]


def derivative(fn: Function, x: float, order: int = 1) -> float:
    """The ``order``-th derivative of a scalar function of one variable.

    Order 1 is one reverse sweep; each further order wraps the point in one more dual number
    (fresh tag) under the sweep, so f⁽ᵏ⁾ costs 2**(k-1) times a first derivative.
    """

    def nth(point: Any, k: int) -> Any:
        if k == 1:
            return _scalar_gradient(fn, [point], "derivative")[0]
        tag = new_tag()
        return tangent_of(nth(Dual(point, 1.0, tag), k - 1), tag)

    return float(nth(float(x), order))


def jacobian(fn: Function, x: np.ndarray) -> np.ndarray:
    """Jacobian (m, n): one recording, one reverse sweep per output."""
    point = x if records_arrays(fn, x.size) else [float(v) for v in x]
    return np.array(gradients(fn, point), dtype=float)


def hessian(fn: Function, x: np.ndarray) -> np.ndarray:
    """Hessian (n, n) of a scalar function, forward over reverse: column i is the reverse
    sweep of a trace recorded at the dual point x + eᵢ·ε, whose tangent is H·eᵢ."""
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        tag = new_tag()
        if records_arrays(fn, n):  # numpy code: one dual vector x + eᵢ·ε
            point = Dual(np.asarray(x, dtype=float), np.eye(n)[i], tag)
        else:
            point = [Dual(float(x[j]), float(i == j), tag) for j in range(n)]
        gradient = _scalar_gradient(fn, point, "hessian")
        H[:, i] = [float(tangent_of(g, tag)) for g in gradient]
    return H


# the transposes of element-moving numpy functions (np.bincount, index assignment) apply to a
# dual cotangent's value and tangent separately (they are linear)
LAYERED[Dual] = (lambda d: (d.value, d.tangent), lambda d, value, tangent: Dual(value, tangent,
                                                                              d.tag))

ENGINES = (Engine("reverse", "automatic",
                  "reverse-mode AD: diffx's own sweep over a recorded evaluation trace",
                  jacobian=jacobian, derivative=derivative, hessian=hessian,
                  needs_tracing=True),)
