"""Fixtures shared by several test modules."""

from __future__ import annotations

import mpmath
import pytest


@pytest.fixture
def fifty_digits():
    """mpmath at 50 digits inside a test (a module-level ``mp.dps = 50`` would change mpmath
    for every test collected after that module)."""
    with mpmath.workdps(50):
        yield
