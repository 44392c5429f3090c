"""The comparison report: every method on the catalogue, measured and drawn, in one directory.

    diffx report --out diffx-report            # or: diffx.report.build(out="diffx-report")

writes ``index.html`` (opens offline; figures beside it), ``summary.md``, the figures as PNG and
SVG under ``figures/`` and the measurements as CSV under ``tables/``. Sections:

1. accuracy — correct digits of every method on every smooth catalogue function (heat-map),
   and the numeric methods' error estimates against their true errors; the catalogue's numpy
   entries (user-style numpy code, :mod:`diffx.numpy_corpus`) are rows marked ``[numpy]``,
   their code listed in a table;
2. error vs step — the V-curves of the finite differences with textbook models and the
   automatic steps marked (:func:`diffx.compare.step_sweep`);
3. timing — median time per call with quartiles, setup (lambdify, tracing) separately
   (:func:`diffx.compare.timing`);
4. scaling — gradient time against dimension with fitted slopes (:func:`diffx.compare.scaling`);
5. expression swell — symbolic derivative size against nesting depth, next to the operations
   dual numbers execute (:func:`diffx.compare.expression_swell`);
6. environment — versions, CPU, date.

All errors are measured against the 50-digit reference (:mod:`diffx.reference`). ``compare``
measures, this module only draws and writes. An existing non-empty output directory is refused
unless ``force=True``, and then only the files the report writes are replaced; the report is
built in a temporary directory next to the target and moved into place only when complete.
"""

from __future__ import annotations

import csv
import datetime
import html
import importlib.metadata
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diffx import catalog
from diffx.errors import DiffxError

__all__ = ["FIGURES", "NUMPY_MARK", "TABLES", "Plan", "Results", "build", "display_name",
           "environment", "measure", "plan"]

FIGURES: tuple[str, ...] = ("accuracy", "estimates", "step_sweep", "timing", "scaling", "swell")
TABLES: tuple[str, ...] = ("accuracy", "step_sweep", "timing", "scaling", "swell")
_DPI = 120

QUICK_FUNCTIONS = ("sin_exp", "tan_near_pole", "rosenbrock", "softmax", "np_rosenbrock")
TIMING_FUNCTIONS = ("sin_exp", "rosenbrock", "mlp", "softmax_cross_entropy", "np_rosenbrock")
SWEEP_FUNCTION = "sin_exp"  # the README example
SWEEP_METHODS = ("forward", "central", "central-4", "richardson", "complex-step")
SCALING_SIZES = (2, 8, 32, 128, 512, 1024)


# --------------------------------------------------------------------------------------------
# What to measure
# --------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """Everything the report will measure; :func:`plan` fills it for the full or quick report."""

    functions: list[catalog.CatalogEntry]
    methods: list[str]
    quick: bool = False
    sweep_function: str = SWEEP_FUNCTION
    sweep_methods: tuple[str, ...] = SWEEP_METHODS
    sweep_steps: np.ndarray = field(default_factory=lambda: 10.0 ** np.arange(-16, 0.01, 0.25))
    timing_functions: tuple[str, ...] = TIMING_FUNCTIONS
    timing_repeats: int | None = None
    timing_min_time: float = 0.05
    scaling_family: str = "rosenbrock"
    scaling_sizes: tuple[int, ...] = SCALING_SIZES
    scaling_methods: list[str] = field(default_factory=list)
    scaling_repeats: int | None = None
    scaling_max_seconds: float = 0.5  # a method stops growing n past this predicted call time
    swell_depths: dict[str, range] = field(default_factory=lambda: {
        "logistic": range(1, 11), "nested-sin": range(1, 11)})

    @property
    def timing_methods(self) -> list[str]:
        return [*self.methods, *(["tape-graph"] if "tape" in self.methods else [])]

    def units(self) -> int:
        """Units of work, for the progress bar."""
        return (len(self.functions) + len(self.sweep_methods) + len(self.timing_functions)
                + (1 + len(self.scaling_methods)) * len(self.scaling_sizes)
                + sum(len(d) for d in self.swell_depths.values()) + 1)


def _entry(item: str | catalog.CatalogEntry) -> catalog.CatalogEntry:
    return item if isinstance(item, catalog.CatalogEntry) else catalog.get(item)


def plan(functions: Sequence[str | catalog.CatalogEntry] | None = None,
         methods: Sequence[str] | None = None, quick: bool = False) -> Plan:
    """The measurements of the full report (all smooth catalogue functions, all methods) or,
    with ``quick``, of a small subset that runs in seconds."""
    from diffx.compare.dimension_scaling import scaling_methods
    from diffx.compare.timings import VARIANTS
    from diffx.engines import METHODS, family_of

    methods = list(METHODS if methods is None else methods)
    for method in methods:
        family_of(method)  # validates the name
    if functions is None:
        names = QUICK_FUNCTIONS if quick else [n for n in catalog.names()
                                               if catalog.get(n).smooth]
        entries = [catalog.get(n) for n in names]
    else:
        entries = [_entry(f) for f in functions]
    if not entries:
        raise DiffxError("the report needs at least one function")
    scaled = [m for m in scaling_methods() if m in methods or VARIANTS.get(m) in methods]
    result = Plan(entries, methods, quick, scaling_methods=scaled)
    if quick:
        result.sweep_steps = 10.0 ** np.arange(-16, 0.01, 0.5)
        result.timing_functions = ("sin_exp", "rosenbrock")
        result.timing_repeats = 3
        result.scaling_sizes = (2, 8, 32)
        result.scaling_repeats = 3
        result.scaling_max_seconds = 0.05
        result.swell_depths = {"logistic": range(1, 6), "nested-sin": range(1, 6)}
    return result


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------
@dataclass
class Results:
    """The measurements behind a report (all computed by :mod:`diffx.compare`)."""

    plan: Plan
    accuracy: list[tuple[catalog.CatalogEntry, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    sweep: Any = None
    timings: list[tuple[catalog.CatalogEntry, Any]] = field(default_factory=list)
    scaling: Any = None
    swells: list[Any] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def measure(the_plan: Plan, progress: Callable[[str], None] | None = None) -> Results:
    """Run every measurement of ``the_plan``; ``progress`` is called once per unit of work."""
    import warnings

    from diffx.compare import compare, expression_swell, scaling, step_sweep, timing

    tick = progress or (lambda description: None)
    start = time.perf_counter()
    results = Results(the_plan)
    with warnings.catch_warnings(), _quiet_tensorflow():
        warnings.simplefilter("ignore")  # non-finite results are in the tables, not warnings
        for entry in the_plan.functions:
            try:
                results.accuracy.append((entry, compare(entry.function(), entry.point,
                                                        the_plan.methods, repeats=1)))
            except DiffxError as exc:  # e.g. no reference derivative at this point
                results.failures.append((entry.name, str(exc).splitlines()[0]))
            tick(f"accuracy: {entry.name}")
        sweep_entry = catalog.get(the_plan.sweep_function)
        results.sweep = step_sweep(sweep_entry.function(), sweep_entry.point[0],
                                   the_plan.sweep_methods, the_plan.sweep_steps, progress=tick)
        for name in the_plan.timing_functions:
            entry = catalog.get(name)
            results.timings.append((entry, timing(entry.function(), entry.point,
                                                  the_plan.timing_methods,
                                                  repeats=the_plan.timing_repeats,
                                                  min_time=the_plan.timing_min_time)))
            tick(f"timing: {name}")
        results.scaling = scaling(the_plan.scaling_family, the_plan.scaling_sizes,
                                  the_plan.scaling_methods, repeats=the_plan.scaling_repeats,
                                  min_time=0.03, max_seconds=the_plan.scaling_max_seconds,
                                  progress=tick)
        for family, depths in the_plan.swell_depths.items():
            results.swells.append(expression_swell(family, depths, progress=tick))
    results.environment = environment()
    results.seconds = time.perf_counter() - start
    return results


@contextmanager
def _quiet_tensorflow() -> Iterator[None]:
    """Silence TensorFlow's Python log (each timed size is a new tf.function, and TensorFlow
    warns about "retracing" after a few) while the report measures; restore it after."""
    import logging

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _version(*distributions: str) -> str:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, str]:
    """Versions, CPU and date, for the report's last section (imports nothing heavy)."""
    from diffx import __version__

    return {
        "diffx": __version__,
        "Python": sys.version.split()[0],
        "numpy": _version("numpy"),
        "sympy": _version("sympy"),
        "mpmath": _version("mpmath"),
        "TensorFlow": _version("tensorflow-cpu", "tensorflow"),
        "matplotlib": _version("matplotlib"),
        "platform": platform.platform(),
        "CPU": _cpu(),
        "logical CPUs": str(os.cpu_count()),
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
NUMPY_MARK = "[numpy]"  # after the name of a catalogue entry that is numpy code
_NUMPY_COLOUR = "#1f4e9c"


def display_name(entry: catalog.CatalogEntry) -> str:
    """The entry's name as the report shows it: numpy code is marked, so a reader sees it is a
    Python callable and not an expression string.

    >>> display_name(catalog.get("np_rosenbrock")), display_name(catalog.get("rosenbrock"))
    ('np_rosenbrock [numpy]', 'rosenbrock')
    """
    return f"{entry.name} {NUMPY_MARK}" if entry.kind == "numpy" else entry.name


def _label(entry: catalog.CatalogEntry, comparison: Any) -> str:
    what = {"derivative": "f′", "gradient": "∇f", "jacobian": "J"}[comparison.kind]
    return f"{display_name(entry)}  ({what})"


def accuracy_figure(results: Results):
    """Heat-map of correct digits: catalogue function × method (grey: the method failed)."""
    import matplotlib
    from matplotlib.figure import Figure

    methods = results.plan.methods
    rows = results.accuracy
    digits = np.full((len(rows), len(methods)), np.nan)
    refused = np.zeros(digits.shape, dtype=bool)  # the method declined (vs a NaN result)
    for i, (_, comparison) in enumerate(rows):
        for row in comparison.rows:
            j = methods.index(row.method)
            if row.status == "ok":
                digits[i, j] = row.digits
            else:
                refused[i, j] = True
    fig = Figure(figsize=(11, 0.32 * len(rows) + 2.4), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    image = ax.imshow(np.ma.masked_invalid(digits), cmap=cmap, vmin=0, vmax=16, aspect="auto")
    for i in range(digits.shape[0]):
        for j in range(digits.shape[1]):
            value = digits[i, j]
            text = ("n/a" if refused[i, j] else "NaN") if math.isnan(value) else f"{value:.1f}"
            colour = "black" if math.isnan(value) or value > 9 else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color=colour)
    ax.tick_params(top=True, labeltop=True, bottom=False, labelbottom=False)
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="left",
                  rotation_mode="anchor")
    ax.set_yticks(range(len(rows)), [_label(e, c) for e, c in rows], fontsize=8.5)
    for tick, (entry, _) in zip(ax.get_yticklabels(), rows):
        if entry.kind == "numpy":
            tick.set_color(_NUMPY_COLOUR)
    for i in range(1, len(rows)):  # a white rule where expressions give way to numpy code
        if (rows[i][0].kind == "numpy") != (rows[i - 1][0].kind == "numpy"):
            ax.axhline(i - 0.5, color="white", lw=3)
    fig.colorbar(image, ax=ax, shrink=0.6, pad=0.01,
                 label="correct digits = −log₁₀(relative error)")
    ax.set_title("Accuracy: correct digits vs the 50-digit reference (NaN: the method returned "
                 "NaN; n/a: the method refused)", fontsize="medium")
    return fig


def estimates_figure(results: Results):
    """True error against the method's own error estimate, numeric methods (log-log)."""
    from matplotlib.figure import Figure

    from diffx.compare.formatting import ERROR_FLOOR, colour
    from diffx.reference import to_float

    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.subplots()
    held = total = 0
    for method in results.plan.methods:
        xs, ys = [], []
        for _, comparison in results.accuracy:
            scale = float(np.linalg.norm(np.asarray(to_float(comparison.reference), float)))
            for row in comparison.rows:
                if row.method != method or row.error_estimate is None or row.status != "ok" \
                        or not math.isfinite(row.rel_error) or not math.isfinite(
                            row.error_estimate):
                    continue
                estimate = row.error_estimate / scale if scale > 0 else row.error_estimate
                xs.append(max(estimate, ERROR_FLOOR))
                ys.append(max(row.rel_error, ERROR_FLOOR))
                total += 1
                held += row.abs_error <= row.error_estimate
        if xs:
            ax.scatter(xs, ys, s=22, color=colour(method), label=method, alpha=0.85,
                       edgecolors="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    low, high = 1e-18, 10.0  # above 1: a derivative returned as 0 (relative error 1) shows
    ax.plot([low, high], [low, high], color="black", lw=0.9)
    ax.fill_between([low, high], [low, low], [low, high], color="#2ca02c", alpha=0.07)
    ax.text(1e-4, 1e-14, "below the diagonal:\nthe estimate bounds the true error",
            fontsize="small", color="#1b5e20", ha="center")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("the method's own error estimate (relative)")
    ax.set_ylabel("true relative error (vs 50-digit reference)")
    ax.set_title(f"Error estimates of the numeric methods: the estimate bounds the true error "
                 f"in {held} of {total} cases", fontsize="medium")
    ax.grid(True, alpha=0.3)
    if total:
        ax.legend(loc="lower right", fontsize="small")  # upper left: where 0-estimates land
    return fig


_MARKERS = ("o", "s", "^", "D", "v", "P")
_COMPILED = ("symbolic", "tape", "tape-forward", "tape-graph")  # methods with a real setup step


def timing_figure(results: Results):
    """Per-call time (median, quartile whiskers) and setup time per method, per function."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    from diffx.compare.formatting import colour

    timings = [t for _, t in results.timings]
    names = [display_name(entry) for entry, _ in results.timings]
    methods = ["function", *results.plan.timing_methods]
    fig = Figure(figsize=(12, 0.42 * len(methods) + 2.2), layout="constrained")
    ax_call, ax_setup = fig.subplots(1, 2, sharey=True)
    spread = 0.5 / max(len(timings), 1)
    for k, t in enumerate(timings):
        offset = (k - (len(timings) - 1) / 2) * spread
        for i, method in enumerate(methods):
            row = next((r for r in t.rows if r.method == method and r.status == "ok"), None)
            if row is None:
                continue
            y = i + offset
            whiskers = [[row.seconds - row.q1], [row.q3 - row.seconds]]
            ax_call.errorbar(row.seconds, y, xerr=whiskers, fmt=_MARKERS[k % len(_MARKERS)],
                             color=colour(method), ms=6, capsize=2, lw=1)
            if row.setup_seconds > 0 and method in _COMPILED:
                ax_setup.plot(row.setup_seconds, y, _MARKERS[k % len(_MARKERS)],
                              color=colour(method), ms=6)
    labels = ["f itself" if m == "function" else m for m in methods]
    ax_call.set_yticks(range(len(methods)), labels)
    ax_call.invert_yaxis()
    for ax in (ax_call, ax_setup):
        ax.set_xscale("log")
        low, high = ax.get_xlim()
        if high >= 10 * low:  # a power of 10 is labelled: drop 2×10⁻³ 3×10⁻³ …, which overlap
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, axis="x", which="major", alpha=0.3)
        for i in range(len(methods) - 1):
            ax.axhline(i + 0.5, color="#eeeeee", lw=0.8)
    ax_call.set_xlabel("time per call [s] (median; whiskers: quartiles)")
    ax_setup.set_xlabel("one-off setup time [s] (first call minus median)")
    ax_call.set_title("Per-call time", fontsize="medium")
    ax_setup.set_title("Setup (methods that compile): SymPy, TensorFlow tracing",
                       fontsize="medium")
    handles = [Line2D([], [], ls="", marker=_MARKERS[k % len(_MARKERS)], color="black",
                      label=f"{name}  (n = {t.point.size})")
               for k, (name, t) in enumerate(zip(names, timings))]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               fontsize="small", frameon=False)
    fig.suptitle("Timing of every method (same run; tape = eager TensorFlow, "
                 "tape-graph = tf.function)")
    return fig


def swell_figure(results: Results):
    """Operation counts against nesting depth, one panel per swell family."""
    from matplotlib.figure import Figure

    from diffx.compare.formatting import colour

    swells = results.swells
    fig = Figure(figsize=(12, 5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(swells), squeeze=False)[0])
    for ax, swell in zip(axes, swells):
        depth = [r.depth for r in swell.rows]
        ax.plot(depth, [r.derivative_ops for r in swell.rows], "o-", color=colour("symbolic"),
                label="symbolic f′ (SymPy diff, as a tree)")
        ax.plot(depth, [r.derivative_cse_ops for r in swell.rows], "s--",
                color=colour("symbolic"), label="symbolic f′ after CSE (what lambdify runs)")
        ax.plot(depth, [r.function_ops for r in swell.rows], ":", color="grey",
                label="f itself, written out as a tree")
        ax.plot(depth, [r.dual_ops for r in swell.rows], "^-", color=colour("dual"),
                label="dual numbers: operations executed for f′")
        ax.plot(depth, [r.program_ops for r in swell.rows], "x-", color="black",
                label="f as a program: operations executed")
        ax.set_yscale("log")
        ax.set_xlabel("nesting depth d (times the step is applied)")
        ax.set_ylabel("operation count")
        ax.set_xticks(depth)
        ax.grid(True, alpha=0.3)
        ax.set_title(swell.description, fontsize="medium")
    axes[0].legend(fontsize="small", loc="upper left")
    fig.suptitle("Expression swell: the symbolic derivative's size against nesting depth")
    return fig


def _save(fig: Any, directory: Path, name: str) -> None:
    fig.savefig(directory / f"{name}.png", dpi=_DPI)
    fig.savefig(directory / f"{name}.svg")


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def _g(value: Any) -> str:
    """A number for a CSV cell: 17 significant digits, empty for None."""
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.17g}"


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_tables(results: Results, directory: Path) -> None:
    """The measurements as CSV files (one per section)."""
    from diffx.compare.formatting import format_value

    _write_csv(directory / "accuracy.csv",
               ["function", "expression", "point", "kind", "method", "family", "value",
                "reference", "abs_error", "rel_error", "digits", "error_estimate",
                "evaluations", "status"],
               [[entry.name, entry.expression, " ".join(_g(v) for v in entry.point),
                 comparison.kind, row.method, row.family,
                 format_value(row.value) if row.status == "ok" else "",
                 format_value(comparison.reference), _g(row.abs_error), _g(row.rel_error),
                 _g(row.digits), _g(row.error_estimate), _g(row.evaluations), row.status]
                for entry, comparison in results.accuracy for row in comparison.rows])
    sweep = results.sweep
    _write_csv(directory / "step_sweep.csv",
               ["function", "point", "method", "step", "step_used", "automatic", "value",
                "abs_error", "rel_error", "error_estimate", "status"],
               [[sweep.function.name, _g(sweep.point), r.method, _g(r.step), _g(r.step_used),
                 str(r.automatic).lower(), _g(r.value), _g(r.abs_error), _g(r.rel_error),
                 _g(r.error_estimate), r.status] for r in sweep.rows])
    _write_csv(directory / "timing.csv",
               ["function", "n", "method", "median_seconds", "q1_seconds", "q3_seconds",
                "setup_seconds", "repeats", "ratio_to_f", "status"],
               [[entry.name, r.n, r.method, _g(r.seconds), _g(r.q1), _g(r.q3),
                 _g(r.setup_seconds), r.repeats,
                 _g(t.ratio(r.method)) if r.status == "ok" else "", r.status]
                for entry, t in results.timings for r in t.rows])
    scaling = results.scaling
    _write_csv(directory / "scaling.csv",
               ["family", "n", "method", "median_seconds", "q1_seconds", "q3_seconds",
                "setup_seconds", "repeats", "ratio_to_f", "rel_error", "status"],
               [[scaling.family, r.n, r.method, _g(r.seconds), _g(r.q1), _g(r.q3),
                 _g(r.setup_seconds), r.repeats, _g(scaling.ratio(r.method, r.n)),
                 _g(r.rel_error), r.status] for r in scaling.rows])
    _write_csv(directory / "swell.csv",
               ["family", "depth", "function_ops", "derivative_ops", "derivative_cse_ops",
                "program_ops", "dual_ops", "dual_rel_error"],
               [[s.family, r.depth, r.function_ops, r.derivative_ops, r.derivative_cse_ops,
                 r.program_ops, r.dual_ops, _g(r.dual_rel_error)]
                for s in results.swells for r in s.rows])


# --------------------------------------------------------------------------------------------
# Text: the numbers the report states
# --------------------------------------------------------------------------------------------
_EXPECTED_SLOPE = {"forward": "1", "central": "2", "central-4": "4", "complex-step": "2"}
_EXPECTED_ROUNDING_SLOPE = {"complex-step": "0"}  # no subtraction: rounding does not grow


def _sweep_table(results: Results) -> tuple[list[str], list[list[str]]]:
    sweep = results.sweep
    header = ["method", "best error", "at step h", "automatic h", "error at automatic h",
              "truncation slope (theory)", "rounding slope (theory)"]
    body = []
    for method in sweep.methods:
        best, auto = sweep.best(method), sweep.automatic(method)
        trunc, rnd = sweep.slope(method), sweep.slope(method, "rounding")
        expected = _EXPECTED_SLOPE.get(method)
        body.append([method, f"{best.rel_error:.1e}", f"{best.step:.1e}",
                     "" if auto is None else f"{auto.step_used:.2g}",
                     "" if auto is None else f"{auto.rel_error:.1e}",
                     "" if math.isnan(trunc) else f"{trunc:.2f} ({expected})",
                     "" if math.isnan(rnd) else
                     f"{rnd:.2f} ({_EXPECTED_ROUNDING_SLOPE.get(method, '−1')})"])
    return header, body


def _digits_summary(results: Results) -> tuple[list[str], list[list[str]]]:
    header = ["method", "median digits", "worst digits", "worst on", "failed"]
    body = []
    for method in results.plan.methods:
        cells = [(row.digits, entry.name) for entry, c in results.accuracy for row in c.rows
                 if row.method == method and row.status == "ok" and not math.isnan(row.digits)]
        failed = [entry.name for entry, c in results.accuracy for row in c.rows
                  if row.method == method and (row.status != "ok" or math.isnan(row.digits))]
        if cells:
            worst = min(cells)
            body.append([method, f"{np.median([d for d, _ in cells]):.1f}", f"{worst[0]:.1f}",
                         worst[1], ", ".join(failed) or "none"])
        else:
            body.append([method, "", "", "", ", ".join(failed) or "none"])
    return header, body


def _timing_table(results: Results) -> tuple[list[str], list[list[str]]]:
    from diffx.compare.formatting import format_seconds

    header = ["method", *(f"{display_name(e)} (n={t.point.size})" for e, t in results.timings),
              "setup (max; methods that compile)"]
    body = []
    for method in ["function", *results.plan.timing_methods]:
        cells, setups = [], []
        for _, t in results.timings:
            row = next((r for r in t.rows if r.method == method), None)
            if row is None or row.status != "ok":
                cells.append("failed")
                continue
            ratio = "" if method == "function" else f" ({t.ratio(method):.3g}× f)"
            cells.append(format_seconds(row.seconds) + ratio)
            setups.append(row.setup_seconds)
        body.append(["f itself" if method == "function" else method, *cells,
                     format_seconds(max(setups)) if setups and method in _COMPILED else ""])
    return header, body


def _scaling_table(results: Results) -> tuple[list[str], list[list[str]]]:
    from diffx.compare.formatting import format_seconds

    scaling = results.scaling
    header = ["method", "largest n", "time at largest n", "× f at largest n",
              "fitted slope (3 largest n)", "setup slope"]
    body = []
    for method in scaling.methods:
        n, t = scaling.series(method)
        if n.size == 0:
            continue
        setup = scaling.slope(method, what="setup_seconds")
        body.append(["f itself" if method == "function" else method, str(n[-1]),
                     format_seconds(t[-1]),
                     "" if method == "function" else f"{scaling.ratio(method, int(n[-1])):.3g}",
                     f"{scaling.slope(method):.2f}",
                     f"{setup:.2f}" if method in ("symbolic", "tape-graph")
                     and not math.isnan(setup) else ""])
    return header, body


def _swell_table(results: Results) -> tuple[list[str], list[list[str]]]:
    header = ["family", "depth", "f (tree)", "f′ (SymPy diff)", "f′ after CSE",
              "f (program)", "dual (executed)"]
    body = []
    for swell in results.swells:
        for r in swell.rows:
            if r.depth in (1, swell.rows[len(swell.rows) // 2].depth, swell.rows[-1].depth):
                body.append([swell.family, str(r.depth), str(r.function_ops),
                             str(r.derivative_ops), str(r.derivative_cse_ops),
                             str(r.program_ops), str(r.dual_ops)])
    return header, body


# --------------------------------------------------------------------------------------------
# HTML and Markdown
# --------------------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1180px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em;
     margin-top: 2em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child, td.text { text-align: left; }
td.low { background: #fde0dd; } td.mid { background: #fff7bc; } td.high { background: #e5f5e0; }
td.fail { background: #eeeeee; color: #777; }
code { background: #f4f4f4; padding: 0 0.25em; }
nav a { margin-right: 1em; } .note { color: #555; font-size: 0.92em; }
"""


def _numeric(cell: str) -> bool:
    """Whether a table cell starts with a number (right-aligned) rather than words."""
    try:
        float(cell.split()[0].replace("−", "-"))
    except (IndexError, ValueError):
        return False
    return True


def _html_table(header: list[str], body: list[list[str]], classes: list[list[str]] | None = None,
                ) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = []
    for i, row in enumerate(body):
        cells = []
        for j, cell in enumerate(row):
            css = " ".join(c for c in (classes[i][j] if classes else "",
                                       "" if _numeric(cell) else "text") if c)
            attribute = f' class="{css}"' if css else ""
            cells.append(f"<td{attribute}>{html.escape(cell)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure(name: str, caption: str) -> str:
    return (f'<figure><a href="figures/{name}.svg"><img src="figures/{name}.png" '
            f'alt="{html.escape(caption)}"/></a><figcaption>{html.escape(caption)} '
            f'(<a href="figures/{name}.svg">SVG</a>)</figcaption></figure>')


def _digits_grid(results: Results) -> tuple[list[str], list[list[str]], list[list[str]]]:
    methods = results.plan.methods
    header = ["function", "point", *methods]
    body, classes = [], []
    for entry, comparison in results.accuracy:
        by_method = {r.method: r for r in comparison.rows}
        row = [display_name(entry), ", ".join(f"{v:g}" for v in entry.point)]
        css = ["", ""]
        for method in methods:
            r = by_method[method]
            if r.status != "ok" or math.isnan(r.digits):
                row.append("fail")
                css.append("fail")
            else:
                row.append(f"{r.digits:.1f}")
                css.append("low" if r.digits < 6 else "mid" if r.digits < 12 else "high")
        body.append(row)
        classes.append(css)
    return header, body, classes


def _numpy_code_table(results: Results) -> tuple[list[str], list[list[str]]]:
    """The numpy entries measured: name, their code (one line), point and how the reference
    was computed (SymPy diff of the traced code, or mpmath.diff where it branches)."""
    header = ["function", "numpy code (x: the point as one float vector)", "point",
              "reference"]
    body = [[display_name(entry), entry.expression, ", ".join(f"{v:g}" for v in entry.point),
             comparison.reference_method]
            for entry, comparison in results.accuracy if entry.kind == "numpy"]
    return header, body


_NUMPY_NOTE = ("Rows marked [numpy] are numpy code from diffx.numpy_corpus, written as users "
               "write it (np.linalg, @, slicing, np.where) and handed to every method as a Python "
               "callable of one vector; the other rows are expression strings.")


def _section_texts(results: Results) -> dict[str, str]:
    """The sentences stating the key measured numbers (shared by HTML and Markdown)."""
    sweep = results.sweep
    scaling = results.scaling
    texts = {}
    best = ", ".join(f"{m} {sweep.best(m).rel_error:.0e}" for m in sweep.methods)
    texts["sweep"] = (
        f"f(x) = {sweep.function.name} at x = {sweep.point:g}. Each curve falls with the "
        f"method's truncation error (slope = its order) until rounding error, which grows like "
        f"1/h, takes over; complex step has no subtraction and stays at machine precision for "
        f"every small h. Best relative error reached: {best}.")
    largest = max(scaling.sizes)
    slopes = ", ".join(f"{m} {scaling.slope(m):.2f}" for m in scaling.methods
                       if m != "function" and not math.isnan(scaling.slope(m)))
    texts["scaling"] = (
        f"Gradient of the {scaling.family} family, n = {min(scaling.sizes)} … {largest}. "
        f"Fitted log-log slopes over the three largest sizes each method reached: {slopes}. "
        f"Forward mode one direction per pass (dual-scalar, tape-forward) and finite "
        f"differences need one pass per input, so their cost grows with n; dual carries many "
        f"directions per pass (chunks of tangents: ⌈n/k⌉ vectorised passes); reverse mode "
        f"(tape, reverse) needs one backward sweep whatever n is — the cheap-gradient "
        f"principle.")
    if scaling.skipped:
        texts["scaling"] += " Larger n skipped: " + "; ".join(
            f"{m}: {why}" for m, why in scaling.skipped.items()) + "."
    return texts


def write_html(results: Results, path: Path) -> None:
    """The self-contained ``index.html`` (figures referenced from ``figures/``)."""
    env = results.environment
    texts = _section_texts(results)
    grid_header, grid_body, grid_classes = _digits_grid(results)
    numpy_code = _numpy_code_table(results)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"/>',
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
        "<title>diffx comparison report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>diffx comparison report</h1>",
        f'<p class="note">Symbolic, numeric and automatic differentiation measured side by side '
        f"against a 50-digit mpmath reference. Generated {html.escape(env['date (UTC)'])} UTC, "
        f"measured in {results.seconds:.0f} s{' (quick mode)' if results.plan.quick else ''}; "
        f"regenerate with <code>diffx report --out DIR</code>.</p>",
        '<nav><a href="#accuracy">1 Accuracy</a><a href="#step">2 Error vs step</a>'
        '<a href="#timing">3 Timing</a><a href="#scaling">4 Scaling</a>'
        '<a href="#swell">5 Expression swell</a><a href="#environment">6 Environment</a>'
        '<a href="summary.md">summary.md</a></nav>',
        '<section id="accuracy"><h2>1 Accuracy</h2>',
        f"<p>Correct digits (−log₁₀ of the relative error against the 50-digit reference, 16 = "
        f"exact in float64) for {len(results.accuracy)} catalogue functions × "
        f"{len(results.plan.methods)} methods, each at its catalogue point: f′ for functions of "
        f"one variable, ∇f or the Jacobian otherwise.</p>",
        _figure("accuracy", "Correct digits per function and method"),
        _html_table(*_digits_summary(results)),
        *([f"<p>{html.escape(_NUMPY_NOTE)}</p>", _html_table(*numpy_code)]
          if numpy_code[1] else []),
        _figure("estimates", "Numeric methods: their error estimate against the true error"),
        "<details><summary>Correct digits, every function and method</summary>",
        _html_table(grid_header, grid_body, grid_classes), "</details>",
    ]
    if results.failures:
        parts.append("<p>Not measured: " + html.escape("; ".join(
            f"{n}: {m}" for n, m in results.failures)) + "</p>")
    parts += [
        "</section>",
        '<section id="step"><h2>2 Error vs step size</h2>',
        f"<p>{html.escape(texts['sweep'])}</p>",
        _figure("step_sweep", "Relative error of f′ against the step h"),
        _html_table(*_sweep_table(results)),
        "</section>",
        '<section id="timing"><h2>3 Timing</h2>',
        "<p>Median time per call over repeated warm calls (whiskers: quartiles), and the one-off "
        "setup time of the first call separately. Ratios to one evaluation of f come from the "
        "same run. <code>tape</code> is eager TensorFlow, <code>tape-graph</code> the same "
        "gradient compiled with <code>tf.function</code>.</p>",
        _figure("timing", "Time per call and setup time"),
        _html_table(*_timing_table(results)),
        "</section>",
        '<section id="scaling"><h2>4 Scaling with dimension</h2>',
        f"<p>{html.escape(texts['scaling'])}</p>",
        _figure("scaling", "Gradient time against dimension n"),
        _html_table(*_scaling_table(results)),
        "</section>",
        '<section id="swell"><h2>5 Expression swell</h2>',
        "<p>Operation count of the symbolic derivative against nesting depth, as SymPy's "
        "<code>diff</code> returns it and after common-subexpression elimination, next to the "
        "operations dual numbers actually execute (counted) — linear in depth.</p>",
        _figure("swell", "Operation counts against nesting depth"),
        _html_table(*_swell_table(results)),
        "</section>",
        '<section id="environment"><h2>6 Environment</h2>',
        _html_table(["", "version / value"], [[k, v] for k, v in env.items()]),
        "<p>Tables as CSV: " + ", ".join(f'<a href="tables/{t}.csv">{t}.csv</a>'
                                          for t in TABLES) + ".</p>",
        "</section></body></html>",
    ]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def _markdown_table(header: list[str], body: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, body)])


def write_markdown(results: Results, path: Path) -> None:
    """``summary.md``: the key numbers and tables, figures linked."""
    texts = _section_texts(results)
    env = results.environment
    numpy_code = _numpy_code_table(results)
    lines = [
        "# diffx comparison report — summary", "",
        f"Generated {env['date (UTC)']} UTC, measured in {results.seconds:.0f} s"
        f"{' (quick mode)' if results.plan.quick else ''}. Errors are against a 50-digit "
        f"mpmath reference. Full report: [index.html](index.html).", "",
        "## 1 Accuracy", "", "![accuracy](figures/accuracy.png)", "",
        _markdown_table(*_digits_summary(results)), "",
        *([_NUMPY_NOTE, "", _markdown_table(*numpy_code), ""] if numpy_code[1] else []),
        "## 2 Error vs step size", "", texts["sweep"], "", "![step sweep](figures/step_sweep.png)",
        "", _markdown_table(*_sweep_table(results)), "",
        "## 3 Timing", "", "![timing](figures/timing.png)", "",
        _markdown_table(*_timing_table(results)), "",
        "## 4 Scaling with dimension", "", texts["scaling"], "", "![scaling](figures/scaling.png)",
        "", _markdown_table(*_scaling_table(results)), "",
        "## 5 Expression swell", "", "![swell](figures/swell.png)", "",
        _markdown_table(*_swell_table(results)), "",
        "## 6 Environment", "", _markdown_table(["", "version / value"],
                                                 [[k, v] for k, v in env.items()]), "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def write(results: Results, directory: Path) -> list[Path]:
    """Write every file of the report into ``directory``; returns their paths (relative)."""
    figures = directory / "figures"
    tables = directory / "tables"
    figures.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    drawn = {"accuracy": accuracy_figure, "estimates": estimates_figure,
             "step_sweep": lambda r: r.sweep.plot(), "timing": timing_figure,
             "scaling": lambda r: r.scaling.plot(), "swell": swell_figure}
    for name in FIGURES:
        _save(drawn[name](results), figures, name)
    write_tables(results, tables)
    write_html(results, directory / "index.html")
    write_markdown(results, directory / "summary.md")
    return sorted(p.relative_to(directory) for p in directory.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------
# Building: never overwrite a user's files, never leave half a report behind
# --------------------------------------------------------------------------------------------
def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise DiffxError(f"{target} exists and is not a directory; choose another --out")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise DiffxError(f"{target} exists and is not empty; choose another --out, or pass "
                         f"--force (force=True) to replace the report's own files in it "
                         f"(other files are kept)")


def _install(built: Path, target: Path, force: bool) -> None:
    """Move the finished report from ``built`` into ``target``."""
    _check_target(target, force)  # again: the directory may have changed while we measured
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(built, target)
        return
    for source in sorted(p for p in built.rglob("*") if p.is_file()):
        destination = target / source.relative_to(built)
        if destination.is_dir():
            raise DiffxError(f"{destination} is a directory where the report writes a file; "
                             f"move it away first")
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)  # atomic per file; files the report does not write stay


class _Bar:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, total: int, enabled: bool):
        self.total = total
        self.enabled = enabled
        self._progress: Any = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(TextColumn("{task.description:<40}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task("diffx report", total=self.total)
        return self

    def __call__(self, description: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=description[:40])

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()


@contextmanager
def _temporary_directory(parent: Path, name: str) -> Iterator[Path]:
    """A fresh directory beside the target (same file system, so the final move is a rename);
    removed on the way out unless it was moved into place."""
    path = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=parent))
    try:
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path)


def build(out: str | os.PathLike[str] = "diffx-report", *,
          functions: Sequence[str | catalog.CatalogEntry] | None = None,
          methods: Sequence[str] | None = None, quick: bool = False, force: bool = False,
          progress: bool = True) -> Path:
    """Measure and write the comparison report into the directory ``out``; returns its path.

    ``functions`` are catalogue names (default: every smooth entry; ``quick``: four of them,
    fewer steps, sizes and depths — seconds instead of a minute). ``methods`` default to
    ``diffx.METHODS``. ``out`` must be missing or empty unless ``force``; with ``force`` only
    the report's own files are replaced. Nothing is written to ``out`` until the whole report
    has been built (in a temporary directory beside it); a failure leaves ``out`` untouched.
    ``progress`` shows a progress bar on stderr.
    """
    target = Path(out)
    _check_target(target, force)
    the_plan = plan(functions, methods, quick)
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    with _Bar(the_plan.units(), progress) as bar:
        results = measure(the_plan, bar)
        with _temporary_directory(parent, target.name) as built:
            write(results, built)
            bar("writing the report")
            _install(built, target, force)
    return target
