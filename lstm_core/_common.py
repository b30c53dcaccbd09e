"""Pieces shared by the three recurrent models."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    """

    params: dict
    dx: np.ndarray
    dh0: np.ndarray
    dh_steps: np.ndarray
    dc0: np.ndarray | None = None
    dc_steps: np.ndarray | None = None


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


def project_inputs(x, W_x, b):
    """All steps' input projections in one matmul: (T, B, D) @ (D, G) + b -> (T, B, G)."""
    T, B, D = x.shape
    return (x.reshape(T * B, D) @ W_x + b).reshape(T, B, W_x.shape[1])


def sum_outer_over_time(a, da):
    """sum_t a_t^T da_t for a (T, B, P) and da (T, B, Q), as one (P, Q) matmul."""
    return a.reshape(-1, a.shape[-1]).T @ da.reshape(-1, da.shape[-1])
