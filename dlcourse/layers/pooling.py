"""Custom layers for Unit II's activation and pooling sections: ``MinPooling2D`` and ``Maxout``.

Unit II, "Types of pooling layers" lists min pooling beside max and average pooling, but Keras has
no min-pooling layer; :class:`MinPooling2D` computes it as ``-maxpool(-x)``. Unit II, "Activation
functions" gives Maxout as ``max(w1^T x + b1, w2^T x + b2)``: an activation with weights, so it is
the layer :class:`Maxout`. :func:`pool2d` is the NumPy reference both are tested against.
"""

import keras
import numpy as np

__all__ = ["MinPooling2D", "Maxout"]


def pool2d(x, pool_size=2, strides=None, mode="max"):
    """NumPy pooling of one 2-D map with 'valid' padding: the notes' n x n filter moved by stride k.

    Args:
        x: a 2-D array (height, width).
        pool_size: n, the window side.
        strides: k, the step (default ``pool_size``).
        mode: "max", "average" or "min".

    Returns:
        The pooled map, shape ((H - n) // k + 1, (W - n) // k + 1).
    """
    reducers = {"max": np.max, "average": np.mean, "min": np.min}
    if mode not in reducers:
        raise ValueError(f"mode must be one of {sorted(reducers)}, got {mode!r}")
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"pool2d expects a 2-D map, got shape {x.shape}")
    strides = pool_size if strides is None else strides
    rows = (x.shape[0] - pool_size) // strides + 1
    columns = (x.shape[1] - pool_size) // strides + 1
    out = np.empty((rows, columns))
    for i in range(rows):
        for j in range(columns):
            window = x[i * strides:i * strides + pool_size, j * strides:j * strides + pool_size]
            out[i, j] = reducers[mode](window)
    return out


# Unit II, "Types of pooling layers": the notes' 2x2 region (max 4; average 2.5 and min 1 follow), and
# a 4x4 feature map for the "kernel of size 2x2 with stride 2" caption (the figure itself is missing).
WORKED_REGION = ((2, 4), (1, 3))
FEATURE_MAP = ((1, 1, 2, 4), (5, 6, 7, 8), (3, 2, 1, 0), (1, 2, 3, 4))


def pooling_examples(region=WORKED_REGION, feature_map=FEATURE_MAP):
    """The notes' pooling examples worked in NumPy and by the Keras layers, as a JSON-ready dict.

    For each input: max, average and min pooling (2x2, stride 2), global max and global average, each
    computed by :func:`pool2d` / NumPy and by ``MaxPooling2D``, ``AveragePooling2D``,
    :class:`MinPooling2D`, ``GlobalMaxPooling2D`` and ``GlobalAveragePooling2D``; ``"agree"`` says
    whether the two match.
    """
    layers = {
        "max": keras.layers.MaxPooling2D(2, 2),
        "average": keras.layers.AveragePooling2D(2, 2),
        "min": MinPooling2D(2, 2),
        "global_max": keras.layers.GlobalMaxPooling2D(),
        "global_average": keras.layers.GlobalAveragePooling2D(),
    }
    results = {}
    for label, array in (("worked_region", region), ("feature_map", feature_map)):
        x = np.asarray(array, dtype="float32")
        numpy = {mode: pool2d(x, 2, 2, mode).tolist() for mode in ("max", "average", "min")}
        numpy["global_max"] = float(x.max())
        numpy["global_average"] = float(x.mean())
        batch = x[None, :, :, None]  # (1, H, W, 1)
        layer_results = {}
        for mode, layer in layers.items():
            out = np.asarray(keras.ops.convert_to_numpy(layer(batch)))
            layer_results[mode] = float(out.ravel()[0]) if mode.startswith("global") else out[0, :, :, 0].tolist()
        agree = all(np.allclose(numpy[mode], layer_results[mode]) for mode in layers)
        results[label] = {"input": x.tolist(), "pool_size": 2, "strides": 2,
                          "input_shape": list(x.shape), "output_shape": list(np.shape(numpy["max"])),
                          "numpy": numpy, "keras": layer_results, "agree": bool(agree)}
    return results


@keras.saving.register_keras_serializable(package="dlcourse")
class MinPooling2D(keras.layers.MaxPooling2D):
    """Min pooling, ``-MaxPooling2D(-x)``: the smallest value in each window (Unit II, pooling types).

    Same arguments as ``keras.layers.MaxPooling2D`` (``pool_size``, ``strides``, ``padding``,
    ``data_format``). With 'same' padding the padded border is ignored, as in max pooling.
    """

    def call(self, inputs):
        return -super().call(-inputs)


@keras.saving.register_keras_serializable(package="dlcourse")
class Maxout(keras.layers.Layer):
    """Maxout units: ``max_k (w_k^T x + b_k)`` over ``pieces`` affine maps (Unit II, "Activation functions").

    The notes' formula is the ``pieces=2`` case. Acts on the last axis, like ``Dense``; it has
    ``(features + 1) * units * pieces`` weights. Goodfellow et al. (2013) introduced it; with enough
    pieces it can learn ReLU, |x| or any convex piecewise-linear activation.

    Args:
        units: number of outputs.
        pieces: number of affine maps each unit takes the maximum of (the notes' 2; 1 is a linear unit).
    """

    def __init__(self, units, pieces=2, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be positive, got {units}")
        if int(pieces) < 1:
            raise ValueError(f"pieces must be positive, got {pieces}")
        self.units = int(units)
        self.pieces = int(pieces)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        features = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(features, self.units * self.pieces),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units * self.pieces,),
                                    initializer=self.bias_initializer)

    def call(self, inputs):
        z = keras.ops.matmul(inputs, self.kernel) + self.bias  # (..., units * pieces)
        z = keras.ops.reshape(z, tuple(keras.ops.shape(z)[:-1]) + (self.units, self.pieces))
        return keras.ops.max(z, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            pieces=self.pieces,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
