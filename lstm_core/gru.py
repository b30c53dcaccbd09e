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
    previous_states_of,
    sum_outer_over_time,
    time_blocks,
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


def by_gate(a):
    """The blocks r, z, n of a (..., 3H) array along a new first axis: (3, ..., H), a contiguous
    copy. W_h (H, 3H) -> (3, H, H), b_h (3H,) -> (3, H), an input projection (B, 3H) ->
    (3, B, H): each block of each step is then one contiguous array (:func:`cell_forward`)."""
    blocks = a.reshape(*a.shape[:-1], 3, a.shape[-1] // 3)
    return np.moveaxis(blocks, -2, 0).copy(order="C")


def cell_forward(a_in, h_prev, W_h, b_h, *, variant, out=None):
    """One step given the input projection x_t W_x + b_x, every array by gate
    (:func:`by_gate`): a_in (3, B, H), W_h (3, H, H), b_h (3, H), blocks r, z, n.

    Returns (h_t, r_t, z_t, n_t, m_t), where m_t is what the reset gate
    multiplies: h_{t-1} W_hn + b_hn ("torch") or h_{t-1} ("cho").
    out: None, or the arrays (h_t, rzm_t, n_t), shapes (B, H), (3, B, H), (B, H),
    that the step writes into, rzm_t holding r_t, z_t, m_t; :func:`forward`
    passes step t of its cache. Each line computes in place.
    """
    B, H = h_prev.shape
    if out is None:
        out = [np.empty(shape, dtype=h_prev.dtype) for shape in ((B, H), (3, B, H), (B, H))]
    h, rzm, n = out
    r, z, m = rzm
    if variant == "torch":
        np.matmul(h_prev, W_h, out=rzm)  # h_{t-1} W_h, the three blocks in one call
        m += b_h[2]  # m_t = h_{t-1} W_hn + b_hn; (eq-gru-cand-torch)
    else:
        np.matmul(h_prev, W_h[:2], out=rzm[:2])
        m[...] = h_prev  # (eq-gru-cand-cho)
    rzm[:2] += a_in[:2]
    rzm[:2] += b_h[:2, None]
    sigmoid(rzm[:2], out=rzm[:2])  # r_t and z_t; (eq-gru-gates)
    if variant == "torch":
        np.multiply(r, m, out=n)  # (eq-gru-cand-torch)
    else:
        np.matmul(r * m, W_h[2], out=n)  # (eq-gru-cand-cho)
        n += b_h[2]  # (eq-gru-cand-cho)
    n += a_in[2]
    np.tanh(n, out=n)  # n_t; (eq-gru-cand-torch), (eq-gru-cand-cho)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n  # h_t = (1 - z_t) n_t + z_t h_{t-1}; (eq-gru-update)
    return h, r, z, n, m


def local_derivatives(h_prev, r, z, n):
    """The factors of one step's chain rule that do not depend on the gradient arriving:

        s_n = (1 - z) * tanh'(n),  s_z = (h_{t-1} - n) * sigma'(z),  s_r = sigma'(r)

    (the s^n_t, s^z_t, s^r_t of the step Jacobian). Element-wise, so the arrays may be one
    step (B, H) or a block of steps (k, B, H): :func:`backward` computes a block at once.
    """
    s_n = (1.0 - z) * tanh_grad_from_output(n)  # (eq-gru-bp-n)
    s_z = (h_prev - n) * sigmoid_grad_from_output(z)  # (eq-gru-bp-z)
    return s_n, s_z, sigmoid_grad_from_output(r)


def cell_backward(dh_t, h_prev, r, z, n, m, W_h, *, variant, slopes=None, out=None):
    """One step of BPTT through the GRU cell, by gate (:func:`by_gate`): W_h (3, H, H).

    dh_t (B, H) total dL/dh_t. Returns
      da_x (3, B, H)  gradient of the input-side pre-activations r, z, n
      da_h (3, B, H)  gradient of the recurrent-side terms whose inputs are
                      h_{t-1} (blocks r, z, and n for "torch") or r*h_{t-1} (block n, "cho")
      dh_prev (B, H)  dL/dh_{t-1} via this step: direct path through z, plus
                      the paths through the gates' and the candidate's matmuls
    slopes: this step's (s_n, s_z, s_r) from :func:`local_derivatives`, or None to compute them.
    out: None, or two (3, B, H) arrays that da_x and da_h are written into.
    """
    B, H = dh_t.shape
    s_n, s_z, s_r = local_derivatives(h_prev, r, z, n) if slopes is None else slopes
    da_x, da_h = [np.empty((3, B, H), dtype=dh_t.dtype) for _ in range(2)] if out is None else out
    dn_pre = np.multiply(dh_t, s_n, out=da_x[2])  # (eq-gru-bp-n)
    np.multiply(dh_t, s_z, out=da_x[1])  # (eq-gru-bp-z)
    dh_prev = dh_t * z  # direct path: h_t = ... + z * h_{t-1}; (eq-gru-bp-hprev-torch), (eq-gru-bp-hprev-cho)
    if variant == "torch":
        # n_pre = ... + r * m, m = h W_hn + b_hn
        np.multiply(dn_pre * m, s_r, out=da_x[0])  # (eq-gru-bp-r-torch)
        np.multiply(dn_pre, r, out=da_h[2])  # gradient reaching m; (eq-gru-bp-r-torch)
    else:
        # n_pre = ... + (r * h) W_hn + b_hn
        d_rh = dn_pre @ W_h[2].T  # (eq-gru-bp-r-cho)
        np.multiply(d_rh * m, s_r, out=da_x[0])  # (eq-gru-bp-r-cho)
        dh_prev += d_rh * r  # (eq-gru-bp-hprev-cho)
        da_h[2] = dn_pre  # its matmul input is r*h, handled by the caller
    da_h[:2] = da_x[:2]  # blocks r, z: x_t and h_{t-1} enter the same pre-activation
    if variant == "torch":
        dh_prev += (da_h @ W_h.mT).sum(axis=0)  # the three blocks; (eq-gru-bp-hprev-torch)
    else:
        dh_prev += (da_h[:2] @ W_h[:2].mT).sum(axis=0)  # (eq-gru-bp-hprev-cho)
    return da_x, da_h, dh_prev


def from_gates(a):
    """The inverse of :func:`by_gate`: (3, ..., H) -> (..., 3H), the blocks r, z, n side by side."""
    return np.moveaxis(a, 0, -2).reshape(*a.shape[1:-1], 3 * a.shape[-1])


def forward(params, x, h0=None, *, variant="torch"):
    """Run the GRU over a sequence.

    params  dict W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,), blocks r, z, n
    x       (T, B, D)
    h0      (B, H) or None for zeros
    Returns h (T, B, H) and a :class:`GRUCache` for :func:`backward` (it also
    holds the gates r, z, n, each (T, B, H), for plotting).

    The steps run in blocks: the input projections of one block of steps at a time
    (one matmul each), so that no (T, B, 3H) array of them is ever held; every step writes
    straight into the cache. All of it is by gate (:func:`by_gate`): the r, z and m of a step
    side by side as (3, B, H), so that each block is contiguous and the recurrent product of
    the three blocks is one matmul call.
    """
    D, H, dtype = check_model_params(params, param_spec, "gru")
    check_choice("variant", variant, VARIANTS)
    x = check_sequence(x, D, dtype)
    T, B, _ = x.shape
    h0 = check_state("h0", h0, B, H, dtype)
    W_x, b_x, W_h, b_h = (by_gate(params[k]) for k in ("W_x", "b_x", "W_h", "b_h"))
    h, n = (np.empty((T, B, H), dtype=dtype) for _ in range(2))
    rzm = np.empty((T, 3, B, H), dtype=dtype)
    h_prev = h0
    for block in time_blocks(T, B, 3 * H, h.itemsize):
        steps = block.stop - block.start
        a_in = np.matmul(x[block].reshape(steps * B, D), W_x)  # (3, steps * B, H)
        a_in += b_x[:, None]
        a_in = a_in.reshape(3, steps, B, H)
        for t in range(block.start, block.stop):
            cell_forward(a_in[:, t - block.start], h_prev, W_h, b_h, variant=variant,
                         out=(h[t], rzm[t], n[t]))
            h_prev = h[t]
    cache = GRUCache(params=params, x=x, h0=h0, h=h, r=rzm[:, 0], z=rzm[:, 1], n=n,
                     m=rzm[:, 2], options=GRUOptions(variant=variant))
    return h, cache


def backward(dh, cache):
    """Backpropagation through time for :func:`forward`.

    dh (T, B, H): dL/dh_t from outside the recurrence (zeros where unused).
    Returns :class:`Gradients` with params, dx, dh0 and dh_steps.

    The steps run in blocks, last block first: the chain-rule factors of a whole block
    at once (:func:`local_derivatives`), then its steps one by one, then the block's
    share of the sums over time and its dx (one matmul call each), so that the per-step
    gradients da_x, da_h are only ever held for one block. Weights and gradients are
    held by gate (:func:`by_gate`) until the end.
    """
    params, x, h, h0 = cache.params, cache.x, cache.h, cache.h0
    variant = cache.options.variant
    T, B, H = h.shape
    dh = check_upstream("dh", dh, (T, B, H), "T, B, H", h.dtype)
    grads = {k: by_gate(np.zeros(v.shape, dtype=h.dtype)) for k, v in params.items()}
    dx = np.empty(x.shape, dtype=h.dtype)
    dh_steps = np.empty_like(h)
    carry = np.zeros((B, H), dtype=h.dtype)
    W_x, W_h = by_gate(params["W_x"]), with_contiguous_transpose(by_gate(params["W_h"]))
    for block in time_blocks(T, B, 3 * H, h.itemsize)[::-1]:
        steps = block.stop - block.start
        h_prev = previous_states_of(block, h0, h)
        r, z, n, m = (a[block] for a in (cache.r, cache.z, cache.n, cache.m))
        slopes = local_derivatives(h_prev, r, z, n)
        da_x, da_h = (np.empty((3, steps, B, H), dtype=h.dtype) for _ in range(2))
        for k in range(steps - 1, -1, -1):
            t = block.start + k
            np.add(dh[t], carry, out=dh_steps[t])  # (eq-gru-bp-total)
            _, _, carry = cell_backward(dh_steps[t], h_prev[k], r[k], z[k], n[k], m[k], W_h,
                                        variant=variant, slopes=[s[k] for s in slopes],
                                        out=(da_x[:, k], da_h[:, k]))
        # the matmul input of each recurrent block: h_{t-1}, except r*h_{t-1} for block n in "cho"
        if variant == "torch":
            grads["W_h"] += sum_outer_over_time(h_prev, da_h)  # (eq-gru-bp-wh-torch)
        else:
            grads["W_h"][:2] += sum_outer_over_time(h_prev, da_h[:2])  # (eq-gru-bp-wh-cho)
            grads["W_h"][2] += sum_outer_over_time(r * h_prev, da_h[2])  # (eq-gru-bp-wh-cho)
        grads["W_x"] += sum_outer_over_time(x[block], da_x)  # (eq-gru-bp-wx)
        grads["b_x"] += da_x.sum(axis=(1, 2))  # (eq-gru-bp-wx)
        grads["b_h"] += da_h.sum(axis=(1, 2))  # (eq-gru-bp-wh-torch), (eq-gru-bp-wh-cho)
        dx_by_gate = da_x.reshape(3, steps * B, H) @ W_x.mT  # (eq-gru-bp-wx)
        dx[block] = dx_by_gate.sum(axis=0).reshape(steps, B, -1)  # (eq-gru-bp-wx)
    grads = {k: from_gates(g) for k, g in grads.items()}
    return Gradients(params=grads, dx=dx, dh0=carry, dh_steps=dh_steps)  # (eq-gru-bp-total)
