"""ResNet (dlcourse.models.resnet): residual blocks, the standard parameter counts, keras.applications."""

import keras
import numpy as np
import pytest

from contract import make_contract_test
from dlcourse.models.resnet import (
    RESNET_PARAMETERS, RESNET_STANDARD_PARAMETERS, build_cifar_resnet, build_resnet, residual_block)

CONTRACT_CASES = {
    "resnet": (dict(depth=18, input_shape=(32, 32, 3), num_classes=3, filters=(2, 4, 4, 8)), 25_636_712),
    "cifar_resnet": (dict(depth=8, input_shape=(8, 8, 3), num_classes=3, filters=(2, 4, 4)), 271_098),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def _trainable(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def _zero_convolutions(model):
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([np.zeros_like(weight) for weight in layer.get_weights()])


def _block_model(input_shape, filters, **kwargs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, residual_block(inputs, filters, name="b", **kwargs))


def test_identity_block_with_f_zero_is_the_identity():
    # The notes: H(x) = f(x) + x, and f(x) = 0 gives H(x) = x (for x >= 0, the ReLU after the addition).
    block = _block_model((6, 6, 4), 4)
    assert not any(layer.name.startswith("b_0") for layer in block.layers)  # identity shortcut
    assert block.count_params() == 2 * ((9 * 4 * 4 + 4) + 4 * 4)  # two 3x3 convs + BN (4 weights/channel)
    _zero_convolutions(block)
    x = np.random.default_rng(0).random((2, 6, 6, 4)).astype("float32")
    np.testing.assert_allclose(block.predict(x, verbose=0), x, atol=1e-6)
    assert block.layers[-1].name == "b_out" and block.layers[-2].name == "b_add"  # ReLU after the addition


def test_projection_shortcut_is_a_strided_1x1_convolution():
    block = _block_model((8, 8, 4), 8, stride=2)
    projection = block.get_layer("b_0_conv")
    assert tuple(projection.kernel_size) == (1, 1) and tuple(projection.strides) == (2, 2)
    assert block.output_shape == (None, 4, 4, 8)
    # H(x) = F(x) + W_s x: with F = 0 the output is ReLU(BN(W_s x)) of the subsampled input.
    _zero_convolutions(block)
    projection.set_weights([np.eye(4, 8).reshape(1, 1, 4, 8).astype("float32"), np.zeros(8, "float32")])
    x = np.random.default_rng(1).random((1, 8, 8, 4)).astype("float32")
    expected = np.concatenate([x[:, ::2, ::2, :], np.zeros((1, 4, 4, 4))], axis=-1) / np.sqrt(1 + 1.001e-5)
    np.testing.assert_allclose(block.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_zero_padding_shortcut_has_no_parameters():
    padded = _block_model((8, 8, 4), 8, stride=2, projection=False)
    assert padded.count_params() == (9 * 4 * 8 + 8) + (9 * 8 * 8 + 8) + 2 * 4 * 8
    _zero_convolutions(padded)
    x = np.random.default_rng(2).random((1, 8, 8, 4)).astype("float32")
    expected = np.pad(x[:, ::2, ::2, :], ((0, 0), (0, 0), (0, 0), (2, 2)))
    np.testing.assert_allclose(padded.predict(x, verbose=0), expected, atol=1e-6)


def test_bottleneck_block_and_plain_block():
    bottleneck = _block_model((8, 8, 64), 16, bottleneck=True)
    assert bottleneck.output_shape == (None, 8, 8, 64)  # 4 x filters: identity shortcut
    assert [layer.name for layer in bottleneck.layers if isinstance(layer, keras.layers.Conv2D)] == \
        ["b_1_conv", "b_2_conv", "b_3_conv"]
    plain = _block_model((8, 8, 4), 4, shortcut=False)
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    with pytest.raises(ValueError):
        _block_model((8, 8, 4), 4, stride=3)


@pytest.mark.slow
def test_resnet50_is_keras_applications_resnet50():
    # Same layers in the same order: copying keras' weights gives identical predictions.
    ours = build_resnet(depth=50, input_shape=(32, 32, 3), num_classes=10)
    reference = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
    assert ours.count_params() == reference.count_params()
    ours.set_weights(reference.get_weights())
    x = np.random.default_rng(3).random((2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("depth, standard, with_bias", [(18, 11_689_512, 11_703_912), (34, 21_797_672, 21_823_208)])
def test_resnet_18_34_standard_parameter_counts(depth, standard, with_bias):
    model = build_resnet(depth=depth, use_bias=False)
    assert _trainable(model) == standard == RESNET_STANDARD_PARAMETERS[depth]  # the published counts
    conv_biases = sum(layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv_biases == {18: 4_800, 34: 8_512}[depth]
    assert model.count_params() + conv_biases == with_bias == RESNET_PARAMETERS[depth]
    assert model.output_shape == (None, 1000)
    keras.backend.clear_session()
    assert build_resnet(depth=depth).count_params() == with_bias  # use_bias=True, the default


def test_resnet50_has_the_published_25_557_032_parameters():
    # Built at the defaults (224x224x3, 1000 classes): ~1 s per build. The published count (torchvision,
    # the paper's "25.6M") is the trainable weights without convolution biases.
    standard = build_resnet(depth=50, use_bias=False)
    assert standard.output_shape == (None, 1000)
    assert _trainable(standard) == 25_557_032 == RESNET_STANDARD_PARAMETERS[50]
    # Keras also counts batch-norm moving means and variances: 2 per channel of the 53 BN layers.
    bn_channels = sum(layer.weights[0].shape[0] for layer in standard.layers
                      if isinstance(layer, keras.layers.BatchNormalization))
    assert standard.count_params() == 25_557_032 + 2 * bn_channels == 25_610_152
    # With convolution biases (one per output channel of the 53 convolutions) it is
    # keras.applications.ResNet50(weights=None): test_builder_contract builds the default and asserts
    # 25,636,712, test_resnet50_is_keras_applications_resnet50 compares it with keras' model.
    conv_biases = sum(layer.filters for layer in standard.layers if isinstance(layer, keras.layers.Conv2D))
    assert 25_610_152 + conv_biases == 25_636_712 == RESNET_PARAMETERS[50] == CONTRACT_CASES["resnet"][1]
    # The handbook's "~25M" for ResNet-50 (003 §2.9.3).
    assert 25_000_000 <= 25_557_032 < 26_000_000
    assert sorted(RESNET_PARAMETERS) == sorted(RESNET_STANDARD_PARAMETERS) == [18, 34, 50]


def test_cifar_resnet_20_is_the_papers_027m_network():
    residual = build_cifar_resnet(depth=20)
    plain = build_cifar_resnet(depth=20, residual=False)
    assert residual.count_params() == plain.count_params() == 271_098
    assert _trainable(residual) == 269_722  # the paper's "0.27M"
    weight_layers = [layer for layer in residual.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weight_layers) == 20  # 6n + 2 with n = 3, zero-padding shortcuts add none
    assert sum(isinstance(layer, keras.layers.Add) for layer in residual.layers) == 9
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    assert residual.get_layer("cifar_resnet_conv4_block3_out").output.shape[1:] == (8, 8, 64)
    assert _trainable(build_cifar_resnet(depth=56)) == 853_018  # the paper's "0.85M" (README, lab 08)


def test_cifar_resnet_with_projections():
    model = build_cifar_resnet(depth=8, projection=None)
    assert model.get_layer("cifar_resnet_conv3_block1_0_conv").count_params() == 16 * 32


@pytest.mark.parametrize("build, kwargs", [
    (build_resnet, dict(depth=20)),
    (build_resnet, dict(input_shape=(16, 16, 3))),
    (build_resnet, dict(filters=(64, 128, 256))),
    (build_cifar_resnet, dict(depth=21)),
    (build_cifar_resnet, dict(depth=2)),
    (build_cifar_resnet, dict(filters=(16, 32))),
])
def test_bad_arguments_raise_value_error(build, kwargs):
    with pytest.raises(ValueError):
        build(**kwargs)
