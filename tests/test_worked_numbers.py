"""The course documents' worked numbers of Units I-II, each recomputed by the package or by Keras.

Nothing here is a copied constant checked against itself: every number the notes print is the
result of a Keras layer's shapes, a Keras loss or a package function, compared with the printed value.
"""

import keras
import numpy as np
import pytest

from dlcourse.models.lenet import LENET5_TABLE, build_lenet5, connections, output_size


def _multiplications(input_shape, filters, kernel_size, strides=1):
    """Multiplications of one convolution: output positions x filters x (kernel height x width x depth).

    The output shape is Keras' (a built ``Conv2D``), the kernel volume its kernel's shape.
    """
    layer = keras.layers.Conv2D(filters, kernel_size, strides=strides, use_bias=False)
    output = layer(np.zeros((1, *input_shape), dtype="float32"))
    return int(np.prod(output.shape[1:])) * int(np.prod(layer.kernel.shape[:-1])), tuple(output.shape[1:])


@pytest.mark.parametrize("input_shape, filters, strides, expected_output, expected", [
    ((6, 6, 1), 1, 1, (4, 4, 1), 144),  # 003 §2.3 (003 L447): (4 x 4) x (3 x 3)
    ((6, 6, 1), 1, 2, (2, 2, 1), 36),  # 003 §2.3, "Stride" (003 L451): (2 x 2) x (3 x 3)
    ((6, 6, 3), 2, 1, (4, 4, 2), 864),  # 003 §2.5 (003 L471): (4 x 4 x 2) x (3 x 3 x 3)
])
def test_the_handbooks_multiplication_counts(input_shape, filters, strides, expected_output, expected):
    # The handbook's figures are missing; a 6x6 (x3) input is the one its counts imply
    # (docs/SOURCES.md, erratum B65).
    count, output = _multiplications(input_shape, filters, 3, strides)
    assert output == expected_output
    assert output[0] == output_size(input_shape[0], 3, strides=strides)  # floor((6 - 3) / S) + 1
    assert count == expected


def _total_error(target, output):
    """003 §2.8 "Total Error" = sum 1/2 (target - output)^2, via Keras' summed squared error."""
    squared = keras.losses.MeanSquaredError(reduction="sum")  # one class per row: sum over the classes
    column = np.asarray(target, dtype="float32")[:, None], np.asarray(output, dtype="float32")[:, None]
    return 0.5 * float(squared(*column))


def test_the_handbooks_total_error_before_and_after_training():
    target = [0, 0, 1, 0]  # 003 §2.8 (003 L505-L531): the boat image
    assert _total_error(target, [0.2, 0.4, 0.1, 0.3]) == pytest.approx(0.55)  # Step 2's output
    assert _total_error(target, [0.1, 0.1, 0.7, 0.1]) == pytest.approx(0.06)  # after Step 4


def test_a_gradient_step_on_the_total_error_lowers_it():
    # Step 4: gradient descent on Total Error moves the boat's output towards the target; a softmax
    # layer whose logits start at log([0.2, 0.4, 0.1, 0.3]) begins at the handbook's 0.55.
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(4, activation="softmax")])
    model.layers[0].set_weights([np.zeros((1, 4), "float32"), np.log(np.array([0.2, 0.4, 0.1, 0.3], "float32"))])
    target = np.array([[0, 0, 1, 0]], dtype="float32")
    model.compile(optimizer=keras.optimizers.SGD(10.0), loss=keras.losses.MeanSquaredError(reduction="sum"))
    before = 0.5 * 4 * model.evaluate(np.ones((1, 1)), target, verbose=0)  # MSE averages the 4 classes
    model.fit(np.ones((1, 1)), target, epochs=20, verbose=0)
    after = 0.5 * 4 * model.evaluate(np.ones((1, 1)), target, verbose=0)
    assert before == pytest.approx(0.55, abs=1e-6)
    assert after < 0.06 < before  # beyond the handbook's second output
    assert np.argmax(model.predict(np.ones((1, 1)), verbose=0)) == 2  # now the boat


def test_the_qa_sheets_volume_example():
    # 001 Q2 (001 L88-L93): 32x32x3 -> 12 filters -> 32x32x12 -> activation -> 2x2 / stride 2 max pool
    # -> 16x16x12. The conv keeps 32x32 only with 'same' padding and stride 1 (erratum B64).
    inputs = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(12, 3, padding="same")(inputs)
    activation = keras.layers.ReLU()(conv)
    pooled = keras.layers.MaxPooling2D(2, strides=2)(activation)
    assert tuple(conv.shape[1:]) == tuple(activation.shape[1:]) == (32, 32, 12)
    assert tuple(pooled.shape[1:]) == (16, 16, 12)
    valid = keras.layers.Conv2D(12, 3)(inputs)
    assert tuple(valid.shape[1:]) == (30, 30, 12)  # the default padding does not give the sheet's volume


@pytest.fixture(scope="module")
def lenet():
    return build_lenet5()


@pytest.mark.parametrize("key, expected", [("c1", 122_304), ("s2", 5_880), ("c3", 151_600), ("s4", 2_000),
                                           ("c5", 48_120), ("f6", 10_164)])
def test_lenet5_connections_from_the_layer_shapes(lenet, key, expected):
    # 003 §2.10.2 (003 L657-L765): (input + bias) * feature maps * feature map size
    assert connections(lenet.get_layer(f"lenet5_{key}")) == expected == LENET5_TABLE[key][2]


def test_lenet5_connections_equal_parameters_times_map_size_for_convolutions(lenet):
    # "connections = trainable params * feature map size" for C1, C3 and C5 (weights are shared)
    for key in ("c1", "c3", "c5"):
        layer = lenet.get_layer(f"lenet5_{key}")
        assert connections(layer) == layer.count_params() * layer.output.shape[1] * layer.output.shape[2]
    with pytest.raises(TypeError, match="Flatten"):
        connections(lenet.get_layer("lenet5_flatten"))
