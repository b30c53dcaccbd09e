"""Test harness shared by the gradient tests: every model configuration, and a
way to turn one into a scalar loss of all its arrays.

Weights and initial states are random and non-zero on purpose: zeros hide
backward bugs (a gradient multiplied by a zero state looks right either way).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lstm_core import gru, losses, lstm, rnn


@dataclass(frozen=True)
class Config:
    name: str
    module: object
    kwargs: dict = field(default_factory=dict)  # for forward
    init_kwargs: dict = field(default_factory=dict)  # for init_params

    @property
    def has_cell(self):
        return self.module is lstm

    def __str__(self):
        return self.name


CONFIGS = [
    Config("rnn-tanh", rnn, {"activation": "tanh"}),
    Config("rnn-sigmoid", rnn, {"activation": "sigmoid"}),
    Config("rnn-relu", rnn, {"activation": "relu"}),
    Config("rnn-identity", rnn, {"activation": "identity"}),
    Config("lstm-tanh-fb0", lstm, {"output_activation": "tanh", "forget_bias": 0.0}),
    Config("lstm-tanh-fb1", lstm, {"output_activation": "tanh", "forget_bias": 1.0}),
    Config("lstm-identity-fb0", lstm, {"output_activation": "identity", "forget_bias": 0.0}),
    Config("lstm-identity-fb1", lstm, {"output_activation": "identity", "forget_bias": 1.0}),
    Config("lstm-no-forget", lstm, {"cell": "no_forget"}),
    Config("lstm-coupled", lstm, {"cell": "coupled"}),
    Config("gru-torch", gru, {"variant": "torch"}),
    Config("gru-cho", gru, {"variant": "cho"}),
]

# the peephole LSTM (lstm module docstring), kept apart from CONFIGS: some LSTM tests
# there write out the plain cell's closed forms
PEEPHOLE_CONFIGS = [
    Config("peephole-tanh-fb0", lstm, {}, {"peephole": True}),
    Config("peephole-tanh-fb1", lstm, {"forget_bias": 1.0}, {"peephole": True}),
    Config("peephole-identity", lstm, {"output_activation": "identity"}, {"peephole": True}),
    Config("peephole-o-only", lstm, {}, {"peephole": "o"}),
    Config("peephole-no-forget", lstm, {"cell": "no_forget"}, {"peephole": "io"}),
    Config("peephole-coupled", lstm, {"cell": "coupled"}, {"peephole": "io"}),
]


class Problem:
    """A model, its params, a sequence, initial states and a loss on top.

    ``arrays`` holds every array the loss depends on (params, x, h0, c0,
    readout); ``loss()`` recomputes the loss from them, so finite differences
    can perturb any of them in place; ``analytic()`` returns the backward
    pass's gradient for each.
    """

    def __init__(self, config, T, B, D, H, *, rng, placement="every", C=3):
        self.config = config
        m = config.module
        self.params = m.init_params(D, H, rng=rng, **config.init_kwargs)
        # non-zero states, inputs of unit scale
        self.x = rng.standard_normal((T, B, D))
        self.h0 = 0.5 * rng.standard_normal((B, H))
        self.c0 = 0.5 * rng.standard_normal((B, H)) if config.has_cell else None
        self.readout = losses.init_readout(H, C, rng=rng)
        self.placement = placement
        if placement == "every":
            self.targets = rng.standard_normal((T, B, C))
        elif placement == "last":
            self.labels = rng.integers(0, C, size=B)
        else:
            raise ValueError(placement)

    @property
    def arrays(self):
        a = {f"params.{k}": v for k, v in self.params.items()}
        a.update({"x": self.x, "h0": self.h0, "readout.W": self.readout["W"], "readout.b": self.readout["b"]})
        if self.c0 is not None:
            a["c0"] = self.c0
        return a

    def run_forward(self):
        if self.config.has_cell:
            return self.config.module.forward(self.params, self.x, self.h0, self.c0, **self.config.kwargs)
        return self.config.module.forward(self.params, self.x, self.h0, **self.config.kwargs)

    def loss_of_hidden(self, h):
        if self.placement == "every":
            return losses.every_step_mse_loss(h, self.readout, self.targets)
        return losses.last_step_softmax_loss(h, self.readout, self.labels)

    def loss(self):
        h, _ = self.run_forward()
        return self.loss_of_hidden(h)[0]

    def backward(self):
        h, cache = self.run_forward()
        loss, dh, dreadout = self.loss_of_hidden(h)
        return self.config.module.backward(dh, cache), dreadout, dh

    def analytic(self):
        g, dreadout, _ = self.backward()
        a = {f"params.{k}": v for k, v in g.params.items()}
        a.update({"x": g.dx, "h0": g.dh0, "readout.W": dreadout["W"], "readout.b": dreadout["b"]})
        if self.c0 is not None:
            a["c0"] = g.dc0
        return a
