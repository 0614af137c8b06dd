"""Unit V autoencoders: Listing V-A layer for layer, the variants, the noise and sparsity layers, the loss rule."""

import keras
import numpy as np
import pytest

import dlcourse  # noqa: F401  (registers the custom layers)
from contract import make_contract_test
from dlcourse import artifacts, compat
from dlcourse.layers.sampling import KLSparsityRegularizer, MaskingNoise
from dlcourse.models.autoencoder import (
    build_colorization_autoencoder,
    build_linear_probe,
    build_conv_autoencoder,
    build_dense_autoencoder,
    build_denoising_autoencoder,
    build_sparse_autoencoder,
    choose_reconstruction_loss,
    extract_encoder,
)

CONTRACT_CASES = {
    # Listing V-A: 100,480 + 8,256 + 2,080 + 2,112 + 8,320 + 101,136 (000 L2084-L2151).
    "dense_autoencoder": (dict(input_dim=12, encoder_units=(6, 3)), 222_384),
    "conv_autoencoder": (dict(input_shape=(8, 8, 1), filters=(4, 2)), 3_217),
    "denoising_autoencoder": (dict(input_shape=(8, 8, 1), filters=(4, 2)), 3_217),
    "sparse_autoencoder": (dict(input_dim=12, units=5), 201_616),
    # 320 + 18,496 (encoder) + 36,928 + 18,464 + 867 (decoder to 3 channels)
    "colorization_autoencoder": (dict(input_shape=(8, 8, 1), filters=(4, 2)), 75_075),
    "linear_probe": (dict(input_shape=(6,), num_classes=3), 784 * 10 + 10),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def test_dense_autoencoder_is_listing_v_a_layer_for_layer():
    model = build_dense_autoencoder()
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [128, 64, 32, 64, 128, 784]
    assert [layer.activation.__name__ for layer in dense] == ["relu"] * 5 + ["sigmoid"]
    assert [layer.count_params() for layer in dense] == [100_480, 8_256, 2_080, 2_112, 8_320, 101_136]
    assert model.input_shape == (None, 784)  # the listing flattens images: Input(shape=(784,))
    assert model.output_shape == (None, 784)


def test_extracted_encoder_shares_the_autoencoders_layers():
    autoencoder = build_dense_autoencoder(input_dim=10, encoder_units=(6, 3))
    encoder = extract_encoder(autoencoder)
    assert encoder.output_shape == (None, 3)
    assert encoder.count_params() == 10 * 6 + 6 + 6 * 3 + 3
    x = np.random.default_rng(0).random((4, 10)).astype("float32")
    code_layer = autoencoder.get_layer("dense_autoencoder_code")
    code_layer.set_weights([w + 1.0 for w in code_layer.get_weights()])  # a change seen by both models
    kernel1, bias1 = autoencoder.get_layer("dense_autoencoder_encoder_dense1").get_weights()
    kernel2, bias2 = code_layer.get_weights()
    expected = np.maximum(np.maximum(x @ kernel1 + bias1, 0) @ kernel2 + bias2, 0)
    np.testing.assert_allclose(encoder.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_extract_encoder_needs_a_code_layer():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="_code"):
        extract_encoder(keras.Model(inputs, keras.layers.Dense(3)(inputs)))


@pytest.mark.parametrize("upsampling, layer_type", [("transpose", keras.layers.Conv2DTranspose),
                                                    ("upsampling", keras.layers.UpSampling2D)])
def test_conv_autoencoder_variants(upsampling, layer_type):
    model = build_conv_autoencoder(upsampling=upsampling)
    assert model.output_shape == (None, 28, 28, 1)
    assert sum(isinstance(layer, layer_type) for layer in model.layers) == 2
    assert extract_encoder(model).output_shape == (None, 7, 7, 8)  # 392 code values for 784 pixels
    assert model.count_params() == 3_217  # same weights either way


def test_upsampling2d_repeats_rows_and_columns():
    # Slides 004: UpSampling2D(size=(2, 2)) on [[1, 2], [3, 4]].
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype="float32").reshape(1, 2, 2, 1)
    y = keras.layers.UpSampling2D(size=(2, 2))(x)
    expected = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    np.testing.assert_array_equal(np.asarray(y)[0, :, :, 0], expected)


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="upsampling"):
        build_conv_autoencoder(upsampling="bilinear")
    with pytest.raises(ValueError, match="divisible by 4"):
        build_conv_autoencoder(input_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="noise"):
        build_denoising_autoencoder(noise="salt")
    with pytest.raises(ValueError, match="sparsity"):
        build_sparse_autoencoder(sparsity="l2")
    with pytest.raises(ValueError):
        MaskingNoise(1.0)
    with pytest.raises(ValueError):
        KLSparsityRegularizer(rho=0.0)


@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_denoising_noise_acts_only_in_training(noise):
    model = build_denoising_autoencoder(input_shape=(8, 8, 1), filters=(4, 2), noise=noise, seed=3)
    clean = build_conv_autoencoder(input_shape=(8, 8, 1), filters=(4, 2))
    clean.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32") + 0.1
    np.testing.assert_allclose(model(x, training=False), clean(x, training=False), rtol=1e-6)
    corrupted = np.asarray(model.get_layer("denoising_autoencoder_noise")(x, training=True))
    assert np.abs(corrupted - x).max() > 0.05


def test_masking_noise_zeroes_a_fraction_without_rescaling():
    x = np.full((200, 50), 0.7, dtype="float32")
    y = np.asarray(MaskingNoise(0.3, seed=1)(x, training=True))
    assert set(np.unique(y)) <= {0.0, np.float32(0.7)}  # survivors unchanged (Dropout would give 1.0)
    assert abs(np.mean(y == 0) - 0.3) < 0.01  # 10,000 draws: standard error 0.0046
    np.testing.assert_array_equal(MaskingNoise(0.3)(x, training=False), x)


def _numpy_kl_sparsity(rho, activations):
    rho_hat = activations.mean(axis=0)
    return np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))


def test_kl_sparsity_regularizer_matches_numpy():
    activations = np.random.default_rng(0).uniform(0.01, 0.6, size=(16, 5)).astype("float32")
    regularizer = KLSparsityRegularizer(rho=0.05, weight=0.5)
    expected = 0.5 * _numpy_kl_sparsity(0.05, activations.astype("float64"))
    # Called directly it multiplies by the batch size where Keras then divides it out (see the layer test).
    batch_factor = 16 if compat.activity_penalties_averaged() else 1
    assert float(regularizer(activations)) == pytest.approx(batch_factor * expected, rel=1e-5)
    at_target = np.full((4, 3), 0.05, dtype="float32")
    assert float(regularizer(at_target)) == pytest.approx(0.0, abs=1e-6)


def test_sparse_autoencoder_penalties_are_the_layer_losses():
    x = np.random.default_rng(1).random((8, 12)).astype("float32")
    kl_model = build_sparse_autoencoder(input_dim=12, units=5, sparsity="kl", rho=0.1, kl_weight=0.2)
    kl_model(x)
    code = keras.Model(kl_model.input, kl_model.get_layer("sparse_autoencoder_code").output)(x)
    assert float(kl_model.losses[0]) == pytest.approx(0.2 * _numpy_kl_sparsity(0.1, np.asarray(code, "float64")),
                                                      rel=1e-4)
    l1_model = build_sparse_autoencoder(input_dim=12, units=5, sparsity="l1", l1=0.01)
    l1_model(x)
    code = np.asarray(keras.Model(l1_model.input, l1_model.get_layer("sparse_autoencoder_code").output)(x))
    # Keras 3 averages activity penalties over the batch: l1 * sum|a| / batch.
    assert float(l1_model.losses[0]) == pytest.approx(0.01 * np.abs(code).sum() / len(x), rel=1e-4)


def test_kl_sparse_autoencoder_reloads_from_h5(tmp_path):
    model = build_sparse_autoencoder(input_dim=12, units=5, rho=0.2, kl_weight=0.3)
    path = artifacts.save_model(model, tmp_path / "sparse.h5")
    reloaded = artifacts.load_model(path)
    regularizer = reloaded.get_layer("sparse_autoencoder_code").activity_regularizer
    assert isinstance(regularizer, KLSparsityRegularizer)
    assert (regularizer.rho, regularizer.weight) == (0.2, 0.3)


@pytest.mark.parametrize("values, expected", [
    ([0.0, 0.5, 1.0], "binary_crossentropy"),  # the notes: inputs in [0, 1] -> cross-entropy
    (np.arange(256, dtype="uint8"), "mse"),  # raw 0..255 pixels
    ([-0.5, 0.2], "mse"),  # standardised inputs
    ([0.0, 1.0000001], "mse"),
])
def test_choose_reconstruction_loss_is_the_notes_rule(values, expected):
    assert choose_reconstruction_loss(values) == expected


def test_choose_reconstruction_loss_rejects_empty_or_nan():
    with pytest.raises(ValueError):
        choose_reconstruction_loss([])
    with pytest.raises(ValueError):
        choose_reconstruction_loss([0.5, np.nan])


def test_colorization_autoencoder_maps_grey_to_three_channels():
    model = build_colorization_autoencoder()
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 32, 32, 3)
    assert model.layers[-1].activation.__name__ == "sigmoid"
    expected = (9 * 32 + 32) + (9 * 32 * 64 + 64) + (9 * 64 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 * 3 + 3)
    assert model.count_params() == expected == 75_075


def test_linear_probe_trains_only_its_softmax_on_a_frozen_encoder():
    """The notes' "only the encoder part is used": the probe's trainable weights are its softmax layer's."""
    autoencoder = build_dense_autoencoder(input_dim=12, encoder_units=(6, 3))
    encoder = extract_encoder(autoencoder)
    probe = build_linear_probe(input_shape=(12,), num_classes=4, encoder=encoder)
    assert [tuple(weight.shape) for weight in probe.trainable_weights] == [(3, 4), (4,)]
    before = [np.array(weight) for weight in encoder.weights]
    probe.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((16, 12)).astype("float32")
    probe.fit(x, np.arange(16) % 4, epochs=2, batch_size=8, verbose=0)
    assert all(np.array_equal(old, np.array(new)) for old, new in zip(before, encoder.weights))
    np.testing.assert_allclose(np.asarray(probe(x)).sum(axis=1), 1.0, rtol=1e-5)
    # Without an encoder: multinomial logistic regression on the (flattened) inputs.
    assert build_linear_probe(input_shape=(28, 28, 1)).count_params() == 784 * 10 + 10
