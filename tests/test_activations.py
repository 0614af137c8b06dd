"""dlcourse.activations: the notes' formulas, their worked values, and derivatives vs GradientTape."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse import activations as act

X = np.linspace(-4.0, 4.0, 40)  # an even count: never exactly 0, where ReLU has no derivative


def test_notes_worked_values():
    values = act.worked_values()
    assert values["sigmoid(0)"] == 0.5
    assert values["tanh(0)"] == 0.0
    assert values["relu(-2)"] == 0.0 and values["relu(3)"] == 3.0
    assert values["leaky_relu(-10, alpha=0.01)"] == pytest.approx(-0.1)  # the text's alpha
    assert values["leaky_relu(-10, alpha=0.1)"] == pytest.approx(-1.0)  # the figure's alpha
    assert values["elu(-1, alpha=1)"] == pytest.approx(math.exp(-1) - 1)
    assert values["sigmoid'(0)"] == 0.25 and values["tanh'(0)"] == 1.0


def test_softmax_matches_handbook_example_and_its_rounding_error():
    probabilities = act.softmax([5.0, 2.0, -1.0])
    np.testing.assert_allclose(probabilities, [0.950330, 0.047314, 0.002356], atol=5e-6)
    assert probabilities.sum() == pytest.approx(1.0)
    assert probabilities[2] < 0.003  # the handbook prints 0.3%; exactly it is 0.24%


def test_formulas_against_closed_forms():
    np.testing.assert_allclose(act.sigmoid(X), 1 / (1 + np.exp(-X)))
    np.testing.assert_allclose(act.tanh(X), (np.exp(X) - np.exp(-X)) / (np.exp(X) + np.exp(-X)))
    np.testing.assert_allclose(act.leaky_relu(X, alpha=0.01), np.maximum(0.01 * X, X))
    np.testing.assert_allclose(act.elu(X), np.where(X >= 0, X, np.exp(X) - 1))
    np.testing.assert_allclose(act.sigmoid_derivative(X), act.sigmoid(X) * (1 - act.sigmoid(X)))
    np.testing.assert_allclose(act.elu_derivative(X), np.where(X >= 0, 1.0, act.elu(X) + 1.0))


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise"):
        assert act.sigmoid(np.array([-1000.0]))[0] == 0.0
        assert act.sigmoid(np.array([1000.0]))[0] == 1.0


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_derivatives_match_finite_differences(name):
    function, derivative = act.ACTIVATIONS[name]
    step = 1e-6
    numeric = (function(X + step) - function(X - step)) / (2 * step)
    np.testing.assert_allclose(derivative(X), numeric, atol=1e-6)


def test_derivatives_match_gradient_tape_of_keras_activations():
    errors = act.gradient_check(X)
    assert set(errors) == {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "prelu", "gelu", "swish", "softmax"}
    for name, error in errors.items():
        assert error["value"] < 1e-6, name
        assert error["derivative"] < 1e-6, name


def test_softmax_jacobian_against_gradient_tape():
    z = tf.constant([[0.3, -1.2, 2.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        s = tf.nn.softmax(z)
    np.testing.assert_allclose(act.softmax_jacobian(z.numpy()), tape.batch_jacobian(s, z).numpy()[0],
                               atol=1e-12)
    np.testing.assert_allclose(act.softmax_jacobian([1.0, 2.0, 3.0]).sum(axis=0), 0.0, atol=1e-12)


def test_leaky_relu_slope_is_explicit_and_keras_defaults_differ():
    assert act.leaky_relu(-1.0) == pytest.approx(-0.01)
    assert act.leaky_relu(-1.0, alpha=0.3) == pytest.approx(-0.3)
    np.testing.assert_allclose(act.leaky_relu_derivative(np.array([-2.0, 2.0]), alpha=0.2), [0.2, 1.0])
    # Why the slope must be passed: Keras' layer default is 0.3, not the notes' 0.01.
    assert keras.layers.LeakyReLU().negative_slope == pytest.approx(0.3)


def test_relu_derivative_is_zero_or_one():
    assert set(np.unique(act.relu_derivative(X))) == {0.0, 1.0}
    assert act.relu_derivative(np.array([0.0]))[0] == 0.0


def test_maxout_numpy_reference():
    x = np.array([[-2.0], [0.5], [3.0]])
    kernel = np.array([[[1.0, -1.0]]])  # pieces x and -x: maxout is |x|
    np.testing.assert_allclose(act.maxout(x, kernel, np.zeros((1, 2))), np.abs(x))
    kernel = np.array([[[1.0, 0.0]]])  # pieces x and 0: maxout is ReLU
    np.testing.assert_allclose(act.maxout(x, kernel, np.zeros((1, 2)))[:, 0], act.relu(x[:, 0]))


def test_plot_activations_has_a_function_and_derivative_panel_each():
    figure = act.plot_activations(np.linspace(-1, 1, 11))
    assert len(figure.axes) == 2 * (len(act.ACTIVATIONS) + 2)


def test_gelu_swish_prelu_closed_forms_and_worked_values():
    # 003 §1.4.2 (003 L253-L254): GELU x·Φ(x), Swish x·σ(x); 000 L672: Parametric ReLU max(αx, x)
    values = act.worked_values()
    assert values["gelu(1)"] == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))))  # Φ(1) = 0.8413
    assert values["swish(1)"] == pytest.approx(1 / (1 + math.exp(-1)))  # σ(1) = 0.7311
    assert values["prelu(-2, alpha=0.25)"] == pytest.approx(-0.5)
    np.testing.assert_allclose(act.gelu_derivative([-10.0, 0.0, 10.0]), [0.0, 0.5, 1.0], atol=1e-12)
    np.testing.assert_allclose(act.swish_derivative([0.0]), [0.5])
    x = np.linspace(-4, 4, 81)
    np.testing.assert_allclose(act.prelu(x, 0.3), keras.layers.LeakyReLU(negative_slope=0.3)(x), atol=1e-6)


def test_gelu_and_swish_are_bounded_below_unlike_the_handbooks_range():
    # erratum B66: the minimum is where the derivative is 0
    values = act.worked_values()
    assert values["min gelu"] == pytest.approx(-0.17, abs=1e-3)
    assert values["min swish"] == pytest.approx(-0.2785, abs=1e-3)
    assert abs(float(act.gelu_derivative(-0.7518))) < 1e-3 and abs(float(act.swish_derivative(-1.2785))) < 1e-3
    assert act.RANGES["gelu"].startswith("[-0.170") and act.RANGES["swish"].startswith("[-0.278")


def test_prelu_slope_is_learned_by_keras():
    # erratum A55: PReLU's α is a trainable weight; d loss / d α = Σ min(x, 0) for loss = Σ f(x)
    layer = keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(act.PRELU_ALPHA))
    x = np.array([[-2.0], [-1.0], [3.0]], dtype="float32")
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(layer(x))
    assert layer.trainable_weights == [layer.alpha]
    assert float(tape.gradient(loss, layer.alpha)[0]) == pytest.approx(-3.0)
    np.testing.assert_allclose(np.asarray(layer(x))[:, 0], act.prelu(x[:, 0]), atol=1e-6)
