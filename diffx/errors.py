"""The diffx exception hierarchy.

Every error diffx raises on purpose is a :class:`DiffxError`, so callers (and the CLI) can catch one
type. Messages say what was wrong, where (column, variable or point) and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "DiffxError",
    "DomainError",
    "DomainWarning",
    "LimitError",
    "NonDifferentiableError",
    "NonDifferentiableWarning",
    "ParseError",
    "PluginWarning",
    "UnsupportedError",
]


class DiffxError(Exception):
    """Base class of every error diffx raises deliberately."""


class ParseError(DiffxError, ValueError):
    """An expression string is malformed, uses a forbidden construct or an unknown name.

    ``column`` is the 0-based offset of the offending part in ``text`` (``None`` when unknown);
    ``str(error)`` shows the text with a caret under that column.
    """

    def __init__(self, message: str, text: str | None = None, column: int | None = None):
        self.message = message
        self.text = text
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        if self.text is None or self.column is None or len(self.text) > 200:
            return self.message
        return f"{self.message}\n  {self.text}\n  {' ' * self.column}^"


class DomainError(DiffxError, ValueError):
    """The point lies outside the real domain of the function (e.g. log of a negative number)."""


class DomainWarning(RuntimeWarning):
    """A value was evaluated outside its real domain and became NaN."""


class NonDifferentiableError(DiffxError, ValueError):
    """The function is not differentiable at the point (e.g. abs at 0, sqrt at 0)."""


class NonDifferentiableWarning(RuntimeWarning):
    """A derivative was taken at a point where the function is not differentiable."""


class UnsupportedError(DiffxError, NotImplementedError):
    """A method cannot do what was asked (e.g. complex step through abs)."""


class LimitError(DiffxError, ValueError):
    """The input exceeds a resource limit (length, nesting depth, size of a power)."""


class PluginWarning(UserWarning):
    """A method plug-in (entry-point group ``diffx.methods``) could not be loaded."""
