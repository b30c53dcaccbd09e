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
    _check_positive("max_norm", max_norm)
    norm = global_norm(grads)
    if not np.isfinite(norm):
        raise FloatingPointError(f"gradient norm is {norm}; clipping cannot repair non-finite gradients")
    if norm <= max_norm:
        return dict(grads), norm
    scale = max_norm / norm
    return {k: g * scale for k, g in grads.items()}, norm


# --------------------------------------------------------------------------
# Optimisers. Each is a pair of pure functions over dicts of arrays:
#   state = <name>_init(params)
#   params, state = <name>_step(params, grads, state, lr=...)
# ``grads`` has the keys of ``params``. Nothing is updated in place and no
# counter is hidden anywhere: the step number lives in the state, so a run can
# be paused, copied or replayed from any (params, state) pair.
# --------------------------------------------------------------------------

def _check_same_keys(params: dict, grads: dict, state_part: dict | None = None, what: str = "state") -> None:
    if set(grads) != set(params):
        raise ValueError(
            f"grads must have the keys of params {sorted(params)}, got {sorted(grads)}"
        )
    if state_part is not None and set(state_part) != set(params):
        raise ValueError(
            f"{what} was made for keys {sorted(state_part)}, but params have {sorted(params)}"
        )
    for k, p in params.items():
        if np.shape(grads[k]) != np.shape(p):
            raise ValueError(f"grads[{k!r}] has shape {np.shape(grads[k])}, params[{k!r}] has {np.shape(p)}")


def _check_positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


def _check_unit(name: str, value: float) -> None:
    if not (0.0 <= value < 1.0):
        raise ValueError(f"{name} must lie in [0, 1), got {value}")


def sgd_init(params: dict) -> dict:
    """State of SGD with momentum: a zero velocity for every parameter."""
    return {"velocity": {k: np.zeros_like(p) for k, p in params.items()}}


def sgd_step(params: dict, grads: dict, state: dict, *, lr: float, momentum: float = 0.9):
    """One step of SGD with (heavy-ball) momentum, PyTorch's form.

        v <- momentum * v + g
        p <- p - lr * v

    ``momentum=0`` is plain gradient descent. Returns (new params, new state);
    the arguments are not modified.
    """
    _check_positive("lr", lr)
    _check_unit("momentum", momentum)
    vel = state["velocity"]
    _check_same_keys(params, grads, vel, "state['velocity']")
    new_v = {k: momentum * vel[k] + grads[k] for k in params}
    new_p = {k: params[k] - lr * new_v[k] for k in params}
    return new_p, {"velocity": new_v}


def adam_init(params: dict) -> dict:
    """State of Adam: zero first and second moments and step count t = 0."""
    return {
        "m": {k: np.zeros_like(p) for k, p in params.items()},
        "v": {k: np.zeros_like(p) for k, p in params.items()},
        "t": 0,
    }


def adam_step(params: dict, grads: dict, state: dict, *, lr: float = 1e-3,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
    """One step of Adam (Kingma & Ba 2015, Algorithm 1).

        t <- t + 1
        m <- beta1 m + (1 - beta1) g            first moment
        v <- beta2 v + (1 - beta2) g^2          second moment
        p <- p - lr * m_hat / (sqrt(v_hat) + eps),
             m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)

    The bias corrections undo the pull of the zero initial moments towards 0,
    so the very first step moves every parameter by about ``lr`` (exactly
    ``lr * |g| / (|g| + eps)``) against the sign of its gradient. Returns
    (new params, new state); the arguments are not modified.
    """
    _check_positive("lr", lr)
    _check_unit("beta1", beta1)
    _check_unit("beta2", beta2)
    _check_positive("eps", eps)
    _check_same_keys(params, grads, state["m"], "state['m']")
    t = int(state["t"]) + 1
    c1 = 1.0 - beta1 ** t
    c2 = 1.0 - beta2 ** t
    m = {k: beta1 * state["m"][k] + (1.0 - beta1) * grads[k] for k in params}
    v = {k: beta2 * state["v"][k] + (1.0 - beta2) * np.square(grads[k]) for k in params}
    new_p = {k: params[k] - lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps) for k in params}
    return new_p, {"m": m, "v": v, "t": t}


#: name -> (init, step), for code that picks an optimiser by name
OPTIMIZERS = {"sgd": (sgd_init, sgd_step), "adam": (adam_init, adam_step)}
