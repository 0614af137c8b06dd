"""VGG-16 (Simonyan & Zisserman, 2014) as the notes describe it.

Source: notes 000, Unit II, "Popular CNN architectures: VGG, Google Net, ResNet" — "What is VGG-Net?",
"VGG-16", "VGG-Net Architecture", "Understanding VGG-16" and the table "VGG 16 Architecture"; handbook
003 §2.9.3 (pretrained CNN table: VGG-16, 2014, ~138M parameters).

Where the notes are wrong (docs/SOURCES.md, errata A13-A18):
- "VGG-16 or VGG-19 having 16 or 19 convolutional layers": they have 16/19 *weight* layers, 13 (16)
  convolutions plus 3 fully connected layers, as the notes say a paragraph later.
- "11 convolution filters" means 1x1 filters, and those belong to VGG configuration C, not VGG-16 (D).
- The printed table gives max pooling a 3x3 kernel and a ReLU; VGG pools 2x2 with stride 2 and no
  activation. It shows two convolutions in block 3 (twelve in all, contradicting "thirteen") and an
  "FC 25088" row that is the flatten of 7x7x512, not a layer. ``NOTES_TABLE_STAGES`` builds the table's
  twelve-convolution network (137,767,464 parameters) so the difference can be seen.
- "138 million parameters lead to exploding gradients" is not an established limitation; the usual
  ones are the 528 MB of weights, memory and training time.
- "224 by 224.7" is a stray footnote mark (the input is 224x224x3); ImageNet's "almost 1000 types" are
  the 1000 ILSVRC classes (full ImageNet has ~21k); 92.7% is the top-5 accuracy (7.3% error).
"""

import keras

__all__ = ["VGG16_STAGES", "NOTES_TABLE_STAGES", "VGG16_PARAMETERS", "build_vgg16"]

VGG16_STAGES = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
"""(convolutions, filters) per block of VGG-16, configuration D of the paper: 13 convolutions."""

NOTES_TABLE_STAGES = ((2, 64), (2, 128), (2, 256), (3, 512), (3, 512))
"""The notes' printed table, which shows only two convolutions in block 3: 12 convolutions."""

VGG16_PARAMETERS = 138_357_544
"""Parameters of VGG-16 at 224x224x3 and 1000 classes; equal to ``keras.applications.VGG16``."""


def build_vgg16(*, input_shape=(224, 224, 3), num_classes=1000, stages=VGG16_STAGES,
                dense_units=(4096, 4096), dropout_rate=0.0, name="vgg16"):
    """VGG-16: blocks of 3x3 'same' convolutions + ReLU, each closed by 2x2/2 max pooling, then FC layers.

    Notes 000, Unit II, "VGG-Net Architecture" and the "VGG 16 Architecture" table: 224x224x3 input,
    3x3 convolutions with stride 1, ReLU everywhere, filters 64 -> 128 -> 256 -> 512 -> 512, flatten
    (7x7x512 = 25,088), FC 4096, FC 4096, FC 1000 with softmax. At the defaults the model has
    138,357,544 parameters (14,714,688 in the convolutions), the "over 138 million" of the notes and
    exactly ``keras.applications.VGG16(weights=None)``. The table's pooling (3x3, ReLU) is a misprint:
    pooling here is 2x2, stride 2, no activation; ``stages=NOTES_TABLE_STAGES`` gives the table's
    twelve-convolution variant.

    Args:
        input_shape: (height, width, channels); height and width divisible by 2**len(stages).
        num_classes: units of the softmax output layer.
        stages: (convolutions, filters) per block; a max-pooling layer follows each block.
        dense_units: the hidden fully connected layers (the paper: 4096, 4096). Small values such as
            (256,) give a CIFAR-sized variant.
        dropout_rate: dropout after each hidden FC layer (the paper trains with 0.5; 0 = none, the
            notes and ``keras.applications`` do not include it).
        name: model name and prefix of every layer name (``vgg16_block1_conv1``, ``vgg16_fc1``, ...).

    Returns:
        An uncompiled ``keras.Model`` mapping (batch, *input_shape) images to (batch, num_classes)
        softmax probabilities.
    """
    if not stages:
        raise ValueError("stages must list at least one (convolutions, filters) block")
    for convolutions, filters in stages:
        if int(convolutions) < 1 or int(filters) < 1:
            raise ValueError(f"every stage needs >= 1 convolution and >= 1 filter, got {(convolutions, filters)}")
    height, width = input_shape[0], input_shape[1]
    factor = 2 ** len(stages)
    if height < factor or width < factor:
        raise ValueError(f"input {height}x{width} is too small for {len(stages)} 2x2/2 poolings "
                         f"(needs at least {factor}x{factor})")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    for block, (convolutions, filters) in enumerate(stages, start=1):
        for index in range(1, int(convolutions) + 1):
            x = keras.layers.Conv2D(int(filters), 3, padding="same", activation="relu",
                                    name=f"{name}_block{block}_conv{index}")(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"{name}_block{block}_pool")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)  # (batch, 25088) at 224x224: the table's "FC 25088"
    for index, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(int(units), activation="relu", name=f"{name}_fc{index}")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout{index}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)
