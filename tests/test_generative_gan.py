"""GAN losses from the notes, the optimal discriminator, and the GAN / ConditionalGAN train_step."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse.generative.gan import (GAN, ConditionalGAN, binary_crossentropy, discriminator_loss,
                                     generator_loss, optimal_discriminator, value_function)
from dlcourse.models.gan import (build_cgan_discriminator, build_cgan_generator, build_mlp_discriminator,
                                 build_mlp_generator)


def _mean(per_example):
    return float(np.mean(np.asarray(per_example)))


# -- the notes' formulas -------------------------------------------------------------------------
def test_losses_at_the_nash_equilibrium():
    # D = 1/2 everywhere (003 §4.4.3): J_D = -2 log(1/2) = ln 4, J_G = ln 2, V = -ln 4.
    half = np.full((5, 1), 0.5)
    assert _mean(discriminator_loss(half, half)) == pytest.approx(math.log(4), abs=1e-6)
    assert _mean(generator_loss(half)) == pytest.approx(math.log(2), abs=1e-6)
    assert float(value_function(half, half)) == pytest.approx(-1.386294, abs=1e-6)


def test_losses_for_a_confident_discriminator():
    # D(x) = 0.9, D(G(z)) = 0.1: J_D = -(ln 0.9 + ln 0.9) = 0.210721, J_G = -ln 0.1 = 2.302585
    # (001 Q5's J_D and J_G; float32 arithmetic, so 1e-6 relative).
    real, fake = np.full((4, 1), 0.9), np.full((4, 1), 0.1)
    assert _mean(discriminator_loss(real, fake)) == pytest.approx(0.210721, rel=1e-6, abs=5e-7)
    assert _mean(generator_loss(fake)) == pytest.approx(2.302585, rel=1e-6)
    # The minimax term log(1 - D(G(z))) = ln 0.9 = -0.105361: already near its floor, G barely learns.
    assert _mean(generator_loss(fake, kind="minimax")) == pytest.approx(-0.105361, rel=1e-6, abs=5e-7)


def test_one_sided_label_smoothing_moves_only_the_real_target():
    real, fake = np.array([0.5, 0.8]), np.array([0.3, 0.1])
    smoothed = np.asarray(discriminator_loss(real, fake, real_label=0.9))
    expected = -(0.9 * np.log(real) + 0.1 * np.log(1 - real)) - np.log(1 - fake)  # fake target stays 0
    np.testing.assert_allclose(smoothed, expected, rtol=1e-5)
    # Keras' label_smoothing=0.2 would be two-sided (real 0.9 AND fake 0.1): a different loss.
    two_sided = keras.losses.BinaryCrossentropy(label_smoothing=0.2, reduction=None)(np.zeros((2, 1)), fake[:, None])
    assert not np.allclose(np.asarray(two_sided), -np.log(1 - fake), rtol=1e-3)


def test_binary_crossentropy_matches_keras():
    rng = np.random.default_rng(0)
    targets, probabilities = rng.integers(0, 2, size=(16, 1)).astype("float32"), rng.uniform(0.01, 0.99, (16, 1))
    keras_loss = keras.losses.BinaryCrossentropy(reduction=None)(targets, probabilities.astype("float32"))
    np.testing.assert_allclose(binary_crossentropy(targets, probabilities), keras_loss, rtol=1e-5, atol=1e-6)


def test_minimax_generator_loss_saturates_where_non_saturating_does_not():
    # D(G(z)) = sigmoid(a) with a = -8 (D confidently rejects the fakes). d/da of the losses:
    # non-saturating -log sigmoid(a) -> -(1 - sigmoid(a)) = -0.99966; minimax log(1 - sigmoid(a)) -> -sigmoid(a).
    logit = tf.Variable([[-8.0]])
    gradients = {}
    for kind in ("non_saturating", "minimax"):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(generator_loss(tf.sigmoid(logit), kind=kind))
        gradients[kind] = float(tape.gradient(loss, logit)[0, 0])
    assert gradients["non_saturating"] == pytest.approx(-(1 - 1 / (1 + math.exp(8))), rel=1e-4)
    assert gradients["minimax"] == pytest.approx(-1 / (1 + math.exp(8)), rel=1e-3)  # -0.000335
    with pytest.raises(ValueError, match="generator loss"):
        generator_loss(np.array([0.5]), kind="wasserstein")


def test_optimal_discriminator_values():
    assert optimal_discriminator(0.3, 0.1) == pytest.approx(0.75)
    assert optimal_discriminator(0.2, 0.2) == pytest.approx(0.5)  # p_g = p_data -> D* = 1/2
    assert optimal_discriminator(0.0, 0.0) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        optimal_discriminator(-0.1, 0.2)


def _gaussian(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def test_optimal_discriminator_value_is_minus_log4_plus_twice_jsd():
    # Two Gaussians on a fine grid: V(D*, G) = -ln 4 + 2 JSD(p_data || p_g) (Goodfellow et al. 2014).
    x, dx = np.linspace(-7, 8, 150_001, retstep=True)  # wide enough, yet 1 - D* > 0 in float64
    p_data, p_g = _gaussian(x, 0.0, 1.0), _gaussian(x, 1.5, 0.8)
    d_star = optimal_discriminator(p_data, p_g)
    value = np.sum(p_data * np.log(d_star) + p_g * np.log(1 - d_star)) * dx
    mixture = 0.5 * (p_data + p_g)
    jsd = 0.5 * np.sum(p_data * np.log(p_data / mixture)) * dx + 0.5 * np.sum(p_g * np.log(p_g / mixture)) * dx
    assert 0.2 < jsd < math.log(2)
    assert value == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-6)
    # D* is the maximiser: any other discriminator scores lower.
    for other in (np.full_like(x, 0.5), np.clip(d_star + 0.05, 0, 0.999)):
        assert np.sum(p_data * np.log(other) + p_g * np.log(1 - other)) * dx < value
    # Equal distributions: D* = 1/2 and V = -ln 4 = -1.3863.
    same = optimal_discriminator(p_data, p_data)
    assert np.sum(p_data * np.log(same) + p_data * np.log(1 - same)) * dx == pytest.approx(-1.386294, abs=1e-5)


# -- the training wrapper ------------------------------------------------------------------------
LATENT, SHAPE = 4, (8, 8, 1)


def _tiny_gan(cls=GAN, seed=1, optimizer=lambda: keras.optimizers.Adam(1e-2), **compile_kwargs):
    keras.utils.set_random_seed(seed)
    if cls is ConditionalGAN:
        generator = build_cgan_generator(latent_dim=LATENT, num_classes=3, embedding_dim=2, filters=(4, 4, 2),
                                         kernel_size=3, image_shape=SHAPE)
        discriminator = build_cgan_discriminator(num_classes=3, embedding_dim=2, filters=(2, 4), kernel_size=3,
                                                 image_shape=SHAPE)
    else:
        generator = build_mlp_generator(latent_dim=LATENT, units=(8,), image_shape=SHAPE)
        discriminator = build_mlp_discriminator(units=(8,), image_shape=SHAPE)
    gan = cls(generator, discriminator, seed=3)
    gan.compile(optimizer(), optimizer(), **compile_kwargs)
    return gan


def _batch(size=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (size, *SHAPE)).astype("float32"), rng.normal(size=(size, LATENT)).astype("float32")


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_train_step_reports_the_notes_losses(kind):
    # MLP networks (no batch normalization), so training and inference mode agree and we can recompute.
    gan = _tiny_gan(generator_loss=kind, real_label=0.9)
    images, noise = _batch()
    generator_before = [w.numpy() for w in gan.generator.weights]
    real_before = np.asarray(gan.discriminator(images))
    fake_before = np.asarray(gan.discriminator(gan.generator(noise)))
    logs = gan.train_on_batch({"images": images, "noise": noise}, return_dict=True)
    assert logs["d_loss"] == pytest.approx(_mean(discriminator_loss(real_before, fake_before, real_label=0.9)),
                                           rel=1e-5)
    assert logs["real_score"] == pytest.approx(real_before.mean(), rel=1e-5)
    assert logs["fake_score"] == pytest.approx(fake_before.mean(), rel=1e-5)
    # J_G is computed after D's update, with G's weights from before its own update.
    generator_after = [w.numpy() for w in gan.generator.weights]
    gan.generator.set_weights(generator_before)
    expected_g = _mean(generator_loss(gan.discriminator(gan.generator(noise)), kind=kind))
    assert logs["g_loss"] == pytest.approx(expected_g, rel=1e-5)
    assert (logs["g_loss"] < 0) == (kind == "minimax")
    assert any(np.abs(a - b).max() > 0 for a, b in zip(generator_before, generator_after))


def test_a_keras_loss_object_with_reduction_none_gives_the_same_losses():
    images, noise = _batch()
    ours = _tiny_gan().train_on_batch({"images": images, "noise": noise}, return_dict=True)
    keras_bce = keras.losses.BinaryCrossentropy(reduction=None)
    theirs = _tiny_gan(loss_fn=lambda t, p: keras_bce(tf.fill(tf.shape(p), t), p)).train_on_batch(
        {"images": images, "noise": noise}, return_dict=True)
    assert theirs["d_loss"] == pytest.approx(ours["d_loss"], rel=1e-4)
    assert theirs["g_loss"] == pytest.approx(ours["g_loss"], rel=1e-4)
    with pytest.raises(ValueError, match="per-example"):
        _tiny_gan(loss_fn=lambda t, p: tf.reduce_mean(binary_crossentropy(t, p))).train_on_batch(images)


def test_compile_rejects_bad_settings():
    with pytest.raises(ValueError, match="generator_loss"):
        _tiny_gan(generator_loss="least_squares")
    with pytest.raises(ValueError, match="real_label"):
        _tiny_gan(real_label=1.2)


def _fit(strategy, images, noise, epochs=1):
    with strategy.scope():
        # SGD, not Adam: Adam's step is almost invariant to the gradients' scale, so a per-replica mean
        # (gradients twice too large on two replicas) would change the weights by only ~1e-5.
        gan = _tiny_gan(optimizer=lambda: keras.optimizers.SGD(0.5))
    history = gan.fit({"images": images, "noise": noise}, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return gan, history.history, [w.numpy() for w in gan.generator.weights + gan.discriminator.weights]


def test_two_replicas_give_the_same_losses_and_weights_as_one(two_cpu_strategy):
    # Global batch 8 = 2 replicas x 4: per-example losses summed / GLOBAL batch on each replica and the
    # gradients summed over replicas must reproduce the one-replica step exactly (same weights, same noise).
    images, noise = _batch(16)
    fresh = _tiny_gan()
    initial = [w.numpy() for w in fresh.generator.weights + fresh.discriminator.weights]
    _, single, single_weights = _fit(tf.distribute.get_strategy(), images, noise)
    assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(single_weights, initial))  # every weight moved
    gan, mirrored, mirrored_weights = _fit(two_cpu_strategy, images, noise)
    assert gan.distribute_strategy.num_replicas_in_sync == 2
    for key in ("d_loss", "g_loss", "real_score", "fake_score"):
        np.testing.assert_allclose(mirrored[key], single[key], rtol=1e-5, err_msg=key)
    for a, b in zip(mirrored_weights, single_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Drawn noise differs between replicas (their seed states are mirrored copies).
    per_replica = gan.distribute_strategy.run(tf.function(lambda: gan.sample_noise(3)))
    first, second = (np.asarray(value) for value in two_cpu_strategy.experimental_local_results(per_replica))
    assert first.shape == (3, LATENT) and np.abs(first - second).max() > 1e-3


def test_random_noise_follows_the_real_batch_size():
    gan = _tiny_gan()
    images, _ = _batch(6)
    logs = gan.train_on_batch(images, return_dict=True)
    assert np.isfinite(logs["d_loss"]) and 0 < logs["fake_score"] < 1
    assert tuple(gan.sample_noise(5).shape) == (5, LATENT)


def test_conditional_gan_feeds_the_labels_to_both_networks():
    gan = _tiny_gan(ConditionalGAN)
    images, noise = _batch()
    labels = np.arange(8) % 3
    history = gan.fit(images, labels, batch_size=4, epochs=1, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert all(np.isfinite(values[0]) for values in history.values())
    # With fixed noise the reported J_D uses D([x, y]) and D([G([z, y]), y]).
    fresh = _tiny_gan(ConditionalGAN)
    column = tf.constant(labels.reshape(-1, 1), dtype="int32")
    # (training=True: batch-normalization statistics of the batch, as in train_step)
    fake_images = fresh.generator([tf.constant(noise), column], training=True)
    real = fresh.discriminator([tf.constant(images), column], training=True)
    fake = fresh.discriminator([fake_images, column], training=True)
    logs = fresh.train_on_batch({"images": images, "labels": labels, "noise": noise}, return_dict=True)
    assert logs["d_loss"] == pytest.approx(_mean(discriminator_loss(real, fake)), rel=1e-4)
    with pytest.raises(ValueError, match="labels"):
        _tiny_gan(ConditionalGAN).train_on_batch(images)


# -- sample grids (shared with Unit V) -------------------------------------------------------------
def test_sample_grid_callback_saves_fixed_noise_grids(tmp_path):
    from dlcourse.generative.callbacks import SampleGridCallback

    gan = _tiny_gan(ConditionalGAN)
    callback = SampleGridCallback(directory=tmp_path, num_samples=6, ncols=3, labels=[0, 0, 1, 1, 2, 2], every=2)
    callback.set_model(gan)
    callback.set_params({"epochs": 3})
    first = callback.samples()
    np.testing.assert_allclose(callback.samples(), first)  # the same latent points every time
    assert first.shape == (6, *SHAPE)
    for epoch in range(3):
        callback.on_epoch_end(epoch)
    assert [path.name for path in callback.saved] == ["samples_epoch_002.png", "samples_epoch_003.png"]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in callback.saved)
    with pytest.raises(ValueError, match="one label per sample"):
        SampleGridCallback(directory=tmp_path, num_samples=4, labels=[0, 1])
