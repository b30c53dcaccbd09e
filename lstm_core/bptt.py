"""Analysis of backpropagation through time in the vanilla RNN (chapter 2).

The RNN of :mod:`lstm_core.rnn` runs ``h_t = phi(x_t W_x + h_{t-1} W_h + b)``
(row vectors).  With ``delta_t = dL/dh_t`` (a row) and ``e_t`` the part of it
that the loss sends to step t directly, BPTT is

    delta_{t-1} = e_{t-1} + delta_t J_t,      J_t = diag(phi'(a_t)) W_h^T  (H, H)

so ``||delta_t J_t|| <= ||delta_t|| ||J_t||_2 <= ||delta_t|| beta_phi beta_W``
with ``beta_W = ||W_h||_2`` (largest singular value) and ``beta_phi = sup|phi'|``.

Time indices: the functions below return per-step arrays of length **T + 1**
indexed by k = 0..T, where k = 0 is the initial state h_0 (its gradient is
``Gradients.dh0``) and k >= 1 is the state produced by step k, stored in the
code's arrays at index k - 1 (``h[k-1]``, ``dh_steps[k-1]``).  The direct
gradient ``dh`` that ``rnn.backward`` takes is (T, B, H) and ``e_k = dh[k-1]``.
"""
from __future__ import annotations

import numpy as np

from . import rnn


def delta_norms(grads) -> np.ndarray:
    """||delta_k|| (Frobenius over the batch) for k = 0..T -> (T + 1,).

    ``grads`` is what :func:`lstm_core.rnn.backward` returns: entry 0 is
    ``grads.dh0`` (B, H), entries 1..T are ``grads.dh_steps`` (T, B, H).
    """
    d = np.concatenate([grads.dh0[None], grads.dh_steps], axis=0)
    return np.sqrt(np.sum(np.square(d, dtype=np.float64), axis=(1, 2)))


def step_jacobian_norms(cache) -> np.ndarray:
    """||J_k||_2 = ||diag(phi'(a_k)) W_h^T||_2 for each step k = 1..T and sequence b -> (T, B).

    ``J_k`` (H, H) maps delta_k to its share of delta_{k-1}: row ``[t, b]``
    of the result belongs to code step t = k - 1.  ``cache`` is the cache
    of :func:`lstm_core.rnn.forward`; phi' is read from the cached outputs.
    """
    h, act, W_h = cache.h, cache.options.activation, cache.params["W_h"]
    slope = act.grad_from_output(h).astype(np.float64)            # (T, B, H)
    J = slope[..., :, None] * W_h.T.astype(np.float64)            # (T, B, H, H): row i scaled by phi'_i
    return np.linalg.norm(J, ord=2, axis=(-2, -1))


def _direct_norms(dh) -> np.ndarray:
    """||e_k|| per sequence for k = 0..T -> (T + 1, B); e_0 = 0 (no loss reads h_0)."""
    dh = np.asarray(dh, dtype=np.float64)
    e = np.sqrt(np.sum(dh * dh, axis=-1))                          # (T, B)
    return np.concatenate([np.zeros((1, dh.shape[1])), e], axis=0)


def _backward_bound(direct, gain) -> np.ndarray:
    """Run u_k = ||e_k|| + gain_{k+1} u_{k+1} back from u_{T+1} = 0, per sequence.

    direct (T + 1, B) holds ||e_k||; gain (T, B) holds an upper bound of
    ||J_k||_2 for k = 1..T.  Returns sqrt(sum_b u_k^2) -> (T + 1,), a bound on
    the Frobenius norm of delta_k over the batch.
    """
    u = np.zeros_like(direct)
    nxt = np.zeros(direct.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):  # a bound may legitimately be inf
        for k in range(direct.shape[0] - 1, -1, -1):
            carried = gain[k] * nxt if k < gain.shape[0] else 0.0   # gain[k] is J_{k+1}
            u[k] = nxt = direct[k] + carried
        return np.sqrt(np.sum(u * u, axis=1))


def geometric_bound(dh, beta: float) -> np.ndarray:
    """Bound on ||delta_k||, k = 0..T, from ||J_k||_2 <= beta for every step -> (T + 1,).

    With the loss on the last step only this is ||e_T|| beta^(T-k); with losses
    on several steps it is sum_{t >= k} ||e_t|| beta^(t-k) (triangle
    inequality), computed per sequence.  ``beta = beta_phi * beta_W``.
    dh (T, B, H) is the direct gradient passed to ``rnn.backward``.
    """
    direct = _direct_norms(dh)
    gain = np.full((direct.shape[0] - 1, direct.shape[1]), float(beta))
    return _backward_bound(direct, gain)


def jacobian_bound(dh, cache) -> np.ndarray:
    """The tighter bound with the actual ||J_j||_2 of each step instead of beta -> (T + 1,).

    Last-step loss: ||e_T|| prod_{j=k+1}^{T} ||J_j||_2.
    """
    return _backward_bound(_direct_norms(dh), step_jacobian_norms(cache))


def lag_contributions(dh, cache) -> dict:
    """Parameter gradients split by the time lag between a loss term and a weight use.

    The loss term at step t reaches the weights through every earlier step
    s <= t; entry d of the result is the sum over t of what the loss at t
    contributes through step s = t - d (the short-term part is d = 0, the
    long-term parts are d >= 1).  Summing over d gives full BPTT; summing
    d < k gives truncated BPTT with k steps (:func:`truncated_bptt`).

    dh (T, B, H) as in ``rnn.backward``.  Returns {"W_x": (T, D, H),
    "W_h": (T, H, H), "b": (T, H)}, the leading axis being the lag d.
    Cost: T (T + 1) / 2 backward steps, one per (t, s) pair.
    """
    params, x, h, act = cache.params, cache.x, cache.h, cache.options.activation
    T, B, H = h.shape
    dh = np.asarray(dh)
    if dh.shape != h.shape:
        raise ValueError(f"dh must have shape (T, B, H) = {h.shape}, got shape {dh.shape}")
    # da_lag[d, s]: dL/da_s from the loss term at step s + d only
    da_lag = np.zeros((T, T, B, H), dtype=h.dtype)
    for t in range(T):                            # the loss term at step t ...
        if not np.any(dh[t]):
            continue
        delta = dh[t]
        for s in range(t, -1, -1):                # ... reaches step s at lag t - s
            da_lag[t - s, s], delta = rnn.cell_backward(delta, h[s], params["W_h"], act)
    da = da_lag.reshape(T, T * B, H)
    return {
        "W_x": np.einsum("sd,lsh->ldh", x.reshape(T * B, -1), da),
        "W_h": np.einsum("sg,lsh->lgh", cache.h_prev.reshape(T * B, H), da),
        "b": da.sum(axis=1),
    }


def truncated_bptt(dh, cache, k: int) -> dict:
    """Parameter gradients of truncated BPTT: each loss term is followed back at most k steps.

    The gradient that the loss at step t sends to h_t is propagated through
    steps t, t-1, ..., t-k+1 and dropped after that, so only those k steps
    receive it: the lags d < k of :func:`lag_contributions`.  k >= T gives
    full BPTT.  Returns {"W_x": (D, H), "W_h": (H, H), "b": (H,)}.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return {name: c[:k].sum(axis=0) for name, c in lag_contributions(dh, cache).items()}


def scaled_orthogonal(H: int, rho: float, *, rng) -> np.ndarray:
    """rho * Q with Q (H, H) orthogonal, drawn uniformly (QR of a Gaussian matrix, signs fixed).

    Every singular value and every eigenvalue modulus of the result is rho.
    """
    q, r = np.linalg.qr(rng.standard_normal((H, H)))
    return rho * q * np.sign(np.diag(r))
