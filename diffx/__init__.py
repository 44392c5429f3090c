"""diffx: one function, every way of differentiating it, measured side by side.

    >>> import diffx
    >>> diffx.derivative("sin(x)*exp(x)", 1.3, method="dual")  # doctest: +ELLIPSIS
    4.5171133992728...
    >>> diffx.gradient("x*y", [2.0, 3.0], method="central")  # doctest: +ELLIPSIS
    array([3..., 2...])

Nothing heavy is imported here: TensorFlow loads when a tape method first runs, matplotlib when
a figure is drawn.
"""

from diffx import elementary
from diffx.engines import METHODS, Estimate, derivative, gradient, hessian, jacobian
from diffx.engines.dual import Dual, jvp
from diffx.errors import (
    DiffxError,
    DomainError,
    LimitError,
    NonDifferentiableError,
    ParseError,
    UnsupportedError,
)
from diffx.explore import explore  # the interactive explorer (Panel is imported lazily)
from diffx.functions import Function, parse
from diffx.trace import Trace, trace

__version__ = "0.1.0"

# every function of the elementary table, dispatching on its argument: diffx.sin, diffx.exp, ...
globals().update(elementary.FUNCTIONS)

pi = 3.141592653589793
e = 2.718281828459045

__all__ = [
    "METHODS",
    "DiffxError",
    "DomainError",
    "Dual",
    "Estimate",
    "Function",
    "LimitError",
    "NonDifferentiableError",
    "ParseError",
    "Trace",
    "UnsupportedError",
    "derivative",
    "e",
    "explore",
    "gradient",
    "hessian",
    "jacobian",
    "jvp",
    "parse",
    "pi",
    "trace",
    *elementary.FUNCTIONS,
]
