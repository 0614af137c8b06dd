"""Builders for Unit IV (generative adversarial networks): DCGAN, vanilla (MLP) GAN and conditional GAN.

Unit IV of the notes ("Types of GANs", notes 000; handbook 003 §4.3 and §4.7.1; slides 004) gives
no code, layer sizes, latent size or dataset for any GAN, so every number here is the package's
choice for 28x28x1 MNIST images, taken from the DCGAN paper (Radford et al. 2015) and the TensorFlow /
keras.io DCGAN examples:

* generator: noise ``z ~ N(0, I)`` (003 §4.3.1) -> one dense *projection* -> strided transposed
  convolutions with batch normalization and ReLU -> ``tanh`` image in ``[-1, 1]``;
* discriminator: strided convolutions (no pooling) with LeakyReLU (slope 0.2, DCGAN paper; the notes'
  0.01 is for Unit II's classifiers) and batch normalization (not on the input layer) -> flatten ->
  ONE sigmoid unit.

Convention (used by every loss in :mod:`dlcourse.generative.gan`): discriminators output the
PROBABILITY ``D(x)`` that ``x`` is real (sigmoid), as the notes define it ("D: X -> [0, 1]", 003 §4.3.2).

Where the notes are loose (docs/SOURCES.md, erratum B48): "fully connected layers removed" (000 DCGAN)
cannot be literal at both ends; like the DCGAN paper we keep the generator's projection of ``z`` and
the discriminator's single output unit, and no dense HIDDEN layers. The "vanilla GAN" of 000 is two MLPs (the original paper
used maxout and dropout; here ReLU / LeakyReLU).
"""

import keras

__all__ = [
    "build_dcgan_generator",
    "build_dcgan_discriminator",
    "build_mlp_generator",
    "build_mlp_discriminator",
    "build_cgan_generator",
    "build_cgan_discriminator",
    "build_gan_feature_classifier",
]

LEAKY_SLOPE = 0.2  # DCGAN paper; pass it explicitly (Keras' LeakyReLU default is 0.3)


def _check_image_shape(image_shape, factor):
    if len(image_shape) != 3 or image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(f"image_shape must be (height, width, channels) with height and width divisible by "
                         f"{factor}; got {image_shape}")


def _dcgan_generator_body(x, *, image_shape, filters, kernel_size, name):
    """Projection + strided transposed convolutions: ``(batch, d) -> (batch, *image_shape)``, tanh."""
    if len(filters) != 3:
        raise ValueError(f"filters must be three numbers (projection, conv1, conv2); got {filters}")
    _check_image_shape(image_shape, 4)
    height, width, channels = image_shape[0] // 4, image_shape[1] // 4, image_shape[2]
    x = keras.layers.Dense(height * width * filters[0], use_bias=False, name=f"{name}_projection")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_projection_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_projection_relu")(x)
    x = keras.layers.Reshape((height, width, filters[0]), name=f"{name}_reshape")(x)  # (batch, 7, 7, 256)
    for index, (units, stride) in enumerate(zip(filters[1:], (1, 2)), start=1):
        x = keras.layers.Conv2DTranspose(units, kernel_size, strides=stride, padding="same", use_bias=False,
                                         name=f"{name}_deconv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{index}")(x)  # (7, 7, 128) then (14, 14, 64)
    return keras.layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same", activation="tanh",
                                        name=f"{name}_output")(x)  # (batch, 28, 28, 1) in [-1, 1]


def _dcgan_discriminator_body(x, *, filters, kernel_size, negative_slope, name):
    """Strided convolutions + LeakyReLU (BN after the first) -> flatten -> one sigmoid unit."""
    for index, units in enumerate(filters, start=1):
        x = keras.layers.Conv2D(units, kernel_size, strides=2, padding="same", use_bias=index == 1,
                                name=f"{name}_conv{index}")(x)  # (14, 14, 64) then (7, 7, 128)
        if index > 1:  # DCGAN: no batch normalization on the discriminator's input layer
            x = keras.layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        x = keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_leaky_relu{index}")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    return keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(x)  # D(x) = P(real)


def build_dcgan_generator(*, latent_dim=100, image_shape=(28, 28, 1), filters=(256, 128, 64), kernel_size=5,
                          name="dcgan_generator"):
    """The DCGAN generator: noise ``z`` -> image in ``[-1, 1]``.

    Unit IV "Types of GANs: DCGAN" (000), 003 §4.3.1/§4.7.1 (transposed convolutions, batch normalization,
    ReLU). Layer sizes follow the TensorFlow DCGAN tutorial (7x7x256 projection, 5x5 kernels), with
    ReLU in the generator as in the DCGAN paper; the notes give no sizes.

    Args:
        latent_dim: length of the noise vector ``z ~ N(0, I)``.
        image_shape: output image shape; height and width divisible by 4.
        filters: (projection depth, first and second transposed-convolution filters).
        kernel_size: transposed-convolution kernel size.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``(batch, latent_dim) -> (batch, *image_shape)``, tanh output.
    """
    noise = keras.Input(shape=(latent_dim,), name=f"{name}_noise")
    images = _dcgan_generator_body(noise, image_shape=image_shape, filters=filters, kernel_size=kernel_size,
                                   name=name)
    return keras.Model(noise, images, name=name)


def build_dcgan_discriminator(*, image_shape=(28, 28, 1), filters=(64, 128), kernel_size=5,
                              negative_slope=LEAKY_SLOPE, name="dcgan_discriminator"):
    """The DCGAN discriminator: image -> probability that it is real.

    Unit IV "Types of GANs: DCGAN" (000: strided convolutions instead of max pooling, no fully
    connected layers), 003 §4.3.2/§4.7.1 (convolutions, batch normalization, LeakyReLU, sigmoid).

    Args:
        image_shape: input image shape (pixels in ``[-1, 1]``).
        filters: filters of the stride-2 convolutions.
        kernel_size: convolution kernel size.
        negative_slope: LeakyReLU slope (0.2, DCGAN paper).
        name: model name and layer-name prefix.

    Returns:
        A functional model ``(batch, *image_shape) -> (batch, 1)``, a sigmoid PROBABILITY (not logits).
    """
    images = keras.Input(shape=image_shape, name=f"{name}_images")
    probability = _dcgan_discriminator_body(images, filters=filters, kernel_size=kernel_size,
                                            negative_slope=negative_slope, name=name)
    return keras.Model(images, probability, name=name)


def build_mlp_generator(*, latent_dim=100, units=(256, 512), image_shape=(28, 28, 1), name="mlp_generator"):
    """The "vanilla GAN" generator of Unit IV (000): a multilayer perceptron ``z -> image``.

    Args:
        latent_dim: length of the noise vector.
        units: hidden layer sizes (ReLU).
        image_shape: output image shape.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``(batch, latent_dim) -> (batch, *image_shape)``, tanh output in ``[-1, 1]``.
    """
    noise = keras.Input(shape=(latent_dim,), name=f"{name}_noise")
    x = noise
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, activation="relu", name=f"{name}_dense{index}")(x)
    pixels = image_shape[0] * image_shape[1] * image_shape[2]
    x = keras.layers.Dense(pixels, activation="tanh", name=f"{name}_output")(x)
    images = keras.layers.Reshape(image_shape, name=f"{name}_reshape")(x)
    return keras.Model(noise, images, name=name)


def build_mlp_discriminator(*, image_shape=(28, 28, 1), units=(512, 256), negative_slope=LEAKY_SLOPE,
                            name="mlp_discriminator"):
    """The "vanilla GAN" discriminator of Unit IV (000): a multilayer perceptron ``image -> P(real)``.

    Args:
        image_shape: input image shape.
        units: hidden layer sizes (LeakyReLU).
        negative_slope: LeakyReLU slope.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``(batch, *image_shape) -> (batch, 1)``, a sigmoid probability.
    """
    images = keras.Input(shape=image_shape, name=f"{name}_images")
    x = keras.layers.Flatten(name=f"{name}_flatten")(images)
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, name=f"{name}_dense{index}")(x)
        x = keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_leaky_relu{index}")(x)
    probability = keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(x)
    return keras.Model(images, probability, name=name)


def build_cgan_generator(*, latent_dim=100, num_classes=10, embedding_dim=50, image_shape=(28, 28, 1),
                         filters=(256, 128, 64), kernel_size=5, name="cgan_generator"):
    """The conditional GAN generator: ``[z, label] -> image`` of that class.

    Unit IV "Types of GANs: CGAN" (000: the condition y is fed to BOTH networks), 003 §4.7.2, 004. The
    integer label is embedded, concatenated with ``z`` and fed to the DCGAN generator body.

    Args:
        latent_dim: length of the noise vector.
        num_classes: number of class labels.
        embedding_dim: size of the learned label embedding.
        image_shape, filters, kernel_size: as :func:`build_dcgan_generator`.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``[(batch, latent_dim) float, (batch, 1) int] -> (batch, *image_shape)``, tanh.
    """
    noise = keras.Input(shape=(latent_dim,), name=f"{name}_noise")
    labels = keras.Input(shape=(1,), dtype="int32", name=f"{name}_labels")
    embedded = keras.layers.Embedding(num_classes, embedding_dim, name=f"{name}_embedding")(labels)
    embedded = keras.layers.Flatten(name=f"{name}_embedding_flatten")(embedded)  # (batch, embedding_dim)
    x = keras.layers.Concatenate(name=f"{name}_concatenate")([noise, embedded])
    images = _dcgan_generator_body(x, image_shape=image_shape, filters=filters, kernel_size=kernel_size,
                                   name=name)
    return keras.Model([noise, labels], images, name=name)


def build_cgan_discriminator(*, image_shape=(28, 28, 1), num_classes=10, embedding_dim=50, filters=(64, 128),
                             kernel_size=5, negative_slope=LEAKY_SLOPE, name="cgan_discriminator"):
    """The conditional GAN discriminator: ``[image, label] -> P(real image of that class)``.

    Unit IV "Types of GANs: CGAN" (000). The label embedding is mapped to one extra image channel
    (dense -> reshape) and concatenated with the image before the DCGAN discriminator body.

    Args:
        image_shape: input image shape.
        num_classes: number of class labels.
        embedding_dim: size of the learned label embedding.
        filters, kernel_size, negative_slope: as :func:`build_dcgan_discriminator`.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``[(batch, *image_shape), (batch, 1) int] -> (batch, 1)``, a sigmoid probability.
    """
    images = keras.Input(shape=image_shape, name=f"{name}_images")
    labels = keras.Input(shape=(1,), dtype="int32", name=f"{name}_labels")
    embedded = keras.layers.Embedding(num_classes, embedding_dim, name=f"{name}_embedding")(labels)
    embedded = keras.layers.Flatten(name=f"{name}_embedding_flatten")(embedded)
    label_plane = keras.layers.Dense(image_shape[0] * image_shape[1], name=f"{name}_label_projection")(embedded)
    label_plane = keras.layers.Reshape((image_shape[0], image_shape[1], 1), name=f"{name}_label_reshape")(
        label_plane)  # (batch, 28, 28, 1)
    x = keras.layers.Concatenate(name=f"{name}_concatenate")([images, label_plane])
    probability = _dcgan_discriminator_body(x, filters=filters, kernel_size=kernel_size,
                                            negative_slope=negative_slope, name=name)
    return keras.Model([images, labels], probability, name=name)


def build_gan_feature_classifier(*, image_shape=(28, 28, 1), num_classes=10, filters=(32, 64), feature_units=128,
                                 name="gan_feature_classifier"):
    """A small MNIST classifier whose features and class probabilities score GAN samples.

    003 §4.8.2 names the Inception Score and FID, which use the ImageNet Inception-v3 network; that
    network knows nothing about 28x28 digits and needs a weights download, so the package scores MNIST
    samples with this classifier instead (scores are NOT comparable with published FID / IS values).
    See :mod:`dlcourse.generative.scores`.

    Args:
        image_shape: input image shape (pixels in ``[-1, 1]``, like the generators' output).
        num_classes: number of classes.
        filters: filters of the two stride-2 convolutions.
        feature_units: size of the feature layer (``f"{name}_features"``) used for the Fréchet distance.
        name: model name and layer-name prefix.

    Returns:
        A functional model ``(batch, *image_shape) -> (batch, num_classes)`` softmax probabilities.
    """
    images = keras.Input(shape=image_shape, name=f"{name}_images")
    x = images
    for index, units in enumerate(filters, start=1):
        x = keras.layers.Conv2D(units, 3, strides=2, padding="same", activation="relu",
                                name=f"{name}_conv{index}")(x)  # (14, 14, 32) then (7, 7, 64)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(feature_units, activation="relu", name=f"{name}_features")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_output")(x)
    return keras.Model(images, probabilities, name=name)
