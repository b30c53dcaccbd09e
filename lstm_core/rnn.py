"""Vanilla (Elman) recurrent network and its backpropagation through time.

    a_t = x_t W_x + h_{t-1} W_h + b          (B, H)
    h_t = phi(a_t)

Shapes: x (T, B, D); h (T, B, H); W_x (D, H); W_h (H, H); b (H,).
Row-vector convention (``x_t W_x``) so a batch is a stack of rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_model_params, check_sequence, check_state, check_upstream
from ._common import (
    Cache,
    Gradients,
    check_rng,
    check_sizes,
    project_inputs,
    sum_outer_over_time,
    sum_over_time,
    uniform_init,
    with_contiguous_transpose,
)
from .activations import Activation, get_activation


@dataclass(frozen=True)
class RNNOptions:
    """The options of one :func:`forward` run."""

    activation: Activation  # phi in h_t = phi(a_t)


@dataclass(frozen=True, eq=False, repr=False)
class RNNCache(Cache):
    """What :func:`forward` keeps for :func:`backward`: the fields of :class:`Cache` and
    ``options`` (:class:`RNNOptions`)."""

    options: RNNOptions


def param_spec(D: int, H: int) -> dict:
    return {"W_x": ((D, H), "D, H"), "W_h": ((H, H), "H, H"), "b": ((H,), "H")}


def init_params(input_size, hidden_size, *, rng, spectral_radius=None, dtype=np.float64):
    """Random params: uniform(±1/sqrt(H)) weights and bias (never all zero).

    If ``spectral_radius`` is given, W_h is rescaled so that its largest
    absolute eigenvalue equals it (chapter 2 sweeps this).
    """
    check_sizes(input_size, hidden_size)
    check_rng(rng)
    D, H = input_size, hidden_size
    k = 1.0 / np.sqrt(H)
    p = {
        "W_x": uniform_init(rng, (D, H), k, dtype),
        "W_h": uniform_init(rng, (H, H), k, dtype),
        "b": uniform_init(rng, (H,), k, dtype),
    }
    if spectral_radius is not None:
        rho = np.max(np.abs(np.linalg.eigvals(p["W_h"].astype(np.float64))))
        p["W_h"] = (p["W_h"] * (spectral_radius / rho)).astype(dtype)
    return p


def cell_forward(a_in, h_prev, W_h, act, *, out=None):
    """The recurrent part of one step: h_t = phi(a_in + h_{t-1} W_h).

    a_in (B, H) is the input projection x_t W_x + b, computed for all steps at once.
    out: None, or a (B, H) array that h_t is written into (each line computes in place).
    """
    a = np.matmul(h_prev, W_h, out=out)  # h_{t-1} W_h
    a += a_in
    return act.fn(a, out=a)


def cell_backward(dh_t, h_t, W_h, act, *, out=None):
    """Given the total dL/dh_t (B, H): returns (da_t, dL/dh_{t-1} via this step).

    out: None, or a (B, H) array that da_t is written into.
    """
    da = np.multiply(dh_t, act.grad_from_output(h_t), out=out)
    return da, da @ W_h.T


def forward(params, x, h0=None, *, activation="tanh"):
    """Run the RNN over a sequence.

    params  dict W_x (D, H), W_h (H, H), b (H,)
    x       (T, B, D)
    h0      (B, H) or None for zeros
    Returns h (T, B, H) and an :class:`RNNCache` for :func:`backward`.
    """
    D, H, dtype = check_model_params(params, param_spec, "rnn")
    x = check_sequence(x, D, dtype)
    T, B, _ = x.shape
    h0 = check_state("h0", h0, B, H, dtype)
    act = get_activation(activation)
    a_in = project_inputs(x, params["W_x"], params["b"])
    h = np.empty((T, B, H), dtype=dtype)
    h_prev = h0
    for t in range(T):
        h_prev = cell_forward(a_in[t], h_prev, params["W_h"], act, out=h[t])
    cache = RNNCache(params=params, x=x, h0=h0, h=h, options=RNNOptions(activation=act))
    return h, cache


def backward(dh, cache):
    """Backpropagation through time.

    dh  (T, B, H): dL/dh_t arriving from outside the recurrence (zeros where
        the loss does not look at step t).
    Returns :class:`Gradients` with params, dx, dh0, dh_steps and da_steps.

    With delta_t the total dL/dh_t:
        delta_t = dh[t] + da_{t+1} W_h^T,      da_t = delta_t * phi'(a_t)
    and each shared weight collects the sum over t of per-step outer products.
    """
    params, x, h, act = cache.params, cache.x, cache.h, cache.options.activation
    T, B, H = h.shape
    dh = check_upstream("dh", dh, (T, B, H), "T, B, H", h.dtype)
    da = np.empty_like(h)
    dh_steps = np.empty_like(h)
    carry = np.zeros((B, H), dtype=h.dtype)  # dL/dh_t arriving from step t+1
    W_h = with_contiguous_transpose(params["W_h"])  # one copy, for the per-step products
    for t in range(T - 1, -1, -1):
        np.add(dh[t], carry, out=dh_steps[t])
        _, carry = cell_backward(dh_steps[t], h[t], W_h, act, out=da[t])
    grads = {
        "W_x": sum_outer_over_time(x, da),
        # h_{t-1} is h0 for t = 0 and h[t-1] after it: two products, no (T, B, H) copy
        "W_h": sum_outer_over_time(cache.h0[None], da[:1]) + sum_outer_over_time(h[:-1], da[1:]),
        "b": sum_over_time(da),
    }
    dx = (da.reshape(T * B, H) @ params["W_x"].T).reshape(x.shape)
    return Gradients(params=grads, dx=dx, dh0=carry, dh_steps=dh_steps, da_steps=da)
