"""One small training loop for all three recurrent models.

The model is chosen by name ("rnn", "lstm", "gru"); the loop only uses what
every model module offers (``init_params``, ``forward``, ``backward``), so it
is written once:

    h, cache = model.forward(params, x)            x (T, B, D) -> h (T, B, H)
    y_hat    = h_{T-1} W + b                       linear readout on the last step
    L        = mse(y_hat, y)  or  softmax cross-entropy(y_hat, labels)
    dh       = zeros, except dh[T-1] = dL/dh_{T-1} from the readout
    grads    = model.backward(dh, cache)           BPTT
    clip by global norm, then one optimiser step (Adam or SGD with momentum)

All trainable arrays live in one flat dict ``theta``: the model's own keys
(``W_x``, ``W_h``, ...) plus ``readout.W`` (H, C) and ``readout.b`` (C,), so
the optimisers of :mod:`lstm_core.optim` and the clipping see one set of
arrays. Optimiser steps return new dicts, so a ``theta`` handed to a
callback is a snapshot that later steps never modify.

Seeding: ``seed`` is split into two independent streams, one for the
initial weights and one for the training batches. Two runs with the same
seed therefore see the same batches even when their models draw a different
number of initial weights (an RNN and an LSTM trained with seed 0 get
identical data).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import gru, losses, lstm, optim, rnn
from .viz import gradient_norms_per_step

__all__ = [
    "MODELS",
    "Checkpoint",
    "GradFlowRecorder",
    "TrainResult",
    "evaluate",
    "hidden_grad_norms",
    "init_theta",
    "loss_and_grads",
    "predict",
    "split_theta",
    "train",
]

logger = logging.getLogger(__name__)
MODELS = {"rnn": rnn, "lstm": lstm, "gru": gru}
LOSSES = ("mse", "xent")
READOUT = ("readout.W", "readout.b")


def _module(model: str):
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    return MODELS[model]


def init_theta(model, input_size, hidden_size, output_size, *, rng, init_kwargs=None) -> dict:
    """Initial trainable arrays: the model's params plus a linear readout (H, C)."""
    params = _module(model).init_params(input_size, hidden_size, rng=rng, **(init_kwargs or {}))
    readout = losses.init_readout(hidden_size, output_size, rng=rng, dtype=params["W_h"].dtype)
    if set(params) & set(READOUT):
        raise ValueError(f"model params may not use the readout's keys {READOUT}")
    return {**params, "readout.W": readout["W"], "readout.b": readout["b"]}


def split_theta(theta: dict):
    """theta -> (model params dict, readout dict {"W", "b"})."""
    params = {k: v for k, v in theta.items() if k not in READOUT}
    return params, {"W": theta["readout.W"], "b": theta["readout.b"]}


def _forward(model, theta, x, model_kwargs):
    params, readout = split_theta(theta)
    h, cache = _module(model).forward(params, x, **(model_kwargs or {}))
    y_hat, rcache = losses.linear_forward(h[-1], readout["W"], readout["b"])
    return h, cache, y_hat, rcache


def predict(model, theta, x, *, model_kwargs=None) -> np.ndarray:
    """Readout of the last hidden state, (B, C): regression outputs or class logits."""
    return _forward(model, theta, x, model_kwargs)[2]


def _loss(loss, y_hat, y):
    if loss == "mse":
        return losses.mse(y_hat, y)
    if loss == "xent":
        return losses.softmax_cross_entropy(y_hat, y)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def loss_and_grads(model, theta, x, y, *, loss="mse", model_kwargs=None):
    """Loss of a last-step readout and its gradient with respect to every array of ``theta``.

    Returns ``(L, grads, g)``: the scalar loss, a dict with the keys of
    ``theta``, and the model's :class:`~lstm_core.Gradients` (whose
    ``dh_steps`` holds the total dL/dh_t at every step).
    """
    h, cache, y_hat, rcache = _forward(model, theta, x, model_kwargs)
    L, dy = _loss(loss, y_hat, y)
    dh_last, dread = losses.linear_backward(dy, rcache)
    dh = np.zeros_like(h)
    dh[-1] = dh_last
    g = _module(model).backward(dh, cache)
    grads = {**g.params, "readout.W": dread["W"], "readout.b": dread["b"]}
    return float(L), grads, g


def evaluate(model, theta, x, y, *, loss="mse", model_kwargs=None) -> float:
    """Loss on a fixed batch (no gradient)."""
    return float(_loss(loss, predict(model, theta, x, model_kwargs=model_kwargs), y)[0])


def hidden_grad_norms(model, theta, x, y, *, loss="mse", model_kwargs=None) -> np.ndarray:
    """‖∂L/∂h_t‖ for t = 0..T-1 (norm over batch and units) on the batch (x, y), shape (T,)."""
    return gradient_norms_per_step(loss_and_grads(model, theta, x, y, loss=loss,
                                                  model_kwargs=model_kwargs)[2].dh_steps)


@dataclass(frozen=True)
class Checkpoint:
    """What a callback receives: the step (number of updates done so far) and a snapshot."""

    step: int
    model: str
    theta: dict
    loss: str
    model_kwargs: dict

    def hidden_grad_norms(self, x, y) -> np.ndarray:
        return hidden_grad_norms(self.model, self.theta, x, y, loss=self.loss, model_kwargs=self.model_kwargs)


class GradFlowRecorder:
    """A ready-made callback: ‖∂L/∂h_t‖ per step on a fixed probe batch at every checkpoint.

    After training, ``norms`` maps each checkpoint step to an array (T,) and
    ``probe_loss`` to the loss on the probe batch at that checkpoint.
    """

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.norms: dict[int, np.ndarray] = {}
        self.probe_loss: dict[int, float] = {}

    def __call__(self, ck: Checkpoint) -> None:
        L, _, g = loss_and_grads(ck.model, ck.theta, self.x, self.y, loss=ck.loss, model_kwargs=ck.model_kwargs)
        self.norms[ck.step] = gradient_norms_per_step(g.dh_steps)
        self.probe_loss[ck.step] = L


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    theta       final trainable arrays (model params + readout)
    train_loss  (steps,) loss of each training batch, before that step's update
    grad_norm   (steps,) global gradient norm before clipping
    eval_step   steps (updates done) at which the test loss was measured; 0 = initialisation
    test_loss   test loss at those steps (empty if no test set was given)
    seconds     wall-clock time of the loop
    settings    the hyperparameters of the run (hidden size, steps, lr, clip, seed, ...)
    """

    model: str
    model_kwargs: dict
    theta: dict
    train_loss: np.ndarray
    grad_norm: np.ndarray
    eval_step: np.ndarray
    test_loss: np.ndarray
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def final_test_loss(self) -> float:
        return float(self.test_loss[-1]) if self.test_loss.size else float("nan")

    @property
    def clipped_fraction(self) -> float:
        clip = self.settings.get("clip")
        return float(np.mean(self.grad_norm > clip)) if clip else 0.0


class _Progress:
    """Progress of a run: an ipywidgets bar in a live Jupyter kernel; elsewhere a few INFO
    records on the ``lstm_core.train`` logger (about one per tenth of the run); nothing if quiet."""

    def __init__(self, total, desc, quiet):
        self.total, self.desc, self.kind = total, desc, "none"
        self.every = max(1, total // 100)
        if quiet:
            return
        try:
            from IPython import get_ipython

            in_kernel = getattr(get_ipython(), "kernel", None) is not None
        except ImportError:
            in_kernel = False
        if in_kernel:
            try:
                import ipywidgets as widgets
                from IPython.display import display
            except ImportError:
                in_kernel = False
        if in_kernel:
            self.bar = widgets.IntProgress(value=0, min=0, max=total, description=desc,
                                           style={"description_width": "initial"})
            self.label = widgets.Label("")
            display(widgets.HBox([self.bar, self.label]))
            self.kind = "widget"
        else:
            self.kind = "log"
            self.every = max(1, total // 10)

    def update(self, step, loss):
        if self.kind == "none" or (step % self.every and step != self.total):
            return
        text = f"{step}/{self.total}  loss {loss:.4f}"
        if self.kind == "widget":
            self.bar.value = step
            self.label.value = text
        else:
            logger.info("%s: %s", self.desc, text)

    def close(self, seconds):
        if self.kind == "widget":
            self.bar.bar_style = "success"
            self.label.value += f"  ({seconds:.1f} s)"


def train(model, sample: Callable, *, hidden_size: int, steps: int, batch_size: int,
          lr: float = 1e-2, optimizer: str = "adam", opt_kwargs=None, clip: float | None = 1.0,
          loss: str = "mse", output_size: int | None = None, test=None, eval_every: int = 50,
          model_kwargs=None, init_kwargs=None, seed: int = 0, checkpoints=(),
          callback: Callable[[Checkpoint], None] | None = None, quiet: bool = False,
          desc: str | None = None) -> TrainResult:
    """Train ``model`` ("rnn", "lstm" or "gru") with a linear readout on the last step.

    sample       ``sample(batch_size, rng=rng) -> (x (T, B, D), y)``, called once per
                 step with a fresh batch, e.g. ``functools.partial(data.adding_problem, 50)``;
                 ``y`` is (B, C) targets for ``loss="mse"``, (B,) integer labels for "xent"
    optimizer    "adam" or "sgd" (momentum SGD); ``opt_kwargs`` go to its step function
    clip         maximum global gradient norm (None: no clipping)
    output_size  readout width C; inferred from ``y`` for "mse", required for "xent"
    test         optional fixed (x, y) on which the loss is measured at step 0, every
                 ``eval_every`` updates and at the end
    model_kwargs passed to the model's forward, e.g. ``{"forget_bias": 1.0}``
    init_kwargs  passed to the model's ``init_params``
    checkpoints  steps (numbers of updates done, 0 = initialisation) at which
                 ``callback(Checkpoint)`` is called, e.g. with a :class:`GradFlowRecorder`
    quiet        no progress display (the book build); otherwise an ipywidgets bar in a
                 live kernel, and elsewhere INFO records "desc: step/steps  loss L" on the
                 ``lstm_core.train`` logger (``logging.basicConfig(level=logging.INFO)``
                 shows them)
    """
    _module(model)  # fail early on an unknown name
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if optimizer not in optim.OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(optim.OPTIMIZERS)}, got {optimizer!r}")
    for name, v in (("hidden_size", hidden_size), ("batch_size", batch_size), ("eval_every", eval_every)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    checkpoints = sorted({int(s) for s in checkpoints})
    if checkpoints and (checkpoints[0] < 0 or checkpoints[-1] > steps):
        raise ValueError(f"checkpoints must lie in [0, steps={steps}], got {checkpoints}")
    if checkpoints and callback is None:
        raise ValueError("checkpoints were given but no callback to call at them")
    model_kwargs = dict(model_kwargs or {})
    init_ss, data_ss = np.random.SeedSequence(seed).spawn(2)
    init_rng, data_rng = np.random.default_rng(init_ss), np.random.default_rng(data_ss)

    x0, y0 = sample(batch_size, rng=data_rng)  # the first batch also tells the sizes
    if output_size is None:
        if loss == "xent":
            raise ValueError("output_size (the number of classes) is required for loss='xent'")
        output_size = int(np.shape(y0)[-1])
    theta = init_theta(model, x0.shape[-1], hidden_size, output_size, rng=init_rng, init_kwargs=init_kwargs)
    init_fn, step_fn = optim.OPTIMIZERS[optimizer]
    state = init_fn(theta)
    opt_kwargs = dict(opt_kwargs or {})

    train_loss = np.empty(steps)
    grad_norm = np.empty(steps)
    eval_step, test_loss = [], []

    def run_eval(k):
        if test is not None:
            eval_step.append(k)
            test_loss.append(evaluate(model, theta, *test, loss=loss, model_kwargs=model_kwargs))

    def run_checkpoint(k):
        if k in checkpoints:
            callback(Checkpoint(k, model, theta, loss, model_kwargs))

    bar = _Progress(steps, desc or model, quiet)
    t0 = time.perf_counter()
    run_eval(0)
    run_checkpoint(0)
    batch = (x0, y0)
    for k in range(steps):
        if batch is None:
            batch = sample(batch_size, rng=data_rng)
        L, grads, _ = loss_and_grads(model, theta, *batch, loss=loss, model_kwargs=model_kwargs)
        batch = None
        if clip is not None:
            grads, norm = optim.clip_by_global_norm(grads, clip)
        else:
            norm = optim.global_norm(grads)
        theta, state = step_fn(theta, grads, state, lr=lr, **opt_kwargs)
        train_loss[k], grad_norm[k] = L, norm
        done = k + 1
        if done % eval_every == 0 and done != steps:
            run_eval(done)
        run_checkpoint(done)
        bar.update(done, L)
    if steps:
        run_eval(steps)
    seconds = time.perf_counter() - t0
    bar.close(seconds)
    settings = dict(hidden_size=hidden_size, steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer,
                    opt_kwargs=opt_kwargs, clip=clip, loss=loss, seed=seed)
    return TrainResult(model, model_kwargs, theta, train_loss, grad_norm, np.array(eval_step),
                       np.array(test_loss), seconds, settings)
