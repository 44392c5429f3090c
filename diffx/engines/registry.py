"""The registry of differentiation methods: one record per method, read by every list of methods.

Each engine module declares its records (:class:`Engine`: name, family, one-line description,
what it can do, and its cores) and ``diffx.engines`` registers them; code outside diffx adds a
method with :func:`register`, or ships one in an installed package through the entry-point group
``diffx.methods`` (the way pytest finds plugins; loaded on first use of the registry, never by
``import diffx``). ``diffx.METHODS``, ``diffx methods``, compare's rows, the report's columns, the
explorer's checkboxes and optimize's method check are all read from here.

A core is a plain function. The one every method supplies is the Jacobian,
``jacobian(fn, x) -> ndarray (m, n)`` with ``fn`` a :class:`diffx.Function` (callable on a float64
vector) and ``x`` a float64 vector of shape (n,); the others are optional:
``derivative(fn, x: float, order) -> float`` (without it, order 1 comes from the Jacobian),
``hessian(fn, x) -> ndarray (n, n)``. Cores may return a value or an
:class:`~diffx.engines.estimate.Estimate`. Options a method takes (``step``, ``accuracy``,
``dtype``, ``mode``) are named in ``options`` and passed to its cores as keywords; the others are
refused before any core runs.

    >>> import numpy as np, diffx
    >>> from diffx.engines import registry
    >>> def central(fn, x, h=1e-5):
    ...     eye = np.eye(x.size) * h
    ...     columns = [(np.atleast_1d(fn(x + e)) - np.atleast_1d(fn(x - e))) / (2 * h)
    ...                for e in eye]
    ...     return np.stack(columns, axis=-1)
    >>> _ = registry.register("my-central", central, family="numeric",
    ...                       description="central difference, h = 1e-5")
    >>> "my-central" in diffx.METHODS
    True
    >>> round(diffx.derivative("x**3", 2.0, method="my-central"), 6)
    12.0
    >>> registry.unregister("my-central")
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from diffx.errors import DiffxError, PluginWarning

__all__ = [
    "DESCRIPTIONS",
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "FAMILY_NAMES",
    "METHODS",
    "OPTIONS",
    "Engine",
    "engine",
    "family_of",
    "methods",
    "register",
    "register_engine",
    "unregister",
]

ENTRY_POINT_GROUP = "diffx.methods"
FAMILY_NAMES = ("symbolic", "numeric", "automatic")
OPTIONS = frozenset({"step", "accuracy", "dtype", "mode"})


@dataclass(frozen=True)
class Engine:
    """One differentiation method: its name, family, description, capabilities and cores.

    Capabilities: ``options`` (keywords its cores take, from :data:`OPTIONS`); ``dtypes``
    (the first is the default); ``modes`` (``mode=`` values, e.g. TensorFlow's eager/graph);
    ``adaptive_step`` (takes ``step="adaptive"``); ``exact`` (exact up to rounding, so its
    estimates carry no error bound; default: every family but numeric); ``needs_tracing``
    (runs f on its own number type — SymPy symbols, duals, trace nodes, tensors — so f must be
    written with operations diffx knows; finite differences only evaluate f on floats).
    Hooks: ``value_and_derivative(kind, fn, x, order, **options) -> (f(x), value)`` for engines
    that evaluate f anyway (the point check then reads that value instead of evaluating f
    again); ``shortcut(f, x, order, variables, full_output) -> value | None``, tried first
    by ``derivative`` when no option is given (None: take the general path);
    ``warm_up()``, a one-off import that is no method's cost; ``check_options(**options)``,
    validation beyond names (e.g. a stencil's accuracy).
    """

    name: str
    family: str
    description: str
    jacobian: Callable[..., Any]
    derivative: Callable[..., Any] | None = None
    hessian: Callable[..., Any] | None = None
    options: frozenset[str] = frozenset()
    dtypes: tuple[str, ...] = ("float64",)
    modes: tuple[str, ...] = ()
    adaptive_step: bool = False
    exact: bool | None = None
    needs_tracing: bool = False
    value_and_derivative: Callable[..., Any] | None = None
    shortcut: Callable[..., Any] | None = None
    warm_up: Callable[[], Any] | None = None
    check_options: Callable[..., Any] | None = None
    extra: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise DiffxError(f"a method name must be a non-empty string, got {self.name!r}")
        if self.family not in FAMILY_NAMES:
            raise DiffxError(f"method {self.name!r}: family must be one of "
                             f"{', '.join(FAMILY_NAMES)}, got {self.family!r}")
        if not callable(self.jacobian):
            raise DiffxError(f"method {self.name!r}: the jacobian core must be callable")
        unknown = set(self.options) - OPTIONS
        if unknown:
            raise DiffxError(f"method {self.name!r}: unknown options {sorted(unknown)}; "
                             f"options are {', '.join(sorted(OPTIONS))}")
        if self.exact is None:
            object.__setattr__(self, "exact", self.family != "numeric")
        object.__setattr__(self, "options", frozenset(self.options))

    @property
    def max_order(self) -> int | None:
        """The highest derivative order this method computes (None: any)."""
        return None if self.derivative is not None else 1

    @property
    def default_dtype(self) -> str:
        return self.dtypes[0]

    def core(self, kind: str) -> Callable[..., Any] | None:
        """The core for ``kind`` in {"derivative", "jacobian", "hessian"} or a name in extra."""
        if kind in ("derivative", "jacobian", "hessian"):
            return getattr(self, kind)
        return self.extra.get(kind)


_ENGINES: dict[str, Engine] = {}
_plugins_loaded = False


def register_engine(*records: Engine, replace: bool = False) -> None:
    """Add ``records`` to the registry, in order (a name already taken needs ``replace``)."""
    for record in records:
        if not isinstance(record, Engine):
            raise DiffxError(f"register_engine takes Engine records, got {record!r}")
        if record.name in _ENGINES and not replace:
            raise DiffxError(f"method {record.name!r} is already registered "
                             f"(pass replace=True to replace it)")
        _ENGINES[record.name] = record


def register(name: str, jacobian: Callable[..., Any], *, family: str, description: str,
             replace: bool = False, **more: Any) -> Engine:
    """Register a method from its Jacobian core; returns its :class:`Engine` record.

    ``jacobian(fn, x) -> ndarray (m, n)``; ``family`` one of "symbolic", "numeric",
    "automatic"; ``description`` one line for ``diffx methods``. ``more`` are further fields
    of :class:`Engine` (``derivative=``, ``hessian=``, ``options=``, ``exact=`` …). The method
    then works with ``derivative`` (order 1 from the Jacobian unless a derivative core is
    given), ``gradient``, ``jacobian``, ``compare`` and ``diffx methods``; what it does not
    supply raises :class:`~diffx.errors.UnsupportedError`. See the module example.
    """
    known = set(Engine.__dataclass_fields__) - {"name", "family", "description", "jacobian"}
    unknown = set(more) - known
    if unknown:
        raise DiffxError(f"register({name!r}): unknown fields {sorted(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    record = Engine(name, family, description, jacobian, **more)
    _load_plugins()  # so a plugin's name cannot take this one's place later
    register_engine(record, replace=replace)
    return record


def unregister(name: str) -> None:
    """Remove a method (a plug-in's; tests use it to clean up)."""
    _load_plugins()
    if _ENGINES.pop(name, None) is None:
        raise DiffxError(f"method {name!r} is not registered")


def _load_plugins() -> None:
    """Register the methods that installed packages declare in the entry-point group
    ``diffx.methods``: each entry point names an :class:`Engine`, a sequence of them, or a
    function of no arguments that registers its methods itself. A plug-in that fails to load
    is skipped with a :class:`~diffx.errors.PluginWarning` naming it: one broken package must
    not take every method away."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = point.load()
            if isinstance(loaded, Engine):
                register_engine(loaded)
            elif isinstance(loaded, (list, tuple)):
                register_engine(*loaded)
            elif callable(loaded):
                loaded()
            else:
                raise DiffxError(f"{loaded!r} is neither an Engine nor a function")
        except Exception as exc:  # a plug-in's own failure, whatever it is
            warnings.warn(PluginWarning(
                f"diffx method plug-in {point.name!r} ({point.value}) was not loaded: "
                f"{type(exc).__name__}: {exc}"), stacklevel=3)


def reload_plugins() -> None:
    """Look at the entry points again (after installing a plug-in in a running session)."""
    global _plugins_loaded
    _plugins_loaded = False
    _load_plugins()


def _engines() -> dict[str, Engine]:
    _load_plugins()
    return _ENGINES


def engine(name: str) -> Engine:
    """The record of method ``name`` (DiffxError naming the choices if there is none)."""
    engines = _engines()
    if not isinstance(name, str) or name not in engines:
        raise DiffxError(f"unknown method {name!r}; choose one of {', '.join(engines)}")
    return engines[name]


def family_of(method: str) -> str:
    """The family of ``method``: "symbolic", "numeric" or "automatic"."""
    return engine(method).family


def methods(*, family: str | None = None, exact: bool | None = None, option: str | None = None,
            dtype: str | None = None, mode: str | None = None, order: int | None = None,
            needs_tracing: bool | None = None) -> tuple[str, ...]:
    """The registered method names, in registration order, that match every filter given.

    >>> methods(family="numeric")
    ('forward', 'backward', 'central', 'richardson', 'complex-step')
    >>> methods(dtype="float32")
    ('tape', 'tape-forward')
    """
    chosen = []
    for record in _engines().values():
        if family is not None and record.family != family:
            continue
        if exact is not None and record.exact != exact:
            continue
        if option is not None and option not in record.options:
            continue
        if dtype is not None and dtype not in record.dtypes:
            continue
        if mode is not None and mode not in record.modes:
            continue
        if order is not None and record.max_order is not None and order > record.max_order:
            continue
        if needs_tracing is not None and record.needs_tracing != needs_tracing:
            continue
        chosen.append(record.name)
    return tuple(chosen)


class _MethodNames(Sequence):
    """A live, read-only view of the registered names: ``diffx.METHODS`` stays current after a
    plug-in registers, even where it was imported by name. Compares equal to a tuple."""

    def __getitem__(self, index: Any) -> Any:
        return methods()[index]

    def __len__(self) -> int:
        return len(_engines())

    def __iter__(self) -> Iterator[str]:
        return iter(methods())

    def __contains__(self, name: object) -> bool:
        return name in _engines()

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, (tuple, list, _MethodNames))
                               else other)

    def __hash__(self) -> int:  # one view per process: hashed by identity
        return id(self)

    def __add__(self, other: Sequence[str]) -> tuple[str, ...]:
        return (*self, *other)

    def __repr__(self) -> str:
        return repr(methods())


class _FieldView(Mapping):
    """A live, read-only mapping method -> one field of its record."""

    def __init__(self, field_name: str):
        self._field = field_name

    def __getitem__(self, name: str) -> Any:
        if name not in _engines():
            raise KeyError(name)
        return getattr(_ENGINES[name], self._field)

    def __iter__(self) -> Iterator[str]:
        return iter(methods())

    def __len__(self) -> int:
        return len(_engines())

    def __repr__(self) -> str:
        return repr(dict(self))


METHODS: Sequence[str] = _MethodNames()
FAMILIES: Mapping[str, str] = _FieldView("family")
DESCRIPTIONS: Mapping[str, str] = _FieldView("description")
