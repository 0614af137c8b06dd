"""The VAE's losses against independent computations, its train_step, and tf.distribute correctness."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dlcourse  # noqa: F401
from dlcourse.generative.vae import VAE, interpolate, kl_divergence, reconstruction_loss
from dlcourse.models.vae import build_vae_decoder, build_vae_encoder

TINY_ENCODER = dict(input_shape=(8, 8, 1), latent_dim=2, filters=(2, 4), dense_units=4)
TINY_DECODER = dict(latent_dim=2, output_shape=(8, 8, 1), filters=(4, 2))


@pytest.mark.parametrize("mean, log_var, expected", [
    ([0.0], [0.0], 0.0),  # q = p
    ([1.0], [0.0], 0.5),  # mu^2 / 2
    ([0.0], [2.0], 0.5 * (np.e ** 2 - 3.0)),  # 1/2 (e^2 - 1 - 2) = 2.1945
    ([1.0, 0.0], [0.0, 2.0], 0.5 + 0.5 * (np.e ** 2 - 3.0)),  # sums over latent dimensions
])
def test_kl_closed_form_worked_values(mean, log_var, expected):
    value = kl_divergence(np.array([mean], "float32"), np.array([log_var], "float32"))
    assert float(value[0]) == pytest.approx(expected, rel=1e-6)


def test_kl_closed_form_matches_a_monte_carlo_estimate():
    mean = np.array([0.5, -1.0, 2.0])
    sigma = np.array([0.5, 1.5, 0.8])
    rng = np.random.default_rng(0)
    z = mean + sigma * rng.standard_normal((400_000, 3))
    log_q = -0.5 * (((z - mean) / sigma) ** 2 + np.log(2 * np.pi * sigma ** 2))
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    samples = np.sum(log_q - log_p, axis=1)  # KL(q || p) = E_q[log q - log p]
    standard_error = samples.std() / np.sqrt(len(samples))  # about 0.004 here
    closed_form = float(kl_divergence(mean[None].astype("float32"), np.log(sigma ** 2)[None].astype("float32"))[0])
    assert closed_form == pytest.approx(samples.mean(), abs=5 * standard_error)  # tolerance: 5 standard errors


def test_reconstruction_losses_are_sums_over_pixels():
    rng = np.random.default_rng(1)
    x = rng.random((3, 4, 4, 1)).astype("float32")
    x_hat = rng.uniform(0.05, 0.95, (3, 4, 4, 1)).astype("float32")
    bce = -(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(reconstruction_loss(x, x_hat), bce, rtol=1e-5)
    np.testing.assert_allclose(reconstruction_loss(x, x_hat, "mse"), ((x - x_hat) ** 2).reshape(3, -1).sum(1),
                               rtol=1e-5)
    with pytest.raises(ValueError):
        reconstruction_loss(x, x_hat, "hinge")


def test_interpolation_endpoints_and_midpoint():
    path = interpolate([0.0, 2.0], [4.0, -2.0], steps=5)
    np.testing.assert_allclose(path[0], [0.0, 2.0])
    np.testing.assert_allclose(path[-1], [4.0, -2.0])
    np.testing.assert_allclose(path[2], [2.0, 0.0])  # t = 0.5
    with pytest.raises(ValueError):
        interpolate([0.0], [1.0], steps=1)


def _deterministic_vae(beta=1.0, seed=0):
    """A tiny VAE whose z_log_var is -40 everywhere, so z = z_mean (the noise term is ~1e-9)."""
    keras.utils.set_random_seed(seed)
    encoder = build_vae_encoder(**TINY_ENCODER, seed=seed)
    decoder = build_vae_decoder(**TINY_DECODER)
    head = encoder.get_layer("vae_encoder_z_log_var")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])
    return VAE(encoder, decoder, beta=beta)


def _images(count=8, seed=2):
    return np.random.default_rng(seed).random((count, 8, 8, 1)).astype("float32")


def test_vae_metrics_add_up_with_beta():
    x = _images()
    vae = VAE(build_vae_encoder(**TINY_ENCODER, seed=1), build_vae_decoder(**TINY_DECODER), beta=3.0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(x, epochs=1, batch_size=8, verbose=0).history
    assert set(history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert history["loss"][0] == pytest.approx(history["reconstruction_loss"][0] + 3.0 * history["kl_loss"][0],
                                               rel=1e-5)
    # Per-example reconstruction is summed over 64 pixels: about 64 * ln 2 for an untrained decoder.
    assert 30 < history["reconstruction_loss"][0] < 70
    with pytest.raises(ValueError):
        VAE(vae.encoder, vae.decoder, beta=-1)


def test_train_step_is_one_gradient_step_on_the_batch_mean_loss():
    x = _images()
    vae = _deterministic_vae(beta=0.5)
    before = [np.array(w) for w in vae.trainable_weights]
    # Oracle: the negative ELBO written out here (keras' BCE is a per-pixel mean, so times 64 pixels).
    with tf.GradientTape() as tape:
        z_mean, z_log_var, _ = vae.encoder(x, training=True)
        x_hat = vae.decoder(z_mean, training=True)
        reconstruction = 64.0 * keras.ops.mean(keras.losses.binary_crossentropy(x, x_hat), axis=(1, 2))
        kl = -0.5 * keras.ops.sum(1.0 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var), axis=1)
        loss = keras.ops.mean(reconstruction + 0.5 * kl)
    gradients = tape.gradient(loss, vae.trainable_weights)
    vae.compile(optimizer=keras.optimizers.SGD(0.1))
    history = vae.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    assert history["loss"][0] == pytest.approx(float(loss), rel=1e-4)
    for old, gradient, new in zip(before, gradients, vae.trainable_weights):
        np.testing.assert_allclose(np.asarray(new), old - 0.1 * np.asarray(gradient), rtol=1e-4, atol=1e-6)


def _one_step(strategy, x):
    with strategy.scope():
        vae = _deterministic_vae(beta=1.0, seed=5)
        vae.compile(optimizer=keras.optimizers.SGD(0.05))
    history = vae.fit(x, epochs=1, batch_size=len(x), shuffle=False, verbose=0).history
    return history, [np.asarray(w) for w in vae.trainable_weights]


def test_mirrored_strategy_gives_the_same_step_as_one_device(two_cpu_strategy):
    """Per-example losses over the GLOBAL batch: 2 replicas x 4 examples == 1 device x 8 examples."""
    x = _images(8, seed=4)
    single_history, single_weights = _one_step(tf.distribute.get_strategy(), x)
    mirrored_history, mirrored_weights = _one_step(two_cpu_strategy, x)
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        assert mirrored_history[name][0] == pytest.approx(single_history[name][0], rel=1e-5)
    for single, mirrored in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(mirrored, single, rtol=1e-4, atol=1e-6)
