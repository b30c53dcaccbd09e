"""Losses and a linear readout, each returning its own gradient.

Every loss returns ``(loss, dpred)``; the readout has ``forward/backward``.
The two helpers at the bottom turn hidden states (T, B, H) into a scalar
loss and the ``dh`` (T, B, H) that the recurrent ``backward`` functions take:
loss on the last step only, or on every step.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_finite, check_shape


def softmax(z):
    """Row-wise softmax of (N, C) logits, shifted by the row max for stability."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of (N, C) logits against integer labels (N,).

    Returns (loss, dlogits) with dlogits = (softmax(logits) - onehot) / N.
    """
    logits = as_float_array("logits", logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got shape {logits.shape}")
    check_finite("logits", logits)
    labels = np.asarray(labels)
    N, C = logits.shape
    if labels.shape != (N,) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape (N,) = ({N},), got {labels.dtype} shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in [0, {C}), got range [{labels.min()}, {labels.max()}]")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), labels].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(N), labels] -= 1.0
    return loss, dlogits / N


def _pair(pred, target):
    pred = as_float_array("pred", pred)
    target = as_float_array("target", target, pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(f"target must have the shape of pred {pred.shape}, got shape {target.shape}")
    check_finite("pred", pred)
    check_finite("target", target)
    return pred, target


def mse(pred, target):
    """Mean squared error over all elements. Returns (loss, dpred)."""
    pred, target = _pair(pred, target)
    diff = pred - target
    return np.mean(diff * diff), 2.0 * diff / diff.size


def half_sum_squared_error(pred, target):
    """0.5 * sum (pred - target)^2, the form used in many hand-worked examples."""
    pred, target = _pair(pred, target)
    diff = pred - target
    return 0.5 * np.sum(diff * diff), diff


def linear_forward(h, W, b):
    """y = h W + b for h (..., H), W (H, C), b (C,). Returns (y, cache)."""
    h = as_float_array("h", h)
    W = as_float_array("W", W, h.dtype)
    b = as_float_array("b", b, h.dtype)
    if W.ndim != 2 or h.shape[-1] != W.shape[0]:
        raise ValueError(f"W must have shape (H, C) with H = {h.shape[-1]}, got shape {W.shape}")
    check_shape("b", b, (W.shape[1],), "C")
    return h @ W + b, (h, W)


def linear_backward(dy, cache):
    """Returns (dh, {"W": dW, "b": db}) for :func:`linear_forward`."""
    h, W = cache
    H, C = W.shape
    dy2 = dy.reshape(-1, C)
    return dy @ W.T, {"W": h.reshape(-1, H).T @ dy2, "b": dy2.sum(axis=0)}


def init_readout(hidden_size, output_size, *, rng, dtype=np.float64):
    """Readout params {"W": (H, C), "b": (C,)}, uniform(±1/sqrt(H))."""
    k = 1.0 / np.sqrt(hidden_size)
    return {
        "W": rng.uniform(-k, k, size=(hidden_size, output_size)).astype(dtype),
        "b": rng.uniform(-k, k, size=(output_size,)).astype(dtype),
    }


def _check_hidden(h):
    h = as_float_array("h", h)
    if h.ndim != 3:
        raise ValueError(f"h must have shape (T, B, H), got shape {h.shape}")
    return h


def last_step_softmax_loss(h, readout, labels):
    """Softmax classifier on h_{T-1} only.

    h (T, B, H); readout {"W": (H, C), "b": (C,)}; labels (B,) integers.
    Returns (loss, dh (T, B, H) zero except at the last step, dreadout).
    """
    h = _check_hidden(h)
    logits, cache = linear_forward(h[-1], readout["W"], readout["b"])
    loss, dlogits = softmax_cross_entropy(logits, labels)
    dh_last, dreadout = linear_backward(dlogits, cache)
    dh = np.zeros_like(h)
    dh[-1] = dh_last
    return loss, dh, dreadout


def every_step_mse_loss(h, readout, targets):
    """Linear readout at every step and a mean squared error against targets (T, B, C).

    Returns (loss, dh (T, B, H), dreadout).
    """
    h = _check_hidden(h)
    y, cache = linear_forward(h, readout["W"], readout["b"])
    loss, dy = mse(y, targets)
    dh, dreadout = linear_backward(dy, cache)
    return loss, dh, dreadout
