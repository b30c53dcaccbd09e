"""Stacked and bidirectional recurrent networks of any cell (RNN, LSTM, GRU).

Nothing of a cell's math lives here: each layer and direction is one call of the
cell module's own ``forward`` / ``backward`` (:mod:`lstm_core.rnn`, :mod:`lstm_core.lstm`,
:mod:`lstm_core.gru`). A stack only wires them together, the way ``torch.nn.LSTM(num_layers=L,
bidirectional=...)`` does:

    layer 0 reads x (T, B, D); layer l > 0 reads the output of layer l - 1 (T, B, K H)
    the forward direction runs over t = 0 .. T-1, the reverse one over t = T-1 .. 0, i.e. it
    is the same cell run on the time-reversed input, and its outputs are flipped back
    a layer's output is [h_forward, h_reverse] (T, B, K H), K = 1 or 2 directions

Initial and final states use PyTorch's layout (L K, B, H), row ``l * K + k`` for layer l,
direction k (0 forward, 1 reverse).

Backward, layer by layer from the top: the gradient reaching a layer's output is split into
its directions; each direction is one ordinary BPTT (the reverse one on the flipped sequence);
the two ``dx`` add (flipped back in time) and become the upstream gradient of the layer below.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from ._checks import as_float_array, check_finite, check_shape, check_upstream
from ._common import check_rng, check_sizes
from . import gru, lstm, rnn

CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}
DIRECTIONS = ("forward", "reverse")


@dataclass
class StackParams:
    """Parameters (or their gradients: same structure) of a stacked network.

    cell     "rnn", "lstm" or "gru": the module whose forward/backward runs every layer
    layers   one dict per layer, direction name ("forward", and "reverse" when
             bidirectional) -> that cell's params dict (W_x, W_h, b... as in the cell module)
    options  keyword options for the cell's ``forward`` (e.g. ``forget_bias``, ``variant``)
    """

    cell: str
    layers: list
    options: dict = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def directions(self) -> tuple:
        return tuple(d for d in DIRECTIONS if d in self.layers[0])

    @property
    def bidirectional(self) -> bool:
        return len(self.directions) == 2

    @property
    def hidden_size(self) -> int:
        return int(np.shape(self.layers[0]["forward"]["W_h"])[0])

    @property
    def input_size(self) -> int:
        return int(np.shape(self.layers[0]["forward"]["W_x"])[0])

    def arrays(self) -> dict:
        """Every array under a flat name ``l{layer}.{direction}.{key}`` (the arrays themselves,
        not copies: for optimisers over dicts and for finite differences in place)."""
        return {f"l{k}.{d}.{name}": arr
                for k, layer in enumerate(self.layers)
                for d, p in layer.items() for name, arr in p.items()}


@dataclass
class StackGradients:
    """What :func:`backward` returns.

    params    :class:`StackParams` of gradients, same structure as the params
    dx        (T, B, D)       dL/dx_t
    dh0       (L K, B, H)     dL/dh_0 of every layer and direction, PyTorch's order
    dh_steps  (L, K, T, B, H) total dL/dh_t of layer l, direction k, at step t (in the
              input's time order for both directions): what the chapter plots
    dc0       (L K, B, H)     LSTM only: dL/dc_0
    """

    params: StackParams
    dx: np.ndarray
    dh0: np.ndarray
    dh_steps: np.ndarray
    dc0: np.ndarray | None = None

    def step_norms(self) -> np.ndarray:
        """(L, K, T) the norm of dL/dh_t over the batch and the units, for every layer,
        direction and step: the layer x time picture of the chapter."""
        return np.sqrt(np.sum(np.square(self.dh_steps), axis=(3, 4)))


@dataclass
class StackCache:
    """What :func:`forward` keeps for :func:`backward`, plus the final states.

    h_n (L K, B, H) final hidden state of every layer and direction (PyTorch's h_n);
    c_n the same for the LSTM's cell state (None otherwise). ``outputs[l]`` (T, B, K H) is
    layer l's output (the input of layer l + 1; the last one is y). ``layer_caches[l][d]`` is
    the cell's own cache, to be read only by that cell's ``backward``.
    """

    params: StackParams
    h_n: np.ndarray
    c_n: np.ndarray | None
    outputs: list
    layer_caches: list
    shape: tuple  # (T, B, D) of the input


def _split_options(module, options):
    """Cell options -> (keyword arguments of module.init_params, of module.forward)."""
    def keywords(fn):
        return {n for n, p in inspect.signature(fn).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY} - {"rng", "dtype"}
    init_kw, fwd_kw = keywords(module.init_params), keywords(module.forward)
    unknown = set(options) - init_kw - fwd_kw
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)} for cell "
                        f"{module.__name__.rsplit('.', 1)[-1]!r}; it accepts {sorted(init_kw | fwd_kw)}")
    return ({k: v for k, v in options.items() if k in init_kw},
            {k: v for k, v in options.items() if k in fwd_kw})


def _cell_module(cell):
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell]


def init_params(cell, input_size, hidden_size, num_layers, *, bidirectional=False, rng,
                dtype=np.float64, **cell_options) -> StackParams:
    """Random params for ``num_layers`` layers of ``cell`` ("rnn", "lstm", "gru").

    Each layer and direction is the cell module's own ``init_params`` (PyTorch's
    uniform(±1/sqrt(H))); layer l > 0 has input size K H. ``cell_options`` go to the
    cell's ``init_params`` or ``forward``, whichever takes them (e.g. ``peephole`` for
    the LSTM's init, ``variant`` for the GRU's forward).
    """
    module = _cell_module(cell)
    check_sizes(input_size, hidden_size)
    if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
    if not isinstance(bidirectional, bool):
        raise TypeError(f"bidirectional must be True or False, got {bidirectional!r}")
    check_rng(rng)
    init_kw, fwd_kw = _split_options(module, cell_options)
    dirs = DIRECTIONS if bidirectional else DIRECTIONS[:1]
    layers = []
    for k in range(num_layers):
        d_in = input_size if k == 0 else len(dirs) * hidden_size
        layers.append({d: module.init_params(d_in, hidden_size, rng=rng, dtype=dtype, **init_kw)
                       for d in dirs})
    return StackParams(cell=cell, layers=layers, options=fwd_kw)


def _check_stack(params):
    """Structure of a StackParams: returns (module, K, H). Array shapes are checked by the cells."""
    if not isinstance(params, StackParams):
        raise TypeError(f"params must be stack.StackParams (from stack.init_params or "
                        f"interop.*_from_torch), got {type(params).__name__}")
    module = _cell_module(params.cell)
    if not isinstance(params.layers, (list, tuple)) or not params.layers:
        raise ValueError("params.layers must be a non-empty list of {direction: cell params} dicts")
    first = params.layers[0]
    dirs = tuple(first) if isinstance(first, dict) else ()
    if dirs not in (DIRECTIONS[:1], DIRECTIONS):
        raise ValueError(f"params.layers[0] must have keys ['forward'] or ['forward', 'reverse'] "
                         f"(in that order), got {list(dirs)}")
    for k, layer in enumerate(params.layers):
        if not isinstance(layer, dict) or tuple(layer) != dirs:
            got = list(layer) if isinstance(layer, dict) else type(layer).__name__
            raise ValueError(f"params.layers[{k}] must have keys {list(dirs)} like layer 0, got {got}")
        for d, p in layer.items():
            if not isinstance(p, dict) or "W_h" not in p or "W_x" not in p:
                raise ValueError(f"params.layers[{k}][{d!r}] must be a {params.cell} params dict "
                                 f"with W_x and W_h")
    H = int(np.shape(first["forward"]["W_h"])[0])
    for k, layer in enumerate(params.layers):
        for d, p in layer.items():
            want = params.input_size if k == 0 else len(dirs) * H
            if np.shape(p["W_h"])[0] != H or np.ndim(p["W_x"]) != 2 or np.shape(p["W_x"])[0] != want:
                raise ValueError(
                    f"params.layers[{k}][{d!r}]: W_x must have {want} rows "
                    f"({'D' if k == 0 else 'K H'}) and W_h {H} rows (H, as layer 0); "
                    f"got W_x {np.shape(p['W_x'])}, W_h {np.shape(p['W_h'])}")
    return module, len(dirs), H


def _check_states(name, value, LK, B, H, dtype):
    """An initial state (L K, B, H); None means zeros."""
    if value is None:
        return np.zeros((LK, B, H), dtype=dtype)
    arr = as_float_array(name, value, dtype)
    check_shape(name, arr, (LK, B, H), "L K, B, H")
    check_finite(name, arr)
    return arr


def _in_layer(k, d, fn, *args, **kwargs):
    """Call a cell function; an error it raises is told which layer and direction it is about."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"layer {k}, {d} direction: {exc}") from exc


def _final_cell_state(cache):
    """c_{T-1} from an :class:`lstm_core.lstm.LSTMCache`."""
    return cache.c[-1]


def forward(params, x, h0=None, c0=None):
    """Run a stack over a sequence.

    params  :class:`StackParams` (the cell type and its options are read from it)
    x       (T, B, D)
    h0, c0  (L K, B, H) or None for zeros; c0 only for the LSTM
    Returns y (T, B, K H), the top layer's outputs with the forward half first, and a
    :class:`StackCache` (which also holds h_n and c_n, each (L K, B, H)).
    """
    module, K, H = _check_stack(params)
    dtype = np.asarray(params.layers[0]["forward"]["W_x"]).dtype
    x = as_float_array("x", x, dtype if dtype.kind == "f" else None)
    D = params.input_size
    if x.ndim != 3 or x.shape[2] != D:
        raise ValueError(f"x must be time-major with shape (T, B, D) = (?, ?, {D}), got shape {x.shape}")
    T, B, _ = x.shape
    L = params.num_layers
    is_lstm = params.cell == "lstm"
    h0 = _check_states("h0", h0, L * K, B, H, x.dtype)
    if c0 is not None and not is_lstm:
        raise ValueError(f"c0 is only for an LSTM stack; this one is {params.cell!r}")
    c0 = _check_states("c0", c0, L * K, B, H, x.dtype) if is_lstm else None
    h_n = np.empty((L * K, B, H), dtype=x.dtype)
    c_n = np.empty_like(h_n) if is_lstm else None
    layer_caches, outputs = [], []
    inp = x
    for k, layer in enumerate(params.layers):
        outs, caches = [], {}
        for j, d in enumerate(params.directions):
            row = k * K + j
            seq = inp if d == "forward" else inp[::-1]
            states = (h0[row], c0[row]) if is_lstm else (h0[row],)
            h, caches[d] = _in_layer(k, d, module.forward, layer[d], seq, *states, **params.options)
            h_n[row] = h[-1]
            if is_lstm:
                c_n[row] = _final_cell_state(caches[d])
            outs.append(h if d == "forward" else h[::-1])
        layer_caches.append(caches)
        inp = outs[0] if K == 1 else np.concatenate(outs, axis=-1)
        outputs.append(inp)
    return inp, StackCache(params=params, h_n=h_n, c_n=c_n, outputs=outputs,
                           layer_caches=layer_caches, shape=x.shape)


def backward(dy, cache, dh_n=None, dc_n=None):
    """Backpropagation through depth and time for :func:`forward`.

    dy    (T, B, K H)  dL/dy_t from outside (zeros where the loss does not look)
    dh_n  (L K, B, H)  or None: dL/dh_n for a loss on the final hidden states
    dc_n  (L K, B, H)  or None: dL/dc_n (LSTM)
    Returns :class:`StackGradients`.

    Layer by layer from the top: the gradient reaching layer l's output is split into its
    directions, each direction runs its cell's BPTT (the reverse one on the flipped sequence),
    and the sum of their dx (flipped back) is the upstream gradient of layer l - 1.
    """
    if not isinstance(cache, StackCache):
        raise TypeError(f"cache must be the StackCache returned by stack.forward, got {type(cache).__name__}")
    params = cache.params
    module = CELLS[params.cell]
    T, B, _ = cache.shape
    K, H, L = len(params.directions), params.hidden_size, params.num_layers
    dtype = cache.h_n.dtype
    is_lstm = params.cell == "lstm"
    d_out = check_upstream("dy", dy, (T, B, K * H), "T, B, K H", dtype)
    dh_n = check_upstream("dh_n", dh_n, (L * K, B, H), "L K, B, H", dtype)
    if dc_n is not None and not is_lstm:
        raise ValueError(f"dc_n is only for an LSTM stack; this one is {params.cell!r}")
    dc_n = check_upstream("dc_n", dc_n, (L * K, B, H), "L K, B, H", dtype) if is_lstm else None
    grads = [None] * L
    dh0 = np.empty((L * K, B, H), dtype=dtype)
    dc0 = np.empty_like(dh0) if is_lstm else None
    dh_steps = np.empty((L, K, T, B, H), dtype=dtype)
    for k in range(L - 1, -1, -1):
        d_in = 0.0
        grads[k] = {}
        for j, d in enumerate(params.directions):
            row = k * K + j
            dh = d_out[..., j * H:(j + 1) * H]
            dh = (dh if d == "forward" else dh[::-1]).copy()  # in the cell's own time order
            dh[T - 1] += dh_n[row]  # h_n is the cell's last step in its own order
            extra = {"dc_last": dc_n[row]} if is_lstm else {}
            g = module.backward(dh, cache.layer_caches[k][d], **extra)
            grads[k][d] = g.params
            dh0[row] = g.dh0
            if is_lstm:
                dc0[row] = g.dc0
            dh_steps[k, j] = g.dh_steps if d == "forward" else g.dh_steps[::-1]
            d_in = d_in + (g.dx if d == "forward" else g.dx[::-1])
        d_out = d_in  # each layer's dx is the direct gradient of the layer below
    gparams = StackParams(cell=params.cell, layers=grads, options=dict(params.options))
    return StackGradients(params=gparams, dx=d_out, dh0=dh0, dh_steps=dh_steps, dc0=dc0)
