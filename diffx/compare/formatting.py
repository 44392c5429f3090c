"""Presentation of measurements: numbers as table cells, tables as text or HTML, method colours.

Nothing here measures anything; the measuring modules of :mod:`diffx.compare` (and
:mod:`diffx.report`, :mod:`diffx.explore`) call these to show what they measured.

    >>> format_value(0.1), format_seconds(2.5e-6), format_error(3.14e-9), format_digits(15.3)
    ('0.10000000000000001', '2.5 µs', '3.1e-09', '15.3')
    >>> print("\\n".join(text_table([["method", "digits"], ["dual", "16.0"]], right={1})))
    method  digits
    ------  ------
    dual      16.0
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from diffx.reference import to_float

__all__ = ["ERROR_FLOOR", "METHOD_COLOURS", "colour", "format_digits", "format_error",
           "format_seconds", "format_value", "html_table", "text_table"]

ERROR_FLOOR = 1e-17  # an error of exactly 0 is drawn here on log axes

# One colour per method in every figure diffx draws (plus the plain function evaluation).
METHOD_COLOURS: dict[str, str] = {
    "symbolic": "#1f77b4", "forward": "#ff7f0e", "backward": "#c49c59", "central": "#d62728",
    "central-4": "#8c564b", "richardson": "#9467bd", "complex-step": "#e377c2",
    "dual": "#2ca02c", "dual-scalar": "#98df8a", "tape": "#17becf", "tape-graph": "#0b5e66",
    "tape-forward": "#bcbd22",
    "reverse": "#393b79", "function": "#000000",
}


def colour(method: str) -> str:
    """The colour of ``method`` in figures (grey for a name without one).

    >>> colour("dual"), colour("no such method")
    ('#2ca02c', '#7f7f7f')
    """
    return METHOD_COLOURS.get(method, "#7f7f7f")


def format_value(value: Any) -> str:
    """Full precision (17 significant digits) — the digits are the point; arrays as nested lists.

    >>> format_value([[1.0, 0.5]]), format_value(None)
    ('[[1, 0.5]]', 'nan')
    """
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.dtype == object:
            array = to_float(array)
        if array.ndim == 0:
            return format_value(float(array))
        return "[" + ", ".join(format_value(item) for item in array) + "]"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{float(value):.17g}"


def format_digits(digits: float) -> str:
    """Correct digits with one decimal (empty for NaN: a method that failed)."""
    return "" if math.isnan(digits) else f"{digits:.1f}"


def format_error(error: float | None) -> str:
    """An error with two significant digits ("0" when exact, empty when unknown)."""
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return ""
    return "0" if error == 0 else f"{error:.1e}"


def format_seconds(seconds: float) -> str:
    """A duration with three significant digits in s, ms, µs or ns (empty for NaN)."""
    if math.isnan(seconds):
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def text_table(rows: Sequence[Sequence[str]], right: Collection[int] = ()) -> list[str]:
    """Rows of cells (the first is the header) as aligned lines, a rule of dashes under the
    header; the columns whose indices are in ``right`` are right-aligned (numbers)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def html_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells (the first is the header) as an HTML ``<table>``, every cell escaped.

    >>> html_table([["a"], ["<1>"]])
    '<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>&lt;1&gt;</td></tr></tbody></table>'
    """
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
