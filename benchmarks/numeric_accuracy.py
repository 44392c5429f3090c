"""Accuracy of diffx's finite differences against the 50-digit reference, and against
numdifftools and scipy.differentiate, on the catalogue and on a held-out set.

Run: ``python benchmarks/numeric_accuracy.py`` (needs the ``bench`` extra for the comparison:
``pip install -e .[bench]``; without it those columns are skipped). Prints six tables:

1. median correct digits per method (first derivatives; gradients for functions of several
   variables, normwise), catalogue and held-out set separately;
2. diffx Richardson vs numdifftools ``Derivative`` and ``scipy.differentiate.derivative`` (default
   settings): median relative error, median evaluations, NaN count, per function set;
3. automatic step vs the best step of a sweep (1e-16 … 1, 8 per decade): the fraction of
   functions where the automatic step's error is within 10× of the sweep's best;
4. error-estimate coverage: the fraction of functions where ``Estimate.error`` ≥ the true error;
5. what the kink and pole check (and the distance scale) cost where there is nothing to
   clear: time with them / without them;
6. what measuring f's noise costs: time and evaluations with it / without it.

Correct digits are −log10(relative error), clipped to [0, 16]. Every error is against
:mod:`diffx.reference`. Benchmarks are not tests: nothing here asserts.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import diffx
from diffx import catalog
from diffx.functions import Function, parse
from diffx.reference import reference_derivative, reference_gradient, to_float

METHODS: tuple[tuple[str, str, dict], ...] = (
    ("forward", "forward", {}),
    ("backward", "backward", {}),
    ("central", "central", {}),
    ("central adaptive", "central", {"step": "adaptive"}),
    ("central acc=4", "central", {"accuracy": 4}),
    ("richardson", "richardson", {}),
    ("complex-step", "complex-step", {}),
)
SWEEP = np.logspace(-16, 0, 129)  # 8 steps per decade
WITHIN = 10.0

# Standard test functions from the AD / numerical-differentiation literature, not used to tune
# diffx (name, expression, point).
HELD_OUT: tuple[tuple[str, str, float], ...] = (
    ("squire_trapp", "exp(x)/sqrt(sin(x)**3 + cos(x)**3)", 1.5),  # Squire & Trapp 1998
    ("lyness_moler", "exp(x)/sqrt(sin(x)**3 + cos(x)**3)", 0.5),  # Lyness & Moler 1967
    ("runge", "1/(1 + 25*x**2)", 0.2),
    ("power_9_2", "x**4.5", 1.5),
    ("exp_of_sin", "exp(sin(x))", 2.0),
    ("arctan_far", "arctan(x)", 10.0),
    ("cosh_neg", "cosh(x)", -3.0),
    ("sigmoid_tail", "sigmoid(x)", 5.0),
    ("arcsin_near_one", "arcsin(x)", 0.99),
    ("log_near_edge", "log(x)", 1e-6),
    ("reciprocal_near_pole", "1/x", 1e-3),
    ("tan_closer_to_pole", "tan(x)", 1.55),
    ("cbrt_near_edge", "x**(1/3)", 1e-5),
    ("sinh_large", "sinh(x)", 20.0),
    ("gaussian_tail", "exp(-x**2)", 3.0),
    ("x_sin_inverse", "x*sin(1/x)", 0.3),
    ("sqrt_one_plus", "sqrt(1 + x)", 1e4),
    ("softplus_neg", "softplus(x)", -4.0),
    ("ridders", "exp(x)*sin(x)**2", 0.8),
    ("poly_offset", "1e6 + x**3 - x", 0.7),
)


@dataclass
class Case:
    name: str
    fn: Function
    point: tuple[float, ...]
    reference: np.ndarray  # float (n,) gradient or (1,) derivative


def _cases(which: str) -> list[Case]:
    cases = []
    if which == "catalogue":
        for name in catalog.names():
            entry = catalog.get(name)
            fn = entry.function()
            if not entry.smooth or fn.is_vector_valued(len(entry.point)):
                continue
            cases.append(_case(name, fn, entry.point))
    else:
        for name, expression, x in HELD_OUT:
            cases.append(_case(name, parse(expression), (x,)))
    return cases


def _case(name: str, fn: Function, point: tuple[float, ...]) -> Case:
    if len(point) == 1:
        ref = np.array([to_float(reference_derivative(fn, point[0]))])
    else:
        ref = to_float(reference_gradient(fn, point))
    return Case(name, fn, point, ref)


def _relative(value: np.ndarray, ref: np.ndarray) -> float:
    value = np.atleast_1d(np.asarray(value, dtype=float))
    if not np.all(np.isfinite(value)):
        return math.inf
    norm = float(np.linalg.norm(ref))
    return float(np.linalg.norm(value - ref)) / (norm or 1.0)


def digits(rel: float) -> float:
    if rel == 0:
        return 16.0
    return float(min(16.0, max(0.0, -math.log10(rel)))) if math.isfinite(rel) else 0.0


def _run(case: Case, method: str, **options) -> diffx.Estimate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if len(case.point) == 1:
                return diffx.derivative(case.fn, case.point[0], method, full_output=True,
                                        **options)
            return diffx.gradient(case.fn, case.point, method, full_output=True, **options)
        except diffx.errors.UnsupportedError:  # complex step on a non-analytic function
            return None


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


# --------------------------------------------------------------------------------------------
def table_digits(sets: dict[str, list[Case]]) -> None:
    print("\n1. Median correct digits (first derivatives; gradients normwise)")
    print(f"{'method':<18}" + "".join(f"{s:>14}" for s in sets) + f"{'evals (med)':>14}")
    for label, method, options in METHODS:
        cells, evals = [], []
        for cases in sets.values():
            ds = []
            for case in cases:
                est = _run(case, method, **options)
                if est is None:
                    continue
                ds.append(digits(_relative(est.value, case.reference)))
                evals.append(est.evaluations)
            cells.append(f"{_median(ds):>10.1f} ({len(ds)})")
        print(f"{label:<18}" + "".join(f"{c:>14}" for c in cells) + f"{_median(evals):>14.0f}")


def _counted(fn: Function) -> tuple[Callable, list[int]]:
    count = [0]

    def g(t):
        count[0] += int(np.size(t))
        with np.errstate(all="ignore"):
            return np.asarray(fn(np.asarray(t, dtype=float)), dtype=float) * np.ones_like(t)

    return g, count


def _numdifftools(case: Case, budget: int | None = None) -> tuple[float, int]:
    """numdifftools.Derivative with its defaults; with ``budget``, num_steps = budget // 2
    (2 evaluations per step), the most steps within diffx's evaluations."""
    import numdifftools as nd

    g, count = _counted(case.fn)
    options = {} if budget is None else {"num_steps": max(budget // 2, 2)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = nd.Derivative(g, **options)(case.point[0])
    return _relative(value, case.reference), count[0]


def _scipy(case: Case, budget: int | None = None) -> tuple[float, int]:
    """scipy.differentiate.derivative with its defaults; with ``budget``, tolerances 0 and the
    most iterations within diffx's evaluations (9 points, then 2 per iteration)."""
    from scipy.differentiate import derivative

    g, count = _counted(case.fn)
    options = {} if budget is None else {
        "maxiter": max(1 + (budget - 9) // 2, 1), "tolerances": {"atol": 0, "rtol": 0}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = derivative(g, case.point[0], **options)
    return _relative(result.df, case.reference), count[0]


def table_comparison(sets: dict[str, list[Case]]) -> None:
    print("\n2. diffx richardson vs numdifftools Derivative vs scipy.differentiate.derivative "
          "(defaults; one-variable functions)")
    print("   'default': the tool's own defaults; 'budget': given at most diffx's evaluations "
          "on that function (scipy: tolerances 0)")
    budgets: dict[str, int] = {}

    def diffx_richardson(case: Case) -> tuple[float, int]:
        est = _run(case, "richardson")
        budgets[case.name] = est.evaluations
        return _relative(est.value, case.reference), est.evaluations

    runners: dict[str, Callable[[Case], tuple[float, int]]] = {
        "diffx richardson": diffx_richardson}
    try:
        import numdifftools  # noqa: F401

        runners["numdifftools"] = _numdifftools
        runners["numdifftools budget"] = lambda c: _numdifftools(c, budgets[c.name])
    except ImportError:
        print("   (numdifftools not installed: pip install -e .[bench])")
    try:
        import scipy.differentiate  # noqa: F401

        runners["scipy"] = _scipy
        runners["scipy budget"] = lambda c: _scipy(c, budgets[c.name])
    except ImportError:
        print("   (scipy >= 1.15 not installed: pip install -e .[bench])")
    print(f"{'set':<11}{'tool':<21}{'median rel err':>16}{'median digits':>15}"
          f"{'median evals':>14}{'max evals':>11}{'NaN':>5}{'diffx err <=':>14}")
    for set_name, cases in sets.items():
        scalar = [c for c in cases if len(c.point) == 1]
        results = {tool: [run(c) for c in scalar] for tool, run in runners.items()}
        ours = results["diffx richardson"]
        for tool, rows in results.items():
            errors = [e for e, _ in rows]
            evals = [n for _, n in rows]
            wins = sum(o[0] <= r[0] for o, r in zip(ours, rows))
            print(f"{set_name:<11}{tool:<21}{_median(errors):>16.2e}"
                  f"{_median([digits(e) for e in errors]):>15.1f}{_median(evals):>14.0f}"
                  f"{max(evals):>11d}{sum(not math.isfinite(e) for e in errors):>5d}"
                  f"{f'{wins}/{len(rows)}':>14}")


def _smoothed_minimum(errors: np.ndarray) -> float:
    """The sweep's best error, robust to lucky steps: the minimum over the grid of the running
    median of 5 neighbouring steps (a quarter decade either side). Rounding errors are
    pseudo-random in h, so the raw minimum of 129 steps is a lucky draw far below the error any
    rule could expect at that step (e.g. exactly 0 for a quadratic)."""
    padded = np.where(np.isfinite(errors), errors, np.inf)
    medians = [np.median(padded[max(0, i - 2):i + 3]) for i in range(padded.size)]
    return float(np.min(medians))


def table_auto_step(sets: dict[str, list[Case]]) -> None:
    print(f"\n3. Automatic step within {WITHIN:g}x of the best step of a sweep "
          f"(1e-16 … 1, 8 per decade; one-variable functions)")
    print("   best = minimum of the running median over 5 neighbouring steps (raw minimum in "
          "brackets: a lucky draw of the rounding error)")
    print(f"{'method':<18}" + "".join(f"{s:>22}" for s in sets) + "   misses (auto/best)")
    for label, method, options in (("forward", "forward", {}), ("central", "central", {}),
                                   ("central adaptive", "central", {"step": "adaptive"}),
                                   ("central acc=4", "central", {"accuracy": 4})):
        cells, misses = [], []
        for cases in sets.values():
            scalar = [c for c in cases if len(c.point) == 1]
            hits = raw_hits = 0
            for case in scalar:
                extra = {k: v for k, v in options.items() if k != "step"}
                errors = np.array([_relative(_run(case, method, step=float(h), **extra).value,
                                             case.reference) for h in SWEEP])
                auto = _relative(_run(case, method, **options).value, case.reference)
                floor = 4 * np.finfo(float).eps
                best = _smoothed_minimum(errors)
                if auto <= WITHIN * best or auto <= floor:
                    hits += 1
                else:
                    misses.append(f"{case.name} ({auto / max(best, 1e-300):.3g}x)")
                raw_hits += auto <= WITHIN * float(np.min(errors)) or auto <= floor
            share, raw = hits / len(scalar), raw_hits / len(scalar)
            cells.append(f"{hits}/{len(scalar)} {share:>4.0%} ({raw:.0%})")
        print(f"{label:<18}" + "".join(f"{c:>22}" for c in cells) + "   " + ", ".join(misses))


def table_estimates(sets: dict[str, list[Case]]) -> None:
    print("\n4. Error estimate >= true error (entry by entry), fraction of functions")
    print(f"{'method':<18}" + "".join(f"{s:>16}" for s in sets) + "   misses (true/estimate)")
    for label, method, options in METHODS:
        cells, misses = [], []
        for cases in sets.values():
            hits = total = 0
            for case in cases:
                est = _run(case, method, **options)
                if est is None:
                    continue
                total += 1
                true = np.abs(np.atleast_1d(est.value) - case.reference)
                bound = np.atleast_1d(est.error)
                if np.all(true <= bound):
                    hits += 1
                else:
                    misses.append(f"{case.name} ({float(np.max(true / bound)):.1f})")
            cells.append(f"{hits}/{total} {hits / total:>5.0%}")
        print(f"{label:<18}" + "".join(f"{c:>16}" for c in cells) + "   " + ", ".join(misses))


# functions with kinks or poles, at points whose stencils are clear of them (the check finds
# nothing)
KINKED = (("abs(x - 1)*sin(x)", "abs(x - 1)*sin(x)", (3.0,)),
          ("x/(1 + x**2) + tan(x)", "x/(1 + x**2) + tan(x)", (0.7,)),
          ("relu(x)*exp(-x) + abs(x + 2)", "relu(x)*exp(-x) + abs(x + 2)", (0.5,)),
          ("abs(x - 1)*sin(y) + relu(y)*x", "abs(x - 1)*sin(y) + relu(y)*x", (3.0, 2.0)),
          ("callable: np.abs(x - 1)*np.sin(x)", lambda x: np.abs(x - 1.0) * np.sin(x), (3.0,)))


def _switched_off(run: Callable[[], object],
                  *patches: tuple[object, dict[str, object]]) -> Callable[[], object]:
    """``run`` with a feature switched off: each (target, {attribute: replacement}) set for
    the call and restored after it (plain setattr: the switch itself must cost next to
    nothing, as it is inside the timed call)."""
    saved = [(target, name, getattr(target, name))
             for target, replacements in patches for name in replacements]

    def switched_off() -> object:
        for target, replacements in patches:
            for name, replacement in replacements.items():
                setattr(target, name, replacement)
        try:
            return run()
        finally:
            for target, name, original in saved:
                setattr(target, name, original)

    return switched_off


def table_kink_check(sets: dict[str, list[Case]]) -> None:
    """What keeping the stencils clear of kinks and poles, and scaling the step with the
    distance to them, cost where there is none to clear: time with both / time with both
    switched off, medians measured side by side. Each call
    is at a new point (an optimiser's path), so nothing recorded is reused."""
    from timing import side_by_side  # benchmarks/timing.py, next to this script

    from diffx.engines import numeric

    print("\n5. The kink and pole check's cost (singular arguments at x and at the stencil's "
          "ends: parsed f evaluates them, a callable is recorded; and, for parsed f, the "
          "distance to the nearest one that scales the step; a new point each call): "
          "time with them / without them")
    print(f"{'function':<34}{'central':>10}{'richardson':>12}")
    for label, f, point in KINKED:
        fn, ratios = parse(f) if isinstance(f, str) else f, []
        for method in ("central", "richardson"):
            moves = itertools.count()

            def run(fn=fn, method=method, point=point, moves=moves):
                at = np.array(point) + 1e-6 * next(moves)
                return diffx.gradient(fn, at, method) if len(at) > 1 else \
                    diffx.derivative(fn, float(at[0]), method)

            unchecked = _switched_off(run, (numeric, {
                "singular_arguments": lambda fn, x: None,
                "singular_distance": lambda fn, x, direction: None}))
            times = side_by_side({"with": run, "without": unchecked}, rounds=30)
            ratios.append(times["with"] / times["without"])
        print(f"{label:<34}" + "".join(f"{r:>10.2f}x" if i == 0 else f"{r:>11.2f}x"
                                        for i, r in enumerate(ratios)))


NOISE_CASES = (("sin(x)*exp(x)", "sin(x)*exp(x)", (1.3,)),
               ("logistic map (catalogue)", catalog.get("logistic_map").function(), (0.3,)),
               ("rosenbrock gradient", "(1 - x)**2 + 100*(y - x**2)**2", (-1.2, 1.0)),
               ("callable: np.sin(x)*np.exp(-x*x)", lambda x: np.sin(x) * np.exp(-x * x),
                (0.7,)))


def table_noise_cost(sets: dict[str, list[Case]]) -> None:
    """What measuring f's noise costs: time with it / without it (no noise points evaluated,
    the model ε|f| alone), medians side by side, a new point each call; and the evaluations."""
    from timing import side_by_side  # benchmarks/timing.py, next to this script

    from diffx.engines import numeric

    print("\n6. Measuring f's noise (9 points per stencil, ECnoise): time with it / without it, "
          "and evaluations with / without")
    print(f"{'function':<34}" + "".join(f"{m:>22}" for m in ("forward", "central", "acc=4")))
    for label, f, point in NOISE_CASES:
        fn, cells = parse(f) if isinstance(f, str) else f, []
        for method, options in (("forward", {}), ("central", {}), ("central", {"accuracy": 4})):
            moves = itertools.count()

            def run(fn=fn, method=method, point=point, moves=moves, options=options):
                at = np.array(point) + 1e-6 * next(moves)
                return diffx.gradient(fn, at, method, full_output=True, **options)

            unmeasured = _switched_off(
                run, (numeric._Stencil, {"_noise_points": lambda self, span: span[:0]}),
                (numeric, {"noise_level": lambda samples: np.zeros(np.shape(samples)[1:])}))
            times = side_by_side({"with": run, "without": unmeasured}, rounds=30)
            counts = f"{run().evaluations}/{unmeasured().evaluations}"
            cells.append(f"{times['with'] / times['without']:.2f}x {counts:>7}")
        print(f"{label:<34}" + "".join(f"{c:>22}" for c in cells))


def main(argv: list[str]) -> None:
    sets = {"catalogue": _cases("catalogue"), "held-out": _cases("held-out")}
    tables = {"digits": table_digits, "compare": table_comparison,
              "auto": table_auto_step, "estimates": table_estimates,
              "kinks": table_kink_check, "noise": table_noise_cost}
    for name in argv or list(tables):
        tables[name](sets)


if __name__ == "__main__":
    main(sys.argv[1:])
