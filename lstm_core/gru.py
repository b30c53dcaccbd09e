"""Gated recurrent unit: forward pass and backpropagation through time.

Gate blocks in the order r, z, n (PyTorch's order); two bias vectors as in
PyTorch/cuDNN, one on the input side (b_x) and one on the recurrent side (b_h).

    r_t = sigma(x_t W_xr + b_xr + h_{t-1} W_hr + b_hr)     reset gate
    z_t = sigma(x_t W_xz + b_xz + h_{t-1} W_hz + b_hz)     update gate
    variant="torch" (PyTorch, cuDNN): reset applied after the recurrent matmul
        n_t = tanh(x_t W_xn + b_xn + r_t * (h_{t-1} W_hn + b_hn))
    variant="cho" (Cho et al. 2014): reset applied to h before the matmul
        n_t = tanh(x_t W_xn + b_xn + (r_t * h_{t-1}) W_hn + b_hn)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Many tutorials write h_t = (1 - u_t) * h_{t-1} + u_t * n_t instead. It is the
same model with u = 1 - z: since 1 - sigma(a) = sigma(-a), negating the update
gate's weights and biases turns one convention into the other.

Comments such as ``(eq-gru-bp-n)`` name the equation of the GRU chapter
(book/gru.md) that a line implements.

Shapes: x (T, B, D); h (T, B, H); W_x (D, 3H); W_h (H, 3H); b_x, b_h (3H,).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_choice, check_model_params, check_sequence, check_state, check_upstream
from ._common import (
    Cache,
    Gradients,
    check_rng,
    check_sizes,
    project_inputs,
    sum_outer_over_time,
    uniform_init,
    with_contiguous_transpose,
)
from .activations import sigmoid, sigmoid_grad_from_output, tanh_grad_from_output

GATES = ("r", "z", "n")
VARIANTS = ("torch", "cho")


@dataclass(frozen=True)
class GRUOptions:
    """The options of one :func:`forward` run."""

    variant: str  # one of VARIANTS


@dataclass(frozen=True, eq=False, repr=False)
class GRUCache(Cache):
    """What :func:`forward` keeps for :func:`backward` (fields of :class:`Cache` plus these).

    r, z, n  (T, B, H) the reset gate, update gate and candidate of every step
    m        (T, B, H) what the reset gate multiplies (see :func:`cell_forward`)
    options  :class:`GRUOptions`
    """

    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    m: np.ndarray
    options: GRUOptions


def param_spec(D: int, H: int) -> dict:
    return {
        "W_x": ((D, 3 * H), "D, 3H"),
        "W_h": ((H, 3 * H), "H, 3H"),
        "b_x": ((3 * H,), "3H"),
        "b_h": ((3 * H,), "3H"),
    }


def gate_slice(name: str, H: int) -> slice:
    """Columns of gate ``name`` (one of r, z, n) in a (..., 3H) array."""
    k = GATES.index(name)
    return slice(k * H, (k + 1) * H)


def init_params(input_size, hidden_size, *, rng, dtype=np.float64):
    """Random params, uniform(±1/sqrt(H)) like PyTorch's default (never all zero)."""
    check_sizes(input_size, hidden_size)
    check_rng(rng)
    D, H = input_size, hidden_size
    k = 1.0 / np.sqrt(H)
    return {
        "W_x": uniform_init(rng, (D, 3 * H), k, dtype),
        "W_h": uniform_init(rng, (H, 3 * H), k, dtype),
        "b_x": uniform_init(rng, (3 * H,), k, dtype),
        "b_h": uniform_init(rng, (3 * H,), k, dtype),
    }


def cell_forward(a_in, h_prev, W_h, b_h, *, variant):
    """One step given the input projection a_in = x_t W_x + b_x (B, 3H).

    Returns (h_t, r_t, z_t, n_t, m_t), where m_t is what the reset gate
    multiplies: h_{t-1} W_hn + b_hn ("torch") or h_{t-1} ("cho").
    """
    H = h_prev.shape[-1]
    rz, n_slice = slice(0, 2 * H), gate_slice("n", H)
    rzg = sigmoid(a_in[:, rz] + h_prev @ W_h[:, rz] + b_h[rz])  # (eq-gru-gates)
    r, z = rzg[:, :H], rzg[:, H:]
    if variant == "torch":
        m = h_prev @ W_h[:, n_slice] + b_h[n_slice]  # (eq-gru-cand-torch)
        n = np.tanh(a_in[:, n_slice] + r * m)  # (eq-gru-cand-torch)
    else:
        m = h_prev  # (eq-gru-cand-cho)
        n = np.tanh(a_in[:, n_slice] + (r * m) @ W_h[:, n_slice] + b_h[n_slice])  # (eq-gru-cand-cho)
    return (1.0 - z) * n + z * h_prev, r, z, n, m  # (eq-gru-update)


def cell_backward(dh_t, h_prev, r, z, n, m, W_h, *, variant):
    """One step of BPTT through the GRU cell.

    dh_t (B, H) total dL/dh_t. Returns
      da_x (B, 3H)  gradient of the input-side pre-activations [r, z, n]
      da_h (B, 3H)  gradient of the recurrent-side terms whose inputs are
                    h_{t-1} (blocks r, z, and n for "torch") or r*h_{t-1} (block n, "cho")
      dh_prev (B, H) dL/dh_{t-1} via this step: direct path through z, plus
                    the paths through the gates' and the candidate's matmuls
    """
    H = dh_t.shape[-1]
    n_slice = gate_slice("n", H)
    dn_pre = dh_t * (1.0 - z) * tanh_grad_from_output(n)  # (eq-gru-bp-n)
    dz_pre = dh_t * (h_prev - n) * sigmoid_grad_from_output(z)  # (eq-gru-bp-z)
    dh_prev = dh_t * z  # direct path: h_t = ... + z * h_{t-1}; (eq-gru-bp-hprev-torch), (eq-gru-bp-hprev-cho)
    da_x = np.empty((dh_t.shape[0], 3 * H), dtype=dh_t.dtype)
    da_x[:, gate_slice("z", H)] = dz_pre
    da_x[:, n_slice] = dn_pre
    da_h = da_x.copy()
    if variant == "torch":
        # n_pre = ... + r * m, m = h W_hn + b_hn
        dr = dn_pre * m  # (eq-gru-bp-r-torch)
        da_h[:, n_slice] = dn_pre * r  # gradient reaching m; (eq-gru-bp-r-torch)
    else:
        # n_pre = ... + (r * h) W_hn + b_hn
        d_rh = dn_pre @ W_h[:, n_slice].T  # (eq-gru-bp-r-cho)
        dr = d_rh * m  # (eq-gru-bp-r-cho)
        dh_prev = dh_prev + d_rh * r  # (eq-gru-bp-hprev-cho)
        # da_h[:, n] stays dn_pre: its matmul input is r*h, handled by the caller
    da_x[:, gate_slice("r", H)] = da_h[:, gate_slice("r", H)] = dr * sigmoid_grad_from_output(r)  # (eq-gru-bp-r-torch), (eq-gru-bp-r-cho)
    if variant == "torch":
        dh_prev = dh_prev + da_h @ W_h.T  # (eq-gru-bp-hprev-torch)
    else:
        rz = slice(0, 2 * H)
        dh_prev = dh_prev + da_h[:, rz] @ W_h[:, rz].T  # (eq-gru-bp-hprev-cho)
    return da_x, da_h, dh_prev


def forward(params, x, h0=None, *, variant="torch"):
    """Run the GRU over a sequence.

    params  dict W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,), blocks r, z, n
    x       (T, B, D)
    h0      (B, H) or None for zeros
    Returns h (T, B, H) and a :class:`GRUCache` for :func:`backward` (it also
    holds the gates r, z, n, each (T, B, H), for plotting).
    """
    D, H, dtype = check_model_params(params, param_spec, "gru")
    check_choice("variant", variant, VARIANTS)
    x = check_sequence(x, D, dtype)
    T, B, _ = x.shape
    h0 = check_state("h0", h0, B, H, dtype)
    a_in = project_inputs(x, params["W_x"], params["b_x"])
    h, r, z, n, m = (np.empty((T, B, H), dtype=dtype) for _ in range(5))
    h_prev = h0
    for t in range(T):
        h[t], r[t], z[t], n[t], m[t] = cell_forward(a_in[t], h_prev, params["W_h"], params["b_h"], variant=variant)
        h_prev = h[t]
    cache = GRUCache(params=params, x=x, h0=h0, h=h, r=r, z=z, n=n, m=m,
                     options=GRUOptions(variant=variant))
    return h, cache


def backward(dh, cache):
    """Backpropagation through time for :func:`forward`.

    dh (T, B, H): dL/dh_t from outside the recurrence (zeros where unused).
    Returns :class:`Gradients` with params, dx, dh0 and dh_steps.
    """
    params, x, h = cache.params, cache.x, cache.h
    variant = cache.options.variant
    T, B, H = h.shape
    dh = check_upstream("dh", dh, (T, B, H), "T, B, H", h.dtype)
    h_prev_all = cache.h_prev
    da_x = np.empty((T, B, 3 * H), dtype=h.dtype)
    da_h = np.empty_like(da_x)
    dh_steps = np.empty_like(h)
    carry = np.zeros((B, H), dtype=h.dtype)
    W_h = with_contiguous_transpose(params["W_h"])
    for t in range(T - 1, -1, -1):
        dh_steps[t] = dh[t] + carry  # (eq-gru-bp-total)
        da_x[t], da_h[t], carry = cell_backward(
            dh_steps[t], h_prev_all[t], cache.r[t], cache.z[t], cache.n[t],
            cache.m[t], W_h, variant=variant,
        )
    n_slice = gate_slice("n", H)
    # the matmul input of each recurrent block: h_{t-1}, except r*h_{t-1} for block n in "cho"
    if variant == "torch":
        dW_h = sum_outer_over_time(h_prev_all, da_h)  # (eq-gru-bp-wh-torch)
    else:
        rz = slice(0, 2 * H)
        dW_h = np.concatenate(
            [sum_outer_over_time(h_prev_all, da_h[..., rz]),  # (eq-gru-bp-wh-cho)
             sum_outer_over_time(cache.r * h_prev_all, da_h[..., n_slice])],  # (eq-gru-bp-wh-cho)
            axis=1,
        )
    grads = {
        "W_x": sum_outer_over_time(x, da_x),  # (eq-gru-bp-wx)
        "W_h": dW_h,
        "b_x": da_x.sum(axis=(0, 1)),  # (eq-gru-bp-wx)
        "b_h": da_h.sum(axis=(0, 1)),  # (eq-gru-bp-wh-torch), (eq-gru-bp-wh-cho)
    }
    dx = (da_x.reshape(T * B, 3 * H) @ params["W_x"].T).reshape(x.shape)  # (eq-gru-bp-wx)
    return Gradients(params=grads, dx=dx, dh0=carry, dh_steps=dh_steps)  # (eq-gru-bp-total)
