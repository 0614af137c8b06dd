"""pix2pix and super-resolution training (dlcourse/generative/translation.py): the generator loss
cGAN + lambda * L1 against NumPy, the PatchGAN per-patch loss, one train_step against its oracle,
PSNR by hand and against tf.image.psnr, the Sobel edges, area downsampling and bicubic upsampling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse.generative.translation import (PIX2PIX_L1_WEIGHT, SRGAN_ADVERSARIAL_WEIGHT, SOBEL_X, Pix2Pix,
                                             SuperResolutionGAN, TranslationGAN, bicubic_upsample, downsample,
                                             patch_binary_crossentropy, psnr, reconstruction_loss, sobel_edges,
                                             translation_generator_loss)
from dlcourse.models.image_translation import (build_patchgan_discriminator, build_sr_discriminator,
                                               build_sr_generator, build_unet_generator)

RNG = np.random.default_rng(0)
SCORES = RNG.uniform(0.05, 0.95, size=(2, 3, 3, 1)).astype("float32")  # a 3x3 PatchGAN map per example
OUTPUTS = RNG.random((2, 4, 4, 1)).astype("float32")
TARGETS = RNG.random((2, 4, 4, 1)).astype("float32")


def numpy_bce(target, p):
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def test_patch_loss_is_the_mean_over_patches_of_each_example():
    expected = numpy_bce(1.0, SCORES.astype("float64")).reshape(2, -1).mean(axis=1)
    np.testing.assert_allclose(np.asarray(patch_binary_crossentropy(1.0, SCORES)), expected, rtol=1e-5)
    single = SCORES[:, 0, 0]  # a (batch, 1) score: the plain per-example cross-entropy
    np.testing.assert_allclose(np.asarray(patch_binary_crossentropy(0.0, single)),
                               numpy_bce(0.0, single[:, 0].astype("float64")), rtol=1e-5)


def test_pix2pix_generator_loss_is_cgan_plus_lambda_l1():
    total, adversarial, l1 = translation_generator_loss(SCORES, OUTPUTS, TARGETS)
    expected_adversarial = -np.log(SCORES.astype("float64")).reshape(2, -1).mean(axis=1)  # non-saturating J_G
    expected_l1 = np.abs(TARGETS - OUTPUTS).reshape(2, -1).mean(axis=1)
    np.testing.assert_allclose(np.asarray(adversarial), expected_adversarial, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(l1), expected_l1, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(total), expected_adversarial + 100.0 * expected_l1, rtol=1e-5)
    assert PIX2PIX_L1_WEIGHT == 100.0


def test_super_resolution_generator_loss_is_mse_plus_a_small_adversarial_term():
    scores = SCORES[:, 0, 0]  # (batch, 1): SRGAN's discriminator
    total, _, mse = translation_generator_loss(scores, OUTPUTS, TARGETS, reconstruction="mse",
                                               reconstruction_weight=1.0, adversarial_weight=SRGAN_ADVERSARIAL_WEIGHT)
    expected_mse = ((TARGETS - OUTPUTS) ** 2).reshape(2, -1).mean(axis=1)
    np.testing.assert_allclose(np.asarray(mse), expected_mse, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(total), expected_mse - 1e-3 * np.log(scores[:, 0].astype("float64")),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="reconstruction"):
        reconstruction_loss(TARGETS, OUTPUTS, "l2")


def _one_step(gan, sources, targets, pairs):
    """Run one train_step; return its logs and what the oracle expects from the networks BEFORE it."""
    fakes = np.asarray(gan.generator(sources, training=True))
    real_in, fake_in = ([sources, targets], [sources, fakes]) if pairs else (targets, fakes)
    real = np.asarray(gan.discriminator(real_in, training=True), dtype="float64")
    fake = np.asarray(gan.discriminator(fake_in, training=True), dtype="float64")
    logs = gan.train_on_batch(sources, targets, return_dict=True)
    batch = len(sources)
    d_loss = (numpy_bce(1.0, real).reshape(batch, -1).mean(1) + numpy_bce(0.0, fake).reshape(batch, -1).mean(1)).mean()
    return logs, {"d_loss": d_loss, "real_score": real.mean(), "fake_score": fake.mean()}, fakes


def test_pix2pix_train_step_matches_its_oracle():
    keras.utils.set_random_seed(1)
    sources = RNG.random((4, 8, 8, 1)).astype("float32")
    targets = RNG.random((4, 8, 8, 1)).astype("float32")
    gan = Pix2Pix(build_unet_generator(input_shape=(8, 8, 1), filters=2),
                  build_patchgan_discriminator(input_shape=(8, 8, 1), filters=2))
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    logs, expected, fakes = _one_step(gan, sources, targets, pairs=True)
    for name, value in expected.items():
        assert logs[name] == pytest.approx(value, rel=1e-4), name
    # G's loss is computed before G's update: its L1 is that of the fakes D was trained on
    assert logs["reconstruction_loss"] == pytest.approx(float(np.mean(np.abs(targets - fakes))), rel=1e-4)
    assert logs["g_loss"] == pytest.approx(logs["adversarial_loss"] + 100.0 * logs["reconstruction_loss"], rel=1e-4)
    assert gan.discriminator.output_shape == (None, 2, 2, 1)  # PatchGAN: a 2x2 map for 8x8 inputs


def test_super_resolution_train_step_matches_its_oracle():
    keras.utils.set_random_seed(2)
    sources = RNG.random((4, 2, 2, 1)).astype("float32")
    targets = RNG.random((4, 8, 8, 1)).astype("float32")
    gan = SuperResolutionGAN(build_sr_generator(input_shape=(2, 2, 1), filters=2),
                             build_sr_discriminator(input_shape=(8, 8, 1), filters=2))
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    logs, expected, fakes = _one_step(gan, sources, targets, pairs=False)
    for name, value in expected.items():
        assert logs[name] == pytest.approx(value, rel=1e-4), name
    assert logs["reconstruction_loss"] == pytest.approx(float(np.mean((targets - fakes) ** 2)), rel=1e-4)
    assert logs["g_loss"] == pytest.approx(logs["reconstruction_loss"] + 1e-3 * logs["adversarial_loss"], rel=1e-4)
    with pytest.raises(ValueError, match="non-negative"):
        TranslationGAN(gan.generator, gan.discriminator, adversarial_weight=-1.0)


def test_psnr_by_hand_and_against_tensorflow():
    targets = np.zeros((1, 2, 2, 1))
    images = targets.copy()
    images[0, 0, 0, 0] = 0.5  # MSE = 0.25 / 4 = 1/16 -> PSNR = 10 log10(16) = 12.0412 dB
    assert psnr(targets, images)[0] == pytest.approx(10 * np.log10(16.0), abs=1e-12)
    assert psnr(targets * 255, images * 255, max_value=255.0)[0] == pytest.approx(12.041199826559248, abs=1e-9)
    assert psnr(targets, targets)[0] == np.inf
    a, b = RNG.random((3, 28, 28, 1)).astype("float32"), RNG.random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(psnr(a, b), np.asarray(tf.image.psnr(a, b, max_val=1.0)), rtol=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:2])


def test_sobel_edges_of_a_single_bright_pixel():
    image = np.zeros((1, 5, 5, 1))
    image[0, 2, 2, 0] = 1.0
    edges = sobel_edges(image)
    magnitude = np.sqrt(SOBEL_X ** 2 + SOBEL_X.T ** 2)  # [[r2, 2, r2], [2, 0, 2], [r2, 2, r2]]
    expected = np.zeros((5, 5))
    expected[1:4, 1:4] = magnitude / 2.0  # divided by the largest value, 2
    np.testing.assert_allclose(edges[0, ..., 0], expected, atol=1e-7)
    assert edges.shape == image.shape and edges.dtype == np.float32
    assert not sobel_edges(np.zeros((1, 4, 4, 1))).any()  # a blank image has no edges


def test_downsampling_averages_blocks_and_bicubic_keeps_a_constant():
    images = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    np.testing.assert_allclose(downsample(images, 2)[0, ..., 0], [[2.5, 4.5], [10.5, 12.5]])
    with pytest.raises(ValueError, match="divisible"):
        downsample(images, 3)
    constant = np.full((2, 7, 7, 1), 0.25, "float32")
    upsampled = bicubic_upsample(constant, (28, 28))
    assert upsampled.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(upsampled, 0.25, atol=1e-5)
    assert bicubic_upsample(np.ones((1, 2, 2, 1)) * 2.0, (4, 4)).max() == 1.0  # clipped to [0, 1]


def _fit_super_resolution(strategy, sources, targets):
    keras.utils.set_random_seed(3)  # the same initial weights under each strategy
    with strategy.scope():
        gan = SuperResolutionGAN(build_sr_generator(input_shape=(2, 2, 1), filters=2),
                                 build_sr_discriminator(input_shape=(8, 8, 1), filters=2), adversarial_weight=0.5)
        # SGD, not Adam: Adam's step hardly depends on the gradients' scale, so it would hide a
        # per-replica mean (gradients twice too large on two replicas)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.5), g_optimizer=keras.optimizers.SGD(0.5))
    history = gan.fit(sources, targets, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    return gan, history, [w.numpy() for w in gan.generator.weights + gan.discriminator.weights]


def test_two_replicas_give_the_same_losses_and_weights_as_one(two_cpu_strategy):
    # global batch 8 = 2 replicas x 4: per-example losses summed / GLOBAL batch on each replica
    sources = RNG.random((16, 2, 2, 1)).astype("float32")
    targets = RNG.random((16, 8, 8, 1)).astype("float32")
    _, single, single_weights = _fit_super_resolution(tf.distribute.get_strategy(), sources, targets)
    keras.utils.set_random_seed(3)
    initial = [w.numpy() for w in build_sr_generator(input_shape=(2, 2, 1), filters=2).weights]
    assert all(np.abs(a - b).max() > 1e-4 for a, b in zip(single_weights, initial))  # the generator moved
    gan, mirrored, mirrored_weights = _fit_super_resolution(two_cpu_strategy, sources, targets)
    assert gan.distribute_strategy.num_replicas_in_sync == 2
    for key in ("d_loss", "g_loss", "adversarial_loss", "reconstruction_loss", "real_score", "fake_score"):
        np.testing.assert_allclose(mirrored[key], single[key], rtol=1e-5, err_msg=key)
    for a, b in zip(mirrored_weights, single_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
