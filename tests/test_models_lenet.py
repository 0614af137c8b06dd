"""dlcourse.models.lenet and dlcourse.layers.lenet: LeNet-5 with the handbook's per-layer counts."""

import keras
import numpy as np
import pytest

from contract import make_contract_test
from dlcourse.layers import PartialConv2D, Subsampling
from dlcourse.layers.lenet import LENET5_C3_CONNECTIONS, connection_mask
from dlcourse.models.lenet import LENET5_TABLE, LENET5_TOTAL_PARAMS, build_lenet5, output_size

CONTRACT_CASES = {"lenet5": ({}, 60_850)}
test_builder_contract = make_contract_test(CONTRACT_CASES)


@pytest.fixture(scope="module")
def lenet():
    return build_lenet5()


@pytest.mark.parametrize("key", list(LENET5_TABLE))
def test_each_layer_matches_the_handbook(lenet, key):
    shape, parameters, _connections = LENET5_TABLE[key]
    layer = lenet.get_layer(f"lenet5_{key}")
    assert tuple(layer.output.shape[1:]) == shape
    assert layer.count_params() == parameters
    assert len(layer.trainable_weights) == len(layer.weights)  # every parameter is trainable


def test_totals(lenet):
    handbook_layers = sum(parameters for key, (_, parameters, _) in LENET5_TABLE.items() if key != "output")
    assert handbook_layers == 60_000  # "~60K" in the handbook's table
    assert lenet.count_params() == LENET5_TOTAL_PARAMS == 60_850
    assert build_lenet5(faithful=False).count_params() == 61_706  # the common Keras variant


def test_output_sizes_follow_the_formula(lenet):
    width = 32
    width = output_size(width, 5)  # C1
    assert width == 28 == lenet.get_layer("lenet5_c1").output.shape[1]
    width = output_size(width, 2, strides=2)  # S2
    assert width == 14 == lenet.get_layer("lenet5_s2").output.shape[1]
    width = output_size(width, 5)  # C3: the handbook's "(14 - 5 + 0 / 1) + 1"
    assert width == 10 == lenet.get_layer("lenet5_c3").output.shape[1]
    width = output_size(width, 2, strides=2)  # S4
    assert width == 5 == lenet.get_layer("lenet5_s4").output.shape[1]
    assert output_size(width, 5) == 1 == lenet.get_layer("lenet5_c5").output.shape[1]
    assert output_size(6, 3, strides=2) == 2  # the floor the handbook leaves out


def test_connection_table():
    mask = connection_mask(LENET5_C3_CONNECTIONS, 6)
    assert mask.sum() == 60
    np.testing.assert_array_equal(mask.sum(axis=0), [3] * 6 + [4] * 9 + [6])
    # the C3 group counts the handbook adds up: 456 + 606 + 303 + 151 = 1516
    sizes = mask.sum(axis=0).astype(int)
    groups = [sizes[:6], sizes[6:12], sizes[12:15], sizes[15:]]
    assert [int(sum(25 * s + 1 for s in group)) for group in groups] == [456, 606, 303, 151]
    with pytest.raises(ValueError):
        connection_mask(((0, 7),), 6)
    with pytest.raises(ValueError):
        PartialConv2D(((0, 0),))


def test_partial_conv_output_map_reads_only_its_inputs():
    layer = PartialConv2D(LENET5_C3_CONNECTIONS, kernel_size=5, activation="linear")
    rng = np.random.default_rng(0)
    base = rng.random((1, 14, 14, 6)).astype("float32")
    reference = np.asarray(layer(base))
    for input_map in range(6):
        changed = base.copy()
        changed[..., input_map] += 1.0
        moved = np.abs(np.asarray(layer(changed)) - reference).max(axis=(0, 1, 2)) > 1e-6
        expected = [input_map in inputs for inputs in LENET5_C3_CONNECTIONS]
        np.testing.assert_array_equal(moved, expected)


def test_partial_conv_equals_a_masked_full_convolution():
    layer = PartialConv2D(((0, 1), (1,), (0, 1)), kernel_size=3, activation="tanh")
    x = np.random.default_rng(1).random((2, 6, 6, 2)).astype("float32")
    y = np.asarray(layer(x))
    assert layer.count_params() == 9 * 5 + 3
    conv = keras.layers.Conv2D(3, 3, activation="tanh")
    conv.build((None, 6, 6, 2))
    conv.set_weights([np.asarray(layer.full_kernel()), np.asarray(layer.bias)])
    np.testing.assert_allclose(y, np.asarray(conv(x)), rtol=1e-5, atol=1e-6)


def test_subsampling_is_coefficient_times_average_plus_bias():
    layer = Subsampling(2, activation="tanh")
    x = np.random.default_rng(2).random((1, 4, 4, 2)).astype("float32")
    layer.build(x.shape)
    layer.set_weights([np.array([2.0, -1.0]), np.array([0.5, 0.0])])
    average = x.reshape(1, 2, 2, 2, 2, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(layer(x)), np.tanh(average * [2.0, -1.0] + [0.5, 0.0]), rtol=1e-5)
    assert layer.count_params() == 4

