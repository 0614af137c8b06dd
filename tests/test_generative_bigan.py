"""BiGAN / ALI (lab 26): builders (contract), the discriminator's input pairing, the losses on pairs
against NumPy, and which networks each phase moves."""

import keras
import numpy as np
import pytest

import dlcourse  # noqa: F401
from contract import make_contract_test
from dlcourse.generative.bigan import BiGAN
from dlcourse.models.bigan import build_bigan_discriminator, build_bigan_encoder
from dlcourse.models.gan import build_mlp_generator

CONTRACT_CASES = {
    # 784*512 + 512 + 512*256 + 256 + 256*50 + 50
    "bigan_encoder": (dict(image_shape=(4, 4, 1), latent_dim=2, units=(8,)), 546_098),
    # (784*512 + 512) + (50*512 + 512) + (1024*256 + 256) + (256 + 1)
    "bigan_discriminator": (dict(image_shape=(4, 4, 1), latent_dim=2, units=(8, 4)), 690_689),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def _bigan(seed=0, **compile_options):
    keras.utils.set_random_seed(seed)
    bigan = BiGAN(build_mlp_generator(latent_dim=3, units=(8,), image_shape=(4, 4, 1)),
                  build_bigan_encoder(image_shape=(4, 4, 1), latent_dim=3, units=(8,)),
                  build_bigan_discriminator(image_shape=(4, 4, 1), latent_dim=3, units=(8, 4), dropout_rate=0.0),
                  seed=seed)
    options = dict(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
    bigan.compile(**{**options, **compile_options})
    return bigan


def _data(count=8):
    rng = np.random.default_rng(5)
    return (rng.uniform(-1, 1, (count, 4, 4, 1)).astype("float32"),
            rng.standard_normal((count, 3)).astype("float32"))


def _weights(model):
    return [np.array(weight) for weight in model.trainable_weights]


def _changed(before, model):
    return any(not np.allclose(old, new) for old, new in zip(before, _weights(model)))


def test_the_discriminator_sees_real_pairs_x_ex_and_generated_pairs_gz_z():
    """000 L2266: D tells (x, E(x)) from (G(z), z); the pairing is checked value for value."""
    bigan = _bigan()
    images, noise = _data()
    (real_x, real_z), (fake_x, fake_z) = bigan.pairs(images, noise)
    np.testing.assert_array_equal(real_x, images)
    np.testing.assert_allclose(real_z, bigan.encoder.predict(images, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(fake_x, bigan.generator.predict(noise, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(fake_z, noise)
    real_scores, fake_scores = bigan.pair_scores(images, noise)
    np.testing.assert_allclose(real_scores, bigan.discriminator.predict([images, real_z], verbose=0), rtol=1e-6)
    np.testing.assert_allclose(fake_scores, bigan.discriminator.predict([fake_x, noise], verbose=0), rtol=1e-6)
    # A mismatched pair is a different input: D(x, z) depends on both parts.
    assert not np.allclose(bigan.discriminator.predict([images, noise], verbose=0), real_scores)


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_the_losses_on_pairs_equal_the_formulas(kind):
    bigan = _bigan(generator_loss=kind)
    real = np.array([0.9, 0.6, 0.2], "float32")
    fake = np.array([0.1, 0.5, 0.7], "float32")
    d_loss, g_loss = (np.asarray(value, "float64") for value in bigan.per_example_losses(real, fake))
    real64, fake64 = real.astype("float64"), fake.astype("float64")
    np.testing.assert_allclose(d_loss, -np.log(real64) - np.log(1 - fake64), rtol=1e-5)
    expected = (-np.log(fake64) - np.log(1 - real64) if kind == "non_saturating"
                else np.log(1 - fake64) + np.log(real64))
    np.testing.assert_allclose(g_loss, expected, rtol=1e-5)


def test_one_step_reports_the_pair_losses_and_trains_encoder_and_generator_together():
    bigan = _bigan()
    images, noise = _data()
    real_scores, fake_scores = (np.asarray(s, "float64").ravel() for s in bigan.pair_scores(images, noise))
    expected_d = np.mean(-np.log(real_scores) - np.log(1 - fake_scores))
    before = {name: _weights(getattr(bigan, name)) for name in ("generator", "encoder", "discriminator")}
    history = bigan.fit({"images": images, "noise": noise}, epochs=1, batch_size=8, verbose=0)
    # The logged d_loss is J_D on pairs with the weights before the step; the scores are those pairs'.
    assert history.history["d_loss"][0] == pytest.approx(expected_d, rel=1e-4)
    assert history.history["real_score"][0] == pytest.approx(real_scores.mean(), rel=1e-4)
    assert history.history["fake_score"][0] == pytest.approx(fake_scores.mean(), rel=1e-4)
    assert all(_changed(before[name], getattr(bigan, name)) for name in before)
    # g_optimizer owns the generator's and the encoder's variables, not the discriminator's.
    assert len(bigan._generator_variables()) == (len(bigan.generator.trainable_variables)
                                                 + len(bigan.encoder.trainable_variables))


def test_with_a_frozen_generator_step_only_the_discriminator_moves():
    bigan = _bigan(g_optimizer=keras.optimizers.SGD(0.0))
    images, noise = _data()
    before = {name: _weights(getattr(bigan, name)) for name in ("generator", "encoder", "discriminator")}
    bigan.fit({"images": images, "noise": noise}, epochs=1, batch_size=8, verbose=0)
    assert _changed(before["discriminator"], bigan.discriminator)
    assert not _changed(before["generator"], bigan.generator)
    assert not _changed(before["encoder"], bigan.encoder)
    reconstructed = np.asarray(bigan.reconstruct(images))
    np.testing.assert_allclose(reconstructed, bigan.generator.predict(bigan.encoder.predict(images, verbose=0),
                                                                      verbose=0), rtol=1e-5, atol=1e-6)
