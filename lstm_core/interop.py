"""Move LSTM and GRU weights between lstm_core and other layouts.

Our layout (see :mod:`lstm_core.lstm`, :mod:`lstm_core.gru`) keeps input and
recurrent weights apart, as row-vector maps: ``W_x (D, nH)``, ``W_h (H, nH)``.

PyTorch ``nn.LSTM`` / ``nn.GRU`` (one layer, ``state_dict``)
    weight_ih_l0 (nH, D), weight_hh_l0 (nH, H), bias_ih_l0 (nH,), bias_hh_l0 (nH,)
    gate order i, f, g, o (LSTM) and r, z, n (GRU) -- the same as ours, so the
    weights are transposes. The LSTM has two biases that only ever appear as a
    sum, so ``b = bias_ih + bias_hh``; going back, the whole sum is put in
    ``bias_ih_l0`` and ``bias_hh_l0`` is zero (any split gives the same model).
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

import numpy as np

from ._checks import check_model_params, check_shape
from . import gru, lstm

# column permutations between gate orders: ours[:, perm] gives theirs
_OURS_LSTM = ("i", "f", "g", "o")


def _gate_perm(target_order, H):
    """Column index array that reorders our i,f,g,o blocks into ``target_order``."""
    return np.concatenate([np.arange(H) + _OURS_LSTM.index(g) * H for g in target_order])


def _inverse(perm):
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    return inv


_TORCH_KEYS = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}


def _torch_state(state_dict):
    """The state_dict as numpy arrays; only a single-layer, one-direction module is accepted."""
    sd = {k: _to_numpy(v) for k, v in state_dict.items()}
    extra = set(sd) - _TORCH_KEYS
    if extra:
        raise ValueError(
            f"state_dict must hold exactly {sorted(_TORCH_KEYS)} (one layer, one direction); "
            f"unexpected keys {sorted(extra)} -- convert each layer separately"
        )
    return sd


def _get(sd, key, shape, letters):
    if key not in sd:
        raise ValueError(f"state_dict must have key {key!r}; got keys {sorted(sd)}")
    arr = np.asarray(sd[key])
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    check_shape(f"state_dict[{key!r}]", arr, shape, letters)
    return arr


# ---------------------------------------------------------------- PyTorch
def _read_torch(state_dict, n_gates):
    """The four single-layer tensors of an nn.LSTM (n_gates=4) or nn.GRU (3), shape-checked,
    transposed to our row-vector layout: (W_x (D, nH), W_h (H, nH), bias_ih, bias_hh)."""
    sd = _torch_state(state_dict)
    letters = f"{n_gates}H"
    w_ih = _get(sd, "weight_ih_l0", (None, None), f"{letters}, D")
    H = w_ih.shape[0] // n_gates
    if H < 1 or w_ih.shape[0] != n_gates * H:
        raise ValueError(f"state_dict['weight_ih_l0'] must have shape ({letters}, D), got shape {w_ih.shape}")
    w_hh = _get(sd, "weight_hh_l0", (n_gates * H, H), f"{letters}, H")
    b_ih = _get(sd, "bias_ih_l0", (n_gates * H,), letters)
    b_hh = _get(sd, "bias_hh_l0", (n_gates * H,), letters)
    return w_ih.T.copy(), w_hh.T.copy(), b_ih.copy(), b_hh.copy()


def _write_torch(W_x, W_h, b_ih, b_hh):
    return {"weight_ih_l0": W_x.T.copy(), "weight_hh_l0": W_h.T.copy(),
            "bias_ih_l0": b_ih.copy(), "bias_hh_l0": b_hh.copy()}


def lstm_from_torch(state_dict) -> dict:
    """nn.LSTM (single layer) state_dict -> our LSTM params. Tensors or arrays."""
    W_x, W_h, b_ih, b_hh = _read_torch(state_dict, 4)
    return {"W_x": W_x, "W_h": W_h, "b": b_ih + b_hh}


def lstm_to_torch(params) -> dict:
    """Our LSTM params -> nn.LSTM state_dict layout (numpy arrays; wrap with torch.from_numpy)."""
    check_model_params(params, lstm.param_spec, "lstm")
    return _write_torch(params["W_x"], params["W_h"], params["b"], np.zeros_like(params["b"]))


def gru_from_torch(state_dict) -> dict:
    """nn.GRU (single layer) state_dict -> our GRU params (variant="torch")."""
    W_x, W_h, b_ih, b_hh = _read_torch(state_dict, 3)
    return {"W_x": W_x, "W_h": W_h, "b_x": b_ih, "b_h": b_hh}


def gru_to_torch(params) -> dict:
    """Our GRU params -> nn.GRU state_dict layout (numpy arrays)."""
    check_model_params(params, gru.param_spec, "gru")
    return _write_torch(params["W_x"], params["W_h"], params["b_x"], params["b_h"])


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
