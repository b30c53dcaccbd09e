"""Move LSTM and GRU weights between lstm_core and other layouts.

Our layout (see :mod:`lstm_core.lstm`, :mod:`lstm_core.gru`) keeps input and
recurrent weights apart, as row-vector maps: ``W_x (D, nH)``, ``W_h (H, nH)``.

PyTorch ``nn.LSTM`` / ``nn.GRU`` (``state_dict``, any ``num_layers``, ``bidirectional``)
    weight_ih_l{k} (nH, D) (layer 0) or (nH, K H) (layer k > 0), weight_hh_l{k} (nH, H),
    bias_ih_l{k} (nH,), bias_hh_l{k} (nH,), and the same with ``_reverse`` for the reverse
    direction; one layer and direction maps to a cell params dict, anything else to
    :class:`lstm_core.stack.StackParams`.
    gate order i, f, g, o (LSTM) and r, z, n (GRU) -- the same as ours, so the
    weights are transposes. The LSTM has two biases that only ever appear as a
    sum, so ``b = bias_ih + bias_hh``; going back, the whole sum is put in
    ``bias_ih`` and ``bias_hh`` is zero (any split gives the same model).
    The GRU's two biases are *not* interchangeable (b_hn sits inside the reset
    product), and map one to one onto ``b_x`` and ``b_h``.

TensorFlow ``BasicLSTMCell`` (TF 1.x, also Keras-style fused kernels)
    kernel (D + H, 4H) acting on concat([x_t, h_{t-1}]), bias (4H,), gate order
    i, j, f, o where j is the candidate (our g); ``forget_bias`` (default 1.0)
    is added to the forget pre-activation inside the cell -- pass it as
    ``lstm.forward(..., forget_bias=...)``; it is not folded into the bias.

Stacked IFOG matrix of well-known numpy LSTM tutorials
    WLSTM (1 + D + H, 4H) acting on [1, x_t, h_{t-1}] (the first row is the
    bias), gate order i, f, o, g.
"""
from __future__ import annotations

import re

import numpy as np

from ._checks import check_model_params, check_shape
from ._common import Gradients
from . import gru, lstm, stack

# column permutations between gate orders: ours[:, perm] gives theirs
_OURS_LSTM = ("i", "f", "g", "o")


def _gate_perm(target_order, H):
    """Column index array that reorders our i,f,g,o blocks into ``target_order``."""
    return np.concatenate([np.arange(H) + _OURS_LSTM.index(g) * H for g in target_order])


def _inverse(perm):
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    return inv


_TORCH_NAME = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
_TORCH_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _torch_state(state_dict):
    """The state_dict as numpy arrays grouped by layer and direction:
    {(layer, direction): {"weight_ih": ..., ...}}, checked to be complete and contiguous."""
    if not hasattr(state_dict, "items"):
        raise TypeError(f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    groups = {}
    for key, value in state_dict.items():
        m = _TORCH_NAME.match(key)
        if m is None:
            raise ValueError(
                f"state_dict key {key!r} is not one of weight_ih_l{{k}}, weight_hh_l{{k}}, bias_ih_l{{k}}, "
                f"bias_hh_l{{k}} (optionally with _reverse); projections (proj_size) and bias=False "
                f"modules are not supported")
        name, layer, rev = m.group(1), int(m.group(2)), m.group(3)
        groups.setdefault((layer, "reverse" if rev else "forward"), {})[name] = _to_numpy(value)
    if not groups:
        raise ValueError("state_dict is empty; expected weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0")
    num_layers = 1 + max(k for k, _ in groups)
    dirs = stack.DIRECTIONS if any(d == "reverse" for _, d in groups) else stack.DIRECTIONS[:1]
    for k in range(num_layers):
        for d in dirs:
            suffix = f"_l{k}" + ("_reverse" if d == "reverse" else "")
            missing = [n + suffix for n in _TORCH_TENSORS if n not in groups.get((k, d), {})]
            if missing:
                raise ValueError(f"state_dict must have key {missing[0]!r} (num_layers={num_layers}, "
                                 f"bidirectional={len(dirs) == 2}); got keys {sorted(state_dict)}")
    return groups, num_layers, dirs


def _get(sd, name, suffix, shape, letters):
    """Tensor ``name`` of one layer and direction, float, shape-checked (named with its suffix)."""
    key = name + suffix
    arr = np.asarray(sd[name])
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    check_shape(f"state_dict[{key!r}]", arr, shape, letters)
    return arr


# ---------------------------------------------------------------- PyTorch
def _read_torch(state_dict, n_gates):
    """The tensors of an nn.LSTM (n_gates=4) or nn.GRU (3), shape-checked and transposed to our
    row-vector layout: (layers [{direction: (W_x (D, nH), W_h (H, nH), bias_ih, bias_hh)}],
    directions)."""
    groups, num_layers, dirs = _torch_state(state_dict)
    G = f"{n_gates}H"
    w0 = np.asarray(groups[(0, "forward")]["weight_ih"])
    H = w0.shape[0] // n_gates if w0.ndim == 2 else 0
    if H < 1 or w0.shape[0] != n_gates * H:
        raise ValueError(f"state_dict['weight_ih_l0'] must have shape ({G}, D), got shape {w0.shape}")
    D = w0.shape[1]
    layers = []
    for k in range(num_layers):
        layer = {}
        for d in dirs:
            sd = groups[(k, d)]
            suffix = f"_l{k}" + ("_reverse" if d == "reverse" else "")
            d_in, in_letters = (D, "D") if k == 0 else (len(dirs) * H, "K H")
            w_ih = _get(sd, "weight_ih", suffix, (n_gates * H, d_in), f"{G}, {in_letters}")
            w_hh = _get(sd, "weight_hh", suffix, (n_gates * H, H), f"{G}, H")
            b_ih = _get(sd, "bias_ih", suffix, (n_gates * H,), G)
            b_hh = _get(sd, "bias_hh", suffix, (n_gates * H,), G)
            layer[d] = (w_ih.T.copy(), w_hh.T.copy(), b_ih.copy(), b_hh.copy())
        layers.append(layer)
    return layers, dirs


# cell options and the values that PyTorch's modules implement
_TORCH_DEFAULTS = {"lstm": {"forget_bias": 0.0, "output_activation": "tanh", "cell": "standard"},
                   "gru": {"variant": "torch"}}


def _as_layers(params, cell, spec):
    """Single-layer params dict or StackParams -> list of {direction: params dict}, checked.
    Cell options PyTorch cannot express are refused."""
    if isinstance(params, stack.StackParams):
        if params.cell != cell:
            raise ValueError(f"expected {cell} stack params, got a {params.cell!r} stack")
        unsupported = {k: v for k, v in params.options.items()
                       if v != _TORCH_DEFAULTS[cell].get(k, object())}
        if unsupported:
            raise ValueError(f"nn.{cell.upper()} has no equivalent of the cell option(s) {unsupported}")
        layers = params.layers
    else:
        layers = [{"forward": params}]
    for k, layer in enumerate(layers):
        for d, p in layer.items():
            where = "params" if len(layers) == 1 and len(layer) == 1 else f"layers[{k}][{d!r}]"
            peep = sorted(set(p) & set(lstm.PEEPHOLES)) if isinstance(p, dict) else []
            if cell == "lstm" and peep:
                raise ValueError(f"{where}: nn.LSTM has no peephole connections; got {peep}")
            try:
                check_model_params(p, spec, cell)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{where}: {exc}") from exc
    return layers


def _write_torch(layers, biases):
    """{torch name: array} from layers [{direction: params}]; biases(p) -> (bias_ih, bias_hh)."""
    out = {}
    for k, layer in enumerate(layers):
        for d, p in layer.items():
            suffix = f"_l{k}" + ("_reverse" if d == "reverse" else "")
            b_ih, b_hh = biases(p)
            out["weight_ih" + suffix] = np.asarray(p["W_x"]).T.copy()
            out["weight_hh" + suffix] = np.asarray(p["W_h"]).T.copy()
            out["bias_ih" + suffix] = np.array(b_ih, copy=True)
            out["bias_hh" + suffix] = np.array(b_hh, copy=True)
    return out


def _unwrap(params_or_grads):
    """(params, is_gradient) for params dicts, StackParams, Gradients and StackGradients."""
    if isinstance(params_or_grads, (Gradients, stack.StackGradients)):
        return params_or_grads.params, True
    return params_or_grads, False


def lstm_from_torch(state_dict):
    """nn.LSTM state_dict -> our params. Tensors or arrays.

    One layer, one direction: an LSTM params dict (W_x, W_h, b). More layers or
    ``bidirectional=True``: :class:`lstm_core.stack.StackParams`. ``b = bias_ih + bias_hh``.
    """
    layers, _ = _read_torch(state_dict, 4)
    ours = [{d: {"W_x": W_x, "W_h": W_h, "b": b_ih + b_hh} for d, (W_x, W_h, b_ih, b_hh) in
             layer.items()} for layer in layers]
    if len(ours) == 1 and len(ours[0]) == 1:
        return ours[0]["forward"]
    return stack.StackParams(cell="lstm", layers=ours)


def lstm_to_torch(params) -> dict:
    """Our LSTM params or gradients -> nn.LSTM state_dict names (numpy arrays; wrap them with
    torch.from_numpy).

    ``params`` is an LSTM params dict, a StackParams, or the :class:`Gradients` /
    :class:`StackGradients` that ``backward`` returns. Params: the whole bias goes into
    ``bias_ih`` and ``bias_hh`` is zero (any split is the same model). Gradients: both
    biases get db, which is what PyTorch's autograd gives each of them.
    """
    params, is_grad = _unwrap(params)
    layers = _as_layers(params, "lstm", lstm.param_spec)
    if is_grad:
        return _write_torch(layers, lambda p: (p["b"], p["b"]))
    return _write_torch(layers, lambda p: (p["b"], np.zeros_like(np.asarray(p["b"]))))


def gru_from_torch(state_dict):
    """nn.GRU state_dict -> our GRU params (variant="torch"): a params dict for one layer and
    direction, :class:`lstm_core.stack.StackParams` otherwise."""
    layers, _ = _read_torch(state_dict, 3)
    ours = [{d: {"W_x": W_x, "W_h": W_h, "b_x": b_ih, "b_h": b_hh} for d, (W_x, W_h, b_ih, b_hh)
             in layer.items()} for layer in layers]
    if len(ours) == 1 and len(ours[0]) == 1:
        return ours[0]["forward"]
    return stack.StackParams(cell="gru", layers=ours)


def gru_to_torch(params) -> dict:
    """Our GRU params or gradients (dict, StackParams, Gradients, StackGradients) -> nn.GRU
    state_dict names (numpy arrays). The two biases map one to one."""
    params, _ = _unwrap(params)
    layers = _as_layers(params, "gru", gru.param_spec)
    return _write_torch(layers, lambda p: (p["b_x"], p["b_h"]))


def _to_numpy(v):
    if hasattr(v, "detach"):  # a torch tensor; torch itself is never imported here
        v = v.detach().cpu().numpy()
    return np.asarray(v)


# ---------------------------------------------------------------- TensorFlow BasicLSTMCell
_TF_ORDER = ("i", "g", "f", "o")  # TensorFlow's i, j, f, o with j = our g


def lstm_to_tf(params):
    """Our LSTM params -> (kernel (D+H, 4H), bias (4H,)) of TF's BasicLSTMCell."""
    _, H, _ = check_model_params(params, lstm.param_spec, "lstm")
    perm = _gate_perm(_TF_ORDER, H)
    kernel = np.concatenate([params["W_x"], params["W_h"]], axis=0)[:, perm]
    return kernel, params["b"][perm]


def lstm_from_tf(kernel, bias, input_size):
    """TF BasicLSTMCell (kernel, bias) -> our LSTM params. ``input_size`` is D."""
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    if kernel.ndim != 2 or kernel.shape[1] % 4 or kernel.shape[0] != input_size + kernel.shape[1] // 4:
        raise ValueError(
            f"kernel must have shape (D + H, 4H) with D = {input_size}, got shape {kernel.shape}"
        )
    H = kernel.shape[1] // 4
    check_shape("bias", bias, (4 * H,), "4H")
    inv = _inverse(_gate_perm(_TF_ORDER, H))
    k = kernel[:, inv]
    return {"W_x": k[:input_size].copy(), "W_h": k[input_size:].copy(), "b": bias[inv].copy()}


# ---------------------------------------------------------------- stacked IFOG
_IFOG_ORDER = ("i", "f", "o", "g")


def lstm_to_ifog(params):
    """Our LSTM params -> WLSTM (1 + D + H, 4H): bias row, input rows, hidden rows; order i, f, o, g."""
    _, H, _ = check_model_params(params, lstm.param_spec, "lstm")
    perm = _gate_perm(_IFOG_ORDER, H)
    return np.concatenate([params["b"][None], params["W_x"], params["W_h"]], axis=0)[:, perm]


def lstm_from_ifog(WLSTM, input_size):
    """WLSTM (1 + D + H, 4H) in IFOG order -> our LSTM params. ``input_size`` is D."""
    W = np.asarray(WLSTM)
    if W.ndim != 2 or W.shape[1] % 4 or W.shape[0] != 1 + input_size + W.shape[1] // 4:
        raise ValueError(f"WLSTM must have shape (1 + D + H, 4H) with D = {input_size}, got shape {W.shape}")
    H = W.shape[1] // 4
    Wo = W[:, _inverse(_gate_perm(_IFOG_ORDER, H))]
    return {"W_x": Wo[1:1 + input_size].copy(), "W_h": Wo[1 + input_size:].copy(), "b": Wo[0].copy()}
