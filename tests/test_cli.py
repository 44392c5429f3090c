"""The diffx command line: output, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

import diffx
from diffx.cli import main


def test_compare_prints_the_table(capsys):
    assert main(["compare", "sin(x)*exp(x)", "--at", "1.3", "--methods", "central,dual",
                 "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("derivative of sin(x)*exp(x) at 1.3")
    dual_line = next(line for line in out.splitlines() if line.startswith("dual"))
    assert "4.5171133992728016" in dual_line  # e^1.3 (sin 1.3 + cos 1.3), 17 digits


def test_compare_gradient(capsys):
    assert main(["compare", "x*y", "--at", "2,3", "--methods", "dual", "--repeats", "1"]) == 0
    assert "[3, 2]" in capsys.readouterr().out.replace(".0", "")


def test_methods_lists_every_method(capsys):
    assert main(["methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(diffx.METHODS)


@pytest.mark.parametrize("argv, message", [
    (["compare", "sinn(x)", "--at", "1"], "unknown function 'sinn' (did you mean 'sin'?)"),
    (["compare", "__import__('os')", "--at", "1"], "unknown function '__import__'"),
    (["compare", "x", "--at", "1", "--methods", "magic"], "unknown method 'magic'"),
    (["compare", "x*y", "--at", "1"], "function of 2 variable(s)"),
])
def test_errors_are_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffx: error: ")
    assert message in err.splitlines()[0]
    assert "Traceback" not in err


def test_console_script_has_no_traceback():
    result = subprocess.run([sys.executable, "-m", "diffx.cli", "compare", "x y", "--at", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("diffx: error: syntax error")
    assert "Traceback" not in result.stderr


def test_bad_point_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "x", "--at", "one"])
    assert exit_info.value.code == 2


def test_figures_are_never_overwritten_without_force_and_written_atomically(tmp_path,
                                                                             capsys) -> None:
    out = tmp_path / "sweep.png"
    out.write_bytes(b"the user's file")
    args = ["sweep", "sin(x)", "--at", "1", "--per-decade", "1", "--plot", str(out)]
    assert main(args) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == b"the user's file"
    assert main([*args, "--force"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.png"]  # no temporary left


@pytest.mark.parametrize(("name", "message"), [("graph.xyz", "a figure is written as"),
                                               ("missing/graph.png", "does not exist")])
def test_bad_figure_paths_are_refused_before_any_work(tmp_path, capsys, name, message) -> None:
    assert main(["trace", "sin(x)", "--at", "1", "--plot", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffx: error:") and message in err and "Traceback" not in err
