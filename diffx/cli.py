"""The ``diffx`` command line.

    diffx compare "sin(x)*exp(x)" --at 1.3 [--methods central,dual] [--order 2]
    diffx sweep "sin(x)*exp(x)" --at 1.3 [--methods forward,central] [--plot FILE.png]
    diffx report --out DIR [--force] [--quick]
    diffx explore ["EXPR"] [--at X] [--port N] [--host 127.0.0.1] [--no-browser]
    diffx methods

Errors print one line (``diffx: error: ...``) and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from diffx.errors import DiffxError

__all__ = ["build_parser", "main"]


def _floats(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or comma-separated numbers, got {text!r}") from None


def _plot_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--plot FILE.png (``what`` it draws) and --force (replace an existing file)."""
    parser.add_argument("--plot", default=None, metavar="FILE.png", help=what)
    parser.add_argument("--force", action="store_true", help="overwrite an existing --plot file")


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffx",
        description="Symbolic, numeric and automatic differentiation side by side.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when something fails")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compare = sub.add_parser("compare", help="differentiate with every method and compare",
                             description="Differentiate EXPR at a point with every method and "
                                         "print value, correct digits, error estimate and time.")
    compare.add_argument("expression", metavar="EXPR", help='e.g. "sin(x)*exp(x)"')
    compare.add_argument("--at", type=_floats, required=True, metavar="X",
                         help="the point: a number, or comma-separated numbers (x,y,...)")
    compare.add_argument("--methods", type=_names, default=None, metavar="M1,M2",
                         help="methods to run (default: all; see `diffx methods`)")
    compare.add_argument("--order", type=int, default=1, help="derivative order (1 variable)")
    compare.add_argument("--variables", type=_names, default=None, metavar="X,Y",
                         help="variable names in order (default: found in EXPR, sorted)")
    compare.add_argument("--repeats", type=int, default=None,
                         help="timed calls per method (default: adaptive, >= 3)")

    trace = sub.add_parser("trace", help="print the primal, tangent and adjoint traces",
                           description="Record one evaluation of EXPR at a point and print its "
                                       "primal trace, forward tangent trace and reverse adjoint "
                                       "trace as one aligned table.")
    trace.add_argument("expression", metavar="EXPR", help='e.g. "log(x1) + x1*x2 - sin(x2)"')
    trace.add_argument("--at", type=_floats, required=True, metavar="X",
                       help="the point: a number, or comma-separated numbers (x1,x2,...)")
    trace.add_argument("--direction", type=_floats, default=None, metavar="D",
                       help="input tangent of the forward sweep (default: 1,0,...,0)")
    trace.add_argument("--variables", type=_names, default=None, metavar="X,Y",
                       help="variable names in order (default: found in EXPR, sorted)")
    trace.add_argument("--digits", type=int, default=6, help="significant digits shown")
    _plot_options(trace, "also draw the computational graph (with adjoints) to this file")

    optimize = sub.add_parser(
        "optimize", help="minimise a seed problem with gd, momentum or adam",
        description="Minimise PROBLEM (a seed problem's name, see --list; or an expression "
                    "with --x0) with gradients from one method and print the result; with "
                    "--compare, run several methods and tabulate path agreement and time.")
    optimize.add_argument("problem", metavar="PROBLEM", nargs="?",
                          help="e.g. himmelblau, rosenbrock, linear_regression, or an EXPR")
    optimize.add_argument("--method", default="dual", help="gradient method (default: dual)")
    optimize.add_argument("--optimizer", default=None, metavar="gd|momentum|adam",
                          help="update rule (default: the problem's, else gd)")
    optimize.add_argument("--lr", type=float, default=None, help="learning rate")
    optimize.add_argument("--steps", type=int, default=None, help="number of steps")
    optimize.add_argument("--x0", type=_floats, default=None, metavar="X",
                          help="start point, comma-separated (required for an EXPR)")
    optimize.add_argument("--dtype", default="float64", choices=("float64", "float32"),
                          help="precision of the run (float32: tape methods only)")
    optimize.add_argument("--every", type=int, default=0, metavar="N",
                          help="print the iterate every N steps, as the seeds do")
    optimize.add_argument("--compare", type=_names, nargs="?", const=[], default=None,
                          metavar="M1,M2", help="run these methods (default: a standard set) "
                                                "and print the comparison table")
    _plot_options(optimize, "draw loss curves (and paths on contours, fitted lines)")
    optimize.add_argument("--list", action="store_true", help="list the seed problems")

    sweep = sub.add_parser("sweep", help="finite-difference error against step size h",
                           description="Differentiate EXPR (one variable) at X with finite "
                                       "differences over a range of steps h and print the "
                                       "relative error of each against the 50-digit reference.")
    sweep.add_argument("expression", metavar="EXPR", help='e.g. "sin(x)*exp(x)"')
    sweep.add_argument("--at", type=float, required=True, metavar="X", help="the point")
    sweep.add_argument("--methods", type=_names, default=None, metavar="M1,M2",
                       help="forward, backward, central, central-4, richardson, complex-step "
                            "(default: forward,central,complex-step)")
    sweep.add_argument("--per-decade", type=int, default=1, metavar="N",
                       help="steps per decade from 1e-16 to 1 (default: 1)")
    _plot_options(sweep, "also draw the error-vs-step figure to this file")

    report = sub.add_parser("report", help="write the full comparison report (HTML, PNG, CSV)",
                            description="Measure every method on the catalogue and write "
                                        "index.html, summary.md, figures/ and tables/ into DIR.")
    report.add_argument("--out", default="diffx-report", metavar="DIR",
                        help="output directory (default: diffx-report); must be new or empty")
    report.add_argument("--force", action="store_true",
                        help="write into a non-empty DIR, replacing only the report's own files")
    report.add_argument("--quick", action="store_true",
                        help="a small subset (seconds instead of a minute)")
    report.add_argument("--functions", type=_names, default=None, metavar="F1,F2",
                        help="catalogue functions (default: every smooth one)")
    report.add_argument("--methods", type=_names, default=None, metavar="M1,M2",
                        help="methods (default: all; see `diffx methods`)")
    report.add_argument("--no-progress", action="store_true", help="no progress bar")

    explore = sub.add_parser(
        "explore", help="the interactive explorer as a local web page",
        description="Serve the interactive explorer (type a function, move the point and the "
                    "step, watch every method's value and error) as a local web page. The "
                    "first line printed is its URL; Ctrl-C stops it.")
    explore.add_argument("expression", metavar="EXPR", nargs="?", default="sin(x)*exp(x)",
                         help='the function shown first (default: "sin(x)*exp(x)")')
    explore.add_argument("--at", type=_floats, default=None, metavar="X",
                         help="the point shown first: a number or comma-separated numbers "
                              "(default: 1.3)")
    explore.add_argument("--port", type=int, default=0, metavar="N",
                         help="port to listen on (default: a free one)")
    explore.add_argument("--host", default="127.0.0.1",
                         help="address to bind (default: 127.0.0.1, this machine only)")
    explore.add_argument("--no-browser", action="store_true",
                         help="do not open the page in a web browser")
    explore.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                         help="longest one update may take before it is stopped (default: 5)")

    sub.add_parser("methods", help="list the differentiation methods")
    return parser


def _compare(args: argparse.Namespace) -> int:
    from diffx.compare import compare

    result = compare(args.expression, args.at, args.methods, order=args.order,
                     repeats=args.repeats, variables=args.variables)
    print(result)
    return 0


FIGURE_FORMATS = (".png", ".svg", ".pdf")


def _check_output(path: str | None, force: bool) -> None:
    """Refuse to overwrite an existing file unless --force (checked before any work)."""
    from pathlib import Path

    if not path:
        return
    if Path(path).suffix.lower() not in FIGURE_FORMATS:
        raise DiffxError(f"{path}: a figure is written as {', '.join(FIGURE_FORMATS)}")
    if not Path(path).parent.is_dir():
        raise DiffxError(f"{path}: the folder {Path(path).parent} does not exist")
    if Path(path).exists() and not force:
        raise DiffxError(f"{path} exists; pass --force to overwrite it")


def _save_figure(figure, path: str, dpi: int = 120) -> None:
    """Write a figure atomically: to a temporary file beside ``path``, then renamed over it,
    so an interrupted run never leaves a half-written file where the user's was."""
    import os
    import tempfile
    from pathlib import Path

    target = Path(path)
    handle, temporary = tempfile.mkstemp(suffix=target.suffix, prefix=".diffx-",
                                         dir=target.parent)
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=dpi, format=target.suffix.lstrip(".").lower())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    print(f"figure written to {path}")


def _trace(args: argparse.Namespace) -> int:
    from diffx.trace import trace

    _check_output(args.plot, args.force)
    result = trace(args.expression, args.at, args.direction, variables=args.variables)
    print(result.to_text(digits=args.digits))
    if args.plot:
        _save_figure(result.plot(adjoints=True), args.plot)
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from diffx import optimize

    if args.list:
        width = max(map(len, optimize.problems))
        for name, entry in optimize.problems.items():
            print(f"{name:<{width}}  {entry.optimizer:<8}  lr {entry.lr:<6g} {entry.steps:>6} "
                  f"steps  {entry.seed}")
        return 0
    if args.problem is None:
        raise DiffxError("name a PROBLEM (see `diffx optimize --list`) or an expression")
    _check_output(args.plot, args.force)
    options = {"optimizer": args.optimizer, "lr": args.lr, "steps": args.steps,
               "dtype": args.dtype}
    if args.x0 is not None:
        options["x0"] = args.x0
    known = args.problem.strip() in optimize.problems
    if args.compare is not None:
        if not known:
            raise DiffxError("--compare runs a named problem (see `diffx optimize --list`)")
        outcome = optimize.compare_methods(args.problem, args.compare or None, **options)
        print(outcome)
    else:
        def report(k, x, loss, grad):
            if args.every and k % args.every == 0:
                print(f"step {k}: x = {x}, loss = {loss!r}")

        outcome = optimize.minimize(args.problem, options.pop("x0", None), args.method,
                                    callback=report, **options)
        print(outcome)
        if known:
            for line in optimize.problem(args.problem).notes(outcome):
                print(f"  {line}")
    if args.plot:
        _save_figure(optimize.plot(outcome, args.problem if known else None), args.plot, 110)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from diffx.compare import step_sweep

    _check_output(args.plot, args.force)
    if args.per_decade < 1:
        raise DiffxError("--per-decade must be at least 1")
    steps = 10.0 ** np.arange(-16.0, 1e-9, 1.0 / args.per_decade)
    methods = args.methods or ("forward", "central", "complex-step")
    result = step_sweep(args.expression, args.at, methods, steps)
    print(result)
    if args.plot:
        _save_figure(result.plot(), args.plot)
    return 0


def _report(args: argparse.Namespace) -> int:
    import time

    from diffx.report import build

    start = time.perf_counter()
    out = build(args.out, functions=args.functions, methods=args.methods, quick=args.quick,
                force=args.force, progress=not args.no_progress)
    print(f"report written to {out / 'index.html'} in {time.perf_counter() - start:.0f} s "
          f"(summary: {out / 'summary.md'})")
    return 0


def _explore(args: argparse.Namespace) -> int:
    from diffx.explore import TIME_LIMIT, serve

    if not 0 <= args.port <= 65535:
        raise DiffxError(f"--port must be between 0 and 65535, got {args.port}")
    serve(args.expression, args.at, port=args.port, host=args.host, show=not args.no_browser,
          time_limit=args.time_limit or TIME_LIMIT,
          ready=lambda url: print(url, flush=True))
    print("diffx explore: stopped", flush=True)
    return 0


def _methods(args: argparse.Namespace) -> int:
    from diffx.engines import DESCRIPTIONS, FAMILIES, METHODS

    width = max(map(len, METHODS))
    for method in METHODS:
        print(f"{method:<{width}}  {FAMILIES[method]:<9}  {DESCRIPTIONS[method]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``diffx`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"compare": _compare, "methods": _methods, "trace": _trace,
                "optimize": _optimize, "sweep": _sweep, "report": _report,
                "explore": _explore}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        return _report_error(exc)


def _report_error(exc: Exception) -> int:
    """One line on stderr (plus a ParseError's caret lines); 2 for the user's input or files,
    1 for anything else (a bug: --debug shows the traceback)."""
    if isinstance(exc, DiffxError):
        message = str(exc).splitlines() or [type(exc).__name__]
        print(f"diffx: error: {message[0]}", file=sys.stderr)
        for line in message[1:]:  # the caret lines of a ParseError
            print(f"  {line}", file=sys.stderr)
        return 2
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"diffx: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"diffx: internal error: {type(exc).__name__}: {exc} (run with --debug for the "
          f"traceback, and please report it)", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
