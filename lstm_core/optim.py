"""Optimisers and gradient clipping on dicts of arrays (params and grads share keys)."""
from __future__ import annotations

import numpy as np


def global_norm(grads: dict) -> float:
    """Euclidean norm of all gradient arrays taken together."""
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())))


def clip_by_global_norm(grads: dict, max_norm: float):
    """Rescale every gradient by max_norm / ||g|| when the global norm exceeds max_norm.

    Gradient-norm clipping of Pascanu, Mikolov & Bengio (2013): the direction
    is kept, only the length is capped. Returns (clipped grads, norm before).
    A non-finite norm raises instead of spreading NaN into the weights.
    """
    if not (np.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive finite number, got {max_norm}")
    norm = global_norm(grads)
    if not np.isfinite(norm):
        raise FloatingPointError(f"gradient norm is {norm}; clipping cannot repair non-finite gradients")
    if norm <= max_norm:
        return dict(grads), norm
    scale = max_norm / norm
    return {k: g * scale for k, g in grads.items()}, norm
