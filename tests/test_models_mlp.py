"""Unit I multi-layer perceptrons: the 2-2-1 XOR/XNOR network and the deep feed-forward net."""

import keras
import numpy as np
import pytest

from contract import make_contract_test
from dlcourse.models.mlp import build_deep_ffn, build_xor_mlp, set_hand_xor_weights
from dlcourse.scratch.perceptron import truth_table

# Deep FFN by hand: 784*256+256 + 256*128+128 + 128*64+64 + 64*10+10
#                 = 200,960 + 32,896 + 8,256 + 650 = 242,762.
DEEP_FFN_PARAMETERS = (784 * 256 + 256) + (256 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10)

CONTRACT_CASES = {
    "xor_mlp": ({}, 9),  # 2*2+2 + 2*1+1
    "deep_ffn": ({"input_shape": (8, 8, 1), "hidden_units": (8, 8, 8)}, DEEP_FFN_PARAMETERS),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def test_deep_ffn_defaults_are_deep():
    assert DEEP_FFN_PARAMETERS == 242_762
    model = build_deep_ffn()
    hidden = [layer for layer in model.layers if layer.name.startswith("deep_ffn_dense")]
    assert [layer.units for layer in hidden] == [256, 128, 64]
    assert len(hidden) >= 3  # the notes' definition of "deep" (Unit I, Deep Feed Forward Networks)
    assert model.output_shape == (None, 10)
    assert model.get_layer("deep_ffn_output").activation.__name__ == "softmax"
    probabilities = model.predict(np.random.default_rng(0).random((3, 28, 28, 1)), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_deep_ffn_dropout_adds_layers_not_parameters():
    model = build_deep_ffn(dropout_rate=0.3)
    assert model.count_params() == DEEP_FFN_PARAMETERS
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [
        "deep_ffn_dropout1", "deep_ffn_dropout2", "deep_ffn_dropout3"]


def test_deep_ffn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="hidden_units"):
        build_deep_ffn(hidden_units=())
    with pytest.raises(ValueError, match="dropout_rate"):
        build_deep_ffn(dropout_rate=1.0)


def test_xor_mlp_layout():
    model = build_xor_mlp()
    assert model.count_params() == 9
    assert [layer.name for layer in model.layers] == ["xor_mlp_inputs", "xor_mlp_hidden", "xor_mlp_output"]
    assert model.get_layer("xor_mlp_output").activation.__name__ == "sigmoid"
    assert build_xor_mlp(hidden_units=3).count_params() == 2 * 3 + 3 + 3 + 1


@pytest.mark.parametrize("activation", ["swish", "tanh", "sigmoid", "relu"])
def test_hand_set_weights_solve_xor_and_xnor(activation):
    inputs, xor = truth_table("xor")
    model = build_xor_mlp(activation=activation)
    for xnor, targets in ((False, xor), (True, 1.0 - xor)):
        set_hand_xor_weights(model, xnor=xnor)
        probabilities = model.predict(inputs, verbose=0).ravel()
        np.testing.assert_array_equal(probabilities > 0.5, targets > 0.5)
        np.testing.assert_allclose(probabilities, targets, atol=0.01)


def test_hand_set_weights_need_two_hidden_units():
    with pytest.raises(ValueError, match="2 hidden units"):
        set_hand_xor_weights(build_xor_mlp(hidden_units=3))


@pytest.mark.parametrize("seed", [0, 3])
def test_trained_xor_and_xnor_are_exact(seed):
    # The lab's settings: 200 full-batch Adam(0.1) steps (the 4-row table repeated 200 times).
    inputs, xor = truth_table("xor")
    for targets in (xor, 1.0 - xor):
        keras.utils.set_random_seed(seed)
        model = build_xor_mlp()
        model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy")
        model.fit(np.tile(inputs, (200, 1)), np.tile(targets, 200), batch_size=4, epochs=1,
                  shuffle=False, verbose=0)
        probabilities = model.predict(inputs, verbose=0).ravel()
        np.testing.assert_array_equal(probabilities > 0.5, targets > 0.5)
        assert np.max(np.abs(probabilities - targets)) < 0.25
