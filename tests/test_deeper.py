"""Chapter 6 (book/deeper.md): its equations and claims, recomputed by other routes.

The finite-difference check of every stack parameter lives in test_stack.py and the PyTorch
parity in test_torch_parity.py; they are not repeated here. This file checks the chapter's own
statements: the error term of a tanh layer below (eq-deep-seed) against central differences,
the zero gradient of a top reverse half under a last-step loss, the parameter count of the
exercise against a PyTorch state_dict, the measured depth claims on seeds the chapter does not
use, and the chapter's place and form in the book.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from lstm_core import interop, stack
from lstm_core.gradcheck import numerical_gradient, relative_error
from test_stack import _loss_with_nudged_state

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "deeper.md"
TEXT = CHAPTER.read_text(encoding="utf-8")


def test_chapter_sits_between_the_gru_and_the_capstone():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = next(p for p in toc["parts"] if p.get("numbered"))
    files = [c["file"] for c in numbered["chapters"]]
    i = files.index("book/deeper")
    assert files[i - 1] == "book/gru" and files[i + 1] == "book/capstone"
    assert TEXT.split("---\n", 2)[2].lstrip().startswith("(deeper)=")


def test_equations_are_labelled_and_every_reference_resolves():
    labels = re.findall(r"^\$\$ \((eq-[\w-]+)\)$", TEXT, flags=re.M)
    referenced = set(re.findall(r"\{eq\}`(eq-[\w-]+)`", TEXT))
    others = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "book").glob("*.md"))
    defined_anywhere = set(re.findall(r"^\$\$ \((eq-[\w-]+)\)$", others, flags=re.M))
    assert len(labels) >= 8 and all(lab.startswith("eq-deep-") for lab in labels)
    assert referenced <= defined_anywhere, referenced - defined_anywhere


def test_code_lines_fit_in_100_characters():
    code = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", TEXT, flags=re.S)
    long = [ln for block in code for ln in block.splitlines() if len(ln) > 100]
    assert code and not long, long


def _two_layer_tanh_rnn(seed):
    rng = np.random.default_rng(seed)
    T, B, D, H = 5, 2, 3, 4
    p = stack.init_params("rnn", D, H, 2, rng=rng)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((2, B, H))
    w = rng.standard_normal((T, B, H))
    return p, x, h0, w


def test_seed_formula_of_the_layer_below_matches_finite_differences():
    """(eq-deep-seed): delta_a of layer 1, computed by the recursion from the forward values
    only, summed over steps and batch, is dL/db of layer 1 (b enters every a_t once)."""
    p, x, h0, w = _two_layer_tanh_rnn(31)
    y, cache = stack.forward(p, x, h0)
    h1, h2 = cache.outputs
    W_x2, W_h2 = p.layers[1]["forward"]["W_x"], p.layers[1]["forward"]["W_h"]
    W_h1 = p.layers[0]["forward"]["W_h"]
    T = x.shape[0]
    # top layer: delta_a^(2)_t = (w_t + delta_a^(2)_{t+1} W_h2^T) * (1 - h2^2)
    da2, da1 = np.zeros_like(h2), np.zeros_like(h1)
    for t in range(T - 1, -1, -1):
        later = da2[t + 1] @ W_h2.T if t + 1 < T else 0.0
        da2[t] = (w[t] + later) * (1 - h2[t] ** 2)
    for t in range(T - 1, -1, -1):  # the seed formula
        later = da1[t + 1] @ W_h1.T if t + 1 < T else 0.0
        da1[t] = (da2[t] @ W_x2.T + later) * (1 - h1[t] ** 2)

    def loss():
        return float(np.sum(w * stack.forward(p, x, h0)[0]))

    b1 = p.layers[0]["forward"]["b"]
    numeric = numerical_gradient(loss, b1)
    assert relative_error(da1.sum(axis=(0, 1)), numeric) < 1e-9
    assert np.max(np.abs(numeric)) > 1e-2


def test_top_reverse_half_gets_nothing_before_the_last_step_under_a_last_step_loss():
    """The top reverse cell's state at t < T, moved, leaves a loss on y_T unchanged (the reverse
    cell starts at x_T): central differences through a restarted run agree with the zeros."""
    rng = np.random.default_rng(32)
    T, B, D, H = 6, 2, 3, 4
    p = stack.init_params("lstm", D, H, 2, bidirectional=True, rng=rng)
    data = {"x": rng.standard_normal((T, B, D)), "h0": 0.5 * rng.standard_normal((4, B, H)),
            "c0": 0.5 * rng.standard_normal((4, B, H))}
    w = {"y": np.zeros((T, B, 2 * H)), "h": np.zeros((4, B, H)), "c": np.zeros((4, B, H))}
    w["y"][-1] = rng.standard_normal((B, 2 * H))
    y, cache = stack.forward(p, data["x"], data["h0"], data["c0"])
    g = stack.backward(w["y"], cache)
    assert np.all(g.dh_steps[1, 1, :-1] == 0) and np.max(np.abs(g.dh_steps[1, 1, -1])) > 1e-2
    for t in (0, 2, T - 2, T - 1):
        delta = np.zeros((B, H))
        numeric = numerical_gradient(
            lambda: _loss_with_nudged_state(p, data, w, (1, "reverse", t), delta), delta)
        if t < T - 1:
            assert np.max(np.abs(numeric)) < 1e-12
        else:
            assert relative_error(g.dh_steps[1, 1, t], numeric) < 1e-9


def test_exercise_parameter_count_against_a_torch_state_dict():
    """Ours 4H(D+H+1) per direction of layer 1, PyTorch 8H more per layer and direction."""
    from importlib import resources

    name = "torch_lstm_T6_B2_D3_H4_L2_bi_s4.npz"
    with resources.as_file(resources.files("lstm_core") / "fixtures" / name) as path:
        with np.load(path) as f:
            sd = {k[3:]: f[k] for k in f.files if k.startswith("sd.")}
    torch_count = sum(v.size for v in sd.values())
    ours = interop.lstm_from_torch(sd)
    ours_count = sum(a.size for a in ours.arrays().values())
    H, L, K = 4, 2, 2
    assert torch_count - ours_count == 4 * H * L * K
    D = 3
    assert ours_count == K * (4 * H * (D + H + 1) + (L - 1) * 4 * H * (K * H + H + 1))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_depth_costs_along_depth_not_time_on_other_seeds(cell):
    """The chapter's measured claims, on seeds it does not use: at t = T each layer down has a
    smaller gradient; the bottom layer decays no faster along time than the top; a deeper
    stack's bottom layer keeps more gradient at t = 1 than a one-layer network."""
    T, B, D, H = 50, 8, 8, 32

    def profile(depth, seeds=range(40, 45)):
        logs = []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            p = stack.init_params(cell, D, H, depth, rng=rng)
            y, cache = stack.forward(p, rng.standard_normal((T, B, D)))
            dy = np.zeros_like(y)
            dy[-1] = rng.standard_normal((B, H))
            logs.append(np.log10(stack.backward(dy, cache).step_norms()[:, 0]))
        return np.mean(logs, axis=0)

    def slope(v):
        return np.polyfit(np.arange(T - 10), v[:T - 10], 1)[0]

    one, four = profile(1), profile(4)
    assert np.all(np.diff(four[:, -1]) > 0)
    assert slope(four[0]) <= slope(four[-1])
    assert four[0, 0] > one[0, 0]
