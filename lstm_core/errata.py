"""DELIBERATELY WRONG LSTM code: teaching material for the errata appendix.

Nothing here is meant for real use. Each variant reproduces one mistake that
circulates in hand-written LSTM tutorials, so that the book (and its tests)
can show which check catches it and which check lets it through. The correct
code is :func:`lstm_core.lstm.backward` and :mod:`lstm_core.interop`.

:func:`buggy_backward` has the signature of :func:`lstm_core.lstm.backward`
plus a keyword ``bug``; it runs the same BPTT loop around the correct
:func:`lstm_core.lstm.cell_backward` and injects exactly one of these bugs:

``"bias_from_other_gate"``   (a) the forget gate's bias gradient is summed
                             from the *input* gate's delta (a copy-paste slip:
                             ``db_f = d_i.sum(0)``); everything else is right.
``"input_weights_last_step"`` (b) dL/dW_x is the last step's outer product
                             ``x_T^T da_T`` instead of the sum over all steps.
``"cell_grad_overwritten"``  (c) the cell-state gradient is *assigned* from the
                             path through h_t only, ``dc_t = dh_t o_t psi'``;
                             the path from c_{t+1} (``+ dc_next``) is dropped.
``"no_recurrent_dh"``        (c') the hidden-state gradient is only what the
                             loss sends to h_t; the path back from step t+1
                             (``+ dh_next``) is dropped.

:func:`lstm_from_tf_ignoring_gate_order` is the loader mistake (d): a
TensorFlow ``BasicLSTMCell`` kernel (gate blocks i, j, f, o) read as if it
were in our order i, f, g, o.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_upstream
from ._common import Gradients, sum_outer_over_time
from . import lstm

BUGS = {
    "bias_from_other_gate": "(a) forget-gate bias gradient summed from the input gate's delta",
    "input_weights_last_step": "(b) dL/dW_x from the last step only, not summed over steps",
    "cell_grad_overwritten": "(c) dL/dc_t assigned from the h-path only; + dL/dc_{t+1} f_{t+1} dropped",
    "no_recurrent_dh": "(c') dL/dh_t = loss term only; + the recurrent term from step t+1 dropped",
}


def buggy_backward(dh, cache, dc_last=None, *, bug):
    """:func:`lstm_core.lstm.backward` with exactly one bug injected (see the module docstring).

    DELIBERATELY WRONG for every value of ``bug``; ``bug`` is one of :data:`BUGS`.
    """
    check_choice("bug", bug, BUGS)
    params, x, h, c, gates = (cache[k] for k in ("params", "x", "h", "c", "gates"))
    T, B, H = h.shape
    dh = check_upstream("dh", dh, (T, B, H), "T, B, H", h.dtype)
    dc_carry = check_upstream("dc_last", dc_last, (B, H), "B, H", h.dtype)
    opts = cache["options"]
    c_prev = np.concatenate([cache["c0"][None], c[:-1]], axis=0)
    da = np.empty_like(gates)
    dh_steps = np.empty_like(h)
    dc_steps = np.empty_like(h)
    dh_carry = np.zeros((B, H), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        if bug == "no_recurrent_dh":
            dh_steps[t] = dh[t]                      # BUG (c'): should be dh[t] + dh_carry
        else:
            dh_steps[t] = dh[t] + dh_carry
        if bug == "cell_grad_overwritten":
            dc_carry = np.zeros_like(dc_carry)      # BUG (c): cell_backward then computes
            #                                         dc = 0 + dh_t o psi'(c_t), i.e. "=" not "+="
        da[t], dc_steps[t], dh_carry, dc_carry = lstm.cell_backward(
            dh_steps[t], dc_carry, gates[t], c_prev[t], cache["s"][t], params["W_h"],
            psi=opts["psi"], cell=opts["cell"],
        )
    h_prev = np.concatenate([cache["h0"][None], h[:-1]], axis=0)
    if bug == "input_weights_last_step":
        dW_x = x[-1].T @ da[-1]                      # BUG (b): should be the sum over t
    else:
        dW_x = sum_outer_over_time(x, da)
    db = da.sum(axis=(0, 1))
    if bug == "bias_from_other_gate":
        db[lstm.gate_slice("f", H)] = db[lstm.gate_slice("i", H)]  # BUG (a): i's delta, not f's
    grads = {"W_x": dW_x, "W_h": sum_outer_over_time(h_prev, da), "b": db}
    dx = (da.reshape(T * B, 4 * H) @ params["W_x"].T).reshape(x.shape)
    return Gradients(params=grads, dx=dx, dh0=dh_carry, dh_steps=dh_steps,
                     dc0=dc_carry, dc_steps=dc_steps)


def backward_with(bug):
    """A function with exactly the signature of :func:`lstm_core.lstm.backward` that has ``bug``."""
    check_choice("bug", bug, BUGS)

    def backward(dh, cache, dc_last=None):
        return buggy_backward(dh, cache, dc_last, bug=bug)

    backward.__name__ = f"backward_{bug}"
    backward.__doc__ = f"DELIBERATELY WRONG lstm.backward: {BUGS[bug]}."
    return backward


def lstm_from_tf_ignoring_gate_order(kernel, bias, input_size):
    """DELIBERATELY WRONG: a TF BasicLSTMCell (kernel, bias) split into W_x, W_h, b
    without reordering TF's gate blocks i, j, f, o into our i, f, g, o.

    So our "f" block receives TF's candidate j, our "g" block TF's forget gate f.
    The correct loader is :func:`lstm_core.interop.lstm_from_tf`.
    """
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    if kernel.ndim != 2 or kernel.shape[1] % 4 or kernel.shape[0] != input_size + kernel.shape[1] // 4:
        raise ValueError(
            f"kernel must have shape (D + H, 4H) with D = {input_size}, got shape {kernel.shape}"
        )
    return {"W_x": kernel[:input_size].copy(), "W_h": kernel[input_size:].copy(), "b": bias.copy()}
