"""The handbook's optimizer formulas (003 §1.4.4) in NumPy, checked against Keras' optimizers."""

import keras
import numpy as np
import pytest

from dlcourse.scratch import optimizers

GRADIENTS = [np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -1.0]), np.array([-0.7, 0.4, 0.2])]


def _keras_trajectory(optimizer, theta):
    variable = keras.Variable(np.array(theta, dtype="float32"))
    trajectory = []
    for grad in GRADIENTS:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad.astype("float32")), variable)])
        trajectory.append(np.array(variable.numpy(), dtype=np.float64))
    return trajectory


def test_adam_first_step_notes_versus_bias_corrected():
    sizes = optimizers.adam_first_step_sizes()
    # Notes: m = 0.1, v = 0.001 -> 1e-3 * 0.1 / sqrt(0.001) = 3.162e-3; corrected m_hat = v_hat = 1 -> 1e-3.
    assert sizes["notes"] == pytest.approx(1e-3 * 0.1 / np.sqrt(1e-3), rel=1e-6)
    assert sizes["notes"] == pytest.approx(3.162e-3, rel=1e-3)
    assert sizes["bias_corrected"] == pytest.approx(1.0e-3, rel=1e-6)


def test_bias_corrected_adam_matches_keras():
    theta = np.array([0.5, -0.5, 1.0])
    expected = _keras_trajectory(keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-8), theta)
    m = v = np.zeros(3)
    for t, (grad, target) in enumerate(zip(GRADIENTS, expected), start=1):
        theta, m, v = optimizers.adam_step(theta, grad, m, v, t, learning_rate=0.01)
        np.testing.assert_allclose(theta, target, rtol=1e-5, atol=1e-6)


def test_notes_adam_differs_from_keras():
    theta = np.array([0.5, -0.5, 1.0])
    keras_theta = _keras_trajectory(keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-8), theta)[0]
    notes_theta, _, _ = optimizers.adam_step(theta, GRADIENTS[0], 0.0, 0.0, 1, learning_rate=0.01,
                                             bias_correction=False)
    assert np.max(np.abs(notes_theta - keras_theta)) > 1e-2


def test_momentum_and_rmsprop_match_keras():
    theta = np.array([0.5, -0.5, 1.0])
    expected = _keras_trajectory(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), theta)
    velocity, current = np.zeros(3), theta
    for grad, target in zip(GRADIENTS, expected):
        current, velocity = optimizers.momentum_step(current, grad, velocity, learning_rate=0.1, momentum=0.9)
        np.testing.assert_allclose(current, target, rtol=1e-5, atol=1e-6)
    expected = _keras_trajectory(keras.optimizers.RMSprop(learning_rate=0.01), theta)
    mean_square, current = np.zeros(3), theta
    for grad, target in zip(GRADIENTS, expected):
        current, mean_square = optimizers.rmsprop_step(current, grad, mean_square, learning_rate=0.01)
        np.testing.assert_allclose(current, target, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(optimizers.sgd_step(theta, GRADIENTS[0], learning_rate=0.1),
                               theta - 0.1 * GRADIENTS[0])


def test_adam_step_number_is_one_based():
    with pytest.raises(ValueError, match="1-based"):
        optimizers.adam_step(0.0, 1.0, 0.0, 0.0, 0)
