"""Anomaly scoring by reconstruction error and its ROC AUC, on cases with known answers."""

import keras
import numpy as np
import pytest

from dlcourse.anomaly import (
    detection_report,
    reconstruction_errors,
    roc_auc,
    split_normal_anomalous,
    threshold_at,
)


def _pairwise_auc(normal, anomalous):
    """P(anomaly score > normal score) + 1/2 P(tie), counted over all pairs."""
    normal, anomalous = np.asarray(normal)[:, None], np.asarray(anomalous)[None, :]
    return np.mean((anomalous > normal) + 0.5 * (anomalous == normal))


@pytest.mark.parametrize("normal, anomalous, expected", [
    ([1.0, 2.0, 3.0], [2.5, 4.0], 5 / 6),  # 2.5 beats 1 and 2, 4 beats all three: 5 of 6 pairs
    ([0.1, 0.2], [0.3, 0.9], 1.0),  # perfectly separated
    ([0.5, 0.9], [0.1, 0.2], 0.0),  # perfectly inverted
    ([1.0, 1.0], [1.0, 1.0], 0.5),  # all ties: chance
])
def test_roc_auc_on_constructed_cases(normal, anomalous, expected):
    assert roc_auc(normal, anomalous) == pytest.approx(expected)


def test_roc_auc_agrees_with_pair_counting_on_random_scores():
    rng = np.random.default_rng(0)
    normal, anomalous = rng.normal(0, 1, 300), rng.normal(1, 1, 200)
    assert roc_auc(normal, anomalous) == pytest.approx(_pairwise_auc(normal, anomalous), abs=1e-12)
    with pytest.raises(ValueError):
        roc_auc([], [1.0])


def test_reconstruction_errors_of_a_known_model():
    inputs = keras.Input((6,))
    halving = keras.Model(inputs, keras.layers.Rescaling(0.5)(inputs))  # reconstructs x as x / 2
    x = np.random.default_rng(1).random((5, 6)).astype("float32")
    np.testing.assert_allclose(reconstruction_errors(halving, x), np.mean((0.5 * x) ** 2, axis=1), rtol=1e-5)
    np.testing.assert_allclose(reconstruction_errors(halving, x, kind="mae"), np.mean(0.5 * x, axis=1), rtol=1e-5)
    with pytest.raises(ValueError):
        reconstruction_errors(halving, x, kind="huber")


def test_detection_report_rates_at_the_threshold():
    normal = np.arange(1.0, 101.0)  # 1..100
    anomalous = np.array([50.0, 96.0, 99.5, 200.0])
    assert threshold_at(normal, 0.95) == pytest.approx(95.05)
    report = detection_report(normal, anomalous, quantile=0.95)
    assert report["false_positive_rate"] == pytest.approx(0.05)  # 96..100 exceed 95.05
    assert report["true_positive_rate"] == pytest.approx(0.75)
    assert report["auc"] == pytest.approx(_pairwise_auc(normal, anomalous))
    assert detection_report(normal, anomalous, threshold=0.0)["true_positive_rate"] == 1.0
    with pytest.raises(ValueError):
        threshold_at(normal, 1.0)


def test_split_normal_anomalous():
    x = np.arange(6)[:, None]
    normal, anomalous = split_normal_anomalous(x, np.array([0, 1, 2, 1, 0, 2]), anomaly_classes=[1])
    np.testing.assert_array_equal(normal.ravel(), [0, 2, 4, 5])
    np.testing.assert_array_equal(anomalous.ravel(), [1, 3])
