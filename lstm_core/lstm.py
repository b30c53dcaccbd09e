"""Long short-term memory: forward pass and backpropagation through time.

Gate blocks are stored side by side in the order i, f, g, o (PyTorch's order):

    a_t = x_t W_x + h_{t-1} W_h + b                      (B, 4H)
    i_t = sigma(a_i)          input gate
    f_t = sigma(a_f + forget_bias)   forget gate (TensorFlow adds forget_bias here)
    g_t = tanh(a_g)           candidate cell (c~ in many texts)
    o_t = sigma(a_o)          output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * psi(c_t)      psi = tanh, or identity for the ``h = o * c`` variant

Shapes: x (T, B, D); h, c (T, B, H); W_x (D, 4H); W_h (H, 4H); b (4H,).

``cell`` selects a variant used in the ablations of the capstone chapter:
    "standard"   as above
    "no_forget"  the 1997 cell: f_t = 1 always (the f block of the weights is unused)
    "coupled"    coupled input-forget gate: f_t = 1 - i_t (f block unused)

Peephole connections (Gers, Schraudolph & Schmidhuber 2002) let the gates see the
cell state through diagonal weights, three vectors p_i, p_f, p_o of shape (H,),
used whenever they are present in ``params`` (``init_params(..., peephole=True)``):

    a_i += p_i * c_{t-1}      the input and forget gates look at the previous cell
    a_f += p_f * c_{t-1}
    a_o += p_o * c_t          the output gate looks at the new cell, so o_t comes after c_t

Backward, three more paths carry the cell-state gradient (delta_k = dL/da_k):

    dL/dc_t     += delta_o * p_o                         (within the step, before delta_i, f, g)
    dL/dc_{t-1} += delta_i * p_i + delta_f * p_f         (besides dL/dc_t * f_t)
    dL/dp_i = sum_t delta_i * c_{t-1},  dL/dp_f = sum_t delta_f * c_{t-1},  dL/dp_o = sum_t delta_o * c_t

Any subset of the three may be present. Refused: p_f with cell="no_forget" or
"coupled", whose forget gate is not computed from a_f (a p_f there would get a
gradient of zero and change nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import (
    check_choice,
    check_model_params,
    check_sequence,
    check_state,
    check_upstream,
)
from ._common import (
    Cache,
    Gradients,
    check_rng,
    check_sizes,
    previous_states,
    project_inputs,
    sum_outer_over_time,
    uniform_init,
    with_contiguous_transpose,
)
from .activations import Activation, get_activation, sigmoid, sigmoid_grad_from_output, tanh_grad_from_output

GATES = ("i", "f", "g", "o")
CELLS = ("standard", "no_forget", "coupled")
OUTPUT_ACTIVATIONS = ("tanh", "identity")
PEEPHOLES = ("p_i", "p_f", "p_o")  # the diagonal peephole weights, each (H,)


def param_spec(D: int, H: int, peepholes=()) -> dict:
    """Key -> (shape, letters) of the params; ``peepholes`` lists the peephole keys present."""
    spec = {"W_x": ((D, 4 * H), "D, 4H"), "W_h": ((H, 4 * H), "H, 4H"), "b": ((4 * H,), "4H")}
    spec.update({name: ((H,), "H") for name in peepholes})
    return spec


def gate_slice(name: str, H: int) -> slice:
    """Columns of gate ``name`` (one of i, f, g, o) in a (..., 4H) array."""
    k = GATES.index(name)
    return slice(k * H, (k + 1) * H)


def init_params(input_size, hidden_size, *, rng, dtype=np.float64, peephole=False):
    """Random params, uniform(±1/sqrt(H)) like PyTorch's default (never all zero).

    ``peephole=True`` adds the three peephole vectors p_i, p_f, p_o (H,); a
    string of gate letters adds some of them, e.g. ``peephole="io"`` for the
    cells "no_forget" and "coupled", whose forget gate takes no peephole.
    """
    check_sizes(input_size, hidden_size)
    check_rng(rng)
    D, H = input_size, hidden_size
    k = 1.0 / np.sqrt(H)
    params = {
        "W_x": uniform_init(rng, (D, 4 * H), k, dtype),
        "W_h": uniform_init(rng, (H, 4 * H), k, dtype),
        "b": uniform_init(rng, (4 * H,), k, dtype),
    }
    for name in _peephole_names(peephole):
        params[name] = uniform_init(rng, (H,), k, dtype)
    return params


def _peephole_names(peephole) -> tuple:
    """init_params' ``peephole`` argument -> the peephole keys, in the order of PEEPHOLES."""
    if peephole is True or peephole is False:
        return PEEPHOLES if peephole else ()
    letters = peephole if isinstance(peephole, str) else None
    if not letters or set(letters) - set("ifo") or len(set(letters)) != len(letters):
        raise ValueError(
            f"peephole must be True, False or a string of distinct gate letters from 'ifo' "
            f"(the candidate g has no peephole), got {peephole!r}"
        )
    return tuple(name for name in PEEPHOLES if name[-1] in letters)


def activate_gates(a, forget_bias=0.0):
    """(B, 4H) pre-activations -> (B, 4H) gate values [i, f, g, o].

    Sigmoid on the three gates, tanh on the candidate block g.
    """
    H = a.shape[-1] // 4
    if forget_bias:
        a = a.copy()
        a[..., gate_slice("f", H)] += forget_bias
    gates = sigmoid(a)
    gates[..., gate_slice("g", H)] = np.tanh(a[..., gate_slice("g", H)])
    return gates


def gate_slopes(gates):
    """d(gate)/d(pre-activation) from the gate values: y(1-y), and 1-g^2 on the g block."""
    H = gates.shape[-1] // 4
    slopes = sigmoid_grad_from_output(gates)
    g = gates[..., gate_slice("g", H)]
    slopes[..., gate_slice("g", H)] = tanh_grad_from_output(g)
    return slopes


def cell_forward(a_in, h_prev, c_prev, W_h, *, forget_bias, psi, cell, peephole=None):
    """One step given the input projection a_in = x_t W_x + b (B, 4H).

    ``peephole`` is None or the vectors (p_i, p_f, p_o), each (H,) (zeros for
    an absent one). Returns (h_t, c_t, gates_t, s_t) with s_t = psi(c_t).
    """
    H = h_prev.shape[-1]
    a = a_in + h_prev @ W_h
    if peephole is not None:  # i and f look at c_{t-1}  [eq-lstm-peep-if]
        a[:, gate_slice("i", H)] += peephole[0] * c_prev
        a[:, gate_slice("f", H)] += peephole[1] * c_prev
    gates = activate_gates(a, forget_bias)
    if cell == "no_forget":
        gates[:, gate_slice("f", H)] = 1.0
    elif cell == "coupled":
        gates[:, gate_slice("f", H)] = 1.0 - gates[:, gate_slice("i", H)]
    i, f, g, o = (gates[:, gate_slice(n, H)] for n in GATES)
    c = f * c_prev + i * g
    if peephole is not None:  # o looks at the new c_t, so it is computed after it  [eq-lstm-peep-o]
        o[:] = sigmoid(a[:, gate_slice("o", H)] + peephole[2] * c)
    s = psi.fn(c)
    return o * s, c, gates, s


def cell_backward(dh_t, dc_next, gates, c_prev, s, W_h, *, psi, cell, peephole=None):
    """One step of BPTT through the cell.

    dh_t     (B, H) total dL/dh_t
    dc_next  (B, H) dL/dc_t arriving along the cell state from step t+1
    peephole None, or (p_i, p_f, p_o) as in :func:`cell_forward`
    Returns (da_t (B, 4H), dL/dc_t total, dL/dh_{t-1} via this step, dL/dc_{t-1}).
    """
    H = dh_t.shape[-1]
    i, f, g, o = (gates[:, gate_slice(n, H)] for n in GATES)
    dgates = np.empty_like(gates)
    dgates[:, gate_slice("o", H)] = dh_t * s                  # dL/do_t  [eq-lstm-bw-do]
    # two paths into c_t: through h_t = o * psi(c_t), and along the cell state from c_{t+1}
    dc = dc_next + dh_t * o * psi.grad_from_output(s)         # [eq-lstm-bw-dc]
    if peephole is not None:  # a third: c_t -> a_o, so delta_o * p_o  [eq-deep-peep-dc]
        dc = dc + dgates[:, gate_slice("o", H)] * sigmoid_grad_from_output(o) * peephole[2]
    dgates[:, gate_slice("i", H)] = dc * g                    # dL/di_t  [eq-lstm-bw-di]
    dgates[:, gate_slice("f", H)] = dc * c_prev               # dL/df_t  [eq-lstm-bw-df]
    dgates[:, gate_slice("g", H)] = dc * i                    # dL/dg_t  [eq-lstm-bw-dg]
    da = dgates * gate_slopes(gates)  # x sigma' or tanh': delta_i, delta_f, delta_g, delta_o
    if cell == "no_forget":
        da[:, gate_slice("f", H)] = 0.0
    elif cell == "coupled":
        # f = 1 - i: what f receives flows into i with a minus sign
        da[:, gate_slice("i", H)] -= dgates[:, gate_slice("f", H)] * sigmoid_grad_from_output(i)
        da[:, gate_slice("f", H)] = 0.0
    dc_prev = dc * f  # dL/dc_t * f_t, for step t-1  [eq-lstm-bw-dc]
    if peephole is not None:  # c_{t-1} also fed a_i and a_f  [eq-deep-peep-dcprev]
        dc_prev += da[:, gate_slice("i", H)] * peephole[0] + da[:, gate_slice("f", H)] * peephole[1]
    return da, dc, da @ W_h.T, dc_prev  # dL/dh_{t-1} via this step [eq-lstm-bw-hprev]


@dataclass(frozen=True)
class LSTMOptions:
    """The options of one :func:`forward` run, checked (see :func:`forward`)."""

    forget_bias: float
    psi: Activation  # the output activation: h_t = o_t * psi(c_t)
    cell: str        # one of CELLS
    peepholes: tuple = ()  # the peephole keys of params in use, in the order of PEEPHOLES


@dataclass(frozen=True, eq=False, repr=False)
class LSTMCache(Cache):
    """What :func:`forward` keeps for :func:`backward` (fields of :class:`Cache` plus these).

    c0       (B, H)     the initial cell state
    c        (T, B, H)  the cell states c_1 .. c_T
    s        (T, B, H)  psi(c_t)
    gates    (T, B, 4H) the gate values i, f, g, o of every step
    options  :class:`LSTMOptions`
    """

    c0: np.ndarray
    c: np.ndarray
    s: np.ndarray
    gates: np.ndarray
    options: LSTMOptions

    @property
    def c_prev(self) -> np.ndarray:
        """(T, B, H) the cell state each step reads: [c_0, c_1, ..., c_{T-1}] (a new array)."""
        return previous_states(self.c0, self.c)


def _options(forget_bias, output_activation, cell, peepholes=()):
    check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
    check_choice("cell", cell, CELLS)
    if not np.isfinite(forget_bias):
        raise ValueError(f"forget_bias must be finite, got {forget_bias}")
    if forget_bias and cell != "standard":
        # the f block is overwritten (1 or 1 - i): a bias on it would be silently ignored
        raise ValueError(f"forget_bias has no effect with cell={cell!r} (its forget gate is not learned); got {forget_bias}")
    if "p_f" in peepholes and cell != "standard":
        # the same reason: f_t is 1 or 1 - i_t, never sigma(a_f), so p_f would do nothing
        raise ValueError(
            f"params['p_f'] (the forget gate's peephole) has no effect with cell={cell!r}: its "
            f"forget gate is not computed from a_f; drop it (init_params(..., peephole='io'))"
        )
    return LSTMOptions(
        forget_bias=float(forget_bias),
        psi=get_activation(output_activation, argname="output_activation"),
        cell=cell,
        peepholes=tuple(peepholes),
    )


def _peephole_vectors(params, opts, H, dtype):
    """(p_i, p_f, p_o) from params, zeros for an absent one; None without peepholes."""
    if not opts.peepholes:
        return None
    return tuple(params[k] if k in opts.peepholes else np.zeros(H, dtype=dtype) for k in PEEPHOLES)


def forward(params, x, h0=None, c0=None, *, forget_bias=0.0, output_activation="tanh", cell="standard"):
    """Run the LSTM over a sequence.

    params  dict W_x (D, 4H), W_h (H, 4H), b (4H,), gate blocks i, f, g, o;
            optionally the peephole vectors p_i, p_f, p_o (H,) (module docstring)
    x       (T, B, D)
    h0, c0  (B, H) or None for zeros
    Returns h (T, B, H) and an :class:`LSTMCache` for :func:`backward`. The
    cache also holds ``c`` (T, B, H) and ``gates`` (T, B, 4H) for plotting.
    """
    peepholes = tuple(k for k in PEEPHOLES if isinstance(params, dict) and k in params)
    D, H, dtype = check_model_params(params, lambda D, H: param_spec(D, H, peepholes), "lstm")
    opts = _options(forget_bias, output_activation, cell, peepholes)
    peephole = _peephole_vectors(params, opts, H, dtype)
    x = check_sequence(x, D, dtype)
    T, B, _ = x.shape
    h0 = check_state("h0", h0, B, H, dtype)
    c0 = check_state("c0", c0, B, H, dtype)
    a_in = project_inputs(x, params["W_x"], params["b"])
    h = np.empty((T, B, H), dtype=dtype)
    c = np.empty_like(h)
    s = np.empty_like(h)
    gates = np.empty((T, B, 4 * H), dtype=dtype)
    h_prev, c_prev = h0, c0
    for t in range(T):
        h[t], c[t], gates[t], s[t] = cell_forward(
            a_in[t], h_prev, c_prev, params["W_h"],
            forget_bias=opts.forget_bias, psi=opts.psi, cell=opts.cell, peephole=peephole,
        )
        h_prev, c_prev = h[t], c[t]
    cache = LSTMCache(params=params, x=x, h0=h0, h=h, c0=c0, c=c, s=s, gates=gates, options=opts)
    return h, cache


def backward(dh, cache, dc_last=None, *, cell_backward=cell_backward):
    """Backpropagation through time for :func:`forward`.

    dh       (T, B, H) dL/dh_t from outside the recurrence (zeros where unused)
    dc_last  (B, H) or None: dL/dc_{T-1} from outside (e.g. a loss on the final cell)
    cell_backward  the one-step function, :func:`cell_backward` (only
             :mod:`lstm_core.errata` passes another: its deliberately wrong steps)
    Returns :class:`Gradients` with params, dx, dh0, dc0, dh_steps, dc_steps, da_steps.
    """
    params, x, h, gates, opts = cache.params, cache.x, cache.h, cache.gates, cache.options
    T, B, H = h.shape
    dh = check_upstream("dh", dh, (T, B, H), "T, B, H", h.dtype)
    dc_carry = check_upstream("dc_last", dc_last, (B, H), "B, H", h.dtype)
    c_prev = cache.c_prev
    peephole = _peephole_vectors(params, opts, H, h.dtype)
    W_h = with_contiguous_transpose(params["W_h"])  # for the loop only
    da = np.empty_like(gates)
    dh_steps = np.empty_like(h)
    dc_steps = np.empty_like(h)
    dh_carry = np.zeros((B, H), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        dh_steps[t] = dh[t] + dh_carry  # delta_t = dl_t/dh_t + r_t  [eq-lstm-bw-delta]
        da[t], dc_steps[t], dh_carry, dc_carry = cell_backward(
            dh_steps[t], dc_carry, gates[t], c_prev[t], cache.s[t], W_h,
            psi=opts.psi, cell=opts.cell, peephole=peephole,
        )
    del W_h  # the column-major copy is done with: free it before the copies below
    h_prev = cache.h_prev  # h_0, ..., h_{T-1}
    grads = {  # sums over every step  [eq-lstm-bw-weights]
        "W_x": sum_outer_over_time(x, da),
        "W_h": sum_outer_over_time(h_prev, da),
        "b": da.sum(axis=(0, 1)),
    }
    # the peepholes: delta_i, delta_f times c_{t-1}, delta_o times c_t  [eq-lstm-peep-weights]
    seen_by = {"p_i": ("i", c_prev), "p_f": ("f", c_prev), "p_o": ("o", cache.c)}
    for name in opts.peepholes:
        gate, state = seen_by[name]
        grads[name] = (da[..., gate_slice(gate, H)] * state).sum(axis=(0, 1))
    dx = (da.reshape(T * B, 4 * H) @ params["W_x"].T).reshape(x.shape)  # [eq-lstm-bw-dx]
    return Gradients(params=grads, dx=dx, dh0=dh_carry, dh_steps=dh_steps,
                     dc0=dc_carry, dc_steps=dc_steps, da_steps=da)
