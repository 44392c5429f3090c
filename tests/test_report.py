"""diffx.report: the files, every section, the CSVs against compare(), and the no-overwrite rule."""

from __future__ import annotations

import csv
import math
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import mpmath
import pytest

from diffx import report
from diffx.cli import main
from diffx.compare import compare
from diffx.errors import DiffxError

CHEAP = {"functions": ["sin_exp"], "methods": ["central", "dual"], "quick": True,
         "progress": False}


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory) -> Path:
    """The quick report with every method (TensorFlow included), built once."""
    return report.build(tmp_path_factory.mktemp("r") / "report", quick=True, progress=False)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def partial_directories(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if ".partial-" in p.name]


# --- the files ----------------------------------------------------------------------------
def test_every_figure_is_a_real_png_and_svg(quick_report):
    for name in report.FIGURES:
        png = quick_report / "figures" / f"{name}.png"
        width, height = png_size(png)
        assert width >= 800 and height >= 400, (name, width, height)
        assert png.stat().st_size > 20_000, name  # not an empty canvas
        svg = (quick_report / "figures" / f"{name}.svg").read_text(encoding="utf-8")
        assert "<svg" in svg and svg.rstrip().endswith("</svg>"), name


def test_html_is_well_formed_with_every_section(quick_report):
    text = (quick_report / "index.html").read_text(encoding="utf-8")
    root = ET.fromstring(text.removeprefix("<!DOCTYPE html>"))  # XHTML-clean markup
    ids = {element.get("id") for element in root.iter("section")}
    assert ids == {"accuracy", "step", "timing", "scaling", "swell", "environment"}
    images = [element.get("src") for element in root.iter("img")]
    assert sorted(images) == sorted(f"figures/{name}.png" for name in report.FIGURES)
    links = [element.get("href") for element in root.iter("a")]
    for target in images + [link for link in links if not link.startswith("#")]:
        assert (quick_report / target).is_file(), target
    for heading in ("Accuracy", "Error vs step size", "Timing", "Scaling with dimension",
                    "Expression swell", "Environment"):
        assert heading in text
    assert "TensorFlow" in text and "quick mode" in text


def test_summary_has_every_section(quick_report):
    text = (quick_report / "summary.md").read_text(encoding="utf-8")
    for heading in ("## 1 Accuracy", "## 2 Error vs step size", "## 3 Timing",
                    "## 4 Scaling with dimension", "## 5 Expression swell", "## 6 Environment"):
        assert heading in text
    for name in report.FIGURES:
        if name != "estimates":
            assert f"figures/{name}.png" in text


def test_accuracy_csv_matches_compare(quick_report):
    rows = read_csv(quick_report / "tables" / "accuracy.csv")
    assert {r["function"] for r in rows} == set(report.QUICK_FUNCTIONS)
    mine = {r["method"]: r for r in rows if r["function"] == "sin_exp"}
    fresh = compare("sin(x)*exp(x)", 1.3, repeats=1)
    assert set(mine) == {row.method for row in fresh.rows}
    with mpmath.workdps(40):
        t = mpmath.mpf(1.3)
        truth = mpmath.exp(t) * (mpmath.sin(t) + mpmath.cos(t))
    for row in fresh.rows:
        written = mine[row.method]
        assert float(written["value"]) == pytest.approx(row.value, rel=1e-15, abs=0), row.method
        assert float(written["digits"]) == pytest.approx(row.digits, abs=0.05), row.method
        # and the error written is the error against the closed-form truth
        expected = float(abs(mpmath.mpf(float(written["value"])) - truth) / truth)
        assert float(written["rel_error"]) == pytest.approx(expected, rel=1e-6, abs=1e-30)


def test_numpy_code_is_measured_and_shown(quick_report):
    """The catalogue's numpy entries are in the default plan; the quick report's one numpy
    entry has its code in the CSV and a row marked [numpy] in the HTML's code table."""
    from diffx import catalog

    default = [entry.name for entry in report.plan().functions]
    assert set(catalog.names("numpy")) <= set(default)
    rows = [r for r in read_csv(quick_report / "tables" / "accuracy.csv")
            if r["function"] == "np_rosenbrock"]
    assert {r["expression"] for r in rows} == {catalog.get("np_rosenbrock").expression}
    assert "np.sum(" in rows[0]["expression"]
    # ∇ of Σ 100(x[i+1] − x[i]²)² + (1 − x[i])², written out by hand at the corpus point
    x = [float(v) for v in rows[0]["point"].split()]
    truth = [0.0] * len(x)
    for i in range(len(x) - 1):
        truth[i] += -400 * x[i] * (x[i + 1] - x[i] ** 2) - 2 * (1 - x[i])
        truth[i + 1] += 200 * (x[i + 1] - x[i] ** 2)
    dual = next(r for r in rows if r["method"] == "dual")
    written = [float(v) for v in dual["value"].strip("[]").split(",")]
    assert written == pytest.approx(truth, rel=1e-13)
    text = (quick_report / "index.html").read_text(encoding="utf-8")
    assert f"np_rosenbrock {report.NUMPY_MARK}" in text
    assert "numpy code (x: the point as one float vector)" in text
    summary = (quick_report / "summary.md").read_text(encoding="utf-8")
    assert "diffx.numpy_corpus" in summary and "np_rosenbrock [numpy]" in summary


def test_other_tables(quick_report):
    sweep = read_csv(quick_report / "tables" / "step_sweep.csv")
    methods = {r["method"] for r in sweep}
    assert methods == set(report.SWEEP_METHODS)
    assert sum(r["automatic"] == "true" for r in sweep) == len(methods)
    timing = read_csv(quick_report / "tables" / "timing.csv")
    assert {r["method"] for r in timing} >= {"function", "dual", "tape", "tape-graph"}
    scaling = read_csv(quick_report / "tables" / "scaling.csv")
    dual = [r for r in scaling if r["method"] == "dual"]
    assert [int(r["n"]) for r in dual] == [2, 8, 32]
    assert all(float(r["rel_error"]) < 1e-15 for r in dual if int(r["n"]) <= 8)
    swell = read_csv(quick_report / "tables" / "swell.csv")
    assert {r["family"] for r in swell} == {"logistic", "nested-sin"}
    for row in swell:
        assert int(row["derivative_cse_ops"]) <= int(row["derivative_ops"])
        if not math.isnan(float(row["dual_rel_error"])):
            assert float(row["dual_rel_error"]) < 1e-13


# --- never overwrite, never half-write ----------------------------------------------------
def test_a_non_empty_directory_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(DiffxError, match=r"not empty.*--force"):
        report.build(out, **CHEAP)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    assert (out / "thesis.tex").read_text() == "precious"
    assert partial_directories(tmp_path) == []


def test_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(DiffxError, match="not a directory"):
        report.build(tmp_path / "out", **CHEAP)


def test_force_replaces_only_the_reports_files(tmp_path):
    out = tmp_path / "report"
    (out / "figures").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me")
    (out / "figures" / "my_plot.png").write_bytes(b"mine")
    (out / "index.html").write_text("an old report")
    report.build(out, force=True, **CHEAP)
    assert (out / "notes.txt").read_text() == "keep me"
    assert (out / "figures" / "my_plot.png").read_bytes() == b"mine"
    assert "diffx comparison report" in (out / "index.html").read_text()
    assert (out / "figures" / "scaling.png").is_file()
    assert partial_directories(tmp_path) == []


def test_a_failure_half_way_leaves_nothing_behind(tmp_path, monkeypatch):
    saved = []
    save = report._save

    def disk_full_after_one_figure(fig, directory, name):
        if saved:
            raise RuntimeError("disk full")
        save(fig, directory, name)
        saved.append(directory / f"{name}.png")

    monkeypatch.setattr(report, "_save", disk_full_after_one_figure)
    with pytest.raises(RuntimeError, match="disk full"):
        report.build(tmp_path / "report", **CHEAP)
    assert saved  # the failure came half-way, after a file was written
    assert list(tmp_path.iterdir()) == []  # no report, no temporary directory


def test_an_empty_directory_is_used_and_progress_goes_to_stderr(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    report.build(out, **{**CHEAP, "progress": True})
    assert (out / "index.html").is_file()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "writing the report" in captured.err


# --- command line -------------------------------------------------------------------------
def test_cli_report_and_its_overwrite_rule(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["report", "--out", str(out), "--quick", "--functions", "sin_exp", "--methods",
            "central,dual", "--no-progress"]
    assert main(args) == 0
    assert f"report written to {out / 'index.html'}" in capsys.readouterr().out
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err


def test_cli_report_passes_its_options(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_build(out, **options):
        calls.append((out, options))
        return Path(out)

    monkeypatch.setattr(report, "build", fake_build)
    assert main(["report", "--out", str(tmp_path), "--force", "--functions", "tanh,sin_exp",
                 "--methods", "dual"]) == 0
    assert calls == [(str(tmp_path), {"functions": ["tanh", "sin_exp"], "methods": ["dual"],
                                      "quick": False, "force": True, "progress": True})]


def test_cli_sweep(tmp_path, capsys):
    plot = tmp_path / "sweep.png"
    assert main(["sweep", "sin(x)*exp(x)", "--at", "1.3", "--methods", "forward,central",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("relative error of f'(x) for sin(x)*exp(x) at x = 1.3")
    assert "central: best" in out and "truncation slope 2.0" in out
    assert png_size(plot)[0] >= 800
    assert main(["sweep", "sin(x)", "--at", "1", "--plot", str(plot)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_cli_sweep_rejects_a_method_without_a_step(capsys):
    assert main(["sweep", "sin(x)", "--at", "1", "--methods", "dual"]) == 2
    assert "step_sweep methods must be among" in capsys.readouterr().err


def test_importing_compare_and_report_stays_light():
    code = ("import sys, diffx, diffx.compare, diffx.report, diffx.cli; "
            "print(sorted(m for m in ('matplotlib', 'rich', 'tensorflow', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
