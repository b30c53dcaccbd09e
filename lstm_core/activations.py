"""Activation functions and their derivatives.

Each derivative is written in terms of the activation's *output* y where that
is the textbook form: sigma'(z) = y (1 - y), tanh'(z) = 1 - y**2. The backward
passes only ever need the cached outputs, never the pre-activations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._checks import check_choice


def sigmoid(z, out=None):
    """Logistic function 1 / (1 + exp(-z)), stable for large |z|.

    Computed as written: one exp, one division. For z < 0, exp(-z) is large and
    1 / (1 + exp(-z)) keeps the full relative precision of a tiny sigma(z) (no
    cancellation). exp(-z) overflows to inf only where z < -709 (float64) or
    z < -88 (float32), where sigma(z) is below the smallest normal number; the
    result there is 1 / inf = 0, and that overflow is expected and not warned
    about. The dtype of z (float32 or float64) is kept. ``out``, if given,
    receives the result (it may be z itself).
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    if z.ndim == 0:
        return sigmoid(z[None])[0] if out is None else sigmoid(z[None], out=out[None])[0]
    y = np.negative(z, out=out)
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1.0
    return np.divide(1.0, y, out=y)


def sigmoid_grad_from_output(y, out=None):
    """d sigma / dz written with y = sigma(z):  y (1 - y) (into ``out`` if given)."""
    slope = np.subtract(1.0, y, out=out)
    slope *= y
    return slope


def tanh(z, out=None):
    return np.tanh(z, out=out)


def tanh_grad_from_output(y, out=None):
    """d tanh / dz written with y = tanh(z):  1 - y^2 (into ``out`` if given)."""
    y2 = np.multiply(y, y, out=out)
    return np.subtract(1.0, y2, out=y2)


def relu(z, out=None):
    return np.maximum(z, 0.0, out=out)


def relu_grad_from_output(y):
    """1 where the output is positive, else 0 (the subgradient 0 is used at z = 0)."""
    return (y > 0).astype(y.dtype)


def identity(z, out=None):
    if out is None:
        return np.asarray(z)
    out[...] = z
    return out


def identity_grad_from_output(y):
    return np.ones_like(y)


@dataclass(frozen=True)
class Activation:
    """An activation y = fn(z) and its derivative dy/dz as a function of y."""

    name: str
    fn: Callable
    grad_from_output: Callable
    #: sup over z of |dy/dz|: 1 for tanh, 1/4 for sigmoid (used in the BPTT bound)
    max_slope: float


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_grad_from_output, 0.25),
    "tanh": Activation("tanh", tanh, tanh_grad_from_output, 1.0),
    "relu": Activation("relu", relu, relu_grad_from_output, 1.0),
    "identity": Activation("identity", identity, identity_grad_from_output, 1.0),
}


def get_activation(name: str, *, argname: str = "activation") -> Activation:
    """Look up an activation by name; unknown names raise ValueError naming ``argname``."""
    check_choice(argname, name, ACTIVATIONS)
    return ACTIVATIONS[name]
