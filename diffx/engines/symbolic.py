"""Symbolic differentiation: SymPy ``diff``, then ``lambdify`` to numpy with common-subexpression
elimination, compiled once per function and derivative kind and cached on the Function.

The SymPy form comes from the function model (parsed text, a SymPy expression, or a callable
traced with SymPy symbols). Small derivatives are simplified for readability; large ones are
left as ``diff`` produced them (``simplify`` can take minutes on big trees, and
``lambdify(cse=True)`` already shares repeated subexpressions).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import sympy

from diffx import elementary as E
from diffx.errors import LimitError
from diffx.functions import Function

__all__ = ["SIMPLIFY_MAX_OPS", "derivative", "derivative_expression", "diff", "hessian",
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
    relu' = heaviside(x) with H(0) = 0. So DiracDelta terms become 0 and H(0) becomes 0.

    >>> x = sympy.Symbol("x", real=True)
    >>> diff(sympy.Max(0, x), x), diff(sympy.Abs(x), x, 2)
    (Heaviside(x, 0), 0)
    """
    derivative = sympy.diff(expr, *variables)
    derivative = derivative.replace(lambda e: isinstance(e, sympy.DiracDelta),
                                    lambda e: sympy.S.Zero)
    return derivative.replace(lambda e: isinstance(e, sympy.Heaviside) and e.args[1:] != (0,),
                              lambda e: sympy.Heaviside(e.args[0], 0))


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    if sympy.count_ops(expr) > SIMPLIFY_MAX_OPS:
        return expr
    simpler = sympy.simplify(expr, ratio=1.0)
    return simpler if sympy.count_ops(simpler) <= sympy.count_ops(expr) else expr


def derivative_expression(fn: Function, order: int = 1, n: int = 1) -> sympy.Expr:
    """The SymPy expression of the ``order``-th derivative of a scalar function of one variable.

    >>> from diffx.functions import parse
    >>> derivative_expression(parse("x**3"))
    3*x**2
    """
    (expr,) = fn.sympy_form(n)
    (symbol,) = fn.symbols(n)
    return _tidy(diff(expr, symbol, order))


def _compiled(fn: Function, key: tuple, build: Callable[[], Any], n: int) -> Callable:
    cache = fn.__dict__.setdefault("_symbolic_cache", {})
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
                         lambda: derivative_expression(fn, order), 1)
    return float(_evaluate(compiled, np.array([x]), ()))


@sympy_recursion()
def jacobian(fn: Function, x: np.ndarray) -> np.ndarray:
    n = x.size
    forms = fn.sympy_form(n)

    def build():
        return sympy.Matrix([[_tidy(diff(g, s)) for s in fn.symbols(n)] for g in forms])

    return _evaluate(_compiled(fn, ("jacobian", n), build, n), x, (len(forms), n))


@sympy_recursion()
def hessian(fn: Function, x: np.ndarray) -> np.ndarray:
    n = x.size

    def build():
        (expr,) = fn.sympy_form(n)
        symbols = fn.symbols(n)
        return sympy.Matrix([[_tidy(diff(expr, si, sj)) for sj in symbols] for si in symbols])

    return _evaluate(_compiled(fn, ("hessian", n), build, n), x, (n, n))
