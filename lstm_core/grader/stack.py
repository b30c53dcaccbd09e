"""The grader for a hand-written backward pass of a stacked and/or bidirectional network.

``check_backward(fn, model="stack", cell="lstm", num_layers=2, bidirectional=True, ...)``
grades ``fn``, a function with the signature of :func:`lstm_core.stack.backward`,
``fn(dy, cache)`` or ``fn(dy, cache, dh_n=None, dc_n=None)``, on these problems:

* a loss at every output step, and at the last output step only;
* the bottom layer alone (a one-layer network reading x): it isolates what happens inside a
  layer (splitting dy into its directions, running the reverse one backwards in its own time)
  from what one layer hands down to the next;
* when ``fn`` takes ``dh_n`` (and ``dc_n``): a loss on the final states only; and, for the LSTM
  and GRU stacks PyTorch has (2 layers, both directions, default options), the sequence,
  states and loss of the recorded ``torch.nn.LSTM`` / ``nn.GRU`` fixture.

The reference is :func:`lstm_core.stack.backward`, confirmed by central differences on every
array of the main problem (and against PyTorch's gradients on the fixture) before anything is
compared with it. Arrays are named as :meth:`lstm_core.stack.StackParams.arrays` names them,
``l{layer}.{direction}.{key}``, plus the rows of dh0 (and dc0) under ``l{layer}.{direction}.dh0``
and ``dx``; the verdict says which layer and direction the backward pass gets wrong first.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .. import fixtures, interop, stack, torch_parity
from ..gradcheck import check_gradients
from .battery import REFERENCE_TOL, SEED, TOL, B, D, H, T
from .compare import rel
from .report import ArrayVerdict, StackReport
from .running import Failure, call, check_arrays
from .stack_diagnosis import diagnose_stack

TORCH_FIXTURES = {"lstm": "torch_lstm_T6_B2_D3_H4_L2_bi_s4.npz",
                  "gru": "torch_gru_T6_B2_D3_H4_L2_bi_s5.npz"}
TORCH_TOL = 1e-10   # the package's stack backward against PyTorch's, relative


def copy_params(p, layers=None):
    """A deep copy of StackParams ``p`` (only ``layers``, a slice, if given)."""
    chosen = p.layers if layers is None else p.layers[layers]
    return stack.StackParams(p.cell, [{d: {k: v.copy() for k, v in q.items()}
                                       for d, q in layer.items()} for layer in chosen],
                             dict(p.options))


@dataclass(frozen=True)
class StackProblem:
    """One forward pass of a stack and the upstream gradients to send back through it."""

    label: str
    params: stack.StackParams
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    dy: np.ndarray
    dh_n: np.ndarray | None = None
    dc_n: np.ndarray | None = None

    def forward(self):
        """A fresh forward pass on copies, so that ``fn`` cannot spoil later problems."""
        c0 = None if self.c0 is None else self.c0.copy()
        return stack.forward(copy_params(self.params), self.x.copy(), self.h0.copy(), c0)

    def replace(self, label=None, **changes):
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return StackProblem(**{**fields, **changes, "label": label or self.label})

    def layers(self, lo, hi, label, dy=None):
        """The sub-network of layers lo .. hi-1 on what layer lo reads in this forward pass:
        it reproduces those layers exactly (a layer never depends on the layers above it)."""
        K = len(self.params.directions)
        rows = slice(lo * K, hi * K)
        x = self.x if lo == 0 else self.forward()[1].outputs[lo - 1]

        def pick(a):
            return None if a is None else a[rows].copy()

        return StackProblem(label, copy_params(self.params, slice(lo, hi)), x.copy(),
                            self.h0[rows].copy(), pick(self.c0),
                            self.dy if dy is None else dy, pick(self.dh_n), pick(self.dc_n))


def names(params):
    """The graded arrays in the order the backward pass produces them: the top layer first,
    forward before reverse; each layer-direction's parameters, then its dh0 (dc0) row; dx."""
    out = []
    for k in range(params.num_layers - 1, -1, -1):
        for d in params.directions:
            out += [f"l{k}.{d}.{key}" for key in params.layers[k][d]]
            out += [f"l{k}.{d}.{s}" for s in ("dh0", "dc0") if s != "dc0" or params.cell == "lstm"]
    return out + ["dx"]


def _rows(params, arr, state):
    """{l{k}.{d}.{state}: row} of an (L K, B, H) state gradient."""
    K = len(params.directions)
    return {f"l{k}.{d}.{state}": arr[k * K + j] for k in range(params.num_layers)
            for j, d in enumerate(params.directions)}


def flat(g, params):
    """{array name: value} of a StackGradients-like result (dh0/dc0 split into rows)."""
    out = dict(stack.StackParams(params.cell, g["layers"]).arrays())
    for state in ("dh0", "dc0"):
        if g.get(state) is not None:
            out.update(_rows(params, g[state], state))
    if g.get("dx") is not None:
        out["dx"] = g["dx"]
    return out


def reference(p):
    _, cache = p.forward()
    g = stack.backward(p.dy, cache, dh_n=p.dh_n, dc_n=p.dc_n)
    return flat({"layers": g.params.layers, "dx": g.dx, "dh0": g.dh0, "dc0": g.dc0}, p.params)


def _problems(cell, num_layers, bidirectional, options, with_final):
    rng = np.random.default_rng(SEED)
    p = stack.init_params(cell, D, H, num_layers, bidirectional=bidirectional, rng=rng,
                          **options)
    K, LK = len(p.directions), num_layers * len(p.directions)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((LK, B, H))
    c0 = 0.5 * rng.standard_normal((LK, B, H)) if cell == "lstm" else None
    dy, dh_n, dc_n = (rng.standard_normal(s) for s in ((T, B, K * H), (LK, B, H), (LK, B, H)))
    dy_last = np.zeros_like(dy)
    dy_last[-1] = dy[0]
    every = StackProblem("loss at every output", p, x, h0, c0, dy)
    main = [every, every.replace("loss at the last output only", dy=dy_last)]
    if num_layers > 1:
        main.append(every.layers(0, 1, "the bottom layer alone (L = 1)"))
    if with_final:
        main.append(every.replace("a loss on the final states only", dy=np.zeros_like(dy),
                                  dh_n=dh_n, dc_n=dc_n if cell == "lstm" else None))
        if cell in TORCH_FIXTURES and num_layers == 2 and bidirectional and not options:
            main.append(_torch_problem(cell))
    return main, every.replace("a loss on everything", dh_n=dh_n,
                               dc_n=dc_n if cell == "lstm" else None)


def _torch_problem(cell):
    ref = fixtures.load(TORCH_FIXTURES[cell])
    p = (interop.lstm_from_torch if cell == "lstm" else interop.gru_from_torch)(
        torch_parity.state_dict(ref))
    return StackProblem(f"PyTorch's nn.{cell.upper()} fixture (T = 6, D = 3, H = 4)", p,
                        ref["x"], ref["h0"], ref.get("c0"), ref["w_out"], ref["w_h"],
                        ref.get("w_c"))


_CONFIRMED: dict = {}


def confirm_reference(p):
    """Worst relative error of stack.backward against central differences on ``p`` (cached)."""
    key = (p.params.cell, p.params.num_layers, p.params.bidirectional,
           tuple(sorted(p.params.options.items())), tuple(p.params.arrays()))
    if key not in _CONFIRMED:
        q = p.replace(params=copy_params(p.params), x=p.x.copy(), h0=p.h0.copy(),
                      c0=None if p.c0 is None else p.c0.copy())

        def loss():
            y, cache = stack.forward(q.params, q.x, q.h0, q.c0)
            extra = 0.0 if q.dc_n is None else np.sum(q.dc_n * cache.c_n)
            return float(np.sum(q.dy * y) + np.sum(q.dh_n * cache.h_n) + extra)

        _, cache = q.forward()
        g = stack.backward(q.dy, cache, dh_n=q.dh_n, dc_n=q.dc_n)
        arrays = dict(q.params.arrays(), x=q.x, h0=q.h0)
        analytic = dict(g.params.arrays(), x=g.dx, h0=g.dh0)
        if q.c0 is not None:
            arrays["c0"], analytic["c0"] = q.c0, g.dc0
        _CONFIRMED[key] = max(check_gradients(loss, arrays, analytic, floor=1e-6).values())
    return _CONFIRMED[key]


def torch_agreement(cell):
    """Worst relative difference of stack.forward/backward from PyTorch's on the fixture."""
    pairs, _ = torch_parity.compare_stack(fixtures.load(TORCH_FIXTURES[cell]), cell)
    return max(torch_parity.max_relative_difference(pairs).values())


def _takes_final(fn, cell):
    kwargs = {"dh_n": None, **({"dc_n": None} if cell == "lstm" else {})}
    try:
        inspect.signature(fn).bind(None, None, **kwargs)
    except (TypeError, ValueError):
        return False
    return True


def _structure(layers):
    """[{direction: sorted keys}] of a list of layers, or None if it is not one."""
    if not isinstance(layers, (list, tuple)) or not all(
            isinstance(layer, dict) and all(isinstance(q, dict) for q in layer.values())
            for layer in layers):
        return None
    return [{d: sorted(q) for d, q in layer.items()} for layer in layers]


def _unpack(out, p):
    """{array name: value or None} of what ``fn`` returned for problem ``p``."""
    params = p.params
    if isinstance(out, stack.StackGradients):
        g = {"layers": out.params.layers, "dx": out.dx, "dh0": out.dh0, "dc0": out.dc0}
    elif isinstance(out, dict) and "params" in out:
        g = dict(out, layers=out["params"])
    else:
        raise Failure(f"returned {type(out).__name__}; expected a stack.StackGradients (what "
                      f"stack.backward returns) or a dict with 'params', 'dx', 'dh0'"
                      f"{', dc0' if params.cell == 'lstm' else ''}")
    layers = g["layers"].layers if isinstance(g["layers"], stack.StackParams) else g["layers"]
    if _structure(layers) != _structure(params.layers):
        raise Failure(f"returned params that are not {params.num_layers} "
                      f"layer{'s' if params.num_layers > 1 else ''} of "
                      f"{{direction: {{key: gradient}}}} with directions "
                      f"{list(params.directions)} and keys {list(params.layers[0]['forward'])} "
                      f"(a StackParams or its .layers list)")
    T_, B_, D_ = p.x.shape
    LK, H_ = len(p.h0), p.h0.shape[-1]
    shapes = {f"l{k}.{d}.{key}": (np.shape(v), "as the parameter") for k, layer in
              enumerate(params.layers) for d, q in layer.items() for key, v in q.items()}
    shapes.update({"dx": ((T_, B_, D_), "T, B, D"), "dh0": ((LK, B_, H_), "L K, B, H")})
    if params.cell == "lstm":
        shapes["dc0"] = ((LK, B_, H_), "L K, B, H")
    whole = {k: g.get(k) for k in ("dx", "dh0", "dc0")}
    whole.update(stack.StackParams(params.cell, list(layers)).arrays())
    check_arrays(whole, shapes)
    return {k: None for k in names(params)} | flat(dict(g, layers=list(layers)), params)


class StackRunner:
    """Calls ``fn`` on stack problems; every misbehaviour becomes a Failure."""

    def __init__(self, fn, with_final):
        self.fn, self.with_final = fn, with_final

    def __call__(self, p):
        _, cache = p.forward()
        kwargs = {}
        if self.with_final:
            kwargs["dh_n"] = None if p.dh_n is None else p.dh_n.copy()
            if p.params.cell == "lstm":
                kwargs["dc_n"] = None if p.dc_n is None else p.dc_n.copy()
        return _unpack(call(self.fn, [p.dy.copy(), cache], kwargs, p.label), p)


def check_stack_backward(fn, cell="lstm", num_layers=2, bidirectional=True, **options):
    """Grade ``fn``, a hand-written ``stack.backward(dy, cache[, dh_n, dc_n])``; see the module."""
    if cell not in stack.CELLS:
        raise ValueError(f"cell must be one of {sorted(stack.CELLS)}, got {cell!r}")
    if not callable(fn):
        raise TypeError(f"fn must be a function like stack.backward(dy, cache), "
                        f"got {type(fn).__name__}")
    with_final = _takes_final(fn, cell)
    main, everything = _problems(cell, num_layers, bidirectional, options, with_final)
    main[0].forward()  # bad options are the caller's error: let forward's message through
    ref_err = confirm_reference(everything)
    torch_err = torch_agreement(cell) if any("PyTorch" in p.label for p in main) else None
    if not ref_err < REFERENCE_TOL or (torch_err is not None and not torch_err < TORCH_TOL):
        raise RuntimeError(f"lstm_core.stack.backward disagrees with central differences "
                           f"({ref_err:.1e}) or PyTorch ({torch_err}): the reference is broken")
    call_options = dict(cell=cell, num_layers=num_layers, bidirectional=bidirectional, **options)
    name = getattr(fn, "__name__", type(fn).__name__)
    battery = _describe(main, ref_err, torch_err)
    run = StackRunner(fn, with_final)
    try:
        got = [run(p) for p in main]
    except Failure as f:
        return StackReport(name, "stack", call_options, {}, (), str(f), battery)
    refs = [reference(p) for p in main]
    arrays = {}
    for k in names(main[0].params):
        if got[0][k] is None:
            arrays[k] = ArrayVerdict(k, None)
            continue
        error = max(rel(g[k], r[k], 1e-8 * np.max(np.abs(r[k]), initial=0.0))
                    for g, r in zip(got, refs) if k in r)
        arrays[k] = ArrayVerdict(k, error <= TOL, error)
    try:
        findings = tuple(diagnose_stack(run, main, got, refs, arrays, reference))
    except Failure as f:
        return StackReport(name, "stack", call_options, arrays, (), str(f), battery)
    return StackReport(name, "stack", call_options, arrays, findings, None, battery)


def _describe(main, ref_err, torch_err):
    p = main[0].params
    layers = f"{p.num_layers} layer{'s' if p.num_layers > 1 else ''}"
    text = (f"{layers} of {p.cell}, {'both directions' if p.bidirectional else 'one way'}"
            f", T = {T}, B = {B}, D = {D}, H = {H}, random non-zero h0"
            f"{', c0' if p.cell == 'lstm' else ''}, float64, seed {SEED}: "
            + "; ".join(q.label for q in main)
            + f"; reference lstm_core.stack.backward, which agrees with central differences to "
              f"{ref_err:.0e}")
    if torch_err is not None:
        text += f" and with PyTorch's gradients to {torch_err:.0e}"
    return text
