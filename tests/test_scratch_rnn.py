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


@pytest.mark.parametrize("loss_on", ["last", "all"])
def test_truncated_bptt_with_k_equal_to_t_is_full_bptt(loss_on):
    params, x, y = _problem(loss_on, steps=6)
    full_loss, full, full_hidden = rnn.loss_and_gradients(params, x, y, loss_on=loss_on)
    for k in (6, 10):  # k >= T cuts nothing
        loss, same, hidden = rnn.loss_and_gradients(params, x, y, loss_on=loss_on, truncate=k)
        assert loss == full_loss
        for name in rnn.RNNParameters.NAMES:
            np.testing.assert_allclose(same[name], full[name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(hidden, full_hidden, rtol=1e-12, atol=1e-15)
    table = rnn.truncation_table(params, x, y, [1, 3, 6], loss_on=loss_on)
    assert table[-1]["relative_error"] <= 1e-12 and table[-1]["fraction_kept"] == pytest.approx(1.0, abs=1e-12)
    assert table[0]["relative_error"] > 1e-3  # one step loses part of the recurrent gradient


def test_truncated_bptt_with_k_one_is_the_one_step_gradient():
    """k = 1: each L_t reaches only step t, h_{t-1} held fixed.

    ∂L/∂W_hh = Σ_t δ_t^T h_{t-1} with δ_t = (∂L_t/∂y_t W_hy) ⊙ (1 − h_t²), and so on for W_xh, b_h.
    """
    params, x, y = _problem("all", steps=5)
    _, grads, _ = rnn.loss_and_gradients(params, x, y, loss_on="all", truncate=1)
    hidden, outputs = rnn.forward(params, x)
    batch, steps, outputs_per_step = y.shape
    expected = {name: np.zeros_like(value) for name, value in params.as_dict().items()}
    for t in range(1, steps + 1):
        dy = 2.0 * (outputs[:, t - 1] - y[:, t - 1]) / (batch * outputs_per_step)
        delta = (dy @ params.W_hy) * (1.0 - hidden[:, t] ** 2)
        expected["W_xh"] += delta.T @ x[:, t - 1]
        expected["W_hh"] += delta.T @ hidden[:, t - 1]
        expected["b_h"] += delta.sum(axis=0)
        expected["W_hy"] += dy.T @ hidden[:, t]
        expected["b_y"] += dy.sum(axis=0)
    for name in rnn.RNNParameters.NAMES:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-12, atol=1e-15)


def _scalar_params(w_xh=0.5, w_hh=0.8, b_h=0.1, w_hy=1.5, b_y=-0.2):
    return rnn.RNNParameters(W_xh=np.array([[w_xh]]), W_hh=np.array([[w_hh]]), b_h=np.array([b_h]),
                             W_hy=np.array([[w_hy]]), b_y=np.array([b_y]))


def test_per_step_updates_equal_a_hand_computation():
    """The notes' example (000 L1360-L1374): feed x_1, loss against x_2, update; feed x_2, loss against x_3, update."""
    x1, x2, t1, t2, eta = 1.0, -0.5, 0.3, 0.7, 0.1
    params = _scalar_params()
    result = rnn.per_step_updates(params, np.array([[[x1], [x2]]]), np.array([[[t1], [t2]]]), learning_rate=eta)
    # Step 1 from h_0 = 0.
    wx, wh, bh, wy, by = 0.5, 0.8, 0.1, 1.5, -0.2
    h1 = np.tanh(wx * x1 + bh)
    e1 = 2 * (wy * h1 + by - t1)
    d1 = e1 * wy * (1 - h1 ** 2)
    wx, wh, bh, wy, by = wx - eta * d1 * x1, wh - eta * d1 * 0.0, bh - eta * d1, wy - eta * e1 * h1, by - eta * e1
    step1 = result["weights"][0]
    np.testing.assert_allclose([step1.W_xh[0, 0], step1.W_hh[0, 0], step1.b_h[0], step1.W_hy[0, 0], step1.b_y[0]],
                               [wx, wh, bh, wy, by], rtol=1e-13)
    assert result["losses"][0] == pytest.approx((e1 / 2) ** 2, rel=1e-13)
    # Step 2 with the updated weights, back through both steps.
    h1 = np.tanh(wx * x1 + bh)
    h2 = np.tanh(wx * x2 + wh * h1 + bh)
    e2 = 2 * (wy * h2 + by - t2)
    d2 = e2 * wy * (1 - h2 ** 2)
    d1 = d2 * wh * (1 - h1 ** 2)
    expected = [wx - eta * (d2 * x2 + d1 * x1), wh - eta * d2 * h1, bh - eta * (d2 + d1), wy - eta * e2 * h2,
                by - eta * e2]
    final = result["params"]
    np.testing.assert_allclose([final.W_xh[0, 0], final.W_hh[0, 0], final.b_h[0], final.W_hy[0, 0], final.b_y[0]],
                               expected, rtol=1e-13)
    assert result["losses"][1] == pytest.approx((e2 / 2) ** 2, rel=1e-13)
    # truncate=1: step 2 starts from h_1 as fed in step 1 (old weights) and holds it fixed; no d1 term.
    cut = rnn.per_step_updates(params, np.array([[[x1], [x2]]]), np.array([[[t1], [t2]]]), learning_rate=eta,
                               truncate=1)["params"]
    h1_fed = np.tanh(0.5 * x1 + 0.1)
    h2 = np.tanh(wx * x2 + wh * h1_fed + bh)
    e2 = 2 * (wy * h2 + by - t2)
    d2 = e2 * wy * (1 - h2 ** 2)
    np.testing.assert_allclose([cut.W_xh[0, 0], cut.W_hh[0, 0], cut.b_h[0], cut.W_hy[0, 0], cut.b_y[0]],
                               [wx - eta * d2 * x2, wh - eta * d2 * h1_fed, bh - eta * d2, wy - eta * e2 * h2,
                                by - eta * e2], rtol=1e-13)


def test_per_step_gradients_add_up_to_true_bptt_without_updates():
    """With η = 0 the T per-step gradients sum to BPTT's gradient of L = Σ_t L_t; with η > 0 they do not."""
    params, x, y = _problem("all", steps=6)
    _, full, _ = rnn.loss_and_gradients(params, x, y, loss_on="all")
    frozen = rnn.per_step_updates(params, x, y, learning_rate=0.0)
    for name in rnn.RNNParameters.NAMES:
        total = sum(g[name] for g in frozen["gradients"])
        np.testing.assert_allclose(total, full[name], rtol=1e-10, atol=1e-14)
    moving = rnn.per_step_updates(params, x, y, learning_rate=0.5)
    assert not np.allclose(sum(g["W_hh"] for g in moving["gradients"]), full["W_hh"], rtol=1e-3)
    with pytest.raises(ValueError, match="truncate"):
        rnn.per_step_updates(params, x, y, learning_rate=0.1, truncate=0)


def test_sgd_train_counts_updates_per_scheme_and_next_value_sequences():
    inputs, targets = rnn.next_value_sequences(np.arange(43.0), 4)
    assert inputs.shape == targets.shape == (10, 4, 1)
    np.testing.assert_array_equal(targets[:, :, 0], inputs[:, :, 0] + 1)
    params = rnn.RNNParameters.initialize(1, 3, 1, seed=0)
    scaled = (inputs / 43.0, targets / 43.0)
    _, bptt = rnn.sgd_train(params, *scaled, epochs=2, batch_size=4, learning_rate=0.01)
    _, per_step = rnn.sgd_train(params, *scaled, epochs=2, batch_size=4, learning_rate=0.01, scheme="per_step")
    assert (bptt["updates"], per_step["updates"]) == (2 * 3, 2 * 3 * 4)  # 3 batches of 4, 4, 2; T = 4
    assert len(bptt["mse"]) == 2 and all(np.isfinite(bptt["mse"] + per_step["mse"]))
    with pytest.raises(ValueError, match="scheme"):
        rnn.sgd_train(params, *scaled, epochs=1, batch_size=4, learning_rate=0.01, scheme="rtrl")
