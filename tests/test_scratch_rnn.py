"""The NumPy RNN and BPTT (dlcourse/scratch/rnn.py) against Keras' SimpleRNN and tf.GradientTape."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from dlcourse.scratch import rnn


def _problem(loss_on, *, batch=3, steps=6, input_dim=2, hidden_dim=4, output_dim=2, seed=1):
    rng = np.random.default_rng(seed)
    params = rnn.RNNParameters.initialize(input_dim, hidden_dim, output_dim, seed=seed, recurrent_scale=0.9)
    params.b_h = rng.normal(scale=0.1, size=hidden_dim)
    params.b_y = rng.normal(scale=0.1, size=output_dim)
    x = rng.normal(size=(batch, steps, input_dim))
    y = rng.normal(size=(batch, output_dim) if loss_on == "last" else (batch, steps, output_dim))
    return params, x, y


def _keras_pair(params, activation="tanh"):
    """A float64 Keras SimpleRNN + Dense holding the same weights."""
    hidden_dim = params.W_hh.shape[0]
    layer = keras.layers.SimpleRNN(hidden_dim, activation=activation, return_sequences=True, dtype="float64")
    dense = keras.layers.Dense(params.W_hy.shape[0], dtype="float64")
    layer.build((None, None, params.W_xh.shape[1]))
    dense.build((None, hidden_dim))
    rnn_weights, dense_weights = params.to_keras()
    layer.set_weights(rnn_weights)
    dense.set_weights(dense_weights)
    return layer, dense


def _tape_gradients(params, x, y, loss_on, truncate=None):
    layer, dense = _keras_pair(params)
    mse = _mse
    with tf.GradientTape() as tape:
        if truncate is None:
            outputs = dense(layer(x))  # (batch, T, d_y)
        else:  # truncated BPTT for the last step: cut the graph `truncate` steps back
            steps = x.shape[1]
            start = steps - truncate
            prefix = layer(x[:, :start]) if start > 0 else None
            h0 = tf.stop_gradient(prefix[:, -1]) if prefix is not None else None
            outputs = dense(layer(x[:, start:], initial_state=h0))
        loss = mse(y, outputs[:, -1]) if loss_on == "last" else tf.add_n(
            [mse(y[:, t], outputs[:, t]) for t in range(x.shape[1])])
    kernel, recurrent_kernel, bias = layer.trainable_variables
    dense_kernel, dense_bias = dense.trainable_variables
    g = tape.gradient(loss, [kernel, recurrent_kernel, bias, dense_kernel, dense_bias])
    return float(loss), {"W_xh": g[0].numpy().T, "W_hh": g[1].numpy().T, "b_h": g[2].numpy(),
                         "W_hy": g[3].numpy().T, "b_y": g[4].numpy()}


def _mse(target, predicted):
    """Keras' mean squared error, kept in float64 (Keras loss objects compute in floatx)."""
    return keras.ops.mean(keras.ops.square(predicted - target))


def _relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


def test_forward_matches_keras_simple_rnn():
    params, x, _ = _problem("all")
    layer, dense = _keras_pair(params)
    hidden, outputs = rnn.forward(params, x)
    np.testing.assert_allclose(hidden[:, 1:], layer(x).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outputs, dense(layer(x)).numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss_on", ["last", "all"])
def test_bptt_gradients_match_gradient_tape(loss_on):
    params, x, y = _problem(loss_on)
    loss, grads, _ = rnn.loss_and_gradients(params, x, y, loss_on=loss_on)
    tape_loss, tape_grads = _tape_gradients(params, x, y, loss_on)
    assert loss == pytest.approx(tape_loss, rel=1e-10)
    for name in rnn.RNNParameters.NAMES:
        assert _relative_error(grads[name], tape_grads[name]) <= 1e-6, name


def test_truncated_bptt_matches_stopped_gradient():
    params, x, y = _problem("last", steps=7)
    _, full, _ = rnn.loss_and_gradients(params, x, y, loss_on="last")
    _, same, _ = rnn.loss_and_gradients(params, x, y, loss_on="last", truncate=7)
    _, cut, _ = rnn.loss_and_gradients(params, x, y, loss_on="last", truncate=3)
    _, tape_cut = _tape_gradients(params, x, y, "last", truncate=3)
    for name in rnn.RNNParameters.NAMES:
        np.testing.assert_allclose(same[name], full[name], rtol=1e-12, atol=1e-15)
        assert _relative_error(cut[name], tape_cut[name]) <= 1e-6, name
    assert not np.allclose(cut["W_hh"], full["W_hh"])  # truncation changes the recurrent gradient


def test_hidden_gradients_follow_the_handbook_recursion():
    """∂L/∂h_t = ∂L/∂y_t ∂y_t/∂h_t + ∂L/∂h_{t+1} ∂h_{t+1}/∂h_t (handbook ch. 3, 5.5), checked with a tape."""
    params, x, y = _problem("all", batch=2, steps=5)
    _, _, hidden_gradients = rnn.loss_and_gradients(params, x, y, loss_on="all")
    layer, dense = _keras_pair(params)
    cell, mse = layer.cell, _mse
    with tf.GradientTape() as tape:
        h, states = tf.zeros((2, 4), tf.float64), []
        loss = 0.0
        for t in range(5):
            h, _ = cell(x[:, t], [h])
            states.append(h)
            loss += mse(y[:, t], dense(h))
    expected = np.stack([g.numpy() for g in tape.gradient(loss, states)], axis=1)
    np.testing.assert_allclose(hidden_gradients, expected, rtol=1e-9, atol=1e-14)


def test_spectral_radius_below_one_vanishes_above_one_explodes():
    """Unit III: eigenvalues < 1 shrink ‖∂L/∂h_t‖ exponentially going back in time; > 1 grow it.

    A linear RNN isolates the product of Jacobians: with an orthogonal W_hh scaled by ρ the norm
    ratio between the last and first step is exactly ρ^(T-1).
    """
    steps = 20
    x = np.random.default_rng(0).normal(size=(2, steps, 3))
    y = np.zeros((2, 1))
    for radius in (0.5, 1.5):
        params = rnn.RNNParameters.initialize(3, 6, 1, seed=0, recurrent_scale=radius)
        _, _, hidden_gradients = rnn.loss_and_gradients(params, x, y, activation="linear")
        norms = rnn.hidden_gradient_norms(hidden_gradients)
        assert norms[0] / norms[-1] == pytest.approx(radius ** (steps - 1), rel=1e-9)


def test_validation_errors():
    params, x, y = _problem("last")
    with pytest.raises(ValueError, match="loss_on"):
        rnn.loss_and_gradients(params, x, y, loss_on="first")
    with pytest.raises(ValueError, match="truncate"):
        rnn.loss_and_gradients(params, x, y, truncate=0)
    with pytest.raises(ValueError, match="activation"):
        rnn.forward(params, x, activation="sigmoid")


def test_sliding_windows_pair_each_window_with_the_next_value():
    """Handbook ch. 3, 3.3: input [x_{t-w+1}, ..., x_t], target x_{t+1}."""
    windows, targets = rnn.sliding_windows(np.arange(10.0), 3)
    assert windows.shape == (7, 3)
    np.testing.assert_array_equal(windows[0], [0, 1, 2])
    np.testing.assert_array_equal(windows[-1], [6, 7, 8])
    np.testing.assert_array_equal(targets, np.arange(3.0, 10.0))
    with pytest.raises(ValueError, match="window"):
        rnn.sliding_windows(np.arange(5.0), 5)
    series = rnn.sine_series(100, period=25.0, noise=0.0)
    assert series[25] == pytest.approx(0.0, abs=1e-6) and series[6] == pytest.approx(np.sin(2 * np.pi * 6 / 25))


def test_radius_sweep_gradient_norm_grows_with_the_spectral_radius():
    sweep = rnn.radius_sweep((0.5, 1.0, 3.0), steps=30, seed=0)
    norms = [sweep[radius]["gradient_norm"] for radius in (0.5, 1.0, 3.0)]
    assert norms[0] < norms[1] < norms[2] and norms[2] > 100 * norms[0]
    first_over_last = {radius: result["hidden"][0] / result["hidden"][-1] for radius, result in sweep.items()}
    assert first_over_last[0.5] < 1e-6 and first_over_last[3.0] > 10
