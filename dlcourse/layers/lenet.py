"""LeNet-5's two unusual layers, as the handbook tabulates them (003 §2.10.2 "Classic Network: LeNet-5").

- :class:`Subsampling` (S2, S4): average of each 2x2 window times one trainable coefficient plus one
  trainable bias per map, then tanh: (1 + 1) x maps parameters (12 for S2, 32 for S4). Keras'
  ``AveragePooling2D`` has none.
- :class:`PartialConv2D` (C3): a convolution in which each output map sees only some input maps, per
  the handbook's Table I (:data:`LENET5_C3_CONNECTIONS`). Only the connected kernel slices are
  weights, so C3 has 60 x 25 + 16 = 1,516 trainable parameters (a full ``Conv2D(16, 5)`` on six maps
  has 2,416).

Where the handbook is loose: LeCun et al. (1998) *sum* the four inputs before the coefficient; the
average used here is the same function with the coefficient divided by 4 (so it starts as plain
average pooling). The handbook lists tanh on the pooling rows; LeCun used a scaled tanh/sigmoid there.
"""

import keras
import numpy as np

__all__ = ["Subsampling", "PartialConv2D"]

# Handbook Table I: C3 map -> the S2 maps it reads. 6 x 3 contiguous, 6 x 4 contiguous,
# 3 x 4 discontinuous, 1 x all six: 60 connections.
LENET5_C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def connection_mask(connections, input_channels):
    """The (input_channels, filters) 0/1 matrix of a connection table (rows = input maps)."""
    mask = np.zeros((input_channels, len(connections)), dtype="float32")
    for output_map, inputs in enumerate(connections):
        for input_map in inputs:
            if not 0 <= int(input_map) < input_channels:
                raise ValueError(f"output map {output_map} reads input map {input_map}, but there are "
                                 f"only {input_channels} input maps")
            mask[int(input_map), output_map] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="dlcourse")
class Subsampling(keras.layers.Layer):
    """LeNet-5's trainable subsampling: ``activation(coefficient * avgpool(x) + bias)`` per map.

    Args:
        pool_size: window side (the handbook's 2).
        strides: step (default ``pool_size``; the handbook's 2).
        activation: applied after the affine map (the handbook's table lists tanh).

    Output size: (W - pool_size) / strides + 1 (14 for S2, 5 for S4). Parameters: 2 per map.
    """

    def __init__(self, pool_size=2, strides=None, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.strides = self.pool_size if strides is None else int(strides)
        self.activation = keras.activations.get(activation)
        self.pool = keras.layers.AveragePooling2D(self.pool_size, self.strides, name="pool")

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(name="coefficient", shape=(channels,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        return self.activation(self.pool(inputs) * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        return self.pool.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides,
                      activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package="dlcourse")
class PartialConv2D(keras.layers.Layer):
    """A 'valid' convolution whose output map j reads only the input maps ``connections[j]``.

    LeNet-5's C3 (handbook Table I; default :data:`LENET5_C3_CONNECTIONS`). Only connected kernel
    slices are stored: the kernel variable has shape (kh, kw, number of connections), and the full
    (kh, kw, in, out) kernel is gathered from it with zeros elsewhere, so trainable parameters =
    kh * kw * connections + filters (1,516 for C3).

    Args:
        connections: one tuple of input-map indices per output map (filters = its length).
        kernel_size: int or (kh, kw); stride 1, no padding.
        activation: applied to the output.
    """

    def __init__(self, connections=LENET5_C3_CONNECTIONS, kernel_size=5, activation="tanh",
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.connections = [[int(i) for i in inputs] for inputs in connections]
        if not self.connections or any(len(inputs) == 0 for inputs in self.connections):
            raise ValueError("connections must list at least one input map for every output map")
        if any(len(set(inputs)) != len(inputs) for inputs in self.connections):
            raise ValueError("an output map lists the same input map twice in connections")
        size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.kernel_size = tuple(int(k) for k in size)
        self.filters = len(self.connections)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        mask = connection_mask(self.connections, channels)
        count = int(mask.sum())
        # index[i, j] = which stored slice feeds input map i -> output map j; `count` = the zero slice.
        index = np.full(mask.shape, count, dtype="int32")
        slot = 0
        for output_map, inputs in enumerate(self.connections):
            for input_map in inputs:
                index[input_map, output_map] = slot
                slot += 1
        self._index = index
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (count,),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def full_kernel(self):
        """The (kh, kw, in, out) kernel with zeros where the table has no connection."""
        padded = keras.ops.concatenate(
            [self.kernel, keras.ops.zeros(self.kernel_size + (1,), dtype=self.kernel.dtype)], axis=-1)
        return keras.ops.take(padded, keras.ops.convert_to_tensor(self._index), axis=-1)

    def call(self, inputs):
        outputs = keras.ops.conv(inputs, self.full_kernel(), strides=1, padding="valid")
        return self.activation(outputs + self.bias)

    def compute_output_shape(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        kh, kw = self.kernel_size
        return (input_shape[0],
                None if height is None else height - kh + 1,
                None if width is None else width - kw + 1,
                self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            connections=self.connections,
            kernel_size=list(self.kernel_size),
            activation=keras.activations.serialize(self.activation),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
