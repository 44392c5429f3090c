"""Symbolic differentiation: SymPy ``diff``, then ``lambdify`` to numpy with common-subexpression
elimination, compiled once per function and derivative kind and cached on the Function.

The SymPy form comes from the function model (parsed text, a SymPy expression, or a callable
traced with SymPy symbols). What is evaluated is the derivative as ``diff`` produced it, with
``lambdify(cse=True)`` sharing repeated subexpressions: ``simplify`` is for display only
(:func:`derivative_expression`), because a simpler-looking form can evaluate worse —
``10.31**(x + x) - x`` simplified to ``log((1031/100)**(2*1062961**x))/10000**x``, which
overflows to inf at 0.6 where the derivative is 75.71.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import sympy

from diffx import elementary as E
from diffx.engines.registry import Engine
from diffx.errors import LimitError
from diffx.functions import Function

__all__ = ["ENGINES", "SIMPLIFY_MAX_OPS", "derivative", "derivative_expression", "diff", "hessian",
           "jacobian", "sympy_recursion"]

SIMPLIFY_MAX_OPS = 40  # simplify() only below this operation count: it is fast there
SYMPY_RECURSION_LIMIT = 6000  # SymPy recurses ~20 frames per nesting level; parse allows 200


@contextlib.contextmanager
def sympy_recursion() -> Iterator[None]:
    """Let SymPy recurse through expressions as deep as the parser allows (Python's default
    limit of 1000 frames breaks at ~50 nested functions), and turn a RecursionError beyond that
    into a LimitError instead of a crash deep inside SymPy."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, SYMPY_RECURSION_LIMIT))
    try:
        yield
    except RecursionError:
        raise LimitError("the expression is nested too deeply for SymPy; the other methods "
                         "can still differentiate it") from None
    finally:
        sys.setrecursionlimit(previous)


def diff(expr: sympy.Expr, *variables: Any) -> sympy.Expr:
    """``sympy.diff`` with the kink conventions of diffx's table (``elementary.py``).

    SymPy differentiates sign and Heaviside into DiracDelta, which has no numeric value, and
    relu = Max(0, x) into Heaviside(x) with H(0) = 1/2. The table says: sign' = heaviside' = 0
    everywhere (the derivative TensorFlow and diffx's dual numbers use, also at the kink) and
    relu' = heaviside(x) with H(0) = 0. So the rows that say so (``sympy_uses_partials``) are
    differentiated by their table partials: before each differentiation their applications
    become functions whose derivative is that rule, and afterwards SymPy's forms again.
    ``variables`` as for sympy.diff: symbols, each optionally followed by a count.

    >>> x = sympy.Symbol("x", real=True)
    >>> diff(sympy.Max(0, x), x), diff(sympy.Abs(x), x, 2)
    (Heaviside(x, 0), 0)
    """
    expr = _by_table_rules(expr)
    for symbol in _one_by_one(variables):
        expr = _by_table_rules(sympy.diff(expr, symbol))
    return expr.replace(lambda e: isinstance(e, _TableRule), lambda e: e.row.sympy(*e.args))


def _one_by_one(variables: tuple) -> Iterator[Any]:
    """(x, 2, y) -> x, x, y: the variables of sympy.diff, one differentiation each."""
    for i, v in enumerate(variables):
        if isinstance(v, numbers.Integral):
            continue
        count = variables[i + 1] if i + 1 < len(variables) and isinstance(
            variables[i + 1], numbers.Integral) else 1
        yield from [v] * int(count)


class _TableRule(sympy.Function):
    """An application of a table row that SymPy must differentiate by the row's partials."""

    row: Any = None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        partial = self.row.partials[argindex - 1](*self.args, self.row.sympy(*self.args))
        exact = partial if isinstance(partial, sympy.Basic) else sympy.Rational(partial)
        return _by_table_rules(exact)


@functools.cache
def _table_rule(row: Any) -> type:
    return type(f"{row.name}", (_TableRule,), {"row": row, "nargs": row.arity})


@functools.cache
def _heads_by_table_rules() -> tuple[type, ...]:
    """The SymPy classes (sign, Heaviside, Max) of the rows with ``sympy_uses_partials``."""
    return tuple({row.sympy(*sympy.symbols(f"a:{row.arity}")).func
                  for row in E.ELEMENTARY.values() if row.sympy_uses_partials})


def _by_table_rules(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with each application of a row with ``sympy_uses_partials`` replaced by
    :class:`_TableRule` of that row."""
    heads = _heads_by_table_rules()
    if not expr.has(*heads):
        return expr

    def rule_of(e: Any) -> tuple | None:
        found = E.row_of_sympy(e) if getattr(e, "func", None) in heads else None
        return found if found is not None and found[0].sympy_uses_partials else None

    return expr.replace(lambda e: rule_of(e) is not None,
                        lambda e: _table_rule(rule_of(e)[0])(*rule_of(e)[1]))


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` simplified when that is fast and not longer. A simplification that brings in
    an infinity is refused: simplify can split x²·sign(x)/sign(x + 2) into a Piecewise with zoo
    at x = -2, which lambdify cannot print (and the unsimplified form evaluates there anyway)."""
    if sympy.count_ops(expr) > SIMPLIFY_MAX_OPS:
        return expr
    simpler = sympy.simplify(expr, ratio=1.0)
    infinite = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan)
    if simpler.has(*infinite) and not expr.has(*infinite):
        return expr
    return simpler if sympy.count_ops(simpler) <= sympy.count_ops(expr) else expr


def derivative_expression(fn: Function, order: int = 1, n: int = 1,
                          simplify: bool = True) -> sympy.Expr:
    """The SymPy expression of the ``order``-th derivative of a scalar function of one variable:
    simplified for display (when that is fast and not longer), or with ``simplify=False`` as
    ``diff`` produced it, which is what the engine evaluates.

    >>> from diffx.functions import parse
    >>> derivative_expression(parse("x**3"))
    3*x**2
    """
    (expr,) = fn.sympy_form(n)
    (symbol,) = fn.symbols(n)
    raw = diff(expr, symbol, order)
    return _tidy(raw) if simplify else raw


def _compiled(fn: Function, key: tuple, build: Callable[[], Any], n: int) -> Callable:
    cache = fn.cache.get("symbolic", dict)
    if key not in cache:
        cache[key] = sympy.lambdify(fn.symbols(n), build(), modules=[E.sympy_numpy_names(),
                                                                     "numpy"], cse=True)
    return cache[key]


def _evaluate(compiled: Callable, x: np.ndarray, shape: tuple) -> np.ndarray:
    with np.errstate(all="ignore"):  # NaN/inf are reported by the caller, not as warnings here
        value = compiled(*x)
    return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()


@sympy_recursion()
def derivative(fn: Function, x: float, order: int = 1) -> float:
    compiled = _compiled(fn, ("derivative", order),
                         lambda: derivative_expression(fn, order, simplify=False), 1)
    return float(_evaluate(compiled, np.array([x]), ()))


@sympy_recursion()
def jacobian(fn: Function, x: np.ndarray) -> np.ndarray:
    n = x.size
    forms = fn.sympy_form(n)

    def build():
        return sympy.Matrix([[diff(g, s) for s in fn.symbols(n)] for g in forms])

    return _evaluate(_compiled(fn, ("jacobian", n), build, n), x, (len(forms), n))


@sympy_recursion()
def hessian(fn: Function, x: np.ndarray) -> np.ndarray:
    n = x.size

    def build():
        (expr,) = fn.sympy_form(n)
        symbols = fn.symbols(n)
        return sympy.Matrix([[diff(expr, si, sj) for sj in symbols] for si in symbols])

    return _evaluate(_compiled(fn, ("hessian", n), build, n), x, (n, n))


ENGINES = (Engine("symbolic", "symbolic",
                  "SymPy diff, then lambdify with common-subexpression elimination",
                  jacobian=jacobian, derivative=derivative, hessian=hessian,
                  needs_tracing=True),)
