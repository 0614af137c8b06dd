"""The notes' two CNNs (Unit II, "Training of CNN in TensorFlow", Listings II-A and II-B).

Both listings use ``Sequential`` with ``input_shape=`` on the first layer, which Keras 3 warns
about; these builders use the functional API with ``keras.Input`` and name every layer, the layers
and parameter counts being the same.

Where the notes are wrong (docs/SOURCES.md, errata A24, A25):
- Listing II-A compiles with ``categorical_crossentropy`` (needs one-hot labels, while
  ``keras.datasets`` gives integers) and validates on undefined ``val_images``; train it with
  ``sparse_categorical_crossentropy`` on integer labels.
- Listing II-B validates on the test set; lab 06 validates on a split of the training set.
"""

import keras

__all__ = ["build_simple_cnn", "build_cifar10_cnn", "NORMALIZATIONS", "normalization_layer"]

NORMALIZATIONS = ("batch", "layer", "instance", "group", None)


def normalization_layer(kind, *, groups=8, name):
    """One normalization layer (Unit II, "Normalization"), or ``None`` for ``kind=None``.

    - "batch": ``BatchNormalization`` (statistics over the batch and H, W; per channel).
    - "layer": ``GroupNormalization(groups=1)``: statistics over (H, W, C) of each example, the
      notes' layer-norm figure, with per-channel scale and shift (Wu & He, 2018). Keras'
      ``LayerNormalization()`` defaults to the channel axis only, i.e. per pixel.
    - "instance": ``GroupNormalization(groups=-1)``: over (H, W) per example and channel.
    - "group": ``GroupNormalization(groups=groups)``: over (H, W, C / groups) per example.
    """
    if kind is None:
        return None
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "layer":
        return keras.layers.GroupNormalization(groups=1, name=name)
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, name=name)
    if kind == "group":
        return keras.layers.GroupNormalization(groups=groups, name=name)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {kind!r}")


def build_simple_cnn(*, input_shape=(64, 64, 3), num_classes=10, filters=32, kernel_size=3, units=128,
                     name="simple_cnn"):
    """Listing II-A, "Simple CNN model": Conv2D(32, 3x3, relu) -> MaxPool(2) -> Flatten -> Dense(128) -> softmax.

    Unit II, "Training of CNN in TensorFlow". Defaults give 3,938,570 parameters
    (conv 896, dense 3,936,384, output 1,290).

    Args:
        input_shape: (height, width, channels); the listing's 64x64x3.
        num_classes: outputs of the softmax layer.
        filters, kernel_size: the convolution (32, 3x3).
        units: the hidden dense layer (128).

    Returns:
        A model mapping (batch, *input_shape) to (batch, num_classes) probabilities (softmax).
        The listing's ``categorical_crossentropy`` needs one-hot labels; use the sparse loss with
        integer labels.
    """
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = keras.layers.Conv2D(filters, kernel_size, activation="relu", name=f"{name}_conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, 2, name=f"{name}_pool1")(x)  # (batch, 31, 31, 32)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)  # (batch, 30752)
    x = keras.layers.Dense(units, activation="relu", name=f"{name}_dense1")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)


def build_cifar10_cnn(*, input_shape=(32, 32, 3), num_classes=10, filters=(32, 64, 64), kernel_size=3,
                      units=64, normalization="batch", groups=8, dropout_rate=0.0,
                      spatial_dropout_rate=0.0, kernel_regularizer=None, name="cifar10_cnn"):
    """Listing II-B, the CIFAR-10 CNN, layer for layer (Unit II, "Training of CNN in TensorFlow").

    Conv2D(32) -> BN -> MaxPool -> Conv2D(64) -> BN -> MaxPool -> Conv2D(64) -> Flatten -> Dense(64)
    -> Dense(10). Defaults give 122,954 parameters, 192 of them non-trainable (the BN moving means
    and variances). Shapes: 32x32x3 -> 30x30x32 -> 15x15x32 -> 13x13x64 -> 6x6x64 -> 4x4x64 -> 1024.

    Args:
        input_shape: (height, width, channels); CIFAR-10's 32x32x3.
        num_classes: number of logits.
        filters: the three convolutions' filters (32, 64, 64); kernel_size 3x3.
        units: the hidden dense layer (64).
        normalization: after the first two convolutions, as in the listing: "batch" (the listing),
            "layer", "instance", "group" or None (lab 09 compares them; see :func:`normalization_layer`).
        groups: groups for ``normalization="group"`` (must divide 32 and 64).
        dropout_rate: if > 0, a Dropout layer before the output (Unit II, "Dropout"); not in the listing.
        spatial_dropout_rate: if > 0, SpatialDropout2D after each pooling (drops whole feature maps).
        kernel_regularizer: a weight penalty on every convolution and dense kernel (not the biases),
            e.g. ``keras.regularizers.L1(1e-4)`` (adds the handbook's λ Σ|w|, 003 §1.4.5) or
            ``L2(1e-4)`` (λ Σ w², no 1/2); its value is in ``model.losses``. Not in the listing.

    Returns:
        A model mapping (batch, *input_shape) to (batch, num_classes) **logits** (no softmax): compile
        with ``SparseCategoricalCrossentropy(from_logits=True)`` as the listing does.
    """
    if len(filters) != 3:
        raise ValueError(f"filters must give the three convolutions' filters, got {filters!r}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    for block in (1, 2):
        x = keras.layers.Conv2D(filters[block - 1], kernel_size, activation="relu",
                                kernel_regularizer=kernel_regularizer, name=f"{name}_conv{block}")(x)
        norm = normalization_layer(normalization, groups=groups, name=f"{name}_{normalization}_norm{block}")
        if norm is not None:
            x = norm(x)
        x = keras.layers.MaxPooling2D((2, 2), name=f"{name}_pool{block}")(x)
        if spatial_dropout_rate:
            x = keras.layers.SpatialDropout2D(spatial_dropout_rate, name=f"{name}_spatial_dropout{block}")(x)
    x = keras.layers.Conv2D(filters[2], kernel_size, activation="relu", kernel_regularizer=kernel_regularizer,
                            name=f"{name}_conv3")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)  # (batch, 1024)
    x = keras.layers.Dense(units, activation="relu", kernel_regularizer=kernel_regularizer, name=f"{name}_dense1")(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, kernel_regularizer=kernel_regularizer, name=f"{name}_logits")(x)
    return keras.Model(inputs, outputs, name=name)
