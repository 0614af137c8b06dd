"""Gradient clipping as the notes write it (dlcourse/gradients.py), Keras' clipnorm vs global_clipnorm,
and the hidden-state gradient norms of lab 13."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from dlcourse import gradients
from dlcourse.scratch import rnn


def test_notes_worked_examples():
    """000 L1489-L1505 (Unit III, "Gradient clipping"): g = (3, 4), θ = 1 -> (0.6, 0.8); small gradients are left alone."""
    np.testing.assert_allclose(gradients.clip_by_norm([3.0, 4.0], 1.0), [0.6, 0.8])
    np.testing.assert_allclose(gradients.clip_by_norm([0.3, 0.4], 1.0), [0.3, 0.4])
    np.testing.assert_allclose(gradients.clip_by_norm([3.0, 4.0], 10.0), [3.0, 4.0])
    assert gradients.norm([3.0, -4.0], ord=1) == 7.0
    assert gradients.norm([3.0, -4.0]) == 5.0
    # L1 clipping: ‖(3, -4)‖_1 = 7, θ = 1.4 -> factor 0.2
    np.testing.assert_allclose(gradients.clip_by_norm([3.0, -4.0], 1.4, ord=1), [0.6, -0.8])


def test_validation():
    with pytest.raises(ValueError, match="threshold"):
        gradients.clip_by_norm([1.0], 0.0)
    with pytest.raises(ValueError, match="ord"):
        gradients.norm([1.0], ord=3)
    with pytest.raises(ValueError, match="threshold"):
        gradients.clip_by_global_norm([[1.0]], -1.0)


GRADS = [np.array([3.0, 4.0]), np.array([[0.0, 12.0]])]  # norms 5 and 12, global norm 13


def test_global_norm_clipping_matches_tf_and_keras_global_clipnorm():
    clipped, total = gradients.clip_by_global_norm(GRADS, 1.0)
    assert total == pytest.approx(13.0)
    tf_clipped, tf_total = tf.clip_by_global_norm([tf.constant(g) for g in GRADS], 1.0)
    assert float(tf_total) == pytest.approx(13.0)
    for mine, theirs in zip(clipped, tf_clipped):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(clipped[0], [3 / 13, 4 / 13])  # the direction is kept
    for mine, keras_update in zip(clipped, gradients.keras_clipped_update(GRADS, global_clipnorm=1.0)):
        np.testing.assert_allclose(keras_update, mine, rtol=1e-6)


def test_per_variable_clipping_matches_keras_clipnorm():
    clipped = gradients.clip_per_variable(GRADS, 1.0)
    np.testing.assert_allclose(clipped[0], [0.6, 0.8])
    np.testing.assert_allclose(clipped[1], [[0.0, 1.0]])
    for mine, keras_update in zip(clipped, gradients.keras_clipped_update(GRADS, clipnorm=1.0)):
        np.testing.assert_allclose(keras_update, mine, rtol=1e-6)
    # The two readings differ: per variable, the second gradient now outweighs the first 1:1, not 12:5.
    global_clipped, _ = gradients.clip_by_global_norm(GRADS, 1.0)
    assert not np.allclose(global_clipped[0], clipped[0])


def test_large_recurrent_weights_explode_and_clipping_bounds_the_step():
    """Exploding gradients (000 L1455, Unit III): a large W_hh makes ‖∂L/∂W_hh‖ grow with its scale."""
    x = np.random.default_rng(0).normal(scale=0.1, size=(4, 30, 2))
    y = np.ones((4, 1))
    norms = []
    for scale in (0.5, 1.0, 2.0):
        params = rnn.RNNParameters.initialize(2, 8, 1, seed=0, recurrent_scale=scale)
        _, grads, _ = rnn.loss_and_gradients(params, x, y, activation="linear")
        norms.append(gradients.global_norm(grads.values()))
    assert norms[0] < norms[1] < norms[2]
    assert norms[2] > 1e6 * norms[1]
    clipped, _ = gradients.clip_by_global_norm(list(grads.values()), 1.0)
    assert gradients.global_norm(clipped) == pytest.approx(1.0)


def test_hidden_state_gradient_norms_match_scratch_bptt():
    """The Keras-unrolled ‖∂L/∂h_t‖ equals the NumPy BPTT's for the same SimpleRNN weights."""
    params = rnn.RNNParameters.initialize(2, 5, 1, seed=3, recurrent_scale=0.9)
    x = np.random.default_rng(1).normal(size=(3, 8, 2))
    y = np.random.default_rng(2).normal(size=(3, 1))
    layer = keras.layers.SimpleRNN(5, dtype="float64")
    dense = keras.layers.Dense(1, dtype="float64")
    layer.build((None, 8, 2))
    dense.build((None, 5))
    rnn_weights, dense_weights = params.to_keras()
    layer.set_weights(rnn_weights)
    dense.set_weights(dense_weights)
    mse = lambda target, predicted: keras.ops.mean(keras.ops.square(predicted - target))  # noqa: E731
    measured = gradients.hidden_state_gradient_norms(layer.cell, dense, x, y, loss=mse)
    _, _, hidden_gradients = rnn.loss_and_gradients(params, x, y)
    np.testing.assert_allclose(measured["hidden"], rnn.hidden_gradient_norms(hidden_gradients), rtol=1e-9)
    assert measured["cell"] is None


def test_lstm_cell_state_norms_and_open_forget_gate():
    """With the forget gate open the LSTM carries the gradient back; a SimpleRNN's vanishes."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(8, 60, 1)).astype("float32")
    y = (x[:, :1, 0] > 0).astype("float32")
    simple = gradients.hidden_state_gradient_norms(keras.layers.SimpleRNNCell(8), keras.layers.Dense(1), x, y)
    default = gradients.hidden_state_gradient_norms(keras.layers.LSTMCell(8), keras.layers.Dense(1), x, y)
    open_gate = gradients.set_forget_bias(keras.layers.LSTMCell(8), 3.0, input_dim=1)
    np.testing.assert_array_equal(open_gate.bias.numpy()[8:16], 3.0)
    lstm = gradients.hidden_state_gradient_norms(open_gate, keras.layers.Dense(1), x, y)
    assert lstm["cell"].shape == (60,)
    assert simple["hidden"][0] / simple["hidden"][-1] < 1e-3
    assert default["cell"][0] / default["cell"][-1] < 1e-3  # Keras' b_f = 1: f ≈ 0.73 per step
    lstm_ratio, simple_ratio = (n["hidden"][0] / n["hidden"][-1] for n in (lstm, simple))
    assert lstm_ratio > 1e-2 and lstm_ratio > 10 * simple_ratio
