"""Parameter counts and floating-point operations per time step of the three models.

The counts describe the models exactly as :mod:`lstm_core.rnn`, :mod:`lstm_core.lstm`
and :mod:`lstm_core.gru` define them (row vectors, gate blocks side by side):

    model   weights               biases                 parameters
    rnn     W_x (D, H),  W_h (H, H)     b (H,)                 H (D + H + 1)
    lstm    W_x (D, 4H), W_h (H, 4H)    b (4H,)                4H (D + H + 1)
    gru     W_x (D, 3H), W_h (H, 3H)    b_x (3H,), b_h (3H,)   3H (D + H + 2)

PyTorch's ``nn.RNN`` and ``nn.LSTM`` store two bias vectors that only ever appear as a
sum, so their reported counts are larger by H and 4H; the GRU's two biases are both
needed (b_hn sits inside the reset product) and the counts agree.

What one forward time step costs, for a batch of B sequences
-------------------------------------------------------------
Counted, in FLOPs (floating-point operations):

* matmuls: every multiply-add of ``x_t W_x`` and of ``h_{t-1} W_h`` (or, for the
  GRU variant "cho", of ``(r_t * h_{t-1}) W_hn``) counts as **2 FLOPs**, so a
  (B, K) @ (K, N) product costs 2 B K N. The input projection is counted in
  every step even though the library computes it in one matmul for many steps at once.
* element-wise arithmetic: each addition, subtraction and multiplication of one
  element counts as 1 FLOP: bias additions, the sum of the input and recurrent
  projections, the gate products and the state updates, exactly as written in
  the model's equations (``1 - z`` counts as one subtraction).

Not counted in the FLOPs:

* the nonlinearities (sigmoid, tanh): their cost depends on how exp/tanh are
  implemented, so :func:`cost_breakdown` reports the *number of evaluations*
  separately under ``"nonlinearities"``;
* the LSTM's constant ``forget_bias`` (fold it into ``b``), the loss, any
  readout layer, memory traffic, and the backward pass.

Both GRU variants cost the same: "cho" moves one element-wise product (r * h)
before the matmul instead of after it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

MODELS = ("rnn", "lstm", "gru")

# number of H-wide gate blocks in the weight matrices
_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}

# per step and per sequence, in units of H:
#   element-wise FLOPs, and sigmoid/tanh evaluations
_ELEMENTWISE = {
    # a = (x W_x + b) + h W_h: 2 additions
    "rnn": 2,
    # 4H bias + 4H sum of projections; c = f*c + i*g: 2 products + 1 sum; h = o * tanh(c): 1 product
    "lstm": 4 + 4 + 3 + 1,
    # b_x 3H + b_h 3H; r, z: projections summed 2H; candidate: one product with r and one sum 2H;
    # h = (1 - z) * n + z * h_prev: 1 subtraction, 2 products, 1 sum
    "gru": 3 + 3 + 2 + 2 + 4,
}
_NONLINEARITIES = {
    "rnn": 1,       # tanh(a)
    "lstm": 3 + 2,  # sigmoid i, f, o; tanh g and tanh(c)
    "gru": 2 + 1,   # sigmoid r, z; tanh n
}


def _check(model, D, H, B=1):
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(repr(m) for m in MODELS)}, got {model!r}")
    for name, v in (("D", D), ("H", H), ("B", B)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(D), int(H), int(B)


def param_count(model: str, D: int, H: int) -> int:
    """Number of trainable parameters of ``model`` ("rnn", "lstm" or "gru") with input size D, hidden size H."""
    D, H, _ = _check(model, D, H)
    G = _BLOCKS[model] * H
    biases = 2 * G if model == "gru" else G
    return G * (D + H) + biases


def cost_breakdown(model: str, D: int, H: int, B: int = 1) -> dict:
    """Per forward step: ``{"matmul": FLOPs, "elementwise": FLOPs, "nonlinearities": evaluations}``.

    See the module docstring for what each entry counts. ``flops_per_step`` is
    ``matmul + elementwise``.
    """
    D, H, B = _check(model, D, H, B)
    G = _BLOCKS[model] * H
    return {
        "matmul": 2 * B * (D + H) * G,
        "elementwise": B * _ELEMENTWISE[model] * H,
        "nonlinearities": B * _NONLINEARITIES[model] * H,
    }


def flops_per_step(model: str, D: int, H: int, B: int = 1) -> int:
    """FLOPs of one forward time step of ``model`` for a batch of B sequences.

    Matmul multiply-adds count 2 FLOPs each; element-wise additions, subtractions
    and products count 1. Sigmoid/tanh evaluations, the loss, memory traffic and
    the backward pass are not counted (module docstring). For large H the
    matmuls dominate: ``2 B (D + H) G`` with G = H, 4H, 3H for rnn, lstm, gru.
    """
    c = cost_breakdown(model, D, H, B)
    return c["matmul"] + c["elementwise"]


class Product(NamedTuple):
    """``count`` matrix products of an (m, k) by a (k, n) matrix: 2 m k n FLOPs each."""

    what: str
    m: int
    k: int
    n: int
    count: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.count


def training_products(model: str, T: int, B: int, D: int, H: int) -> list:
    """The matrix products of one forward + backward pass over T steps, as :class:`Product` s.

    With G = H, 4H, 3H (rnn, lstm, gru): the input projection of all steps at once, the
    recurrent product of every step, its transpose in the backward pass of every step, and the
    three products the backward pass can batch over all T B rows (the weight gradients and dx).
    The recurrent products cannot be batched: step t needs h_{t-1}. Their FLOPs add up to
    ``3 T cost_breakdown(...)["matmul"]`` = 6 T B (D + H) G. The GRU's candidate block is
    counted inside its one (H, 3H) recurrent product (``variant="torch"``; "cho" multiplies the
    same number of entries, split differently). ``bench/`` times these products alone as the
    floor of forward + backward.
    """
    D, H, B = _check(model, D, H, B)
    if not isinstance(T, (int, np.integer)) or isinstance(T, (bool, np.bool_)) or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    T = int(T)
    G = _BLOCKS[model] * H
    return [
        Product("x W_x, all steps (forward)", T * B, D, G, 1),
        Product("h_{t-1} W_h, every step (forward)", B, H, G, T),
        Product("da_t W_h^T, every step (backward)", B, G, H, T),
        Product("x^T da = dW_x, all steps (backward)", D, T * B, G, 1),
        Product("h_prev^T da = dW_h, all steps (backward)", H, T * B, G, 1),
        Product("da W_x^T = dx, all steps (backward)", T * B, G, D, 1),
    ]
