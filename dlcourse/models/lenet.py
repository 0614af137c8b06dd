"""LeNet-5 as the handbook tabulates it (003 §2.10.2 "Classic Network: LeNet-5").

The handbook's table (:data:`LENET5_TABLE`) gives every layer's output size and parameter count:
C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164, in all 60,000 ("~60K" in its pretrained-model
table), plus an output layer it does not count (84 -> 10 softmax: 850), so 60,850 in all.

Where the handbook is loose or wrong (docs/SOURCES.md, errata B21, B22):
- S2/S4 have trainable parameters (LeCun's subsampling), which Keras' ``AveragePooling2D`` lacks,
  and C3 is partially connected (Table I), which a ``Conv2D`` is not: see ``dlcourse.layers.lenet``.
  ``build_lenet5(faithful=False)`` is the common Keras variant (full C3, plain average pooling,
  61,706 parameters).
- The output layer is a softmax dense layer here, as the handbook says; LeCun's was RBF units.
- The input is 32x32, MNIST is 28x28: the handbook does not say to pad; lab 07 pads by 2.
- Its output-size formula has no floor and prints "(14 - 5 + 0 / 1) + 1"; :func:`output_size` is
  floor((W - F + 2P) / S) + 1.
"""

import keras

from dlcourse.layers.lenet import LENET5_C3_CONNECTIONS, PartialConv2D, Subsampling

__all__ = ["build_lenet5", "output_size", "connections", "LENET5_TABLE", "LENET5_TOTAL_PARAMS"]

# layer -> (handbook output shape, handbook trainable parameters, handbook connections); the output
# layer's row is derived (the handbook gives no count for it).
LENET5_TABLE = {
    "c1": ((28, 28, 6), 156, 122_304),
    "s2": ((14, 14, 6), 12, 5_880),
    "c3": ((10, 10, 16), 1_516, 151_600),
    "s4": ((5, 5, 16), 32, 2_000),
    "c5": ((1, 1, 120), 48_120, 48_120),
    "f6": ((84,), 10_164, 10_164),
    "output": ((10,), 850, 850),  # derived: (84 + 1) * 10
}
LENET5_TOTAL_PARAMS = 60_850  # the handbook's 60,000 (C1..F6) + the output layer's 850


def output_size(width, kernel_size, padding=0, strides=1):
    """The handbook's (W - F + 2P) / S + 1, with the floor it leaves out."""
    return (width - kernel_size + 2 * padding) // strides + 1


def connections(layer):
    """The handbook's connection count of a built layer, from its shapes (003 §2.10.2).

    ``(input + bias) * feature maps * feature map size``: every output unit is connected to the
    inputs it reads plus its bias, e.g. C1 (5 * 5 + 1) * 6 * 28 * 28 = 122,304, S2 (2 * 2 + 1) * 6 * 14 * 14
    = 5,880, C3 (Table I) 1,516 * 10 * 10 = 151,600, F6 (120 + 1) * 84 = 10,164.

    Args:
        layer: a built ``Conv2D``, :class:`~dlcourse.layers.PartialConv2D`,
            :class:`~dlcourse.layers.Subsampling` or ``Dense`` layer.

    Returns:
        The number of connections as an int.
    """
    height_width_maps = layer.output.shape[1:]
    positions = 1
    for size in height_width_maps[:-1]:
        positions *= int(size)  # the feature map size (1 for a dense layer)
    input_channels = int(layer.input.shape[-1])
    if isinstance(layer, PartialConv2D):  # each output map reads only its Table I inputs
        kernel = layer.kernel_size[0] * layer.kernel_size[1]
        return sum(kernel * len(inputs) + 1 for inputs in layer.connections) * positions
    if isinstance(layer, Subsampling):  # one pool window (no channel mixing) plus the bias, per unit
        return (layer.pool_size * layer.pool_size + 1) * int(height_width_maps[-1]) * positions
    if isinstance(layer, keras.layers.AveragePooling2D):  # the Keras variant: the same windows, no bias
        return layer.pool_size[0] * layer.pool_size[1] * int(height_width_maps[-1]) * positions
    if isinstance(layer, keras.layers.Conv2D):
        kernel = layer.kernel_size[0] * layer.kernel_size[1]
        return (kernel * input_channels + 1) * layer.filters * positions
    if isinstance(layer, keras.layers.Dense):
        return (input_channels + 1) * layer.units
    raise TypeError(f"no connection count for a {type(layer).__name__} layer")


def build_lenet5(*, input_shape=(32, 32, 1), num_classes=10, activation="tanh", faithful=True,
                 name="lenet5"):
    """LeNet-5: C1 conv 6@5x5 -> S2 -> C3 16@5x5 -> S4 -> C5 120@5x5 -> F6 84 -> softmax output.

    Handbook 003 §2.10.2 (layer tables C1..F6, Table I for C3). With ``faithful=True`` (default)
    S2/S4 are trainable :class:`~dlcourse.layers.Subsampling` layers and C3 a
    :class:`~dlcourse.layers.PartialConv2D` with the handbook's connection table, so each layer has
    the handbook's parameter count and the model 60,850 (60,000 + the 850-weight output layer).
    With ``faithful=False`` it is the common Keras variant (full C3, ``AveragePooling2D``): 61,706.

    Args:
        input_shape: (32, 32, 1) in the handbook; pad MNIST's 28x28 by 2 on each side.
        num_classes: outputs of the softmax layer (digits: 10).
        activation: of C1, C3, C5, F6 and the subsampling layers (the handbook's tanh).
        faithful: the handbook's S2/S4/C3 (True) or the common Keras variant (False).

    Returns:
        A model mapping (batch, 32, 32, 1) to (batch, num_classes) probabilities (softmax).
    """
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = keras.layers.Conv2D(6, 5, activation=activation, name=f"{name}_c1")(inputs)  # (batch, 28, 28, 6)
    if faithful:
        x = Subsampling(2, activation=activation, name=f"{name}_s2")(x)  # (batch, 14, 14, 6)
        x = PartialConv2D(LENET5_C3_CONNECTIONS, kernel_size=5, activation=activation,
                          name=f"{name}_c3")(x)  # (batch, 10, 10, 16)
        x = Subsampling(2, activation=activation, name=f"{name}_s4")(x)  # (batch, 5, 5, 16)
    else:
        x = keras.layers.AveragePooling2D(2, name=f"{name}_s2")(x)
        x = keras.layers.Conv2D(16, 5, activation=activation, name=f"{name}_c3")(x)
        x = keras.layers.AveragePooling2D(2, name=f"{name}_s4")(x)
    x = keras.layers.Conv2D(120, 5, activation=activation, name=f"{name}_c5")(x)  # (batch, 1, 1, 120)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(84, activation=activation, name=f"{name}_f6")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)
