"""Named test functions: the catalogue every diffx engine is measured on.

Each :class:`CatalogEntry` is an expression string (parsed with :func:`diffx.functions.parse`),
or numpy code from the corpus (kind ``numpy``, below), with a default point where it is defined
and, unless ``smooth`` is False, differentiable. The test suite runs every engine on every entry
against the mpmath reference, and the report's accuracy tables are built from it, so adding an
entry here adds its tests and its rows automatically.

Kinds:

``scalar``
    smooth functions of one variable (the README example ``sin_exp`` among them);
``multivariate``
    functions R^n -> R (optimisation test problems, a loss, a tiny network);
``vector``
    functions R^n -> R^m, written as a list ``"[f1, f2, ...]"`` (Jacobians);
``seed``
    the worked examples of the seed notebooks (``shared/seeds``), with their published numbers;
``hard``
    cases that break some method: points near a domain edge, steep or huge or tiny values,
    deep compositions, and kinks (``smooth=False``: exact engines skip those);
``numpy``
    user-style numpy code from :mod:`diffx.numpy_corpus` (a loss, an MLP, a determinant, a
    linear solve, ``np.where``, a residual vector): ``numpy_case`` names the corpus case, whose
    point the entry takes; ``expression`` is the case's code on one line, for people to read
    (it is not parsed); ``function()`` is the callable wrapped by
    :func:`diffx.functions.as_function`, a function of one vector (``variables`` is None: the
    point's length sets n).

Variables are sorted naturally (``b, w0, w1``; ``r, t``), and every ``point`` lists its
coordinates in that order, i.e. in the order of ``entry.function().variables``::

    >>> from diffx import catalog
    >>> entry = catalog.get("rosenbrock")
    >>> entry.point, entry.function().variables
    ((-1.2, 1.0), ('x', 'y'))
    >>> round(float(entry.function()(*entry.point)), 10)
    24.2
    >>> import numpy as np
    >>> entry = catalog.get("np_rosenbrock")
    >>> entry.numpy_case, entry.expression
    ('rosenbrock', 'return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)')
    >>> round(float(entry.function()(np.array(entry.point))), 10)
    482.7
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from dataclasses import dataclass

from diffx import numpy_corpus
from diffx.errors import DiffxError
from diffx.functions import Function, as_function, parse

__all__ = ["CATALOG", "KINDS", "CatalogEntry", "UnknownEntryError", "code_line", "get",
           "logistic_iterate", "names"]

KINDS: tuple[str, ...] = ("scalar", "multivariate", "vector", "seed", "hard", "numpy")


class UnknownEntryError(DiffxError, KeyError):
    """A catalogue name that does not exist (both a KeyError and a DiffxError)."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


@functools.cache
def _parse(expression: str) -> Function:
    return parse(expression)


@functools.cache
def _wrap_numpy_case(case_name: str) -> Function:
    return as_function(numpy_corpus.by_name(case_name).func)


@dataclass(frozen=True)
class CatalogEntry:
    """One named test function with its default evaluation point.

    ``point`` has one coordinate per variable, in the order of ``function().variables``.
    ``smooth`` is False when the function is not differentiable at ``point`` (a kink).
    ``numpy_case`` (kind ``numpy`` only) names the :mod:`diffx.numpy_corpus` case the entry
    runs; its ``expression`` is then that case's code, shown, never parsed.
    """

    name: str
    expression: str
    point: tuple[float, ...]
    kind: str
    smooth: bool = True
    description: str = ""
    numpy_case: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"catalogue entry {self.name!r}: kind {self.kind!r} is not one of "
                             f"{', '.join(KINDS)}")
        if (self.kind == "numpy") != (self.numpy_case is not None):
            raise ValueError(f"catalogue entry {self.name!r}: kind 'numpy' and numpy_case go "
                             f"together (kind {self.kind!r}, numpy_case {self.numpy_case!r})")

    @property
    def parsable(self) -> bool:
        """Whether ``expression`` is an expression string :func:`diffx.functions.parse` reads
        (False for numpy code)."""
        return self.numpy_case is None

    def function(self) -> Function:
        """The parsed expression, or the numpy case's callable as a Function (made once, then
        cached)."""
        if self.numpy_case is not None:
            return _wrap_numpy_case(self.numpy_case)
        return _parse(self.expression)


# --------------------------------------------------------------------------------------------
# Generated expressions
# --------------------------------------------------------------------------------------------
def _rosenbrock_sum(n: int) -> str:
    """The n-variable Rosenbrock sum in x0 .. x{n-1}."""
    return " + ".join(f"100*(x{i + 1} - x{i}**2)**2 + (1 - x{i})**2" for i in range(n - 1))


def logistic_iterate(times: int) -> str:
    """The logistic map 4*x*(1 - x) composed ``times`` times, written out as one expression."""
    expression = "x"
    for _ in range(times):
        expression = f"4*({expression})*(1 - ({expression}))"
    return expression


def code_line(func: object) -> str:
    """The body of the function ``func`` on one line: its statements as :func:`ast.unparse`
    writes them, joined by "; " (docstring dropped). How a numpy entry shows its code.

    >>> code_line(numpy_corpus.by_name("mlp_tanh").func)
    'h = np.tanh(_W1 @ x + _B1); return _W2 @ h'
    """
    definition = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    body = definition.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return "; ".join(ast.unparse(statement) for statement in body)


def _numpy_entry(case_name: str, description: str) -> CatalogEntry:
    """The catalogue entry ``np_<case_name>`` running a corpus case: its point, smoothness and
    code all come from the case."""
    case = numpy_corpus.by_name(case_name)
    return CatalogEntry(f"np_{case_name}", code_line(case.func), case.point, "numpy",
                        smooth=not case.kink, description=description, numpy_case=case_name)


_SOFTMAX_DENOMINATOR = "(exp(x0) + exp(x1) + exp(x2))"
_SEED_LOGITS = (1.26908707619, 0.61077165603, -0.7032195329)  # seed 000, first three logits


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------
_ENTRIES: tuple[CatalogEntry, ...] = (
    # --- smooth scalar functions ------------------------------------------------------------
    CatalogEntry("sin_exp", "sin(x)*exp(x)", (1.3,), "scalar",
                 description="sin(x)*exp(x) at 1.3: the README example, an everyday smooth "
                             "product"),
    CatalogEntry("gaussian_sine", "sin(x)*exp(-x**2)", (0.5,), "scalar",
                 description="a sine damped by a Gaussian: the parser's doctest function"),
    CatalogEntry("rational", "(x**3 - 2*x + 1)/(x**2 + 0.5*x + 2)", (0.7,), "scalar",
                 description="a rational function (denominator has no real root): quotient "
                             "rule"),
    CatalogEntry("tan_near_pole", "tan(x)", (1.5,), "scalar",
                 description="tan at 1.5, 0.07 from its pole at pi/2: large value (14.1) and "
                             "derivative (200)"),
    CatalogEntry("arctan_sqrt", "arctan(sqrt(1 + x**2))", (0.8,), "scalar",
                 description="arctan of sqrt(1 + x**2): a chain of two non-polynomial "
                             "functions"),
    CatalogEntry("polynomial", "x**5 - 3*x**3 + 2*x - 7", (1.7,), "scalar",
                 description="a quintic polynomial: every method should be near-exact; a "
                             "baseline"),
    CatalogEntry("log_one_plus_square", "log(1 + x**2)", (0.9,), "scalar",
                 description="log(1 + x**2): a logarithm whose argument never reaches its "
                             "domain edge"),
    CatalogEntry("softplus_sigmoid", "softplus(x)*sigmoid(2*x - 1)", (0.4,), "scalar",
                 description="softplus times sigmoid: the two smooth activation functions "
                             "composed"),
    CatalogEntry("tanh", "tanh(x)", (0.6,), "scalar",
                 description="tanh, the derivative rule that reuses the value (1 - tanh**2)"),
    # --- functions R^n -> R -------------------------------------------------------------------
    CatalogEntry("rosenbrock", "(1 - x)**2 + 100*(y - x**2)**2", (-1.2, 1.0), "multivariate",
                 description="Rosenbrock's banana valley at its classic start (-1.2, 1); a seed "
                             "optimisation problem"),
    CatalogEntry("himmelblau", "(x**2 + y - 11)**2 + (x + y**2 - 7)**2", (0.0, 0.0),
                 "multivariate",
                 description="Himmelblau's function at the seed-003 start (0, 0), value 170; "
                             "four minima"),
    CatalogEntry("beale",
                 "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2",
                 (1.0, 1.0), "multivariate",
                 description="Beale's function: sums of squares of polynomials with decimal "
                             "coefficients"),
    CatalogEntry("softmax_cross_entropy",
                 f"-log(exp(x0)/{_SOFTMAX_DENOMINATOR})", _SEED_LOGITS, "multivariate",
                 description="cross-entropy of a 3-logit softmax, true class 0, at seed-000 "
                             "logits; gradient softmax - onehot"),
    CatalogEntry("mlp",
                 "sigmoid(1.5*tanh(0.5*x0 - 0.3*x1 + 0.8*x2 + 0.1) "
                 "- 0.7*tanh(-0.2*x0 + 0.9*x1 + 0.4*x2 - 0.3) + 0.25*x0*x1 + 0.2)",
                 (0.5, -1.0, 2.0), "multivariate",
                 description="a 3-input network with two tanh hidden units and a sigmoid output, "
                             "fixed weights"),
    CatalogEntry("rosenbrock4", _rosenbrock_sum(4), (-1.2, 1.0, -1.2, 1.0), "multivariate",
                 description="the 4-variable Rosenbrock sum in x0..x3: the scaling family at "
                             "small n"),
    CatalogEntry("quadratic_form", "2*x**2 + x*y + 3*y**2 - y*z + z**2 - x + 2*z",
                 (1.0, -2.0, 0.5), "multivariate",
                 description="a positive-definite quadratic form plus a linear term: constant "
                             "Hessian"),
    # --- functions R^n -> R^m -----------------------------------------------------------------
    CatalogEntry("vector_mixed", "[x*y, sin(x) + y**2, exp(x*y)]", (0.5, 1.5), "vector",
                 description="R^2 -> R^3 mixing a product, a sine and an exponential: a 3x2 "
                             "Jacobian"),
    CatalogEntry("polar_to_cartesian", "[r*cos(t), r*sin(t)]", (2.0, 0.6), "vector",
                 description="polar to Cartesian coordinates (variables r, t): Jacobian "
                             "determinant r"),
    CatalogEntry("softmax",
                 "[" + ", ".join(f"exp(x{i})/{_SOFTMAX_DENOMINATOR}" for i in range(3)) + "]",
                 _SEED_LOGITS, "vector",
                 description="softmax of 3 logits at the seed-000 values: a square Jacobian "
                             "diag(p) - p p^T"),
    # --- the seed notebooks' worked examples ------------------------------------------------------
    CatalogEntry("seed_cubic", "3*x**3 + x**2", (10.0,), "seed",
                 description="seed 002: derivative of 3x^3 + x^2 at 10 with GradientTape, "
                             "which prints 920"),
    CatalogEntry("seed_poly", "x**2 + x**3 + 5", (2.0,), "seed",
                 description="seed 003: derivative of x^2 + x^3 + 5 at 2 with GradientTape, "
                             "which prints 16"),
    CatalogEntry("seed_quadratic", "x**2 - 20*x + 100", (50.0,), "seed",
                 description="seed 002: the quadratic minimised by gradient descent from x = 50 "
                             "(derivative 80)"),
    CatalogEntry("sigmoid_neuron", "(0.2 - sigmoid(w*1.5 + b))**2", (-2.0, 3.0), "seed",
                 description="seed 000: squared error of a sigmoid neuron, x = 1.5, y = 0.2, at "
                             "(b, w) = (-2, 3)"),
    CatalogEntry("cs231n_neuron", "sigmoid(-w0 - 2*w1 + b)", (-3.0, 2.0, -3.0), "seed",
                 description="seed 001 (CS231n): sigmoid(w0*x0 + w1*x1 + b), x = (-1, -2), at "
                             "(b, w0, w1) = (-3, 2, -3)"),
    # --- hard cases ---------------------------------------------------------------------------
    CatalogEntry("log_near_zero", "log(x)", (1e-4,), "hard",
                 description="log just above its domain edge: a finite-difference step crosses "
                             "0 easily"),
    CatalogEntry("cbrt_near_zero", "x**(1/3)", (1e-3,), "hard",
                 description="cube root near 0 (defined for x > 0 here): derivative 33 and "
                             "growing without bound"),
    CatalogEntry("sqrt_near_zero", "sqrt(x)", (1e-6,), "hard",
                 description="sqrt at 1e-6: derivative 500, huge curvature; steps must be tiny"),
    CatalogEntry("steep_tanh", "tanh(50*(x - 0.3))", (0.31,), "hard",
                 description="a steep sigmoid-like step 0.01 from its centre: large, fast-"
                             "changing derivative"),
    CatalogEntry("exp_large", "exp(x)", (50.0,), "hard",
                 description="exp at 50 (value 5e21): absolute step rules and absolute errors "
                             "fail"),
    CatalogEntry("power_large", "x**10", (30.0,), "hard",
                 description="x^10 at 30 (value 6e14): large magnitude with large higher "
                             "derivatives"),
    CatalogEntry("tiny_sine", "1e-8*sin(x)", (1.0,), "hard",
                 description="a sine scaled by 1e-8: tiny values, where absolute tolerances "
                             "mislead"),
    CatalogEntry("tiny_square", "x**2", (1e-7,), "hard",
                 description="x^2 at 1e-7: a step of 1e-5 is far larger than the point itself"),
    CatalogEntry("nested_sin", "sin(sin(sin(sin(x))))", (0.7,), "hard",
                 description="sin composed 4 times: a deep chain rule"),
    CatalogEntry("nested_exp_sin", "exp(sin(exp(sin(x))))", (1.1,), "hard",
                 description="exp and sin alternating: symbolic derivatives swell"),
    CatalogEntry("logistic_map", logistic_iterate(4), (0.3,), "hard",
                 description="the chaotic logistic map 4x(1-x) composed 4 times, written out as "
                             "one degree-16 polynomial: expression swell"),
    CatalogEntry("abs_kink", "abs(x)", (0.0,), "hard", smooth=False,
                 description="abs at its kink: no derivative; one-sided slopes -1 and 1"),
    CatalogEntry("relu_kink", "relu(x)", (0.0,), "hard", smooth=False,
                 description="relu at its kink: no derivative; one-sided slopes 0 and 1"),
    CatalogEntry("abs_shifted", "abs(x - 1)", (0.3,), "hard",
                 description="abs(x - 1) at 0.3, away from the kink: derivative -1, but not "
                             "complex-analytic"),
    # --- numpy code (diffx.numpy_corpus) -------------------------------------------------------
    _numpy_entry("softmax_cross_entropy",
                 "cross-entropy of a 4-logit softmax, true class 2, shifted by np.max as users "
                 "write it for stability"),
    _numpy_entry("mlp_tanh",
                 "a two-layer MLP: fixed 4x3 and 4-vector weights, tanh hidden layer, matmul "
                 "with @"),
    _numpy_entry("rosenbrock",
                 "the vectorised Rosenbrock sum over slices x[1:], x[:-1] in 5 variables"),
    _numpy_entry("slogdet_spd",
                 "log-determinant of A A^T + I (A = x reshaped 2x3) by np.linalg.slogdet"),
    _numpy_entry("solve_diagonal_shift",
                 "sum of the solution of (A + diag(x)) y = b by np.linalg.solve, fixed 3x3 A"),
    _numpy_entry("where_piecewise",
                 "np.where(x > 1, x**2, 2x - 1) summed: a piecewise function away from its "
                 "switch at 1"),
    _numpy_entry("euclidean_norm", "np.linalg.norm of a 4-vector: the 2-norm, gradient x/|x|"),
    _numpy_entry("rosenbrock_residuals",
                 "the Rosenbrock least-squares residual vector R^3 -> R^4 built by "
                 "np.concatenate: a 4x3 Jacobian"),
)

CATALOG: dict[str, CatalogEntry] = {entry.name: entry for entry in _ENTRIES}
if len(CATALOG) != len(_ENTRIES):  # pragma: no cover - guards against a copy-paste slip
    raise RuntimeError("duplicate names in the diffx catalogue")


def get(name: str) -> CatalogEntry:
    """The catalogue entry called ``name``.

    Raises UnknownEntryError (a DiffxError and a KeyError) listing the known names.

    >>> get("seed_cubic").point
    (10.0,)
    """
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownEntryError(
            f"unknown catalogue function {name!r}; known: {', '.join(CATALOG)}") from None


def names(kind: str | None = None) -> list[str]:
    """The entries' names in catalogue order, all of them or those of one ``kind``.

    >>> names("vector")
    ['vector_mixed', 'polar_to_cartesian', 'softmax']
    """
    if kind is None:
        return list(CATALOG)
    if kind not in KINDS:
        raise DiffxError(f"unknown catalogue kind {kind!r}; known: {', '.join(KINDS)}")
    return [name for name, entry in CATALOG.items() if entry.kind == kind]
