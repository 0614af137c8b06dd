"""dlcourse.models.cnn: Listings II-A and II-B layer for layer, and the normalization variants."""

import keras
import numpy as np
import pytest

from dlcourse.models.cnn import build_cifar10_cnn, build_simple_cnn, normalization_layer
from contract import make_contract_test

CONTRACT_CASES = {
    "simple_cnn": (dict(input_shape=(12, 12, 3), filters=4, units=8), 3_938_570),
    "cifar10_cnn": (dict(filters=(4, 8, 8), units=8), 122_954),
}
test_builder_contract = make_contract_test(CONTRACT_CASES)


def _non_trainable(model):
    return sum(int(np.prod(weight.shape)) for weight in model.non_trainable_weights)


def test_listing_ii_b_layer_by_layer():
    model = build_cifar10_cnn()
    expected = {  # name -> (output shape, parameters), derived from Listing II-B's layers
        "conv1": ((30, 30, 32), 896), "batch_norm1": ((30, 30, 32), 128), "pool1": ((15, 15, 32), 0),
        "conv2": ((13, 13, 64), 18_496), "batch_norm2": ((13, 13, 64), 256), "pool2": ((6, 6, 64), 0),
        "conv3": ((4, 4, 64), 36_928), "flatten": ((1024,), 0), "dense1": ((64,), 65_600),
        "logits": ((10,), 650),
    }
    for suffix, (shape, parameters) in expected.items():
        layer = model.get_layer(f"cifar10_cnn_{suffix}")
        assert tuple(layer.output.shape[1:]) == shape, suffix
        assert layer.count_params() == parameters, suffix
    assert model.count_params() == 122_954
    assert _non_trainable(model) == 192  # BN moving means and variances


def test_listing_ii_b_outputs_logits():
    model = build_cifar10_cnn()
    assert model.layers[-1].activation is keras.activations.linear
    assert model.layers[-1].get_config()["activation"] == "linear"


def test_listing_ii_a_layer_by_layer():
    model = build_simple_cnn()
    assert model.input.shape[1:] == (64, 64, 3)
    assert model.get_layer("simple_cnn_conv1").count_params() == 896
    assert tuple(model.get_layer("simple_cnn_pool1").output.shape[1:]) == (31, 31, 32)
    assert model.get_layer("simple_cnn_flatten").output.shape[-1] == 30_752
    assert model.get_layer("simple_cnn_dense1").count_params() == 3_936_384
    assert model.get_layer("simple_cnn_output").count_params() == 1_290
    probabilities = build_simple_cnn(input_shape=(8, 8, 3), filters=2, units=4)(np.zeros((2, 8, 8, 3)))
    np.testing.assert_allclose(np.asarray(probabilities).sum(axis=-1), 1.0, rtol=1e-6)  # softmax


@pytest.mark.parametrize("normalization, parameters, non_trainable, layer_type", [
    ("batch", 122_954, 192, keras.layers.BatchNormalization),
    ("layer", 122_762, 0, keras.layers.GroupNormalization),
    ("instance", 122_762, 0, keras.layers.GroupNormalization),
    ("group", 122_762, 0, keras.layers.GroupNormalization),
    (None, 122_570, 0, None),
])
def test_normalization_variants(normalization, parameters, non_trainable, layer_type):
    model = build_cifar10_cnn(normalization=normalization)
    assert model.count_params() == parameters
    assert _non_trainable(model) == non_trainable
    norms = [layer for layer in model.layers if "norm" in layer.name]
    assert len(norms) == (0 if layer_type is None else 2)
    assert all(type(layer) is layer_type for layer in norms)


def test_group_counts_of_normalization_layers():
    assert normalization_layer("layer", name="n").groups == 1
    assert normalization_layer("instance", name="n").groups == -1
    assert normalization_layer("group", groups=4, name="n").groups == 4
    assert normalization_layer(None, name="n") is None
    with pytest.raises(ValueError):
        build_cifar10_cnn(normalization="weight")


def test_instance_normalization_standardises_each_example_and_channel():
    x = 5 + 3 * np.random.default_rng(0).standard_normal((2, 6, 6, 4)).astype("float32")
    y = np.asarray(normalization_layer("instance", name="n")(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-2)


def test_dropout_options_add_layers_without_parameters():
    model = build_cifar10_cnn(dropout_rate=0.5, spatial_dropout_rate=0.2)
    assert model.get_layer("cifar10_cnn_dropout").rate == 0.5
    assert [type(layer).__name__ for layer in model.layers].count("SpatialDropout2D") == 2
    assert model.count_params() == 122_954
    default_names = [layer.name for layer in build_cifar10_cnn().layers]
    assert not any("dropout" in name for name in default_names)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_kernel_regularizer_adds_the_handbooks_penalty(kind):
    # 003 §1.4.5 (003 L300-L308): L_total = L_data + λ Σ|w| (L1) or + λ Σ w² (L2), no 1/2; Keras'
    # L1/L2 regularisers add exactly that to model.losses, summed over the kernels (not the biases).
    lam = 1e-3
    regularizer = keras.regularizers.L1(lam) if kind == "l1" else keras.regularizers.L2(lam)
    model = build_cifar10_cnn(filters=(4, 8, 8), units=8, kernel_regularizer=regularizer)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.1, weight.shape).astype("float32") for weight in model.get_weights()])
    kernels = [weight.numpy() for weight in model.weights if weight.path.endswith("kernel")]
    assert len(kernels) == 5  # three convolutions, two dense layers
    handbook = lam * sum(np.sum(np.abs(k)) if kind == "l1" else np.sum(k ** 2) for k in kernels)
    keras_penalty = float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses))
    assert keras_penalty == pytest.approx(handbook, rel=1e-5)
    if kind == "l2":
        assert keras_penalty != pytest.approx(handbook / 2, rel=1e-2)  # not the ½λΣw² of some textbooks
    assert not build_cifar10_cnn(filters=(4, 8, 8), units=8).losses  # no penalty by default
