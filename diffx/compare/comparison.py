"""Every method on one function at one point, as one table: :func:`compare` and its result.

    >>> from diffx.compare import compare
    >>> c = compare("sin(x)*exp(x)", at=1.3, methods=["central", "dual"])
    >>> [row.method for row in c.rows]
    ['central', 'dual']
    >>> c.rows[1].digits >= 15
    True

Each row is measured by :func:`diffx.compare.measurement.measure` against the 50-digit reference of
:mod:`diffx.reference`, never against another engine.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from diffx import engines
from diffx.compare.formatting import (
    format_digits,
    format_error,
    format_seconds,
    format_value,
    html_table,
    text_table,
)
from diffx.compare.measurement import (
    MAX_DIGITS,
    ComparisonRow,
    measure,
    warm_up,
)
from diffx.engines import METHODS
from diffx.errors import DiffxError
from diffx.functions import Function, as_function
from diffx.reference import reference_derivative, reference_jacobian, reference_method

__all__ = ["Comparison", "compare"]


@dataclass
class Comparison:
    """Every method's row for ``function`` at ``point``; ``kind`` says what was differentiated."""

    function: Function
    point: np.ndarray
    kind: str  # "derivative" (order k), "gradient" or "jacobian"
    order: int
    reference: Any
    rows: list[ComparisonRow] = field(default_factory=list)
    reference_method: str = "SymPy diff"

    # --- text ---------------------------------------------------------------------------
    def _title(self) -> str:
        what = self.kind if self.kind != "derivative" or self.order == 1 else \
            f"derivative of order {self.order}"
        at = ", ".join(f"{v:.17g}" for v in self.point)
        return f"{what} of {self.function.name} at ({at})" if self.point.size > 1 else \
            f"{what} of {self.function.name} at {at}"

    def table(self) -> list[list[str]]:
        header = ["method", "family", "value", "digits", "rel. error", "error est.",
                  "time", "setup", "evals"]
        body = [[r.method, r.family, format_value(r.value) if r.status == "ok" else "failed *",
                 format_digits(r.digits), format_error(r.rel_error),
                 format_error(r.error_estimate), format_seconds(r.seconds),
                 format_seconds(r.setup_seconds),
                 "" if r.evaluations is None else str(r.evaluations)]
                for r in self.rows]
        return [header, *body]

    def __str__(self) -> str:
        lines = [self._title(), f"reference (50 digits, {self.reference_method}): "
                 f"{format_value(self.reference)}", "",
                 *text_table(self.table(), right={3, 4, 5, 6, 7, 8})]
        failed = [r for r in self.rows if r.status != "ok"]
        if failed:
            lines.append("")
            lines.extend(f"* {r.method}: {r.status}" for r in failed)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Comparison: {self._title()}, {len(self.rows)} methods>"

    def _repr_html_(self) -> str:
        return (f"<p><b>{html.escape(self._title())}</b><br>reference (50 digits, "
                f"{html.escape(self.reference_method)}): "
                f"<code>{html.escape(format_value(self.reference))}</code></p>"
                + html_table(self.table())
                + "".join(f"<p>* {html.escape(r.method)}: {html.escape(r.status)}</p>"
                          for r in self.rows if r.status != "ok"))

    # --- data ---------------------------------------------------------------------------
    def to_records(self) -> list[dict[str, Any]]:
        return [asdict(row) for row in self.rows]

    def to_pandas(self):
        """The rows as a pandas DataFrame indexed by method (pandas is optional)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is in the dev extra
            raise DiffxError("to_pandas() needs pandas: pip install pandas") from None
        return pd.DataFrame(self.to_records()).set_index("method")

    def plot(self):
        """A matplotlib Figure: correct digits and time per method, coloured by family."""
        from matplotlib.figure import Figure

        colours = {"symbolic": "#4C72B0", "numeric": "#DD8452", "automatic": "#55A868"}
        ok = [r for r in self.rows if r.status == "ok"]
        names = [r.method for r in ok]
        fig = Figure(figsize=(10, 4), layout="constrained")
        ax_digits, ax_time = fig.subplots(1, 2)
        ax_digits.barh(names, [r.digits for r in ok], color=[colours[r.family] for r in ok])
        ax_digits.set_xlim(0, MAX_DIGITS + 0.5)
        ax_digits.set_xlabel("correct digits (vs 50-digit reference)")
        ax_digits.invert_yaxis()
        ax_time.barh(names, [r.seconds for r in ok], color=[colours[r.family] for r in ok])
        ax_time.set_xscale("log")
        ax_time.set_xlabel("median time per call [s]")
        ax_time.invert_yaxis()
        ax_time.set_yticklabels([])
        for family, colour in colours.items():
            ax_digits.bar(0, 0, color=colour, label=family)
        fig.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
        fig.suptitle(self._title())
        return fig


def compare(f: Any, at: Any, methods: Sequence[str] | None = None, *, order: int = 1,
            repeats: int | None = None, min_time: float = 0.05,
            variables: Sequence[str] | None = None) -> Comparison:
    """Run ``methods`` (default: all of ``diffx.METHODS``) on ``f`` at ``at`` and measure them.

    A point with one coordinate gives the ``order``-th derivative; with n coordinates, the
    gradient (scalar f) or the Jacobian (vector f). Each method is called once cold, then
    repeatedly until ``min_time`` seconds have passed (at least 3 times, at most 100) or
    exactly ``repeats`` times. A method that cannot handle the function is kept in the table
    with its error message as ``status``.
    """
    fn = as_function(f, variables)
    methods = list(METHODS if methods is None else methods)
    for method in methods:
        engines.family_of(method)  # validates the name
    point = np.atleast_1d(np.asarray(at, dtype=float))
    scalar_output = np.size(fn.numpy_call(point)) == 1
    if point.size == 1 and scalar_output:
        kind = "derivative"
        reference = reference_derivative(fn, point[0], order)
    else:
        if order != 1:
            raise DiffxError("order > 1 is compared for functions of one variable only")
        kind = "gradient" if scalar_output else "jacobian"
        reference = reference_jacobian(fn, point)
        if kind == "gradient":
            reference = reference[0]
    warm_up(methods)

    comparison = Comparison(fn, point, kind, order, reference,
                            reference_method=reference_method(fn, point.size))
    for method in methods:
        # every method pays its own setup on a fresh copy, even if f was seen before
        comparison.rows.append(measure(fn.fresh(), point, method, kind=kind, order=order,
                                       reference=reference, repeats=repeats,
                                       min_time=min_time))
    return comparison
