"""Pieces shared by the three recurrent models."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np


class OnDemand:
    """A value that a :class:`Gradients` field computes when it is first read: ``compute()``.

    :func:`lstm_core.lstm.backward` returns its da_steps this way: the (T, B, 4H) array is
    made only if someone reads it, so the backward pass itself never holds it.
    """

    def __init__(self, compute):
        self.compute = compute

    def __repr__(self):
        return f"OnDemand({getattr(self.compute, '__name__', self.compute)!r})"


class _ComputedOnFirstRead:
    """A dataclass field that may be given an :class:`OnDemand`: the first read computes the
    value and stores it in its place (later reads return that same array); an assignment
    stores what is assigned, like any other field."""

    def __set_name__(self, owner, name):
        self.slot = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return None  # the field's default
        value = obj.__dict__[self.slot]
        if isinstance(value, OnDemand):
            value = obj.__dict__[self.slot] = value.compute()
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = value


@dataclass
class Gradients:
    """What every ``backward`` returns.

    params     dict with the same keys and shapes as the model's params
    dx         (T, B, D)  dL/dx_t
    dh0        (B, H)     dL/dh_0 (the initial hidden state)
    dh_steps   (T, B, H)  the *total* dL/dh_t at each step: the gradient that
               arrives from outside the recurrence plus the one flowing back
               from step t+1. This is what the chapters plot.
    dc0        (B, H)     LSTM only: dL/dc_0
    dc_steps   (T, B, H)  LSTM only: total dL/dc_t at each step
    da_steps   (T, B, G)  RNN and LSTM: dL/da_t, the gradient of each step's
               pre-activations (G = H for the RNN, 4H for the LSTM's i, f, g, o).
               It may be given as an :class:`OnDemand` (the LSTM does): it is then
               computed when first read, and reads as an array all the same.
    """

    params: dict
    dx: np.ndarray
    dh0: np.ndarray
    dh_steps: np.ndarray
    dc0: np.ndarray | None = None
    dc_steps: np.ndarray | None = None
    da_steps: np.ndarray | None = _ComputedOnFirstRead()


def previous_states(first, states):
    """The state each step starts from: [first, states[0], ..., states[T-2]] -> (T, B, H).

    first (B, H) is the initial state, states (T, B, H) what the steps produced.
    """
    out = np.empty_like(states)
    out[0] = first
    out[1:] = states[:-1]
    return out


@dataclass(frozen=True, eq=False, repr=False)
class Cache:
    """What a model's ``forward`` keeps for its ``backward``; each model adds its own fields.

    params   the params dict the forward pass ran with
    x        (T, B, D) the input sequence
    h0       (B, H)    the initial hidden state
    h        (T, B, H) the hidden states h_1 .. h_T (code index t = 0 .. T-1)
    """

    params: dict
    x: np.ndarray
    h0: np.ndarray
    h: np.ndarray

    @property
    def h_prev(self) -> np.ndarray:
        """(T, B, H) the hidden state each step reads: [h_0, h_1, ..., h_{T-1}].

        A new array on each access (the cache itself stores no copy): bind it once.
        """
        return previous_states(self.h0, self.h)

    def arrays(self) -> dict:
        """The arrays this cache stores, by field name (the params dict and options left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}

    def __repr__(self):
        parts = [f"{k}{v.shape}" for k, v in self.arrays().items()]
        if hasattr(self, "options"):
            parts.append(repr(self.options))
        return f"{type(self).__name__}({', '.join(parts)})"


def uniform_init(rng, shape, bound, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )


def check_sizes(input_size, hidden_size):
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def project_inputs(x, W_x, b, out=None):
    """All steps' input projections in one matmul: (T, B, D) @ (D, G) + b (G,) -> (T, B, G);
    for weights by gate, a stack W_x (K, D, G) and b (K, G), the stack (K, T, B, G).

    A new array, or ``out`` (same shape) filled in; b is added in place, so no second
    such array is made.
    """
    T, B, D = x.shape
    stack, G = W_x.shape[:-2], W_x.shape[-1]
    rows = None if out is None else out.reshape(*stack, T * B, G)
    a = np.matmul(x.reshape(T * B, D), W_x, out=rows)
    a += b[..., None, :]
    return a.reshape(*stack, T, B, G)


def time_blocks(T, B, width, itemsize, nbytes=2**19):
    """The steps 0..T-1 cut into consecutive slices of about ``nbytes / (B * width * itemsize)``
    steps (at least one).

    A backward pass that does its element-wise work on a block of steps at once makes fewer,
    larger numpy calls than one that works step by step; a block of (steps, B, width) arrays
    of 512 KiB stays in the processor's cache between those calls (measured fastest).
    """
    n = max(1, nbytes // (B * width * itemsize))
    return [slice(t0, min(t0 + n, T)) for t0 in range(0, T, n)]


def block_buffer(blocks, per_step, dtype):
    """One array for the (G, steps, ...) arrays of every block of ``blocks`` (from
    :func:`time_blocks`), per_step = (G, ...): returns ``of(block)``, a C-contiguous
    (G, steps, ...) view of it for that block. A pass that fills such an array block after
    block then allocates it once instead of once per block."""
    G, rest = per_step[0], per_step[1:]
    flat = np.empty(G * max(b.stop - b.start for b in blocks) * math.prod(rest), dtype=dtype)

    def of(block):
        shape = (G, block.stop - block.start, *rest)
        return flat[:math.prod(shape)].reshape(shape)
    return of


def previous_states_of(block, first, states):
    """:func:`previous_states` for the steps of ``block`` (a slice) only: states[t-1] for t in
    the block, ``first`` for t = 0. A view of ``states`` unless the block starts at t = 0."""
    if block.start == 0:
        return previous_states(first, states[block])
    return states[block.start - 1:block.stop - 1]


def with_contiguous_transpose(W):
    """W (..., P, Q) stored so that its matrix transpose ``W.mT`` (``W.T`` for a matrix) is
    C-contiguous: one copy per backward pass, so that the transposed weights the cells'
    backward steps multiply by are not a transposed view, on which BLAS is slower. Same
    values, shape and array subclass; only the memory layout differs."""
    return W.mT.copy(order="C").mT


def sum_over_time(da):
    """sum_t of the column sums of da (T, B, Q): (Q,), the gradient of a bias added at every
    step; for a stack da (G, T, B, Q) of G blocks, the (G, Q) stack of those sums.

    Computed as a product with a vector of ones: BLAS does it in one pass over da, faster
    than numpy's ``da.sum(axis=(-3, -2))``, which adds row by row."""
    rows = da.reshape(*da.shape[:-3], -1, da.shape[-1])
    return np.ones(rows.shape[-2], dtype=da.dtype) @ rows


def sum_outer_over_time(a, da):
    """sum_t a_t^T da_t for a (T, B, P) and da (T, B, Q), as one (P, Q) matmul; for a stack
    da (G, T, B, Q) of G blocks (one per gate), the (G, P, Q) stack of those sums."""
    return a.reshape(-1, a.shape[-1]).T @ da.reshape(*da.shape[:-3], -1, da.shape[-1])
