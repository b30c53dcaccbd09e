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

from ._checks import (
    check_choice,
    check_model_params,
    check_sequence,
    check_shape,
    check_state,
    check_upstream,
)
from ._common import (
    block_buffer,
    Cache,
    Gradients,
    check_rng,
    check_sizes,
    previous_states_of,
    project_inputs,
    sum_outer_over_time,
    sum_over_time,
    time_blocks,
    uniform_init,
    with_contiguous_transpose,
)
from .activations import sigmoid, tanh_grad_from_output

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


def _refuse_shapes(B, H, **arrays):
    """Raise a ValueError for the first of ``arrays`` (name=(array, "3, B, H")) whose shape is
    not the one its letters name; the cells call it only when some shape is off."""
    sizes = {"B": B, "H": H, "3": 3, "4": 4}
    for name, (a, letters) in arrays.items():
        expected = tuple(sizes[k] for k in letters.split(", "))
        try:
            check_shape(name, np.asarray(a), expected, letters)
        except ValueError as err:
            raise ValueError(f"{err}; the cells take their arrays by gate, blocks r, z, n "
                             f"along the first axis (gru.by_gate turns (..., 3H) into "
                             f"(3, ..., H))") from None
    raise AssertionError("_refuse_shapes called with every shape right")


def input_bias(b_x, b_h, *, variant):
    """The bias that the input projection a_in = x_t W_x + bias of
    :func:`cell_forward` holds, by gate (3, H): b_x + b_h, except the n
    block of b_h in "torch", which sits inside the reset product
    (eq-gru-cand-torch). Every other block of b_h only ever appears added
    to its b_x twin, so it is added here once, not in every step."""
    H = np.size(b_x) // 3
    if np.shape(b_x) != (3, H) or np.shape(b_h) != (3, H):
        _refuse_shapes(None, H, b_x=(b_x, "3, H"), b_h=(b_h, "3, H"))
    bias = b_x + b_h
    if variant == "torch":
        bias[2] = b_x[2]
    return bias


def cell_forward(a_in, h_prev, W_h, b_hn, *, variant, out=None, check=True):
    """One step, every array by gate (:func:`by_gate`), blocks r, z, n:
    a_in (3, B, H) the part of the pre-activations that does not depend on
    h_{t-1}, x_t W_x + :func:`input_bias`; W_h (3, H, H); b_hn (H,) the n
    block of b_h, read by "torch" only ("cho" has it in a_in), or (B, H),
    that row B times (:func:`forward` passes it so, so that the step adds
    two arrays of the same shape instead of one row to each of B rows).

    Returns (h_t, r_t, z_t, n_t, m_t), where m_t is what the reset gate
    multiplies: h_{t-1} W_hn + b_hn ("torch") or h_{t-1} ("cho").
    out: None, or the arrays (h_t, rzm_t, n_t), shapes (B, H), (3, B, H),
    (B, H), that the step writes into, rzm_t holding r_t, z_t, m_t;
    :func:`forward` passes step t of its cache. Each line computes in place.
    check: False skips the shape check (for :func:`forward`, which made
    every array itself).
    """
    B, H = h_prev.shape[0], h_prev.shape[-1]
    if check and ((h_prev.shape, a_in.shape, W_h.shape) != ((B, H), (3, B, H), (3, H, H))
                  or b_hn.shape not in ((H,), (B, H))):
        _refuse_shapes(B, H, h_prev=(h_prev, "B, H"), a_in=(a_in, "3, B, H"),
                       W_h=(W_h, "3, H, H"), b_hn=(b_hn, "B, H" if b_hn.shape == (B, H) else "H"))
    if out is None:
        shapes = ((B, H), (3, B, H), (B, H))
        out = [np.empty(shape, dtype=h_prev.dtype) for shape in shapes]
    h, rzm, n = out
    r, z, m = rzm
    if variant == "torch":
        np.matmul(h_prev, W_h, out=rzm)  # h_{t-1} W_h, 3 blocks, one call
        m += b_hn  # m_t = h_{t-1} W_hn + b_hn; (eq-gru-cand-torch)
    else:
        np.matmul(h_prev, W_h[:2], out=rzm[:2])
        m[...] = h_prev  # (eq-gru-cand-cho)
    rzm[:2] += a_in[:2]
    sigmoid(rzm[:2], out=rzm[:2])  # r_t and z_t; (eq-gru-gates)
    if variant == "torch":
        np.multiply(r, m, out=n)  # (eq-gru-cand-torch)
    else:
        np.matmul(r * m, W_h[2], out=n)  # (eq-gru-cand-cho)
    n += a_in[2]
    np.tanh(n, out=n)  # n_t; (eq-gru-cand-torch), (eq-gru-cand-cho)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n  # h_t = (1 - z_t) n_t + z_t h_{t-1}; (eq-gru-update)
    return h, r, z, n, m


# The four gradients of one backward step, by gate: deltas (4, ..., H) holds
#   deltas[0] = delta^n, deltas[1] = delta^r, deltas[2] = delta^z (of the
#   pre-activations) and deltas[3], what the n block's recurrent matmul output
#   receives: delta^n * r ("torch": dL/dm) or delta^n ("cho").
# delta^h (what the recurrent matmuls receive, blocks r, z, n) is deltas[1:];
# delta^x (what x_t W_x + b_x receives) is deltas[:3], blocks n, r, z:
#   [GATES[i] for i in NRZ].
NRZ = [2, 0, 1]


def local_derivatives(h_prev, r, z, n, m, *, variant, out=None):
    """The factors of a step's chain rule that do not depend on the
    gradient arriving: s (4, ..., H) with deltas = delta_t * s (see NRZ),
    except deltas[1] (delta^r) in "cho", where s[1] multiplies dL/dv,
    v = r h_{t-1}. With s_n = (1 - z) tanh'(n), s_z = (h_{t-1} - n)
    sigma'(z) and sigma'(r) = r (1 - r),
      "torch": s = [s_n, s_n m sigma'(r), s_z, s_n r]
      "cho":   s = [s_n, m sigma'(r), s_z, s_n]
    Element-wise: the arrays may be a step (B, H) or a block of steps
    (k, B, H), as :func:`backward` passes them. out: None, or an array
    for s.
    """
    s = np.empty((4, *z.shape), dtype=z.dtype) if out is None else out
    s_n, s_r, s_z, s_hn = s
    np.subtract(1.0, z, out=s_n)  # 1 - z, the slope of h_t in n_t
    np.subtract(h_prev, n, out=s_z)
    s_z *= z
    s_z *= s_n  # (h_{t-1} - n) z (1 - z); (eq-gru-bp-z)
    s_n *= tanh_grad_from_output(n, out=s_hn)  # (eq-gru-bp-n)
    np.subtract(1.0, r, out=s_r)
    s_r *= m  # (1 - r) m; m = h_{t-1} in "cho"; (eq-gru-bp-r-cho)
    if variant == "torch":
        # delta_t times these two is dL/dm and delta^r:
        np.multiply(s_n, r, out=s_hn)  # s_n r; (eq-gru-bp-r-torch)
        s_r *= s_hn  # s_n m r (1 - r); (eq-gru-bp-r-torch)
    else:
        s_r *= r
        s_hn[...] = s_n  # n's matmul output enters a^n unscaled
    return s


def cell_backward(dh_t, r, z, s, W_h, *, variant, out=None, check=True):
    """One step of BPTT through the GRU cell, by gate: W_h (3, H, H).

    dh_t (B, H) total dL/dh_t; r, z (B, H) the step's gates; s (4, B, H) its
    factors from :func:`local_derivatives`. Returns
      deltas (4, B, H)  delta^n, delta^r, delta^z and what the n block's
                        recurrent matmul output receives (see NRZ)
      dh_prev (B, H)    dL/dh_{t-1} via this step: the direct path through
                        z, plus the paths through the three matmuls
    out: None, or a (4, B, H) array that deltas is written into.
    check: False skips the shape check (for :func:`backward`, which made
    every array itself).
    """
    B, H = dh_t.shape[0], dh_t.shape[-1]
    if check and ((dh_t.shape, r.shape, z.shape, s.shape, W_h.shape)
                  != ((B, H), (B, H), (B, H), (4, B, H), (3, H, H))):
        _refuse_shapes(B, H, dh_t=(dh_t, "B, H"), r=(r, "B, H"), z=(z, "B, H"),
                       s=(s, "4, B, H"), W_h=(W_h, "3, H, H"))
    deltas = np.multiply(dh_t, s, out=out)  # (eq-gru-bp-n), (eq-gru-bp-z)
    if variant == "torch":  # deltas[1], deltas[3]: (eq-gru-bp-r-torch)
        dh_prev = (deltas[1:] @ W_h.mT).sum(axis=0)  # (eq-gru-bp-hprev-torch)
    else:
        d_rh = deltas[0] @ W_h[2].T  # dL/dv, v = r h_{t-1}; (eq-gru-bp-r-cho)
        np.multiply(d_rh, s[1], out=deltas[1])  # delta^r; (eq-gru-bp-r-cho)
        dh_prev = (deltas[1:3] @ W_h[:2].mT).sum(axis=0)  # (eq-gru-bp-hprev-cho)
        dh_prev += d_rh * r  # through n; (eq-gru-bp-hprev-cho)
    dh_prev += dh_t * z  # direct; (eq-gru-bp-hprev-torch), (eq-gru-bp-hprev-cho)
    return deltas, dh_prev


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
    (one matmul each, with every bias that is only ever added: :func:`input_bias`), so that
    no (T, B, 3H) array of them is ever held; every step writes straight into the cache. All
    of it is by gate (:func:`by_gate`): the r, z and m of a step side by side as (3, B, H), so
    that each block is contiguous and the recurrent product of the three blocks is one matmul
    call.
    """
    D, H, dtype = check_model_params(params, param_spec, "gru")
    check_choice("variant", variant, VARIANTS)
    x = check_sequence(x, D, dtype)
    T, B, _ = x.shape
    h0 = check_state("h0", h0, B, H, dtype)
    W_x, b_x, W_h, b_h = (by_gate(params[k]) for k in ("W_x", "b_x", "W_h", "b_h"))
    bias = input_bias(b_x, b_h, variant=variant)
    h, n = (np.empty((T, B, H), dtype=dtype) for _ in range(2))
    rzm = np.empty((T, 3, B, H), dtype=dtype)
    h_prev = h0
    blocks = time_blocks(T, B, 3 * H, h.itemsize)
    a_in_of = block_buffer(blocks, (3, B, H), dtype)  # one array for all blocks
    b_hn = np.repeat(b_h[2][None], B, axis=0)  # (B, H), see cell_forward
    for block in blocks:
        a_in = project_inputs(x[block], W_x, bias, out=a_in_of(block))  # (3, k, B, H)
        for t in range(block.start, block.stop):
            cell_forward(a_in[:, t - block.start], h_prev, W_h, b_hn, variant=variant,
                         out=(h[t], rzm[t], n[t]), check=False)
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
    gradients are only ever held for one block. Weights and gradients are held by gate
    (:func:`by_gate`) until the end.
    """
    params, x, h, h0 = cache.params, cache.x, cache.h, cache.h0
    variant = cache.options.variant
    T, B, H = h.shape
    dh = check_upstream("dh", dh, (T, B, H), "T, B, H", h.dtype)
    grads = {k: by_gate(np.zeros(v.shape, dtype=h.dtype)) for k, v in params.items()}
    # W_x and b_x collect their gradients in the order n, r, z of delta^x (NRZ) until the end
    dx = np.empty(x.shape, dtype=h.dtype)
    dh_steps = np.empty_like(h)
    carry = np.zeros((B, H), dtype=h.dtype)
    W_x_nrz = by_gate(params["W_x"])[NRZ]
    W_h = with_contiguous_transpose(by_gate(params["W_h"]))
    blocks = time_blocks(T, B, 3 * H, h.itemsize)
    s_of, deltas_of = (block_buffer(blocks, (4, B, H), h.dtype) for _ in range(2))
    for block in blocks[::-1]:
        steps = block.stop - block.start
        h_prev = previous_states_of(block, h0, h)
        r, z, n, m = (a[block] for a in (cache.r, cache.z, cache.n, cache.m))
        s = local_derivatives(h_prev, r, z, n, m, variant=variant, out=s_of(block))
        deltas = deltas_of(block)  # (4, steps, B, H)
        for k in range(steps - 1, -1, -1):
            t = block.start + k
            np.add(dh[t], carry, out=dh_steps[t])  # (eq-gru-bp-total)
            _, carry = cell_backward(dh_steps[t], r[k], z[k], s[:, k], W_h, variant=variant,
                                     out=deltas[:, k], check=False)
        da_x, da_h = deltas[:3], deltas[1:]  # blocks n, r, z and r, z, n
        # the matmul input of each recurrent block: h_{t-1}, except r*h_{t-1} for block n in "cho"
        if variant == "torch":
            grads["W_h"] += sum_outer_over_time(h_prev, da_h)  # (eq-gru-bp-wh-torch)
        else:
            grads["W_h"][:2] += sum_outer_over_time(h_prev, da_h[:2])  # (eq-gru-bp-wh-cho)
            grads["W_h"][2] += sum_outer_over_time(r * h_prev, da_h[2])  # (eq-gru-bp-wh-cho)
        grads["W_x"] += sum_outer_over_time(x[block], da_x)  # (eq-gru-bp-wx)
        sums = sum_over_time(deltas)  # (4, H), over the block's steps and rows
        grads["b_x"] += sums[:3]  # (eq-gru-bp-wx)
        grads["b_h"] += sums[1:]  # (eq-gru-bp-wh-torch), (eq-gru-bp-wh-cho)
        dx_by_gate = da_x.reshape(3, steps * B, H) @ W_x_nrz.mT  # (eq-gru-bp-wx)
        np.sum(dx_by_gate, axis=0, out=dx[block].reshape(steps * B, -1))  # (eq-gru-bp-wx)
    for k in ("W_x", "b_x"):
        grads[k][NRZ] = grads[k].copy()  # blocks n, r, z back to r, z, n
    grads = {k: from_gates(g) for k, g in grads.items()}
    return Gradients(params=grads, dx=dx, dh0=carry, dh_steps=dh_steps)  # (eq-gru-bp-total)
