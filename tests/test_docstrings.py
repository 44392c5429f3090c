"""Every example in diffx's docstrings runs and prints what it says (pytest collects doctests
under tests/ only, so the package's modules are run here, one test per module)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import diffx

MODULES = sorted(info.name for info in pkgutil.walk_packages(diffx.__path__, "diffx."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                             verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"

