"""Synthetic tasks with long-range dependencies, generated (never downloaded) from a seeded rng.

Every generator takes the sequence length ``T``, a batch size and a numpy
``Generator`` and returns time-major inputs ``x`` (T, B, D) plus targets for a
readout on the **last** step, so the answer depends on inputs seen long before.

``adding_problem``
    The adding problem of Hochreiter & Schmidhuber (1997), in the form used by
    most later papers (e.g. Le, Jaitly & Hinton 2015; Arjovsky et al. 2016):
    channel 0 holds T numbers drawn uniformly from [0, 1); channel 1 is a
    marker that is 1 at exactly two steps, one drawn uniformly from the first
    half ``[0, T // 2)`` and one from the second half ``[T // 2, T)``, and 0
    elsewhere. The target is the sum of the two marked numbers. Its variance
    is 2 * (1/12) = 1/6, so always predicting the mean 1.0 scores an MSE of
    1/6 (:data:`ADDING_BASELINE_MSE`).

``recall_task``
    A classification analogue: at every step a random symbol out of
    ``n_symbols`` (one-hot), plus a marker channel that is 1 at one step in
    the first half. The label is the marked symbol, to be reported at the
    last step. Guessing scores accuracy 1 / n_symbols and cross-entropy
    log(n_symbols) (:func:`recall_baseline_xent`).
"""
from __future__ import annotations

import numpy as np

from ._common import check_rng

__all__ = ["ADDING_BASELINE_MSE", "adding_problem", "recall_baseline_xent", "recall_task"]

#: MSE of the best constant predictor (the mean, 1.0) on the adding problem: Var = 2 * 1/12.
ADDING_BASELINE_MSE = 1.0 / 6.0


def _check_T_B(T, batch_size):
    for name, v, low in (("T", T, 2), ("batch_size", batch_size, 1)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")


def _marks(T, B, rng, *, second=True):
    """Marker positions: one in [0, T//2) and (if ``second``) one in [T//2, T), per sequence."""
    half = T // 2
    first = rng.integers(0, half, size=B)
    if not second:
        return first, None
    return first, rng.integers(half, T, size=B)


def adding_problem(T, batch_size, *, rng, dtype=np.float64):
    """A batch of the adding problem.

    Returns ``x`` (T, B, 2) and ``y`` (B, 1): channel 0 of ``x`` is uniform on
    [0, 1), channel 1 is 1 at one step in ``[0, T // 2)`` and one step in
    ``[T // 2, T)``; ``y`` is the sum of the two marked numbers.
    """
    _check_T_B(T, batch_size)
    check_rng(rng)
    B = int(batch_size)
    values = rng.uniform(0.0, 1.0, size=(T, B))
    p, q = _marks(T, B, rng)
    cols = np.arange(B)
    x = np.zeros((T, B, 2), dtype=dtype)
    x[:, :, 0] = values
    x[p, cols, 1] = 1.0
    x[q, cols, 1] = 1.0
    y = (values[p, cols] + values[q, cols])[:, None].astype(dtype)
    return x, y


def recall_task(T, batch_size, *, rng, n_symbols=4, dtype=np.float64):
    """A batch of the marked-symbol recall task.

    Returns ``x`` (T, B, n_symbols + 1) and integer labels (B,): channels
    ``0 .. n_symbols-1`` one-hot encode a uniformly random symbol at every
    step, the last channel marks one step in ``[0, T // 2)``; the label is the
    symbol at the marked step.
    """
    _check_T_B(T, batch_size)
    check_rng(rng)
    if not isinstance(n_symbols, (int, np.integer)) or isinstance(n_symbols, bool) or n_symbols < 2:
        raise ValueError(f"n_symbols must be an integer >= 2, got {n_symbols!r}")
    B, K = int(batch_size), int(n_symbols)
    symbols = rng.integers(0, K, size=(T, B))
    p, _ = _marks(T, B, rng, second=False)
    x = np.zeros((T, B, K + 1), dtype=dtype)
    t_idx, b_idx = np.indices((T, B))
    x[t_idx, b_idx, symbols] = 1.0
    cols = np.arange(B)
    x[p, cols, K] = 1.0
    return x, symbols[p, cols]


def recall_baseline_xent(n_symbols):
    """Cross-entropy of the best input-blind guess (uniform over symbols): log(n_symbols)."""
    return float(np.log(n_symbols))
