"""Numerical gradients by central differences, and a checker built on them.

The relative error of an analytic gradient ``a`` against a numerical one
``n`` is measured against the size of the whole array:

    max_k |a_k - n_k| / max(max_k |a_k|, max_k |n_k|, tiny)

Unlike an element-wise ratio it is not fooled by entries that are (almost)
zero, where finite differences only return rounding noise; a real bug that
changes any entry by a fraction of the array's scale still shows up.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


# central-difference stencils: offsets (in units of eps) and weights, divided by eps
_STENCILS = {
    2: ((1, -1), (0.5, -0.5)),                            # error O(eps^2)
    4: ((2, 1, -1, -2), (-1 / 12, 8 / 12, -8 / 12, 1 / 12)),  # error O(eps^4)
}


def numerical_gradient(f: Callable[[], float], arr: np.ndarray, eps: float = 1e-3, order: int = 4) -> np.ndarray:
    """dF/d(arr) by central differences, where F = f() reads ``arr`` in place.

    ``order=2`` is the textbook (F(a+eps) - F(a-eps)) / (2 eps). ``order=4``
    (the default) also uses a +-2 eps and cancels the eps^2 error term, so a
    larger eps can be used and rounding noise stays small even where the
    gradient itself is small (vanishing gradients are exactly where we look).
    Every entry is restored, so ``arr`` is unchanged on return.
    """
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise TypeError(f"arr must be a floating numpy array, got {type(arr).__name__}")
    if order not in _STENCILS:
        raise ValueError(f"order must be one of {sorted(_STENCILS)}, got {order!r}")
    offsets, weights = _STENCILS[order]
    grad = np.zeros_like(arr, dtype=np.float64)
    flat = arr.reshape(-1)  # a view: writing to it writes to arr
    if not np.shares_memory(flat, arr):
        raise ValueError("arr must be contiguous so that it can be perturbed in place")
    g = grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        total = 0.0
        for off, w in zip(offsets, weights):
            flat[k] = old + off * eps
            total += w * float(f())
        flat[k] = old
        g[k] = total / eps
    return grad


def relative_error(analytic, numeric, floor: float = 0.0) -> float:
    """Max abs difference relative to the larger of the two arrays' max magnitude.

    ``floor`` is the smallest scale the denominator may take. Finite
    differences in float64 carry an absolute noise of about 1e-13 (up to a
    few 1e-13) for a loss of order one, so a gradient array whose entries are
    all below ~1e-6 cannot be confirmed to a relative 1e-6; with
    ``floor=1e-6`` such an array is judged by an absolute error of 1e-12 instead. A wrong gradient of that size is
    still off by a large fraction of the floor and fails.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic has shape {a.shape} but numeric has shape {n.shape}")
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(n), initial=0.0), floor, 1e-30)
    return float(np.max(np.abs(a - n), initial=0.0) / scale)


def check_gradients(f: Callable[[], float], arrays: dict, analytic: dict, eps: float = 1e-3,
                    order: int = 4, floor: float = 0.0) -> dict:
    """Relative error of ``analytic[name]`` against the numerical gradient of f w.r.t. ``arrays[name]``.

    ``arrays`` maps names to the arrays that f reads (perturbed in place);
    ``analytic`` must have the same keys. Returns {name: relative error}.
    """
    if set(arrays) != set(analytic):
        raise ValueError(f"analytic must have the keys of arrays {sorted(arrays)}, got {sorted(analytic)}")
    return {
        name: relative_error(analytic[name], numerical_gradient(f, arr, eps, order), floor)
        for name, arr in arrays.items()
    }
