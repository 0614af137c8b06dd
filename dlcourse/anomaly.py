"""Anomaly detection by reconstruction error (Unit V "Auto-encoders": applications; notes 002
"Anomaly detection (outlier detection)"; handbook 003 ch. 5 §4.5 "high reconstruction error").

An autoencoder trained on normal data reconstructs normal inputs well and unfamiliar inputs badly,
so its per-example reconstruction error is an anomaly score. The notes' Sparse-AE claim that
"anomalies trigger more neuron activations" (000) is not the standard method; this module scores
by reconstruction error. Ranking quality is the ROC AUC (scikit-learn): the probability that a
random anomaly scores higher than a random normal example (0.5 = chance, 1 = perfect).
"""

import numpy as np

__all__ = ["reconstruction_errors", "roc_auc", "threshold_at", "detection_report", "split_normal_anomalous",
           "plot_error_histograms"]


def reconstruction_errors(model, x, *, batch_size=256, kind="mse"):
    """Per-example reconstruction error of ``model`` on ``x``, as a NumPy vector ``(len(x),)``.

    Args:
        model: an autoencoder mapping ``x`` to a reconstruction of the same shape.
        x: inputs ``(N, ...)``.
        kind: ``"mse"`` (mean squared error per example) or ``"mae"`` (mean absolute error).
    """
    if kind not in ("mse", "mae"):
        raise ValueError(f"kind must be 'mse' or 'mae'; got {kind!r}")
    x = np.asarray(x, dtype="float32")
    reconstructed = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype="float32")
    if reconstructed.shape != x.shape:
        raise ValueError(f"model output {reconstructed.shape} does not match its input {x.shape}")
    difference = (reconstructed - x).reshape(len(x), -1)
    return np.mean(difference ** 2 if kind == "mse" else np.abs(difference), axis=1)


def roc_auc(normal_scores, anomaly_scores):
    """ROC AUC of scores where anomalies should score HIGHER (``sklearn.metrics.roc_auc_score``)."""
    from sklearn.metrics import roc_auc_score

    normal_scores = np.ravel(normal_scores)
    anomaly_scores = np.ravel(anomaly_scores)
    if not len(normal_scores) or not len(anomaly_scores):
        raise ValueError("roc_auc needs at least one normal and one anomalous score")
    labels = np.concatenate([np.zeros(len(normal_scores)), np.ones(len(anomaly_scores))])
    return float(roc_auc_score(labels, np.concatenate([normal_scores, anomaly_scores])))


def threshold_at(normal_scores, quantile=0.95):
    """A decision threshold: the ``quantile`` of the normal scores (e.g. 5% false-alarm rate)."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1); got {quantile}")
    return float(np.quantile(np.ravel(normal_scores), quantile))


def detection_report(normal_scores, anomaly_scores, *, threshold=None, quantile=0.95):
    """AUC plus the detection rates at a threshold (default: :func:`threshold_at` ``quantile``).

    Returns:
        dict with ``auc``, ``threshold``, ``true_positive_rate`` (anomalies flagged),
        ``false_positive_rate`` (normal examples flagged), ``mean_normal_error``,
        ``mean_anomaly_error``.
    """
    normal_scores = np.ravel(normal_scores)
    anomaly_scores = np.ravel(anomaly_scores)
    if threshold is None:
        threshold = threshold_at(normal_scores, quantile)
    return {
        "auc": roc_auc(normal_scores, anomaly_scores),
        "threshold": float(threshold),
        "true_positive_rate": float(np.mean(anomaly_scores > threshold)),
        "false_positive_rate": float(np.mean(normal_scores > threshold)),
        "mean_normal_error": float(np.mean(normal_scores)),
        "mean_anomaly_error": float(np.mean(anomaly_scores)),
    }


def split_normal_anomalous(x, y, anomaly_classes):
    """Split ``x`` by label: ``(x_normal, x_anomalous)``; classes in ``anomaly_classes`` are anomalies."""
    y = np.ravel(y)
    is_anomaly = np.isin(y, np.asarray(list(anomaly_classes)))
    return x[~is_anomaly], x[is_anomaly]


def plot_error_histograms(normal_scores, anomaly_scores, path, *, threshold=None, title=None):
    """``anomaly_scores.png``: histograms of the two groups' reconstruction errors (and the threshold)."""
    from dlcourse import artifacts

    figure, axis = artifacts.new_figure(1, 1, width=6.0, height=4.0)
    bins = np.histogram_bin_edges(np.concatenate([np.ravel(normal_scores), np.ravel(anomaly_scores)]), bins=40)
    axis.hist(np.ravel(normal_scores), bins=bins, alpha=0.6, density=True, label="normal (held out)")
    axis.hist(np.ravel(anomaly_scores), bins=bins, alpha=0.6, density=True, label="anomalous class")
    if threshold is not None:
        axis.axvline(threshold, color="black", linestyle="--", linewidth=1, label="threshold")
    axis.set(xlabel="reconstruction error (MSE per image)", ylabel="density")
    axis.legend()
    if title:
        axis.set_title(title)
    return artifacts.save_figure(figure, path)
