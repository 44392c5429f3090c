"""Is the point a good one? The one place that decides what every method does at a bad point.

Every engine would answer *something* at a bad point: the derivative formula of log is finite
at -1, a forward difference of sqrt at 0 is a large finite number, abs'(0) is whatever the
convention says. diffx looks at the point once, before any method runs, and applies one policy:

=========================  ==============================================================
where                      every method returns
=========================  ==============================================================
outside the domain         NaN, with one DomainWarning: f is not finite there (log(0),
                           sqrt(-1), arcsin(1.5), 1/0), or an operation inside it is
                           (exp(2/x) and tanh(log(x)) at 0 are finite, but 2/0 and log(0)
                           are not). For a vector F only the undefined rows are NaN.
on a domain edge           NaN, with one DomainWarning: an operation's argument sits where
                           the operation is defined but not differentiable (sqrt or x**0.5
                           at 0, arcsin/arccos at ±1)
on a kink                  its usual value, with one NonDifferentiableWarning: an argument
                           sits on a kink of its row's Domain (abs, relu, sign or heaviside
                           at 0). Exact engines use
                           the table's convention (abs'(0) = sign(0) = 0, relu'(0) = 0:
                           TensorFlow's, PyTorch's and JAX's); finite differences return
                           their quotient; the function may still be differentiable
                           (abs(x)**2 at 0)
NaN or inf in the point    DomainError (raised before anything runs)
=========================  ==============================================================

The reference (:mod:`diffx.reference`) raises DomainError at the first two kinds of point.
The check evaluates f once with numpy's floating-point error flags on (they catch log(0) or
1/0 inside f), then records one evaluation (:func:`diffx.recording.record`) and reads each
operation's argument against its row's ``Domain``. The recording is skipped for functions with
no restricted operation (decided once per parsed function or callable). Callables of more than
``MAX_RECORDED_INPUTS`` inputs (vectorised code) are not checked beforehand at all: one node
per element, or even one extra evaluation, would cost as much as the gradient; a non-finite
result still gets its DomainWarning. For callables that compute with TensorFlow the check is
only the finiteness of f's value (:func:`value_decides`); the tape engines return that value
with the derivative, and the policy is applied to it (:func:`check_from_value`) instead of a
separate evaluation.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.elementary import primal
from diffx.functions import Apply, CallableFunction, Function, Number, ParsedFunction, Variable
from diffx.recording import Node, record

__all__ = ["MAX_RECORDED_INPUTS", "PointCheck", "all_finite", "check_from_value", "check_point",
           "may_be_restricted", "singular_arguments", "singular_distance", "value_decides"]

MAX_RECORDED_INPUTS = 64  # callables with more inputs are checked by their result only

# rows restricted somewhere: a smaller domain than the reals, an edge, or a kink
_RESTRICTED = frozenset(row for row in E.ELEMENTARY.values()
                        if row.domain.kinks or row.domain.derivative != row.domain.values
                        or row.domain.values != E.REALS)


@dataclass(frozen=True)
class PointCheck:
    """What the point is for ``f``: per output whether f is undefined there, and readable
    descriptions of the operations whose argument is outside their domain (possible even where
    f is finite: tanh(log(x)) at 0), on a domain edge, or on a kink."""

    undefined: np.ndarray
    outside: tuple[str, ...] = field(default=())
    edges: tuple[str, ...] = field(default=())
    kinks: tuple[str, ...] = field(default=())


def _constant(node: Any) -> bool:
    return not isinstance(node, (Apply, Variable)) or (
        isinstance(node, Apply) and all(map(_constant, node.args)))


def _restricted_tree(node: Any) -> bool:
    """Can a parsed tree meet a restriction? (restricted rows, division by a non-constant,
    powers other than constant non-negative integers)"""
    if not isinstance(node, Apply):
        return False
    if node.op in _RESTRICTED or (node.op is E.power and not _integer_exponent(node)) \
            or (node.op is E.divide and not _constant(node.args[1])):
        return True
    return any(_restricted_tree(arg) for arg in node.args)


def _integer_exponent(node: Apply) -> bool:
    exponent = node.args[1]
    return isinstance(exponent, Number) and float(exponent.value).is_integer() \
        and exponent.value >= 0


# what a callable was found to use, by callable (a new Function wraps it on every API call)
_CALLABLES_RESTRICTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# whether a callable applies an operation with a kink or a pole (see singular_arguments)
_CALLABLES_SINGULAR: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# callables whose outputs were TensorFlow tensors (see value_decides)
_TENSORFLOW_CALLABLES: weakref.WeakSet = weakref.WeakSet()


def may_be_restricted(fn: Function) -> bool:
    """Might ``fn`` apply a row with a domain edge, a pole or a kink (sqrt, log, abs, …)?
    Parsed: read from its tree; a callable: learnt at its first recording (True until then)."""
    if isinstance(fn, ParsedFunction):
        return fn.cache.get("restricted", lambda: any(map(_restricted_tree, fn.tree)))
    try:  # a callable: learnt at its first recording
        return _CALLABLES_RESTRICTED.get(fn.func, True)
    except TypeError:  # not weakly referenceable
        return True


def _remember(fn: Function, restricted: bool) -> None:
    if isinstance(fn, CallableFunction):
        with contextlib.suppress(TypeError):
            _CALLABLES_RESTRICTED[fn.func] = restricted


def _evaluate(fn: Function, point: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Which outputs of f are not finite at the point, and the floating-point errors (division
    by zero, invalid operation) that numpy met on the way: log(0) or 1/0 inside f."""
    errors: list[str] = []
    with np.errstate(divide="call", invalid="call", over="ignore", under="ignore"):
        previous = np.seterrcall(lambda kind, flag: errors.append(kind))
        try:
            out = fn.on_vector(point, point.size)
        finally:
            np.seterrcall(previous)
    outputs = list(out) if isinstance(out, (list, tuple)) else [out]
    if isinstance(fn, CallableFunction) and E.backend_of(*outputs) == "tf":
        with contextlib.suppress(TypeError):  # not weakly referenceable: check every time
            _TENSORFLOW_CALLABLES.add(fn.func)
    return _undefined([np.asarray(o) for o in outputs]), list(dict.fromkeys(errors))


def _undefined(outputs: list) -> np.ndarray:
    """Which of f's outputs are not finite (shape (m,))."""
    try:
        return ~np.isfinite(np.concatenate([np.asarray(o, dtype=float).ravel()
                                            for o in outputs]))
    except (TypeError, ValueError):  # not plain numbers (f closes over an outer Dual)
        return np.zeros(1, dtype=bool)


def value_decides(fn: Function, point: np.ndarray) -> bool:
    """Is the check at this point nothing but the finiteness of f's value? Then an engine
    that returns f(x) with the derivative (the tape engines do) can apply the policy itself,
    with :func:`check_from_value`, and f is not evaluated once more. True for callables that
    compute with TensorFlow (seen at their first check: they cannot be recorded and numpy's
    error flags do not see inside them) and for vectorised callables (see the module)."""
    if isinstance(fn, ParsedFunction):
        return False
    if point.size > MAX_RECORDED_INPUTS:
        return True
    try:
        return fn.func in _TENSORFLOW_CALLABLES
    except TypeError:
        return False


def all_finite(a: Any) -> bool:
    """No NaN or inf in ``a``: one summing pass without a temporary (a NaN or inf makes the sum
    NaN or inf), and the elementwise test only when the sum is not finite (it can overflow)."""
    a = np.asarray(a, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, or an overflowing sum
        total = np.add.reduce(a, axis=None)
    return math.isfinite(total) or bool(np.isfinite(a).all())


def check_from_value(value: Any) -> PointCheck:
    """The PointCheck of a function whose check is the finiteness of its value (m,)."""
    return PointCheck(_undefined([value]))


def _describe(op: str, argument: float, what: str) -> str:
    return f"{op}'s argument is {argument:g}, {what}"


def _scan(fn: Function, point: np.ndarray) -> tuple[list[str], list[str], list[str]] | None:
    """Record f at the point and list the operations outside their domain, on an edge or on
    a kink (None when f cannot be recorded)."""
    try:
        with np.errstate(all="ignore"):
            tape = record(fn, [float(v) for v in point])
    except Exception:  # a callable that only TensorFlow can run, or one branching on values
        _remember(fn, False)  # nothing to learn from recording it: do not retry at every call
        return None
    outside: list[str] = []
    edges: list[str] = []
    kinks: list[str] = []
    restricted = False
    for node in tape.nodes[tape.n_inputs:]:
        try:
            args = [float(np.real(primal(a))) for a in node.args]
            value = float(np.real(primal(node.value)))
        except (TypeError, ValueError):  # array arguments: not a scalar operation
            continue
        if not math.isfinite(value) and all(map(math.isfinite, args)):
            restricted = True
            shown = ", ".join(f"{a:g}" for a in args)
            outside.append(f"{node.op.name}({shown}) is not finite")
            continue
        if node.op is E.divide and isinstance(node.args[1], Node):  # by a constant: harmless
            restricted = True
        if node.op is E.power:
            base, exponent = args
            if not (exponent.is_integer() and exponent >= 0):
                restricted = True
                if base == 0.0 and exponent < 1:
                    edges.append(f"0**{exponent:g} has no finite derivative")
            continue
        if node.op not in _RESTRICTED:
            continue
        restricted = True
        domain, x = node.op.domain, args[0]
        if x in domain.kinks:
            kinks.append(_describe(node.op.name, x, "its kink"))
        elif x not in domain.values:
            outside.append(_describe(node.op.name, x, f"outside its domain {domain.values}"))
        elif x not in domain.derivative:
            edges.append(_describe(node.op.name, x, f"the edge of its domain {domain.values}"))
    _remember(fn, restricted)
    return outside, edges, kinks


# Where an operation has a kink or a pole, as a sign change of one argument (after a transform):
# each unary row's Domain.sign_change (kinks: abs at 0; poles: cos of tan's argument), and the
# operators' own: a denominator, the base of a power whose exponent is not a constant
# non-negative integer (x**-1, x**0.5).
_SINGULAR: dict[E.Elementary, tuple[int, Callable | None]] = {
    **{row: (0, row.domain.sign_change) for row in E.ELEMENTARY.values()
       if row.arity == 1 and row.domain.singular},
    E.divide: (1, None), E.power: (0, None)}


def singular_arguments(fn: Function, point: np.ndarray) -> np.ndarray | None:
    """Values whose signs change where f has a kink or a pole, at ``point``, one per such
    operation in the order f applies them (see _SINGULAR; a constant denominator or a constant
    non-negative integer power is neither); None when f has none, cannot be recorded or
    applies them to arrays. Finite differences keep their stencils on one side of each
    (diffx.engines.numeric). A parsed f evaluates the arguments of its singular operations (a
    function made from its tree once, :func:`_parsed_arguments`); a callable is recorded,
    and the point's answer kept (it comes back for every direction of a gradient)."""
    if isinstance(fn, CallableFunction) and point.size > MAX_RECORDED_INPUTS:
        return None
    if isinstance(fn, ParsedFunction):
        made = _parsed_arguments(fn)
        if not made or not made[2]:
            return None
        arguments, shapes, singular = made
        with np.errstate(all="ignore"):
            values = arguments.numpy_call(np.asarray(point, dtype=float))
            return np.array([t(v) if t else v
                             for (t, _), v in zip(shapes[:singular], values[:singular])])
    try:
        if not _CALLABLES_SINGULAR.get(fn.func, True):
            return None
    except TypeError:  # not weakly referenceable: recorded at every point
        pass
    key = point.tobytes()
    known = fn.cache.get("singular arguments", dict)
    if key not in known:
        if len(known) > 16:
            known.clear()
        found = _recorded_singular_arguments(fn, point)
        with contextlib.suppress(TypeError):
            _CALLABLES_SINGULAR[fn.func] = bool(found)
        known[key] = np.array(found) if found else None
    return known[key]


def _recorded_singular_arguments(fn: Function, point: np.ndarray) -> list[float]:
    try:
        with np.errstate(all="ignore"):
            tape = record(fn, [float(v) for v in point])
            found = []
            for node in tape.nodes[tape.n_inputs:]:
                constant = not isinstance(node.args[-1], Node)  # a divisor or an exponent
                if node.op not in _SINGULAR or (node.op is E.divide and constant) or (
                        node.op is E.power and constant and _whole(node.args[1])):
                    continue
                index, transform = _SINGULAR[node.op]
                value = float(np.real(primal(node.args[index])))
                found.append(transform(value) if transform else value)
            return found
    except Exception:  # a callable that only TensorFlow can run, or one using arrays
        return []


# Rows whose derivative's domain ends at finite points (log and sqrt at 0, arcsin and arccos at
# ±1): a length scale for finite differences, though no sign change to keep a stencil clear of
# (outside the domain f is NaN, and the domain fallback shrinks the step).
_EDGES: dict[E.Elementary, tuple[float, ...]] = {
    row: row.domain.edges for row in E.ELEMENTARY.values()
    if row.arity == 1 and not row.domain.kinks and row.domain.edges}
DISTANCE_PROBE = 1e-7  # the relative step of the slope estimate in singular_distance


def singular_distance(fn: Function, point: np.ndarray, direction: np.ndarray) -> float | None:
    """How far along ``direction`` (in units of t, x + t·direction) the nearest kink, pole or
    domain edge of f lies, estimated: for each argument a(t) of such an operation, the Newton
    step |a(0) − edge| / |a′(0)| to its edge (a′ from a forward difference with a relative
    step of 1e-7), the least of them. Parsed functions only (None for a callable, for f with
    none, or when every estimate is 0, infinite or NaN).

    It is the length scale finite differences need near a singularity: the derivatives of
    sqrt x at 1e-6 grow like x⁻ⁿ, so the best step is ε^(1/(p+k))·1e-6, not ε^(1/(p+k))·1.
    """
    made = _parsed_arguments(fn) if isinstance(fn, ParsedFunction) else ()
    if not made:
        return None
    arguments, shapes, _ = made
    point = np.asarray(point, dtype=float)
    probe = DISTANCE_PROBE * max(float(np.max(np.abs(point))), 1.0)
    stacked = np.stack([point, point + probe * np.asarray(direction, dtype=float)], axis=1)
    with np.errstate(all="ignore"):
        out = arguments.on_vector(stacked, stacked.shape[0])
        distances = []
        for (transform, edges), column in zip(shapes, out):
            here, there = np.broadcast_to(np.asarray(column, dtype=float), (2,))
            if transform is not None:
                here, there = transform(here), transform(there)
            slope = abs(there - here) / probe
            distances += [abs(here - edge) / slope for edge in edges]
    finite = [d for d in distances if 0.0 < d < math.inf]
    return min(finite) if finite else None


def _parsed_arguments(fn: ParsedFunction) -> tuple:
    """For a parsed f, made once: a Function of the arguments of its singular operations —
    kinks and poles first (see _SINGULAR), then domain edges (see _EDGES) — with each one's
    transform and edge values, and how many are kinks and poles; () when f has none. It
    serves :func:`singular_arguments` (the kinks and poles) and :func:`singular_distance`."""
    def build() -> tuple:
        entries = [(node.args[_SINGULAR[node.op][0]], _SINGULAR[node.op][1], (0.0,))
                   for root in fn.tree for node in _singular_nodes(root)]
        singular = len(entries)
        entries += [(node.args[0], None, _EDGES[node.op])
                    for root in fn.tree for node in _edge_nodes(root)]
        if not entries:
            return ()
        arguments = ParsedFunction([argument for argument, _, _ in entries],
                                   vector_output=True, variables=fn.variables)
        return arguments, [(t, edges) for _, t, edges in entries], singular

    return fn.cache.get("singular operations", build)


def _edge_nodes(node: Any) -> Iterator[Apply]:
    """The operations of a parsed tree whose domain has a finite edge (see _EDGES)."""
    if isinstance(node, Apply):
        for arg in node.args:
            yield from _edge_nodes(arg)
        if node.op in _EDGES:
            yield node


def _whole(exponent: Any) -> bool:
    """A non-negative integer exponent: x**k is smooth everywhere."""
    value = float(np.real(exponent))
    return value.is_integer() and value >= 0


def _singular_nodes(node: Any) -> Iterator[Apply]:
    """The operations of a parsed tree that have a kink or a pole somewhere (see _SINGULAR), in
    the order f applies them (arguments first)."""
    if isinstance(node, Apply):
        for arg in node.args:
            yield from _singular_nodes(arg)
        if node.op in _SINGULAR and not (
                (node.op is E.divide and _constant(node.args[1]))
                or (node.op is E.power and _integer_exponent(node))):
            yield node


def check_point(fn: Function, point: np.ndarray) -> PointCheck:
    """Classify ``point`` for ``fn`` (see the module's table). The last result is kept on the
    function, so repeated calls at one point (timing loops) check it once."""
    key = np.asarray(point, dtype=float).tobytes()
    cached = fn.cache.peek("point check")
    if cached is not None and cached[0] == key:
        return cached[1]
    check = _check(fn, point)
    fn.cache.put("point check", (key, check))
    return check


def _check(fn: Function, point: np.ndarray) -> PointCheck:
    if isinstance(fn, CallableFunction) and point.size > MAX_RECORDED_INPUTS:
        # vectorised code: a separate evaluation (through TensorFlow, for a tf.* callable)
        # would double a gradient's cost; every engine evaluates f anyway, and a NaN or inf it
        # returns gets the DomainWarning (engines._finish)
        return PointCheck(np.zeros(1, dtype=bool))
    undefined, errors = _evaluate(fn, point)
    if undefined.all():
        return PointCheck(undefined)
    met = tuple(f"numpy met a {kind} inside f" for kind in errors)
    if not may_be_restricted(fn):
        return PointCheck(undefined, met)
    found = _scan(fn, point)
    if found is None:
        return PointCheck(undefined, met)
    outside, edges, kinks = (tuple(dict.fromkeys(items)) for items in found)
    return PointCheck(undefined, outside or met, edges, kinks)
