"""Lab 28: the two-stage (StackGAN-style) conditional generators and the augmentation classifier.

Unit IV "Applications of GANs" (000 L1919-L1931: "Generate Examples for Image Datasets"; 003 §9;
004 "StackGAN (Stacked Generative Adversarial Networks)" and "Text-to-image Translation"). The slides'
StackGAN draws a 64x64 sketch from a text embedding (Stage-I) and refines "the low-resolution image
from Stage-I and the original text embedding" into 256x256 (Stage-II). At the embedded digits' scale
the condition is the class label and the two resolutions are 14x14 and 28x28
(docs/SOURCES.md, erratum B75).
"""

import keras

__all__ = ["build_stage1_generator", "build_stage2_generator", "build_augmentation_classifier"]


def _label_embedding(labels, *, num_classes, embedding_dim, name):
    embedded = keras.layers.Embedding(num_classes, embedding_dim, name=f"{name}_embedding")(labels)
    return keras.layers.Flatten(name=f"{name}_embedding_flatten")(embedded)  # (batch, embedding_dim)


def build_stage1_generator(*, latent_dim=32, num_classes=10, embedding_dim=10, image_shape=(14, 14, 1), filters=64,
                           kernel_size=4, name="stage1_generator"):
    """Stage I: ``[z, label] -> low-resolution image`` (the rough sketch, 14x14 by default).

    The label embedding is concatenated with ``z`` and projected to a ``(h/2, w/2, filters)`` map
    (dense, batch normalization, ReLU); a stride-2 transposed convolution to ``filters // 2`` maps
    (batch normalization, ReLU) doubles it and a 3x3 convolution (tanh) draws the image.

    Args:
        latent_dim: length of the noise vector ``z ~ N(0, I)``.
        num_classes: number of class labels.
        embedding_dim: size of the learned label embedding.
        image_shape: output shape; height and width even.
        filters: depth of the projected map (at least 2).
        kernel_size: transposed-convolution kernel size.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``[(batch, latent_dim) float, (batch, 1) int] -> (batch, *image_shape)``, tanh.
    """
    if len(image_shape) != 3 or image_shape[0] % 2 or image_shape[1] % 2:
        raise ValueError(f"image_shape must be (height, width, channels) with even height and width; got {image_shape}")
    height, width, channels = image_shape[0] // 2, image_shape[1] // 2, image_shape[2]
    noise = keras.Input(shape=(latent_dim,), name=f"{name}_noise")
    labels = keras.Input(shape=(1,), dtype="int32", name=f"{name}_labels")
    embedded = _label_embedding(labels, num_classes=num_classes, embedding_dim=embedding_dim, name=name)
    x = keras.layers.Concatenate(name=f"{name}_concatenate")([noise, embedded])
    x = keras.layers.Dense(height * width * filters, use_bias=False, name=f"{name}_projection")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_projection_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_projection_relu")(x)
    x = keras.layers.Reshape((height, width, filters), name=f"{name}_reshape")(x)  # (batch, 7, 7, 64)
    x = keras.layers.Conv2DTranspose(filters // 2, kernel_size, strides=2, padding="same", use_bias=False,
                                     name=f"{name}_deconv")(x)  # (batch, 14, 14, 32)
    x = keras.layers.BatchNormalization(name=f"{name}_deconv_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_deconv_relu")(x)
    images = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh",
                                 name=f"{name}_output")(x)  # (batch, 14, 14, 1) in [-1, 1]
    return keras.Model([noise, labels], images, name=name)


def build_stage2_generator(*, low_shape=(14, 14, 1), num_classes=10, embedding_dim=10, filters=64, kernel_size=3,
                           name="stage2_generator"):
    """Stage II: ``[stage-1 image, label] -> image at twice the resolution`` (28x28 by default).

    As the slides' Stage-II: its input is the low-resolution image and the condition, no new noise.
    The label embedding becomes one extra channel of the low-resolution image (dense -> reshape); a
    convolution encodes both, nearest-neighbour upsampling doubles the size, the upsampled stage-1
    image is concatenated again (so stage II refines it rather than redrawing it) and two
    convolutions draw the output (tanh).

    Args:
        low_shape: shape of the stage-1 images.
        num_classes: number of class labels.
        embedding_dim: size of the learned label embedding.
        filters: filters of the two hidden convolutions.
        kernel_size: convolution kernel size.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``[(batch, *low_shape) float, (batch, 1) int] -> (batch, 2h, 2w, channels)``, tanh.
    """
    height, width, channels = low_shape
    low = keras.Input(shape=low_shape, name=f"{name}_low_resolution")
    labels = keras.Input(shape=(1,), dtype="int32", name=f"{name}_labels")
    embedded = _label_embedding(labels, num_classes=num_classes, embedding_dim=embedding_dim, name=name)
    plane = keras.layers.Dense(height * width, name=f"{name}_label_projection")(embedded)
    plane = keras.layers.Reshape((height, width, 1), name=f"{name}_label_reshape")(plane)
    x = keras.layers.Concatenate(name=f"{name}_concatenate")([low, plane])  # (batch, 14, 14, channels + 1)
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=f"{name}_encode")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_encode_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_encode_relu")(x)
    x = keras.layers.UpSampling2D(2, name=f"{name}_upsample")(x)  # (batch, 28, 28, filters)
    upsampled = keras.layers.UpSampling2D(2, name=f"{name}_upsample_input")(low)
    x = keras.layers.Concatenate(name=f"{name}_refine_concatenate")([x, upsampled])
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=f"{name}_refine")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_refine_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_refine_relu")(x)
    images = keras.layers.Conv2D(channels, kernel_size, padding="same", activation="tanh", name=f"{name}_output")(x)
    return keras.Model([low, labels], images, name=name)


def build_augmentation_classifier(*, image_shape=(28, 28, 1), num_classes=10, filters=(16, 32), units=64,
                                  dropout=0.25, name="augmentation_classifier"):
    """The small classifier of lab 28's augmentation experiment: images in ``[-1, 1]`` -> logits.

    Two 3x3 "valid" convolutions (ReLU), each followed by 2x2 max pooling, a dense ReLU layer with
    dropout and a linear output (train with ``from_logits=True``).

    Args:
        image_shape: input image shape.
        num_classes: number of classes.
        filters: filters of the two convolutions.
        units: hidden dense units.
        dropout: dropout rate before the output layer.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``(batch, *image_shape) -> (batch, num_classes)`` logits.
    """
    images = keras.Input(shape=image_shape, name=f"{name}_images")
    x = images
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(count, 3, activation="relu", name=f"{name}_conv{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"{name}_pool{index}")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(units, activation="relu", name=f"{name}_dense")(x)
    x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    logits = keras.layers.Dense(num_classes, name=f"{name}_logits")(x)
    return keras.Model(images, logits, name=name)
