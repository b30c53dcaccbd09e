"""DELIBERATELY WRONG LSTM code: teaching material for the errata appendix.

Nothing here is meant for real use. Each variant reproduces one mistake that
circulates in hand-written LSTM tutorials, so that the book (and its tests)
can show which check catches it and which check lets it through. The correct
code is :func:`lstm_core.lstm.backward` and :mod:`lstm_core.interop`.

:func:`buggy_backward` has the signature of :func:`lstm_core.lstm.backward`
plus a keyword ``bug``; it runs the correct :func:`lstm_core.lstm.backward`,
either with a wrong one-step function in place of
:func:`lstm_core.lstm.cell_backward` or overwriting one entry of the correct
result, and so injects exactly one of these bugs:

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

from ._checks import check_choice
from . import lstm

BUGS = {
    "bias_from_other_gate": "(a) forget-gate bias gradient summed from the input gate's delta",
    "input_weights_last_step": "(b) dL/dW_x from the last step only, not summed over steps",
    "cell_grad_overwritten": "(c) dL/dc_t assigned from the h-path only; + dL/dc_{t+1} f_{t+1} dropped",
    "no_recurrent_dh": "(c') dL/dh_t = loss term only; + the recurrent term from step t+1 dropped",
}


def _cell_backward_overwriting_dc(dh_t, dc_next, *args, **kwargs):
    """BUG (c): lstm.cell_backward with dc_next = 0, so dc_t = dh_t o_t psi'(c_t)."""
    return lstm.cell_backward(dh_t, np.zeros_like(dc_next), *args, **kwargs)


def _cell_backward_dropping_dh_prev(*args, **kwargs):
    """BUG (c'): lstm.cell_backward whose dL/dh_{t-1} never reaches step t-1."""
    da, dc, dh_prev, dc_prev = lstm.cell_backward(*args, **kwargs)
    return da, dc, np.zeros_like(dh_prev), dc_prev


def buggy_backward(dh, cache, dc_last=None, *, bug):
    """:func:`lstm_core.lstm.backward` with exactly one bug injected.

    DELIBERATELY WRONG for every ``bug`` in :data:`BUGS` (module docstring).
    (c) and (c') swap in a wrong step function; (a) and (b) overwrite one
    entry of the correct result.
    """
    check_choice("bug", bug, BUGS)
    step = lstm.cell_backward
    if bug == "cell_grad_overwritten":
        step = _cell_backward_overwriting_dc     # BUG (c)
    elif bug == "no_recurrent_dh":
        step = _cell_backward_dropping_dh_prev   # BUG (c')
    g = lstm.backward(dh, cache, dc_last, cell_backward=step)
    i, f = (lstm.gate_slice(k, cache.h.shape[-1]) for k in "if")
    if bug == "bias_from_other_gate":
        g.params["b"][f] = g.params["b"][i]      # BUG (a): i's delta, not f's
    elif bug == "input_weights_last_step":
        # BUG (b): the last step's term only, not the sum over t
        g.params["W_x"] = cache.x[-1].T @ g.da_steps[-1]
    elif bug == "no_recurrent_dh":
        # the buggy loop still returns step 0's dL/dh_{t-1} as dh0
        g.dh0 = g.da_steps[0] @ cache.params["W_h"].T
    return g


def backward_with(bug):
    """Like :func:`lstm_core.lstm.backward`, called as ``(dh, cache, dc_last=None)``, with ``bug``."""
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
