"""Calling the reader's ``fn``: every misbehaviour (a raise, a warning, the wrong type, shape,
dtype, a NaN) becomes a :class:`Failure` whose message says what happened."""
from __future__ import annotations

import inspect
import traceback
import warnings

import numpy as np

from .. import lstm
from .battery import MODELS


class Failure(Exception):
    """``fn`` did something the grader cannot grade; the message says what."""


def array_names(model, params):
    """The parameter names (the keys of ``params``), then dx, dh0 (and dc0)."""
    return tuple(params) + (("dx", "dh0", "dc0") if model == "lstm" else ("dx", "dh0"))


def _spec(model, D_, H_, keys):
    """The model's param_spec for the parameters in ``keys`` (the LSTM's peepholes included)."""
    if model == "lstm":
        return lstm.param_spec(D_, H_, tuple(k for k in lstm.PEEPHOLES if k in keys))
    return MODELS[model].param_spec(D_, H_)


def _expected_shapes(model, problem):
    """{array name: (shape, letters)} for the gradients of ``problem``."""
    Tp, Bp, Dp = problem.x.shape
    Hp = problem.h0.shape[1]
    shapes = dict(_spec(model, Dp, Hp, problem.params))
    shapes.update({"dx": ((Tp, Bp, Dp), "T, B, D"), "dh0": ((Bp, Hp), "B, H")})
    if model == "lstm":
        shapes["dc0"] = ((Bp, Hp), "B, H")
    return shapes


def _unpack(out, model, param_keys):
    """{array name: value or None (not returned)} from a Gradients-like object or a dict."""
    if isinstance(out, dict) and "params" not in out and set(out) == set(param_keys):
        params, rest = out, {}                      # only the parameter gradients
    elif isinstance(out, dict) and "params" in out:
        params, rest = out["params"], out
    elif hasattr(out, "params") and not isinstance(out, dict):
        params = out.params
        rest = {k: getattr(out, k, None) for k in ("dx", "dh0", "dc0")}
    else:
        raise Failure(
            f"returned {type(out).__name__}; expected a Gradients object (what "
            f"{model}.backward returns) or a dict with 'params', 'dx', 'dh0'"
            f"{', dc0' if model == 'lstm' else ''}")
    if not isinstance(params, dict):
        raise Failure(f"returned params of type {type(params).__name__}; expected a dict "
                      f"with keys {list(param_keys)}")
    if set(params) != set(param_keys):
        raise Failure(f"returned params with keys {sorted(params)}; expected the keys of the "
                      f"params dict, {list(param_keys)}")
    got = dict(params)
    for k in array_names(model, param_keys)[len(param_keys):]:
        got[k] = rest.get(k)
    return got


def check_arrays(got, shapes):
    """Every returned array of ``got`` against ``shapes``, {name: (shape, letters)}: numpy,
    that shape, float64, finite; a Failure naming the array otherwise (None: not returned)."""
    for name, (shape, letters) in shapes.items():
        v = got[name]
        if v is None:
            continue
        if not isinstance(v, np.ndarray):
            raise Failure(f"returned {name} as {type(v).__name__}; expected a numpy array")
        if v.shape != shape:
            raise Failure(f"returned {name} with shape {v.shape}; expected ({letters}) = {shape}")
        if v.dtype != np.float64:
            raise Failure(f"returned {name} with dtype {v.dtype}; the problem is float64 "
                          f"(a gradient has the dtype of its parameters)")
        bad = int(v.size - np.count_nonzero(np.isfinite(v)))
        if bad:
            raise Failure(f"returned {name} with {bad} NaN or infinite value(s)")


def _where(exc):
    """'line N of function' of the innermost frame of a traceback, for the message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" at line {f.lineno} of {f.name}"


def call(fn, args, kwargs, label):
    """``fn(*args, **kwargs)``; a raise or a warning becomes a Failure naming the problem."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kwargs)
        except Exception as exc:  # the reader's code: report it, do not raise
            raise Failure(f"raised {type(exc).__name__}: {exc}{_where(exc)} "
                          f"(problem: {label})") from None
    if caught:
        w = caught[0]
        raise Failure(f"emitted {w.category.__name__}: {w.message} (problem: {label})")
    return out


class Runner:
    """Calls ``fn`` on problems, turning every misbehaviour into a Failure."""

    def __init__(self, fn, model, with_dc_last):
        self.fn, self.model, self.with_dc_last = fn, model, with_dc_last

    def __call__(self, problem):
        _, cache = problem.forward(self.model)
        args = [problem.dh.copy(), cache]
        if self.with_dc_last:
            args.append(None if problem.dc_last is None else problem.dc_last.copy())
        out = call(self.fn, args, {}, problem.label)
        got = _unpack(out, self.model, tuple(problem.params))
        check_arrays(got, _expected_shapes(self.model, problem))
        return got


def takes_dc_last(fn):
    """Whether ``fn`` takes a third argument (the LSTM's dc_last)."""
    try:
        inspect.signature(fn).bind(None, None, None)
    except (TypeError, ValueError):
        return False
    return True
