"""Comparing arrays: relative errors, per gate block, a common factor, a least-squares fit."""
from __future__ import annotations

import numpy as np

from .battery import BLOCKS, MODELS, TOL, H


def rel(a, r, floor=0.0):
    scale = max(np.max(np.abs(r), initial=0.0), np.max(np.abs(a), initial=0.0), floor, 1e-300)
    return float(np.max(np.abs(a - r), initial=0.0) / scale)


def gate_blocks(model, name):
    """{block: slice of the last axis} for a parameter gradient; {"": ...} for the others."""
    if name not in ("W_x", "W_h", "b", "b_x", "b_h") or model == "rnn":
        return {"": slice(None)}
    return {g: MODELS[model].gate_slice(g, H) for g in BLOCKS[model]}


def block_errors(model, name, a, r):
    floor = 1e-8 * max(np.max(np.abs(r), initial=0.0), 1e-300)
    return {blk: rel(a[..., sl], r[..., sl], floor) for blk, sl in gate_blocks(model, name).items()}


def scale_factor(a, r):
    """k with a = k r to rounding, if there is one (None otherwise)."""
    rr = float(np.sum(r * r))
    if rr == 0.0:
        return None
    k = float(np.sum(a * r)) / rr
    return k if rel(a, k * r) < TOL else None


def fit(y, base, columns):
    """Least-squares c with y = base + sum_j c_j columns[j]; (c, relative residual)."""
    A = np.stack([c.ravel() for c in columns], axis=1)
    rhs = (y - base).ravel()
    coef = np.linalg.lstsq(A, rhs, rcond=None)[0]
    resid = np.linalg.norm(A @ coef - rhs) / max(np.linalg.norm(y), np.linalg.norm(rhs), 1e-300)
    return coef, float(resid)

