"""Lab 28's builders (dlcourse/models/gan_applications.py) and the stage-2 training wrapper
(dlcourse/generative/stacked.py): contract cases, parameter counts by formula, shapes, the
wrapper's generator path."""

import keras
import numpy as np
import pytest

from contract import make_contract_test
from dlcourse.generative.stacked import StageTwoGAN
from dlcourse.models.gan import build_cgan_discriminator
from dlcourse.models.gan_applications import (build_augmentation_classifier, build_stage1_generator,
                                              build_stage2_generator)


def stage1_parameters(latent_dim, num_classes, embedding_dim, image_shape, filters, kernel_size):
    """Embedding + bias-free projection to (h/2, w/2, filters) + BN + bias-free transposed conv to
    filters // 2 + BN + the 3x3 tanh conv (with bias)."""
    height, width, channels = image_shape
    cells, half = (height // 2) * (width // 2) * filters, filters // 2
    return (num_classes * embedding_dim + (latent_dim + embedding_dim) * cells + 4 * cells
            + kernel_size * kernel_size * filters * half + 4 * half + 9 * half * channels + channels)


def stage2_parameters(low_shape, num_classes, embedding_dim, filters, kernel_size):
    """Embedding + label plane (dense to h*w) + encode conv (channels + 1 in, no bias) + BN + refine conv
    (filters + channels in, no bias) + BN + output conv (with bias)."""
    height, width, channels = low_shape
    square = kernel_size * kernel_size
    return (num_classes * embedding_dim + embedding_dim * height * width + height * width
            + square * (channels + 1) * filters + 4 * filters
            + square * (filters + channels) * filters + 4 * filters
            + square * filters * channels + channels)


def classifier_parameters(image_shape, num_classes, filters, units):
    """Two 3x3 valid convs, each followed by 2x2 pooling, then dense + logits."""
    size, channels, total = image_shape[0], image_shape[2], 0
    for count in filters:
        total += 9 * channels * count + count
        size, channels = (size - 2) // 2, count
    flat = size * size * channels
    return total + flat * units + units + units * num_classes + num_classes


STAGE1_TINY = dict(latent_dim=3, num_classes=3, embedding_dim=2, image_shape=(4, 4, 1), filters=4, kernel_size=3)
STAGE2_TINY = dict(low_shape=(4, 4, 1), num_classes=3, embedding_dim=2, filters=2, kernel_size=3)
CLASSIFIER_TINY = dict(image_shape=(12, 12, 1), num_classes=3, filters=(2, 2), units=4)

CONTRACT_CASES = {
    "stage1_generator": (STAGE1_TINY, stage1_parameters(32, 10, 10, (14, 14, 1), 64, 4)),
    "stage2_generator": (STAGE2_TINY, stage2_parameters((14, 14, 1), 10, 10, 64, 3)),
    "augmentation_classifier": (CLASSIFIER_TINY, classifier_parameters((28, 28, 1), 10, (16, 32), 64)),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def test_default_parameter_counts_by_formula_and_by_hand():
    assert build_stage1_generator().count_params() == stage1_parameters(32, 10, 10, (14, 14, 1), 64, 4) == 177_541
    assert build_stage2_generator().count_params() == stage2_parameters((14, 14, 1), 10, 10, 64, 3) == 41_937
    assert build_augmentation_classifier().count_params() == classifier_parameters(
        (28, 28, 1), 10, (16, 32), 64) == 56_714
    for kwargs, formula, builder in ((STAGE1_TINY, stage1_parameters, build_stage1_generator),
                                     (STAGE2_TINY, stage2_parameters, build_stage2_generator),
                                     (CLASSIFIER_TINY, classifier_parameters, build_augmentation_classifier)):
        assert builder(**kwargs).count_params() == formula(**{key: kwargs[key] for key in formula.__code__.co_varnames
                                                              if key in kwargs})


def test_stage_shapes_ranges_and_label_dependence():
    stage1, stage2 = build_stage1_generator(), build_stage2_generator()
    noise = np.random.default_rng(0).normal(size=(4, 32)).astype("float32") * 20
    labels = np.array([[0], [3], [7], [9]], dtype="int32")
    low = np.asarray(stage1([noise, labels], training=False))
    high = np.asarray(stage2([low, labels], training=False))
    assert low.shape == (4, 14, 14, 1) and high.shape == (4, 28, 28, 1)
    assert low.min() >= -1 and low.max() <= 1 and high.min() >= -1 and high.max() <= 1
    other = np.asarray(stage2([low, (labels + 1) % 10], training=False))
    assert not np.allclose(other, high)  # the class reaches stage 2 as well, not only through stage 1
    assert stage2.get_layer("stage2_generator_upsample").output.shape[1:3] == (28, 28)


def test_stage1_rejects_odd_sizes():
    with pytest.raises(ValueError, match="even"):
        build_stage1_generator(image_shape=(7, 7, 1))


def test_stage_two_gan_generates_through_the_frozen_stage1_and_trains_only_stage2():
    keras.utils.set_random_seed(0)
    stage1 = build_stage1_generator(**STAGE1_TINY)
    stage2 = build_stage2_generator(**STAGE2_TINY)
    discriminator = build_cgan_discriminator(image_shape=(8, 8, 1), num_classes=3, embedding_dim=2, filters=(2, 2),
                                             kernel_size=3)
    gan = StageTwoGAN(stage1, stage2, discriminator, seed=0)
    assert gan.latent_dim == 3
    noise = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    labels = (np.arange(6) % 3).reshape(-1, 1).astype("int32")
    low = stage1.predict([noise, labels], verbose=0)
    expected = stage2.predict([low, labels], verbose=0)
    np.testing.assert_allclose(np.asarray(gan([noise, labels])), expected, atol=1e-5)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    before1 = [np.array(w) for w in stage1.weights]
    before2 = [np.array(w) for w in stage2.trainable_weights]
    images = np.random.default_rng(2).uniform(-1, 1, size=(6, 8, 8, 1)).astype("float32")
    history = gan.fit({"images": images, "labels": labels, "noise": noise}, epochs=1, batch_size=6, verbose=0)
    assert np.isfinite(history.history["d_loss"][0]) and np.isfinite(history.history["g_loss"][0])
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before1, stage1.weights))  # BN stats too
    assert any(not np.allclose(a, np.array(b)) for a, b in zip(before2, stage2.trainable_weights))
