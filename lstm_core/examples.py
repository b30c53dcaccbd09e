"""The LSTM backward pass laid out step by step, and the worked example of chapter 4.

Two things live here because the chapter, its tests and readers all use them:

* :func:`backward_trace` runs :func:`lstm_core.lstm.backward` and also returns
  every intermediate quantity of the derivation, per time step: the direct and
  the recurrent part of dL/dh_t, the two paths into dL/dc_t, the gradients of
  the gate values and the four pre-activation error terms.  The pre-activation
  terms come from the library's own :func:`lstm_core.lstm.cell_backward`;
  :func:`cell_path_gradient` and :func:`hidden_path_gradient` isolate the
  parts of dL/dc_t that travel only along the cell state and only through the
  hidden states.
* :func:`gomez_example` and :func:`gomez_tables`: the two-step, one-unit LSTM
  of A. Gomez, "Backpropogating an LSTM: A Numerical Example" (2016), with its
  forward values, error terms, parameter gradients and the weights after one
  SGD step, as tables.

Gomez writes each gate with column vectors, ``gate_t = W_gate x_t + U_gate
out_{t-1} + b_gate``, and calls the candidate ``a`` (our ``g``), the cell
``state`` (our ``c``) and the hidden state ``out`` (our ``h``).  With one hidden
unit his row ``W_gate`` is our column ``W_x[:, k]`` of that gate's block.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import lstm
from ._common import Gradients
from .losses import half_sum_squared_error

__all__ = [
    "BackwardTrace",
    "GOMEZ_GATES",
    "GOMEZ_LR",
    "GOMEZ_TARGETS",
    "GOMEZ_TO_OURS",
    "GOMEZ_WEIGHTS",
    "GOMEZ_X",
    "Table",
    "WorkedExample",
    "backward_trace",
    "cell_path_gradient",
    "format_sig",
    "gomez_example",
    "gomez_tables",
    "hidden_path_gradient",
    "params_from_per_gate",
    "per_gate_from_params",
]

# --------------------------------------------------------------------------
# The backward pass, every intermediate per step
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BackwardTrace:
    """Every quantity of the LSTM backward pass, per step (code index t = 0..T-1).

    dh_direct     (T, B, H)  dl_t/dh_t, what the loss sends to h_t directly
    dh_recurrent  (T, B, H)  r_t, what step t+1 sends back to h_t (0 at the last step)
    dh            (T, B, H)  delta_t = dh_direct + dh_recurrent, the total dL/dh_t
    dc_via_h      (T, B, H)  delta_t * o_t * psi'(c_t): the path c_t -> h_t
    dc_via_c      (T, B, H)  dL/dc_{t+1} * f_{t+1}: the path c_t -> c_{t+1} (dc_last at the end)
    dc            (T, B, H)  the total dL/dc_t, the sum of the two paths
    dgates        (T, B, 4H) dL/d(gate value) for i, f, g, o, as each enters c_t or h_t
    da            (T, B, 4H) delta_{i,f,g,o}: dL/d(pre-activation), from lstm.cell_backward
    grads         the :class:`Gradients` of :func:`lstm_core.lstm.backward`
    """

    dh_direct: np.ndarray
    dh_recurrent: np.ndarray
    dh: np.ndarray
    dc_via_h: np.ndarray
    dc_via_c: np.ndarray
    dc: np.ndarray
    dgates: np.ndarray
    da: np.ndarray
    grads: Gradients


def _refuse_peepholes(cache, name):
    if cache.options.peepholes:
        raise ValueError(
            f"{name} follows the cell of chapter 4, without peephole connections; the cache "
            f"comes from params with {', '.join(cache.options.peepholes)}"
        )


def backward_trace(dh_direct, cache, dc_last=None) -> BackwardTrace:
    """Run :func:`lstm_core.lstm.backward` and return it with every intermediate.

    ``dh_direct`` and ``dc_last`` are the arguments of ``lstm.backward``;
    ``cache`` is the cache of :func:`lstm_core.lstm.forward`.  The
    pre-activation error terms ``da`` are produced by the library's
    ``cell_backward`` from the totals that ``lstm.backward`` reports, and
    are checked to reproduce its bias gradient.
    """
    _refuse_peepholes(cache, "backward_trace")
    grads = lstm.backward(dh_direct, cache, dc_last)
    psi, cell = cache.options.psi, cache.options.cell
    h, s, gates, c_prev = cache.h, cache.s, cache.gates, cache.c_prev
    T, B, H = h.shape
    dh_direct = np.asarray(dh_direct, dtype=h.dtype)
    i, f, g, o = (gates[..., lstm.gate_slice(n, H)] for n in lstm.GATES)

    dh = grads.dh_steps
    dc = grads.dc_steps
    dc_via_h = dh * o * psi.grad_from_output(s)
    dc_via_c = np.empty_like(dc)
    dc_via_c[:-1] = dc[1:] * f[1:]
    dc_via_c[-1] = 0.0 if dc_last is None else dc_last

    dgates = np.concatenate([dc * g, dc * c_prev, dc * i, dh * s], axis=-1)
    da = np.empty_like(gates)
    for t in range(T):
        da[t] = lstm.cell_backward(dh[t], dc_via_c[t], gates[t], c_prev[t], s[t],
                                   cache.params["W_h"], psi=psi, cell=cell)[0]
    if not np.allclose(da.sum(axis=(0, 1)), grads.params["b"], rtol=1e-12, atol=1e-300):
        raise AssertionError("the per-step error terms do not add up to lstm.backward's bias gradient")
    return BackwardTrace(
        dh_direct=dh_direct, dh_recurrent=dh - dh_direct, dh=dh,
        dc_via_h=dc_via_h, dc_via_c=dc_via_c, dc=dc,
        dgates=dgates, da=da, grads=grads,
    )


def cell_path_gradient(dh_direct, cache, dc_last=None) -> np.ndarray:
    """The part of dL/dc_t that travels along the cell state only -> (T, B, H).

    It is dL/dc_t with every gate treated as a constant, i.e. with the paths
    through the hidden states (h_s -> gates of step s+1) cut:

        e_t = dl_t/dh_t * o_t * psi'(c_t) + f_{t+1} * e_{t+1}

    so the loss at step s reaches c_t multiplied by the product of forget gates
    f_{t+1} ... f_s.  The total dL/dc_t minus this is what arrives on paths
    that pass through at least one hidden state (:func:`hidden_path_gradient`
    gives the paths that never use the cell-to-cell edge at all).
    """
    _refuse_peepholes(cache, "cell_path_gradient")
    psi = cache.options.psi
    h, s, gates = cache.h, cache.s, cache.gates
    T, B, H = h.shape
    dh_direct = np.asarray(dh_direct, dtype=h.dtype)
    f = gates[..., lstm.gate_slice("f", H)]
    o = gates[..., lstm.gate_slice("o", H)]
    out = np.empty_like(h)
    carry = np.zeros((B, H), dtype=h.dtype) if dc_last is None else np.asarray(dc_last, dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        out[t] = dh_direct[t] * o[t] * psi.grad_from_output(s[t]) + carry
        carry = out[t] * f[t]
    return out


def hidden_path_gradient(dh_direct, cache) -> np.ndarray:
    """The part of dL/dc_t that never travels along the cell state -> (T, B, H).

    It is dL/dc_t with the edge c_t -> c_{t+1} cut (c_{t-1} treated as a
    constant inside c_t = f_t c_{t-1} + i_t g_t), so every path goes
    c_t -> h_t -> a_{t+1} and on to h_{t+1} either through the next cell
    (i, f, g of step t+1 -> c_{t+1} -> h_{t+1}) or through the output gate
    alone (o_{t+1} -> h_{t+1}, which never touches c_{t+1}).  It is the
    backward pass of :func:`lstm_core.lstm.backward` with ``dc_next = 0`` at
    every step (only the standard cell).
    """
    _refuse_peepholes(cache, "hidden_path_gradient")
    opts = cache.options
    if opts.cell != "standard":
        raise ValueError(f"hidden_path_gradient needs the standard cell, got {opts.cell!r}")
    h, gates, c_prev = cache.h, cache.gates, cache.c_prev
    T, B, H = h.shape
    dh_direct = np.asarray(dh_direct, dtype=h.dtype)
    zero = np.zeros((B, H), dtype=h.dtype)
    out = np.empty_like(h)
    carry = zero
    for t in range(T - 1, -1, -1):
        _, out[t], carry, _ = lstm.cell_backward(dh_direct[t] + carry, zero, gates[t], c_prev[t],
                                                 cache.s[t], cache.params["W_h"],
                                                 psi=opts.psi, cell="standard")
    return out


# --------------------------------------------------------------------------
# Per-gate (column-vector) weights <-> our stacked row-vector layout
# --------------------------------------------------------------------------

#: Gomez's gate names in the order his post lists them, and our block for each.
GOMEZ_GATES = ("a", "i", "f", "o")
GOMEZ_TO_OURS = {"a": "g", "i": "i", "f": "f", "o": "o"}


def params_from_per_gate(weights: dict, names: dict | None = None) -> dict:
    """Stack per-gate column-vector weights into our ``W_x, W_h, b``.

    ``weights[name] = {"W": (H, D), "U": (H, H), "b": (H,)}`` for each gate
    (scalars and 1-D rows are accepted for H = 1); ``names`` maps those
    names onto our blocks i, f, g, o (default: Gomez's a/i/f/o naming).
    """
    names = GOMEZ_TO_OURS if names is None else names
    if sorted(names.values()) != sorted(lstm.GATES):
        raise ValueError(f"names must map onto the four blocks {lstm.GATES}, got {names}")
    per = {}
    for name, ours in names.items():
        w = weights[name]
        b = np.atleast_1d(np.asarray(w["b"], dtype=np.float64))
        H = b.shape[0]
        W = np.asarray(w["W"], dtype=np.float64).reshape(H, -1)
        U = np.asarray(w["U"], dtype=np.float64).reshape(H, H)
        per[ours] = (W, U, b)
    return {
        "W_x": np.concatenate([per[k][0].T for k in lstm.GATES], axis=1),
        "W_h": np.concatenate([per[k][1].T for k in lstm.GATES], axis=1),
        "b": np.concatenate([per[k][2] for k in lstm.GATES]),
    }


def per_gate_from_params(params: dict, names: dict | None = None) -> dict:
    """The inverse of :func:`params_from_per_gate`: {name: {"W": (H, D), "U": (H, H), "b": (H,)}}.

    Works for gradients too (same keys and shapes as the params).
    """
    names = GOMEZ_TO_OURS if names is None else names
    H = params["W_h"].shape[0]
    out = {}
    for name, ours in names.items():
        sl = lstm.gate_slice(ours, H)
        out[name] = {"W": params["W_x"][:, sl].T.copy(), "U": params["W_h"][:, sl].T.copy(),
                     "b": params["b"][sl].copy()}
    return out


# --------------------------------------------------------------------------
# The worked example
# --------------------------------------------------------------------------

#: Gomez's weights: W is the input row, U the recurrent scalar, b the bias.
GOMEZ_WEIGHTS = {
    "a": {"W": (0.45, 0.25), "U": 0.15, "b": 0.2},
    "i": {"W": (0.95, 0.8), "U": 0.8, "b": 0.65},
    "f": {"W": (0.7, 0.45), "U": 0.1, "b": 0.15},
    "o": {"W": (0.6, 0.4), "U": 0.25, "b": 0.1},
}
#: Inputs x_1, x_2 (Gomez's x_0, x_1) and targets y_1, y_2.
GOMEZ_X = ((1.0, 2.0), (0.5, 3.0))
GOMEZ_TARGETS = (0.5, 1.25)
GOMEZ_LR = 0.1


@dataclass(frozen=True)
class WorkedExample:
    """The worked example, run through ``lstm_core``.

    params, x (T, 1, D), targets (T, 1, H), h (T, 1, H), cache, loss (scalar),
    step_losses (T,), trace (:class:`BackwardTrace`), lr, updated (params
    after one SGD step ``p - lr * dL/dp``).
    """

    params: dict
    x: np.ndarray
    targets: np.ndarray
    h: np.ndarray
    cache: lstm.LSTMCache
    loss: float
    step_losses: np.ndarray
    trace: BackwardTrace
    lr: float
    updated: dict


def gomez_example(lr: float = GOMEZ_LR) -> WorkedExample:
    """Gomez's LSTM (H = 1, D = 2, T = 2, h_0 = c_0 = 0), loss sum_t 0.5 (h_t - y_t)^2.

    The loss reads h_t directly (no readout). Returns a :class:`WorkedExample`.
    """
    params = params_from_per_gate(GOMEZ_WEIGHTS)
    x = np.array(GOMEZ_X, dtype=np.float64)[:, None, :]
    targets = np.array(GOMEZ_TARGETS, dtype=np.float64)[:, None, None]
    h, cache = lstm.forward(params, x)
    loss, dh = half_sum_squared_error(h, targets)
    step_losses = 0.5 * ((h - targets) ** 2).reshape(len(x), -1).sum(axis=1)
    trace = backward_trace(dh, cache)
    updated = {k: params[k] - lr * trace.grads.params[k] for k in params}
    return WorkedExample(params=params, x=x, targets=targets, h=h, cache=cache, loss=float(loss),
                         step_losses=step_losses, trace=trace, lr=float(lr), updated=updated)


def format_sig(v, digits: int = 5) -> str:
    """A number with ``digits`` significant digits (trailing zeros kept); "–" for None, "0" for 0."""
    if v is None:
        return "–"
    v = float(v)
    if v == 0.0:
        return "0"
    text = f"{v:#.{digits}g}"  # '#' keeps trailing zeros: 0.018920, not 0.01892
    return text[:-1] if text.endswith(".") else text


@dataclass(frozen=True)
class Table:
    """A small table of numbers: ``rows`` are (label cells..., values...).

    ``columns`` names every column; the first ``n_labels`` cells of a row are
    text, the rest are floats (or None for "not defined").  ``markdown()``
    and ``str()`` format the values with ``digits`` significant digits.
    """

    title: str
    columns: tuple
    rows: tuple
    n_labels: int = 1
    digits: int = 5
    notes: tuple = field(default_factory=tuple)

    def cells(self, digits: int | None = None) -> list:
        d = self.digits if digits is None else digits
        return [[str(c) for c in r[:self.n_labels]] + [format_sig(v, d) for v in r[self.n_labels:]]
                for r in self.rows]

    def value(self, label: str, column: str):
        """The float in the row whose first cell is ``label`` and the column named ``column``."""
        j = self.columns.index(column)
        for r in self.rows:
            if r[0] == label:
                return r[j]
        raise KeyError(f"no row {label!r} in table {self.title!r}")

    def markdown(self, digits: int | None = None) -> str:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(r) + " |" for r in self.cells(digits)]
        return "\n".join(lines)

    def __str__(self) -> str:
        body = [list(self.columns)] + self.cells()
        widths = [max(len(r[j]) for r in body) for j in range(len(self.columns))]
        fmt = lambda r: "  ".join(c.ljust(w) if j < self.n_labels else c.rjust(w)  # noqa: E731
                                  for j, (c, w) in enumerate(zip(r, widths)))
        rule = "-" * len(fmt(body[0]))
        return "\n".join([self.title, rule, fmt(body[0]), rule] + [fmt(r) for r in body[1:]] + [rule])


def gomez_tables(ex: WorkedExample | None = None, digits: int = 5) -> dict:
    """The worked example as four :class:`Table` s: forward, backward, gradients, updated.

    Steps are numbered t = 1, 2 as in the book (Gomez numbers them 0, 1).
    Gate rows follow our block order i, f, g, o; the "Gomez" column gives
    his name for each quantity.
    """
    ex = gomez_example() if ex is None else ex
    gates, tr = ex.cache.gates, ex.trace
    H = ex.h.shape[-1]
    T = ex.h.shape[0]
    steps = [f"t = {t + 1}" for t in range(T)]
    x, h, cc = ex.x[:, 0], ex.h[:, 0, 0], ex.cache.c[:, 0, 0]
    h_prev, c_prev = ex.cache.h_prev[:, 0, 0], ex.cache.c_prev[:, 0, 0]
    p = ex.params
    pre = np.einsum("td,dk->tk", x, p["W_x"]) + h_prev[:, None] * p["W_h"][0] + p["b"]
    blk = {n: lstm.gate_slice(n, H).start for n in lstm.GATES}
    gomez_name = {"i": "i", "f": "f", "g": "a", "o": "o"}
    gate_title = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate"}

    def row(label, ours, gomez, values):
        return (label, ours, gomez, *[float(v) for v in values])

    fwd = [row(f"input x_t[{d}]", f"x_t[{d}]", f"x_t[{d}]", x[:, d]) for d in range(x.shape[1])]
    fwd += [row("previous hidden state", "h_{t-1}", "out_{t-1}", h_prev),
            row("previous cell state", "c_{t-1}", "state_{t-1}", c_prev)]
    fwd += [row(f"{gate_title[n]} pre-activation", f"a_{n},t", "",
                pre[:, blk[n]]) for n in lstm.GATES]
    fwd += [row(gate_title[n], f"{n}_t", f"{gomez_name[n]}_t", gates[:, 0, blk[n]]) for n in lstm.GATES]
    fwd += [row("cell state", "c_t", "state_t", cc),
            row("tanh of the cell state", "tanh(c_t)", "tanh(state_t)", np.tanh(cc)),
            row("hidden state", "h_t", "out_t", h),
            row("target", "y_t", "y_t", ex.targets[:, 0, 0]),
            row("loss at step t", "l_t = ½(h_t − y_t)²", "", ex.step_losses)]
    forward = Table("Forward pass", ("quantity", "ours", "Gomez", *steps), tuple(fwd), n_labels=3,
                    digits=digits, notes=(f"total loss L = l_1 + l_2 = {format_sig(ex.loss, digits)}",))

    d = lambda a: a[:, 0]  # noqa: E731  drop the batch axis
    dg = d(tr.dgates)
    da = d(tr.da)
    dx = d(tr.grads.dx)
    dh_prev_sent = da @ p["W_h"].T  # what step t sends to h_{t-1}
    bwd = [row("from the loss", "∂l_t/∂h_t", "Δ_t", d(tr.dh_direct)[:, 0]),
           row("from step t+1", "r_t", "Δout_t", d(tr.dh_recurrent)[:, 0]),
           row("total, hidden state", "δ_t = ∂L/∂h_t", "δout_t", d(tr.dh)[:, 0]),
           row("cell state, path via h_t", "δ_t o_t (1−tanh²c_t)", "", d(tr.dc_via_h)[:, 0]),
           row("cell state, path via c_{t+1}", "∂L/∂c_{t+1} f_{t+1}", "", d(tr.dc_via_c)[:, 0]),
           row("total, cell state", "∂L/∂c_t", "δstate_t", d(tr.dc)[:, 0])]
    bwd += [row(f"{gate_title[n]} value", f"∂L/∂{n}_t", "", dg[:, blk[n]]) for n in lstm.GATES]
    bwd += [row(f"{gate_title[n]} pre-activation", f"δ_{n},t", f"δ{gomez_name[n]}_t", da[:, blk[n]])
            for n in lstm.GATES]
    bwd += [row("sent to h_{t-1}", "Σ_k δ_k,t W_h,kᵀ", "Δout_{t-1}", dh_prev_sent[:, 0]),
            row("sent to c_{t-1}", "∂L/∂c_t f_t", "", d(tr.dc)[:, 0] * gates[:, 0, blk["f"]])]
    bwd += [row(f"input x_t[{k}]", f"∂L/∂x_t[{k}]", f"δx_t[{k}]", dx[:, k]) for k in range(dx.shape[1])]
    backward = Table("Backward pass (run from t = 2 down to t = 1)", ("quantity", "ours", "Gomez", *steps),
                     tuple(bwd), n_labels=3, digits=digits)

    def gate_rows(params):
        per = per_gate_from_params(params)
        rows = []
        for n in lstm.GATES:
            w = per[gomez_name[n]]
            rows.append((gate_title[n], f"{n} (Gomez {gomez_name[n]})",
                         *[float(v) for v in w["W"][0]], float(w["U"][0, 0]), float(w["b"][0])))
        return tuple(rows)

    D = x.shape[1]
    wcols = tuple(f"W[{k}]" for k in range(D)) + ("U", "b")
    gradients = Table("Parameter gradients ∂L/∂θ (sums over both steps)", ("gate", "block", *wcols),
                      gate_rows(tr.grads.params), n_labels=2, digits=digits)
    updated = Table(f"Weights after one SGD step θ − {ex.lr:g} ∂L/∂θ", ("gate", "block", *wcols),
                    gate_rows(ex.updated), n_labels=2, digits=digits)
    return {"forward": forward, "backward": backward, "gradients": gradients, "updated": updated}
