"""The LSTM step as two other stacked layouts write it, transcribed from their equations.

These are the references that :mod:`lstm_core.interop`'s converters are checked against
(chapter 3 and the frameworks appendix run them, the tests import them): they do not use
``lstm_core.lstm`` at all, only numpy and the logistic function.

* :func:`tf_basic_lstm_step`: TensorFlow's ``BasicLSTMCell``: one kernel (D + H, 4H) on the
  row ``[x_t, h_{t-1}]``, blocks i, j, f, o (j is the candidate), ``forget_bias`` added
  inside the cell.
* :func:`ifog_step`: the "IFOG" tutorials' matrix ``WLSTM`` (1 + D + H, 4H) on
  ``[1, x_t, h_{t-1}]`` (bias in the first row), blocks i, f, o, g.

Shapes: x (B, D), h and c (B, H); each step returns the new ``(h, c)``.
"""
from __future__ import annotations

import numpy as np

from .activations import sigmoid

__all__ = ["ifog_step", "run_steps", "tf_basic_lstm_step", "tf_checkpoint"]


def tf_basic_lstm_step(kernel, bias, x, h, c, forget_bias=0.0):
    """TensorFlow BasicLSTMCell: [i, j, f, o] = split([x, h] @ kernel + bias)."""
    i, j, f, o = np.split(np.concatenate([x, h], axis=1) @ kernel + bias, 4, axis=1)
    c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
    return sigmoid(o) * np.tanh(c), c


def ifog_step(WLSTM, x, h, c, forget_bias=0.0):
    """Stacked IFOG matrix: z = [1, x, h] @ WLSTM; sigmoid on i, f, o; tanh on g."""
    z = np.concatenate([np.ones((x.shape[0], 1)), x, h], axis=1) @ WLSTM
    i, f, o, g = np.split(z, 4, axis=1)
    c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def run_steps(step, x, h0, c0):
    """Apply ``step(x_t, h, c) -> (h, c)`` along x (T, B, D); return the hidden states (T, B, H)."""
    h, c, hs = h0, c0, []
    for t in range(x.shape[0]):
        h, c = step(x[t], h, c)
        hs.append(h)
    return np.stack(hs)


def tf_checkpoint(params, forget_bias=1.0):
    """Our LSTM ``params`` as the (kernel, bias) of a BasicLSTMCell run with ``forget_bias``.

    The cell adds ``forget_bias`` to its f block, so the checkpoint of the same model stores
    that block's bias minus ``forget_bias`` (TF's blocks are i, j, f, o: f is the third).
    """
    from .interop import lstm_to_tf

    kernel, bias = lstm_to_tf(params)
    H = bias.shape[0] // 4
    bias = bias.copy()
    bias[2 * H:3 * H] -= forget_bias
    return kernel, bias
