"""lstm_core.grader.check_backward: right passes pass, known bugs are named, mutants are
localised to the right arrays and blocks, and misbehaving functions are reported, not raised.

The wrong backward passes below are written here, from the equations of the chapters, the way
a reader would write them; each has one slip. The grader only sees the function, so every
diagnosis it gives comes from the numbers the function returns.
"""
from __future__ import annotations

import numpy as np
import pytest

from lstm_core import Gradients, errata, gru, lstm, rnn
from lstm_core.grader import KNOWN_BUGS, check_backward
from lstm_core._common import sum_outer_over_time
from models import CONFIGS, PEEPHOLE_CONFIGS

MODEL_NAMES = {rnn: "rnn", lstm: "lstm", gru: "gru"}


def field(cache, name):
    """A cache field by name."""
    return getattr(cache, name)


def option(cache, name):
    return getattr(cache.options, name)


# ----------------------------------------------------------------- a reader's backward passes

def reader_rnn(slip=None):
    """BPTT for rnn.forward from eq-rnn-delta and eq-rnn-weight-grads, with one optional slip."""
    def backward(dh, cache):
        p, x, h0, h = (field(cache, k) for k in ("params", "x", "h0", "h"))
        act = option(cache, "activation")
        T, B, H = h.shape
        h_prev = np.concatenate([h0[None], h[:-1]])
        if slip == "h_t":
            h_prev = h
        g = {k: np.zeros_like(v) for k, v in p.items()}
        dx, carry = np.zeros_like(x), np.zeros((B, H))
        for t in range(T - 1, -1, -1):
            delta = dh[t] if slip == "no_carry" else dh[t] + carry
            da = delta * act.grad_from_output(h[t])
            if slip == "last_step_W_x":
                if t == T - 1:
                    g["W_x"] = x[t].T @ da
            else:
                g["W_x"] += x[t].T @ da
            g["W_h"] += h_prev[t].T @ da
            g["b"] += da.sum(axis=0)
            dx[t] = da @ p["W_x"].T
            carry = da @ p["W_h"].T
        return Gradients(params=g, dx=dx, dh0=carry, dh_steps=np.zeros_like(h))
    backward.__name__ = f"rnn_backward_{slip}"
    return backward


def reader_lstm(slip=None):
    """BPTT for lstm.forward around the package's one-step lstm.cell_backward, with one slip."""
    def backward(dh, cache, dc_last=None):
        p, x, h, c, gates, s = (field(cache, k) for k in ("params", "x", "h", "c", "gates", "s"))
        psi = option(cache, "psi")
        T, B, H = h.shape
        c_prev = np.concatenate([field(cache, "c0")[None], c[:-1]])
        h_prev = np.concatenate([field(cache, "h0")[None], h[:-1]])
        if slip == "h_t":
            h_prev = h                                   # off by one: h_t for h_(t-1)
        if slip == "h0_zero":
            h_prev[0] = 0.0                              # the zero-state habit: h_0 ignored
        da = np.empty_like(gates)
        dh_carry = np.zeros((B, H))
        dc_carry = np.zeros((B, H)) if dc_last is None else dc_last
        for t in range(T - 1, -1, -1):
            delta = dh[t] - dh_carry if slip == "minus_carry" else dh[t] + dh_carry
            da[t], _, dh_carry, dc_carry = lstm.cell_backward(
                delta, dc_carry, gates[t], c_prev[t], s[t], p["W_h"], psi=psi, cell="standard")
            if slip in ("half_i", "flip_o"):
                block = lstm.gate_slice("i" if slip == "half_i" else "o", H)
                da[t][:, block] *= 0.5 if slip == "half_i" else -1.0
                dh_carry = da[t] @ p["W_h"].T
        g = {"W_x": sum_outer_over_time(x, da), "W_h": sum_outer_over_time(h_prev, da),
             "b": da.sum(axis=(0, 1))}
        dx = (da.reshape(T * B, -1) @ p["W_x"].T).reshape(x.shape)
        return {"params": g, "dx": dx, "dh0": dh_carry, "dc0": dc_carry}
    backward.__name__ = f"lstm_backward_{slip}"
    return backward


def reader_gru(slip=None):
    """BPTT for gru.forward written out from the GRU chapter's equations, with one slip.

    "swap_z": differentiates h_t = z n_t + (1 - z) h_(t-1) (the tutorial's update), and
    "reset_side": applies the reset gate on the other side of the matmul than the forward does.
    """
    def backward(dh, cache):
        p, x, h0, h, r, z, n = (field(cache, k) for k in ("params", "x", "h0", "h", "r", "z", "n"))
        variant = option(cache, "variant")
        T, B, H = h.shape
        W_x, W_h, b_hn = p["W_x"], p["W_h"], p["b_h"][2 * H:]
        rz, nb = slice(0, 2 * H), slice(2 * H, 3 * H)
        h_prev = np.concatenate([h0[None], h[:-1]])
        g = {k: np.zeros_like(v) for k, v in p.items()}
        dx, carry = np.zeros_like(x), np.zeros((B, H))
        after_matmul = (variant == "torch") != (slip == "reset_side")
        for t in range(T - 1, -1, -1):
            d, hp, rt, zt, nt = dh[t] + carry, h_prev[t], r[t], z[t], n[t]
            keep = (1 - zt) if slip == "swap_z" else zt        # weight of h_(t-1) in h_t
            dn = d * (1 - keep) * (1 - nt ** 2)
            dz = d * (hp - nt) * zt * (1 - zt) * (-1 if slip == "swap_z" else 1)
            if after_matmul:            # n = tanh(x W_xn + b_xn + r * (h W_hn + b_hn))
                dm = dn * rt
                dr = dn * (hp @ W_h[:, nb] + b_hn) * rt * (1 - rt)
                g["W_h"][:, nb] += hp.T @ dm
                g["b_h"][nb] += dm.sum(axis=0)
                dh_n = dm @ W_h[:, nb].T
            else:                       # n = tanh(x W_xn + b_xn + (r * h) W_hn + b_hn)
                drh = dn @ W_h[:, nb].T
                dr = drh * hp * rt * (1 - rt)
                g["W_h"][:, nb] += (rt * hp).T @ dn
                g["b_h"][nb] += dn.sum(axis=0)
                dh_n = drh * rt
            da_x = np.concatenate([dr, dz, dn], axis=1)
            g["W_x"] += x[t].T @ da_x
            g["b_x"] += da_x.sum(axis=0)
            g["W_h"][:, rz] += hp.T @ da_x[:, rz]
            g["b_h"][rz] += da_x[:, rz].sum(axis=0)
            dx[t] = da_x @ W_x.T
            carry = d * keep + dh_n + da_x[:, rz] @ W_h[:, rz].T
        return Gradients(params=g, dx=dx, dh0=carry, dh_steps=np.zeros_like(h))
    backward.__name__ = f"gru_backward_{slip}"
    return backward


# ----------------------------------------------------------------- right passes pass

@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_package_backward_passes_every_model_and_option(config):
    report = check_backward(config.module.backward, MODEL_NAMES[config.module], **config.kwargs)
    assert report.ok, str(report)
    assert report.wrong == set() and report.bugs == () and report.unchecked == set()
    assert "all right" in str(report)


@pytest.mark.parametrize("config", PEEPHOLE_CONFIGS, ids=str)
def test_package_backward_passes_with_peepholes(config):
    report = check_backward(lstm.backward, "lstm", **config.kwargs, **config.init_kwargs)
    assert report.ok, str(report)
    assert {"p_i", "p_o"} & set(report.arrays)    # the peephole gradients are graded too


def test_dropped_peephole_terms_are_caught():
    def without_peephole_terms(dh, cache, dc_last=None):
        def step(*args, peephole, **kwargs):  # the step as if there were no peepholes
            return lstm.cell_backward(*args, peephole=None, **kwargs)
        return lstm.backward(dh, cache, dc_last, cell_backward=step)
    r = check_backward(without_peephole_terms, "lstm", peephole=True)
    assert {"p_i", "p_f", "p_o", "W_x", "dc0"} <= r.wrong
    assert r.arrays["W_x"].blocks == ("i", "f", "g")   # at the last step: only what c_t feeds
    with pytest.raises(ValueError, match="peephole is an option of the LSTM only"):
        check_backward(gru.backward, "gru", peephole=True)


@pytest.mark.parametrize("model, reader, options", [
    ("rnn", reader_rnn, {}), ("rnn", reader_rnn, {"activation": "relu"}),
    ("lstm", reader_lstm, {}), ("lstm", reader_lstm, {"forget_bias": 1.0}),
    ("lstm", reader_lstm, {"output_activation": "identity"}),
    ("gru", reader_gru, {"variant": "torch"}), ("gru", reader_gru, {"variant": "cho"}),
])
def test_hand_written_backward_without_slip_passes(model, reader, options):
    report = check_backward(reader(), model, **options)
    assert report.ok, str(report)


# ----------------------------------------------------------------- known bugs, named

@pytest.mark.parametrize("bug", list(errata.BUGS))
def test_each_errata_bug_is_caught_with_its_name(bug):
    report = check_backward(errata.backward_with(bug), "lstm")
    assert not report.ok
    assert report.bugs == (bug,), str(report)
    assert bug in str(report)


def test_errata_bugs_wrong_arrays_blocks_and_steps():
    a = check_backward(errata.backward_with("bias_from_other_gate"), "lstm")
    assert a.wrong == {"b"} and a.arrays["b"].blocks == ("f",)
    assert a.arrays["b"].steps == tuple(range(5))        # every step adds the wrong delta
    b = check_backward(errata.backward_with("input_weights_last_step"), "lstm")
    assert b.wrong == {"W_x"} and b.arrays["W_x"].steps == (0, 1, 2, 3)  # the last step is right
    for bug in ("cell_grad_overwritten", "no_recurrent_dh"):
        r = check_backward(errata.backward_with(bug), "lstm")
        assert r.wrong == {"W_x", "W_h", "b", "dx", "dh0", "dc0"}
        assert all(v.first_step == 3 for v in r.arrays.values())   # one step before the last


@pytest.mark.parametrize("variant", gru.VARIANTS)
def test_gru_update_gate_swap_is_named(variant):
    report = check_backward(reader_gru("swap_z"), "gru", variant=variant)
    assert report.bugs == ("update_gate_swapped",), str(report)


@pytest.mark.parametrize("variant", gru.VARIANTS)
def test_gru_reset_gate_on_the_wrong_side_is_named(variant):
    report = check_backward(reader_gru("reset_side"), "gru", variant=variant)
    assert report.bugs == ("reset_wrong_side",), str(report)
    # the update gate's and the input candidate's gradients are untouched by the slip
    assert "z" not in report.arrays["W_x"].blocks and "n" not in report.arrays["W_x"].blocks


def test_rnn_slips_are_named_like_their_lstm_counterparts():
    assert check_backward(reader_rnn("no_carry"), "rnn").bugs == ("no_recurrent_dh",)
    r = check_backward(reader_rnn("last_step_W_x"), "rnn")
    assert r.bugs == ("input_weights_last_step",) and r.wrong == {"W_x"}


# ----------------------------------------------------------------- mutants, localised

def test_halved_gate_block_is_localised_to_that_block():
    r = check_backward(reader_lstm("half_i"), "lstm")
    for k in ("W_x", "W_h", "b"):
        assert r.arrays[k].blocks == ("i",) and r.arrays[k].factor == pytest.approx(0.5)
        assert r.arrays[k].first_step == 4
    assert {"dx", "dh0"} <= r.wrong
    assert "block i" in str(r) and "0.5 times" in str(r)


def test_flipped_sign_of_a_gate_is_localised_to_that_block():
    r = check_backward(reader_lstm("flip_o"), "lstm")
    for k in ("W_x", "W_h", "b"):
        assert r.arrays[k].blocks == ("o",) and r.arrays[k].factor == pytest.approx(-1.0)
    assert "sign flipped" in str(r)


def test_flipped_sign_of_the_carried_gradient_is_measured():
    r = check_backward(reader_lstm("minus_carry"), "lstm")
    assert r.bugs == () and "multiplied by -1" in str(r)
    assert all(v.first_step == 3 for v in r.arrays.values())


@pytest.mark.parametrize("model, reader", [("lstm", reader_lstm), ("rnn", reader_rnn)])
def test_off_by_one_in_h_prev_is_caught_in_W_h_only(model, reader):
    r = check_backward(reader("h_t"), model)
    assert r.wrong == {"W_h"} and r.arrays["W_h"].blocks == ()
    assert r.bugs == ("h_prev_off_by_one",), str(r)


def test_zero_initial_state_in_W_h_is_caught():
    r = check_backward(reader_lstm("h0_zero"), "lstm")
    assert r.wrong == {"W_h"} and r.bugs == ("h0_ignored",), str(r)


def test_report_is_deterministic():
    bug = errata.backward_with("no_recurrent_dh")
    assert str(check_backward(bug, "lstm")) == str(check_backward(bug, "lstm"))


def test_known_bug_names_are_documented():
    assert set(errata.BUGS) <= set(KNOWN_BUGS)
    assert {"update_gate_swapped", "reset_wrong_side"} <= set(KNOWN_BUGS)


# ----------------------------------------------------------------- misbehaving functions

def _ok_lstm(dh, cache):
    return lstm.backward(dh, cache)


def _replace(**changes):
    def fn(dh, cache):
        g = lstm.backward(dh, cache)
        out = {"params": dict(g.params), "dx": g.dx, "dh0": g.dh0, "dc0": g.dc0}
        for k, v in changes.items():
            if k in out["params"]:
                out["params"][k] = v(out["params"][k])
            else:
                out[k] = v(out[k])
        return out
    return fn


def _raises(dh, cache):
    raise NotImplementedError("write me")


def _warns(dh, cache):
    g = lstm.backward(dh, cache)
    g.params["b"] = g.params["b"] + np.log(-1.0 + 0 * g.params["b"]).real * 0
    return g


def _mutates_cache(dh, cache):
    g = lstm.backward(dh, cache)
    field(cache, "h")[...] = 0.0
    return g


@pytest.mark.parametrize("fn, words", [
    (_raises, "raised NotImplementedError: write me"),
    (lambda dh, cache: None, "returned NoneType"),
    (lambda dh, cache: (1, 2), "returned tuple"),
    (lambda dh, cache: {"params": [1]}, "params of type list"),
    (_replace(dx=lambda v: np.swapaxes(v, 0, 1).copy()), "dx with shape (2, 5, 4)"),
    (_replace(W_x=lambda v: v.T.copy()), "W_x with shape (12, 4)"),
    (_replace(b=lambda v: v.astype(np.float32)), "dtype float32"),
    (_replace(dh0=lambda v: v * np.nan), "NaN"),
    (_replace(W_h=lambda v: v.tolist()), "W_h as list"),
    (_warns, "emitted RuntimeWarning"),
])
def test_misbehaving_functions_are_reported_not_raised(fn, words):
    report = check_backward(fn, "lstm")
    assert not report.ok
    assert report.failure is not None and words in report.failure, report.failure
    assert "could not grade" in str(report) and words in str(report)
    assert "Could not grade" in report._repr_html_()
    assert "Could not grade" in report._repr_markdown_()


def test_missing_param_key_is_reported():
    def fn(dh, cache):
        g = lstm.backward(dh, cache)
        return {"params": {"W_x": g.params["W_x"], "W_h": g.params["W_h"]}, "dx": g.dx}
    report = check_backward(fn, "lstm")
    assert "expected the keys of the params dict" in report.failure


def test_a_function_that_spoils_the_cache_cannot_spoil_the_grading():
    # every call gets a fresh forward pass, so the next problem is unaffected
    assert check_backward(_mutates_cache, "lstm").ok


def test_arrays_not_returned_are_listed_and_not_graded():
    report = check_backward(lambda dh, cache: lstm.backward(dh, cache).params, "lstm")
    assert report.ok and report.unchecked == {"dx", "dh0", "dc0"}
    assert "not returned" in str(report)
    bug = errata.backward_with("cell_grad_overwritten")
    params_only = check_backward(lambda dh, cache: bug(dh, cache).params, "lstm")
    assert params_only.bugs == ("cell_grad_overwritten",), str(params_only)


def test_bad_arguments_of_the_grader_itself_raise():
    with pytest.raises(ValueError, match="model must be one of"):
        check_backward(_ok_lstm, "transformer")
    with pytest.raises(TypeError, match="fn must be a function"):
        check_backward(42, "lstm")
    with pytest.raises(ValueError, match="variant"):
        check_backward(gru.backward, "gru", variant="keras")


# ----------------------------------------------------------------- what the reader sees

def test_report_renders_a_table_per_array():
    r = check_backward(errata.backward_with("bias_from_other_gate"), "lstm")
    html, md = r._repr_html_(), r._repr_markdown_()
    for name in ("W_x", "W_h", "b", "dx", "dh0", "dc0"):
        assert f"<code>{name}</code>" in html and f"| `{name}` |" in md
    assert "<td>f</td><td>4</td>" in html        # block f, first wrong step 4
    assert "| `b` | wrong | f | 4 |" in md
    text = str(r)
    assert len(text) < 900 and "\n" not in text
    green = check_backward(lstm.backward, "lstm")
    assert "first wrong step" not in green._repr_html_() and "All right" in green._repr_html_()
    assert "| `dc0` | ok |" in green._repr_markdown_()
