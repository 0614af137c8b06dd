"""The adversarial autoencoder: builders (contract), which phase moves which weights, logged losses."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dlcourse  # noqa: F401
from contract import make_contract_test
from dlcourse.generative.aae import AdversarialAutoencoder
from dlcourse.models.adversarial_autoencoder import (
    build_aae_decoder,
    build_aae_discriminator,
    build_aae_encoder,
)

CONTRACT_CASES = {
    # 401,920 + 131,328 + 514 / 768 + 131,584 + 402,192 / 768 + 65,792 + 257
    "aae_encoder": (dict(input_shape=(4, 4, 1), latent_dim=2, units=(8,)), 533_762),
    "aae_decoder": (dict(latent_dim=2, output_shape=(4, 4, 1), units=(8,)), 534_544),
    "aae_discriminator": (dict(latent_dim=2, units=(8,)), 66_817),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def _aae(seed=0, prior_stddev=1.0):
    keras.utils.set_random_seed(seed)
    return AdversarialAutoencoder(build_aae_encoder(input_shape=(4, 4, 1), units=(8,)),
                                  build_aae_decoder(output_shape=(4, 4, 1), units=(8,)),
                                  build_aae_discriminator(units=(8,)), prior_stddev=prior_stddev, seed=seed)


def _weights(model):
    return [np.array(weight) for weight in model.trainable_weights]


def _changed(before, model):
    return any(not np.allclose(old, new) for old, new in zip(before, _weights(model)))


def _images(count=16):
    return np.random.default_rng(3).random((count, 4, 4, 1)).astype("float32")


def test_the_discriminator_learns_only_in_its_own_phase():
    aae = _aae()
    before = {name: _weights(getattr(aae, name)) for name in ("encoder", "decoder", "discriminator")}
    aae.compile(reconstruction_optimizer=keras.optimizers.SGD(0.0),
                discriminator_optimizer=keras.optimizers.SGD(0.5),
                generator_optimizer=keras.optimizers.SGD(0.0))
    aae.fit(_images(), epochs=1, batch_size=16, verbose=0)
    assert _changed(before["discriminator"], aae.discriminator)
    assert not _changed(before["encoder"], aae.encoder)
    assert not _changed(before["decoder"], aae.decoder)


def test_the_encoder_is_the_generator_and_never_moves_the_discriminator():
    aae = _aae()
    before = {name: _weights(getattr(aae, name)) for name in ("encoder", "decoder", "discriminator")}
    aae.compile(reconstruction_optimizer=keras.optimizers.SGD(0.0),
                discriminator_optimizer=keras.optimizers.SGD(0.0),
                generator_optimizer=keras.optimizers.SGD(0.5))
    aae.fit(_images(), epochs=1, batch_size=16, verbose=0)
    assert _changed(before["encoder"], aae.encoder)
    assert not _changed(before["decoder"], aae.decoder)
    assert not _changed(before["discriminator"], aae.discriminator)


def test_logged_losses_match_an_independent_computation():
    x = _images()
    aae = _aae(seed=1)
    codes = aae.encoder.predict(x, verbose=0)
    x_hat = np.clip(aae.decoder.predict(codes, verbose=0), 1e-7, 1 - 1e-7).astype("float64")
    scores = np.clip(aae.discriminator.predict(codes, verbose=0), 1e-7, 1 - 1e-7).astype("float64")
    expected_reconstruction = np.mean(-(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)))
    expected_generator = np.mean(-np.log(scores))  # non-saturating -log D(E(x))
    aae.compile(reconstruction_optimizer=keras.optimizers.SGD(0.0),  # nothing moves: losses of the
                discriminator_optimizer=keras.optimizers.SGD(0.0),  # initial weights
                generator_optimizer=keras.optimizers.SGD(0.0))
    history = aae.fit(x, epochs=1, batch_size=16, verbose=0).history
    assert set(history) == {"reconstruction_loss", "discriminator_loss", "generator_loss"}
    assert history["reconstruction_loss"][0] == pytest.approx(expected_reconstruction, rel=1e-4)
    assert history["generator_loss"][0] == pytest.approx(expected_generator, rel=1e-4)
    assert 0.5 < history["discriminator_loss"][0] < 3.0  # near 2 ln 2 for an untrained discriminator


def test_prior_samples_follow_the_prior():
    aae = AdversarialAutoencoder(build_aae_encoder(input_shape=(4, 4, 1), units=(8,)),
                                 build_aae_decoder(output_shape=(4, 4, 1), units=(8,)),
                                 build_aae_discriminator(units=(8,)), prior_stddev=2.0, seed=4)
    samples = np.asarray(aae.sample_prior(50_000))
    assert samples.shape == (50_000, 2)
    np.testing.assert_allclose(samples.mean(axis=0), 0.0, atol=0.05)  # standard error 0.009
    np.testing.assert_allclose(samples.std(axis=0), 2.0, rtol=0.02)
    with pytest.raises(ValueError):
        AdversarialAutoencoder(aae.encoder, aae.decoder, aae.discriminator, prior_stddev=0.0)


def _deterministic_aae():
    """prior_stddev 1e-12: prior samples are ~0 on any number of replicas (each replica draws its own),
    so every phase is deterministic. Non-zero discriminator biases keep D's pre-activations off
    LeakyReLU's kink at 0, where the noise's sign alone would pick the slope."""
    aae = _aae(seed=6, prior_stddev=1e-12)
    for layer in aae.discriminator.layers:
        if isinstance(layer, keras.layers.Dense):
            layer.bias.assign(np.random.default_rng(7).uniform(-0.5, 0.5, layer.bias.shape))
    return aae


def _all_weights(aae):
    return _weights(aae.encoder) + _weights(aae.decoder) + _weights(aae.discriminator)


def _one_step(strategy, x):
    with strategy.scope():
        aae = _deterministic_aae()
        aae.compile(reconstruction_optimizer=keras.optimizers.SGD(0.5),
                    discriminator_optimizer=keras.optimizers.SGD(0.5),
                    generator_optimizer=keras.optimizers.SGD(0.5))
    history = aae.fit(x, epochs=1, batch_size=len(x), shuffle=False, verbose=0).history
    return history, _all_weights(aae)


def test_all_three_phases_are_the_same_on_two_replicas(two_cpu_strategy):
    """Per-example losses over the GLOBAL batch: 2 replicas x 8 examples == 1 device x 16 examples."""
    x = _images(16)
    single_history, single = _one_step(tf.distribute.get_strategy(), x)
    mirrored_history, mirrored = _one_step(two_cpu_strategy, x)
    for name in ("reconstruction_loss", "discriminator_loss", "generator_loss"):
        assert mirrored_history[name][0] == pytest.approx(single_history[name][0], rel=1e-5), name
    initial = _all_weights(_deterministic_aae())
    assert all(np.abs(after - before).max() > 1e-4 for after, before in zip(single, initial))  # all moved
    for one, two in zip(single, mirrored):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-6)
