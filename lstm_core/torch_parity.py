"""Our forward and backward passes against PyTorch's, on the shipped golden fixtures.

A fixture (``lstm_core/fixtures/torch_*.npz``, see :mod:`lstm_core.fixtures`) holds a seeded
single-layer ``nn.LSTM`` or ``nn.GRU`` in float64: its ``state_dict`` (keys ``sd.*``), an input
``x``, initial states, fixed random weights ``w_out``, ``w_h`` (and ``w_c``) of the linear loss

    L = sum(w_out * output) + sum(w_h * h_n) [+ sum(w_c * c_n) for the LSTM]

and everything PyTorch's autograd computed for it (``output``, ``h_n``, ``grad_x``, ...).
:func:`compare` runs ``lstm_core`` on the same model and returns each of those quantities as
a pair (ours, PyTorch's); the appendices and the tests report differences of these pairs.
"""
from __future__ import annotations

import re

import numpy as np

from . import fixtures, gru, interop, lstm

__all__ = ["QUANTITIES", "compare", "compare_stack", "fixture_gradient_check", "load", "max_abs_difference",
           "max_relative_difference", "names", "outside_gradient", "state_dict"]

#: Every quantity a fixture records that :func:`compare` pairs (``c_n``, ``grad_c0``: LSTM only).
QUANTITIES = ("output", "h_n", "c_n", "grad_x", "grad_h0", "grad_c0", "grad.weight_ih_l0",
              "grad.weight_hh_l0", "grad.bias_ih_l0", "grad.bias_hh_l0")


_SINGLE_LAYER = re.compile(r"torch_(lstm|gru)_T\d+_B\d+_D\d+_H\d+_s\d+\.npz")


def names(kind: str | None = None) -> list[str]:
    """The shipped fixtures of one-layer, one-direction modules ("lstm", "gru" or both), sorted.

    (The stacked and bidirectional fixtures, ``..._L2_bi_...``, are :mod:`lstm_core.stack`'s.)
    """
    if kind not in (None, "lstm", "gru"):
        raise ValueError(f"kind must be 'lstm', 'gru' or None, got {kind!r}")
    return [n for n in fixtures.names(f"torch_{kind or '*'}_*.npz") if _SINGLE_LAYER.fullmatch(n)]


def load(name: str) -> dict:
    """The fixture ``name`` as a dict of arrays plus ``"kind"`` ("lstm"/"gru") and ``"label"``.

    The kind and the sizes come from the file name, e.g. ``torch_lstm_T5_B3_D4_H6_s0.npz``
    gives kind "lstm" and label "LSTM T5 B3 D4 H6".
    """
    if not _SINGLE_LAYER.fullmatch(name):
        raise ValueError(f"{name!r} is not the fixture of a one-layer torch LSTM or GRU "
                         f"(shipped: {', '.join(names())})")
    ref = fixtures.load(name)
    kind, *sizes = name.removesuffix(".npz").split("_")[1:]
    ref["kind"] = kind
    ref["label"] = f"{kind.upper()} " + " ".join(sizes[:-1])
    return ref


def state_dict(ref: dict) -> dict:
    """The module's ``state_dict`` stored in the fixture (the ``sd.*`` arrays, prefix removed)."""
    return {k[3:]: v for k, v in ref.items() if k.startswith("sd.")}


def outside_gradient(ref: dict) -> np.ndarray:
    """dL/dh_t from outside the recurrence, (T, B, H): ``w_out``, plus ``w_h`` at the last step."""
    dh = np.array(ref["w_out"], dtype=np.float64, copy=True)
    dh[-1] += ref["w_h"]
    return dh


def compare(ref: dict, sd: dict | None = None, *, kind: str | None = None, params=None,
            backward=None, forget_bias: float = 0.0):
    """Run ``lstm_core`` on the fixture's model; return ``({quantity: (ours, torch's)}, grads)``.

    ``sd`` replaces the stored ``state_dict`` (e.g. with the biases moved); ``params`` gives
    our parameters directly instead (LSTM: e.g. loaded from a TF checkpoint, run with
    ``forget_bias``); ``backward`` replaces ``lstm.backward`` (e.g. an ``errata`` variant).
    ``kind`` defaults to ``ref["kind"]``. ``grads`` are our :class:`Gradients`.
    """
    kind = ref.get("kind") if kind is None else kind
    if kind not in ("lstm", "gru"):
        raise ValueError(f"kind must be 'lstm' or 'gru', got {kind!r}")
    if params is None:
        sd = state_dict(ref) if sd is None else sd
        params = (interop.lstm_from_torch if kind == "lstm" else interop.gru_from_torch)(sd)
    dh = outside_gradient(ref)
    pairs = {}
    if kind == "lstm":
        h, cache = lstm.forward(params, ref["x"], ref["h0"], ref["c0"], forget_bias=forget_bias)
        g = (lstm.backward if backward is None else backward)(dh, cache, ref["w_c"])
        pairs["c_n"] = (cache.c[-1], ref["c_n"])
        pairs["grad_c0"] = (g.dc0, ref["grad_c0"])
        # torch's two biases only enter as a sum: each gets our one bias gradient
        bias_grads = (g.params["b"], g.params["b"])
    else:
        h, cache = gru.forward(params, ref["x"], ref["h0"], variant="torch")
        g = (gru.backward if backward is None else backward)(dh, cache)
        bias_grads = (g.params["b_x"], g.params["b_h"])
    pairs["output"] = (h, ref["output"])
    pairs["h_n"] = (h[-1], ref["h_n"])
    pairs["grad_x"] = (g.dx, ref["grad_x"])
    pairs["grad_h0"] = (g.dh0, ref["grad_h0"])
    pairs["grad.weight_ih_l0"] = (g.params["W_x"].T, ref["grad.weight_ih_l0"])
    pairs["grad.weight_hh_l0"] = (g.params["W_h"].T, ref["grad.weight_hh_l0"])
    pairs["grad.bias_ih_l0"] = (bias_grads[0], ref["grad.bias_ih_l0"])
    pairs["grad.bias_hh_l0"] = (bias_grads[1], ref["grad.bias_hh_l0"])
    return {q: pairs[q] for q in QUANTITIES if q in pairs}, g


def compare_stack(ref: dict, kind: str | None = None):
    """:func:`compare` for a stacked and/or bidirectional module, run by :mod:`lstm_core.stack`.

    Returns ``({quantity: (ours, torch's)}, grads)``; our weight gradients go back through
    ``interop.*_to_torch`` and are paired with torch's name by name (``grad.weight_ih_l1`` ...).
    """
    from . import stack

    kind = ref.get("kind") if kind is None else kind
    if kind not in ("lstm", "gru"):
        raise ValueError(f"kind must be 'lstm' or 'gru', got {kind!r}")
    sd = state_dict(ref)
    params = (interop.lstm_from_torch if kind == "lstm" else interop.gru_from_torch)(sd)
    c0 = ref["c0"] if kind == "lstm" else None
    y, cache = stack.forward(params, ref["x"], ref["h0"], c0)
    g = stack.backward(ref["w_out"], cache, dh_n=ref["w_h"],
                       dc_n=ref["w_c"] if kind == "lstm" else None)
    pairs = {"output": (y, ref["output"]), "h_n": (cache.h_n, ref["h_n"]),
             "grad_x": (g.dx, ref["grad_x"]), "grad_h0": (g.dh0, ref["grad_h0"])}
    if kind == "lstm":
        pairs["c_n"] = (cache.c_n, ref["c_n"])
        pairs["grad_c0"] = (g.dc0, ref["grad_c0"])
    to_torch = interop.lstm_to_torch if kind == "lstm" else interop.gru_to_torch
    for name, ours in to_torch(g).items():
        pairs[f"grad.{name}"] = (ours, ref[f"grad.{name}"])
    return pairs, g


def max_abs_difference(pairs: dict) -> dict:
    """{quantity: max |ours − torch's|}."""
    return {q: float(np.max(np.abs(a - b))) for q, (a, b) in pairs.items()}


def max_relative_difference(pairs: dict) -> dict:
    """{quantity: max |ours − torch's| / max |torch's|} (a scale-free difference)."""
    return {q: float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))
            for q, (a, b) in pairs.items()}


def fixture_gradient_check(ref: dict, params: dict, forget_bias: float = 0.0) -> float:
    """The full gradient check of our LSTM on the fixture's sequence, states and loss.

    Central differences (:func:`lstm_core.gradcheck.check_gradients`) of the fixture's loss
    with respect to every weight, the input and both initial states, against
    ``lstm.backward``, for the weights ``params`` run with ``forget_bias``; returns the
    largest relative error. It needs no PyTorch numbers: it tests the backward pass against
    its own forward pass, whatever model ``params`` is.
    """
    from .gradcheck import check_gradients

    x, h0, c0 = (np.array(ref[k], dtype=np.float64, copy=True) for k in ("x", "h0", "c0"))
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
    arrays = {**params, "x": x, "h0": h0, "c0": c0}

    def loss():  # the fixture's loss: sum(w_out*h) + sum(w_h*h_T) + sum(w_c*c_T)
        h, cache = lstm.forward(params, x, h0, c0, forget_bias=forget_bias)
        return (np.sum(ref["w_out"] * h) + np.sum(ref["w_h"] * h[-1])
                + np.sum(ref["w_c"] * cache.c[-1]))

    h, cache = lstm.forward(params, x, h0, c0, forget_bias=forget_bias)
    g = lstm.backward(outside_gradient(ref), cache, dc_last=ref["w_c"])
    analytic = {**g.params, "x": g.dx, "h0": g.dh0, "c0": g.dc0}
    return max(check_gradients(loss, arrays, analytic).values())
