"""Every entry of diffx's array rule table (:mod:`diffx.array_rules`), through every engine
that reads it, against an independent truth.

Each case is a numpy function of a vector x (reshaped inside as the case needs) and its
reference: the same computation written on 50-digit mpmath numbers (object arrays of
``mpmath.mpf``, with explicit formulas or mpmath's own linear algebra). The expected value is
the reference's; the expected Jacobian is its central difference at 60-digit working precision
with h = 1e-25 (truncation ~h²·f''' ≈ 1e-50, rounding ~1e-60/h = 1e-35): no diffx engine is
involved. Ties (kinks) have closed forms written by hand, since a difference quotient there
is not the table's convention.

Tolerance: relative error ≤ 1e-13, measured against the largest entry of the expected value
or Jacobian (a norm-wise relative error: an entry that is 0 exactly must come out ≤ 1e-13 of
the scale). Linear algebra (det, inv, solve, slogdet) is allowed 1e-12 times the condition
number of the matrix: LU factorisation in double precision is backward stable, not exact.

``ARRAY_ENGINES`` is the parametrisation: engines reading the table join it as they land.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest

import diffx
from diffx.array_rules import ARRAY_RULES
from diffx.engines import dual_speed
from diffx.engines.dual import Dual
from diffx.engines.dual import jvp as dual_jvp
from diffx.errors import NonDifferentiableWarning, UnsupportedError

ARRAY_ENGINES = ("dual", "reverse", "symbolic")
RTOL = 1e-13
LINALG_RTOL = 1e-12  # times the condition number (see the module docstring)

mp = mpmath.mp
mp.dps = 50


def vectorised(f: Callable) -> Callable:
    return np.vectorize(f, otypes=[object])


msin, mcos, mexp, msqrt, mabs = (vectorised(f) for f in (
    mpmath.sin, mpmath.cos, mpmath.exp, mpmath.sqrt, abs))


def mmax(a, axis=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims)  # object arrays: Python's comparisons


def to_mp(x) -> np.ndarray:
    return np.array([mpmath.mpf(float(v)) for v in np.ravel(x)], dtype=object)


def flat(out) -> np.ndarray:
    if isinstance(out, (list, tuple)):
        return np.concatenate([flat(o) for o in out]) if out else np.array([], dtype=object)
    return np.ravel(np.asarray(out, dtype=object))


def truth(reference: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference's value and Jacobian (central differences at 60 digits, h = 1e-25)."""
    with mpmath.workdps(60):
        point = to_mp(x)
        h = mpmath.mpf(10) ** -25
        value = flat(reference(point.copy()))
        columns = []
        for j in range(point.size):
            up, down = point.copy(), point.copy()
            up[j] += h
            down[j] -= h
            columns.append((flat(reference(up)) - flat(reference(down))) / (2 * h))
        jacobian = np.array(columns, dtype=object).T.reshape(value.size, point.size)
    return value.astype(float), jacobian.astype(float)


@dataclass(frozen=True)
class Case:
    name: str
    covers: tuple  # the ARRAY_RULES entries this case exercises
    f: Callable
    reference: Callable
    x: tuple = (0.7, -1.3, 2.1, 0.4, -0.6, 1.9)
    rtol: float = RTOL


def M(x):  # the 6 coordinates as a 2 × 3 matrix
    return np.reshape(x, (2, 3))


def T3(x):  # ... as a 1 × 2 × 3 array
    return np.reshape(x, (1, 2, 3))


def S(x):  # 9 coordinates as a well-conditioned 3 × 3 matrix
    return np.reshape(x, (3, 3)) + 4.0 * np.eye(3)


X9 = (0.7, -1.3, 2.1, 0.4, -0.6, 1.9, 0.3, 1.1, -0.8)
W = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]])


def mp_prod(values):
    result = mpmath.mpf(1)
    for v in values:
        result *= v
    return result


def mp_matrix(a) -> mpmath.matrix:
    return mpmath.matrix(np.asarray(a, dtype=object).tolist())


def from_mp(m: mpmath.matrix) -> np.ndarray:
    return np.array(m.tolist(), dtype=object)


def mp_sinc(x):
    return mpmath.sin(mpmath.pi * x) / (mpmath.pi * x)


def mp_var(a, axis=None, ddof=0, keepdims=False):
    mean = np.sum(a, axis=axis, keepdims=True) / (a.size // np.sum(a, axis=axis,
                                                                    keepdims=True).size)
    count = a.size // mean.size
    return np.sum((a - mean) ** 2, axis=axis, keepdims=keepdims) / (count - ddof)


def mp_cumprod(a, axis):
    a = np.moveaxis(np.asarray(a, dtype=object), axis, 0).copy()
    for i in range(1, len(a)):
        a[i] = a[i - 1] * a[i]
    return np.moveaxis(a, 0, axis)


def mp_cross(a, b):
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]], dtype=object)


def mp_linspace(start, stop, num, endpoint=True):
    div = num - 1 if endpoint else num
    points = [start + i * (stop - start) / div for i in range(num)]
    if endpoint:
        points[-1] = stop
    return np.array(points, dtype=object)


MASK = np.array([False, True, False, False, True, False])

CASES = [
    # linear
    Case("sum-axis0", (np.sum,), lambda x: np.sum(M(x) ** 2, axis=0),
         lambda x: np.sum(M(x) ** 2, axis=0)),
    Case("sum-axis-1-keepdims", (np.sum,), lambda x: np.sum(M(x) * W, axis=-1, keepdims=True),
         lambda x: np.sum(M(x) * W, axis=-1, keepdims=True)),
    Case("sum-tuple", (np.sum,), lambda x: np.sum(T3(x) ** 3, axis=(0, 2)),
         lambda x: np.sum(T3(x) ** 3, axis=(0, 2))),
    Case("sum-none-method", (np.sum,), lambda x: (M(x) * M(x)).sum(),
         lambda x: np.sum(M(x) * M(x))),
    Case("mean", (np.mean,), lambda x: np.mean(np.sin(M(x)), axis=1),
         lambda x: np.sum(msin(M(x)), axis=1) / 3),
    Case("cumsum", (np.cumsum,), lambda x: np.cumsum(M(x) ** 2),
         lambda x: np.cumsum(M(x) ** 2)),
    Case("cumsum-axis", (np.cumsum,), lambda x: np.cumsum(M(x) * W, axis=-2),
         lambda x: np.cumsum(M(x) * W, axis=0)),
    Case("transpose", (np.transpose,), lambda x: np.transpose(T3(x) ** 2, (2, 0, 1)),
         lambda x: np.transpose(T3(x) ** 2, (2, 0, 1))),
    Case("transpose-methods", (np.transpose,), lambda x: M(x).T * W.T + M(x).transpose(1, 0),
         lambda x: M(x).T * W.T + M(x).T),
    Case("broadcast_to", (np.broadcast_to,), lambda x: np.broadcast_to(x[:3] ** 2, (2, 2, 3)),
         lambda x: np.broadcast_to(x[:3] ** 2, (2, 2, 3))),
    Case("concatenate", (np.concatenate,),
         lambda x: np.concatenate([M(x), 2.0 * W, M(x) ** 2], axis=-1),
         lambda x: np.concatenate([M(x), 2 * W, M(x) ** 2], axis=-1)),
    Case("concatenate-none", (np.concatenate,), lambda x: np.concatenate([M(x), x], axis=None),
         lambda x: np.concatenate([np.ravel(M(x)), x])),
    Case("stack", (np.stack,), lambda x: np.stack([M(x), W, M(x) ** 2], axis=1),
         lambda x: np.stack([M(x), W, M(x) ** 2], axis=1)),
    Case("copy-real", (np.copy, np.real), lambda x: np.copy(x) * np.real(x),
         lambda x: x * x),
    Case("diag-vector", (np.diag,), lambda x: np.diag(x ** 2, k=1),
         lambda x: np.diag(x ** 2, k=1)),
    Case("diag-matrix", (np.diag,), lambda x: np.diag(M(x) * W, -1),
         lambda x: np.diag(M(x) * W, -1)),
    Case("diagonal", (np.diagonal,), lambda x: np.diagonal(T3(x), 1, axis1=2, axis2=1),
         lambda x: np.diagonal(T3(x), 1, axis1=2, axis2=1)),
    Case("diagonal-method", (np.diagonal,), lambda x: M(x).diagonal() * 3,
         lambda x: np.diagonal(M(x)) * 3),
    Case("triu-tril", (np.triu, np.tril), lambda x: np.triu(M(x), 1) + np.tril(M(x) ** 2, -1),
         lambda x: np.triu(M(x), 1) + np.tril(M(x) ** 2, -1)),
    Case("triu-vector", (np.triu,), lambda x: np.triu(x[:3]), lambda x: np.triu(x[:3])),
    Case("tril-batched", (np.tril,), lambda x: np.tril(T3(x) * 2), lambda x: np.tril(T3(x) * 2)),
    Case("repeat", (np.repeat,), lambda x: np.repeat(M(x), [1, 2], axis=0),
         lambda x: np.repeat(M(x), [1, 2], axis=0)),
    Case("repeat-none-method", (np.repeat,), lambda x: M(x).repeat(2) * 1.5,
         lambda x: np.repeat(M(x), 2) * mpmath.mpf(1.5)),
    Case("tile", (np.tile,), lambda x: np.tile(M(x), 2), lambda x: np.tile(M(x), 2)),
    Case("tile-more-reps", (np.tile,), lambda x: np.tile(M(x), (2, 1, 2)),
         lambda x: np.tile(M(x), (2, 1, 2))),
    Case("roll-none", (np.roll,), lambda x: np.roll(M(x) ** 2, 2),
         lambda x: np.roll(M(x) ** 2, 2)),
    Case("roll-axes", (np.roll,), lambda x: np.roll(M(x), (1, -1), axis=(0, -1)),
         lambda x: np.roll(M(x), (1, -1), axis=(0, 1))),
    Case("flip", (np.flip,), lambda x: np.flip(M(x) * W) + np.flip(M(x), axis=-1),
         lambda x: np.flip(M(x) * W) + np.flip(M(x), axis=1)),
    Case("fliplr-flipud", (np.fliplr, np.flipud), lambda x: np.fliplr(M(x)) * np.flipud(M(x)),
         lambda x: np.fliplr(M(x)) * np.flipud(M(x))),
    Case("rot90", (np.rot90,), lambda x: np.rot90(T3(x), 3, axes=(2, 1)),
         lambda x: np.rot90(T3(x), 3, axes=(2, 1))),
    Case("swapaxes", (np.swapaxes,),
         lambda x: np.swapaxes(T3(x), 0, -1) * 2 + M(x).swapaxes(0, 1)[:, :, None] ** 2,
         lambda x: np.swapaxes(T3(x), 0, 2) * 2 + M(x).T[:, :, None] ** 2),
    Case("moveaxis", (np.moveaxis,), lambda x: np.moveaxis(T3(x) ** 2, [0, 1], [-1, 0]),
         lambda x: np.moveaxis(T3(x) ** 2, [0, 1], [2, 0])),
    Case("pad", (np.pad,), lambda x: np.pad(M(x), ((1, 0), (2, 1))),
         lambda x: np.pad(M(x), ((1, 0), (2, 1)), constant_values=mpmath.mpf(0))),
    Case("pad-constant-zero", (np.pad,), lambda x: np.pad(x, 2, mode="constant",
                                                          constant_values=0) ** 2,
         lambda x: np.pad(x, 2, constant_values=mpmath.mpf(0)) ** 2),
    Case("pad-edge-reflect", (np.pad,), lambda x: np.pad(x, 2, mode="edge") ** 2
         + np.pad(x, (1, 3), mode="reflect") ** 3 + np.pad(x, 2, mode="wrap"),
         lambda x: np.pad(x, 2, mode="edge") ** 2 + np.pad(x, (1, 3), mode="reflect") ** 3
         + np.pad(x, 2, mode="wrap")),
    Case("diff", (np.diff,), lambda x: np.concatenate([np.diff(x) ** 2, np.ravel(
         np.diff(M(x), n=2, axis=-1)), np.ravel(np.diff(M(x), axis=0))]),
         lambda x: np.array([(x[i + 1] - x[i]) ** 2 for i in range(5)]
                            + [x[i + 2] - 2 * x[i + 1] + x[i] for i in (0, 3)]
                            + [x[i + 3] - x[i] for i in range(3)], dtype=object)),
    Case("piecewise", (np.piecewise,), lambda x: np.piecewise(
         x, [x < 0, x > 1.5], [lambda v: v ** 2, lambda v: 3 * v, lambda v: np.sin(v)]),
         lambda x: np.array([v ** 2 if v < 0 else 3 * v if v > 1.5 else mpmath.sin(v)
                             for v in x], dtype=object)),
    Case("take", (np.take,), lambda x: np.take(M(x), [2, 0, 2], axis=-1),
         lambda x: np.take(M(x), [2, 0, 2], axis=1)),
    Case("take-flat", (np.take,), lambda x: np.take(M(x), [[5, 0], [1, 1]]),
         lambda x: np.take(np.ravel(M(x)), [[5, 0], [1, 1]])),
    Case("split", (np.split,), lambda x: (lambda a, b, c: a * b - c)(*np.split(M(x), 3, axis=1)),
         lambda x: M(x)[:, :1] * M(x)[:, 1:2] - M(x)[:, 2:]),
    Case("array_split", (np.array_split,),
         lambda x: np.concatenate([p * (i + 1) for i, p in enumerate(np.array_split(x, 4))]),
         lambda x: np.concatenate([x[:2], 2 * x[2:4], 3 * x[4:5], 4 * x[5:]])),
    # reshape
    Case("reshape-ravel", (np.reshape, np.ravel),
         lambda x: np.ravel(np.reshape(x, (3, 2)).T) * M(x).reshape(6) + M(x).flatten(),
         lambda x: np.ravel(np.reshape(x, (3, 2)).T) * x + x),
    Case("squeeze-expand_dims", (np.squeeze, np.expand_dims),
         lambda x: np.squeeze(np.expand_dims(M(x), 1) ** 2, axis=1) + T3(x).squeeze(),
         lambda x: M(x) ** 2 + M(x)),
    Case("atleast", (np.atleast_1d, np.atleast_2d),
         lambda x: np.atleast_1d(x[0] * x[1]) * np.atleast_2d(x[2:]),
         lambda x: np.array([[x[0] * x[1] * v for v in x[2:]]], dtype=object)),
    # bilinear, multilinear
    Case("dot", (np.dot,), lambda x: np.dot(M(x), x[:3]) + M(x).dot(np.ones(3)),
         lambda x: np.dot(M(x), x[:3]) + np.sum(M(x), axis=1)),
    Case("matmul", (np.matmul,), lambda x: M(x) @ M(x).T @ W,
         lambda x: np.dot(np.dot(M(x), M(x).T), W)),
    Case("einsum-explicit", (np.einsum,), lambda x: np.einsum("ij,kj->ik", M(x), M(x) ** 2),
         lambda x: np.dot(M(x), (M(x) ** 2).T)),
    Case("einsum-implicit", (np.einsum,), lambda x: np.einsum("ji,j", M(x), x[:2]),
         lambda x: np.dot(x[:2], M(x))),
    Case("einsum-ellipsis-three", (np.einsum,),
         lambda x: np.einsum("...j,j,i->...i", M(x), x[:3], W[0]),
         lambda x: np.array([[np.dot(M(x)[r], x[:3]) * w for w in W[0]] for r in range(2)],
                            dtype=object)),
    Case("einsum-trace", (np.einsum,), lambda x: np.einsum("ii", S(X9_OF(x))),
         lambda x: np.trace(S(X9_OF(x)))),
    # selection
    Case("where", (np.where,), lambda x: np.where(x > 0, x ** 2, -3.0 * x),
         lambda x: np.array([v ** 2 if v > 0 else -3 * v for v in x], dtype=object)),
    Case("select", (np.select,),
         lambda x: np.select([x < -1, x > 1], [x ** 2, 3.0 * x], default=-x),
         lambda x: np.array([v ** 2 if v < -1 else 3 * v if v > 1 else -v for v in x],
                            dtype=object)),
    Case("select-no-default", (np.select,), lambda x: np.select([x > 0], [np.sin(x)]),
         lambda x: np.array([mpmath.sin(v) if v > 0 else mpmath.mpf(0) for v in x],
                            dtype=object)),
    # extremum (no ties here; ties below)
    Case("max-axis0", (np.max,), lambda x: np.max(M(x) * W, axis=0),
         lambda x: mmax(M(x) * W, axis=0)),
    Case("max-none-keepdims", (np.max,), lambda x: np.max(M(x) ** 2, keepdims=True),
         lambda x: mmax(M(x) ** 2, keepdims=True)),
    Case("min-axis-1", (np.min,), lambda x: np.min(M(x), axis=-1),
         lambda x: np.min(M(x), axis=1)),
    Case("amax-tuple", (np.amax,), lambda x: np.amax(T3(x), axis=(0, 2), keepdims=True),
         lambda x: mmax(T3(x), axis=(0, 2), keepdims=True)),
    Case("amin-methods", (np.amin, np.max, np.min),
         lambda x: np.amin(M(x), axis=1) + M(x).max(axis=1) * M(x).min(),
         lambda x: np.min(M(x), axis=1) + mmax(M(x), axis=1) * np.min(M(x))),
    # product
    Case("prod-none", (np.prod,), lambda x: np.prod(x), lambda x: mp_prod(x)),
    Case("prod-axis-keepdims", (np.prod,), lambda x: np.prod(M(x), axis=-1, keepdims=True),
         lambda x: np.array([[mp_prod(r)] for r in M(x)], dtype=object)),
    Case("prod-tuple-zero", (np.prod,), lambda x: np.prod(T3(x), axis=(0, 1)),
         lambda x: np.array([mp_prod(T3(x)[:, :, c].ravel()) for c in range(3)], dtype=object),
         x=(0.7, 0.0, 2.1, 0.4, -0.6, 0.0)),
    Case("prod-two-zeros-method", (np.prod,), lambda x: M(x).prod(),
         lambda x: mp_prod(x), x=(0.0, -1.3, 2.1, 0.0, -0.6, 1.9)),
    Case("cumprod-none-zero", (np.cumprod,), lambda x: np.cumprod(M(x)),
         lambda x: mp_cumprod(x, 0), x=(0.7, -1.3, 0.0, 0.4, -0.6, 1.9)),
    Case("cumprod-axis-method", (np.cumprod,), lambda x: np.cumprod(M(x), axis=1) + M(x).cumprod(0),
         lambda x: mp_cumprod(M(x), 1) + mp_cumprod(M(x), 0), x=(0.7, 0.0, 2.1, 0.0, -0.6, 1.9)),
    # matrix
    Case("det", (np.linalg.det,), lambda x: np.linalg.det(S(x)),
         lambda x: mpmath.det(mp_matrix(S(x))), x=X9, rtol=LINALG_RTOL),
    Case("inv", (np.linalg.inv,), lambda x: np.linalg.inv(S(x)),
         lambda x: from_mp(mpmath.inverse(mp_matrix(S(x)))), x=X9, rtol=LINALG_RTOL),
    Case("solve-vector", (np.linalg.solve,), lambda x: np.linalg.solve(S(x), x[:3] ** 2),
         lambda x: from_mp(mpmath.lu_solve(mp_matrix(S(x)), mpmath.matrix(list(x[:3] ** 2)))),
         x=X9, rtol=LINALG_RTOL),
    Case("solve-matrix-constant-a", (np.linalg.solve,),
         lambda x: np.linalg.solve(S(np.array(X9)), np.reshape(x, (3, 3))[:, :2]),
         lambda x: from_mp(mpmath.inverse(mp_matrix(S(to_mp(X9)))) * mp_matrix(
             np.reshape(x, (3, 3))[:, :2])), x=X9, rtol=LINALG_RTOL),
    Case("slogdet", (np.linalg.slogdet,),
         lambda x: np.linalg.slogdet(S(x) - 8.0 * np.eye(3))[1] * np.linalg.slogdet(S(x))[0],
         lambda x: mpmath.log(abs(mpmath.det(mp_matrix(S(x) - 8 * np.eye(3))))),
         x=X9, rtol=LINALG_RTOL),
    # composed
    Case("clip", (np.clip,), lambda x: np.clip(x, -1.0, 1.0) + M(x).clip(0.5).ravel(),
         lambda x: np.array([min(max(v, -1), 1) + max(v, mpmath.mpf(0.5)) for v in x],
                            dtype=object)),
    Case("hstack-vstack", (np.hstack, np.vstack),
         lambda x: np.vstack([np.hstack([x[:2], x[2] ** 2]), x[3:]]),
         lambda x: np.array([[x[0], x[1], x[2] ** 2], list(x[3:])], dtype=object)),
    Case("trace", (np.trace,), lambda x: np.trace(T3(x), 1, axis1=1, axis2=2) + M(x).trace(),
         lambda x: np.array([x[1] + x[5] + x[0] + x[4]], dtype=object)),
    Case("append", (np.append,), lambda x: np.append(M(x), x[:3] ** 2),
         lambda x: np.concatenate([x, x[:3] ** 2])),
    Case("append-axis", (np.append,), lambda x: np.append(M(x), W * M(x), axis=0),
         lambda x: np.concatenate([M(x), W * M(x)], axis=0)),
    Case("column_stack", (np.column_stack,), lambda x: np.column_stack([x[:3], M(x).T]),
         lambda x: np.concatenate([np.reshape(x[:3], (3, 1)), M(x).T], axis=1)),
    Case("average", (np.average,),
         lambda x: np.average(M(x), axis=1, weights=[1.0, 2.0, 3.0]) + np.average(M(x) ** 2),
         lambda x: (M(x)[:, 0] + 2 * M(x)[:, 1] + 3 * M(x)[:, 2]) / 6 + np.sum(x ** 2) / 6),
    Case("average-weights-shape", (np.average,),
         lambda x: np.average(M(x), axis=0, weights=np.abs(W), keepdims=True),
         lambda x: np.sum(M(x) * np.abs(W), axis=0, keepdims=True) / np.sum(np.abs(W), axis=0)),
    Case("var-std", (np.var, np.std),
         lambda x: np.var(M(x), axis=0, ddof=1) + np.std(M(x), axis=-1, keepdims=True).ravel()[0]
         + M(x).std() + M(x).var(axis=1)[1],
         lambda x: mp_var(M(x), axis=0, ddof=1) + msqrt(mp_var(M(x), axis=1))[0]
         + mpmath.sqrt(mp_var(M(x))) + mp_var(M(x), axis=1)[1]),
    Case("norm-vector", (np.linalg.norm,),
         lambda x: np.stack([np.linalg.norm(x), np.linalg.norm(x, 2), np.linalg.norm(x, 1),
                             np.linalg.norm(x, np.inf), np.linalg.norm(x, -np.inf),
                             np.linalg.norm(x, 3)]),
         lambda x: np.array([mpmath.sqrt(np.sum(x * x)), mpmath.sqrt(np.sum(x * x)),
                             np.sum(mabs(x)), max(mabs(x)), min(mabs(x)),
                             np.sum(mabs(x) ** 3) ** (mpmath.mpf(1) / 3)], dtype=object)),
    Case("norm-matrix-axis", (np.linalg.norm,),
         lambda x: np.linalg.norm(M(x), "fro") + np.linalg.norm(M(x), axis=1, keepdims=True)
         + np.linalg.norm(M(x), 1, axis=-1),
         lambda x: mpmath.sqrt(np.sum(x * x)) + msqrt(np.sum(M(x) ** 2, axis=1, keepdims=True))
         + np.sum(mabs(M(x)), axis=1)),
    Case("outer-inner-vdot", (np.outer, np.inner, np.vdot),
         lambda x: np.outer(x[:2], M(x)) + np.inner(M(x), M(x) ** 2)[0, 1] + np.vdot(M(x), W)
         + np.inner(x[0], x[1]),
         lambda x: np.array([[a * b for b in x] for a in x[:2]], dtype=object)
         + np.dot(M(x)[0], M(x)[1] ** 2) + np.sum(x * W.ravel()) + x[0] * x[1]),
    Case("kron", (np.kron,), lambda x: np.kron(M(x), W[:, :2]) + np.kron(x[:2], M(x)).sum(),
         lambda x: np.array([[M(x)[i // 2, j // 2] * W[i % 2, j % 2] for j in range(6)]
                             for i in range(4)], dtype=object)
         + np.sum([x[i] * v for i in range(2) for v in x])),
    Case("cross", (np.cross,), lambda x: np.cross(M(x), x[3:] ** 2),
         lambda x: np.array([mp_cross(r, x[3:] ** 2) for r in M(x)], dtype=object)),
    Case("tensordot", (np.tensordot,),
         lambda x: np.tensordot(M(x), W, axes=([1], [1])) + np.tensordot(M(x), M(x) ** 2),
         lambda x: np.dot(M(x), W.T) + np.sum(M(x) ** 3)),
    Case("tensordot-int", (np.tensordot,), lambda x: np.tensordot(x[:2], M(x), axes=1),
         lambda x: np.dot(x[:2], M(x))),
    Case("linspace", (np.linspace,),
         lambda x: np.concatenate([np.linspace(x[0], x[1] ** 2, 5),
                                   np.linspace(1.0, x[2], 4, endpoint=False),
                                   np.linspace(x[:2], x[2:4], 3).ravel()]),
         lambda x: np.concatenate([mp_linspace(x[0], x[1] ** 2, 5),
                                   mp_linspace(mpmath.mpf(1), x[2], 4, endpoint=False),
                                   np.ravel(np.array([mp_linspace(x[i], x[i + 2], 3)
                                                      for i in range(2)]).T)])),
    Case("nan_to_num", (np.nan_to_num,),
         lambda x: np.nan_to_num(np.where(MASK, np.nan, x ** 2), nan=-1.0),
         lambda x: np.array([mpmath.mpf(-1) if m else v ** 2 for v, m in zip(x, MASK)],
                            dtype=object)),
    Case("sinc", (np.sinc,), lambda x: np.sinc(x), lambda x: vectorised(mp_sinc)(x)),
    # queries and constants
    Case("queries", (np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort),
         lambda x: x * (np.ndim(M(x)) + np.size(x) + np.shape(M(x))[1]) + x[np.argmax(x)]
         - x[np.argmin(x)] + x[np.argsort(x)],
         lambda x: x * 11 + x[2] - x[1] + x[np.argsort(x.astype(float))]),
    Case("constants", (np.zeros_like, np.ones_like, np.full_like, np.empty_like),
         lambda x: x * np.ones_like(x) + np.zeros_like(x) + np.full_like(x, 2.0)
         + np.empty_like(x).size + M(x).astype(float).ravel(),
         lambda x: 2 * x + 2 + 6),
]


def X9_OF(x):  # einsum-trace reads nine coordinates from six (the 3 × 3 matrix of x, x[:3])
    return np.concatenate([x, x[:3]])


def assert_close(got, expected, rtol, what) -> None:
    got = np.asarray(got, dtype=float).ravel()
    expected = np.asarray(expected, dtype=float).ravel()
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-300)
    error = float(np.max(np.abs(got - expected))) / scale if expected.size else 0.0
    assert error <= rtol, (what, error)


def condition(case: Case) -> float:
    if case.rtol != LINALG_RTOL:
        return 1.0
    return float(np.linalg.cond(S(np.array(case.x))))


def refused_by(case: Case, engine: str) -> bool:
    """SymPy symbols have no values: a symbolic reader refuses argmax, argmin, argsort."""
    return engine == "symbolic" and any(ARRAY_RULES[f].reads_values for f in case.covers)


@pytest.mark.parametrize("engine", ARRAY_ENGINES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_value_and_jacobian_against_mpmath(case: Case, engine: str) -> None:
    x = np.array(case.x)
    if refused_by(case, engine):
        with pytest.raises(UnsupportedError, match="depends on the values"):
            diffx.jacobian(case.f, x, method=engine)
        return
    value, jacobian = truth(case.reference, x)
    rtol = case.rtol * condition(case)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonDifferentiableWarning)  # no tie in these cases
        assert_close(flat(case.f(x)).astype(float), value, rtol, "value")
        assert_close(diffx.jacobian(case.f, x, method=engine), jacobian, rtol, "jacobian")


@pytest.mark.parametrize("engine", ARRAY_ENGINES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradient_in_chunks_smaller_than_n(case: Case, engine: str, monkeypatch) -> None:
    """The gradient of Σ wᵢ fᵢ(x) (the Jacobian's rows weighted), with the dual engine's chunk
    forced to 2 directions per pass (n = 6 or 9 > 2: several chunks, a last partial one)."""
    x = np.array(case.x)
    if refused_by(case, engine):
        return  # refused, as the test above asserts
    monkeypatch.setattr(dual_speed, "CHUNK_ELEMENTS", 2 * x.size)
    _, jacobian = truth(case.reference, x)
    weights = np.linspace(1.0, 2.0, jacobian.shape[0])
    expected = weights @ jacobian
    got = diffx.gradient(lambda v: np.sum(weights * np.ravel(np.stack(
        [np.ravel(p) for p in case.f(v)]) if isinstance(case.f(v), list) else case.f(v))), x,
        method=engine)
    assert_close(got, expected, case.rtol * condition(case), "gradient")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_one_direction_at_a_time(case: Case) -> None:
    """The dual engine's unchunked tangent (shaped like the value): jvp along each eⱼ."""
    x = np.array(case.x)
    _, jacobian = truth(case.reference, x)
    for j in range(x.size):
        _, tangent = dual_jvp(case.f, x, np.eye(x.size)[j])
        assert_close(tangent, jacobian[:, j], case.rtol * condition(case), f"column {j}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_block_of_directions_in_one_pass(case: Case) -> None:
    """The dual engine's chunked tangent (k directions on a leading axis) pushed by jvp, which
    has no fallback to one direction per pass (jacobian and gradient retry one at a time when
    a chunked pass fails): the axis-moving readings are tested here for certain."""
    x = np.array(case.x)
    _, jacobian = truth(case.reference, x)
    directions = np.vstack([np.eye(x.size)[::2], np.linspace(-1.0, 1.0, x.size)])
    _, tangent = dual_jvp(case.f, x, directions)
    tangent = np.reshape(np.asarray(tangent, dtype=float), (len(directions), -1))
    assert_close(tangent, directions @ jacobian.T, case.rtol * condition(case), "block")


def test_every_rule_is_exercised() -> None:
    covered = {f for case in CASES for f in case.covers}
    missing = [rule.name for f, rule in ARRAY_RULES.items() if f not in covered]
    assert missing == [], missing


# --------------------------------------------------------------------------------------------
# Ties and kinks: closed forms (the mean of the tied tangents), with the warning
# --------------------------------------------------------------------------------------------
def tie_warning(engine: str):
    """The tie warning: the dual and reverse engines warn as they pass a tie; the symbolic
    engine evaluates a compiled formula and has no moment to."""
    if engine == "symbolic":
        return warnings.catch_warnings()
    return pytest.warns(NonDifferentiableWarning, match="tie")


@pytest.mark.parametrize("engine", ARRAY_ENGINES)
def test_max_at_a_tie_takes_the_mean_and_warns(engine: str) -> None:
    x = np.array([1.0, 3.0, 3.0, 0.0, 2.0, 2.0])
    with tie_warning(engine):
        g = diffx.gradient(lambda v: np.max(v), x, method=engine)
    assert g.tolist() == [0.0, 0.5, 0.5, 0.0, 0.0, 0.0]
    with tie_warning(engine):
        J = diffx.jacobian(lambda v: np.min(np.reshape(v, (2, 3)), axis=1), np.array(
            [2.0, 2.0, 2.0, 1.0, 5.0, 1.0]), method=engine)
    if engine == "symbolic":  # pairwise (a + b − |a − b|)/2: a three-way tie shares ¼, ¼, ½
        assert J[1].tolist() == [0, 0, 0, 0.5, 0, 0.5]
        assert np.sum(J[0]) == 1.0
        return
    assert J.tolist() == [[1 / 3, 1 / 3, 1 / 3, 0, 0, 0], [0, 0, 0, 0.5, 0, 0.5]]


@pytest.mark.parametrize("engine", [e for e in ARRAY_ENGINES if e != "reverse"])
def test_a_tie_of_equal_tangents_is_silent(engine: str) -> None:
    """Tied arguments with equal derivatives: differentiable, so no warning (a reverse sweep
    cannot see the derivatives of what it ties, so it warns at every tie)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = diffx.gradient(lambda v: np.max(np.stack([v[0] * v[1], v[0] * v[1], v[1]])),
                           np.array([2.0, 3.0]), method=engine)
    assert g.tolist() == [3.0, 2.0]


@pytest.mark.parametrize("engine", ARRAY_ENGINES)
def test_maximum_minimum_clip_at_a_tie_take_the_mean(engine: str) -> None:
    x = np.array([0.0, 1.0, -1.0])
    with tie_warning(engine):
        g = diffx.gradient(lambda v: np.sum(np.maximum(v, 0.0)), x, method=engine)
    assert g.tolist() == [0.5, 1.0, 0.0]
    with tie_warning(engine):
        g = diffx.gradient(lambda v: np.sum(np.clip(v, -1.0, 1.0)), x, method=engine)
    assert g.tolist() == [1.0, 0.5, 0.5]
    with tie_warning(engine):
        g = diffx.gradient(lambda v: np.minimum(v[0], 2 * v[1]), np.array([2.0, 1.0]),
                           method=engine)
    assert g.tolist() == [0.5, 1.0]


def test_relu_row_keeps_its_own_convention() -> None:
    with pytest.warns(NonDifferentiableWarning):
        assert diffx.derivative(lambda v: diffx.relu(v), 0.0, "dual") == 0.0


def test_sinc_at_zero_has_derivative_exactly_zero() -> None:
    value, tangent = dual_jvp(np.sinc, np.array([0.0, 0.5]), np.ones(2))
    assert value[0] == 1.0 and tangent[0] == 0.0
    exact = float(mpmath.diff(mp_sinc, mpmath.mpf(0.5)))
    assert abs(tangent[1] - exact) <= RTOL * abs(exact)


def test_prod_zero_factor_closed_form() -> None:
    g = diffx.gradient(np.prod, np.array([2.0, 0.0, 3.0]), method="dual")
    assert g.tolist() == [0.0, 6.0, 0.0]
    g = diffx.gradient(np.prod, np.array([0.0, 0.0, 3.0]), method="dual")
    assert g.tolist() == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------------------------
# Refusals: parameters the readings do not honour, functions not in the table
# --------------------------------------------------------------------------------------------
REFUSED = {  # name: (f, what the message must say)
    "sum-initial": (lambda x: np.sum(x, initial=1.0), "numpy.sum is differentiated without "
                                                      "initial="),
    "pad-mean": (lambda x: np.pad(x, 1, mode="mean"), "without mode='mean'"),
    "pad-constant-values": (lambda x: np.pad(x, 1, constant_values=1.0),
                            "without constant_values=1.0"),
    "norm-spectral": (lambda x: np.linalg.norm(np.reshape(x, (2, 3)), 2),
                      "not ord=2 of a matrix"),
    "norm-nuclear": (lambda x: np.linalg.norm(np.reshape(x, (2, 3)), "nuc"), "ord='nuc'"),
    "einsum-interleaved": (lambda x: np.einsum(x, [0], x, [0]), "subscript string first"),
    "std-dtype": (lambda x: np.std(x, dtype=np.float32), "numpy.std is differentiated "
                                                         "without dtype="),
    "average-returned": (lambda x: np.average(x, returned=True)[0], "without returned=True"),
    "linspace-retstep": (lambda x: np.linspace(x[0], x[1], 3, retstep=True)[0],
                         "without retstep=True"),
    "take-mode": (lambda x: np.take(x, [7], mode="clip"), "without mode='clip'"),
    "astype-int": (lambda x: x.astype(int), "astype(int64)"),
    "not-in-the-table": (lambda x: np.unwrap(x), "numpy.unwrap has no rule in the {engine} "
                                                 "engine"),
}


@pytest.mark.parametrize("engine", ARRAY_ENGINES)
@pytest.mark.parametrize("name", list(REFUSED))
def test_unsupported_parameters_are_refused(name: str, engine: str) -> None:
    f, says = REFUSED[name]
    with pytest.raises(UnsupportedError, match=re.escape(says.format(engine=engine))):
        diffx.jacobian(f, np.array([0.7, -1.3, 2.1, 0.4, -0.6, 1.9]), method=engine)


def test_numpy_methods_on_a_dual() -> None:
    d = Dual(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)))
    assert d.astype(np.float32) is d
    assert d.sum(axis=0, keepdims=True).value.shape == (1, 2)
    assert d.reshape((4,)).shape == d.reshape(4).shape == d.flatten().shape == (4,)
