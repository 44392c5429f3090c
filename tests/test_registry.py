"""The registry of methods (diffx.engines.registry): a method defined in this file, registered
from outside diffx, appears in every list of methods and runs through every front end; entry
points install methods the way pytest finds plugins.

Truth: closed forms (d/dx x³ = 3x², d/dx sin = cos, ∂/∂x (x·y) = y); the plug-in is a central
difference with h = 1e-5, whose error for these functions is below 1e-8 relative.
"""

from __future__ import annotations

import io
import math
import sys
import textwrap
from contextlib import redirect_stdout

import numpy as np
import pytest

import diffx
from diffx import cli
from diffx.compare import compare
from diffx.engines import registry
from diffx.errors import DiffxError, PluginWarning, UnsupportedError

NAME = "test-central"
PLUGIN_TOLERANCE = 1e-8  # central difference, h = 1e-5: truncation f'''h²/6, rounding ε|f|/h


def central_jacobian(fn, x, h=1e-5):
    """A whole engine: the Jacobian (m, n) of fn at x by central differences."""
    columns = [(np.atleast_1d(fn(x + e)) - np.atleast_1d(fn(x - e))) / (2 * h)
               for e in np.eye(x.size) * h]
    return np.stack(columns, axis=-1)


@pytest.fixture
def plugin():
    record = registry.register(NAME, central_jacobian, family="numeric",
                               description="central difference, h = 1e-5 (a test plug-in)")
    try:
        yield record
    finally:
        registry.unregister(NAME)


# --- a method from outside diffx appears everywhere ---------------------------------------------
def test_a_registered_method_is_listed_everywhere(plugin):
    assert NAME in diffx.METHODS and diffx.METHODS[-1] == NAME
    assert diffx.engines.FAMILIES[NAME] == "numeric"
    assert diffx.engines.family_of(NAME) == "numeric"
    assert "test plug-in" in diffx.engines.DESCRIPTIONS[NAME]
    assert NAME in registry.methods(family="numeric")
    assert NAME not in registry.methods(exact=True)  # numeric methods are not exact by default


def test_diffx_methods_prints_it(plugin):
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["methods"]) == 0
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
    assert list(lines) == list(diffx.METHODS)
    assert "numeric" in lines[NAME] and "test plug-in" in lines[NAME]


def test_derivative_gradient_and_jacobian_come_from_its_jacobian_core(plugin):
    value = diffx.derivative("x**3", 2.0, method=NAME)
    assert abs(value - 12.0) / 12.0 < PLUGIN_TOLERANCE
    gradient = diffx.gradient(lambda v: v[0] * v[1], [2.0, 3.0], method=NAME)
    assert gradient.shape == (2,)
    assert np.allclose(gradient, [3.0, 2.0], rtol=PLUGIN_TOLERANCE, atol=0)
    jacobian = diffx.jacobian(lambda v: np.array([np.sin(v[0]), v[0] * v[1]]), [0.5, 2.0],
                              method=NAME)
    assert jacobian.shape == (2, 2)
    truth = np.array([[math.cos(0.5), 0.0], [2.0, 0.5]])
    assert np.allclose(jacobian, truth, rtol=PLUGIN_TOLERANCE, atol=1e-12)
    estimate = diffx.derivative("sin(x)", 0.3, method=NAME, full_output=True)
    assert estimate.method == NAME and estimate.error is None
    assert abs(estimate.value - math.cos(0.3)) < PLUGIN_TOLERANCE


def test_what_it_does_not_supply_is_refused_clearly(plugin):
    with pytest.raises(UnsupportedError, match=f"'{NAME}' computes no derivatives of order 2"):
        diffx.derivative("x**3", 2.0, method=NAME, order=2)
    with pytest.raises(UnsupportedError, match=f"'{NAME}' computes no Hessians"):
        diffx.hessian("x*y", [1.0, 2.0], method=NAME)
    with pytest.raises(DiffxError, match="takes no step="):
        diffx.derivative("x**3", 2.0, method=NAME, step=1e-3)
    with pytest.raises(UnsupportedError, match="dtype='float32' is available for 'tape'"):
        diffx.derivative("x**3", 2.0, method=NAME, dtype="float32")
    with pytest.raises(DiffxError, match=r"mode= .* is for 'tape' and 'tape-forward'"):
        diffx.derivative("x**3", 2.0, method=NAME, mode="graph")


def test_compare_gives_it_a_row_against_the_reference(plugin):
    result = compare("sin(x)*exp(x)", at=1.3, repeats=3)
    assert [row.method for row in result.rows] == list(diffx.METHODS)
    row = next(row for row in result.rows if row.method == NAME)
    truth = math.exp(1.3) * (math.sin(1.3) + math.cos(1.3))
    assert row.family == "numeric"
    assert abs(row.value - truth) / truth < PLUGIN_TOLERANCE
    assert row.rel_error == pytest.approx(abs(row.value - truth) / truth, rel=1e-6, abs=1e-16)
    assert NAME in str(result)


def test_the_explorer_offers_and_measures_it(plugin):
    from diffx.explore import Explorer

    explorer = Explorer("x**3", at=2.0)
    snapshot = explorer.update(details=False)
    assert [row.method for row in snapshot.rows] == list(diffx.METHODS)
    row = snapshot.row(NAME)
    assert row.status == "ok" and abs(row.value - 12.0) / 12.0 < PLUGIN_TOLERANCE
    # the step slider goes to the methods that take step= (its record has no such option)
    stepped = Explorer("x**3", at=2.0, step=1e-3).update(details=False)
    assert stepped.row("central").step == pytest.approx(1e-3, rel=1e-12)
    row = stepped.row(NAME)
    assert row.status == "ok" and abs(row.value - 12.0) / 12.0 < PLUGIN_TOLERANCE


def test_the_optimizer_takes_its_gradients(plugin):
    from diffx.optimize import minimize

    result = minimize("(x - 3)**2 + (y + 1)**2", [0.0, 0.0], method=NAME, lr=0.1, steps=200)
    assert np.allclose(result.x, [3.0, -1.0], atol=1e-8)  # the minimum, closed form


def test_after_unregistering_it_is_gone():
    registry.register(NAME, central_jacobian, family="numeric", description="temporary")
    registry.unregister(NAME)
    assert NAME not in diffx.METHODS
    with pytest.raises(DiffxError, match=f"unknown method '{NAME}'"):
        diffx.derivative("x", 1.0, method=NAME)


# --- records are checked when registered ------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"family": "magic"}, "family must be one of symbolic, numeric, automatic"),
    ({"family": "numeric", "options": {"colour"}}, "unknown options"),
    ({"family": "numeric", "speed": 3}, r"unknown fields \['speed'\]"),
])
def test_a_malformed_record_is_refused(kwargs, message):
    with pytest.raises(DiffxError, match=message):
        registry.register(NAME, central_jacobian, description="bad", **kwargs)
    assert NAME not in diffx.METHODS


def test_a_taken_name_is_refused_unless_replaced():
    with pytest.raises(DiffxError, match="'dual' is already registered"):
        registry.register("dual", central_jacobian, family="numeric", description="impostor")
    assert diffx.engines.FAMILIES["dual"] == "automatic"


def test_the_jacobian_core_must_be_callable():
    with pytest.raises(DiffxError, match="must be callable"):
        registry.register(NAME, "not a function", family="numeric", description="bad")


# --- the built-in records -----------------------------------------------------------------------
def test_built_in_methods_are_in_their_documented_order():
    assert tuple(diffx.METHODS) == ("symbolic", "forward", "backward", "central", "richardson",
                                    "complex-step", "dual", "tape", "tape-forward", "reverse")
    assert diffx.METHODS == tuple(diffx.METHODS)  # compares equal to a tuple


def test_capability_queries():
    assert registry.methods(family="numeric") == ("forward", "backward", "central",
                                                  "richardson", "complex-step")
    assert registry.methods(exact=True) == ("symbolic", "dual", "tape", "tape-forward",
                                            "reverse")
    assert registry.methods(dtype="float32") == ("tape", "tape-forward")
    assert registry.methods(mode="graph") == ("tape", "tape-forward")
    assert registry.methods(option="accuracy") == ("forward", "backward", "central",
                                                   "complex-step")
    assert registry.methods(needs_tracing=False) == registry.methods(family="numeric")


@pytest.mark.parametrize("method", diffx.METHODS)
def test_every_registered_method_differentiates_sin(method):
    """Each record's cores are wired to the right engine: sin′(0.7) = cos(0.7) (closed form)."""
    record = registry.engine(method)
    tolerance = 1e-13 if record.exact else 1e-7
    value = diffx.derivative("sin(x)", 0.7, method=method)
    assert abs(value - math.cos(0.7)) / math.cos(0.7) <= tolerance, method


# --- entry points: methods from installed packages ----------------------------------------------
def _install_fake_distribution(root, name, module, source, entry_points):
    """A distribution on sys.path as pip leaves one: a module and a .dist-info with entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[diffx.methods]\n" + entry_points)


def test_an_installed_package_adds_methods_through_entry_points(tmp_path, monkeypatch):
    _install_fake_distribution(tmp_path, "diffx_demo_plugin", "diffx_demo_plugin", """
        import numpy as np
        from diffx.engines.registry import Engine

        def jacobian(fn, x, h=1e-5):
            return np.stack([(np.atleast_1d(fn(x + e)) - np.atleast_1d(fn(x - e))) / (2 * h)
                             for e in np.eye(x.size) * h], axis=-1)

        ENGINE = Engine("demo-central", "numeric", "a method from an installed package",
                        jacobian=jacobian)
        """, "demo = diffx_demo_plugin:ENGINE\n")
    _install_fake_distribution(tmp_path, "diffx_broken_plugin", "diffx_broken_plugin",
                               "raise ImportError('a missing dependency')\n",
                               "broken = diffx_broken_plugin:ENGINE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.warns(PluginWarning, match="'broken'.*a missing dependency"):
            registry.reload_plugins()
        assert "demo-central" in diffx.METHODS
        value = diffx.derivative("x**3", 2.0, method="demo-central")
        assert abs(value - 12.0) / 12.0 < PLUGIN_TOLERANCE
    finally:
        if "demo-central" in diffx.METHODS:
            registry.unregister("demo-central")
        sys.modules.pop("diffx_demo_plugin", None)
        sys.modules.pop("diffx_broken_plugin", None)
    assert "demo-central" not in diffx.METHODS


def test_import_diffx_does_not_scan_entry_points():
    """Entry points are read on the registry's first use, not at import (import stays light):
    with entry_points() made to fail, ``import diffx`` succeeds and the first listing fails."""
    import subprocess

    code = textwrap.dedent("""
        import importlib.metadata
        def refuse(**kwargs):
            raise RuntimeError("entry points scanned")
        importlib.metadata.entry_points = refuse
        import diffx
        print("imported")
        try:
            list(diffx.METHODS)
        except RuntimeError as exc:
            print(exc)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split("\n")[:2] == ["imported", "entry points scanned"]
