"""The explorer in a real browser: Debian's chromium driven by Playwright for Python.

The server runs in this process (:func:`diffx.explore.serve` on a free port of 127.0.0.1);
the tests type into the page as a person would, read the comparison table back from the page
and check its numbers against closed forms evaluated with mpmath at 50 digits. Screenshots go
to ``$DIFFX_SCREENSHOTS`` (default: /tmp/diffx-explore-screenshots). No request may leave the
machine: every page records the URLs it asks for.

Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing
(``.ci/run`` installs chromium; playwright is in the ``dev`` extra).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import mpmath
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("the browser tests need Debian's chromium at /usr/bin/chromium "
                "(apt-get install chromium; .ci/run installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the browser tests need playwright (pip install -e .[dev])")
expect = sync_api.expect

mpmath.mp.dps = 50
EPS = 2.0**-52
SCREENSHOTS = Path(os.environ.get("DIFFX_SCREENSHOTS", "/tmp/diffx-explore-screenshots"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
FIRST_LOAD = 90_000  # ms: the first session may wait for TensorFlow's one-off import
UPDATE = 20_000  # ms: one update on a busy 2-core machine (typically well under a second)


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    from diffx.explore import serve

    handle = serve(time_limit=4.0, threaded=True)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """One browser session of the explorer, with helpers that act as a person would."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url)
        expect(self.page.locator("table.diffx-comparison")).to_be_visible(timeout=FIRST_LOAD)

    def type_into(self, label: str, text: str, keys: bool = True) -> None:
        """Select the box's text, type ``text`` (key by key, or pasted at once with
        ``keys=False``) and press Enter."""
        box = self.page.get_by_label(label, exact=True)
        box.click()
        box.press("Control+a")
        if keys:
            box.press_sequentially(text)
        else:
            box.fill(text)
        box.press("Enter")

    def caption(self):
        return self.page.locator("table.diffx-comparison caption")

    def cells(self, method: str) -> list[str]:
        row = self.page.locator(f"table.diffx-comparison tr[data-method='{method}']")
        return [cell.strip() for cell in row.locator("td").all_inner_texts()]

    def value(self, method: str) -> float:
        return float(self.cells(method)[0])

    def alert(self):
        return self.page.get_by_role("alert")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser, server):
    pages: list[Page] = []

    def opener() -> Page:
        page = Page(browser, server.url)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        outside = [url for url in page.requests  # blob: and data: URLs stay in the page
                   if not url.removeprefix("blob:").startswith((server.url, "data:"))]
        page.close()
        assert outside == [], f"the page asked for resources outside the server: {outside}"
        assert page.errors == [], f"JavaScript errors in the page: {page.errors}"


def sin_exp_prime(x: float) -> mpmath.mpf:
    t = mpmath.mpf(x)
    return mpmath.exp(t) * (mpmath.sin(t) + mpmath.cos(t))


def relative(value: float, truth: mpmath.mpf) -> float:
    return float(abs(mpmath.mpf(value) - truth) / abs(truth))


# --- tests ------------------------------------------------------------------------------------
def test_the_first_page_shows_every_method(open_page):
    import diffx

    page = open_page()
    expect(page.caption()).to_contain_text("at x = 1.3")
    truth = sin_exp_prime(1.3)
    for method in diffx.METHODS:
        cells = page.cells(method)
        bound = {"forward": 1e-7, "backward": 1e-7, "central": 1e-9,
                 "richardson": 1e-12}.get(method, 2 * EPS)
        assert relative(float(cells[0]), truth) <= bound, (method, cells)
        assert re.fullmatch(r"\d+\.\d", cells[1]), cells  # correct digits, one decimal
    assert page.cells("dual")[1] == "16.0"
    expect(page.page.get_by_alt_text("error against step size")).to_be_visible(timeout=UPDATE)
    expect(page.page.get_by_alt_text("f and its tangent line")).to_be_visible()
    expect(page.page.locator("table.diffx-trace")).to_be_visible()
    page.screenshot("01-first-page")


def test_typing_a_function_and_a_point_updates_the_table(open_page):
    page = open_page()
    page.type_into("Function", "x**3 + x")
    expect(page.caption()).to_contain_text("x**3 + x", timeout=UPDATE)
    page.type_into("Point", "2")
    expect(page.caption()).to_contain_text("at x = 2", timeout=UPDATE)
    assert page.value("dual") == 13.0  # 3x² + 1 at 2, exactly
    assert page.value("symbolic") == 13.0
    assert abs(page.value("central") - 13.0) <= 1e-8 * 13
    # the symbolic view follows: f'(x) = 3x² + 1, typeset by KaTeX
    expect(page.page.locator(".katex").first).to_contain_text("3x2+1", timeout=UPDATE)
    page.type_into("Point", "0.25")
    expect(page.caption()).to_contain_text("at x = 0.25", timeout=UPDATE)
    assert page.value("dual") == 1.1875  # 3/16 + 1
    page.screenshot("02-typed-function")


def test_moving_the_step_moves_the_finite_difference_errors(open_page):
    page = open_page()
    expect(page.caption()).to_contain_text("each method's automatic step")
    slider = page.page.get_by_role("slider")
    slider.focus()
    for _ in range(8):  # 0.25 per key: from h = 1e-5 to h = 1e-3
        slider.press("ArrowRight")
    expect(page.caption()).to_contain_text("h = 0.001", timeout=UPDATE)
    central = page.cells("central")
    assert central[4] == "0.001"
    # central difference at h: error f‴h²/6, f‴ = 2eˣ(cos x − sin x), to 1 %
    t = mpmath.mpf(1.3)
    model = abs(2 * mpmath.exp(t) * (mpmath.cos(t) - mpmath.sin(t))) * 1e-6 / 6
    measured = relative(float(central[0]), sin_exp_prime(1.3))
    assert measured == pytest.approx(float(model / abs(sin_exp_prime(1.3))), rel=0.01)
    assert page.cells("dual")[4] == "exact"
    expect(page.page.get_by_text("automatic step (each method's own)")).to_be_visible()
    expect(page.page.get_by_alt_text("error against step size")).to_be_visible()
    page.screenshot("03-step-1e-3")


def test_bad_input_shows_the_message_and_the_page_recovers(open_page):
    page = open_page()
    page.type_into("Function", "sin(x")
    expect(page.alert()).to_contain_text("'(' was never closed", timeout=UPDATE)
    lines = page.alert().inner_text().splitlines()
    assert [line.rstrip() for line in lines[-2:]] == ["  sin(x", "     ^"]  # the caret
    assert "Traceback" not in page.alert().inner_text()
    expect(page.page.locator("table.diffx-comparison")).to_have_count(0)
    page.screenshot("04-parse-error")
    page.type_into("Point", "1, two")
    expect(page.alert()).to_contain_text("'(' was never closed")  # the function first
    page.type_into("Function", "sin(x)")
    expect(page.alert()).to_contain_text("Point: 'two' is not a number", timeout=UPDATE)
    page.type_into("Point", "0.5")
    expect(page.alert()).to_have_count(0, timeout=UPDATE)
    expect(page.caption()).to_contain_text("at x = 0.5")
    assert relative(page.value("dual"), mpmath.cos(mpmath.mpf(0.5))) <= 2 * EPS


def test_hostile_strings_are_refused_and_nothing_runs(open_page, tmp_path, monkeypatch):
    canary = tmp_path / "CANARY"
    monkeypatch.chdir(tmp_path)  # a relative 'CANARY' would land here
    page = open_page()
    for text in [f"__import__('os').system('touch {canary}')",
                 f"open('{canary}', 'w').write('x')",
                 "().__class__.__base__.__subclasses__()",
                 f"eval(\"open('{canary}','w')\")",
                 "lambda: open('CANARY', 'w')",
                 "[c for c in ().__class__.__base__.__subclasses__()]",
                 "x if open('CANARY', 'w') else x",
                 "<script>document.title='pwned'</script>"]:
        page.type_into("Function", text, keys=False)
        expect(page.alert()).to_be_visible(timeout=UPDATE)
        expect(page.page.locator("table.diffx-comparison")).to_have_count(0)
    assert page.page.title() == "diffx explorer"
    assert not canary.exists() and list(tmp_path.iterdir()) == []
    page.screenshot("05-hostile")


def test_a_slow_update_is_cut_off_with_a_message(open_page):
    from diffx.catalog import logistic_iterate

    page = open_page()
    page.type_into("Point", "0.3")
    expect(page.caption()).to_contain_text("at x = 0.3", timeout=UPDATE)
    page.type_into("Function", logistic_iterate(8), keys=False)  # 3571 characters: pasted
    expect(page.alert()).to_contain_text("time limit of 4 s", timeout=UPDATE)
    page.screenshot("06-time-limit")
    page.type_into("Function", "x**2")
    expect(page.alert()).to_have_count(0, timeout=UPDATE)
    assert page.value("dual") == 0.6


def test_several_variables_show_the_gradient(open_page):
    page = open_page()
    page.type_into("Function", "x*y + sin(x)")
    expect(page.alert()).to_contain_text("2 variable(s) (x, y)", timeout=UPDATE)
    page.type_into("Point", "1, 2")
    expect(page.caption()).to_contain_text("gradient", timeout=UPDATE)
    cell = page.cells("reverse")[0]
    assert [float(v) for v in re.findall(r"[-\d.e+]+", cell)] == [2 + math.cos(1), 1.0]
    expect(page.page.get_by_alt_text("f and its tangent line")).to_be_visible(timeout=UPDATE)
    page.screenshot("07-gradient")


def test_sessions_are_independent(open_page):
    first, second = open_page(), open_page()
    first.type_into("Function", "x**5")
    second.type_into("Function", "cosh(x)")
    expect(first.caption()).to_contain_text("x**5", timeout=UPDATE)
    expect(second.caption()).to_contain_text("cosh(x)", timeout=UPDATE)
    assert first.value("dual") == pytest.approx(5 * 1.3**4, rel=2 * EPS)
    assert relative(second.value("dual"), mpmath.sinh(mpmath.mpf(1.3))) <= 2 * EPS
    second.type_into("Point", "0")
    expect(second.caption()).to_contain_text("at x = 0", timeout=UPDATE)
    assert "x**5" not in second.caption().inner_text()
    assert "cosh" not in first.caption().inner_text()
    expect(first.caption()).to_contain_text("at x = 1.3")


def test_the_catalogue_picker(open_page):
    page = open_page()
    page.page.get_by_label("Catalogue", exact=True).select_option(
        label="rosenbrock: (1 - x)**2 + 100*(y - x**2)**2")
    expect(page.caption()).to_contain_text("(1 - x)**2 + 100*(y - x**2)**2", timeout=UPDATE)
    expect(page.page.get_by_label("Point", exact=True)).to_have_value("-1.2, 1")
    cell = page.cells("dual")[0]
    # ∇ = (−2(1−x) − 400x(y−x²), 200(y−x²)) at (−1.2, 1) = (−215.6, −88)
    values = [float(v) for v in re.findall(r"[-\d.e+]+", cell)]
    assert values == pytest.approx([-215.6, -88.0], rel=1e-14)
    page.screenshot("08-catalogue-rosenbrock")
