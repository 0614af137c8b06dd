"""Lab 25's parts: the ring data and mode counter (dlcourse.data.ring), the ring GAN builders
(dlcourse.models.ring_gan) and the WGAN-GP / feature-matching train steps (dlcourse.generative.wgan),
checked against closed forms and NumPy."""

import keras
import numpy as np
import pytest

from contract import make_contract_test
from dlcourse.data.ring import mode_statistics, ring_centres, ring_of_gaussians
from dlcourse.generative.wgan import (FeatureMatchingGAN, WGANGP, feature_matching_loss, gradient_norms,
                                      gradient_penalty, interpolate)
from dlcourse.grading import metrics
from dlcourse.models.ring_gan import build_ring_discriminator, build_ring_generator


def _dense_parameters(widths):
    """Weights + biases of a chain of Dense layers of ``widths`` (input size first)."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(widths[:-1], widths[1:]))


RING_GENERATOR = _dense_parameters([16, 128, 128, 128, 2])  # 35,458
RING_DISCRIMINATOR = _dense_parameters([2, 128, 128, 128, 1])  # 33,537

CONTRACT_CASES = {
    "ring_generator": (dict(latent_dim=3, units=(4, 5)), RING_GENERATOR),
    # the spectral-normalised form, so the contract's .h5 round trip covers the SpectralNormalization wrapper
    "ring_discriminator": (dict(units=(4, 3), spectral_norm=True), RING_DISCRIMINATOR),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def test_parameter_counts_by_formula():
    assert (RING_GENERATOR, RING_DISCRIMINATOR) == (35458, 33537)
    assert build_ring_generator(latent_dim=4, units=(8, 6)).count_params() == _dense_parameters([4, 8, 6, 2])
    assert build_ring_discriminator(units=(8, 6), output="linear").count_params() == _dense_parameters([2, 8, 6, 1])
    # SpectralNormalization adds a non-trainable power-iteration vector u of each layer's output size
    spectral = build_ring_discriminator(units=(8, 6), spectral_norm=True)
    assert spectral.count_params() == _dense_parameters([2, 8, 6, 1]) + 8 + 6 + 1
    assert sum(int(np.prod(w.shape)) for w in spectral.non_trainable_weights) == 8 + 6 + 1
    assert [type(layer).__name__ for layer in spectral.layers].count("SpectralNormalization") == 3
    assert spectral.get_layer("ring_discriminator_features").output.shape[-1] == 6
    with pytest.raises(ValueError, match="output"):
        build_ring_discriminator(output="tanh")


def test_ring_data_is_balanced_reproducible_and_centred():
    centres = ring_centres()
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0)
    np.testing.assert_allclose(centres[2], [0.0, 2.0], atol=1e-12)  # 90 degrees
    points, labels = ring_of_gaussians(800, seed=3)
    again, _ = ring_of_gaussians(800, seed=3)
    np.testing.assert_array_equal(points, again)
    assert points.shape == (800, 2) and points.dtype == np.float32
    assert np.bincount(labels).tolist() == [100] * 8
    for mode in range(8):  # the mean of 100 draws of std 0.05 is within 4 standard errors (0.02) of the centre
        assert np.abs(points[labels == mode].mean(axis=0) - centres[mode]).max() < 0.02


def test_mode_statistics_on_constructed_samples():
    centres = ring_centres()
    exact = np.repeat(centres, 10, axis=0)  # 10 points on each centre
    assert mode_statistics(exact) == {"modes_covered": 8, "high_quality_share": 1.0, "counts": [10] * 8}
    half = np.repeat(centres[:4], 10, axis=0)
    assert mode_statistics(half)["modes_covered"] == 4 and mode_statistics(half)["high_quality_share"] == 1.0
    # 3 std = 0.15: a point 0.14 from a centre counts, one 0.16 away does not
    offsets = np.array([[0.14, 0.0], [0.0, -0.16]])
    assert mode_statistics(centres[[0]] + offsets)["counts"][0] == 1
    assert mode_statistics(centres[[0]] + offsets)["high_quality_share"] == 0.5
    # a mode needs at least min_share (2%) of ALL samples: 1 point of 100 is not enough, 2 are
    far = np.zeros((99, 2))  # the ring's centre, 2 away from every mode
    assert mode_statistics(np.vstack([far, centres[[5]]])) == {"modes_covered": 0, "high_quality_share": 0.01,
                                                               "counts": [0, 0, 0, 0, 0, 1, 0, 0]}
    assert mode_statistics(np.vstack([far[:98], centres[[5, 5]]]))["modes_covered"] == 1
    assert mode_statistics(np.vstack([far[:98], centres[[5, 5]]]), min_share=0.05)["modes_covered"] == 0


def test_interpolate_lies_on_the_line_between_real_and_fake():
    real, fake = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[-1.0, 0.0], [5.0, 8.0]])
    np.testing.assert_allclose(interpolate(real, fake, [1.0, 0.0]), [[1.0, 2.0], [5.0, 8.0]])
    np.testing.assert_allclose(interpolate(real, fake, [0.25, 0.5]), [[-0.5, 0.5], [4.0, 6.0]])


def test_gradient_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared():
    # f(x) = w.x + b has gradient w everywhere: ||grad|| = ||w|| = 5, penalty 10 (5 - 1)^2 = 160 per example
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    critic.layers[0].set_weights([np.array([[3.0], [4.0]], dtype="float32"), np.array([0.7], dtype="float32")])
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    alpha = rng.uniform(size=6)
    np.testing.assert_allclose(gradient_norms(critic, real), np.full(6, 5.0), rtol=1e-6)
    np.testing.assert_allclose(gradient_penalty(critic, real, fake, alpha), np.full(6, 160.0), rtol=1e-5)
    np.testing.assert_allclose(gradient_penalty(critic, real, fake, alpha, weight=2.0), np.full(6, 32.0), rtol=1e-5)


def test_gradient_penalty_of_a_quadratic_critic_against_numpy():
    # f(x) = sum x^2: grad = 2 x_hat at x_hat = a real + (1 - a) fake
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")
    alpha = rng.uniform(size=5).astype("float32")
    x_hat = alpha[:, None] * real + (1 - alpha[:, None]) * fake
    expected = 10.0 * (np.linalg.norm(2 * x_hat, axis=1) - 1.0) ** 2
    penalty = gradient_penalty(lambda x: keras.ops.sum(x ** 2, axis=1, keepdims=True), real, fake, alpha)
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)


def test_feature_matching_loss_against_numpy():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(8, 4)), rng.normal(loc=1.0, size=(6, 4))
    expected = np.sum((real.mean(axis=0) - fake.mean(axis=0)) ** 2)
    assert float(feature_matching_loss(real.astype("float32"), fake.astype("float32"))) == pytest.approx(expected, rel=1e-5)
    assert float(feature_matching_loss(real.astype("float32"), real[::-1].astype("float32"))) == pytest.approx(0.0, abs=1e-6)


def _tiny_pair(output):
    keras.utils.set_random_seed(0)
    return (build_ring_generator(latent_dim=3, units=(8,)),
            build_ring_discriminator(units=(8, 4), output=output))


def test_wgan_gp_step_makes_n_critic_critic_updates_and_one_generator_update():
    generator, critic = _tiny_pair("linear")
    gan = WGANGP(generator, critic, n_critic=3, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    before = [w.copy() for w in generator.get_weights()]
    points, _ = ring_of_gaussians(16, seed=0)
    logs = gan.fit(points, batch_size=16, epochs=1, verbose=0).history  # one step (eager: no tracing to wait for)
    assert int(gan.d_optimizer.iterations) == 3 and int(gan.g_optimizer.iterations) == 1
    assert set(logs) == {"d_loss", "g_loss", "gradient_penalty", "wasserstein_estimate"}
    assert all(np.isfinite(values[-1]) for values in logs.values()) and logs["gradient_penalty"][-1] >= 0
    assert any(not np.allclose(a, b) for a, b in zip(before, generator.get_weights()))
    with pytest.raises(ValueError, match="n_critic"):
        WGANGP(generator, critic, n_critic=0)


def test_feature_matching_gan_step_trains_both_networks_on_the_features():
    generator, discriminator = _tiny_pair("sigmoid")
    gan = FeatureMatchingGAN(generator, discriminator, seed=0)
    # learning rate 0: the step's logged g_loss is the loss of the initial networks, computable here
    gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0), run_eagerly=True)
    assert gan.features.output.shape[-1] == 4  # the discriminator's last hidden layer
    points, _ = ring_of_gaussians(16, seed=0)
    noise = np.random.default_rng(0).standard_normal((16, 3)).astype("float32")
    expected = feature_matching_loss(gan.features(points), gan.features(generator(noise)))
    logs = gan.fit({"images": points, "noise": noise}, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    assert int(gan.d_optimizer.iterations) == 1 and int(gan.g_optimizer.iterations) == 1
    assert logs["g_loss"][-1] == pytest.approx(float(expected), rel=1e-5) and float(expected) > 0
    with pytest.raises(ValueError, match="_features"):
        FeatureMatchingGAN(generator, keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))


def test_ring_modes_covered_check_counts_a_generator_that_copies_its_noise_onto_the_centres():
    # A linear "generator" from 2-D noise: x = 0.01 z + centre 0 puts every point on mode 0 -> 1 mode.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.layers[0].set_weights([0.01 * np.eye(2, dtype="float32"), ring_centres()[0].astype("float32")])
    assert metrics.ring_modes_covered(model, {"count": 500}, None) == 1.0
    model.layers[0].set_weights([0.01 * np.eye(2, dtype="float32"), np.zeros(2, dtype="float32")])
    assert metrics.KINDS["ring_modes_covered"](model, {}, None) == 0.0
