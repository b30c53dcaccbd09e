"""Reference numbers from PyTorch's nn.LSTM / nn.GRU, in float64.

``reference(kind, T, B, D, H, seed)`` builds a seeded single-layer module,
runs it on seeded inputs and initial states, and backpropagates a fixed
scalar loss

    L = sum(w_out * output) + sum(w_h * h_n) [+ sum(w_c * c_n) for the LSTM]

with seeded weights w. It returns a flat dict of numpy arrays (the npz
fixture's content). Only this module and ``make_torch_fixtures.py`` import
torch; the fixture test runs without it.
"""
from __future__ import annotations

import numpy as np

# (kind, T, B, D, H, seed[, num_layers, bidirectional])
FIXTURE_CASES = [
    ("lstm", 5, 3, 4, 6, 0),
    ("lstm", 12, 2, 3, 8, 1),
    ("gru", 5, 3, 4, 6, 2),
    ("gru", 12, 2, 3, 8, 3),
    ("lstm", 6, 2, 3, 4, 4, 2, True),
    ("gru", 6, 2, 3, 4, 5, 2, True),
]


def fixture_name(kind, T, B, D, H, seed, num_layers=1, bidirectional=False):
    stacked = f"_L{num_layers}" + ("_bi" if bidirectional else "")
    if num_layers == 1 and not bidirectional:
        stacked = ""
    return f"torch_{kind}_T{T}_B{B}_D{D}_H{H}{stacked}_s{seed}.npz"


def reference(kind, T, B, D, H, seed, num_layers=1, bidirectional=False):
    """The fixture's arrays. States (h0, h_n, ...) are (L K, B, H) as in PyTorch, except for
    one layer and one direction, where the leading 1 is dropped: (B, H)."""
    import torch

    torch.manual_seed(seed)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    module = cls(D, H, num_layers=num_layers, bidirectional=bidirectional).double()
    LK = num_layers * (2 if bidirectional else 1)
    K = 2 if bidirectional else 1
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((T, B, D)), requires_grad=True)
    h0 = torch.tensor(0.5 * rng.standard_normal((LK, B, H)), requires_grad=True)
    w_out = torch.tensor(rng.standard_normal((T, B, K * H)))
    w_h = torch.tensor(rng.standard_normal((LK, B, H)))

    def state(t):
        t = t.detach().numpy() if hasattr(t, "detach") else t
        return t[0] if LK == 1 else t

    out = {}
    if kind == "lstm":
        c0 = torch.tensor(0.5 * rng.standard_normal((LK, B, H)), requires_grad=True)
        w_c = torch.tensor(rng.standard_normal((LK, B, H)))
        y, (hn, cn) = module(x, (h0, c0))
        loss = (w_out * y).sum() + (w_h * hn).sum() + (w_c * cn).sum()
        out.update(c0=state(c0), w_c=state(w_c), c_n=state(cn))
    else:
        y, hn = module(x, h0)
        loss = (w_out * y).sum() + (w_h * hn).sum()
    loss.backward()
    out.update(
        x=x.detach().numpy(), h0=state(h0), w_out=w_out.numpy(), w_h=state(w_h),
        output=y.detach().numpy(), h_n=state(hn), loss=np.array(loss.item()),
        grad_x=x.grad.numpy(), grad_h0=state(h0.grad),
        torch_version=np.array(torch.__version__),
    )
    if kind == "lstm":
        out["grad_c0"] = state(c0.grad)
    for name, p in module.named_parameters():
        out[f"sd.{name}"] = p.detach().numpy().copy()
        out[f"grad.{name}"] = p.grad.numpy().copy()
    return out
