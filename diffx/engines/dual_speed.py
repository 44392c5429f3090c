"""The dual engine's speed: the same contract as :mod:`diffx.engines.dual`, made faster.

:mod:`diffx.engines.dual` is the engine to read; this module makes its paths fast without
changing their numbers (as CPython's ``heapq`` has ``_heapq``), and is tested to agree with the
plain path (tests/test_dual_blocks.py, tests/test_dual.py).

1. **A chain rule that allocates less** (:func:`fast_dual_rule`, registered with the
   elementary table for Dual in place of ``dual.dual_rule``): a partial of 1.0 passes the
   tangent through, a fresh partial array is multiplied in place, u·u is one product doubled;
   on 10⁶ points a pass is memory-bound, so this is what the whole-array path runs.
2. **Directions per pass** (:func:`chunk_size`): all n for a parsed function, and for a
   callable as many as keep an intermediate within CHUNK_ELEMENTS floats.
3. **jvp by blocks** (:func:`by_blocks`, called by ``dual.jvp``). On a vector of
   BLOCKED_FROM_ELEMENTS points or more, f runs once, on the first block only, as a *probe*:
   every operation f applies to the block or to a result made from it is recorded. If each was
   elementwise (a row of the table, a composed ufunc, np.maximum / np.minimum; other arguments
   only real numbers) and f's result is one of those results, or np.sum / np.mean of one, the
   recorded operations are replayed on the other blocks, whose intermediates stay in cache.
   What it buys on 10⁶ points (benchmarks/dual_ratios.py, section 2; time / one plain numpy
   evaluation): exp(-x²/2)·tanh x + log1p(x²) 2.4 instead of 3.0 on the whole array,
   sin(x)·exp(-x²) 2.1 instead of 2.7, Σ(x - 1)² 1.7 instead of 2.9, x·x + 3x 2.0 instead of
   3.3; peak memory 19 MB instead of 56. An elementwise result is bitwise the whole-array one
   (and warns alike). A sum or mean adds the blocks' sums exactly (math.fsum); in each block
   the summed operation's tangent (and a product's value) is summed as it is made, by dots
   over rows of 256 points, never stored: it differs from numpy's whole-array sum by rounding
   only (under 3e-14·Σ|term| with any BLAS; numpy's pairwise sum: 3e-15). Anything else —
   indexing, shape, len, comparisons, truth values, ``.value``, other numpy functions, array
   constants, another derivative's duals, np.errstate or warning filters changed inside f —
   stops the probe, and f runs on the whole array as before; the callable is remembered and
   not probed again. So f is called once per jvp (twice on the first call of a callable the
   probe refuses), and during the probe its argument is a Dual subclass (``isinstance``
   holds, ``type(x) is Dual`` does not).
4. **A compiled derivative** (:func:`compiled_program`, called by ``dual.derivative`` for a
   parsed scalar function of one variable, and :func:`fast_derivative`, the public API's
   one-pass shortcut): the expression tree compiled once into closures on floats, the same
   chain rule without building Dual objects.

Imports: this module imports :mod:`diffx.engines.dual`, never the other way round; at import
it installs its functions in ``dual.Installed`` (``diffx.engines`` imports it) and registers
:func:`fast_dual_rule` for Dual, and its probe type, with the elementary table. Without it the
plain engine runs, with the same numbers.
"""

from __future__ import annotations

import contextvars
import functools
import math
import operator
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.engines.dual import Dual, Installed, aligned_tangent, apply_rule
from diffx.errors import DiffxError
from diffx.functions import (
    Apply,
    CallableFunction,
    Function,
    NamedConstant,
    Number,
    ParsedFunction,
    Variable,
)
from diffx.points import all_finite, may_be_restricted

__all__ = ["BLOCKED_FROM_ELEMENTS", "BLOCK_ELEMENTS", "CHUNK_ELEMENTS", "ELEMENTWISE_UFUNCS",
           "REDUCTION_BLOCK_ELEMENTS", "SUMMED_ROW", "by_blocks", "chunk_size",
           "compiled_program", "fast_derivative", "fast_dual_rule", "noted"]


# ============================================================================================
# Directions per pass
# ============================================================================================
# Default chunk size for callables: k directions of an n-vector use k·n floats per intermediate.
CHUNK_ELEMENTS = 2**18


def chunk_size(fn: Function, n: int, chunk: int | None = None, nested: bool = False) -> int:
    """Directions per pass: ``chunk`` if given; else all n for parsed functions (their
    variables are scalars), and for callables as many as keep the k·n floats of an intermediate
    (k²·n when ``nested``, for Hessians) within CHUNK_ELEMENTS."""
    if chunk is not None:
        if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
            raise DiffxError(f"chunk must be a positive integer, got {chunk!r}")
        return int(min(chunk, n))
    if isinstance(fn, ParsedFunction):
        return n
    k = CHUNK_ELEMENTS // max(n, 1)
    return max(1, min(n, math.isqrt(k) if nested else k))



# ============================================================================================
# The chain rule with fewer allocations (the same numbers as dual.dual_rule)
# ============================================================================================
def fast_dual_rule(row: E.Elementary, args: tuple, tag: int, out: Any = None,
                   into: tuple[np.ndarray, np.ndarray] | None = None) -> Dual:
    """:func:`~diffx.engines.dual.dual_rule`, bit for bit, allocating less: large arrays make a
    pass memory-bound. ``into`` (only from the blocks below, all float arrays): arrays for the
    last pass of the value and of the tangent to write into."""
    values = [a.value if isinstance(a, Dual) and a.tag == tag else a for a in args]
    if out is None:
        out = row_value(row, values, None if into is None else into[0])
    ours = [i for i, a in enumerate(args) if isinstance(a, Dual) and a.tag == tag]
    doubled = row is E.multiply and args[0] is args[1]  # u·u: both terms are one product u·t
    if doubled:
        ours = ours[:1]
    last = None if into is None else into[1]  # where the tangent's last pass may write
    tangent, owned = None, False
    for k, i in enumerate(ours):
        final = k == len(ours) - 1 and not doubled
        term, term_owned = _times(row.partials[i](*values, out),
                                  aligned_tangent(args[i], getattr(out, "ndim", 0)),
                                  values, out, last if final and tangent is None else None)
        if tangent is None:
            tangent, owned = term, term_owned
        elif final and last is not None:
            tangent = np.add(tangent, term, out=last)
        elif owned and np.shape(term) == tangent.shape:
            tangent += term  # an array made here: add in place
        else:
            tangent = tangent + term
            owned = type(tangent) is np.ndarray
    if doubled:  # t·u + u·t, exactly
        tangent = np.add(tangent, tangent, out=last if last is not None else tangent) \
            if owned or last is not None else tangent + tangent
    return Dual(out, tangent, tag)


def row_value(row: E.Elementary, values: list, into: np.ndarray | None = None) -> Any:
    """The row on plain values: its numpy form directly (no dispatch) when they are floats
    (written into ``into``, when given and the form is a ufunc)."""
    if not all(map(_is_float, values)):
        return row(*values)
    if into is not None and type(row.numpy) is np.ufunc:
        return row.numpy(*values, out=into)
    return row.numpy(*values)


def _is_float(v: Any) -> bool:
    """A value that the table's dispatch sends to the row's numpy form unchanged."""
    return type(v) is float or (type(v) is np.ndarray and v.dtype == np.float64)


def _times(partial: Any, tangent: Any, values: list, out: Any,
           into: np.ndarray | None = None) -> tuple[Any, bool]:
    """partial · tangent, and whether the result is a new ndarray that this rule may update.

    Two shortcuts save allocations: a partial of exactly 1.0 passes the tangent through, and a
    partial that is a new array of the full shape (cos(x), 1/x — not ``out`` or an argument)
    is multiplied in place. ``into``: an array to write the product into instead.
    """
    if type(partial) is float and partial == 1.0:
        return tangent, False
    if into is not None:
        return np.multiply(partial, tangent, out=into), False
    if (type(partial) is np.ndarray and type(tangent) is np.ndarray and partial.base is None
            and partial is not out and all(partial is not v for v in values)
            and (partial.shape == tangent.shape
                 or partial.shape == np.broadcast_shapes(partial.shape, tangent.shape))):
        return np.multiply(partial, tangent, out=partial), True
    product = partial * tangent
    return product, type(product) is np.ndarray


E.register_type(Dual, functools.partial(apply_rule, rule=fast_dual_rule))


# ============================================================================================
# jvp of an elementwise callable on a long vector, block by block
# ============================================================================================
# On 10⁶ points each intermediate value and tangent is an 8 MB array that lives in main memory,
# and a freed one often comes back as fresh pages to fault in again; on a block the
# intermediates stay in cache and their memory is reused. The sizes are measured
# (benchmarks/dual_ratios.py, section 4): for elementwise outputs 3·2**13 points (192 kB per
# array) was fastest or within noise of it between 2**12 and 2**18 (smaller blocks pay the
# per-operation Python cost more often, larger ones fault their temporaries in); a sum or
# mean stores no block, so only the per-operation cost counts and larger blocks win.
BLOCK_ELEMENTS = 3 * 2**13
REDUCTION_BLOCK_ELEMENTS = 2**17
# Shorter vectors take the whole-array path: their intermediates fit in cache anyway, and the
# probe's fixed cost (50-100 µs) is not repaid (blocks break even at about 10⁵ points).
BLOCKED_FROM_ELEMENTS = 2**17

_TAPES: dict[int, _Tape] = {}  # the tape of each probe being run, by its tag
_NOT_ELEMENTWISE: weakref.WeakSet = weakref.WeakSet()  # callables a probe refused
_TAG = Dual.tag  # the slot itself (a probe's ``tag`` attribute is guarded)
# while jvp runs blocks: (warnings noted, whether to warn at once); see noted
_TIES: contextvars.ContextVar[tuple[list, bool] | None] = contextvars.ContextVar(
    "diffx_dual_ties", default=None)


def noted(warning: Warning) -> bool:
    """Called by an operation that warns (dual.warn): while jvp runs blocks, note the warning
    (each operation warns once, as on the whole array); True when it must not warn now."""
    notes = _TIES.get()
    if notes is not None:
        notes[0].append(warning)
    return notes is not None and not notes[1]


class _NotElementwise(BaseException):
    """Stops a probed f at its first operation that is not elementwise (a BaseException, so
    that ``except Exception`` in f does not swallow it; the tape's verdict stands anyway)."""


class _Node:
    """An argument of a recorded operation that is an earlier result (an index on the tape)."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


class _Tape:
    """What f did to the first block of its point: each operation (a call and its arguments,
    earlier results as _Node, real constants as themselves) and each result (a node)."""

    def __init__(self, probe: Dual):
        self.tag, self.shape, self.tangent_shape = probe.tag, probe.value.shape, \
            probe.tangent.shape
        self.nodes: list[Dual] = [probe]
        self.index = {id(probe): 0}
        self.operations: list[tuple[Callable[[tuple], Any], list, bool]] = []
        self.reductions: set[int] = set()  # nodes made by np.sum / np.mean
        self.warned: set[int] = set()  # nodes whose operation warned on the probe (a tie)
        self.depth = 0  # > 0 while a recorded operation runs (inner operations are its own)
        self.refused: str | None = None
        self.context = (np.geterr(), list(warnings.filters))
        _TAPES[self.tag] = self
        probe.__class__ = _Probe

    def refuse(self, what: str) -> None:
        self.refused = self.refused or what
        raise _NotElementwise(what)

    def record(self, call: Callable[[tuple], Any], inputs: tuple, reduction: bool) -> Any:
        """Run ``call(inputs)``; when f (not an operation already running) applies it, check
        that it is elementwise here and write it on the tape."""
        if self.depth:
            return call(inputs)
        arguments: list = []
        for a in inputs:
            index = self.index.get(id(a)) if isinstance(a, Dual) else None
            if index is not None and index not in self.reductions:
                arguments.append(_Node(index))
            elif index is None and _is_real_number(a):  # the same for every element
                arguments.append(np.array(a) if isinstance(a, np.ndarray) else a)  # a copy
            else:
                self.refuse(f"an argument {type(a).__name__} that is neither a real number "
                            f"nor an elementwise result of the point")
        if (np.geterr(), warnings.filters) != self.context:  # blocks run outside f's context
            self.refuse("np.errstate or warning filters changed inside f")
        notes = _TIES.get()
        if notes is not None:
            notes[0].clear()
        probes = [a for a in inputs if type(a) is _Probe]
        for a in probes:  # plain duals while the operation runs: its reads are not f's
            a.__class__ = Dual
        self.depth += 1
        try:
            out = call(inputs)
        finally:
            self.depth -= 1
            for a in probes:
                a.__class__ = _Probe
        if notes is not None and notes[0]:
            self.warned.add(len(self.nodes))  # (the node this operation makes)
        shape, tangent_shape = ((), self.tangent_shape[:-1]) if reduction else (
            self.shape, self.tangent_shape)
        if not (isinstance(out, Dual) and out.tag == self.tag and np.shape(out.value) == shape
                and np.shape(out.tangent) == tangent_shape
                and np.result_type(out.value, out.tangent) == np.float64):
            self.refuse("a result that is not a float array of the point's shape")
        out.__class__ = _Probe
        self.index[id(out)] = len(self.nodes)
        if reduction:
            self.reductions.add(len(self.nodes))
        self.nodes.append(out)
        self.operations.append((call, arguments, reduction))
        return out

    def close(self) -> None:
        del _TAPES[self.tag]
        for node in self.nodes:
            node.__class__ = Dual


def _is_real_number(a: Any) -> bool:
    return isinstance(a, (int, float, np.integer, np.floating, np.bool_)) or (
        type(a) is np.ndarray and a.ndim == 0 and a.dtype.kind in "biuf")


def _tape_of(a: Any) -> _Tape | None:
    return _TAPES.get(_TAG.__get__(a)) if type(a) is _Probe else None


def _record(inputs: tuple, call: Callable[[tuple], Any], reduction: bool = False) -> Any:
    """``call(inputs)``, recorded on the tape of the probe among ``inputs`` (if still running)."""
    tape = next((t for t in map(_tape_of, inputs) if t is not None), None)
    return call(inputs) if tape is None else tape.record(call, inputs, reduction)


def _ufunc_call(ufunc: np.ufunc, inputs: tuple) -> Any:
    return ufunc(*inputs)


ELEMENTWISE_UFUNCS = frozenset({*E.ROW_OF_UFUNC, np.maximum, np.minimum})
_REDUCTIONS = {np.sum: lambda inputs: np.sum(inputs[0]),
               np.mean: lambda inputs: np.mean(inputs[0])}


class _Probe(Dual):
    """The first block of jvp's point, and each result f makes from it, while f runs on it.

    Table rows, elementwise ufuncs and np.sum / np.mean are recorded on the tape; anything else
    that looks at the block as a whole (its shape, items, values, truth) stops f. After the run
    the nodes are plain Duals again.
    """

    __slots__ = ()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        tape = _tape_of(self)
        if tape is not None and not tape.depth and (
                method != "__call__" or kwargs or ufunc not in ELEMENTWISE_UFUNCS):
            tape.refuse(f"numpy.{ufunc.__name__}.{method}")
        return _record(inputs, functools.partial(_ufunc_call, ufunc))

    def __array_function__(self, func, types, args, kwargs):
        tape = _tape_of(self)
        if tape is None or tape.depth:
            return super().__array_function__(func, types, args, kwargs)
        if func not in _REDUCTIONS or kwargs or len(args) != 1 or args[0] is not self:
            tape.refuse(f"numpy.{func.__name__}")
        return tape.record(_REDUCTIONS[func], args, reduction=True)

    def sum(self, axis=None, keepdims=False) -> Dual:
        if axis is None and not keepdims:
            return _record((self,), _REDUCTIONS[np.sum], reduction=True)
        return _guard(self, "sum", lambda: super(_Probe, self).sum(axis, keepdims))

    def mean(self, axis=None, keepdims=False) -> Dual:
        if axis is None and not keepdims:
            return _record((self,), _REDUCTIONS[np.mean], reduction=True)
        return _guard(self, "mean", lambda: super(_Probe, self).mean(axis, keepdims))


def _guard(probe: _Probe, what: str, then: Callable[[], Any]) -> Any:
    """Refuse ``what`` if f (not a recorded operation) does it to a running probe, else do it."""
    tape = _tape_of(probe)
    if tape is not None and not tape.depth:
        tape.refuse(what)
    return then()


def _guarded(name: str) -> Any:
    attribute = getattr(Dual, name)
    if hasattr(attribute, "__get__") and hasattr(attribute, "__set__"):  # a slot or property
        return property(lambda self: _guard(self, f".{name}",
                                            lambda: attribute.__get__(self, Dual)),
                        lambda self, value: _guard(self, f".{name} =",
                                                   lambda: attribute.__set__(self, value)))
    return lambda self, *args, **kwargs: _guard(self, name,
                                                lambda: attribute(self, *args, **kwargs))


for _name in ("value", "tangent", "tag", "shape", "ndim", "size", "chunked", "T", "__len__",
              "__getitem__", "__iter__", "__bool__", "__lt__", "__le__", "__gt__", "__ge__",
              "__float__", "__matmul__", "__rmatmul__", "__repr__", "__format__", "__reduce__",
              "__reduce_ex__", "reshape", "ravel", "transpose", "dot"):
    setattr(_Probe, _name, _guarded(_name))


def _table_row(row: E.Elementary, inputs: tuple) -> Any:
    return apply_rule(row, inputs)


# every table row applied to a probe (diffx.sin(x), x * y, x**2) is recorded
E.register_type(_Probe, lambda row, args: _record(args, functools.partial(_table_row, row)))


def by_blocks(fn: Function, x: Any, v: Any, tag: int) -> tuple[Any, Any, bool] | None:
    """jvp's value, tangent and whether both are finite, computed block by block; or None
    when that does not apply: the point is short, f is not a callable of one vector, or f's
    run on the first block (the probe) showed an operation that is not elementwise."""
    size = BLOCK_ELEMENTS
    if not (isinstance(fn, CallableFunction) and fn.variables is None and type(x) is np.ndarray
            and x.ndim == 1 and x.size >= BLOCKED_FROM_ELEMENTS and x.size > size
            and x.dtype == np.float64
            and type(v) is np.ndarray and v.ndim <= 2 and v.shape[-1:] == x.shape
            and v.dtype == np.float64):
        return None
    func = fn.func
    key = getattr(func, "__func__", func)  # a bound method: its function
    try:
        if key in _NOT_ELEMENTWISE:
            return None
    except TypeError:  # not weakly referable: probed at every call
        key = None
    tape, notes = _Tape(Dual(x[:size], v[..., :size], tag)), []
    token = _TIES.set((notes, True))
    try:
        out = fn.on_vector(tape.nodes[0], x.size)
        output = tape.index.get(id(out)) if isinstance(out, Dual) and not tape.refused \
            else None  # (f, or numpy, may have caught the refusal)
    except _NotElementwise:
        if tape.refused is None:  # another probe's (f runs inside an outer probe)
            raise
        output = None
    except Exception:  # f fails on a Dual: let the whole-array path raise its own error
        output = None
    finally:
        tape.close()
        _TIES.reset(token)
    if output is None:
        if key is not None:
            _NOT_ELEMENTWISE.add(key)
        return None
    return _replay(tape, output, x, v)


@functools.cache
def _keep_freed_blocks() -> None:
    """Once per process: allocate an 8 MB array and free it untouched.

    The blocks' intermediates are freed and allocated again for each block. glibc's malloc
    gives freed memory at the top of its heap back to the OS once it exceeds a threshold that
    starts at 128 kB and is raised (to twice its size) when a large array is freed; until then
    each block's intermediates are fresh pages, faulted in one by one (a 10⁶-point jvp of
    Σ sin(x)·exp(-x²): 12967 page faults, 2x slower). Any numpy program that frees an array
    of 10⁶ floats raises it the same way; nothing is written, and other allocators ignore
    this.
    """
    np.empty(2**20)


def _replay(tape: _Tape, output: int, x: np.ndarray, v: np.ndarray) -> tuple[Any, Any, bool]:
    """The tape's operations on every block after the first; the output put together."""
    _keep_freed_blocks()
    reduction = output in tape.reductions
    source = tape.operations[output - 1][1][0].index if reduction else output
    program, constants = _program_of(tape, source, summed=reduction)
    summed = any(position == source and getattr(call, "func", None) is _summed_rule_of
                 for position, call, _, _ in program)  # the sum of the block is made there
    empty = [None] * len(tape.operations)  # the operations' results, in each block
    first, n = BLOCK_ELEMENTS, x.size
    size = REDUCTION_BLOCK_ELEMENTS if reduction else first
    if reduction:
        sums = [np.sum(tape.nodes[source])]
    else:
        value, tangent = np.empty(x.shape), np.empty(v.shape)
        _put((value[:first], tangent[..., :first]), tape.nodes[source])
    tape.nodes.clear()  # the first block's intermediates
    notes: list = []
    pending: dict[int, Warning] = {}
    token = _TIES.set((notes, False))
    try:
        for start in range(first, n, size):
            block = slice(start, start + size)
            nodes = [Dual(x[block], v[..., block], tape.tag), *empty, *constants]
            into = None if reduction else (value[block], tangent[..., block])
            for position, call, fetch, drop in program:
                # the output's operation writes into the output where it can
                nodes[position] = call(fetch(nodes), into) if position == source \
                    else call(fetch(nodes))
                for j in drop:
                    nodes[j] = None  # freed: the next intermediate reuses its memory
                if notes:
                    pending.setdefault(position, notes[0])
                    notes.clear()
            if reduction:
                sums.append(nodes[source] if summed else np.sum(nodes[source]))
            else:
                _put(into, nodes[source])
            del nodes
    finally:
        _TIES.reset(token)
    for position, warning in sorted(pending.items()):
        if position not in tape.warned:  # each operation warns once, as on the whole array
            warnings.warn(warning, stacklevel=4)
    if reduction:
        mean = tape.operations[output - 1][0] is _REDUCTIONS[np.mean]
        return _sum_of_blocks(sums, n if mean else 1)
    return value, tangent, all_finite(value) and all_finite(tangent)


def _program_of(tape: _Tape, source: int, summed: bool = False) -> tuple[list, list]:
    """The tape as straight code for one block: (node, call, fetch, drop) per operation, with
    the nodes in one list: the block at 0, operation i's result at i + 1, then the constants.

    ``call`` is the rule that the recorded call's dispatch ends in (a table row, whether f wrote
    ``a * b`` or ``np.multiply(a, b)``, is dual_rule with the probe's tag: the same numbers
    without the dispatch; the output's operation also takes the output blocks to write into,
    or, when ``summed`` (np.sum / np.mean follows it) and it is a table row, is _summed_rule);
    ``fetch`` gathers its arguments; ``drop`` lists the nodes it used last. np.sum / np.mean
    are left out (they apply to all blocks at once).
    """
    count, constants, program = len(tape.operations) + 1, [], []
    last_use = {a.index: i for i, (_, arguments, _) in enumerate(tape.operations)
                for a in arguments if type(a) is _Node}
    for i, (call, arguments, reduction) in enumerate(tape.operations):
        if reduction:
            continue
        slots = []
        for a in arguments:
            if type(a) is _Node:
                slots.append(a.index)
            else:
                slots.append(count + len(constants))
                constants.append(a)
        row = None
        if isinstance(call, functools.partial) and call.func is _table_row:
            row = call.args[0]
        elif isinstance(call, functools.partial) and call.func is _ufunc_call and \
                call.args[0] not in Installed.ufuncs:  # dual_arrays' own rule first
            row = E.ROW_OF_UFUNC.get(call.args[0])
        if row is not None and i + 1 == source and summed:
            call = functools.partial(_summed_rule_of, row, tape.tag)
        elif row is not None:
            call = functools.partial(_dual_rule_of, row, tape.tag)
        elif i + 1 == source:  # the output's operation, called with the output blocks
            call = functools.partial(_without_into, call)
        get = operator.itemgetter(*slots)
        fetch = get if len(slots) > 1 else (lambda nodes, get=get: (get(nodes),))
        drop = [j for j, last in last_use.items() if last == i and j != source]
        program.append((i + 1, call, fetch, drop))
    return program, constants


def _dual_rule_of(row: E.Elementary, tag: int, args: tuple, into: Any = None) -> Dual:
    return fast_dual_rule(row, args, tag, into=into)


def _summed_rule_of(row: E.Elementary, tag: int, args: tuple, into: Any = None) -> Dual:
    return _summed_rule(row, args, tag)


def _summed_rule(row: E.Elementary, args: tuple, tag: int) -> Dual:
    """np.sum over one block of a table row's result, value and tangent, when f sums that
    result: the tangent Σₚ Σᵢ ∂ᵢ(p)·tᵢ(p) is summed as its products are made (_summed_products),
    so no tangent array is stored and summed again; a doubled u·u is 2·Σ u·t (exact doubling).
    The value of a product is summed the same way (Σ a·b is a dot; its partials need no a·b)."""
    values = [a.value if isinstance(a, Dual) and a.tag == tag else a for a in args]
    if row is E.multiply and type(values[-1]) is np.ndarray:
        out, total = None, _summed_products(*values)
    elif row is E.multiply and type(values[0]) is np.ndarray:
        out, total = None, _summed_products(*values[::-1])
    else:
        out = row_value(row, values)
        total = np.sum(out)
    ours = [i for i, a in enumerate(args) if isinstance(a, Dual) and a.tag == tag]
    doubled = row is E.multiply and args[0] is args[1]
    tangent = sum(_summed_products(row.partials[i](*values, out), args[i].tangent)
                  for i in ours[:1 if doubled else None])
    return Dual(total, 2.0 * tangent if doubled else tangent, tag)


# Points per BLAS dot in _summed_products. A dot adds its products in one running sum (or a few:
# OpenBLAS keeps 16), so its rounding error grows with its length; 256 keeps it under
# 256·2⁻⁵³ ≈ 3e-14 of Σ|products| with any BLAS, and the dots are still 2x faster than a
# stored product and numpy's sum of it (benchmarks/dual_ratios.py, section 2).
SUMMED_ROW = 256


def _summed_products(partial: Any, tangent: np.ndarray) -> Any:
    """Σ over the last axis of partial·tangent, without storing the product: tangent (n,) or
    (k, n), partial a number or (n,); result () or (k,). BLAS dots over rows of SUMMED_ROW
    points (one stacked matmul), the rows' sums then added by numpy's pairwise sum: at most
    about (256 + log2(n/256)) roundings of Σ|products|, against numpy's (16 + log2(n/128))."""
    if np.ndim(partial) == 0:
        return partial * np.sum(tangent, axis=-1)
    n = partial.shape[-1]
    whole = n - n % SUMMED_ROW
    lead = tangent.shape[:-1]
    rows = tangent[..., :whole].reshape(*lead, -1, 1, SUMMED_ROW) @ \
        partial[:whole].reshape(-1, SUMMED_ROW, 1)
    return rows.sum(axis=(-3, -2, -1)) + tangent[..., whole:] @ partial[whole:]


def _without_into(call: Callable[[tuple], Any], args: tuple, into: Any) -> Any:
    return call(args)


def _put(into: tuple[np.ndarray, np.ndarray], result: Dual) -> None:
    """Put one block's result into the output blocks ``into`` (unless the operation wrote it
    there already)."""
    for array, part in zip(into, (result.value, result.tangent)):
        if part is not array:
            array[...] = part


def _sum_of_blocks(sums: list[Dual], count: int) -> tuple[Any, Any, bool]:
    """np.sum (count = 1) or np.mean (count = n) of the whole from the sums of the blocks
    (numpy's pairwise sums), added exactly (math.fsum)."""
    value = _exact_sum([s.value for s in sums]) / count
    tangents = np.array([s.tangent for s in sums])
    tangent = np.array([_exact_sum(column) for column in tangents.reshape(len(sums), -1).T]
                       ).reshape(tangents.shape[1:]) / count
    tangent = tangent[()] if tangent.ndim == 0 else tangent
    return value, tangent, bool(np.isfinite(value) and np.isfinite(tangent).all())


def _exact_sum(terms: Any) -> np.float64:
    """The correctly rounded sum (numpy's sum when that overflows: ±inf, as numpy's is)."""
    try:
        return np.float64(math.fsum(terms))
    except OverflowError:
        return np.sum(terms)


# ============================================================================================
# derivative: a parsed function compiled once into straight chain-rule code on floats
# ============================================================================================
def compiled_program(fn: Function) -> Callable[[float], tuple[float, float]]:
    """``x -> (f(x), f'(x))`` for a parsed scalar function of one variable, compiled once.

    The same rule as :func:`~diffx.engines.dual.dual_rule` (value by the row's numpy form,
    tangent by its partials), without building Dual objects; constant subtrees carry no
    tangent at all.
    """
    def build() -> Callable[[float], tuple[float, float]]:
        run, _ = _compile(fn.tree[0])
        return lambda x: run(np.float64(x))

    return fn.cache.get("dual program", build)


def _compile(node: Any) -> tuple[Callable, bool]:
    """(closure x -> (value, derivative), whether the node depends on x)."""
    if isinstance(node, Variable):
        return (lambda x: (x, 1.0)), True
    if isinstance(node, (Number, NamedConstant)):
        value = node.value if isinstance(node, Number) else node.constant.float_value
        return (lambda x: (value, 0.0)), False
    assert isinstance(node, Apply)
    op, partials = node.op.numpy, node.op.partials
    children = [_compile(a) for a in node.args]
    if len(children) == 1:
        (child, _), = children

        def unary(x):
            u, du = child(x)
            out = op(u)
            return out, partials[0](u, out) * du

        return unary, children[0][1]
    (left, left_varies), (right, right_varies) = children

    def binary(x):
        (a, da), (b, db) = left(x), right(x)
        out = op(a, b)
        if not right_varies:
            return out, partials[0](a, b, out) * da
        if not left_varies:
            return out, partials[1](a, b, out) * db
        return out, partials[0](a, b, out) * da + partials[1](a, b, out) * db

    return binary, left_varies or right_varies


def fast_derivative(f: Any, x: Any, order: int) -> float | None:
    """The public API's shortcut for ``derivative(f, x, "dual")``: a parsed scalar function,
    a plain finite x, order 1, no operation with a domain edge or kink, and a finite value and
    derivative. Returns None whenever the full path (with its point checks) must run."""
    if not (isinstance(x, (float, int)) and not isinstance(x, bool) and order == 1
            and isinstance(f, ParsedFunction) and not f.vector_output
            and len(f.variables) == 1 and math.isfinite(x)):
        return None
    if may_be_restricted(f):
        return None
    with np.errstate(all="ignore"):
        value, slope = compiled_program(f)(x)
    if math.isfinite(value) and math.isfinite(slope):
        return float(slope)
    return None


Installed.chunk_size = staticmethod(chunk_size)
Installed.by_blocks = staticmethod(by_blocks)
Installed.compiled_program = staticmethod(compiled_program)
Installed.fast_derivative = staticmethod(fast_derivative)
Installed.holds_back = staticmethod(noted)
