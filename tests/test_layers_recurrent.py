"""dlcourse.layers.recurrent: the peephole LSTM cell (001 Q4) against its NumPy oracle, its parameter
count, and its .h5 reload in a fresh process."""

import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import fresh_process
import dlcourse  # noqa: F401
from dlcourse import artifacts
from dlcourse.layers.recurrent import PeepholeLSTMCell, peephole_lstm, peephole_oracle_error
from dlcourse.models.recurrent import build_sentiment_model
from dlcourse.scratch import cells


def _randomized(layer, x, seed):
    """Build ``layer`` for ``x`` and give every weight (peepholes and biases included) random values."""
    layer.build(x.shape)
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()])
    return layer.get_weights()


def _inputs(seed=0, batch=3, steps=6, features=4):
    return np.random.default_rng(seed).normal(size=(batch, steps, features))


def test_keras_cell_equals_the_numpy_oracle_over_a_sequence():
    x = _inputs()
    layer = keras.layers.RNN(PeepholeLSTMCell(5, dtype="float64"), return_sequences=True, return_state=True,
                             dtype="float64")
    weights = _randomized(layer, x, 1)
    assert [w.shape for w in weights] == [(4, 20), (5, 20), (20,), (3, 5)]
    expected, h_expected, c_expected = (np.asarray(v) for v in layer(x))
    outputs, h, c = cells.peephole_lstm_forward(x, *weights)
    np.testing.assert_allclose(outputs, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, h_expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, c_expected, rtol=1e-10, atol=1e-12)
    assert peephole_oracle_error() <= 1e-12  # lab 13's oracle check


def test_gates_see_the_old_cell_state_and_the_output_gate_the_new_one():
    """Step 1 starts from c_0 = 0: p_i and p_f cannot change h_1, p_o can (it sees c_1)."""
    x = _inputs(seed=2, steps=1)
    layer = peephole_lstm(4, return_sequences=True, dtype="float64")
    kernel, recurrent_kernel, bias, peephole = _randomized(layer, x, 3)
    h1 = cells.peephole_lstm_forward(x, kernel, recurrent_kernel, bias, peephole)[0]
    for row, changes in ((0, False), (1, False), (2, True)):
        moved = peephole.copy()
        moved[row] += 1.0
        layer.set_weights([kernel, recurrent_kernel, bias, moved])
        assert np.allclose(np.asarray(layer(x)), h1, atol=1e-12) is not changes, row
    # With zero peepholes (the initial value) the cell is Keras' LSTM with the same weights.
    lstm = keras.layers.LSTM(4, return_sequences=True, dtype="float64")
    lstm.build(x.shape)
    lstm.set_weights([kernel, recurrent_kernel, bias])
    longer = _inputs(seed=4, steps=5)
    layer.set_weights([kernel, recurrent_kernel, bias, np.zeros_like(peephole)])
    np.testing.assert_allclose(np.asarray(layer(longer)), np.asarray(lstm(longer)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("input_dim, units", [(1, 1), (10, 20), (128, 64)])
def test_parameter_count_is_the_lstm_plus_three_peepholes(input_dim, units):
    layer = peephole_lstm(units)
    layer.build((None, 2, input_dim))
    assert layer.count_params() == cells.peephole_lstm_parameter_count(input_dim, units)
    assert layer.count_params() == 4 * units * (input_dim + units + 1) + 3 * units
    lstm = keras.layers.LSTM(units)
    lstm.build((None, 2, input_dim))
    assert layer.count_params() - lstm.count_params() == 3 * units


def test_keras_default_initialisation_forget_bias_one_and_zero_peepholes():
    layer = peephole_lstm(3)
    layer.build((None, 2, 5))
    _, _, bias, peephole = layer.get_weights()
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(peephole, np.zeros((3, 3)))
    config = PeepholeLSTMCell(3, unit_forget_bias=False, name="p").get_config()
    assert PeepholeLSTMCell.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="units"):
        PeepholeLSTMCell(0)


def test_peephole_weights_receive_gradients():
    x = _inputs(seed=5).astype("float32")
    layer = peephole_lstm(4)
    layer.build(x.shape)
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(layer(x) ** 2)
    gradients = dict(zip([v.name for v in layer.trainable_variables],
                         tape.gradient(loss, layer.trainable_variables)))
    assert float(np.abs(np.asarray(gradients["peephole"])).sum()) > 0


FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import dlcourse
    model = keras.saving.load_model(sys.argv[1], safe_mode=True)  # no custom_objects
    tokens = np.load(sys.argv[2])
    cell = model.get_layer("sentiment_model_peephole1").cell
    print(json.dumps({"predictions": np.asarray(model.predict(tokens, verbose=0)).ravel().tolist(),
                      "cell": type(cell).__name__, "units": cell.units}))
""")


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_saved_model_reloads_in_a_fresh_process_after_import_dlcourse(tmp_path):
    model = build_sentiment_model(cell="peephole", vocab_size=20, sequence_length=5, embedding_dim=4, units=3)
    rng = np.random.default_rng(6)
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])
    tokens = rng.integers(0, 20, size=(4, 5)).astype("int32")
    np.save(tmp_path / "tokens.npy", tokens)
    path = artifacts.save_model(model, tmp_path / "sentiment_peephole.h5")
    reply = fresh_process.run_json(FRESH_PROCESS, path, tmp_path / "tokens.npy")
    assert (reply["cell"], reply["units"]) == ("PeepholeLSTMCell", 3)
    np.testing.assert_allclose(reply["predictions"], model.predict(tokens, verbose=0).ravel(), rtol=1e-6, atol=1e-7)
