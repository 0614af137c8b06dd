"""Dropout and the four normalizations, made visible on small arrays (Unit II, "Dropout", "Normalization").

The notes' normalization figure (lost from the text, only its caption survives: N batch axis, C
channels, H, W spatial; "blue pixels share mean and variance") distinguishes batch, layer, instance
and group normalization by the axes the statistics are taken over. :func:`normalization_statistics`
runs each Keras layer (as :func:`dlcourse.models.cnn.normalization_layer` builds it) on a random
batch and reports which groups of values came out with mean 0 and variance 1.
:func:`dropout_example` reproduces the notes' "100 neurons and a dropout rate of 0.5".

Where the notes are loose: they say kept neurons are "scaled down at inference time, or equivalently,
scaled up during training"; Keras does the second (inverted dropout: kept values times 1 / (1 - rate)
in training, the identity at inference), and its ``rate`` is the fraction dropped.
"""

import keras
import numpy as np

from dlcourse.models.cnn import normalization_layer

__all__ = ["dropout_example", "normalization_statistics", "STATISTICS_AXES"]

# kind -> the axes of an (N, H, W, C) batch one mean/variance is computed over ("C/G": per group)
STATISTICS_AXES = {
    "batch": "N, H, W (one per channel)",
    "layer": "H, W, C (one per example)",
    "instance": "H, W (one per example and channel)",
    "group": "H, W, C/G (one per example and group of channels)",
}


def dropout_example(units=100, rate=0.5, seed=0):
    """``Dropout(rate)`` on ``units`` ones, in training and at inference.

    Returns a dict: how many units stayed active in training (about units * (1 - rate): the notes'
    "about 50"), the value the kept ones take (1 / (1 - rate) = 2 for 0.5), and whether inference
    leaves the input unchanged.
    """
    layer = keras.layers.Dropout(rate, seed=seed)
    ones = np.ones((1, units), dtype="float32")
    trained = np.asarray(layer(ones, training=True))[0]
    inferred = np.asarray(layer(ones, training=False))[0]
    kept = trained[trained != 0]
    return {
        "units": units,
        "rate": rate,
        "active_in_training": int(kept.size),
        "expected_active": units * (1 - rate),
        "kept_value": float(kept[0]) if kept.size else None,
        "inverted_dropout_scale": 1.0 / (1.0 - rate),
        "inference_is_identity": bool(np.array_equal(inferred, ones[0])),
    }


def _standardised(values, axes):
    mean = values.mean(axis=axes)
    std = values.std(axis=axes)
    return bool(np.allclose(mean, 0.0, atol=1e-3) and np.allclose(std, 1.0, atol=2e-2))


def normalization_statistics(shape=(4, 6, 6, 8), groups=2, seed=0):
    """Which values share statistics after each normalization layer (training mode, fresh weights).

    Args:
        shape: (N, H, W, C) of the random batch (values ~ 3 + 2 * N(0, 1), so nothing starts normalised).
        groups: channel groups for "group".

    Returns:
        ``{kind: {"axes": STATISTICS_AXES[kind], "standardised_per": {grouping: bool}}}`` where each
        grouping ("channel over N,H,W", "example over H,W,C", "example and channel over H,W",
        "example and group over H,W,C/G") says whether every such group has mean 0 and std 1.
    """
    n, height, width, channels = shape
    x = (3.0 + 2.0 * np.random.default_rng(seed).standard_normal(shape)).astype("float32")
    results = {}
    for kind in STATISTICS_AXES:
        layer = normalization_layer(kind, groups=groups, name=f"{kind}_norm")
        y = np.asarray(layer(x, training=True), dtype="float64")
        grouped = y.reshape(n, height, width, groups, channels // groups)
        results[kind] = {
            "axes": STATISTICS_AXES[kind],
            "standardised_per": {
                "channel over N,H,W": _standardised(y, (0, 1, 2)),
                "example over H,W,C": _standardised(y, (1, 2, 3)),
                "example and channel over H,W": _standardised(y, (1, 2)),
                "example and group over H,W,C/G": _standardised(grouped, (1, 2, 4)),
            },
        }
    return results
