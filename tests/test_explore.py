"""The explorer's model and its Panel view, driven from Python (the browser tests are in
test_explore_browser.py).

Every number is checked against an independent truth: closed forms evaluated with mpmath at
50 digits (f = sin(x)·eˣ: f′ = eˣ(sin x + cos x), f″ = 2eˣ cos x, f‴ = 2eˣ(cos x − sin x)),
textbook truncation errors of the stencils computed from those closed forms, or integers.
No engine is the truth for another, and no row is checked against the explorer's own scoring.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import mpmath
import numpy as np
import pytest

import diffx
from diffx import catalog
from diffx.catalog import logistic_iterate
from diffx.engines import methods
from diffx.errors import DiffxError, DomainError, LimitError, ParseError
from diffx.explore import (
    Explorer,
    Settings,
    TimeLimitError,
    explore,
    parse_point,
    run_with_time_limit,
)

mpmath.mp.dps = 50
EPS = float(np.finfo(float).eps)
EXACT = (*methods(exact=True), "complex-step")  # complex step: first derivatives exact


# --- independent truth ------------------------------------------------------------------------
def sin_exp(k: int, x: float) -> mpmath.mpf:
    """The k-th derivative of sin(x)·exp(x) at the float x, closed form at 50 digits."""
    t = mpmath.mpf(x)
    forms = {0: lambda: mpmath.exp(t) * mpmath.sin(t),
             1: lambda: mpmath.exp(t) * (mpmath.sin(t) + mpmath.cos(t)),
             2: lambda: 2 * mpmath.exp(t) * mpmath.cos(t),
             3: lambda: 2 * mpmath.exp(t) * (mpmath.cos(t) - mpmath.sin(t))}
    return forms[k]()


def relative(value: float, truth: mpmath.mpf) -> float:
    return float(abs(mpmath.mpf(value) - truth) / abs(truth))


class _Table(HTMLParser):
    """The comparison table as {method: [cell texts]} (first cell: the method's name)."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.header: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row:
            if self._in_head:
                self.header = self._row
            else:
                self.rows[self._row[0]] = self._row[1:]
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def numbers(cell: str) -> list[float]:
    return [float(v) for v in re.findall(r"[-+]?\d[\d.]*(?:e[-+]?\d+)?", cell)]


@pytest.fixture(scope="module")
def sin_exp_snapshot():
    return Explorer("sin(x)*exp(x)", at=0.7).update()


# --- the model: values and errors ----------------------------------------------------------------
def test_every_method_against_the_closed_form(sin_exp_snapshot):
    snapshot = sin_exp_snapshot
    truth = sin_exp(1, 0.7)
    assert snapshot.error is None and snapshot.kind == "derivative"
    assert [row.method for row in snapshot.rows] == list(diffx.METHODS)
    bounds = {"forward": 1e-7, "backward": 1e-7, "central": 1e-9, "richardson": 1e-12}
    for row in snapshot.rows:
        assert row.status == "ok", (row.method, row.status)
        error = relative(row.value, truth)
        assert error <= bounds.get(row.method, 2 * EPS), (row.method, error)
        # the row's own error is the error against the truth, not against another engine
        assert row.rel_error == pytest.approx(error, rel=1e-9, abs=1e-300), row.method
        expected_digits = 16.0 if error == 0 else min(16.0, -math.log10(error))
        assert row.digits == pytest.approx(expected_digits, abs=1e-9), row.method
        assert row.seconds > 0


def test_the_step_control_sets_every_finite_difference_step():
    h, x = 1e-3, 0.7
    snapshot = Explorer("sin(x)*exp(x)", at=x, step=h).update(details=False)
    slope = abs(sin_exp(1, x))
    # leading truncation terms: forward/backward f″h/2, central and complex step f‴h²/6
    models = {"forward": abs(sin_exp(2, x)) * h / 2, "backward": abs(sin_exp(2, x)) * h / 2,
              "central": abs(sin_exp(3, x)) * h**2 / 6,
              "complex-step": abs(sin_exp(3, x)) * h**2 / 6}
    for method, model in models.items():
        row = snapshot.row(method)
        assert row.step == pytest.approx(h, rel=1e-12), method
        assert relative(row.value, sin_exp(1, x)) == pytest.approx(float(model / slope),
                                                                   rel=0.01), method
    assert snapshot.row("richardson").step is not None
    for method in ("symbolic", "dual", "tape", "tape-forward", "reverse"):
        assert snapshot.row(method).step is None  # exact methods take no step


def test_moving_the_point_moves_every_value():
    explorer = Explorer("sin(x)*exp(x)", at=0.7, methods=["dual", "central", "symbolic"])
    explorer.update(details=False)
    snapshot = explorer.update(point="2.1", details=False)
    assert snapshot.point.tolist() == [2.1]
    truth = sin_exp(1, 2.1)
    assert relative(snapshot.row("dual").value, truth) <= 2 * EPS
    assert relative(snapshot.row("symbolic").value, truth) <= 2 * EPS
    assert relative(snapshot.row("central").value, truth) <= 1e-9
    assert [row.method for row in snapshot.rows] == ["symbolic", "central", "dual"]


def test_the_table_shows_full_precision_values(sin_exp_snapshot):
    table = _Table(Explorer("sin(x)").table_html(sin_exp_snapshot))
    assert table.header[:5] == ["method", "value", "correct digits", "rel. error",
                                "error estimate"]
    assert list(table.rows) == list(diffx.METHODS)
    for row in sin_exp_snapshot.rows:
        cells = table.rows[row.method]
        assert cells[0] == f"{row.value:.17g}"  # 17 significant digits: the float exactly
        assert float(cells[0]) == row.value
        assert cells[1] == f"{row.digits:.1f}"
    assert relative(float(table.rows["dual"][0]), sin_exp(1, 0.7)) <= 2 * EPS


def test_gradient_of_two_variables():
    snapshot = Explorer("x*y + sin(x)", at=[1.0, 2.0]).update()
    truth = [2 + mpmath.cos(1), mpmath.mpf(1)]
    assert snapshot.kind == "gradient" and snapshot.error is None
    bounds = {"forward": 1e-7, "backward": 1e-7, "central": 1e-9, "richardson": 1e-12}
    for row in snapshot.rows:
        assert np.shape(row.value) == (2,), row.method
        for value, exact in zip(row.value, truth):
            assert relative(value, exact) <= bounds.get(row.method, 2 * EPS), row.method
    cell = _Table(Explorer("x").table_html(snapshot)).rows["dual"][0]
    assert numbers(cell) == [float(v) for v in truth]
    assert set(snapshot.figures) == {"tangent", "graph"}  # contours + arrow; no step sweep


def test_jacobian_of_a_vector_function():
    snapshot = Explorer("[x*y, sin(x)]", at="1, 2", methods=["dual", "central"]).update()
    assert snapshot.kind == "jacobian"
    truth = [[2, 1], [math.cos(1), 0]]
    assert np.array_equal(snapshot.row("dual").value, truth)
    assert np.allclose(snapshot.row("central").value, truth, rtol=1e-9, atol=1e-9)


def test_symbolic_view_and_operation_counts():
    snapshot = Explorer("x**3", at=2.0, methods=["symbolic"]).update()
    assert snapshot.row("symbolic").value == 12.0
    assert "3 x^{2}" in snapshot.latex and "x^{3}" in snapshot.latex
    assert snapshot.operations == (2, 2)  # 3*x**2: one multiplication, one power
    # sin(x)*exp(x): f' = e^x sin x + e^x cos x has 7 operations, CSE shares e^x: 6
    assert Explorer("sin(x)*exp(x)").update(methods=["dual"]).operations == (7, 6)


def test_the_step_sweep_and_figures(sin_exp_snapshot):
    sweep = sin_exp_snapshot.sweep
    assert sweep.methods == ["forward", "backward", "central", "richardson", "complex-step"]
    row = next(r for r in sweep.curve("central") if r.step == pytest.approx(1e-4))
    model = abs(sin_exp(3, 0.7)) * 1e-8 / 6 / abs(sin_exp(1, 0.7))
    assert row.rel_error == pytest.approx(float(model), rel=0.02)
    assert set(sin_exp_snapshot.figures) == {"tangent", "sweep", "graph"}
    for png in sin_exp_snapshot.figures.values():
        assert png.startswith(b"\x89PNG")
    assert sin_exp_snapshot.trace.gradient[0] == pytest.approx(float(sin_exp(1, 0.7)),
                                                               rel=2 * EPS)


# --- the model: bad input ------------------------------------------------------------------------
def test_a_parse_error_shows_its_caret():
    explorer = Explorer("sin(x", at=1.0)
    snapshot = explorer.update()
    assert snapshot.rows == [] and snapshot.function is None
    assert snapshot.error.splitlines() == ["syntax error: '(' was never closed", "  sin(x",
                                           "     ^"]
    alert = explorer.alert_html(snapshot)
    assert "role='alert'" in alert and "     ^" in alert
    assert "Traceback" not in alert


def test_hostile_strings_are_refused_and_never_evaluated(hostile_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    explorer = Explorer("x", at=1.0, methods=["dual"])
    lines = [*(text for text, _ in hostile_corpus), "x" * 20_000, "(" * 5_000 + "x" + ")" * 5_000]
    assert len(lines) > 150
    for text in lines:
        snapshot = explorer.update(function=text, details=False)
        assert snapshot.error and snapshot.rows == [], text
        assert "Traceback" not in snapshot.error
        assert not (tmp_path / "CANARY").exists(), text
    assert list(tmp_path.iterdir()) == []
    assert explorer.update(function="x**2", point="3").row("dual").value == 6.0  # recovers


@pytest.mark.parametrize("text, error, message", [
    ("x**(10**10)", LimitError, "exceeds the limit 10000"),
    ("x" * 20_000, LimitError, "limit"),
    ("sinn(x)", ParseError, "did you mean 'sin'?"),
])
def test_parse_and_limit_errors_reach_the_alert(text, error, message):
    snapshot = Explorer(text).update()
    with pytest.raises(error):
        diffx.parse(text)
    assert message in snapshot.error


def test_parse_point():
    assert parse_point(" 1.5 ,-2e3 ").tolist() == [1.5, -2000.0]
    with pytest.raises(ParseError) as info:
        parse_point("1.5, two")
    assert info.value.column == 5
    with pytest.raises(ParseError, match="empty coordinate"):
        parse_point("1,,2")
    with pytest.raises(ParseError):
        parse_point("  ")
    with pytest.raises(ParseError):
        parse_point("__import__('os')")
    with pytest.raises(DomainError, match="NaN or infinity"):
        parse_point("inf")
    with pytest.raises(LimitError):
        parse_point("1," * 1000)
    with pytest.raises(DiffxError, match="2 variable"):
        parse_point("1", 2, ("x", "y"))


@pytest.mark.parametrize("function, point, message", [
    ("x*y", "1", "the function has 2 variable(s) (x, y) but the point has 1 coordinate(s)"),
    ("sin(x)", "nan", "contains NaN or infinity"),
    ("sin(x)", "1, 2", "has 1 variable(s)"),
    ("sin(x)", "pi", "Point: 'pi' is not a number"),
    ("log(x)", "-1", "No reference derivative here"),
])
def test_point_problems_reach_the_alert(function, point, message):
    snapshot = Explorer(function, at=point).update()
    assert message in snapshot.error


def test_outside_the_domain_every_method_says_nan():
    snapshot = Explorer("log(x)", at=-1.0).update()
    assert snapshot.reference is None
    assert all(math.isnan(row.value) for row in snapshot.rows if row.status == "ok")
    assert snapshot.notes == ["f is not finite at (-1): every method returns NaN"]


def test_a_kink_is_noted_and_complex_step_refuses():
    snapshot = Explorer("abs(x)", at=0.0).update(details=False)
    assert snapshot.error is None
    assert len(snapshot.notes) == 1 and "kink" in snapshot.notes[0]
    assert "not complex-analytic" in snapshot.row("complex-step").status
    assert snapshot.row("dual").value == 0.0  # the table's convention abs'(0) = 0
    assert snapshot.row("forward").value == 1.0  # the forward quotient across the kink
    assert "cannot run" in Explorer("x").table_html(snapshot)


# --- the time limit ----------------------------------------------------------------------------
def _update_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "diffx-explore-update"]


def test_a_runaway_python_loop_is_stopped():
    def spin():
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(TimeLimitError, match=r"time limit of 0\.2 s"):
        run_with_time_limit(spin, 0.2)
    assert time.perf_counter() - start < 1.0
    deadline = time.monotonic() + 5
    while _update_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _update_threads() == []


def test_tensorflow_still_works_after_an_interrupted_tape():
    from diffx import engines
    from diffx.engines.tape import tensorflow

    tensorflow()  # imported outside any time limit, as the explorer does
    deep = diffx.parse(logistic_iterate(8))
    for method in ("tape", "tape-forward"):
        with pytest.raises(TimeLimitError):
            run_with_time_limit(lambda m=method: engines.derivative(deep, 0.3, m), 0.02)
    time.sleep(0.3)
    # d/dx x·sin x = sin x + x cos x, at 3
    truth = mpmath.sin(3) + 3 * mpmath.cos(3)
    for method in ("tape", "tape-forward"):
        assert relative(engines.derivative("x*sin(x)", 3.0, method), truth) <= 2 * EPS


def test_a_slow_update_is_cut_off_with_a_message_and_the_explorer_recovers():
    # the logistic map iterated 9 times: 512 nested products that the 50-digit reference
    # (and SymPy) expand; every other method takes milliseconds
    explorer = Explorer("x", at=0.3, time_limit=1.5)
    explorer.update()
    start = time.perf_counter()
    snapshot = explorer.update(function=logistic_iterate(9))
    elapsed = time.perf_counter() - start
    assert elapsed < 1.5 + 1.5
    assert "took longer than the explorer's time limit of 1.5 s" in snapshot.error
    assert snapshot.timed_out and snapshot.reference is None
    assert snapshot.row("dual").status == "ok"  # the fast methods' values are kept
    assert "not run" in snapshot.row("symbolic").status
    deadline = time.monotonic() + 5
    while _update_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _update_threads() == []  # the abandoned work was stopped, not left running
    recovered = explorer.update(function="x**2", point="3")
    assert recovered.error is None and recovered.row("dual").value == 6.0


# --- the Panel view, driven from Python -------------------------------------------------------
def _rows(explorer: Explorer) -> dict[str, list[str]]:
    return _Table(explorer.panes["table"].object).rows


def test_the_view_updates_when_a_control_changes():
    explorer = explore("sin(x)*exp(x)", at=1.3, methods=["central", "dual", "symbolic"])
    widgets, panes = explorer.widgets, explorer.panes
    label = "label" if "label" in widgets["function"].param else "name"
    assert getattr(widgets["function"], label) == "Function"
    assert getattr(widgets["point"], label) == "Point"
    assert float(_rows(explorer)["dual"][0]) == float(sin_exp(1, 1.3))
    widgets["function"].value = "x**3 + x"
    widgets["point"].value = "2"
    assert float(_rows(explorer)["dual"][0]) == 13.0  # 3x² + 1 at 2
    assert "x^{3} + x" in panes["symbolic"].object
    assert panes["tangent"].object.startswith(b"\x89PNG")
    assert panes["alert"].object == ""
    widgets["methods"].value = ["dual"]
    assert list(_rows(explorer)) == ["dual"]


def test_moving_the_step_slider_chooses_that_step():
    explorer = Explorer("sin(x)*exp(x)", at=1.3, methods=["central", "dual"])
    assert explorer.widgets["automatic_step"].value is True
    explorer.widgets["step"].value = -3.0
    assert explorer.widgets["automatic_step"].value is False
    assert explorer.settings.step == pytest.approx(1e-3)
    cells = _rows(explorer)["central"]
    assert cells[4] == "0.001"  # the step column
    model = abs(sin_exp(3, 1.3)) * 1e-6 / 6 / abs(sin_exp(1, 1.3))
    assert relative(float(cells[0]), sin_exp(1, 1.3)) == pytest.approx(float(model), rel=0.01)
    assert explorer.panes["sweep"].object.startswith(b"\x89PNG")
    explorer.widgets["automatic_step"].value = True
    assert explorer.settings.step is None
    assert _rows(explorer)["central"][4] != "0.001"


def test_the_catalogue_picker_sets_function_and_point():
    explorer = Explorer("x", methods=["dual", "symbolic"])
    explorer.widgets["catalogue"].value = "rosenbrock"
    assert explorer.widgets["function"].value == "(1 - x)**2 + 100*(y - x**2)**2"
    assert explorer.widgets["point"].value == "-1.2, 1"
    # ∇ = (−2(1−x) − 400x(y−x²), 200(y−x²)) at (−1.2, 1) = (−215.6, −88)
    assert numbers(_rows(explorer)["dual"][0]) == pytest.approx([-215.6, -88.0], rel=1e-14)


def test_the_catalogue_picker_offers_only_expressions_the_function_box_parses():
    """Numpy entries (code, not an expression string) are left out of the dropdown."""
    explorer = Explorer("x", methods=["dual"])
    offered = [name for name in explorer.widgets["catalogue"].options.values() if name]
    assert offered == [name for name in catalog.names() if catalog.get(name).kind != "numpy"]
    assert catalog.names("numpy") and not set(catalog.names("numpy")) & set(offered)
    for name in offered:
        diffx.parse(catalog.get(name).expression)


def test_bad_input_in_the_view_shows_an_alert_then_recovers():
    explorer = Explorer("x**2", at=3.0, methods=["dual"])
    explorer.widgets["function"].value = "sin(x"
    assert "role='alert'" in explorer.panes["alert"].object
    assert "was never closed" in explorer.panes["alert"].object
    assert explorer.panes["table"].object == ""
    assert explorer.panes["tangent"].object is None
    explorer.widgets["function"].value = "sin(x)"
    assert explorer.panes["alert"].object == ""
    assert float(_rows(explorer)["dual"][0]) == float(mpmath.cos(3.0))


def test_sessions_are_independent():
    first, second = Explorer("x**2", at=1.0, methods=["dual"]), Explorer(
        "x**2", at=1.0, methods=["dual"])
    first.widgets["function"].value = "x**5"
    assert float(_rows(first)["dual"][0]) == 5.0
    assert float(_rows(second)["dual"][0]) == 2.0
    assert second.widgets["function"].value == "x**2"


def test_it_displays_in_jupyter():
    import panel as pn

    explorer = diffx.explore("x**2", at=1.0, methods=["dual"])
    assert isinstance(explorer, Explorer)
    assert pn.panel(explorer) is explorer.panel()
    data, _ = explorer._repr_mimebundle_()
    assert "text/html" in data or "application/vnd.holoviews_exec.v0+json" in data


def test_settings_are_validated():
    with pytest.raises(DiffxError, match="unknown method"):
        Explorer("x", methods=["magic"])
    with pytest.raises(DiffxError, match="step"):
        Explorer("x", step=-1.0)
    with pytest.raises(DiffxError, match="expression string"):
        Explorer(lambda x: x)
    assert Settings().methods == diffx.METHODS


# --- staying light, and the command line ------------------------------------------------------
def test_import_diffx_does_not_import_panel():
    code = ("import sys, diffx; print(','.join(m for m in ('panel', 'bokeh', 'matplotlib', "
            "'tornado', 'param') if m in sys.modules)); print(callable(diffx.explore))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True"]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp{,6}: hex IP:port)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")
def test_the_command_prints_its_url_binds_loopback_and_stops_on_ctrl_c():
    import urllib.request

    process = subprocess.Popen(
        [sys.executable, "-m", "diffx.cli", "explore", "x**2", "--at", "3", "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = process.stdout.readline().strip()
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/", url)
        assert match, url
        port = int(match.group(1))
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
        page = urllib.request.urlopen(url, timeout=60).read().decode()
        assert "<title>diffx explorer</title>" in page
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert out.strip() == "diffx explore: stopped"


def test_the_command_rejects_a_bad_port(capsys):
    from diffx.cli import main

    assert main(["explore", "--port", "70000", "--no-browser"]) == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_explore_help_lists_the_options(capsys):
    from diffx.cli import main

    with pytest.raises(SystemExit):
        main(["explore", "--help"])
    out = capsys.readouterr().out
    for option in ("--at", "--port", "--host", "--no-browser", "--time-limit"):
        assert option in out
