"""The Jacobians of one GRU step three ways: sympy, the backward pass, a closed form (chapter 5).

* :func:`symbolic_step`: h_t as sympy expressions of every input, state and weight entry,
  written from the equations eq-gru-gates ... eq-gru-update (no ``lstm_core.gru`` code);
  :func:`symbolic_jacobian` differentiates it with respect to all of them.
* :func:`backward_jacobian_rows`: the same derivatives from :func:`lstm_core.gru.backward`
  run with a unit upstream gradient, one output unit at a time.
* :func:`step_jacobian`: the closed form dh_t/dh_{t-1} (eq-gru-jac-torch / eq-gru-jac-cho)
  evaluated from a forward cache.

sympy is needed (``pip install lstm_core[book]``); the module is not imported by
``import lstm_core``.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from . import gru

__all__ = ["backward_jacobian_rows", "evaluate", "random_point", "step_jacobian",
           "symbolic_jacobian", "symbolic_step", "symbols"]


def _matrix(name, rows, cols):
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


@functools.lru_cache(maxsize=None)
def symbols(H: int = 2, D: int = 2) -> dict:
    """{name: sympy Matrix of symbols} for one step: h0 (1, H), W_x (D, 3H), W_h (H, 3H),
    b_x (1, 3H), b_h (1, 3H), x (1, D); their entries, in this order and row-major, are the
    columns of :func:`symbolic_jacobian`."""
    return {"h0": _matrix("h", 1, H), "W_x": _matrix("Wx", D, 3 * H),
            "W_h": _matrix("Wh", H, 3 * H), "b_x": _matrix("bx", 1, 3 * H),
            "b_h": _matrix("bh", 1, 3 * H), "x": _matrix("x", 1, D)}


def symbolic_step(variant: str, H: int = 2, D: int = 2):
    """h_t (1 x H sympy Matrix) from eq-gru-gates ... eq-gru-update, blocks r, z, n."""
    if variant not in ("torch", "cho"):
        raise ValueError(f"variant must be 'torch' or 'cho', got {variant!r}")
    S = symbols(H, D)
    h, x = S["h0"], S["x"]
    blk = lambda M, g: M[:, "rzn".index(g) * H:("rzn".index(g) + 1) * H]  # noqa: E731
    sig = lambda A: A.applyfunc(lambda a: 1 / (1 + sp.exp(-a)))  # noqa: E731
    pre = {g: x * blk(S["W_x"], g) + blk(S["b_x"], g) for g in "rzn"}
    r = sig(pre["r"] + h * blk(S["W_h"], "r") + blk(S["b_h"], "r"))
    z = sig(pre["z"] + h * blk(S["W_h"], "z") + blk(S["b_h"], "z"))
    W_hn, b_hn = blk(S["W_h"], "n"), blk(S["b_h"], "n")
    if variant == "torch":
        a_n = pre["n"] + r.multiply_elementwise(h * W_hn + b_hn)
    else:
        a_n = pre["n"] + r.multiply_elementwise(h) * W_hn + b_hn
    n = a_n.applyfunc(sp.tanh)
    return (sp.ones(1, H) - z).multiply_elementwise(n) + z.multiply_elementwise(h)


@functools.lru_cache(maxsize=None)
def symbolic_jacobian(variant: str, H: int = 2, D: int = 2):
    """d h_t / d(every symbol of :func:`symbols`) as a numpy function of those symbols' values.

    Returns a function ``jac(*values) -> (H, n_symbols)``; see :func:`evaluate`.
    """
    every = [s for M in symbols(H, D).values() for s in M]
    return sp.lambdify(every, sp.Matrix(symbolic_step(variant, H, D)).jacobian(every), "numpy")


def random_point(rng, H: int = 2, D: int = 2, scale: float = 1.5) -> dict:
    """Values for every symbol, uniform in (-scale, scale): {name: array of the symbol's shape}."""
    return {k: rng.uniform(-scale, scale, M.shape) for k, M in symbols(H, D).items()}


def evaluate(jac, values: dict) -> np.ndarray:
    """The lambdified Jacobian ``jac`` at a point {name: array} (in :func:`symbols`' order)."""
    return np.array(jac(*np.concatenate([np.ravel(v) for v in values.values()])), dtype=float)


def backward_jacobian_rows(values: dict, variant: str):
    """Rows k of d h_1[k] / d(all symbols), from gru.backward with e_1 = unit vector k.

    ``values`` as from :func:`random_point`. Returns (rows (H, n_symbols), forward cache).
    """
    p = {"W_x": values["W_x"], "W_h": values["W_h"],
         "b_x": values["b_x"][0], "b_h": values["b_h"][0]}
    H = p["W_h"].shape[0]
    _, cache = gru.forward(p, values["x"][None], values["h0"], variant=variant)
    rows = []
    for k in range(H):
        e = np.zeros((1, 1, H))
        e[0, 0, k] = 1.0
        g = gru.backward(e, cache)
        parts = {"h0": g.dh0, "x": g.dx[0], **g.params}
        rows.append(np.concatenate([np.ravel(parts[name]) for name in values]))
    return np.array(rows), cache


def step_jacobian(cache, k: int, b: int = 0) -> np.ndarray:
    """J = dh/dh_prev (H, H) of code step k (equation step k + 1), sequence b, in closed form."""
    W_h = cache.params["W_h"]
    H = W_h.shape[0]
    W_hr, W_hz, W_hn = (W_h[:, gru.gate_slice(g, H)] for g in "rzn")
    h_prev = cache.h_prev[k, b]
    r, z, n, m = (getattr(cache, name)[k, b] for name in "rznm")
    s_z = (h_prev - n) * z * (1 - z)
    s_n = (1 - z) * (1 - n**2)
    s_r = r * (1 - r)
    if cache.options.variant == "torch":   # eq-gru-jac-torch
        through_n = np.diag(r) @ W_hn.T + np.diag(m * s_r) @ W_hr.T
    else:                             # eq-gru-jac-cho
        through_n = W_hn.T @ (np.diag(r) + np.diag(h_prev * s_r) @ W_hr.T)
    return np.diag(z) + np.diag(s_z) @ W_hz.T + np.diag(s_n) @ through_n
