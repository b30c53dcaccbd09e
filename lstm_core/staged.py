"""The warm-up: a scalar function computed and differentiated one stage at a time.

    f(x, y) = (x + sigma(y)) / (sigma(x) + (x + y)^2)

The forward pass is split into eight named stages, each a single elementary
operation whose local derivative is obvious. The backward pass visits the
stages in reverse order and multiplies the upstream gradient by each local
derivative. ``x`` and ``y`` feed several stages, so their gradients are
*accumulated* with ``+=``: overwriting instead of adding is the classic bug.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@dataclass
class Stage:
    """One node of the computational graph.

    name      the variable the stage produces (e.g. ``"sig_y"``)
    formula   how it is computed, in words/symbols, for tables
    inputs    names of the variables it reads
    value     its value in the forward pass
    local     d(value)/d(input) for each input, evaluated at the forward values
    upstream  df/d(value), filled in by :func:`backward`
    """

    name: str
    formula: str
    inputs: tuple
    value: float
    local: dict
    upstream: float | None = None


@dataclass
class StagedResult:
    f: float
    stages: list
    grads: dict = field(default_factory=dict)


def forward(x: float, y: float) -> StagedResult:
    """Compute f(x, y) in eight stages; return the value and the stage list."""
    for name, v in (("x", x), ("y", y)):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
    x, y = float(x), float(y)
    stages = []

    def stage(name, formula, inputs, value, local):
        stages.append(Stage(name, formula, tuple(inputs), value, dict(local)))
        return value

    sig_y = stage("sig_y", "σ(y)", ["y"], _sigmoid(y), {"y": _sigmoid(y) * (1 - _sigmoid(y))})
    num = stage("num", "x + sig_y", ["x", "sig_y"], x + sig_y, {"x": 1.0, "sig_y": 1.0})
    sig_x = stage("sig_x", "σ(x)", ["x"], _sigmoid(x), {"x": _sigmoid(x) * (1 - _sigmoid(x))})
    xpy = stage("xpy", "x + y", ["x", "y"], x + y, {"x": 1.0, "y": 1.0})
    xpy_sq = stage("xpy_sq", "xpy²", ["xpy"], xpy**2, {"xpy": 2 * xpy})
    den = stage("den", "sig_x + xpy_sq", ["sig_x", "xpy_sq"], sig_x + xpy_sq, {"sig_x": 1.0, "xpy_sq": 1.0})
    inv_den = stage("inv_den", "1 / den", ["den"], 1.0 / den, {"den": -1.0 / den**2})
    f = stage("f", "num · inv_den", ["num", "inv_den"], num * inv_den, {"num": inv_den, "inv_den": num})
    return StagedResult(f=f, stages=stages)


def backward(result: StagedResult) -> dict:
    """Walk the stages in reverse; return {variable: df/dvariable} for every variable.

    Fills ``stage.upstream`` of every stage and ``result.grads``. The
    gradient of a variable that feeds several stages is the sum of what each
    of them sends back, hence ``+=``.
    """
    grads = {"x": 0.0, "y": 0.0}
    grads.update({s.name: 0.0 for s in result.stages})
    grads[result.stages[-1].name] = 1.0  # df/df
    for s in reversed(result.stages):
        s.upstream = grads[s.name]
        for inp, local in s.local.items():
            grads[inp] += s.upstream * local
    result.grads = grads
    return grads


def backward_overwriting(result: StagedResult) -> dict:
    """The classic bug, kept for chapter 1: :func:`backward` with ``=`` in place of ``+=``.

    A variable read by several stages keeps only what the last one visited sends back.
    Returns the (wrong) gradients; ``result`` is not modified.
    """
    g = {"x": 0.0, "y": 0.0, **{s.name: 0.0 for s in result.stages}}
    g[result.stages[-1].name] = 1.0
    for s in reversed(result.stages):
        for inp, local in s.local.items():
            g[inp] = g[s.name] * local  # BUG: drops what others sent
    return g


def value_and_grad(x: float, y: float) -> tuple[float, float, float]:
    """Return (f, df/dx, df/dy) at (x, y)."""
    res = forward(x, y)
    g = backward(res)
    return res.f, g["x"], g["y"]


def stage_table(result: StagedResult) -> list[dict]:
    """Rows (one per local derivative) for a chapter to tabulate."""
    rows = []
    for s in result.stages:
        for inp, local in s.local.items():
            rows.append(
                {
                    "stage": s.name,
                    "formula": s.formula,
                    "value": s.value,
                    "input": inp,
                    "local": local,
                    "upstream": s.upstream,
                    "sent_back": None if s.upstream is None else s.upstream * local,
                }
            )
    return rows
