"""Fixtures shared by several test modules."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import mpmath
import pytest

from diffx import errors

HOSTILE_FILE = Path(__file__).parent / "data" / "hostile.txt"


@pytest.fixture
def fifty_digits():
    """mpmath at 50 digits inside a test (a module-level ``mp.dps = 50`` would change mpmath
    for every test collected after that module)."""
    with mpmath.workdps(50):
        yield


@pytest.fixture(scope="session")
def hostile_corpus() -> tuple[tuple[str, type[errors.DiffxError]], ...]:
    """The hostile corpus (tests/data/hostile.txt): (decoded text, the DiffxError subclass
    parse() must raise) per line; a section header "# --- ... --- expect: LimitError" sets the
    class for the lines below it. Read once per session, before any test installs a canary."""
    expected, cases = None, []
    for line in HOSTILE_FILE.read_text(encoding="ascii").split("\n"):
        match = re.match(r"# --- .* --- expect: (\w+)$", line)
        if match:
            expected = getattr(errors, match.group(1))
            assert issubclass(expected, errors.DiffxError), line
        elif line and not line.startswith("#"):
            assert expected is not None, f"corpus line before any section: {line!r}"
            cases.append((codecs.decode(line, "unicode_escape"), expected))
    return tuple(cases)
