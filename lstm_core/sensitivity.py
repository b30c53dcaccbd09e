"""How strongly the last LSTM output depends on each input: dh_T/dx_t (chapter 3's explorer).

* :func:`last_output_jacobian`: every dh_T[k]/dx_t[d] at once, from one batched
  :func:`lstm_core.lstm.backward`.
* :func:`forget_products`: the product of the forget gates after each step, the factor the
  cell-state path alone would carry a change of c_t by.
* :func:`last_output_sensitivity`: both as per-step series for one setting of the explorer.
"""
from __future__ import annotations

import numpy as np

from . import lstm
from .viz import gradient_norms_per_step

__all__ = ["forget_products", "last_output_jacobian", "last_output_sensitivity"]


def last_output_jacobian(params, x, h0=None, c0=None, **options):
    """dh_T/dx_t for every t as an array (T, H, D), from one batched lstm.backward.

    x is (T, 1, D), one sequence. Entry [t, k, d] is d h_T[k] / d x_t[d] (code index t).
    ``options`` are those of :func:`lstm_core.lstm.forward`.
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != 1:
        raise ValueError(f"x must have shape (T, 1, D) (one sequence), got {x.shape}")
    H = params["W_h"].shape[0]
    rep = lambda a: None if a is None else np.repeat(a, H, axis=0)  # noqa: E731
    h, cache = lstm.forward(params, np.repeat(x, H, axis=1), rep(h0), rep(c0), **options)
    dh = np.zeros_like(h)
    dh[-1, np.arange(H), np.arange(H)] = 1.0       # copy k seeds output unit k of h_T
    return lstm.backward(dh, cache).dx             # (T, H, D)


def forget_products(cache) -> np.ndarray:
    """prod_{k > t} f_k for each step t and unit, (T, H), of sequence 0 of an lstm cache.

    The empty product at the last step is 1.
    """
    gates = cache.gates[:, 0]
    H = gates.shape[-1] // 4
    f = gates[:, lstm.gate_slice("f", H)]
    return np.vstack([np.cumprod(f[::-1], axis=0)[::-1][1:], np.ones((1, H))])


def last_output_sensitivity(params, x, *, forget_bias, weight_scale, T, output_activation):
    """Chapter 3's explorer frame: ||dh_T/dx_t||_F and the largest forget-gate product.

    The weights ``W_x`` and ``W_h`` of ``params`` are scaled by ``weight_scale`` (the bias is
    kept); the first ``T`` steps of ``x`` (T_max, 1, D) are run with ``forget_bias`` and
    ``output_activation``. Returns {series name: (T,) array}.
    """
    p = {"W_x": weight_scale * params["W_x"], "W_h": weight_scale * params["W_h"],
         "b": params["b"]}
    x = np.asarray(x)[:T]
    opts = dict(forget_bias=forget_bias, output_activation=output_activation)
    J = last_output_jacobian(p, x, **opts)
    _, cache = lstm.forward(p, x, **opts)
    return {"‖∂h_T/∂x_t‖_F": gradient_norms_per_step(J),
            "∏_{k>t} f_k (cell path, largest unit)": forget_products(cache).max(axis=1)}
