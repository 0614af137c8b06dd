"""From-scratch backpropagation (Unit I, "Back-Propagation") against tf.GradientTape as the oracle."""

import numpy as np
import pytest

from dlcourse.scratch import backprop
from dlcourse.scratch.perceptron import truth_table


def _problem(seed=0, n=12, inputs=5, classes=3):
    rng = np.random.default_rng(seed)
    params = backprop.init_mlp((inputs, 7, 6, classes), seed=seed + 1)
    for layer in params:  # non-zero biases so their gradients are exercised
        layer["bias"] = rng.normal(scale=0.1, size=layer["bias"].shape)
    return params, rng.normal(size=(n, inputs)), rng


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_cross_entropy_gradients_match_gradient_tape(activation):
    params, x, rng = _problem()
    y = rng.integers(0, 3, len(x))
    report = backprop.gradient_check(params, x, y, hidden_activation=activation)
    assert set(report["relative_error"]) == {f"layer{i}_{k}" for i in (1, 2, 3) for k in ("kernel", "bias")}
    assert report["max_relative_error"] <= 1e-6
    assert report["loss"] == pytest.approx(report["tape_loss"], rel=1e-9)


@pytest.mark.parametrize("output_activation", ["linear", "sigmoid", "tanh"])
def test_mse_gradients_match_gradient_tape(output_activation):
    params, x, rng = _problem(seed=2, classes=2)
    y = rng.normal(size=(len(x), 2))
    report = backprop.gradient_check(params, x, y, loss="mse", hidden_activation="tanh",
                                     output_activation=output_activation)
    assert report["max_relative_error"] <= 1e-6


def test_a_wrong_gradient_is_caught():
    params, x, rng = _problem()
    y = rng.integers(0, 3, len(x))
    _, ours = backprop.loss_and_gradients(params, x, y)
    _, tape = backprop.keras_gradients(params, x, y)
    assert backprop.relative_error(2.0 * ours[0]["kernel"], tape[0]["kernel"]) > 0.3
    # The softmax + cross-entropy delta without the 1/n of the mean is off by n.
    assert backprop.relative_error(ours[-1]["bias"] * len(x), tape[-1]["bias"]) > 0.5


def test_cross_entropy_value_by_hand():
    params = [{"kernel": np.zeros((2, 3)), "bias": np.zeros(3)}]
    loss, grads = backprop.loss_and_gradients(params, np.ones((2, 2)), np.array([0, 2]))
    assert loss == pytest.approx(np.log(3.0))  # uniform softmax over 3 classes
    # dL/db = mean(softmax - onehot) = [1/3 - 1/2, 1/3, 1/3 - 1/2]
    np.testing.assert_allclose(grads[0]["bias"], [1 / 3 - 0.5, 1 / 3, 1 / 3 - 0.5])


def test_sgd_loss_falls_on_xor():
    inputs, targets = truth_table("xor")
    params = backprop.init_mlp((2, 4, 1), seed=0)
    options = dict(loss="mse", hidden_activation="tanh", output_activation="sigmoid")
    trained, losses = backprop.train_sgd(params, inputs, targets, learning_rate=2.0, epochs=500, batch_size=4,
                                         **options)
    assert len(losses) == 501 and losses[-1] < 0.1 * losses[0]
    output, _ = backprop.forward(trained, inputs, hidden_activation="tanh", output_activation="sigmoid")
    np.testing.assert_array_equal(output.ravel() > 0.5, targets > 0.5)
    assert params[0]["kernel"] is not trained[0]["kernel"]  # the input parameters are left alone


def test_sgd_loss_falls_on_digits_like_data():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20))
    y = rng.integers(0, 3, 150)
    x = centres[y] + 0.5 * rng.normal(size=(150, 20))
    params = backprop.init_mlp((20, 16, 3), seed=0)
    _, losses = backprop.train_sgd(params, x, y, hidden_activation="relu", learning_rate=0.1, epochs=5)
    assert losses[-1] < 0.5 * losses[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown loss"):
        backprop.loss_and_gradients(backprop.init_mlp((2, 2)), np.ones((1, 2)), np.zeros(1), loss="hinge")
    with pytest.raises(ValueError, match="layer_sizes"):
        backprop.init_mlp((3,))
    with pytest.raises(ValueError, match="softmax"):
        backprop.output_activation_for("cross_entropy", "sigmoid")
