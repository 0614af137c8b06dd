"""ResNet (He, Zhang, Ren & Sun, 2015): residual blocks, ImageNet ResNets and the CIFAR-10 networks.

Source: notes 000, Unit II, "Popular CNN architectures: VGG, Google Net, ResNet" — "ResNet", "Need for
ResNet" (the 20- vs 56-layer degradation plot), "Residual Block" (skip connection; zero-padding or 1x1
projection when dimensions differ) and "How ResNet helps" (plain-18/34 vs ResNet-18/34); handbook 003
§2.9.3-§2.9.4 (ResNet-50, 2015, ~25M parameters; F(x) = H(x) - x).

Where the notes are wrong or loose (docs/SOURCES.md, erratum A20):
- ``H(x) = f(wx + b)`` "or H(x) = f(x)" and then ``H(x) = f(x) + x`` use ``f`` first for the activation
  and then for the residual mapping F(x). The block of the paper is y = ReLU(F(x) + x): ReLU comes
  *after* the addition, as built here.
- The projection ``H(x) = f(x) + w1.x`` is W_s x, a 1x1 convolution with the block's stride (and batch
  norm), used only when the shapes differ (option B of the paper) unless asked for.
- "trained networks with 100 layers and 1000 layers": the paper's deepest CIFAR network has 1202 layers.
"""

import keras

__all__ = [
    "RESNET_STAGES", "RESNET_PARAMETERS", "RESNET_STANDARD_PARAMETERS", "residual_block", "build_resnet",
    "build_cifar_resnet",
]

RESNET_STAGES = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}
"""depth -> (bottleneck blocks?, blocks per stage), table 1 of the paper; stages use 64, 128, 256, 512 filters."""

RESNET_PARAMETERS = {18: 11_703_912, 34: 21_823_208, 50: 25_636_712}
"""depth -> ``count_params()`` of ``build_resnet(depth=...)`` at the defaults (224x224x3, 1000 classes,
convolution biases, batch-norm moving statistics included, as Keras counts). Depth 50 equals
``keras.applications.ResNet50(weights=None)``."""

RESNET_STANDARD_PARAMETERS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032}
"""depth -> the usual published counts (torchvision): *trainable* parameters with ``use_bias=False``
(batch-norm moving statistics are not parameters there)."""

_EPSILON = 1.001e-5  # keras.applications' batch-norm epsilon, so weights can be exchanged with it


def _conv_bn(x, filters, kernel_size, *, strides=1, use_bias, kernel_initializer, name):
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
                            kernel_initializer=kernel_initializer, name=f"{name}_conv")(x)
    return keras.layers.BatchNormalization(epsilon=_EPSILON, name=f"{name}_bn")(x)


def _zero_pad_shortcut(x, out_channels, stride, name):
    """Option A of the paper: subsample by the stride, then append zero channels (no parameters)."""
    if stride != 1:
        x = keras.layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_subsample")(x)
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    if out_channels < channels:
        raise ValueError(f"{name}: a zero-padding shortcut cannot reduce {channels} channels to {out_channels}")
    if out_channels > channels:
        extra = out_channels - channels
        # ZeroPadding3D over (height, width, channels) with a dummy last axis: built-in layers only, so
        # the saved model needs no custom object and no Lambda.
        x = keras.layers.Reshape((height, width, channels, 1), name=f"{name}_0_expand")(x)
        x = keras.layers.ZeroPadding3D(((0, 0), (0, 0), (extra // 2, extra - extra // 2)),
                                       name=f"{name}_0_pad")(x)
        x = keras.layers.Reshape((height, width, out_channels), name=f"{name}_0_squeeze")(x)
    return x


def residual_block(x, filters, *, stride=1, bottleneck=False, projection=None, shortcut=True, use_bias=True,
                   kernel_initializer="glorot_uniform", name):
    """A residual block y = ReLU(F(x) + shortcut(x)) with batch norm after every convolution.

    Notes 000, Unit II, "Residual Block": ``H(x) = f(x) + x``, or ``f(x) + w1.x`` (1x1 projection) or a
    zero-padded skip connection when the dimensions of f(x) and x differ. F(x) is two 3x3 convolutions
    (basic block, ResNet-18/34) or 1x1 -> 3x3 -> 1x1 with 4x ``filters`` outputs (bottleneck,
    ResNet-50+; stride on the first 1x1 as in ``keras.applications``).

    Args:
        x: a (batch, height, width, channels) tensor.
        filters: filters of the block's convolutions (its output has ``4 * filters`` channels when
            ``bottleneck``, ``filters`` otherwise).
        stride: stride of the block's first convolution (2 halves height and width).
        bottleneck: 1x1-3x3-1x1 bottleneck instead of two 3x3 convolutions.
        projection: the shortcut when shapes differ. ``None``: identity if the shapes match, else a 1x1
            convolution with the stride + batch norm (option B). ``True``: always that projection
            (option C). ``False``: never a projection; if shapes differ, subsample and pad with zero
            channels (option A, no parameters; He et al.'s CIFAR networks).
        shortcut: ``False`` drops the skip connection: the "plain" block of the same depth, F(x) with
            ReLU, for the degradation experiment.
        use_bias: convolution biases (``keras.applications`` uses them; the paper's counts do not).
        kernel_initializer: initializer of every convolution (the paper: He normal).
        name: prefix of the block's layer names (``<name>_1_conv``, ``<name>_add``, ``<name>_out``).

    Returns:
        (batch, height / stride, width / stride, 4 * filters if bottleneck else filters).
    """
    if stride not in (1, 2):
        raise ValueError(f"{name}: stride must be 1 or 2, got {stride}")
    out_channels = 4 * filters if bottleneck else filters
    conv = dict(use_bias=use_bias, kernel_initializer=kernel_initializer)
    different = stride != 1 or x.shape[-1] != out_channels
    skip = None
    if shortcut:
        if projection or (projection is None and different):
            skip = _conv_bn(x, out_channels, 1, strides=stride, name=f"{name}_0", **conv)
        elif different:
            skip = _zero_pad_shortcut(x, out_channels, stride, name)
        else:
            skip = x
    if bottleneck:
        y = _conv_bn(x, filters, 1, strides=stride, name=f"{name}_1", **conv)
        y = keras.layers.Activation("relu", name=f"{name}_1_relu")(y)
        y = _conv_bn(y, filters, 3, name=f"{name}_2", **conv)
        y = keras.layers.Activation("relu", name=f"{name}_2_relu")(y)
        y = _conv_bn(y, out_channels, 1, name=f"{name}_3", **conv)
    else:
        y = _conv_bn(x, filters, 3, strides=stride, name=f"{name}_1", **conv)
        y = keras.layers.Activation("relu", name=f"{name}_1_relu")(y)
        y = _conv_bn(y, filters, 3, name=f"{name}_2", **conv)
    if skip is not None:
        y = keras.layers.Add(name=f"{name}_add")([skip, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)  # ReLU after the addition


def build_resnet(*, depth=50, input_shape=(224, 224, 3), num_classes=1000, filters=(64, 128, 256, 512),
                 residual=True, use_bias=True, name="resnet"):
    """ResNet-18/34/50/101/152 for ImageNet-sized images (table 1 of the paper).

    Notes 000, Unit II, "ResNet" and "How ResNet helps"; handbook 003 §2.9.3 ("ResNet-50, ~25M").
    Stem 7x7/2 conv 64 + BN + ReLU, 3x3/2 max pool; four stages of residual blocks with 64, 128, 256,
    512 filters (stride 2 at the start of stages 3-5, projection shortcuts where the shape changes);
    global average pooling; FC softmax. At ``depth=50`` it is ``keras.applications.ResNet50`` layer for
    layer: 25,636,712 parameters (``RESNET_PARAMETERS`` lists the others). With ``use_bias=False`` the
    *trainable* counts are the standard 11,689,512 / 21,797,672 / 25,557,032 for 18 / 34 / 50 layers
    (``RESNET_STANDARD_PARAMETERS``); Keras' ``count_params()`` also counts batch-norm statistics.

    Args:
        depth: 18, 34 (basic blocks), 50, 101 or 152 (bottleneck blocks).
        input_shape: (height, width, channels), at least 32x32.
        num_classes: units of the softmax output.
        filters: filters of the four stages (the stem has ``filters[0]``); smaller values give a narrow
            network of the same depth.
        residual: ``False`` builds the plain network of the same depth (the notes' plain-18/34).
        use_bias: convolution biases (True as in ``keras.applications``).
        name: model name and layer-name prefix (``resnet_conv2_block1_1_conv``, ...).

    Returns:
        An uncompiled ``keras.Model``: (batch, *input_shape) -> (batch, num_classes) softmax probabilities.
    """
    if depth not in RESNET_STAGES:
        raise ValueError(f"depth must be one of {sorted(RESNET_STAGES)}, got {depth}")
    if input_shape[0] < 32 or input_shape[1] < 32:
        raise ValueError(f"ResNet needs at least 32x32 input, got {input_shape[:2]}")
    if len(filters) != 4 or min(filters) < 1:
        raise ValueError(f"filters must give four positive stage widths, got {filters}")
    bottleneck, blocks = RESNET_STAGES[depth]
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = keras.layers.ZeroPadding2D(3, name=f"{name}_conv1_pad")(inputs)
    x = keras.layers.Conv2D(filters[0], 7, strides=2, use_bias=use_bias, name=f"{name}_conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_EPSILON, name=f"{name}_conv1_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_conv1_relu")(x)  # (batch, 112, 112, 64)
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool1_pool")(x)  # (batch, 56, 56, 64)
    for stage, (count, width) in enumerate(zip(blocks, filters), start=2):
        for block in range(1, count + 1):
            stride = 2 if block == 1 and stage > 2 else 1
            x = residual_block(x, width, stride=stride, bottleneck=bottleneck, shortcut=residual,
                               use_bias=use_bias, name=f"{name}_conv{stage}_block{block}")
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def build_cifar_resnet(*, depth=20, residual=True, num_classes=10, input_shape=(32, 32, 3), filters=(16, 32, 64),
                       projection=False, name="cifar_resnet"):
    """He et al.'s CIFAR-10 network with 6n+2 layers, residual or plain (section 4.2 of the paper).

    Notes 000, Unit II, "Need for ResNet": the 20- vs 56-layer plain networks whose deeper version has
    the higher *training* error (degradation, not overfitting), and residual blocks that fix it. A 3x3
    conv with 16 filters, three stages of n blocks (2n 3x3 convolutions each) on 32x32, 16x16 and 8x8
    maps with 16, 32, 64 filters, global average pooling, FC softmax: 6n + 2 weight layers. Shortcuts
    are identity, with zero-padding where the shape changes (option A, as in the paper), so the plain
    and residual networks have the same parameters: at depth 20, 269,722 trainable (the paper's
    "0.27M") and 271,098 with the batch-norm statistics; at depth 56, 853,018 trainable (paper: 0.85M).

    Args:
        depth: 6n + 2 (20, 32, 44, 56, 110 in the paper; 8 and 14 are handy for quick runs).
        residual: ``False`` removes every shortcut: the plain network of the same depth.
        num_classes: units of the softmax output.
        input_shape: (height, width, channels).
        filters: filters of the three stages.
        projection: as ``residual_block``; ``False`` (zero-padding) as the paper, ``None`` for 1x1
            projections where the shape changes.
        name: model name and layer-name prefix.

    Returns:
        An uncompiled ``keras.Model``: (batch, *input_shape) -> (batch, num_classes) softmax probabilities.
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
    if len(filters) != 3 or min(filters) < 1:
        raise ValueError(f"filters must give three positive stage widths, got {filters}")
    blocks = (depth - 2) // 6
    conv = dict(use_bias=False, kernel_initializer="he_normal")
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = _conv_bn(inputs, filters[0], 3, name=f"{name}_conv1", **conv)
    x = keras.layers.Activation("relu", name=f"{name}_conv1_relu")(x)
    for stage, width in enumerate(filters, start=2):
        for block in range(1, blocks + 1):
            stride = 2 if block == 1 and stage > 2 else 1
            x = residual_block(x, width, stride=stride, projection=projection, shortcut=residual,
                               name=f"{name}_conv{stage}_block{block}", **conv)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)
