"""VAE encoder/decoder builders and the reparameterisation (Sampling) layer; fresh-process .h5 loading."""

import textwrap

import keras
import numpy as np
import pytest

import fresh_process
import dlcourse  # noqa: F401
from contract import make_contract_test
from dlcourse import artifacts
from dlcourse.layers.sampling import LogVariance, Sampling
from dlcourse.models.autoencoder import build_denoising_autoencoder, build_sparse_autoencoder
from dlcourse.models.vae import build_vae_decoder, build_vae_encoder

CONTRACT_CASES = {
    # keras-io MNIST VAE sizes: 320 + 18,496 + 50,192 + 34 + 34 and 9,408 + 36,928 + 18,464 + 289.
    # z is random, so only z_mean and z_log_var are compared after reloading.
    "vae_encoder": (dict(input_shape=(8, 8, 1), latent_dim=2, filters=(2, 4), dense_units=4), 69_076,
                    {"compare_outputs": [0, 1]}),
    "vae_decoder": (dict(latent_dim=2, output_shape=(8, 8, 1), filters=(4, 2)), 65_089),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def test_encoder_and_decoder_shapes():
    encoder = build_vae_encoder(latent_dim=3)
    assert [tuple(output.shape) for output in encoder.outputs] == [(None, 3)] * 3
    assert [layer.name for layer in encoder.layers[-3:]] == ["vae_encoder_z_mean", "vae_encoder_z_log_var",
                                                             "vae_encoder_sampling"]
    decoder = build_vae_decoder(latent_dim=3)
    assert decoder.output_shape == (None, 28, 28, 1)
    assert decoder.layers[-1].activation.__name__ == "sigmoid"
    with pytest.raises(ValueError, match="divisible by 4"):
        build_vae_decoder(output_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="latent_dim"):
        build_vae_encoder(latent_dim=0)


def test_the_notes_sigma_encoder_outputs_log_variance_from_a_positive_sigma():
    """003 §5.2.1's encoder outputs sigma: a softplus head, converted to log sigma^2 = 2 log sigma; the
    same parameters as the log-variance encoder, and the same three outputs for the VAE."""
    sigma_encoder = build_vae_encoder(encoder_output="sigma", seed=0)
    assert sigma_encoder.count_params() == build_vae_encoder().count_params() == 69_076
    x = np.random.default_rng(1).random((5, 28, 28, 1)).astype("float32")
    head = keras.Model(sigma_encoder.input, sigma_encoder.get_layer("vae_encoder_z_sigma").output)
    sigma = np.asarray(head(x), dtype="float64")
    assert np.all(sigma > 0)
    _, z_log_var, _ = sigma_encoder(x)
    np.testing.assert_allclose(np.asarray(z_log_var), 2 * np.log(sigma), rtol=1e-5, atol=1e-6)
    assert float(LogVariance()(np.zeros((1, 2), "float32"))[0, 0]) == pytest.approx(2 * np.log(1e-6))
    with pytest.raises(ValueError, match="encoder_output"):
        build_vae_encoder(encoder_output="std")


def test_sampling_mean_and_variance_over_many_draws():
    count = 200_000
    mean, variance = np.array([1.5, -2.0], "float32"), np.array([0.25, 4.0], "float32")
    z = np.asarray(Sampling(seed=7)([np.tile(mean, (count, 1)), np.tile(np.log(variance), (count, 1))]))
    # Standard errors: sqrt(var / n) <= 0.0045 for the mean, var * sqrt(2 / n) <= 0.013 for the variance.
    np.testing.assert_allclose(z.mean(axis=0), mean, atol=0.02)
    np.testing.assert_allclose(z.var(axis=0), variance, rtol=0.02)


def test_sampling_is_seedable_and_exact_when_variance_vanishes():
    mean = np.zeros((4, 3), "float32")
    log_var = np.zeros((4, 3), "float32")
    first, second = Sampling(seed=11), Sampling(seed=11)
    np.testing.assert_array_equal(first([mean, log_var]), second([mean, log_var]))
    assert not np.allclose(first([mean, log_var]), first([mean, log_var]))  # a stream, not one fixed draw
    assert not np.allclose(Sampling(seed=12)([mean, log_var]), Sampling(seed=11)([mean, log_var]))
    mu = np.arange(12, dtype="float32").reshape(4, 3)
    np.testing.assert_allclose(Sampling(seed=1)([mu, np.full((4, 3), -60.0, "float32")]), mu, atol=1e-9)
    assert Sampling.from_config(Sampling(seed=4, name="s").get_config()).seed == 4


FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import dlcourse
    x = np.load(sys.argv[1])
    encoder = keras.saving.load_model(sys.argv[2])  # safe_mode=True, no custom_objects
    denoiser = keras.saving.load_model(sys.argv[3])
    sparse = keras.saving.load_model(sys.argv[4])
    print(json.dumps({
        "z_mean": np.asarray(encoder.predict(x, verbose=0)[0]).tolist(),
        "z_log_var": np.asarray(encoder.predict(x, verbose=0)[1]).tolist(),
        "denoised": np.asarray(denoiser.predict(x, verbose=0)).sum().item(),
        "noise": type(denoiser.get_layer("denoising_autoencoder_noise")).__name__,
        "regularizer": type(sparse.get_layer("sparse_autoencoder_code").activity_regularizer).__name__,
    }))
""")


@pytest.mark.slow
def test_saved_models_load_in_a_fresh_process_after_import_dlcourse(tmp_path):
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    # the notes' sigma encoder: its LogVariance layer must reload too
    encoder = build_vae_encoder(input_shape=(8, 8, 1), filters=(2, 4), dense_units=4, seed=3, encoder_output="sigma")
    denoiser = build_denoising_autoencoder(input_shape=(8, 8, 1), filters=(4, 2), noise="masking")
    sparse = build_sparse_autoencoder(input_dim=10, units=4, sparsity="kl")
    paths = [artifacts.save_model(encoder, tmp_path / "vae_encoder.h5"),
             artifacts.save_model(denoiser, tmp_path / "denoising_autoencoder.h5"),
             artifacts.save_model(sparse, tmp_path / "sparse_autoencoder.h5")]
    reply = fresh_process.run_json(FRESH_PROCESS, tmp_path / "x.npy", *paths)
    np.testing.assert_allclose(reply["z_mean"], encoder.predict(x, verbose=0)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reply["z_log_var"], encoder.predict(x, verbose=0)[1], rtol=1e-5, atol=1e-6)
    assert reply["denoised"] == pytest.approx(float(np.sum(denoiser.predict(x, verbose=0))), rel=1e-5)
    assert (reply["noise"], reply["regularizer"]) == ("MaskingNoise", "KLSparsityRegularizer")
    keras.backend.clear_session()
