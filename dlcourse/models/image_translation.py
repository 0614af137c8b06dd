"""Lab 29: the pix2pix U-Net generator and PatchGAN discriminator, and the super-resolution generator.

Unit IV, "Applications of GANs" (000 L1921-L1923, items 5 and 14 at L1943-L1945, L1979-L1981; 003 §9.1-§9.2;
004 "Conditional GAN (cGAN)" and "Application of GANS"): image-to-image translation (Pix2Pix) and
super-resolution (SRGAN). The notes give no architectures; these are the papers' designs (Isola et al.
2017: U-Net generator, PatchGAN discriminator; Ledig et al. 2017: a convolutional upsampling generator
and a real/fake discriminator on high-resolution images), cut to 28x28 digits and two CPU cores.

All networks take and give images in ``[0, 1]`` (sigmoid outputs), so the PSNR of lab 29 uses a peak
value of 1. Parameter counts (``f`` = ``filters``, ``c`` = input channels, ``o`` = output channels;
4x4 kernels as in pix2pix, 3x3 in the SR networks):

* :func:`build_unet_generator`: ``16cf + f`` (down 1) + ``32f^2 + 2f + 8f`` (down 2 + BatchNorm) +
  ``32f^2 + f + 4f`` (up 1 + BatchNorm) + ``32f^2 + f`` (up 2, on [up 1, down 1]) + ``9(f + c)o + o``
  (3x3 output conv on [up 2, input]); 25,258 for f = 16, c = o = 1.
* :func:`build_patchgan_discriminator`: ``16(c + o)f + f`` + ``32f^2 + 2f + 8f`` + ``18f + 1``;
  a 7x7 map of patch probabilities for 28x28 inputs; 9,169 for f = 16, c = o = 1.
* :func:`build_sr_generator`: ``9cf + f`` + ``log2(scale) (9f^2 + f)`` + ``9fc + c``; 4,945 for f = 16,
  scale 4.
* :func:`build_sr_discriminator`: ``9cf + f`` + ``18f^2 + 2f`` + ``(H/4)(W/4) 2f + 1``; 6,369 for
  f = 16 on 28x28.
"""

import math

import keras
from keras import layers

__all__ = ["build_unet_generator", "build_patchgan_discriminator", "build_sr_generator", "build_sr_discriminator"]


def build_unet_generator(*, input_shape=(28, 28, 1), output_channels=1, filters=16, name="unet_generator"):
    """pix2pix's U-Net, two levels: 28 -> 14 -> 7 -> 14 -> 28 with skip connections.

    Down: Conv2D(f, 4, stride 2) + LeakyReLU(0.2); Conv2D(2f, 4, stride 2) + BatchNorm + LeakyReLU(0.2).
    Up: Conv2DTranspose(f, 4, stride 2) + BatchNorm + ReLU, concatenated with down 1 (skip);
    Conv2DTranspose(f, 4, stride 2) + ReLU, concatenated with the input (skip); a 3x3 sigmoid Conv2D
    gives the ``output_channels`` image in [0, 1]. No noise input (pix2pix drops z, docs/SOURCES.md,
    erratum B76). Height and width must be divisible by 4.
    """
    height, width, channels = input_shape
    if height % 4 or width % 4:
        raise ValueError(f"the U-Net halves the image twice: height and width must be divisible by 4, "
                         f"got {input_shape}")
    inputs = keras.Input(input_shape, name="source")
    down1 = layers.Conv2D(filters, 4, strides=2, padding="same", name="down1_conv")(inputs)
    down1 = layers.LeakyReLU(0.2, name="down1_leaky_relu")(down1)
    down2 = layers.Conv2D(2 * filters, 4, strides=2, padding="same", name="down2_conv")(down1)
    down2 = layers.BatchNormalization(name="down2_batch_norm")(down2)
    down2 = layers.LeakyReLU(0.2, name="down2_leaky_relu")(down2)
    up1 = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name="up1_conv_transpose")(down2)
    up1 = layers.BatchNormalization(name="up1_batch_norm")(up1)
    up1 = layers.ReLU(name="up1_relu")(up1)
    up1 = layers.Concatenate(name="skip_down1")([up1, down1])
    up2 = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu",
                                 name="up2_conv_transpose")(up1)
    up2 = layers.Concatenate(name="skip_input")([up2, inputs])
    outputs = layers.Conv2D(output_channels, 3, padding="same", activation="sigmoid", name="output")(up2)
    return keras.Model(inputs, outputs, name=name)


def build_patchgan_discriminator(*, input_shape=(28, 28, 1), target_channels=1, filters=16,
                                 name="patchgan_discriminator"):
    """PatchGAN on ``[source, image]`` pairs: one real/fake probability per patch (a 7x7 map for 28x28).

    The two images are concatenated on the channel axis (pix2pix's conditional D), then
    Conv2D(f, 4, stride 2) + LeakyReLU(0.2), Conv2D(2f, 4, stride 2) + BatchNorm + LeakyReLU(0.2) and a
    3x3 sigmoid Conv2D with one channel; each output sees an 18x18 receptive field of the input.
    """
    height, width, _ = input_shape
    source = keras.Input(input_shape, name="source")
    image = keras.Input((height, width, target_channels), name="image")
    x = layers.Concatenate(name="pair")([source, image])
    x = layers.Conv2D(filters, 4, strides=2, padding="same", name="conv1")(x)
    x = layers.LeakyReLU(0.2, name="conv1_leaky_relu")(x)
    x = layers.Conv2D(2 * filters, 4, strides=2, padding="same", name="conv2")(x)
    x = layers.BatchNormalization(name="conv2_batch_norm")(x)
    x = layers.LeakyReLU(0.2, name="conv2_leaky_relu")(x)
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="patch_scores")(x)
    return keras.Model([source, image], outputs, name=name)


def build_sr_generator(*, input_shape=(7, 7, 1), scale=4, filters=16, name="sr_generator"):
    """Super-resolution generator: Conv2D(f, 3) + ReLU, then ``log2(scale)`` times UpSampling2D(2) +
    Conv2D(f, 3) + ReLU, then a 3x3 sigmoid Conv2D back to the input's channels (7x7 -> 28x28 for scale 4)."""
    steps = int(round(math.log2(scale)))
    if scale < 2 or 2 ** steps != scale:
        raise ValueError(f"scale must be a power of 2 (2, 4, 8, ...), got {scale}")
    inputs = keras.Input(input_shape, name="low_resolution")
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name="features")(inputs)
    for step in range(1, steps + 1):
        x = layers.UpSampling2D(2, name=f"upsample{step}")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"upsample{step}_conv")(x)
    outputs = layers.Conv2D(input_shape[-1], 3, padding="same", activation="sigmoid", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def build_sr_discriminator(*, input_shape=(28, 28, 1), filters=16, name="sr_discriminator"):
    """Real/fake discriminator on high-resolution images (SRGAN's D sees the image only): Conv2D(f, 3,
    stride 2) + LeakyReLU(0.2), Conv2D(2f, 3, stride 2) + LeakyReLU(0.2), Flatten, Dense(1, sigmoid)."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(filters, 3, strides=2, padding="same", name="conv1")(inputs)
    x = layers.LeakyReLU(0.2, name="conv1_leaky_relu")(x)
    x = layers.Conv2D(2 * filters, 3, strides=2, padding="same", name="conv2")(x)
    x = layers.LeakyReLU(0.2, name="conv2_leaky_relu")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="score")(x)
    return keras.Model(inputs, outputs, name=name)
