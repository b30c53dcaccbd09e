"""Chapter 7 (capstone): the adding problem, the shared training loop, and a real learning run.

Expected values come from independent routes: loops over the raw arrays, the
variance of a uniform distribution, finite differences, the readout's own
formula, and the LSTM recursion written out for the forget-gate ablation.
"""
import functools
import logging
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_core import data, lstm, train
from lstm_core.gradcheck import check_gradients

# The chapter's budget (book/capstone.md): hidden size, batch, updates, Adam learning rate, clipping.
H, BATCH, STEPS, LR, CLIP = 16, 32, 600, 0.03, 1.0


# ----------------------------------------------------------------------------- the adding problem

@given(T=st.integers(2, 60), B=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_adding_problem_marks_two_positions_and_targets_their_sum(T, B, seed):
    x, y = data.adding_problem(T, B, rng=np.random.default_rng(seed))
    assert x.shape == (T, B, 2) and y.shape == (B, 1)
    values, marks = x[:, :, 0], x[:, :, 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(marks)) <= {0.0, 1.0}
    for b in range(B):
        where = [t for t in range(T) if marks[t, b] == 1.0]
        assert len(where) == 2
        first, second = where
        assert 0 <= first < T // 2 <= second < T
        assert y[b, 0] == values[first, b] + values[second, b]


def test_adding_problem_is_seeded():
    a = data.adding_problem(30, 5, rng=np.random.default_rng(3))
    b = data.adding_problem(30, 5, rng=np.random.default_rng(3))
    c = data.adding_problem(30, 5, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_constant_predictor_scores_one_sixth():
    # y = U1 + U2 with independent U ~ uniform(0, 1): mean 1, variance 2 * 1/12 = 1/6
    _, y = data.adding_problem(10, 200_000, rng=np.random.default_rng(0))
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01
    assert abs(np.var(y) - 1 / 6) < 0.01  # and the mean is the best constant
    assert data.ADDING_BASELINE_MSE == pytest.approx(1 / 6)


def test_marker_positions_are_uniform_on_their_halves():
    T, B = 20, 50_000
    x, _ = data.adding_problem(T, B, rng=np.random.default_rng(1))
    counts = x[:, :, 1].sum(axis=1)  # how often each step is marked
    np.testing.assert_allclose(counts, B / (T // 2), rtol=0.06)


@given(T=st.integers(2, 40), K=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_recall_task_labels_the_marked_symbol(T, K, seed):
    x, labels = data.recall_task(T, 7, n_symbols=K, rng=np.random.default_rng(seed))
    assert x.shape == (T, 7, K + 1) and labels.shape == (7,)
    np.testing.assert_array_equal(x[:, :, :K].sum(axis=2), 1.0)  # one symbol per step
    for b in range(7):
        (marked,) = [t for t in range(T) if x[t, b, K] == 1.0]
        assert marked < T // 2
        assert labels[b] == int(np.argmax(x[marked, b, :K]))
    assert data.recall_baseline_xent(K) == pytest.approx(math.log(K))


@pytest.mark.parametrize("bad", [dict(T=1, batch_size=3), dict(T=5, batch_size=0), dict(T=5.0, batch_size=3)])
def test_generators_refuse_bad_sizes(bad):
    with pytest.raises(ValueError):
        data.adding_problem(bad["T"], bad["batch_size"], rng=np.random.default_rng(0))


# ----------------------------------------------------------------------------- the training loop's gradient

@pytest.mark.parametrize("model,kwargs", [("rnn", {}), ("lstm", {"forget_bias": 1.0}), ("lstm", {"cell": "coupled"}),
                                          ("gru", {})])
@pytest.mark.parametrize("loss", ["mse", "xent"])
def test_loss_and_grads_match_finite_differences(model, kwargs, loss):
    rng = np.random.default_rng(11)
    if loss == "mse":
        x, y = data.adding_problem(6, 3, rng=rng)
        C = 1
    else:
        x, y = data.recall_task(6, 3, n_symbols=3, rng=rng)
        C = 3
    theta = train.init_theta(model, x.shape[-1], 4, C, rng=rng)

    def f():
        return train.loss_and_grads(model, theta, x, y, loss=loss, model_kwargs=kwargs)[0]

    _, grads, _ = train.loss_and_grads(model, theta, x, y, loss=loss, model_kwargs=kwargs)
    assert set(grads) == set(theta)
    errors = check_gradients(f, theta, grads, floor=1e-6)
    assert max(errors.values()) < 1e-6, errors


def test_last_step_gradient_is_the_readouts():
    # dL/dh_{T-1} of L = mean((h W + b - y)^2) is 2 (h W + b - y) W^T / B, all earlier steps get it via BPTT
    rng = np.random.default_rng(5)
    x, y = data.adding_problem(9, 4, rng=rng)
    theta = train.init_theta("gru", 2, 6, 1, rng=rng)
    rec = train.GradFlowRecorder(x, y)
    rec(train.Checkpoint(0, "gru", theta, "mse", {}))
    params, readout = train.split_theta(theta)
    from lstm_core import gru

    h, _ = gru.forward(params, x)
    resid = h[-1] @ readout["W"] + readout["b"] - y
    expected_last = np.linalg.norm(2 * resid @ readout["W"].T / resid.size)
    assert rec.norms[0].shape == (9,)
    assert rec.norms[0][-1] == pytest.approx(expected_last, rel=1e-12)
    assert rec.probe_loss[0] == pytest.approx(np.mean(resid ** 2), rel=1e-12)


# ----------------------------------------------------------------------------- the loop itself

def _recording_sampler(T, log):
    def sample(batch_size, *, rng):
        x, y = data.adding_problem(T, batch_size, rng=rng)
        log.append(x)
        return x, y
    return sample


def test_same_seed_same_batches_for_every_model():
    logs = {m: [] for m in train.MODELS}
    for m in train.MODELS:
        train.train(m, _recording_sampler(7, logs[m]), hidden_size=3, steps=4, batch_size=2, seed=9, quiet=True)
    for m in ("lstm", "gru"):
        assert len(logs[m]) == 4
        for a, b in zip(logs["rnn"], logs[m]):
            np.testing.assert_array_equal(a, b)


def test_training_is_deterministic_and_records_history():
    kw = dict(hidden_size=4, steps=30, batch_size=8, lr=0.01, seed=2, eval_every=10, quiet=True,
              test=data.adding_problem(6, 20, rng=np.random.default_rng(0)))
    a = train.train("lstm", functools.partial(data.adding_problem, 6), **kw)
    b = train.train("lstm", functools.partial(data.adding_problem, 6), **kw)
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    np.testing.assert_array_equal(a.test_loss, b.test_loss)
    assert a.train_loss.shape == a.grad_norm.shape == (30,)
    assert a.eval_step.tolist() == [0, 10, 20, 30]
    # the test loss at step 0 is the initial model's
    theta0 = train.init_theta("lstm", 2, 4, 1, rng=np.random.default_rng(np.random.SeedSequence(2).spawn(2)[0]))
    assert a.test_loss[0] == pytest.approx(train.evaluate("lstm", theta0, *kw["test"]), rel=1e-12)


def test_clipping_caps_the_update():
    # SGD without momentum: the update is lr * clipped gradient, whose global norm is the cap
    cap = 1e-3
    seen = {}

    def cb(ck):
        seen[ck.step] = ck.theta

    r = train.train("rnn", functools.partial(data.adding_problem, 5), hidden_size=3, steps=1, batch_size=4,
                    optimizer="sgd", opt_kwargs={"momentum": 0.0}, lr=1.0, clip=cap, seed=0, quiet=True,
                    checkpoints=[0, 1], callback=cb)
    assert r.grad_norm[0] > cap  # the raw gradient was larger, so clipping was active
    delta = {k: seen[1][k] - seen[0][k] for k in seen[0]}
    # the norm of the step, summed by hand (not with optim.global_norm, which clipping uses)
    step = math.sqrt(sum(float(v) ** 2 for d in delta.values() for v in np.ravel(d)))
    assert step == pytest.approx(cap, rel=1e-12)
    assert r.clipped_fraction == 1.0


def test_checkpoints_call_the_callback_with_snapshots():
    calls = []
    rec = train.GradFlowRecorder(*data.adding_problem(6, 5, rng=np.random.default_rng(1)))

    def cb(ck):
        calls.append(ck)
        rec(ck)

    train.train("gru", functools.partial(data.adding_problem, 6), hidden_size=3, steps=5, batch_size=4,
                seed=0, quiet=True, checkpoints=[0, 2, 5], callback=cb)
    assert [c.step for c in calls] == [0, 2, 5]
    assert sorted(rec.norms) == [0, 2, 5]
    # snapshots are not overwritten by later steps
    assert not np.array_equal(calls[0].theta["W_h"], calls[-1].theta["W_h"])
    with pytest.raises(ValueError, match="checkpoints"):
        train.train("gru", functools.partial(data.adding_problem, 6), hidden_size=3, steps=5, batch_size=4,
                    quiet=True, checkpoints=[6], callback=cb)


def test_quiet_mode_reports_nothing_and_otherwise_progress_goes_to_the_logger(capsys, caplog):
    kw = dict(hidden_size=3, steps=20, batch_size=4, seed=0)
    caplog.set_level(logging.INFO, logger="lstm_core.train")
    train.train("rnn", functools.partial(data.adding_problem, 5), quiet=True, **kw)
    assert caplog.records == []
    r = train.train("rnn", functools.partial(data.adding_problem, 5), quiet=False, desc="demo", **kw)
    assert capsys.readouterr().out == ""                  # library code prints nothing
    records = [rec for rec in caplog.records if rec.name == "lstm_core.train"]
    assert [rec.levelno for rec in records] == [logging.INFO] * 10   # every 20 // 10 = 2 steps
    steps = [int(rec.getMessage().split()[1].split("/")[0]) for rec in records]
    assert steps == list(range(2, 21, 2))
    assert all(rec.getMessage().startswith("demo: ") for rec in records)
    last = records[-1].getMessage()
    assert last.startswith("demo: 20/20  loss ")
    assert float(last.rsplit(" ", 1)[1]) == pytest.approx(r.train_loss[-1], abs=5e-5)


def test_xent_needs_the_number_of_classes():
    with pytest.raises(ValueError, match="output_size"):
        train.train("rnn", functools.partial(data.recall_task, 5), hidden_size=3, steps=1, batch_size=4,
                    loss="xent", quiet=True)


# ----------------------------------------------------------------------------- the 1997 cell on a stream

def test_cell_without_forget_gate_accumulates_and_the_standard_cell_is_bounded():
    # no_forget: c_t = c_{t-1} + i_t g_t exactly, so c is the running sum of i*g.
    # standard:  |c_t| <= f_max |c_{t-1}| + 1 gives |c_t| <= max(|c_0|, 1 / (1 - f_max)).
    rng = np.random.default_rng(0)
    params = lstm.init_params(2, 5, rng=rng)
    H = params["W_h"].shape[0]
    x, _ = data.adding_problem(400, 3, rng=rng)
    _, cache = lstm.forward(params, x, cell="no_forget")
    g = cache.gates
    i, gg = g[..., 0:H], g[..., 2 * H:3 * H]  # blocks i, f, g, o
    np.testing.assert_allclose(cache.c, np.cumsum(i * gg, axis=0), atol=1e-10)
    _, cache_std = lstm.forward(params, x, cell="standard", forget_bias=1.0)
    f_max = cache_std.gates[..., H:2 * H].max()
    assert np.abs(cache_std.c).max() <= 1.0 / (1.0 - f_max) + 1e-12
    # with these weights the running sum drifts far beyond that bound
    assert np.abs(cache.c[-1]).max() > 3.0 / (1.0 - f_max)


# ----------------------------------------------------------------------------- a real learning run

def test_lstm_learns_the_adding_problem_at_T20():
    T = 20
    test = data.adding_problem(T, 512, rng=np.random.default_rng(2024))
    r = train.train("lstm", functools.partial(data.adding_problem, T), hidden_size=H, steps=STEPS,
                    batch_size=BATCH, lr=LR, clip=CLIP, model_kwargs={"forget_bias": 1.0}, test=test,
                    eval_every=100, seed=0, quiet=True)
    assert r.test_loss[0] > 0.5 * data.ADDING_BASELINE_MSE  # it did start out ignorant
    assert r.final_test_loss < 0.05
