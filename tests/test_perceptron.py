"""The handbook's perceptron exercise (003, Practical Exercises 01, Exercise 01) and the XOR limit."""

import numpy as np
import pytest

from dlcourse.scratch import perceptron
from dlcourse.scratch.perceptron import (BIPOLAR_AND_INPUTS, BIPOLAR_AND_TARGETS, BIPOLAR_XOR_INPUTS,
                                         BIPOLAR_XOR_TARGETS)


def test_sign_of_zero_is_minus_one_unlike_numpy():
    assert perceptron.sign(0.0) == -1
    assert np.sign(0.0) == 0  # why the module has its own sign
    np.testing.assert_array_equal(perceptron.sign(np.array([-0.1, 0.0, 1e-12])), [-1, -1, 1])


def test_exercise_updates_match_the_worked_answer():
    result = perceptron.train_perceptron()
    updates = result.updates
    assert len(updates) == 2 and result.epochs == 2 and result.converged
    first, second = updates
    assert (first.epoch, first.example, first.output, first.target) == (1, 1, -1, 1)
    assert first.net == pytest.approx(-0.3)
    assert first.weights == pytest.approx((0.0, 0.3)) and first.bias == pytest.approx(0.0, abs=1e-12)
    assert (second.epoch, second.example, second.output, second.target) == (1, 2, 1, -1)
    assert second.net == pytest.approx(0.3)
    assert second.weights == pytest.approx((0.2, 0.1)) and second.bias == pytest.approx(-0.2)
    # Epoch 2: every net has the right sign, the smallest margin is 0.1.
    epoch_two = [step.net for step in result.steps if step.epoch == 2]
    assert epoch_two == pytest.approx([0.1, -0.3, -0.5, -0.1])
    assert result.errors_per_epoch() == [2, 0]


def test_exercise_final_weights_and_line():
    result = perceptron.train_perceptron()
    assert result.weights == pytest.approx([0.2, 0.1])
    assert result.bias == pytest.approx(-0.2)
    np.testing.assert_array_equal(perceptron.predict(result.weights, result.bias, BIPOLAR_AND_INPUTS),
                                  BIPOLAR_AND_TARGETS)
    line = perceptron.decision_line(result.weights, result.bias)
    assert line == (2.0, 1.0, -2.0)
    assert perceptron.format_line(line) == "2 e1 + e2 - 2 = 0"


def test_np_sign_would_change_the_story():
    # With a sign(0) = 0 activation the update rule would make half-size steps; the handbook's
    # sign is what makes the exercise converge in 2 updates. Check the rule sees y = -1 at net = 0.
    result = perceptron.train_perceptron(np.array([[0.0, 0.0]]), np.array([-1.0]), weights=(0.0, 0.0), bias=0.0)
    assert result.converged and result.updates == ()


def test_single_perceptron_never_fits_xor():
    result = perceptron.train_perceptron(BIPOLAR_XOR_INPUTS, BIPOLAR_XOR_TARGETS, max_epochs=500)
    assert not result.converged and result.epochs == 500
    assert min(result.errors_per_epoch()) >= 1
    assert not perceptron.separable_weights_exist(BIPOLAR_XOR_INPUTS, BIPOLAR_XOR_TARGETS)
    # The same search finds AND, so it can fail.
    assert perceptron.separable_weights_exist(BIPOLAR_AND_INPUTS, BIPOLAR_AND_TARGETS)
    assert "2b <= 0" in perceptron.XOR_ARGUMENT and "2b > 0" in perceptron.XOR_ARGUMENT


def test_two_layer_perceptron_computes_xor_and_xnor():
    np.testing.assert_array_equal(perceptron.two_layer_xor(BIPOLAR_XOR_INPUTS), BIPOLAR_XOR_TARGETS)
    np.testing.assert_array_equal(perceptron.two_layer_xor(BIPOLAR_XOR_INPUTS, xnor=True), -BIPOLAR_XOR_TARGETS)


def test_truth_tables():
    inputs, xor = perceptron.truth_table("xor")
    _, xnor = perceptron.truth_table("XNOR")
    np.testing.assert_array_equal(xor, np.logical_xor(inputs[:, 0], inputs[:, 1]))
    np.testing.assert_array_equal(xnor, 1 - xor)
    with pytest.raises(ValueError, match="unknown truth table"):
        perceptron.truth_table("nor")


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="bipolar"):
        perceptron.train_perceptron(BIPOLAR_AND_INPUTS, np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="do not fit"):
        perceptron.train_perceptron(BIPOLAR_AND_INPUTS, BIPOLAR_AND_TARGETS, weights=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="no separating line"):
        perceptron.decision_line((0.0, 0.0), 1.0)
