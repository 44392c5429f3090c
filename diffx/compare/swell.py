"""Expression swell: the size of a symbolic derivative against nesting depth, beside dual numbers.

:func:`expression_swell` nests a step function d times (a family of :data:`SWELL_FAMILIES`) and
counts the operations of f, of SymPy's ``diff(f)`` (before and after common-subexpression
elimination) and the operations the loop program and the dual engine actually execute
(:func:`count_operations`).

    >>> count_operations(lambda v: 4 * v * (1 - v), 0.3, dual=False)  # one logistic step
    (3, 0.84)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from diffx.compare.measurement import Progress, errors_against, no_progress
from diffx.errors import DiffxError
from diffx.functions import CallableFunction
from diffx.reference import reference_derivative

__all__ = ["SWELL_FAMILIES", "Swell", "SwellRow", "count_operations", "expression_swell"]


class _Counted:
    """A float that counts every elementary operation applied to it (for operation counts)."""

    __slots__ = ("value",)
    tally = 0

    def __init__(self, value: float):
        self.value = value

    def __add__(self, other): return _E().add(self, other)
    def __radd__(self, other): return _E().add(other, self)
    def __sub__(self, other): return _E().subtract(self, other)
    def __rsub__(self, other): return _E().subtract(other, self)
    def __mul__(self, other): return _E().multiply(self, other)
    def __rmul__(self, other): return _E().multiply(other, self)
    def __truediv__(self, other): return _E().divide(self, other)
    def __rtruediv__(self, other): return _E().divide(other, self)
    def __pow__(self, other): return _E().power(self, other)
    def __rpow__(self, other): return _E().power(other, self)
    def __neg__(self): return _E().negative(self)


def _E():
    from diffx import elementary

    return elementary


def _count_apply(row: Any, args: tuple) -> _Counted:
    _Counted.tally += 1
    return _Counted(row(*(a.value if isinstance(a, _Counted) else a for a in args)))


def count_operations(program: Callable[[Any], Any], x: float, dual: bool) -> tuple[int, float]:
    """Operations executed by ``program`` at x (with ``dual``: carrying a dual tangent);
    returns the count and the result (the value, or the tangent = derivative)."""
    from diffx.elementary import register_type
    from diffx.engines.dual import Dual

    register_type(_Counted, _count_apply)
    _Counted.tally = 0
    if dual:
        out = program(Dual(_Counted(x), _Counted(1.0), tag=10**9))
        value = out.tangent if isinstance(out, Dual) else 0.0
    else:
        value = program(_Counted(x))
    value = value.value if isinstance(value, _Counted) else value
    return _Counted.tally, float(value)


def _logistic_step(level: Any) -> Any:
    return 4 * level * (1 - level)


def _sin_step(level: Any) -> Any:
    from diffx.elementary import sin

    return sin(level)


SWELL_FAMILIES: dict[str, tuple[str, Callable[[Any], Any], float]] = {
    "logistic": ("logistic map lₖ₊₁ = 4lₖ(1 − lₖ)", _logistic_step, 0.3),
    "nested-sin": ("nested sine lₖ₊₁ = sin(lₖ)", _sin_step, 0.7),
}


@dataclass
class SwellRow:
    """Operation counts at one nesting depth (SymPy ``count_ops`` and executed operations)."""

    depth: int
    function_ops: int         # the expression tree of f, written out
    derivative_ops: int       # SymPy diff of it, as a tree
    derivative_cse_ops: int   # after common-subexpression elimination (what lambdify runs)
    program_ops: int          # operations executed evaluating f as a loop
    dual_ops: int             # operations executed by the dual engine for f' (value + tangent)
    dual_rel_error: float     # that dual derivative vs the 50-digit reference (NaN: unchecked)


@dataclass
class Swell:
    """Expression swell of ``family`` (key of :data:`SWELL_FAMILIES`) against depth."""

    family: str
    description: str
    rows: list[SwellRow] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"expression swell: {self.description}",
                 f"{'depth':>5}{'f tree':>10}{'diff':>10}{'diff+cse':>10}{'program':>9}"
                 f"{'dual':>7}"]
        lines += [f"{r.depth:>5}{r.function_ops:>10}{r.derivative_ops:>10}"
                  f"{r.derivative_cse_ops:>10}{r.program_ops:>9}{r.dual_ops:>7}"
                  for r in self.rows]
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        return [{"family": self.family, **asdict(r)} for r in self.rows]


def expression_swell(family: str = "logistic", depths: Sequence[int] = range(1, 11), *,
                     check_up_to: int = 6, progress: Progress | None = None) -> Swell:
    """Size of the symbolic derivative against nesting depth, next to the cost of dual numbers.

    For each depth d, f = step∘…∘step (d times) at the family's point: SymPy operation counts
    of f, of ``diff(f)`` and of ``diff(f)`` after ``cse`` (the form lambdify evaluates), and the
    operations the loop program and the dual engine actually execute (counted, linear in d).
    The dual derivative is checked against the 50-digit reference for d ≤ ``check_up_to``
    (the reference evaluates the swollen tree, so its cost grows about 4× per level).

    >>> s = expression_swell("logistic", [1, 2])
    >>> [(r.depth, r.program_ops, r.derivative_ops) for r in s.rows]
    [(1, 3, 2), (2, 6, 21)]
    """
    import sympy

    if family not in SWELL_FAMILIES:
        raise DiffxError(f"unknown swell family {family!r}; choose one of "
                         f"{', '.join(SWELL_FAMILIES)}")
    description, step, x = SWELL_FAMILIES[family]
    progress = progress or no_progress
    result = Swell(family, description)
    for depth in depths:
        def program(v: Any, depth: int = depth) -> Any:
            for _ in range(depth):
                v = step(v)
            return v

        fn = CallableFunction(program, name=f"{family} depth {depth}")
        (expr,) = fn.sympy_form(1)
        (symbol,) = fn.symbols(1)
        derivative = sympy.diff(expr, symbol)
        replacements, reduced = sympy.cse(derivative)
        cse_ops = sum(sympy.count_ops(r) for _, r in replacements) + sympy.count_ops(reduced[0])
        program_ops, _ = count_operations(program, x, dual=False)
        dual_ops, value = count_operations(program, x, dual=True)
        rel_error = math.nan
        if depth <= check_up_to:
            rel_error = errors_against(value, reference_derivative(fn, x))[1]
        result.rows.append(SwellRow(depth, int(sympy.count_ops(expr)),
                                    int(sympy.count_ops(derivative)), int(cse_ops),
                                    program_ops, dual_ops, rel_error))
        progress(f"expression swell: {family} depth {depth}")
    return result
