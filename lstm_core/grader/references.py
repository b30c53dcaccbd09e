"""The reference gradients: the package's own backward pass, confirmed by central differences
(:mod:`lstm_core.gradcheck`) before anything is compared with it."""
from __future__ import annotations

import numpy as np

from ..gradcheck import check_gradients
from .battery import MODELS


def reference(model, problem):
    _, cache = problem.forward(model)
    extra = [problem.dc_last] if model == "lstm" else []
    g = MODELS[model].backward(problem.dh, cache, *extra)
    out = dict(g.params, dx=g.dx, dh0=g.dh0)
    if model == "lstm":
        out["dc0"] = g.dc0
    return out


_REFERENCE_CHECKED: dict = {}


def confirm_reference(model, problem):
    """Max relative error of the package's backward against central differences (cached)."""
    key = (model, tuple(problem.params), tuple(sorted(problem.options.items())))
    if key not in _REFERENCE_CHECKED:
        params = {k: v.copy() for k, v in problem.params.items()}
        x, h0 = problem.x.copy(), problem.h0.copy()
        states = [h0] + ([problem.c0.copy()] if problem.c0 is not None else [])
        m = MODELS[model]

        def loss():
            return float(np.sum(problem.dh * m.forward(params, x, *states, **problem.options)[0]))

        ref = reference(model, problem)
        arrays = {**params, "dx": x, "dh0": h0}
        if model == "lstm":
            arrays["dc0"] = states[1]
        errors = check_gradients(loss, arrays, {k: ref[k] for k in arrays}, floor=1e-6)
        _REFERENCE_CHECKED[key] = max(errors.values())
    return _REFERENCE_CHECKED[key]
