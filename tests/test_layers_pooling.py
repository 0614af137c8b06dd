"""dlcourse.layers.pooling: the notes' pooling worked example, MinPooling2D and Maxout."""

import keras
import numpy as np
import pytest

import dlcourse  # noqa: F401  (registers the layers)
from dlcourse import artifacts
from dlcourse.layers import Maxout, MinPooling2D
from dlcourse.layers.pooling import FEATURE_MAP, WORKED_REGION, pool2d, pooling_examples


def test_notes_worked_example():
    region = np.array(WORKED_REGION)
    assert pool2d(region, 2, 2, "max")[0, 0] == 4  # printed in the notes
    assert pool2d(region, 2, 2, "average")[0, 0] == 2.5
    assert pool2d(region, 2, 2, "min")[0, 0] == 1


def test_two_by_two_stride_two_halves_the_map():
    pooled = pool2d(np.array(FEATURE_MAP), 2, 2, "max")
    assert pooled.shape == (2, 2)
    np.testing.assert_array_equal(pooled, [[6, 8], [3, 4]])
    np.testing.assert_array_equal(pool2d(np.array(FEATURE_MAP), 2, 2, "min"), [[1, 2], [1, 0]])
    np.testing.assert_array_equal(pool2d(np.array(FEATURE_MAP), 2, 2, "average"), [[3.25, 5.25], [2, 2]])
    assert pool2d(np.zeros((8, 6)), 2, 2).shape == (4, 3)


def test_pooling_examples_agree_with_keras_layers():
    results = pooling_examples()
    for example in results.values():
        assert example["agree"]
    worked = results["worked_region"]["keras"]
    assert (worked["max"], worked["average"], worked["min"]) == ([[4.0]], [[2.5]], [[1.0]])
    assert results["feature_map"]["keras"]["global_max"] == 8.0
    assert results["feature_map"]["keras"]["global_average"] == pytest.approx(3.125)


def test_min_pooling_is_minus_max_of_minus():
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    ours = np.asarray(MinPooling2D(pool_size=2, strides=2)(x))
    np.testing.assert_allclose(ours, -np.asarray(keras.layers.MaxPooling2D(2, 2)(-x)))
    np.testing.assert_allclose(ours[1, :, :, 2], pool2d(x[1, :, :, 2], 2, 2, "min"))
    assert MinPooling2D(3, strides=1, padding="same")(x).shape == (2, 6, 6, 3)


def test_pool2d_rejects_unknown_mode():
    with pytest.raises(ValueError):
        pool2d(np.zeros((2, 2)), mode="median")


def test_maxout_weights_and_output():
    layer = Maxout(units=3, pieces=2)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    y = np.asarray(layer(x))
    assert y.shape == (4, 3)
    assert layer.count_params() == (5 + 1) * 3 * 2
    kernel, bias = (np.asarray(w) for w in layer.get_weights())
    z = (x @ kernel + bias).reshape(4, 3, 2)
    np.testing.assert_allclose(y, z.max(axis=-1), rtol=1e-6)


def test_maxout_can_be_relu():
    layer = Maxout(units=1, pieces=2)
    layer.build((None, 1))
    layer.set_weights([np.array([[1.0, 0.0]]), np.zeros(2)])
    np.testing.assert_allclose(np.asarray(layer(np.array([[-2.0], [3.0]])))[:, 0], [0.0, 3.0])


def test_maxout_validates_arguments():
    with pytest.raises(ValueError):
        Maxout(units=0)


def test_custom_layers_survive_h5(tmp_path):
    inputs = keras.Input((8, 8, 2))
    x = MinPooling2D(2, name="min_pool")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = Maxout(4, pieces=3, name="maxout")(x)
    model = keras.Model(inputs, outputs)
    batch = np.random.default_rng(2).random((2, 8, 8, 2)).astype("float32")
    path = artifacts.save_model(model, tmp_path / "pooling.h5")
    reloaded = artifacts.load_model(path)
    assert reloaded.get_layer("maxout").get_config()["pieces"] == 3
    np.testing.assert_allclose(reloaded.predict(batch, verbose=0), model.predict(batch, verbose=0), rtol=1e-6)
