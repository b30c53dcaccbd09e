"""The LSTM forward pass written out from its equations, with a perturbation at any site.

Finite differences of the weights check only the weight gradients; to check an intermediate
of the backward pass (delta_o at step t, the path c_t -> c_{t+1}, ...) numerically, add a
small number at exactly that place inside the recurrence and difference the loss.
:func:`forward_with_perturbations` is that forward pass (chapter 4 shows it; the tests use it
as their reference). It shares no code with :func:`lstm_core.lstm.forward`.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SITES", "forward_with_perturbations"]

#: Where a perturbation can go, inside step t.
SITES = {
    "a": "the pre-activations (B, 4H), blocks i, f, g, o",
    "v": "the gate values (B, 4H), after the nonlinearities",
    "c": "the cell state c_t",
    "c->h": "c_t only where h_t reads it",
    "c->c": "c_t only where c_{t+1} reads it",
    "h": "the hidden state h_t",
    "h->next": "h_t only where step t+1 reads it",
}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward_with_perturbations(params, x, h0, c0, pert=None, *, forget_bias=0.0,
                               output_activation="tanh", cell="standard",
                               frozen_gates=None, frozen_carry=None):
    """Hidden states (T, B, H) of the LSTM, with ``pert[(site, t)]`` added inside step t.

    ``params`` has W_x (D, 4H), W_h (H, 4H), b (4H,); x is (T, B, D), h0 and c0 (B, H).
    ``pert`` maps (site, t) to an array added at that site (see :data:`SITES`).
    ``frozen_gates`` (T, B, 4H) replaces the gate values, which cuts every path through the
    hidden states; ``frozen_carry`` (T, B, H) replaces c_{t-1} inside c_t, which cuts every
    path along the cell state. ``cell`` is "standard", "no_forget" (f = 1) or "coupled"
    (f = 1 - i), as in :func:`lstm_core.lstm.forward`.
    """
    pert = {} if pert is None else pert
    unknown = sorted({site for site, _ in pert} - set(SITES))
    if unknown:
        raise ValueError(f"unknown perturbation sites {unknown}; expected some of {sorted(SITES)}")
    if cell not in ("standard", "no_forget", "coupled"):
        raise ValueError(f"cell must be 'standard', 'no_forget' or 'coupled', got {cell!r}")
    psi = np.tanh if output_activation == "tanh" else (lambda v: v)
    P = lambda site, t: pert.get((site, t), 0.0)  # noqa: E731
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    H = W_h.shape[0]
    h_prev, c_prev, hs = h0, c0, []
    for t in range(x.shape[0]):
        a = x[t] @ W_x + h_prev @ W_h + b + P("a", t)
        i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H] + forget_bias)
        g, o = np.tanh(a[:, 2 * H:3 * H]), _sigmoid(a[:, 3 * H:])
        if cell == "no_forget":
            f = np.ones_like(f)
        elif cell == "coupled":
            f = 1.0 - i
        v = np.concatenate([i, f, g, o], axis=1) if frozen_gates is None else frozen_gates[t]
        v = v + P("v", t)
        i, f, g, o = (v[:, k * H:(k + 1) * H] for k in range(4))
        if frozen_carry is not None:
            c_prev = frozen_carry[t]
        c = f * c_prev + i * g + P("c", t)
        h = o * psi(c + P("c->h", t)) + P("h", t)
        hs.append(h)
        h_prev, c_prev = h + P("h->next", t), c + P("c->c", t)
    return np.stack(hs)
