"""BPTT over segments of k steps: truncated (chunks) and exact (checkpointing).

Both run a model's ordinary ``forward`` and ``backward`` on one segment at a time, so at most
one k-step cache is alive (the cost appendix measures it with
:func:`lstm_core.memory.cache_bytes`):

* :func:`chunked_bptt`: truncated BPTT in chunks of k steps. The state is carried across chunk
  boundaries, the gradient is not: each chunk's gradients of its initial states are dropped
  (except the first chunk's, which belong to h_0 and c_0).
* :func:`checkpointed_lstm_backward`: the exact full-BPTT gradient of the LSTM from the states
  at the segment starts only: each segment's forward pass is recomputed during the backward
  pass, and the gradients of its start state are handed to the segment before it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import gru, lstm, rnn
from .memory import cache_bytes

__all__ = ["Checkpointed", "Chunked", "checkpointed_lstm_backward", "chunked_bptt"]

_MODULES = {"rnn": rnn, "lstm": lstm, "gru": gru}


class Chunked(NamedTuple):
    """What :func:`chunked_bptt` returns."""

    grads: dict             # parameter gradients, summed over the chunks
    dh_steps: np.ndarray    # dL/dh_t for t = 0..T (index 0: h_0), (T + 1, B, H)
    dc_steps: np.ndarray | None  # the same for dL/dc_t (LSTM), else None
    peak_cache_bytes: int   # bytes of the largest chunk cache


def chunked_bptt(model: str, params: dict, x, dh, k: int, states=None) -> Chunked:
    """Truncated BPTT of ``model`` ("rnn", "lstm", "gru") in chunks of ``k`` steps.

    x (T, B, D), dh (T, B, H) the direct gradient of the loss; ``states`` the initial
    states, (h0,) or (h0, c0) for the LSTM (zeros when None).
    """
    if model not in _MODULES:
        raise ValueError(f"model must be one of {sorted(_MODULES)}, got {model!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    mod = _MODULES[model]
    T, B, _ = x.shape
    H = params["W_h"].shape[0]
    if states is None:
        states = tuple(np.zeros((B, H)) for _ in range(2 if model == "lstm" else 1))
    total = {n: np.zeros_like(v) for n, v in params.items()}
    dh_steps, dc_steps, peak = [], [], 0
    for s in range(0, T, k):
        chunk = slice(s, min(s + k, T))
        hs, cache = mod.forward(params, x[chunk], *states)
        g = mod.backward(dh[chunk], cache)
        states = (hs[-1], cache.c[-1]) if model == "lstm" else (hs[-1],)
        for n in total:
            total[n] += g.params[n]
        if s == 0:
            dh_steps.append(g.dh0[None])
            dc_steps.append(g.dc0[None] if model == "lstm" else None)
        dh_steps.append(g.dh_steps)
        dc_steps.append(g.dc_steps)
        peak = max(peak, cache_bytes(cache))
    dc = np.concatenate(dc_steps) if model == "lstm" else None
    return Chunked(total, np.concatenate(dh_steps), dc, peak)


class Checkpointed(NamedTuple):
    """What :func:`checkpointed_lstm_backward` returns."""

    grads: dict         # parameter gradients: those of full BPTT
    dh0: np.ndarray     # dL/dh_0 (B, H)
    dc0: np.ndarray     # dL/dc_0 (B, H)
    memory_bytes: int   # largest segment cache + the stored start states


def checkpointed_lstm_backward(params: dict, x, dh, k: int, h0=None, c0=None) -> Checkpointed:
    """Full-BPTT gradients of the LSTM with only segment start states kept between passes."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    T, B, _ = x.shape
    H = params["W_h"].shape[0]
    h = np.zeros((B, H)) if h0 is None else h0
    c = np.zeros((B, H)) if c0 is None else c0
    starts = []
    for s in range(0, T, k):                               # forward: keep only (h, c) at starts
        starts.append((s, h, c))
        hs, cache = lstm.forward(params, x[s:s + k], h, c)
        h, c = hs[-1], cache.c[-1]
    total = {n: np.zeros_like(v) for n, v in params.items()}
    dh_next, dc_next, peak = np.zeros((B, H)), np.zeros((B, H)), 0
    for s, h, c in reversed(starts):                       # backward: recompute each segment
        _, cache = lstm.forward(params, x[s:s + k], h, c)
        peak = max(peak, cache_bytes(cache))
        dh_seg = dh[s:s + k].copy()
        dh_seg[-1] += dh_next
        g = lstm.backward(dh_seg, cache, dc_last=dc_next)
        dh_next, dc_next = g.dh0, g.dc0
        for n in total:
            total[n] += g.params[n]
    stored = sum(a.nbytes + b.nbytes for _, a, b in starts)
    return Checkpointed(total, dh_next, dc_next, peak + stored)
