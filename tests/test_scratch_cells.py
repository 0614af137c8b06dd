"""NumPy LSTM and GRU cells (dlcourse/scratch/cells.py) against Keras layers, and the parameter counts."""

import numpy as np
import pytest

import keras

from dlcourse.scratch import cells


def _random_weights(layer, seed):
    """Non-trivial weights (biases included) so every term of the equations matters."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()])
    return layer.get_weights()


def _inputs(seed=0, batch=3, steps=5, features=4):
    return np.random.default_rng(seed).normal(size=(batch, steps, features))


def test_lstm_matches_keras_with_gate_order_i_f_c_o():
    x = _inputs()
    layer = keras.layers.LSTM(6, return_sequences=True, return_state=True, dtype="float64")
    layer.build(x.shape)
    kernel, recurrent_kernel, bias = _random_weights(layer, 1)
    expected, h_expected, c_expected = (v.numpy() for v in layer(x))
    outputs, h, c = cells.lstm_forward(x, kernel, recurrent_kernel, bias)
    np.testing.assert_allclose(outputs, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, h_expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, c_expected, rtol=1e-10, atol=1e-12)
    # Swapping the i and f blocks changes the result: the order really is i, f, c, o.
    swapped = [np.concatenate([w[..., 6:12], w[..., :6], w[..., 12:]], axis=-1)
               for w in (kernel, recurrent_kernel, bias)]
    assert not np.allclose(cells.lstm_forward(x, *swapped)[0], expected, atol=1e-6)


def test_lstm_keras_default_forget_bias_is_one():
    layer = keras.layers.LSTM(3)
    layer.build((None, 2, 5))
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_matches_keras(reset_after):
    x = _inputs(seed=2)
    layer = keras.layers.GRU(5, reset_after=reset_after, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    weights = _random_weights(layer, 3)
    assert weights[2].shape == ((2, 15) if reset_after else (15,))
    outputs, h = cells.gru_forward(x, *weights, reset_after=reset_after)
    expected = layer(x).numpy()
    np.testing.assert_allclose(outputs, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, expected[:, -1], rtol=1e-10, atol=1e-12)


def test_gru_notes_convention_is_keras_with_z_replaced_by_one_minus_z():
    """The notes' h_t = (1 − z) h_{t−1} + z h'_t is Keras' cell once the update gate is negated."""
    x = _inputs(seed=4)
    layer = keras.layers.GRU(5, reset_after=False, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    weights = _random_weights(layer, 5)
    expected = layer(x).numpy()
    notes_weights = cells.keras_gru_to_notes(*weights)
    outputs, _ = cells.gru_forward(x, *notes_weights, reset_after=False, convention="notes")
    np.testing.assert_allclose(outputs, expected, rtol=1e-10, atol=1e-12)
    # With Keras' own weights the notes' equation is a different cell.
    unchanged, _ = cells.gru_forward(x, *weights, reset_after=False, convention="notes")
    assert np.max(np.abs(unchanged - expected)) > 1e-2
    with pytest.raises(ValueError, match="convention"):
        cells.gru_step(x[:, 0], np.zeros((3, 5)), *weights, convention="pytorch")


def test_peephole_lstm_with_zero_peepholes_is_the_lstm_and_each_peephole_matters():
    """001 Q4's peephole LSTM: p = 0 gives the LSTM; i and f read C_{t-1}, o reads C_t."""
    x = _inputs(seed=6)
    rng = np.random.default_rng(7)
    kernel, recurrent_kernel, bias = (rng.normal(scale=0.5, size=shape) for shape in ((4, 24), (6, 24), (24,)))
    outputs, h, c = cells.peephole_lstm_forward(x, kernel, recurrent_kernel, bias, np.zeros((3, 6)))
    expected = cells.lstm_forward(x, kernel, recurrent_kernel, bias)
    for ours, theirs in zip((outputs, h, c), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    # One step by hand from h = c = 0 with p_o = 1: o = σ(a_o + c_1), c_1 = σ(a_i) tanh(a_c).
    peephole = np.zeros((3, 6))
    peephole[2] = 1.0
    a = x[:, 0] @ kernel + bias
    c1 = cells.sigmoid(a[:, :6]) * np.tanh(a[:, 12:18])
    h1, c_step = cells.peephole_lstm_step(x[:, 0], np.zeros((3, 6)), np.zeros((3, 6)), kernel, recurrent_kernel,
                                          bias, peephole)
    np.testing.assert_allclose(c_step, c1, rtol=1e-12)
    np.testing.assert_allclose(h1, cells.sigmoid(a[:, 18:] + c1) * np.tanh(c1), rtol=1e-12)
    assert cells.peephole_lstm_parameter_count(10, 20) == 2480 + 60


# (d_x, d_h) sizes for the formula checks; (10, 20) is the worked example below.
SIZES = [(1, 1), (3, 7), (10, 20), (128, 64)]


@pytest.mark.parametrize("input_dim,units", SIZES)
def test_parameter_count_formulas_match_keras(input_dim, units):
    def keras_count(layer):
        layer.build((None, 4, input_dim))
        return layer.count_params()

    assert cells.rnn_parameter_count(input_dim, units) == keras_count(keras.layers.SimpleRNN(units))
    assert cells.lstm_parameter_count(input_dim, units) == keras_count(keras.layers.LSTM(units))
    assert cells.gru_parameter_count(input_dim, units, reset_after=False) == keras_count(
        keras.layers.GRU(units, reset_after=False))
    assert cells.gru_parameter_count(input_dim, units) == keras_count(keras.layers.GRU(units))
    assert cells.gru_parameter_count(input_dim, units) - cells.gru_parameter_count(
        input_dim, units, reset_after=False) == 3 * units


def test_worked_example_dx10_dh20():
    """003 Practical Exercises 03, Ex. 2 for d_x = 10, d_h = 20: RNN 620, LSTM 2480 (+1860), GRU 1860 / 1920 Keras."""
    assert cells.rnn_parameter_count(10, 20) == 620
    assert cells.lstm_parameter_count(10, 20) == 2480
    assert cells.gru_parameter_count(10, 20, reset_after=False) == 1860
    assert cells.gru_parameter_count(10, 20) == 1920
    # Handbook 10.3: "approximately 25% fewer parameters" than an LSTM: exact for the classic GRU.
    assert 1 - cells.gru_parameter_count(10, 20, reset_after=False) / 2480 == pytest.approx(0.25)


@pytest.mark.parametrize("input_dim,units", SIZES)
def test_exercise_lstm_has_three_more_rnn_blocks(input_dim, units):
    """Practical Exercises 03, Ex. 2: an LSTM has 3·d_h(d_x + d_h + 1) more parameters than an RNN."""
    extra = cells.lstm_extra_parameters(input_dim, units)
    assert extra == 3 * units * (input_dim + units + 1)
    rnn_layer, lstm_layer = keras.layers.SimpleRNN(units), keras.layers.LSTM(units)
    rnn_layer.build((None, 2, input_dim))
    lstm_layer.build((None, 2, input_dim))
    assert lstm_layer.count_params() - rnn_layer.count_params() == extra
