"""GoogLeNet / Inception v1 (Szegedy et al., 2014) and a CIFAR-sized variant.

Source: notes 000, Unit II, "Popular CNN architectures: VGG, Google Net, ResNet" — "GoogLeNet (Inception
v1) architecture", the four paths of the inception module, "(b) Inception module with dimension
reductions", and global average pooling before the softmax; handbook 003 §2.9.3 (GoogLeNet,
2014, ~6.8M parameters). The notes give no filter counts: they come from table 1 of the paper.

Where the notes are wrong (docs/SOURCES.md, erratum A19):
- The pooling path is 3x3 max pooling with stride 1 and 'same' padding (so it keeps the spatial size
  and can be concatenated), followed by a 1x1 projection; not "the maximum value in each 2x2 window".
- There is no 1x1 convolution after the concatenation ("a 1x1 convolution is applied to the result")
  and no pooling after it ("concatenated and passed through a pooling layer"): the 1x1 reductions
  come *before* the 3x3 and 5x5 convolutions and *after* the pooling.
- Gradient flow was helped by the two auxiliary classifiers (``auxiliary=True``), not by "parallel
  processing".
- Parameters: 6,998,552 without the auxiliary classifiers (weights and biases, as built here); the
  rounded per-layer counts of the paper's table 1 sum to ~6.8M, the figure the handbook quotes. The two
  auxiliary heads add 6,379,728 more for training (13,378,280 with them).
"""

import keras

__all__ = [
    "GOOGLENET_MODULES", "CIFAR_GOOGLENET_MODULES", "GOOGLENET_PARAMETERS", "inception_module",
    "naive_inception_module", "inception_multiplications", "build_googlenet", "build_cifar_googlenet",
    "build_inception_block",
]

# (name, (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)) from table 1 of the paper; "pool" marks a
# 3x3/2 max pooling between groups.
GOOGLENET_MODULES = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "pool",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "pool",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)

CIFAR_GOOGLENET_MODULES = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "pool",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "pool",
    ("5b", (384, 192, 384, 48, 128, 128)),
)
"""The CIFAR variant's modules: one of each stage pair of the paper, scaled by ``width_multiplier``."""

GOOGLENET_PARAMETERS = 6_998_552
"""Parameters of ``build_googlenet()`` (no auxiliary classifiers); the handbook says ~6.8M."""

_AUXILIARY_AFTER = {"4a": "aux1", "4d": "aux2"}


def inception_module(x, *, filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce, filters_5x5,
                     filters_pool_proj, name, batch_norm=False):
    """One inception module with dimension reductions: four parallel paths, concatenated on channels.

    Notes 000, Unit II, "(b) Inception module with dimension reductions": 1x1 convolution; 1x1 reduce
    then 3x3; 1x1 reduce then 5x5; 3x3 max pooling (stride 1, 'same') then 1x1 projection. Every
    convolution is 'same' with ReLU, so all paths keep the input's height and width. The notes' "2x2
    window" pooling and "1x1 convolution applied to the result" are wrong (module docstring).

    Args:
        x: a (batch, height, width, channels) tensor.
        filters_1x1 ... filters_pool_proj: the six filter counts of the paper's table.
        name: prefix of the module's layer names (``<name>_1x1``, ``<name>_3x3_reduce``, ...).
        batch_norm: add BatchNormalization before each ReLU (not in the 2014 paper; helps the CIFAR
            variant train from scratch).

    Returns:
        (batch, height, width, filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_proj).
    """
    def conv(tensor, filters, kernel_size, suffix):
        if int(filters) < 1:
            raise ValueError(f"{name}: every path needs >= 1 filter, got {filters} for {suffix}")
        if not batch_norm:
            return keras.layers.Conv2D(int(filters), kernel_size, padding="same", activation="relu",
                                       name=f"{name}_{suffix}")(tensor)
        tensor = keras.layers.Conv2D(int(filters), kernel_size, padding="same", use_bias=False,
                                     name=f"{name}_{suffix}")(tensor)
        tensor = keras.layers.BatchNormalization(name=f"{name}_{suffix}_bn")(tensor)
        return keras.layers.Activation("relu", name=f"{name}_{suffix}_relu")(tensor)

    path_1x1 = conv(x, filters_1x1, 1, "1x1")
    path_3x3 = conv(conv(x, filters_3x3_reduce, 1, "3x3_reduce"), filters_3x3, 3, "3x3")
    path_5x5 = conv(conv(x, filters_5x5_reduce, 1, "5x5_reduce"), filters_5x5, 5, "5x5")
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    path_pool = conv(pooled, filters_pool_proj, 1, "pool_proj")
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([path_1x1, path_3x3, path_5x5, path_pool])


def naive_inception_module(x, *, filters_1x1, filters_3x3, filters_5x5, name):
    """The naive inception module of the notes' figure (000, Unit II, "(a) Inception module, naive
    version"): 1x1, 3x3 and 5x5 convolutions and 3x3 max pooling side by side on the input, with no
    1x1 reductions, concatenated. The pooling path passes every input channel through, so the output
    has ``filters_1x1 + filters_3x3 + filters_5x5 + channels`` channels and the 3x3/5x5 convolutions
    run on all input channels: the cost the reductions of version (b) remove
    (:func:`inception_multiplications`).
    """
    paths = [keras.layers.Conv2D(int(filters), size, padding="same", activation="relu", name=f"{name}_{size}x{size}")(x)
             for filters, size in ((filters_1x1, 1), (filters_3x3, 3), (filters_5x5, 5))]
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([*paths, pooled])


def inception_multiplications(channels, filters, *, naive=False):
    """Multiplications per output position of one inception module on ``channels`` input channels,
    ``filters`` = the paper's six counts (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj): each
    k x k convolution from c_in to c_out channels costs k²·c_in·c_out per position. The naive module
    ignores the reduce and projection counts. Inception 3a on 28x28x192: 387,072 naive against
    163,328 with reductions, 2.4x fewer.
    """
    f1, r3, f3, r5, f5, pool = (int(value) for value in filters)
    if naive:
        return channels * f1 + 9 * channels * f3 + 25 * channels * f5
    return channels * f1 + channels * r3 + 9 * r3 * f3 + channels * r5 + 25 * r5 * f5 + channels * pool


def build_inception_block(*, input_shape=(28, 28, 192), filters=GOOGLENET_MODULES[0][1], naive=False,
                          name="inception_block"):
    """One inception module as a model, by default GoogLeNet's 3a on its 28x28x192 input: with the 1x1
    reductions (000's figure (b), 163,696 parameters, 256 channels out) or ``naive=True`` (figure (a):
    387,296 parameters, 416 channels out)."""
    inputs = keras.Input(input_shape, name=f"{name}_input")
    f1, r3, f3, r5, f5, pool = filters
    if naive:
        outputs = naive_inception_module(inputs, filters_1x1=f1, filters_3x3=f3, filters_5x5=f5, name=name)
    else:
        outputs = inception_module(inputs, filters_1x1=f1, filters_3x3_reduce=r3, filters_3x3=f3,
                                   filters_5x5_reduce=r5, filters_5x5=f5, filters_pool_proj=pool, name=name)
    return keras.Model(inputs, outputs, name=name)


def _modules(x, modules, *, name, width_multiplier=1.0, batch_norm=False, on_module=None):
    for index, entry in enumerate(modules):
        if entry == "pool":
            x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool_{index}")(x)
            continue
        label, filters = entry
        if len(filters) != 6:
            raise ValueError(f"inception module {label!r} needs 6 filter counts, got {filters}")
        f = [max(1, round(value * width_multiplier)) for value in filters]
        x = inception_module(x, filters_1x1=f[0], filters_3x3_reduce=f[1], filters_3x3=f[2],
                             filters_5x5_reduce=f[3], filters_5x5=f[4], filters_pool_proj=f[5],
                             name=f"{name}_inception{label}", batch_norm=batch_norm)
        if on_module is not None:
            on_module(label, x)
    return x


def _auxiliary_classifier(x, num_classes, name):
    """The paper's auxiliary head: 5x5/3 average pooling, 1x1 conv 128, FC 1024, 70% dropout, softmax."""
    x = keras.layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)  # (batch, 4, 4, C) at 14x14
    x = keras.layers.Conv2D(128, 1, padding="same", activation="relu", name=f"{name}_conv")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = keras.layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_predictions")(x)


def build_googlenet(*, input_shape=(224, 224, 3), num_classes=1000, modules=GOOGLENET_MODULES, dropout_rate=0.4,
                    auxiliary=False, name="googlenet"):
    """GoogLeNet (Inception v1), table 1 of the paper: stem, nine inception modules, GAP, softmax.

    Notes 000, Unit II, "GoogLeNet (Inception v1) architecture" and "Global Average Pooling"; handbook
    003 §2.9.3. Stem: 7x7/2 conv 64, 3x3/2 max pool, 1x1 conv 64, 3x3 conv 192, 3x3/2 max pool;
    modules 3a 3b, pool, 4a-4e, pool, 5a 5b; global average pooling (the notes: "replacing fully
    connected layers with global average pooling improved the top-1 accuracy by about 0.6%"), 40%
    dropout, FC softmax. The paper's local response normalization is omitted (Keras has no LRN layer;
    it has no parameters). 6,998,552 parameters at the defaults, against the handbook's "~6.8M".

    Args:
        input_shape: (height, width, channels); at least 32x32 (224x224 in the paper).
        num_classes: units of the softmax output.
        modules: inception modules and "pool" markers (``GOOGLENET_MODULES``: the paper's table 1).
        dropout_rate: dropout before the classifier (0.4 in the paper).
        auxiliary: add the two auxiliary classifiers after 4a and 4d (needs >= 96x96 input; +6,379,728
            parameters); the model then has three outputs ``[main, aux1, aux2]`` to train with loss
            weights (1, 0.3, 0.3) as in the paper.
        name: model name and layer-name prefix (``googlenet_inception3a_1x1``, ...).

    Returns:
        An uncompiled ``keras.Model``: (batch, *input_shape) -> (batch, num_classes) softmax
        probabilities (a list of three such outputs with ``auxiliary=True``).
    """
    if input_shape[0] < 32 or input_shape[1] < 32:
        raise ValueError(f"GoogLeNet needs at least 32x32 input, got {input_shape[:2]}")
    if auxiliary and (input_shape[0] < 96 or input_shape[1] < 96):
        raise ValueError(f"the auxiliary classifiers need at least 96x96 input, got {input_shape[:2]}")
    labels = {entry[0] for entry in modules if entry != "pool"}
    if auxiliary and not set(_AUXILIARY_AFTER) <= labels:
        raise ValueError(f"the auxiliary classifiers follow modules {sorted(_AUXILIARY_AFTER)}, missing from modules")
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = keras.layers.Conv2D(64, 7, strides=2, padding="same", activation="relu", name=f"{name}_conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool1")(x)  # (batch, 56, 56, 64)
    x = keras.layers.Conv2D(64, 1, activation="relu", name=f"{name}_conv2_reduce")(x)
    x = keras.layers.Conv2D(192, 3, padding="same", activation="relu", name=f"{name}_conv2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool2")(x)  # (batch, 28, 28, 192)

    auxiliary_outputs = []

    def on_module(label, tensor):
        if auxiliary and label in _AUXILIARY_AFTER:
            auxiliary_outputs.append(_auxiliary_classifier(tensor, num_classes, f"{name}_{_AUXILIARY_AFTER[label]}"))

    x = _modules(x, modules, name=name, on_module=on_module)  # (batch, 7, 7, 1024)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_predictions")(x)
    if auxiliary:
        return keras.Model(inputs, [outputs, *auxiliary_outputs], name=name)
    return keras.Model(inputs, outputs, name=name)


def build_cifar_googlenet(*, input_shape=(32, 32, 3), num_classes=10, stem_filters=64, width_multiplier=0.25,
                          modules=CIFAR_GOOGLENET_MODULES, dropout_rate=0.2, name="cifar_googlenet"):
    """A small GoogLeNet for 32x32 images: a 3x3 stem, inception modules with batch norm, GAP, softmax.

    Not in the notes (they describe only the ImageNet network); it keeps the notes' ideas — parallel
    1x1/3x3/5x5/pool paths with 1x1 reductions, global average pooling before the classifier — at a
    size that trains on CIFAR-10 on a laptop. The 7x7/2 stem and the first two poolings of the
    ImageNet network are dropped (they would shrink 32x32 to 8x8 before the first module); modules
    3a 3b (32x32), 4a 4e (16x16), 5b (8x8), with the paper's filter counts times ``width_multiplier``.

    Args:
        input_shape: (height, width, channels).
        num_classes: units of the softmax output.
        stem_filters: filters of the 3x3 stem convolution.
        width_multiplier: scales every module's filter counts (rounded, at least 1).
        modules: inception modules and "pool" markers, as in ``CIFAR_GOOGLENET_MODULES``.
        dropout_rate: dropout before the classifier.
        name: model name and layer-name prefix.

    Returns:
        An uncompiled ``keras.Model``: (batch, *input_shape) -> (batch, num_classes) softmax probabilities.
    """
    if width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = keras.layers.Conv2D(stem_filters, 3, padding="same", use_bias=False, name=f"{name}_stem_conv")(inputs)
    x = keras.layers.BatchNormalization(name=f"{name}_stem_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_stem_relu")(x)
    x = _modules(x, modules, name=name, width_multiplier=width_multiplier, batch_norm=True)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)
