"""The ``diffx`` command line.

    diffx compare "sin(x)*exp(x)" --at 1.3 [--methods central,dual] [--order 2]
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


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffx",
        description="Symbolic, numeric and automatic differentiation side by side.")
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

    sub.add_parser("methods", help="list the differentiation methods")
    return parser


def _compare(args: argparse.Namespace) -> int:
    from diffx.compare import compare

    result = compare(args.expression, args.at, args.methods, order=args.order,
                     repeats=args.repeats, variables=args.variables)
    print(result)
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
    commands = {"compare": _compare, "methods": _methods}
    try:
        return commands[args.command](args)
    except DiffxError as exc:
        message = str(exc).splitlines()
        print(f"diffx: error: {message[0]}", file=sys.stderr)
        for line in message[1:]:  # the caret lines of a ParseError
            print(f"  {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
