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
from functools import lru_cache

import numpy as np

from ._checks import (
    as_float_array,
    check_choice,
    check_shape,
    check_model_params,
    check_sequence,
    check_state,
    check_upstream,
)
from ._common import (
    Cache,
    Gradients,
    OnDemand,
    check_rng,
    check_sizes,
    previous_states,
    project_inputs,
    previous_states_of,
    sum_outer_over_time,
    time_blocks,
    uniform_init,
    with_contiguous_transpose,
)
from .activations import (Activation, get_activation, sigmoid, sigmoid_grad_from_output,
                          tanh_grad_from_output)

GATES = ("i", "f", "g", "o")
CELLS = ("standard", "no_forget", "coupled")
OUTPUT_ACTIVATIONS = ("tanh", "identity")
PEEPHOLES = ("p_i", "p_f", "p_o")  # the diagonal peephole weights, each (H,)
# forward and backward take the steps in blocks of about this many bytes of (steps, B, 4H)
# gates: fewer, larger numpy calls and weight-gradient products than with time_blocks' 512 KiB
# (at (T, B, D, H) = (100, 32, 64, 128), one thread, interleaved: a few % faster; 2 and 4 MiB
# were no faster)
BLOCK_BYTES = 2**20


def param_spec(D: int, H: int, peepholes=()) -> dict:
    """Key -> (shape, letters) of the params; ``peepholes`` lists the peephole keys present."""
    spec = {"W_x": ((D, 4 * H), "D, 4H"), "W_h": ((H, 4 * H), "H, 4H"), "b": ((4 * H,), "4H")}
    spec.update({name: ((H,), "H") for name in peepholes})
    return spec


def step_blocks(T, B, H, itemsize):
    """The steps 0..T-1 in the blocks :func:`forward` and :func:`backward` take them in:
    :func:`~lstm_core._common.time_blocks` of about ``BLOCK_BYTES`` of gates each."""
    return time_blocks(T, B, 4 * H, itemsize, nbytes=BLOCK_BYTES)


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


@lru_cache(maxsize=8)
def _gate_scale(shape: tuple, dtype) -> tuple:
    """(k, -k, k - 1), read-only: k = 1 on the columns of i, f, o and 2 on g, for gates of
    ``shape`` (..., 4H). Each is an array of that whole shape when it is small (numpy is
    faster on two arrays of one shape than broadcasting a row over many), else (4H,)."""
    H = shape[-1] // 4
    k = np.ones(4 * H, dtype=dtype)
    k[gate_slice("g", H)] = 2.0
    if np.prod(shape) <= 2**15:
        k = np.broadcast_to(k, shape).copy()
    consts = (k, -k, k - 1.0)
    for v in consts:
        v.flags.writeable = False
    return consts


def activate_gates(a, forget_bias=0.0, out=None):
    """(B, 4H) pre-activations -> (B, 4H) gate values [i, f, g, o].

    Sigmoid on the three gates, tanh on the candidate block g, from one exp over all 4H
    columns: sigma(z) = 1 / (1 + exp(-z)) and tanh(z) = 2 sigma(2z) - 1. With k = 1 on the
    columns of i, f, o and k = 2 on those of g, the gates are k / (1 + exp(-k a)) - (k - 1).
    A tiny sigma keeps its full relative precision; exp overflows to inf only where a gate
    rounds to 0 (or g to -1). ``out`` (B, 4H), if given, receives the gates; it may be ``a``.
    """
    H = a.shape[-1] // 4
    k, minus_k, k_minus_1 = _gate_scale(a.shape, a.dtype)
    z = np.multiply(a, minus_k, out=out)                     # -k a
    if forget_bias:  # -k (a_f + forget_bias), with k = 1 on the f block
        z[..., gate_slice("f", H)] -= forget_bias
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
    z += 1.0
    gates = np.divide(k, z, out=z)
    gates -= k_minus_1
    return gates


def gate_slopes(gates, out=None):
    """d(gate)/d(pre-activation) from the gate values: y(1-y), and 1-g^2 on the g block.

    Any leading shape (B, 4H) or (T, B, 4H); ``out``, if given, receives the slopes.
    """
    H = gates.shape[-1] // 4
    slopes = sigmoid_grad_from_output(gates, out=out)
    g = gates[..., gate_slice("g", H)]
    tanh_grad_from_output(g, out=slopes[..., gate_slice("g", H)])
    return slopes


def cell_forward(a_in, h_prev, c_prev, W_h, *, forget_bias, psi, cell, peephole=None, out=None):
    """One step given the input projection a_in = x_t W_x + b (B, 4H).

    ``peephole`` is None or the vectors (p_i, p_f, p_o), each (H,) (zeros for
    an absent one). Returns (h_t, c_t, gates_t, s_t) with s_t = psi(c_t): new
    arrays, or, if ``out`` = (h_t, c_t, gates_t, s_t) is given, those arrays
    filled in (:func:`forward` passes rows of its outputs, with gates_t = a_in:
    the input projection is overwritten by the gate values).
    """
    H = h_prev.shape[-1]
    h_t, c_t, gates_t, s_t = (None,) * 4 if out is None else out
    a = np.add(a_in, h_prev @ W_h, out=gates_t)  # a_t = x_t W_x + b + h_{t-1} W_h
    if peephole is not None:  # i and f look at c_{t-1}  [eq-lstm-peep-if]
        a[:, gate_slice("i", H)] += peephole[0] * c_prev
        a[:, gate_slice("f", H)] += peephole[1] * c_prev
        a_o = a[:, gate_slice("o", H)].copy()  # o needs c_t first (below): keep its input
    gates = activate_gates(a, forget_bias, out=a)
    if cell == "no_forget":
        gates[:, gate_slice("f", H)] = 1.0
    elif cell == "coupled":
        gates[:, gate_slice("f", H)] = 1.0 - gates[:, gate_slice("i", H)]
    i, f, g, o = (gates[:, gate_slice(n, H)] for n in GATES)
    c = np.multiply(f, c_prev, out=c_t)
    c += i * g                               # c_t = f_t c_{t-1} + i_t g_t
    if peephole is not None:  # o looks at the new c_t, so it is computed after it  [eq-lstm-peep-o]
        np.add(a_o, peephole[2] * c, out=o)
        sigmoid(o, out=o)  # 1 / (1 + exp(-z)), as activate_gates computes it
    s = psi.fn(c, out=s_t)
    return np.multiply(o, s, out=h_t), c, gates, s


def step_coefficients(gates, c_prev, s, *, psi, cell, peephole=None, out=None):
    """What one step's backward pass needs from the forward pass alone: (k, k_c, k_carry).

    gates (..., B, 4H), c_prev and s (..., B, H): one step, or a block of steps at once
    (:func:`backward` computes them a block at a time). With dh_t the total dL/dh_t and
    dc_next = dL/dc_{t+1} f_{t+1}, one step of BPTT (:func:`backward_step`) is then

        dL/dc_t      = dc_next + dh_t * k_c
        delta_k      = dL/dc_t * k_k   for k = i, f, g;   delta_o = dh_t * k_o
        dL/dc_{t-1}  = dL/dc_t * k_carry

    k (..., B, 4H) in the gate blocks, k_c and k_carry (..., B, H). ``out`` = (k, k_c),
    if given, receives the first two.
    """
    H = s.shape[-1]
    k_out, k_c_out = (None, None) if out is None else out
    i, f, g, o = (gates[..., gate_slice(n, H)] for n in GATES)
    k = gate_slopes(gates, out=k_out)  # sigma' on i, f, o and tanh' on g, times:
    k_i, k_f, k_g, k_o = (k[..., gate_slice(n, H)] for n in GATES)
    k_o *= s                      # dL/do_t = dL/dh_t * s_t  [eq-lstm-bw-do]
    k_i *= g                      # dL/di_t = dL/dc_t * g_t  [eq-lstm-bw-di]
    k_f *= c_prev                 # dL/df_t = dL/dc_t * c_{t-1}  [eq-lstm-bw-df]
    k_g *= i                      # dL/dg_t = dL/dc_t * i_t  [eq-lstm-bw-dg]
    # c_t reaches h_t = o * psi(c_t): that path's factor  [eq-lstm-bw-dc]
    k_c = np.multiply(o, psi.grad_from_output(s), out=k_c_out)
    if peephole is not None:  # a third: c_t -> a_o, so delta_o * p_o  [eq-deep-peep-dc]
        k_c += k_o * peephole[2]
    if cell == "no_forget":
        k_f[...] = 0.0
    elif cell == "coupled":
        # f = 1 - i: what f receives flows into i with a minus sign
        k_i -= c_prev * sigmoid_grad_from_output(i)
        k_f[...] = 0.0
    k_carry = f                   # dL/dc_{t-1} = dL/dc_t * f_t  [eq-lstm-bw-dc]
    if peephole is not None:  # c_{t-1} also fed a_i and a_f  [eq-deep-peep-dcprev]
        k_carry = f + k_i * peephole[0] + k_f * peephole[1]
    return k, k_c, k_carry


def backward_step(dh_t, dc_next, k, k_c, k_carry, W_h):
    """One step of BPTT from its :func:`step_coefficients` (one step's rows, (B, 4H) and (B, H)).

    Works in place: k becomes da_t and k_c becomes dL/dc_t. Returns
    (da_t (B, 4H), dL/dc_t total, dL/dh_{t-1} via this step, dL/dc_{t-1}).
    """
    # two paths into c_t: through h_t, and along the cell state from c_{t+1}
    dc = np.multiply(dh_t, k_c, out=k_c)
    dc += dc_next                       # dL/dc_t = dh_t * k_c + dc_next  [eq-lstm-bw-dc]
    da = gate_deltas(k, dc, dh_t)       # each gate's k times dL/dc_t, or dL/dh_t for o
    dc_prev = dc * k_carry              # for step t-1  [eq-lstm-bw-dc]
    return da, dc, da @ W_h.T, dc_prev  # dL/dh_{t-1} via this step [eq-lstm-bw-hprev]


def gate_deltas(k, dc, dh_t, factor=None):
    """One step's da_t (B, 4H) from its coefficients k (B, 4H), in place in k.

    delta_i, delta_f, delta_g are dc = dL/dc_t times their k, delta_o is dh_t = dL/dh_t
    times k_o (dc and dh_t (B, H)). ``factor`` (B, 4, H) is scratch: a new array if None.
    """
    B, H = dh_t.shape
    if factor is None:
        factor = np.empty((B, 4, H), dtype=dc.dtype)  # what k is multiplied by, block by block:
    factor[:, :3] = dc[:, None]         # delta_i, delta_f, delta_g: dL/dc_t times their k
    factor[:, 3] = dh_t                 # delta_o: dL/dh_t times k_o
    da = np.multiply(k, factor.reshape(B, 4 * H), out=k)  # one product (faster than four)
    return da


def cell_backward(dh_t, dc_next, gates, c_prev, s, W_h, *, psi, cell, peephole=None):
    """One step of BPTT through the cell.

    dh_t     (B, H) total dL/dh_t
    dc_next  (B, H) dL/dc_t arriving along the cell state from step t+1
    peephole None, or (p_i, p_f, p_o) as in :func:`cell_forward`
    Returns (da_t (B, 4H), dL/dc_t total, dL/dh_{t-1} via this step, dL/dc_{t-1}).

    The step's coefficients (the part that depends on the forward pass only), then the
    step itself; :func:`backward` runs the same two for a block of steps at a time.
    """
    k, k_c, k_carry = step_coefficients(gates, c_prev, s, psi=psi, cell=cell, peephole=peephole)
    return backward_step(dh_t, dc_next, k, k_c, k_carry, W_h)


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
    gates = np.empty((T, B, 4 * H), dtype=dtype)
    h = np.empty((T, B, H), dtype=dtype)
    c = np.empty_like(h)
    s = np.empty_like(h)
    h_prev, c_prev = h0, c0
    for block in step_blocks(T, B, H, h.itemsize):
        # x_t W_x + b for a block of steps in one matmul, just before the steps read it (still
        # in the processor's cache); each step overwrites its rows with its gate values
        project_inputs(x[block], params["W_x"], params["b"], out=gates[block])
        for t in range(block.start, block.stop):
            cell_forward(
                gates[t], h_prev, c_prev, params["W_h"],
                forget_bias=opts.forget_bias, psi=opts.psi, cell=opts.cell, peephole=peephole,
                out=(h[t], c[t], gates[t], s[t]),
            )
            h_prev, c_prev = h[t], c[t]
    cache = LSTMCache(params=params, x=x, h0=h0, h=h, c0=c0, c=c, s=s, gates=gates, options=opts)
    return h, cache


def backward(dh, cache, dc_last=None, *, cell_backward=None, keep_steps=True):
    """Backpropagation through time for :func:`forward`.

    dh       (T, B, H) dL/dh_t from outside the recurrence (zeros where unused)
    dc_last  (B, H) or None: dL/dc_{T-1} from outside (e.g. a loss on the final cell)
    cell_backward  None for the library's :func:`cell_backward`, or another one-step
             function with its signature (:mod:`lstm_core.errata` passes its deliberately
             wrong steps), called once per step
    keep_steps  False: leave out the per-step arrays dh_steps, dc_steps and da_steps (None
             in the result), which a training step does not need
    Returns :class:`Gradients` with params, dx, dh0, dc0, dh_steps, dc_steps, da_steps.

    da_steps (T, B, 4H) is not held during the pass: with the library's step it is computed
    when first read, by :func:`pre_activation_gradients` from dh_steps, dc_steps and the
    cache (the same bits the pass used; until then the result refers to the cache's gates,
    c and s, and reads dh_steps and dc_steps as they are at that moment). A custom
    ``cell_backward``'s da_t are kept as it returned them, every step.

    The steps are taken in blocks (:func:`step_blocks`), the last block
    first. For the library's step, the coefficients that depend on the forward pass only
    are computed for a whole block in one go, written straight into the block's rows of da
    and dc_steps, and :func:`backward_step` turns them into the step's gradients in place:
    the same arithmetic as :func:`cell_backward` at every step, in fewer numpy calls.
    Each block's share of the weight gradients is added when the block is done.
    """
    params, x, h, gates, opts = cache.params, cache.x, cache.h, cache.gates, cache.options
    T, B, H = h.shape
    dh = check_upstream("dh", dh, (T, B, H), "T, B, H", h.dtype)
    dc_carry = check_upstream("dc_last", dc_last, (B, H), "B, H", h.dtype)
    peephole = _peephole_vectors(params, opts, H, h.dtype)
    W_h = with_contiguous_transpose(params["W_h"])  # for the loop only
    blocks = step_blocks(T, B, H, h.itemsize)
    # dh and dc of every step, or (keep_steps=False) of one block, reused for the next; da of
    # one block, unless a custom step's da_t are kept
    keep_da = keep_steps and cell_backward is not None
    dh_steps, dc_steps = (np.empty((T if keep_steps else blocks[0].stop, B, H), dtype=h.dtype)
                          for _ in range(2))
    da = np.empty((T if keep_da else blocks[0].stop, B, 4 * H), dtype=h.dtype)
    dx = np.empty(x.shape, dtype=h.dtype)
    dh_carry = np.zeros((B, H), dtype=h.dtype)
    grads = {name: np.zeros(np.shape(p), dtype=h.dtype) for name, p in params.items()}
    # the peepholes: delta_i, delta_f times c_{t-1}, delta_o times c_t  [eq-lstm-peep-weights]
    seen_by = {"p_i": ("i", "c_prev"), "p_f": ("f", "c_prev"), "p_o": ("o", "c")}
    for block in reversed(blocks):
        c_prev = previous_states_of(block, cache.c0, cache.c)
        local = slice(0, block.stop - block.start)  # the block's rows in a one-block array
        da_block = da[block if keep_da else local]
        dh_block, dc_block = (a[block if keep_steps else local] for a in (dh_steps, dc_steps))
        if cell_backward is None:  # the coefficients of the whole block, into da and dc_steps
            k_carry = step_coefficients(gates[block], c_prev, cache.s[block], psi=opts.psi,
                                        cell=opts.cell, peephole=peephole,
                                        out=(da_block, dc_block))[2]
        for j in range(block.stop - block.start - 1, -1, -1):
            t = block.start + j
            np.add(dh[t], dh_carry, out=dh_block[j])  # delta_t = dl_t/dh_t + r_t [eq-lstm-bw-delta]
            if cell_backward is None:  # in place: da and dc_steps held the coefficients
                _, _, dh_carry, dc_carry = backward_step(
                    dh_block[j], dc_carry, da_block[j], dc_block[j], k_carry[j], W_h)
            else:
                da_block[j], dc_block[j], dh_carry, dc_carry = cell_backward(
                    dh_block[j], dc_carry, gates[t], c_prev[j], cache.s[t], W_h,
                    psi=opts.psi, cell=opts.cell, peephole=peephole,
                )
        grads["W_x"] += sum_outer_over_time(x[block], da_block)  # sums over every step
        grads["W_h"] += sum_outer_over_time(previous_states_of(block, cache.h0, h), da_block)
        grads["b"] += da_block.sum(axis=(0, 1))  # [eq-lstm-bw-weights]
        states = {"c_prev": c_prev, "c": cache.c[block]}
        for name in opts.peepholes:
            gate, state = seen_by[name]
            grads[name] += (da_block[..., gate_slice(gate, H)] * states[state]).sum(axis=(0, 1))
        rows_x = da_block.reshape(-1, 4 * H)  # the block's steps and sequences, one row each
        dx[block] = (rows_x @ params["W_x"].T).reshape(dx[block].shape)  # [eq-lstm-bw-dx]
    if not keep_steps:
        dh_steps = dc_steps = da_steps = None
    elif keep_da:
        da_steps = da
    else:
        da_steps = OnDemand(lambda: pre_activation_gradients(dh_steps, dc_steps, cache))
    return Gradients(params=grads, dx=dx, dh0=dh_carry, dc0=dc_carry,
                     dh_steps=dh_steps, dc_steps=dc_steps, da_steps=da_steps)


def pre_activation_gradients(dh_steps, dc_steps, cache):
    """da_t = dL/da_t of every step (T, B, 4H), gate blocks i, f, g, o, from what
    :func:`backward` returns: the totals dh_steps = dL/dh_t and dc_steps = dL/dc_t (T, B, H).

    The :func:`step_coefficients` k of every step, times dL/dc_t (i, f, g) or dL/dh_t (o) by
    :func:`gate_deltas`, as in :func:`backward_step`: the same products of the same numbers,
    so the same bits as the da_t the backward pass used. This is how
    ``backward(...).da_steps`` is computed. The coefficients a block of steps at a time, the
    deltas a step at a time (one step's scratch); a new array.
    """
    T, B, H = cache.h.shape
    dh_steps, dc_steps = (as_float_array(name, value, cache.h.dtype)
                          for name, value in (("dh_steps", dh_steps), ("dc_steps", dc_steps)))
    for name, value in (("dh_steps", dh_steps), ("dc_steps", dc_steps)):
        check_shape(name, value, (T, B, H), "T, B, H")
    opts = cache.options
    peephole = _peephole_vectors(cache.params, opts, H, cache.h.dtype)
    da = np.empty_like(cache.gates)
    factor = np.empty((B, 4, H), dtype=da.dtype)  # gate_deltas' scratch, reused every step
    # blocks of time_blocks' default 512 KiB, half the backward pass's: a block's scratch comes
    # on top of the (T, B, 4H) result here (element-wise work: the same bits at any block size)
    for block in time_blocks(T, B, 4 * H, cache.gates.itemsize):
        step_coefficients(cache.gates[block], previous_states_of(block, cache.c0, cache.c),
                          cache.s[block], psi=opts.psi, cell=opts.cell, peephole=peephole,
                          out=(da[block], None))
        for t in range(block.start, block.stop):
            gate_deltas(da[t], dc_steps[t], dh_steps[t], factor)
    return da
