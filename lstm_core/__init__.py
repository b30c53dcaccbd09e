"""lstm_core: backpropagation through time for RNN, LSTM and GRU, by hand, in numpy.

Arrays are time-major: x is (T, B, D), hidden states (T, B, H). Every model
module has ``init_params``, ``forward(params, x, ...) -> (h, cache)`` and
``backward(dh, cache) -> Gradients``; nothing keeps hidden state between calls.
"""
from . import activations, bptt, cost, data, examples, gradcheck, gru, interop, losses, lstm, optim, rnn, stack, staged, train, viz
from ._common import Gradients

__all__ = [
    "activations", "bptt", "cost", "data", "examples", "gradcheck", "gru", "interop", "losses", "lstm",
    "optim", "rnn", "stack", "staged", "train", "viz", "Gradients",
]
__version__ = "0.1.0"
