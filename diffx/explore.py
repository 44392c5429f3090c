"""The explorer: type a function, move the point and the step, watch every method respond.

One implementation serves two places. :func:`explore` returns an :class:`Explorer`, which
displays itself in Jupyter; :func:`serve` (the ``diffx explore`` command) serves the same
interface as a local web page, one independent :class:`Explorer` per browser session. The
interface is built with `Panel <https://panel.holoviz.org>`_ (HoloViz), which renders one
object both in a notebook and under its Bokeh/Tornado server; Panel is imported only when the
interface is first built, never by ``import diffx``.

The explorer is split in two so that most of it is tested without a browser:

* the **model** — :meth:`Explorer.update` turns the settings (function text, point text,
  methods, step) into a :class:`Snapshot`: the comparison rows measured against the 50-digit
  reference, the message to show when the input is bad, and the details behind the other views
  (step sweep, symbolic derivative, evaluation trace). It never evaluates user text: every
  string goes through :func:`diffx.parse` (functions) or :func:`parse_point` (numbers).
* the **view** — :meth:`Explorer.panel` builds the widgets and panes once and re-renders them
  from each new snapshot: the comparison table (an HTML ``<table>``), the function with its
  tangent (or contours with the gradient arrow), error against step size with the current step
  marked, the symbolic derivative in LaTeX with its operation counts, and the evaluation trace.

Bad input is part of the interface: a ParseError, LimitError, DomainError or any other
DiffxError becomes a message in an element with ``role="alert"``. Each update runs in a worker
thread under a time limit (:data:`TIME_LIMIT` seconds, ``time_limit=`` to change it); past it,
the update is abandoned with a message saying so and the worker is interrupted at its next
Python instruction (SymPy, where long computations come from, is pure Python).

    >>> from diffx.explore import Explorer
    >>> snapshot = Explorer("x**3", at=2.0, methods=["central", "dual"]).update()
    >>> [(row.method, row.value) for row in snapshot.rows]  # doctest: +ELLIPSIS
    [('central', 12.0000000...), ('dual', 12.0)]
"""

from __future__ import annotations

import ctypes
import html
import io
import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from diffx import elementary as E
from diffx.compare import (
    EPS,
    ERROR_FLOOR,
    METHOD_COLOURS,
    SWEEP_METHODS,
    ComparisonRow,
    measure,
    score,
    step_sweep,
    warm_up,
)
from diffx.compare.formatting import format_seconds, format_value
from diffx.engines import METHODS, family_of
from diffx.errors import (
    DiffxError,
    DomainError,
    DomainWarning,
    LimitError,
    NonDifferentiableWarning,
    ParseError,
)
from diffx.functions import Function, ParsedFunction, parse

__all__ = [
    "DEFAULT_FUNCTION",
    "DEFAULT_POINT",
    "TIME_LIMIT",
    "Explorer",
    "Row",
    "Settings",
    "Snapshot",
    "TimeLimitError",
    "explore",
    "parse_point",
    "serve",
]

DEFAULT_FUNCTION = "sin(x)*exp(x)"
DEFAULT_POINT = "1.3"
TIME_LIMIT = 5.0  # seconds per stage of an update (the table; then the other views)
STEP_EXPONENTS = (-16.0, 0.0)  # the step slider: h = 10**k for k in this range
DEFAULT_STEP_EXPONENT = -5.0
MAX_POINT_LENGTH = 1_000  # characters in the Point box
MAX_LATEX_OPERATIONS = 400  # longer derivatives are counted, not typeset
MAX_GRAPH_NODES = 30  # larger traces show their table only, no drawn graph
SWEEP_STEPS = 10.0 ** np.arange(-16.0, 0.01, 0.5)  # two steps per decade, 1e-16 … 1
_TIMING = {"min_time": 0.004, "min_repeats": 1, "max_repeats": 5}  # warm calls per method


class TimeLimitError(DiffxError):
    """An update of the explorer took longer than its time limit and was abandoned."""


# ============================================================================================
# The model
# ============================================================================================
@dataclass(frozen=True)
class Settings:
    """What the controls say. ``step`` is None for each numeric method's own automatic step."""

    function: str = DEFAULT_FUNCTION
    point: str = DEFAULT_POINT
    methods: tuple[str, ...] = METHODS
    step: float | None = None


# One method's line of the comparison table, as measured by diffx.compare.measurement: ``value``
# is a float (one variable), the gradient (n,) or the Jacobian (m, n); errors are against the
# 50-digit reference (NaN when there is none); ``seconds`` is the median of a few warm calls
# (_TIMING), ``setup_seconds`` the first call's extra time (small when an earlier update of the
# same function did the setup: the explorer keeps its parsed functions); ``step`` the
# finite-difference step used (None for the exact methods); ``status`` "ok" or why it failed.
Row = ComparisonRow


@dataclass
class Snapshot:
    """Everything the views show for one :class:`Settings`.

    ``error`` is the message shown in the alert (None when all is well), ``notes`` are remarks
    about the point (a kink, the domain). ``kind`` is "derivative", "gradient" or "jacobian".
    The details (``sweep``, ``latex``, ``operations``, ``trace``, ``figures``) are filled by
    :meth:`Explorer.update` after the table, unless ``details=False``.
    """

    settings: Settings
    function: Function | None = None
    point: np.ndarray | None = None
    kind: str = "derivative"
    reference: Any = None
    rows: list[Row] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sweep: Any = None  # diffx.compare.StepSweep (one variable, numeric methods chosen)
    latex: str | None = None
    operations: tuple[int, int] | None = None  # symbolic derivative: operations before/after CSE
    symbolic_note: str | None = None
    trace: Any = None  # diffx.trace.Trace
    figures: dict[str, bytes] = field(default_factory=dict)  # PNG images by view name
    details_error: str | None = None
    timed_out: bool = False  # the table stage hit the time limit (the details are skipped)

    @property
    def ok(self) -> bool:
        """No message to show: the input was read and every part finished."""
        return self.error is None and self.details_error is None

    @property
    def readable(self) -> bool:
        """The function and the point were read (there is a table to show)."""
        return self.function is not None and self.point is not None

    def row(self, method: str) -> Row:
        """The row of ``method`` (KeyError if it was not run)."""
        for row in self.rows:
            if row.method == method:
                return row
        raise KeyError(method)


def parse_point(text: str | float | Sequence[float], n_variables: int | None = None,
                variables: Sequence[str] | None = None) -> np.ndarray:
    """The point typed in the Point box: a number or comma-separated numbers (no evaluation).

    Raises ParseError (with the column of the bad part), LimitError for absurdly long text,
    DomainError for NaN or infinity, and DiffxError when the number of coordinates does not
    match ``n_variables``.

    >>> parse_point("1.5, -2")
    array([ 1.5, -2. ])
    >>> parse_point("1.5, two")
    Traceback (most recent call last):
    ...
    diffx.errors.ParseError: Point: 'two' is not a number
      1.5, two
           ^
    """
    if isinstance(text, str):
        if len(text) > MAX_POINT_LENGTH:
            raise LimitError(f"Point: the text is {len(text)} characters long; the limit is "
                             f"{MAX_POINT_LENGTH}")
        stripped = text.strip()
        if not stripped:
            raise ParseError("Point: type a number, or comma-separated numbers for several "
                             "variables", text, 0)
        values = []
        offset = 0
        for part in text.split(","):
            word = part.strip()
            column = offset + (len(part) - len(part.lstrip()))
            offset += len(part) + 1
            try:
                values.append(float(word))
            except ValueError:
                what = "an empty coordinate" if not word else repr(word)
                raise ParseError(f"Point: {what} is not a number", text, column) from None
        point = np.array(values, dtype=float)
    else:
        point = np.atleast_1d(np.asarray(text, dtype=float)).reshape(-1)
    if not np.all(np.isfinite(point)):
        raise DomainError(f"Point: {', '.join(f'{v:g}' for v in point)} contains NaN or "
                          f"infinity; every coordinate must be a finite number")
    if n_variables is not None and point.size != n_variables:
        names = f" ({', '.join(variables)})" if variables else ""
        raise DiffxError(f"Point: the function has {n_variables} variable(s){names} but the "
                         f"point has {point.size} coordinate(s); type {n_variables} "
                         f"comma-separated numbers")
    return point


def _measure(fn: Function, point: np.ndarray, kind: str, method: str,
             step: float | None) -> Row:
    """Run one method on the explorer's parsed ``fn`` (once cold, then a few warm calls for the
    time); not yet scored: the reference is computed after every method has run."""
    return measure(fn, point, method, kind=kind, step=step, **_TIMING)


def _score(row: Row, reference: Any) -> Row:
    """The row with its errors against the 50-digit reference (NaN without one, or for a
    non-finite value)."""
    if row.status != "ok" or not np.all(np.isfinite(np.asarray(row.value, dtype=float))):
        return row
    return score(row, reference)


def _quiet(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` without warnings: the point's problems are shown once, as notes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return function(*args)


def _kind(fn: Function, point: np.ndarray) -> str:
    vector = fn.vector_output if isinstance(fn, ParsedFunction) \
        else np.size(fn.numpy_call(point)) > 1
    if point.size == 1 and not vector:
        return "derivative"
    return "jacobian" if vector else "gradient"


def _reference(fn: Function, point: np.ndarray, kind: str) -> Any:
    from diffx.reference import reference_derivative, reference_jacobian

    if kind == "derivative":
        return reference_derivative(fn, point[0])
    reference = reference_jacobian(fn, point)
    return reference[0] if kind == "gradient" else reference


def _point_notes(fn: Function, point: np.ndarray) -> list[str]:
    from diffx.points import check_point

    check = check_point(fn, point)
    where = ", ".join(f"{v:g}" for v in point)
    notes = []
    if check.undefined.all():
        notes.append(f"f is not finite at ({where}): every method returns NaN")
    notes += [f"outside the domain: {text}" for text in check.outside]
    notes += [f"on the edge of the domain: {text}" for text in check.edges]
    notes += [f"on a kink: {text} (exact methods use the convention abs′(0) = relu′(0) = "
              f"sign′(0) = 0; finite differences give their quotient)" for text in check.kinks]
    return notes


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, DiffxError):
        return text
    return f"{type(exc).__name__}: {text}"


# --------------------------------------------------------------------------------------------
# Running under a time limit
# --------------------------------------------------------------------------------------------
class _Interrupted(BaseException):
    """Raised inside an abandoned worker thread to stop it (never escapes the worker)."""


def _interrupt(thread: threading.Thread, done: threading.Event) -> None:
    """Raise :class:`_Interrupted` in ``thread`` until it ends (up to 10 s): at its next Python
    instruction, so SymPy's pure-Python work stops at once, while C code (a long numpy call)
    first runs to its end. Repeated because a finaliser or garbage-collector callback that
    happens to be running may swallow one exception."""
    for _ in range(200):
        if done.is_set() or not thread.is_alive() or thread.ident is None:
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(_Interrupted))
        thread.join(0.05)


def run_with_time_limit(work: Callable[[], Any], seconds: float, what: str = "this update",
                        stop: threading.Event | None = None) -> Any:
    """``work()`` in a worker thread: its result, or TimeLimitError after ``seconds``.

    On time-out ``stop`` is set (``work`` should publish nothing once it is) and the worker is
    interrupted from a watchdog thread, so an abandoned computation does not go on using the
    CPU.

    >>> run_with_time_limit(lambda: 6 * 7, 1.0)
    42
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            try:
                box["result"] = work()
            except BaseException as exc:  # handed to the waiting thread (or dropped if late)
                box["error"] = exc
            finally:
                done.set()
        except _Interrupted:  # pragma: no cover - an interrupt landing in the handlers above
            done.set()

    worker = threading.Thread(target=target, name="diffx-explore-update", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive() and not done.is_set():
        if stop is not None:
            stop.set()
        threading.Thread(target=_interrupt, args=(worker, done), daemon=True,
                         name="diffx-explore-watchdog").start()
        raise TimeLimitError(f"{what} took longer than the explorer's time limit of "
                             f"{seconds:g} s and was stopped")
    if "error" in box:
        raise box["error"]
    return box["result"]


_TIME_LIMIT_ADVICE = ("Try a smaller expression (the symbolic method and the 50-digit reference "
                      "expand it), fewer methods, or a larger time limit.")


def _run_parts(parts: Sequence[tuple[str, Callable[[], Any], Callable[[Any], None]]],
               seconds: float) -> str | None:
    """Run ``(name, compute, publish)`` parts in order in one time-limited worker; each result
    is published as soon as it is ready, so a time-out keeps the parts already done. Returns
    the message naming the part that was cut off, or None."""
    stop = threading.Event()
    current = [""]

    def work() -> None:
        for name, compute, publish in parts:
            current[0] = name
            value = compute()
            if stop.is_set():
                return
            publish(value)

    try:
        run_with_time_limit(work, seconds, stop=stop)
    except TimeLimitError:
        return (f"Stopped: {current[0]} took longer than the explorer's time limit of "
                f"{seconds:g} s. {_TIME_LIMIT_ADVICE}")
    return None


# --------------------------------------------------------------------------------------------
# The Explorer
# --------------------------------------------------------------------------------------------
class Explorer:
    """The interactive explorer of one function (one per notebook cell or browser session).

    ``f`` is an expression string (the Function box), ``at`` the point (a number, a sequence,
    or the Point box's text); ``methods`` a subset of ``diffx.METHODS`` (default: all);
    ``step`` the finite-difference step h (None: each method's automatic step);
    ``time_limit`` the seconds one update may take.

    :meth:`update` computes a :class:`Snapshot` from the settings (the model);
    :meth:`panel` builds the interactive Panel layout that re-renders on every change (Jupyter
    shows it automatically). Views as strings, for tests and for anything else:
    :meth:`table_html`, :meth:`alert_html`, :meth:`symbolic_text`.
    """

    def __init__(self, f: str = DEFAULT_FUNCTION, at: Any = None, *,
                 methods: Sequence[str] | None = None, step: float | None = None,
                 time_limit: float = TIME_LIMIT):
        if not isinstance(f, str):
            raise DiffxError("the explorer takes the function as an expression string, e.g. "
                             "'sin(x)*exp(x)' (it is shown and edited in the Function box)")
        if at is None:
            point = DEFAULT_POINT
        elif isinstance(at, str):
            point = at
        else:
            point = ", ".join(repr(float(v)) for v in np.atleast_1d(np.asarray(at, dtype=float)))
        chosen = tuple(METHODS if methods is None else methods)
        unknown = [m for m in chosen if m not in METHODS]
        if unknown:
            raise DiffxError(f"unknown method(s) {', '.join(map(repr, unknown))}; choose from "
                             f"{', '.join(METHODS)}")
        if step is not None and not (math.isfinite(step) and step > 0):
            raise DiffxError(f"step must be a positive number or None, got {step!r}")
        if not time_limit > 0:
            raise DiffxError(f"time_limit must be positive, got {time_limit!r}")
        chosen = tuple(m for m in METHODS if m in chosen)  # the table's order is METHODS'
        self.settings = Settings(f, point, chosen, None if step is None else float(step))
        self.time_limit = float(time_limit)
        self.snapshot: Snapshot | None = None
        self._functions: dict[str, Function] = {}  # parsed once per text (keeps SymPy caches)
        self._sweeps: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._view: _View | None = None

    def __repr__(self) -> str:
        s = self.settings
        return f"<diffx Explorer: {s.function} at {s.point}, {len(s.methods)} methods>"

    # --- the model -------------------------------------------------------------------------
    def function(self, text: str) -> Function:
        """``diffx.parse(text)``, cached per text (so SymPy's work is kept between updates)."""
        if text not in self._functions:
            fn = parse(text)
            if len(self._functions) > 32:
                self._functions.clear()
            self._functions[text] = fn
        return self._functions[text]

    def update(self, settings: Settings | None = None, *, details: bool = True,
               **changes: Any) -> Snapshot:
        """Apply ``settings`` (or keyword ``changes`` to the current ones: function, point,
        methods, step) and compute the new snapshot under the time limit.

        Never raises for bad input: the message is in ``snapshot.error``.
        """
        settings = replace(settings or self.settings, **changes)
        if isinstance(settings.point, (int, float, np.ndarray, list, tuple)):
            settings = replace(settings, point=", ".join(
                repr(float(v)) for v in np.atleast_1d(np.asarray(settings.point, float))))
        unknown = [m for m in settings.methods if m not in METHODS]
        if unknown:
            raise DiffxError(f"unknown method(s) {', '.join(map(repr, unknown))}; choose from "
                             f"{', '.join(METHODS)}")
        settings = replace(settings, methods=tuple(m for m in METHODS if m in settings.methods))
        with self._lock:
            self.settings = settings
            snapshot = self._table(settings)
            if details and snapshot.readable and not snapshot.timed_out:
                self._details(snapshot)
            self.snapshot = snapshot
        return snapshot

    def _table(self, settings: Settings) -> Snapshot:
        """The table stage: parse, run every method, then the reference (time-limited)."""
        snapshot = Snapshot(settings)
        start = time.perf_counter()
        try:
            # in this thread, before the time limit: TensorFlow's one-off import (seconds) is
            # not part of any update, and must never be interrupted
            warm_up(settings.methods)
            run_with_time_limit(lambda: self._prepare(snapshot), self.time_limit,
                                "reading the function and the point")
        except Exception as exc:
            snapshot.error = _message(exc)
            snapshot.seconds = time.perf_counter() - start
            return snapshot
        fn, point, kind, step = snapshot.function, snapshot.point, snapshot.kind, settings.step
        done: dict[str, Row] = {}

        def reference() -> Any:
            try:
                return _reference(fn, point, kind)
            except DiffxError as exc:  # the rows still show what each method returns
                return exc

        # the reference and the symbolic family expand the expression: they go last, so that a
        # time-out still leaves the other methods' values on the page
        expanding = [m for m in settings.methods if family_of(m) == "symbolic"]
        parts: list[tuple[str, Callable[[], Any], Callable[[Any], None]]] = [
            (f"the {method} method", partial(_quiet, _measure, fn, point, kind, method, step),
             partial(done.__setitem__, method))
            for method in settings.methods if method not in expanding]
        parts.append(("the 50-digit reference", partial(_quiet, reference),
                      partial(setattr, snapshot, "reference")))
        parts += [(f"the {method} method",
                   partial(_quiet, _measure, fn, point, kind, method, None),
                   partial(done.__setitem__, method)) for method in expanding]
        stopped = _run_parts(parts, self.time_limit)
        if isinstance(snapshot.reference, DiffxError):
            snapshot.error = f"No reference derivative here: {_message(snapshot.reference)}"
            snapshot.reference = None
        if stopped is not None:
            snapshot.error = stopped
            snapshot.timed_out = True
        not_run = "not run: the update reached its time limit first"
        snapshot.rows = [_score(done[m], snapshot.reference) if m in done else
                         Row.failed(m, not_run) for m in settings.methods]
        snapshot.seconds = time.perf_counter() - start
        return snapshot

    def _prepare(self, snapshot: Snapshot) -> None:
        settings = snapshot.settings
        fn = self.function(settings.function)
        snapshot.function = fn
        snapshot.point = point = parse_point(settings.point, len(fn.variables), fn.variables)
        snapshot.kind = _quiet(_kind, fn, point)
        snapshot.notes = _quiet(_point_notes, fn, point)

    def _details(self, snapshot: Snapshot) -> None:
        """The other views, each published when ready: trace and its graph, the tangent (or
        contour) figure, the symbolic derivative, the step sweep (time-limited together)."""
        from diffx.trace import trace

        fn, point = snapshot.function, snapshot.point

        def traced() -> Any:
            try:
                return trace(fn, point)
            except DiffxError:
                return None

        def graph(result: Any) -> bytes | None:
            if result is None or len(result.nodes) > MAX_GRAPH_NODES:
                return None
            return _png(result.plot(adjoints=True, tangents=True))

        def tangent() -> bytes | None:
            fig = _tangent_figure(snapshot)
            return None if fig is None else _png(fig)

        def publish_figure(name: str) -> Callable[[Any], None]:
            def publish(png: bytes | None) -> None:
                if png is not None:
                    snapshot.figures[name] = png

            return publish

        def publish_trace(result: Any) -> None:
            snapshot.trace = result

        parts = [
            ("the evaluation trace", partial(_quiet, traced), publish_trace),
            ("drawing the trace's graph", lambda: _quiet(graph, snapshot.trace),
             publish_figure("graph")),
            ("drawing the tangent", partial(_quiet, tangent), publish_figure("tangent")),
            ("the symbolic derivative", partial(_quiet, _symbolic_parts, snapshot),
             partial(_publish_symbolic, snapshot)),
            ("the error-vs-step sweep", partial(_quiet, self._sweep, snapshot),
             partial(setattr, snapshot, "sweep")),
            ("drawing the error-vs-step sweep",
             lambda: _quiet(_png, _sweep_figure(snapshot)) if snapshot.sweep is not None
             else None, publish_figure("sweep")),
        ]
        snapshot.details_error = _run_parts(parts, self.time_limit)

    def _sweep(self, snapshot: Snapshot) -> Any:
        methods = tuple(m for m in snapshot.settings.methods if m in SWEEP_METHODS)
        if snapshot.kind != "derivative" or not methods or snapshot.reference is None:
            return None
        key = (snapshot.settings.function, float(snapshot.point[0]), methods)
        if key not in self._sweeps:
            if len(self._sweeps) > 16:
                self._sweeps.clear()
            try:
                self._sweeps[key] = step_sweep(snapshot.function, float(snapshot.point[0]),
                                               methods, SWEEP_STEPS)
            except DiffxError:
                self._sweeps[key] = None
        return self._sweeps[key]

    # --- views as HTML / text ----------------------------------------------------------------
    def table_html(self, snapshot: Snapshot | None = None) -> str:
        """The comparison table: one ``<tr>`` per method (name, value, digits, errors, time)."""
        return _table_html(snapshot or self._current())

    def alert_html(self, snapshot: Snapshot | None = None) -> str:
        """The message for bad input (``role="alert"``), or notes about the point, or ''."""
        return _alert_html(snapshot or self._current())

    def symbolic_text(self, snapshot: Snapshot | None = None) -> str:
        """The symbolic derivative view: LaTeX (between $…$) and the operation counts."""
        return _symbolic_text(snapshot or self._current())

    def _current(self) -> Snapshot:
        return self.snapshot if self.snapshot is not None else self.update()

    # --- the interactive view -----------------------------------------------------------------
    def panel(self) -> Any:
        """The interactive Panel layout (built once; Panel is imported here)."""
        if self._view is None:
            self._view = _View(self)
        return self._view.layout

    def __panel__(self) -> Any:
        return self.panel()

    @property
    def widgets(self) -> dict[str, Any]:
        """The controls by name: function, point, catalogue, methods, automatic_step, step."""
        self.panel()
        return self._view.widgets

    @property
    def panes(self) -> dict[str, Any]:
        """The views by name: alert, table, tangent, sweep, symbolic, operations, trace,
        graph, status."""
        self.panel()
        return self._view.panes

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        import panel as pn

        if not pn.extension._loaded:
            pn.extension("katex")
        return self.panel()._repr_mimebundle_(include, exclude)

    def servable(self, title: str = "diffx explorer") -> Any:
        """Mark the layout servable (for ``panel serve`` scripts)."""
        return self.panel().servable(title=title)


def explore(f: str = DEFAULT_FUNCTION, at: Any = None, *, methods: Sequence[str] | None = None,
            step: float | None = None, time_limit: float = TIME_LIMIT) -> Explorer:
    """The interactive explorer of ``f`` at ``at``: displays itself in Jupyter.

    ``f`` is an expression string (x, or x, y, … for several variables), ``at`` a number or a
    list of numbers (default 1.3). In a notebook the last expression of a cell shows the
    explorer; in a terminal use ``diffx explore`` (or :func:`serve`) for the browser page.

    >>> e = explore("x**3", at=2.0, methods=["dual"])
    >>> e.update().row("dual").value
    12.0
    """
    return Explorer(f, at, methods=methods, step=step, time_limit=time_limit)


# ============================================================================================
# Views as HTML, text and figures (pure functions of a Snapshot)
# ============================================================================================
_FAMILY_COLOURS = {"symbolic": "#1f77b4", "numeric": "#d62728", "automatic": "#2ca02c"}


def _fmt_error(error: float | None) -> str:
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return "—"
    return "0" if error == 0 else f"{error:.1e}"


def _fmt_seconds(seconds: float) -> str:
    return format_seconds(seconds) or "—"


def _fmt_step(step: float | None) -> str:
    return "exact" if step is None else f"{step:.2g}"


def _what(snapshot: Snapshot) -> str:
    fn, point = snapshot.function, snapshot.point
    text = snapshot.settings.function.strip()
    name = html.escape(text if len(text) <= 80 else text[:79] + "…")
    if snapshot.kind == "derivative":
        return f"f′({fn.variables[0]}) of f = {name} at {fn.variables[0]} = {float(point[0])!r}"
    at = ", ".join(repr(float(v)) for v in point)  # the shortest text that is the float
    what = "gradient ∇f" if snapshot.kind == "gradient" else "Jacobian J"
    return f"{what} of f = {name} at ({', '.join(fn.variables)}) = ({at})"


def _table_html(snapshot: Snapshot) -> str:
    if snapshot.function is None or snapshot.point is None or not snapshot.rows:
        return "<p class='diffx-empty'>No table: fix the input above.</p>"
    reference = "none (see the message above)" if snapshot.reference is None else \
        _reference_text(snapshot.reference)
    step = snapshot.settings.step
    step_text = "each method's automatic step" if step is None else f"h = {step:.3g}"
    head = ("<tr><th scope='col'>method</th><th scope='col'>value</th>"
            "<th scope='col'>correct digits</th><th scope='col'>rel. error</th>"
            "<th scope='col'>error estimate</th><th scope='col'>step</th>"
            "<th scope='col'>time</th></tr>")
    body = []
    for row in snapshot.rows:
        colour = _FAMILY_COLOURS[row.family]
        name = (f"<th scope='row' style='border-left:4px solid {colour}' "
                f"title='{row.family}'>{html.escape(row.method)}</th>")
        if row.status != "ok":
            prefix = "" if row.status.startswith("not run") else "cannot run: "
            body.append(f"<tr class='failed' data-method='{html.escape(row.method)}'>{name}"
                        f"<td colspan='6' class='status'>{prefix}"
                        f"{html.escape(row.status)}</td></tr>")
            continue
        digits = "—" if math.isnan(row.digits) else f"{row.digits:.1f}"
        width = 0 if math.isnan(row.digits) else 100 * row.digits / 16
        bar = (f"background:linear-gradient(90deg,{colour}33 {width:.0f}%,transparent "
               f"{width:.0f}%)")
        body.append(
            f"<tr data-method='{html.escape(row.method)}'>{name}"
            f"<td class='value'>{html.escape(format_value(row.value))}</td>"
            f"<td class='digits' style='{bar}'>{digits}</td>"
            f"<td>{_fmt_error(row.rel_error)}</td>"
            f"<td>{_fmt_error(row.error_estimate)}</td>"
            f"<td>{_fmt_step(row.step)}</td>"
            f"<td>{_fmt_seconds(row.seconds)}</td></tr>")
    caption = (f"<caption>{_what(snapshot)}<br><span class='reference'>reference (50 digits, "
               f"shown to 20): <code>{html.escape(reference)}</code></span>"
               f"<br><span class='step'>finite differences: {step_text}</span></caption>")
    return (f"<table class='diffx-comparison'>{caption}<thead>{head}</thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _reference_text(reference: Any) -> str:
    import mpmath

    if isinstance(reference, np.ndarray):
        if reference.ndim == 2:
            return "[" + ", ".join(_reference_text(r) for r in reference) + "]"
        return "[" + ", ".join(mpmath.nstr(v, 20) for v in reference) + "]"
    return mpmath.nstr(reference, 20)


def _alert_html(snapshot: Snapshot) -> str:
    parts = []
    if snapshot.error is not None:
        parts.append(f"<div role='alert' class='diffx-alert'><pre>"
                     f"{html.escape(snapshot.error)}</pre></div>")
    if snapshot.details_error is not None:
        parts.append(f"<div role='alert' class='diffx-alert'><pre>"
                     f"{html.escape(snapshot.details_error)}</pre></div>")
    if snapshot.notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in snapshot.notes)
        parts.append(f"<div role='status' class='diffx-notes'><ul>{items}</ul></div>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# The symbolic derivative
# --------------------------------------------------------------------------------------------
def _symbolic_parts(snapshot: Snapshot) -> tuple[str | None, tuple[int, int] | None, str | None]:
    """LaTeX of f and of its derivative (or gradient/Jacobian), the SymPy operation counts of
    the derivative before and after common-subexpression elimination (what lambdify runs), and
    a note when there is no LaTeX."""
    import sympy

    from diffx.engines import symbolic

    fn = snapshot.function
    n = snapshot.point.size
    try:
        with symbolic.sympy_recursion():
            forms = fn.sympy_form(n)
            symbols = fn.symbols(n)
            if snapshot.kind == "derivative":  # shown simplified; counted as evaluated
                evaluated = [symbolic.derivative_expression(fn, 1, 1, simplify=False)]
                derivatives = [symbolic.derivative_expression(fn, 1, 1)]
            else:
                derivatives = evaluated = [symbolic.diff(g, s) for g in forms for s in symbols]
            replacements, reduced = sympy.cse(evaluated)
            before = int(sum(sympy.count_ops(d) for d in evaluated))
            after = int(sum(sympy.count_ops(r) for _, r in replacements)
                        + sum(sympy.count_ops(r) for r in reduced))
            if before > MAX_LATEX_OPERATIONS:
                return None, (before, after), (f"The derivative has {before} operations: too "
                                               f"long to typeset here.")
            return _latex(forms, derivatives, symbols, snapshot.kind), (before, after), None
    except DiffxError as exc:
        return None, None, f"No symbolic form: {_message(exc)}"


def _publish_symbolic(snapshot: Snapshot, parts: tuple) -> None:
    snapshot.latex, snapshot.operations, snapshot.symbolic_note = parts


def _latex(forms: list, derivatives: list, symbols: Sequence, kind: str) -> str:
    import sympy

    args = ", ".join(sympy.latex(s) for s in symbols)
    if kind == "jacobian":
        f = sympy.latex(sympy.Matrix(forms))
        rows = len(forms)
        J = sympy.latex(sympy.Matrix(rows, len(symbols), derivatives))
        return rf"$f({args}) = {f}, \quad J = {J}$"
    (f,) = forms
    lines = [rf"f({args}) &= {sympy.latex(f)}"]
    if kind == "derivative":
        lines.append(rf"f'({args}) &= {sympy.latex(derivatives[0])}")
    else:
        lines += [rf"\frac{{\partial f}}{{\partial {sympy.latex(s)}}} &= {sympy.latex(d)}"
                  for s, d in zip(symbols, derivatives)]
    return r"$\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}$"


def _symbolic_text(snapshot: Snapshot) -> str:
    if snapshot.symbolic_note and snapshot.operations is None:
        return snapshot.symbolic_note
    parts = []
    if snapshot.latex:
        parts.append(snapshot.latex)
    if snapshot.symbolic_note:
        parts.append(snapshot.symbolic_note)
    if snapshot.operations:
        before, after = snapshot.operations
        parts.append(f"operations in the derivative: {before} as SymPy writes it, {after} "
                     f"after common-subexpression elimination (what lambdify evaluates)")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------
# Figures (matplotlib, rendered to PNG in the worker thread)
# --------------------------------------------------------------------------------------------
_DPI = 100


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _finite_limits(values: np.ndarray, anchor: float) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return None
    low, high = np.percentile(finite, [2, 98])
    low, high = min(low, anchor), max(high, anchor)
    pad = 0.08 * (high - low) if high > low else 1.0
    return float(low - pad), float(high + pad)


def _tangent_figure(snapshot: Snapshot) -> Any:
    from diffx.reference import to_float

    if snapshot.kind == "jacobian" or snapshot.reference is None:
        return None
    if snapshot.kind == "gradient":
        return _contour_figure(snapshot) if snapshot.point.size == 2 else None
    from matplotlib.figure import Figure

    fn, x0 = snapshot.function, float(snapshot.point[0])
    slope = float(to_float(snapshot.reference))
    width = max(1.0, 0.5 * abs(x0))
    xs = np.linspace(x0 - width, x0 + width, 401)
    with np.errstate(all="ignore"):
        ys = np.array([float(fn.numpy_call(np.array([t]))) for t in xs])
        y0 = float(fn.numpy_call(np.array([x0])))
    name = fn.variables[0]
    fig = Figure(figsize=(4.7, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.plot(xs, ys, color="#1f77b4", lw=2, label=f"f({name})")
    ax.plot(xs, y0 + slope * (xs - x0), "--", color="#d62728", lw=1.5,
            label=f"tangent, slope f′ = {slope:.6g}")
    ax.plot([x0], [y0], "o", color="black", ms=6, zorder=5)
    limits = _finite_limits(ys, y0)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_xlabel(name)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.9)
    ax.set_title(f"f and its tangent at {name} = {x0:g}", fontsize="medium")
    return fig


def _contour_figure(snapshot: Snapshot) -> Any:
    from matplotlib.figure import Figure

    from diffx.reference import to_float

    fn, point = snapshot.function, snapshot.point
    gradient = np.asarray(to_float(snapshot.reference), dtype=float)
    half = np.maximum(1.0, 0.5 * np.abs(point))
    a = np.linspace(point[0] - half[0], point[0] + half[0], 121)
    b = np.linspace(point[1] - half[1], point[1] + half[1], 121)
    A, B = np.meshgrid(a, b)
    with np.errstate(all="ignore"):
        try:
            Z = np.asarray(fn.numpy_call(np.array([A, B])), dtype=float)
        except Exception:  # a callable that does not vectorise: one point at a time
            Z = np.vectorize(lambda p, q: float(fn.numpy_call(np.array([p, q]))))(A, B)
    fig = Figure(figsize=(4.7, 3.6), layout="constrained")
    ax = fig.subplots()
    if np.isfinite(Z).sum() > 10:
        low, high = np.nanpercentile(np.where(np.isfinite(Z), Z, np.nan), [1, 99])
        levels = np.linspace(low, high, 16) if high > low else 8
        filled = ax.contourf(A, B, np.clip(Z, low, high), levels=levels, cmap="viridis",
                             alpha=0.85)
        ax.contour(A, B, Z, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
        fig.colorbar(filled, ax=ax, shrink=0.9, label="f")
    norm = float(np.linalg.norm(gradient))
    if norm > 0 and np.isfinite(norm):
        arrow = gradient / norm * 0.35 * float(np.min(half))
        ax.annotate("", xy=(point[0] + arrow[0], point[1] + arrow[1]),
                    xytext=(point[0], point[1]),
                    arrowprops={"arrowstyle": "-|>", "color": "#d62728", "lw": 2.2,
                                "mutation_scale": 18})
    ax.plot([point[0]], [point[1]], "o", color="#d62728", ms=6, markeredgecolor="white")
    u, v = fn.variables
    ax.set_xlabel(u)
    ax.set_ylabel(v)
    ax.set_aspect("auto")
    ax.set_title(f"contours of f, gradient direction at ({point[0]:g}, {point[1]:g})\n"
                 f"|∇f| = {norm:.6g}", fontsize="medium")
    return fig


def _sweep_figure(snapshot: Snapshot) -> Any:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    sweep = snapshot.sweep
    step = snapshot.settings.step
    fig = Figure(figsize=(5.1, 4.0), layout="constrained")
    ax = fig.subplots()
    for method in sweep.methods:
        steps, errors = sweep.curve_points(method)
        colour = METHOD_COLOURS.get(method, "#7f7f7f")
        style = "s--" if method == "complex-step" else "o-"
        ax.plot(steps, errors, style, ms=2.5, lw=1.3, color=colour, label=method)
        modelled = sweep.model(method, steps)
        if modelled is not None:
            ax.plot(steps, np.maximum(modelled[0], ERROR_FLOOR), ":", lw=1.0, color=colour,
                    alpha=0.7)
            ax.plot(steps, np.maximum(modelled[1], ERROR_FLOOR), "-.", lw=0.8, color=colour,
                    alpha=0.5)
        if step is None:
            auto = sweep.automatic(method)
            if auto is not None and math.isfinite(auto.rel_error) and auto.step_used >= 1e-16:
                ax.plot([auto.step_used], [max(auto.rel_error, ERROR_FLOOR)], "*", ms=11,
                        color=colour, markeredgecolor="black", zorder=5)
    if step is not None:
        ax.axvline(step, color="black", lw=1.2)
        ax.annotate(f"h = {step:.2g}", (step, 3), textcoords="offset points", xytext=(4, -2),
                    fontsize="small", va="top")
        for row in snapshot.rows:
            if row.method in sweep.methods and math.isfinite(row.rel_error):
                ax.plot([step], [max(row.rel_error, ERROR_FLOOR)], "o", ms=7, mfc="none",
                        mec="black", mew=1.5, zorder=6)
    ax.axhline(EPS, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1e-16 / 2, 2)
    ax.set_ylim(ERROR_FLOOR / 3, 10)
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error of f′")
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], ls=":", color="black"), Line2D([], [], ls="-.", color="black")]
    labels += ["truncation model", "rounding model"]
    if step is None:
        handles.append(Line2D([], [], ls="", marker="*", ms=10, color="white",
                              markeredgecolor="black"))
        labels.append("automatic step")
    else:
        handles.append(Line2D([], [], color="black", lw=1.2, marker="o", mfc="none"))
        labels.append("current step")
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize="x-small",
               frameon=False)  # outside the axes: it must not hide a curve
    ax.set_title("error vs step size (vs 50-digit reference)", fontsize="medium")
    return fig


# ============================================================================================
# The Panel interface
# ============================================================================================
_CSS = """
.diffx-comparison { border-collapse: collapse; font-size: 14px; }
.diffx-comparison caption { text-align: left; padding: 0 0 6px 0; font-size: 14px; }
.diffx-comparison th, .diffx-comparison td { padding: 3px 10px; border-bottom: 1px solid #ddd;
  text-align: right; white-space: nowrap; }
.diffx-comparison th[scope=row] { text-align: left; font-weight: 600; }
.diffx-comparison td.value { font-family: ui-monospace, Menlo, Consolas, monospace;
  white-space: normal; max-width: 30em; text-align: left; }
.diffx-comparison td.status { text-align: left; color: #8a5300; white-space: normal; }
.diffx-comparison .reference code { font-size: 13px; }
.diffx-alert { background: #fdecea; border: 1px solid #d93025; border-radius: 4px;
  padding: 6px 10px; margin: 0 0 6px 0; }
.diffx-alert pre { margin: 0; font-size: 14px; white-space: pre-wrap; color: #8b1a10;
  font-family: ui-monospace, Menlo, Consolas, monospace; }
.diffx-notes { background: #fff8e1; border: 1px solid #f0c36d; border-radius: 4px;
  padding: 2px 10px; font-size: 13px; }
.diffx-notes ul { margin: 4px 0; padding-left: 18px; }
.diffx-trace { border-collapse: collapse; font-size: 13px; }
.diffx-trace td, .diffx-trace th { padding: 2px 8px; }
.diffx-trace caption { text-align: left; }
"""

_HELP = ("Type a function of x (or x, y, …) and press Enter: + − * / ** and "
         f"{' '.join(E.FUNCTIONS)}, {', '.join(E.CONSTANTS)}. "  # the parser's names
         "Point: a number, or comma-separated numbers for several variables.")


def _labelled(widget: Any, label: str, **options: Any) -> Any:
    """A Panel widget with its visible (and accessible) label: ``label=`` where Panel has it
    (1.9+, where ``name=`` is deprecated), ``name=`` before."""
    key = "label" if "label" in widget.param else "name"
    return widget(**{key: label}, **options)


def _step_format() -> Any:
    """Show the slider's value k as the step h = 10**k (e.g. 1.0e-5)."""
    from bokeh.models import CustomJSTickFormatter

    return CustomJSTickFormatter(code="return Math.pow(10, tick).toExponential(1)")


class _View:
    """The widgets and panes of one Explorer, re-rendered from each snapshot."""

    def __init__(self, explorer: Explorer):
        import panel as pn

        from diffx import catalog

        self.explorer = explorer
        self.pn = pn
        settings = explorer.settings
        self._quiet = False
        self._generation = 0
        self._generation_lock = threading.Lock()
        choices = {"(your own function)": ""}
        # only entries whose expression the Function box can parse: numpy entries (their
        # expression is numpy code, shown for reading) are left out of this dropdown
        choices.update({f"{name}: {entry.expression}"[:70]: name
                        for name, entry in catalog.CATALOG.items() if entry.parsable})
        step = settings.step
        self.widgets = {
            "function": _labelled(pn.widgets.TextInput, "Function", value=settings.function,
                                  width=300),
            "point": _labelled(pn.widgets.TextInput, "Point", value=settings.point, width=300),
            "catalogue": _labelled(pn.widgets.Select, "Catalogue", options=choices, value="",
                                   width=300),
            "methods": _labelled(pn.widgets.CheckBoxGroup, "Methods", options=list(METHODS),
                                 value=list(settings.methods), inline=False),
            "automatic_step": _labelled(pn.widgets.Checkbox, "automatic step (each method's own)",
                                        value=step is None),
            "step": _labelled(
                pn.widgets.FloatSlider, "Step h", start=STEP_EXPONENTS[0],
                end=STEP_EXPONENTS[1], step=0.25, width=280, format=_step_format(),
                value=DEFAULT_STEP_EXPONENT if step is None else
                float(np.clip(np.round(4 * math.log10(step)) / 4, *STEP_EXPONENTS))),
        }
        css = [_CSS]  # every pane renders in its own shadow root: each gets the stylesheet
        self.panes = {
            "alert": pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10),
                                  stylesheets=css),
            "table": pn.pane.HTML("", margin=(0, 10), stylesheets=css),
            "status": pn.pane.HTML("", margin=(0, 10), stylesheets=css,
                                   styles={"color": "#666", "font-size": "12px"}),
            "tangent": pn.pane.PNG(None, width=470, alt_text="f and its tangent line"),
            "sweep": pn.pane.PNG(None, width=510, alt_text="error against step size"),
            "symbolic": pn.pane.LaTeX("", renderer="katex", margin=(0, 10),
                                      styles={"font-size": "15px"}),
            "operations": pn.pane.HTML("", margin=(0, 10), stylesheets=css),
            "trace": pn.pane.HTML("", margin=(0, 10), stylesheets=css),
            "graph": pn.pane.PNG(None, width=640, alt_text="computational graph of the trace"),
        }
        for name in ("function", "point", "methods", "automatic_step"):
            self.widgets[name].param.watch(self._changed, "value")
        self.widgets["step"].param.watch(self._step_moved, "value")
        self.widgets["catalogue"].param.watch(self._picked, "value")
        w = self.widgets
        controls = pn.Column(
            pn.pane.HTML("<h2 style='margin:0'>diffx explorer</h2>"), w["function"],
            w["point"], w["catalogue"],
            pn.pane.HTML("<b>Methods</b>", margin=(10, 10, 0, 10)), w["methods"],
            pn.pane.HTML("<b>Finite-difference step</b>", margin=(10, 10, 0, 10)),
            w["automatic_step"], w["step"],
            pn.pane.HTML(f"<p style='font-size:12px;color:#555;max-width:290px'>{_HELP}</p>"),
            width=330)
        p = self.panes
        self.details = pn.Column(
            pn.FlexBox(p["tangent"], p["sweep"], flex_wrap="wrap"),
            pn.pane.HTML("<h3 style='margin:4px 0'>Symbolic derivative</h3>", margin=(0, 10)),
            p["symbolic"], p["operations"],
            pn.pane.HTML("<h3 style='margin:4px 0'>Evaluation trace</h3>", margin=(0, 10)),
            p["trace"], p["graph"], sizing_mode="stretch_width")
        views = pn.Column(p["alert"], p["table"], p["status"], self.details,
                          sizing_mode="stretch_width")
        self.layout = pn.Row(controls, views, stylesheets=[_CSS], sizing_mode="stretch_width")
        document = pn.state.curdoc
        if explorer.snapshot is None and document is not None and document.session_context:
            # served: the page appears at once and the first update runs after it has loaded
            # (in Panel's thread pool), so a slow first update never delays the page
            self.panes["status"].object = "computing…"
            pn.state.onload(self.refresh, threaded=True)
        else:
            self.render(explorer.snapshot or explorer.update())

    # --- events ------------------------------------------------------------------------------
    def _settings(self) -> Settings:
        w = self.widgets
        step = None if w["automatic_step"].value else 10.0 ** w["step"].value
        return Settings(w["function"].value, w["point"].value, tuple(
            m for m in METHODS if m in w["methods"].value), step)

    def _changed(self, event: Any) -> None:
        if not self._quiet:
            self.refresh()

    def _step_moved(self, event: Any) -> None:
        if self._quiet:
            return
        if self.widgets["automatic_step"].value:  # moving the slider chooses that step
            self._quiet = True
            try:
                self.widgets["automatic_step"].value = False
            finally:
                self._quiet = False
        self.refresh()

    def _picked(self, event: Any) -> None:
        from diffx import catalog

        if not event.new:
            return
        entry = catalog.get(event.new)
        self._quiet = True
        try:
            self.widgets["function"].value = entry.expression
            self.widgets["point"].value = ", ".join(f"{v:g}" for v in entry.point)
        finally:
            self._quiet = False
        self.refresh()

    def refresh(self) -> None:
        """Recompute from the widgets: the table first (shown at once), then the other views.

        Updates of one session run one at a time; one that was overtaken by a newer change
        while it waited is skipped.
        """
        explorer = self.explorer
        settings = self._settings()
        with self._generation_lock:
            self._generation += 1
            generation = self._generation
        with explorer._lock:
            if generation != self._generation:
                return
            snapshot = explorer._table(settings)
            explorer.settings, explorer.snapshot = settings, snapshot
            if snapshot.readable and not snapshot.timed_out and generation == self._generation:
                self.render(snapshot, details=False)  # the table at once, the rest dimmed
                explorer._details(snapshot)
            self.render(snapshot)

    # --- rendering ---------------------------------------------------------------------------
    def render(self, snapshot: Snapshot, details: bool = True) -> None:
        p = self.panes
        p["alert"].object = _alert_html(snapshot)
        p["table"].object = _table_html(snapshot) if snapshot.rows else ""
        p["status"].object = (f"table updated in {snapshot.seconds * 1e3:.0f} ms"
                              if snapshot.rows else "")
        if not details:  # the other views still show the previous settings: dim them
            self.details.styles = {"opacity": "0.45"}
            return
        self.details.styles = {"opacity": "1"}
        for name in ("tangent", "sweep", "graph"):
            p[name].object = snapshot.figures.get(name)
            p[name].visible = name in snapshot.figures  # no empty box where there is no figure
        p["symbolic"].object = snapshot.latex or ""
        p["operations"].object = _operations_html(snapshot)
        trace = snapshot.trace
        p["trace"].object = trace._repr_html_() if trace is not None else ""


def _operations_html(snapshot: Snapshot) -> str:
    notes = [html.escape(snapshot.symbolic_note)] if snapshot.symbolic_note else []
    if snapshot.operations:
        before, after = snapshot.operations
        notes.append(f"operations in the derivative: <b>{before}</b> as SymPy writes it, "
                     f"<b>{after}</b> after common-subexpression elimination (what lambdify "
                     f"evaluates)")
    return "<br>".join(f"<span>{note}</span>" for note in notes)


# ============================================================================================
# Serving the page
# ============================================================================================
def _origins(host: str, port: int) -> list[str]:
    if host in ("127.0.0.1", "localhost", "::1"):
        return [f"127.0.0.1:{port}", f"localhost:{port}"]
    return ["*"]  # a class on a network: students reach the server under its own name


def serve(f: str = DEFAULT_FUNCTION, at: Any = None, *, port: int = 0,
          host: str = "127.0.0.1", show: bool = False, threaded: bool = False,
          time_limit: float = TIME_LIMIT, methods: Sequence[str] | None = None,
          ready: Callable[[str], None] | None = None) -> Any:
    """Serve the explorer as a local web page; every browser session gets its own Explorer.

    Binds ``host`` (127.0.0.1 by default: only this machine can connect) on ``port`` (0: a
    free port). ``ready(url)`` is called once the server listens (the CLI prints the URL).
    ``show`` opens the page in the default browser. With ``threaded=True`` the server runs in
    a background thread and this returns a handle with ``url`` and ``stop()``; otherwise it
    blocks until Ctrl-C, then stops cleanly.
    """
    import panel as pn

    Explorer(f, at, methods=methods, time_limit=time_limit)  # check the arguments up front
    pn.extension("katex", nthreads=4)  # callbacks in threads: one slow session blocks no other
    if not threaded:  # this process is the server: the page shows the point's problems
        warnings.filterwarnings("ignore", category=DomainWarning)
        warnings.filterwarnings("ignore", category=NonDifferentiableWarning)
    port = port or _free_port(host)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def session() -> Any:  # a new Explorer per browser session: sessions share nothing
        return Explorer(f, at, methods=methods, time_limit=time_limit).panel()

    threading.Thread(target=warm_up, args=(methods or METHODS,), daemon=True,
                     name="diffx-explore-warmup").start()
    options = {"port": port, "address": host, "websocket_origin": _origins(host, port),
               "title": "diffx explorer", "verbose": False, "show": False}
    if threaded:
        thread = pn.serve({"/": session}, threaded=True, **options)
        _wait_for_port(host, port)
        if ready is not None:
            ready(url)
        return _ServerThread(thread, url, port)
    server = pn.serve({"/": session}, start=False, **options)
    server.start()
    if ready is not None:
        ready(url)
    if show:
        server.io_loop.add_callback(server.show, "/")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return server


def _free_port(host: str) -> int:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_for_port(host: str, port: int, seconds: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise DiffxError(f"the explorer's server did not start listening on {host}:{port}")


@dataclass
class _ServerThread:
    """A server running in a background thread: its ``url``, ``port`` and ``stop()``."""

    thread: Any  # panel.io.threads.StoppableThread
    url: str
    port: int

    def stop(self) -> None:
        self.thread.stop()
        self.thread.join(10)
