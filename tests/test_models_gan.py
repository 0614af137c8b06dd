"""GAN builders (dlcourse.models.gan): DCGAN, vanilla MLP GAN, conditional GAN, scoring classifier."""

import keras
import numpy as np
import pytest

from contract import make_contract_test
from dlcourse.models import BUILDERS
from dlcourse.models.gan import (build_cgan_discriminator, build_cgan_generator, build_dcgan_discriminator,
                                 build_dcgan_generator, build_gan_feature_classifier, build_mlp_discriminator,
                                 build_mlp_generator)

# Default parameter counts, layer by layer, by hand: Dense in*out (+ out bias), convolution and
# transposed convolution kh*kw*cin*cout (+ cout bias), batch norm 4 per channel (gamma, beta, moving
# mean and variance), Embedding classes*dim. Layers without weights are left out.
LAYER_PARAMETERS = {
    "dcgan_generator": {
        "projection": 100 * 7 * 7 * 256,  # z (100) -> 7x7x256, no bias (batch norm follows)
        "projection_bn": 4 * 7 * 7 * 256,  # on the 12,544 projected units, before the reshape
        "deconv1": 5 * 5 * 256 * 128,  # stride 1, no bias
        "bn1": 4 * 128,
        "deconv2": 5 * 5 * 128 * 64,  # stride 2: 7x7 -> 14x14
        "bn2": 4 * 64,
        "output": 5 * 5 * 64 * 1 + 1,  # stride 2: 14x14 -> 28x28x1, tanh, with bias
    },
    "dcgan_discriminator": {
        "conv1": 5 * 5 * 1 * 64 + 64,  # the input layer: bias, no batch norm
        "conv2": 5 * 5 * 64 * 128,  # no bias (batch norm follows)
        "bn2": 4 * 128,
        "output": 7 * 7 * 128 + 1,  # flattened 7x7x128 -> one sigmoid unit
    },
    "mlp_generator": {"dense1": 100 * 256 + 256, "dense2": 256 * 512 + 512, "output": 512 * 784 + 784},
    "mlp_discriminator": {"dense1": 784 * 512 + 512, "dense2": 512 * 256 + 256, "output": 256 + 1},
    "cgan_generator": {
        "embedding": 10 * 50,
        "projection": (100 + 50) * 7 * 7 * 256,  # [z, embedded label] -> 7x7x256
        "projection_bn": 4 * 7 * 7 * 256, "deconv1": 5 * 5 * 256 * 128, "bn1": 4 * 128,
        "deconv2": 5 * 5 * 128 * 64, "bn2": 4 * 64, "output": 5 * 5 * 64 * 1 + 1,
    },
    "cgan_discriminator": {
        "embedding": 10 * 50,
        "label_projection": 50 * 28 * 28 + 28 * 28,  # embedded label -> one 28x28 plane
        "conv1": 5 * 5 * (1 + 1) * 64 + 64,  # image + label plane
        "conv2": 5 * 5 * 64 * 128, "bn2": 4 * 128, "output": 7 * 7 * 128 + 1,
    },
    "gan_feature_classifier": {
        "conv1": 3 * 3 * 1 * 32 + 32, "conv2": 3 * 3 * 32 * 64 + 64,
        "features": 7 * 7 * 64 * 128 + 128, "output": 128 * 10 + 10,
    },
}
DCGAN_GENERATOR = sum(LAYER_PARAMETERS["dcgan_generator"].values())
DCGAN_DISCRIMINATOR = sum(LAYER_PARAMETERS["dcgan_discriminator"].values())
MLP_GENERATOR = sum(LAYER_PARAMETERS["mlp_generator"].values())
MLP_DISCRIMINATOR = sum(LAYER_PARAMETERS["mlp_discriminator"].values())
CGAN_GENERATOR = sum(LAYER_PARAMETERS["cgan_generator"].values())
CGAN_DISCRIMINATOR = sum(LAYER_PARAMETERS["cgan_discriminator"].values())
FEATURE_CLASSIFIER = sum(LAYER_PARAMETERS["gan_feature_classifier"].values())

TINY_IMAGE = dict(image_shape=(8, 8, 1))
CONTRACT_CASES = {
    "dcgan_generator": (dict(latent_dim=4, filters=(4, 4, 2), kernel_size=3, **TINY_IMAGE), DCGAN_GENERATOR),
    "dcgan_discriminator": (dict(filters=(2, 4), kernel_size=3, **TINY_IMAGE), DCGAN_DISCRIMINATOR),
    "mlp_generator": (dict(latent_dim=4, units=(8,), **TINY_IMAGE), MLP_GENERATOR),
    "mlp_discriminator": (dict(units=(8,), **TINY_IMAGE), MLP_DISCRIMINATOR),
    "cgan_generator": (dict(latent_dim=4, num_classes=3, embedding_dim=2, filters=(4, 4, 2), kernel_size=3,
                            **TINY_IMAGE), CGAN_GENERATOR),
    "cgan_discriminator": (dict(num_classes=3, embedding_dim=2, filters=(2, 4), kernel_size=3, **TINY_IMAGE),
                           CGAN_DISCRIMINATOR),
    "gan_feature_classifier": (dict(filters=(2, 4), feature_units=4, num_classes=3, **TINY_IMAGE),
                               FEATURE_CLASSIFIER),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def _parameters_from_shapes(layer):
    """A layer's parameter count from its configuration and input shape, by the usual formulas."""
    if not layer.weights:  # Input, activations, Reshape, Flatten, Concatenate
        return 0
    config, input_shape = layer.get_config(), layer.input.shape
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):  # Conv2DTranspose first
        height, width = config["kernel_size"]
        return height * width * input_shape[-1] * config["filters"] + (config["filters"] if config["use_bias"] else 0)
    if isinstance(layer, keras.layers.Dense):
        return input_shape[-1] * config["units"] + (config["units"] if config["use_bias"] else 0)
    if isinstance(layer, keras.layers.BatchNormalization):
        return 4 * input_shape[-1]
    if isinstance(layer, keras.layers.Embedding):
        return config["input_dim"] * config["output_dim"]
    raise AssertionError(f"{layer.name}: no formula for {type(layer).__name__}")


@pytest.mark.parametrize("name, total", [
    ("dcgan_generator", 2_330_945), ("dcgan_discriminator", 213_249), ("mlp_generator", 559_632),
    ("mlp_discriminator", 533_505), ("cgan_generator", 2_958_645), ("cgan_discriminator", 255_333),
    ("gan_feature_classifier", 421_642),
])
def test_parameter_counts_by_hand(name, total):
    model = BUILDERS[name]()
    counts = {layer.name.removeprefix(f"{name}_"): layer.count_params() for layer in model.layers}
    assert {layer: count for layer, count in counts.items() if count} == LAYER_PARAMETERS[name]
    for layer in model.layers:  # each count is what the layer's shapes give
        assert layer.count_params() == _parameters_from_shapes(layer), layer.name
    assert model.count_params() == sum(LAYER_PARAMETERS[name].values()) == total


def test_dcgan_generator_shapes_and_tanh_range():
    generator = build_dcgan_generator()
    shapes = [generator.get_layer(f"dcgan_generator_{name}").output.shape[1:]
              for name in ("reshape", "relu1", "relu2", "output")]
    assert shapes == [(7, 7, 256), (7, 7, 128), (14, 14, 64), (28, 28, 1)]
    images = np.asarray(generator(np.random.default_rng(0).normal(size=(3, 100)) * 50, training=False))
    assert images.shape == (3, 28, 28, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.max() - images.min() > 0.5


def test_dcgan_follows_the_notes_description():
    # 000 "DCGAN": strided convolutions instead of pooling, no fully connected hidden layers;
    # 003 §4.7.1: batch normalization, ReLU (G) / LeakyReLU (D).
    generator, discriminator = build_dcgan_generator(), build_dcgan_discriminator()
    for model in (generator, discriminator):
        assert not [layer for layer in model.layers if "Pooling" in type(layer).__name__]
        assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    generator_dense = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.name for layer in generator_dense] == ["dcgan_generator_projection"]
    assert not any(isinstance(layer, keras.layers.LeakyReLU) for layer in generator.layers)
    discriminator_dense = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Dense)]
    assert len(discriminator_dense) == 1 and discriminator_dense[0].units == 1  # only the output unit
    assert discriminator_dense[0].activation.__name__ == "sigmoid"  # D(x) is a probability
    convs = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [tuple(conv.strides) for conv in convs] == [(2, 2), (2, 2)]
    slopes = [layer.negative_slope for layer in discriminator.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert slopes == pytest.approx([0.2, 0.2])
    # No batch normalization on the discriminator's input layer (DCGAN paper).
    first_bn = next(i for i, layer in enumerate(discriminator.layers)
                    if isinstance(layer, keras.layers.BatchNormalization))
    assert discriminator.layers[first_bn - 1].name == "dcgan_discriminator_conv2"
    probabilities = np.asarray(discriminator(np.zeros((2, 28, 28, 1)), training=False))
    assert probabilities.shape == (2, 1) and np.all((probabilities > 0) & (probabilities < 1))


def test_mlp_gan_is_two_perceptrons():
    generator, discriminator = build_mlp_generator(), build_mlp_discriminator()
    assert not any(isinstance(layer, keras.layers.Conv2D) for layer in generator.layers + discriminator.layers)
    assert generator.output_shape == (None, 28, 28, 1) and discriminator.output_shape == (None, 1)
    assert [layer.units for layer in generator.layers if isinstance(layer, keras.layers.Dense)] == [256, 512, 784]


def test_conditional_generator_depends_on_the_label():
    generator = build_cgan_generator(latent_dim=8, embedding_dim=4, filters=(8, 4, 2))
    noise = np.repeat(np.random.default_rng(0).normal(size=(1, 8)), 2, axis=0).astype("float32")
    images = np.asarray(generator([noise, np.array([[0], [7]])], training=False))
    assert images.shape == (2, 28, 28, 1)
    assert np.abs(images[0] - images[1]).max() > 1e-4  # same z, different class -> different image
    discriminator = build_cgan_discriminator(embedding_dim=4, filters=(4, 8))
    scores = np.asarray(discriminator([np.repeat(images[:1], 2, axis=0), np.array([[0], [7]])], training=False))
    assert scores.shape == (2, 1) and abs(float(scores[0, 0] - scores[1, 0])) > 1e-6


def test_feature_classifier_has_a_named_feature_layer():
    model = build_gan_feature_classifier()
    assert model.get_layer("gan_feature_classifier_features").units == 128
    probabilities = np.asarray(model(np.zeros((2, 28, 28, 1)), training=False))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_bad_shapes_raise_value_error():
    with pytest.raises(ValueError, match="divisible by 4"):
        build_dcgan_generator(image_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="three numbers"):
        build_dcgan_generator(filters=(8, 4))
