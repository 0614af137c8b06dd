"""Fréchet distance, Inception-Score-style score and k-NN precision/recall (dlcourse.generative.scores),
tested on closed forms and constructed sample sets."""

import math

import numpy as np
import pytest

from dlcourse import data
from dlcourse.generative.scores import (classifier_score, feature_model, feature_statistics, frechet_distance,
                                        knn_radii, precision_recall, score_images, to_signed_unit,
                                        train_feature_classifier)


def test_frechet_distance_of_one_dimensional_gaussians():
    # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2.  N(0, 1) vs N(3, 4): 9 + 1 = 10.
    assert frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(10.0, abs=1e-9)
    assert frechet_distance(0.5, 2.25, 0.5, 0.25) == pytest.approx((1.5 - 0.5) ** 2, abs=1e-9)


def test_frechet_distance_of_diagonal_gaussians():
    # Diagonal covariances (variances v): ||mu1 - mu2||^2 + sum(v1 + v2 - 2 sqrt(v1 v2)).
    mean_1, mean_2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 3.0, -2.0])
    var_1, var_2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = 1 + 4 + 0 + (1 + 9 - 2 * 3) + (4 + 1 - 2 * 2) + 0
    assert expected == 10
    assert frechet_distance(mean_1, np.diag(var_1), mean_2, np.diag(var_2)) == pytest.approx(expected, abs=1e-9)


def test_frechet_distance_of_full_covariances_against_an_eigendecomposition():
    # Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)): an independent route via symmetric eigendecompositions.
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mean_1, mean_2 = rng.normal(size=4), rng.normal(size=4)

    def sqrt_psd(matrix):
        values, vectors = np.linalg.eigh(matrix)
        return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T

    root_1 = sqrt_psd(s1)
    expected = np.sum((mean_1 - mean_2) ** 2) + np.trace(s1 + s2) - 2 * np.trace(sqrt_psd(root_1 @ s2 @ root_1))
    assert frechet_distance(mean_1, s1, mean_2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mean_1, s1, mean_1, s1) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(mean_1, s1, mean_2, s1) == pytest.approx(np.sum((mean_1 - mean_2) ** 2), rel=1e-7)


def test_feature_statistics_and_sample_estimate():
    rng = np.random.default_rng(1)
    features = rng.normal(loc=[1.0, -1.0], scale=[1.0, 2.0], size=(20_000, 2))
    mean, covariance = feature_statistics(features)
    np.testing.assert_allclose(mean, features.mean(axis=0))
    np.testing.assert_allclose(covariance, np.cov(features.T))
    shifted = features + np.array([3.0, 0.0])
    assert frechet_distance(mean, covariance, *feature_statistics(shifted)) == pytest.approx(9.0, rel=1e-9)
    # Samples of N((1,-1), diag(1, 4)) vs the exact distribution: close to 0.
    assert frechet_distance(mean, covariance, [1.0, -1.0], np.diag([1.0, 4.0])) < 0.01
    with pytest.raises(ValueError):
        feature_statistics(features[:1])


def test_frechet_distance_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(2)
    first, second = rng.normal(size=(5, 12)), rng.normal(size=(5, 12))  # singular covariances
    distance = frechet_distance(*feature_statistics(first), *feature_statistics(second))
    assert np.isfinite(distance) and distance > 0


def test_classifier_score_bounds_and_a_worked_example():
    # Every sample the same prediction -> 1; one-hot predictions spread evenly over K classes -> K.
    assert classifier_score(np.tile([0.2, 0.3, 0.5], (6, 1))) == pytest.approx(1.0)
    assert classifier_score(np.eye(4)[np.arange(12) % 4]) == pytest.approx(4.0, rel=1e-6)
    # p1 = [1, 0], p2 = [0.5, 0.5]: p(y) = [0.75, 0.25]; KL1 = ln(4/3), KL2 = 0.5 ln(2/3) + 0.5 ln 2.
    kl = (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2
    assert classifier_score(np.array([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx(math.exp(kl), rel=1e-9)
    assert math.exp(kl) == pytest.approx(1.2408, abs=1e-4)
    # Splits average the per-split scores.
    predictions = np.concatenate([np.eye(2)[[0, 1]], np.tile([[1.0, 0.0]], (2, 1))])
    assert classifier_score(predictions, splits=2) == pytest.approx((2.0 + 1.0) / 2)
    with pytest.raises(ValueError):
        classifier_score(np.ones(3))


@pytest.fixture(scope="module")
def digits_classifier():
    x_train, y_train = data.load("digits")
    return train_feature_classifier(x_train, y_train, epochs=3, seed=0)


def test_feature_classifier_learns_the_digits(digits_classifier):
    x_test, y_test = data.load("digits", split="test")
    probabilities = digits_classifier.predict(to_signed_unit(x_test), verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_test))
    assert accuracy > 0.8  # about 0.92 after 3 epochs on the 1437 training digits


def test_scores_rank_real_digits_above_noise_and_mode_collapse(digits_classifier):
    x_train, _ = data.load("digits")
    x_test, _ = data.load("digits", split="test")
    real = score_images(digits_classifier, x_test, x_train[:360])
    noise = score_images(digits_classifier, x_test, np.random.default_rng(0).uniform(-1, 1, x_test.shape))
    collapsed = score_images(digits_classifier, x_test, np.repeat(x_train[:1], 360, axis=0))
    assert real["frechet_classifier_distance"] < 0.1 * noise["frechet_classifier_distance"]
    assert real["classifier_score"] > 5.0 and real["classifier_score_real"] > 5.0  # about 8.4 of at most 10
    assert collapsed["classifier_score"] == pytest.approx(1.0, abs=1e-3)  # one mode: the IS floor
    assert collapsed["frechet_classifier_distance"] > 10 * real["frechet_classifier_distance"]


def test_feature_model_needs_a_features_layer():
    import keras

    inputs = keras.Input((4,))
    plain = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    with pytest.raises(ValueError, match="_features"):
        feature_model(plain)


def test_knn_radii_against_brute_force():
    # points 0, 1, 3, 7 on a line: nearest other points 1, 1, 2, 4; second nearest 3, 2, 3, 6
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(knn_radii(points, k=1), [1.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(knn_radii(points, k=2, batch_size=3), [3.0, 2.0, 3.0, 6.0])
    with pytest.raises(ValueError, match="k"):
        knn_radii(points, k=4)


def test_precision_recall_on_constructed_sample_sets():
    from dlcourse.data.ring import ring_of_gaussians

    real, modes = ring_of_gaussians(800, seed=0)
    assert precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    # samples of half of the modes (here: the real points of modes 0-3): all realistic, half the data covered
    half = precision_recall(real, real[modes < 4])
    assert half["precision"] == 1.0 and half["recall"] == pytest.approx(0.5, abs=1e-12)
    # far from the data: nothing realistic, nothing covered
    assert precision_recall(real, real + 10.0) == {"precision": 0.0, "recall": 0.0}
    # a fresh draw of the same distribution: both near 1
    fresh = precision_recall(real, ring_of_gaussians(800, seed=1)[0])
    assert fresh["precision"] > 0.9 and fresh["recall"] > 0.9
    # by hand in 1-D, k = 1: real 0, 1, 2 (radii 1, 1, 1); generated 1.5, 5, 6 (radii 3.5, 1, 1)
    by_hand = precision_recall([0.0, 1.0, 2.0], [1.5, 5.0, 6.0], k=1)
    assert by_hand["precision"] == pytest.approx(1 / 3) and by_hand["recall"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ"):
        precision_recall(np.zeros((4, 2)), np.zeros((4, 3)))
