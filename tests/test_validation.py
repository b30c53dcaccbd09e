"""Every error path names the argument, and shapes are in the message."""
import numpy as np
import pytest

from lstm_core import gru, losses, lstm, rnn
from lstm_core.gradcheck import numerical_gradient, relative_error
from lstm_core.optim import clip_by_global_norm

MODELS = [rnn, lstm, gru]
rng = np.random.default_rng(0)


def _params(m, D=3, H=2):
    return m.init_params(D, H, rng=np.random.default_rng(1))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_x_must_be_time_major_3d(m):
    with pytest.raises(ValueError, match=r"x must .*\(T, B, D\).*got shape \(4, 3\)"):
        m.forward(_params(m), np.ones((4, 3)))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_x_with_wrong_feature_size(m):
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, D\) = \(\?, \?, 3\), got shape \(5, 2, 4\)"):
        m.forward(_params(m), np.ones((5, 2, 4)))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_h0_with_wrong_shape(m):
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 2\), got shape \(2, 3\)"):
        m.forward(_params(m), np.ones((5, 2, 3)), np.ones((2, 3)))


def test_c0_with_wrong_shape():
    with pytest.raises(ValueError, match=r"c0 must have shape \(B, H\) = \(2, 2\), got shape \(1, 2\)"):
        lstm.forward(_params(lstm), np.ones((5, 2, 3)), None, np.ones((1, 2)))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_param_with_wrong_shape(m):
    p = _params(m)
    p["W_h"] = p["W_h"][:, :-1]
    with pytest.raises(ValueError, match=r"params\['W_h'\] must have shape"):
        m.forward(p, np.ones((5, 2, 3)))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_missing_param_key(m):
    p = _params(m)
    del p["W_x"]
    with pytest.raises(ValueError, match=r"params for .* must have keys"):
        m.forward(p, np.ones((5, 2, 3)))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_non_finite_input_is_refused(m):
    x = np.ones((5, 2, 3))
    x[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match="x contains 1 non-finite"):
        m.forward(_params(m), x)


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_non_finite_param_is_refused(m):
    p = _params(m)
    p["W_x"][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"params\['W_x'\] contains 1 non-finite"):
        m.forward(p, np.ones((5, 2, 3)))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_dh_with_wrong_shape(m):
    _, cache = m.forward(_params(m), np.ones((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dh must have shape \(T, B, H\) = \(5, 2, 2\), got shape \(2, 5, 2\)"):
        m.backward(np.ones((2, 5, 2)), cache)


def test_dc_last_with_wrong_shape():
    _, cache = lstm.forward(_params(lstm), np.ones((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dc_last must have shape \(B, H\)"):
        lstm.backward(np.ones((5, 2, 2)), cache, dc_last=np.ones(2))


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_mixed_dtypes_are_refused(m):
    with pytest.raises(TypeError, match="x has dtype float32 but the parameters are float64"):
        m.forward(_params(m), np.ones((5, 2, 3), dtype=np.float32))


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: rnn.forward(_params(rnn), np.ones((2, 1, 3)), activation="swish"), "activation"),
        (lambda: lstm.forward(_params(lstm), np.ones((2, 1, 3)), output_activation="relu6"), "output_activation"),
        (lambda: lstm.forward(_params(lstm), np.ones((2, 1, 3)), cell="peephole"), "cell"),
        (lambda: lstm.forward(_params(lstm), np.ones((2, 1, 3)), forget_bias=np.nan), "forget_bias"),
        (lambda: lstm.forward(_params(lstm), np.ones((2, 1, 3)), forget_bias=1.0, cell="coupled"), "forget_bias"),
        (lambda: gru.forward(_params(gru), np.ones((2, 1, 3)), variant="keras"), "variant"),
    ],
)
def test_unknown_option_names_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.__name__)
def test_init_params_validation(m):
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        m.init_params(3, 0, rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        m.init_params(3, 2, rng=0)


def test_params_must_be_a_dict():
    with pytest.raises(TypeError, match="params must be a dict"):
        rnn.forward([1, 2], np.ones((2, 1, 3)))


def test_loss_errors_name_their_arguments():
    with pytest.raises(ValueError, match=r"target must have the shape of pred \(2, 3\)"):
        losses.mse(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"labels must be integers of shape \(N,\) = \(2,\)"):
        losses.softmax_cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        losses.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\)"):
        losses.softmax_cross_entropy(np.ones(3), np.array([0]))
    with pytest.raises(ValueError, match=r"h must have shape \(T, B, H\)"):
        losses.every_step_mse_loss(np.ones((2, 3)), {"W": np.ones((3, 1)), "b": np.ones(1)}, np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"W must have shape \(H, C\) with H = 3"):
        losses.linear_forward(np.ones((2, 3)), np.ones((2, 1)), np.ones(1))


def test_gradcheck_and_clip_errors():
    with pytest.raises(TypeError, match="arr must be a floating numpy array"):
        numerical_gradient(lambda: 0.0, np.ones(3, dtype=int))
    with pytest.raises(ValueError, match="order must be one of"):
        numerical_gradient(lambda: 0.0, np.ones(3), order=3)
    with pytest.raises(ValueError, match="analytic has shape"):
        relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="max_norm must be a positive"):
        clip_by_global_norm({"a": np.ones(2)}, 0.0)
    with pytest.raises(FloatingPointError, match="gradient norm is"):
        clip_by_global_norm({"a": np.array([np.inf])}, 1.0)
