"""The problems the grader runs a backward pass on, and the sizes and tolerances they share.

Every problem is small, float64 and seeded, and built to expose bugs rather than to pass:
non-zero initial states, T = 5 with a loss at every step and at the last step only, T = 1,
and D, H, B all different so that a transposed or mis-sliced array has the wrong shape.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import gru, lstm, rnn

MODELS = {"rnn": rnn, "lstm": lstm, "gru": gru}
BLOCKS = {"rnn": ("",), "lstm": lstm.GATES, "gru": gru.GATES}
TOL = 1e-6            # relative error above which an array counts as wrong
REFERENCE_TOL = 1e-7  # the package's backward against central differences
SEED = 19
T, B, D, H = 5, 2, 4, 3  # all different: a transposed or mis-sliced array changes shape


@dataclass(frozen=True)
class Problem:
    """One forward pass to run and one upstream gradient to send back through it."""

    label: str
    params: dict
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    dh: np.ndarray
    dc_last: np.ndarray | None
    options: dict

    def forward(self, model):
        """A fresh forward pass on copies, so that ``fn`` cannot spoil later problems."""
        args = [self.h0.copy()] + ([self.c0.copy()] if self.c0 is not None else [])
        params = {k: v.copy() for k, v in self.params.items()}
        return MODELS[model].forward(params, self.x.copy(), *args, **self.options)

    def suffix(self, model, t):
        """The same problem restarted at step t from the states the forward pass reached there."""
        if t == 0:
            return self
        h, cache = self.forward(model)
        c0 = None if self.c0 is None else _cell_states(cache)[t - 1].copy()
        return Problem(f"{self.label}, steps {t}..{len(self.x) - 1}", self.params,
                       self.x[t:], h[t - 1].copy(), c0, self.dh[t:], self.dc_last, self.options)


def _cell_states(cache):
    """(T, B, H) the LSTM cell states c_1 .. c_T of a forward cache."""
    return cache.c


def problems(model, options, with_dc_last):
    """The main problems (the verdict) and the probes used only for the diagnosis."""
    rng = np.random.default_rng(SEED)
    m = MODELS[model]
    options = dict(options)
    init = {}
    if "peephole" in options:   # an option of init_params: which peephole vectors exist
        if model != "lstm":
            raise ValueError(f"peephole is an option of the LSTM only, got model={model!r}")
        init["peephole"] = options.pop("peephole")
    params = m.init_params(D, H, rng=rng, **init)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    c0 = 0.5 * rng.standard_normal((B, H)) if model == "lstm" else None
    dh_every = rng.standard_normal((T, B, H))
    dh_last = np.zeros((T, B, H))
    dh_last[-1] = rng.standard_normal((B, H))
    dc_last = rng.standard_normal((B, H))
    every = Problem("loss at every step", params, x, h0, c0, dh_every, None, options)
    main = [
        every,
        Problem("loss at the last step only", params, x, h0, c0, dh_last, None, options),
        Problem("one step (T = 1)", params, x[:1], h0, c0, dh_every[:1], None, options),
    ]
    if model == "lstm" and "forget_bias" not in options \
            and options.get("cell", "standard") == "standard":
        main.append(Problem("forget_bias = 1", params, x, h0, c0, dh_every, None,
                            {**options, "forget_bias": 1.0}))
    if with_dc_last:
        main.append(Problem("a loss on the final cell state (dc_last)", params, x, h0, c0,
                            dh_every, dc_last, options))
    # one step, one sequence: the reference's bias gradient is then the step's delta itself
    rank_one = Problem("one step, B = 1", params, x[:1, :1], h0[:1],
                       None if c0 is None else c0[:1], dh_every[:1, :1], None, options)
    probes = {"rank_one": rank_one}
    if model == "gru":
        open_params = {k: v.copy() for k, v in params.items()}
        open_params["b_x"][gru.gate_slice("r", H)] = 60.0   # sigma(60 + ...) == 1.0 exactly
        probes["reset_open"] = Problem("reset gate held open (r = 1)", open_params, x, h0, c0,
                                       dh_every, None, options)
    return main, probes


def describe(model, main, ref_err):
    """The battery in words, for the report."""
    extras = [p.label for p in main[3:]]
    text = (f"T = {T} (loss at every step, and at the last step only) and T = 1, B = {B}, "
            f"D = {D}, H = {H}, random non-zero h0{', c0' if model == 'lstm' else ''}, "
            f"float64, seed {SEED}")
    peepholes = [k for k in main[0].params if k in lstm.PEEPHOLES]
    if peepholes:
        text += f", peepholes {', '.join(peepholes)}"
    if extras:
        text += "; also " + " and ".join(extras)
    return text + (f"; reference lstm_core.{model}.backward, which agrees with central "
                   f"differences to {ref_err:.0e}")
