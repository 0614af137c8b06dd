"""The adversarial autoencoder (AAE), one of the AE-GAN hybrids of Unit V ("Hybrid Models and Recent
Advances": "AAE", 000 L2200). The notes' "Hybrid Models: Encoder-Decoder GANs" are BiGAN and ALI
(000 L2257-L2306), whose discriminator sees (x, z) pairs; the AAE's sees codes only.

An autoencoder whose code is pushed towards a prior p(z) = N(0, I) by a discriminator that tells
encoded codes E(x) from prior samples z ~ p(z) (Makhzani et al. 2015). The decoder is then a
generator: decoding prior samples gives new images. The notes name the AAE ("KL replaced by an
adversarial loss matching latent to prior") but give no architecture; the sizes here are this
package's (small MLPs, as in the paper's MNIST experiments). Training: :mod:`dlcourse.generative.aae`.

Convention (shared with Unit IV, :mod:`dlcourse.models.gan`): the discriminator outputs the
PROBABILITY that its input is a real prior sample (sigmoid), not logits.
"""

import keras

__all__ = ["build_aae_encoder", "build_aae_decoder", "build_aae_discriminator"]

LEAKY_SLOPE = 0.2


def build_aae_encoder(*, input_shape=(28, 28, 1), latent_dim=2, units=(512, 256), name="aae_encoder"):
    """AAE encoder: image -> deterministic code ``z = E(x)`` (the GAN's "generator" of codes).

    Flatten -> ``Dense(units[i], relu)`` ... -> ``Dense(latent_dim)`` linear (the code must be able to
    match an unbounded N(0, I) prior). 533,762 parameters by default.

    Returns:
        ``keras.Model`` ``(batch, *input_shape) -> (batch, latent_dim)``.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1; got {latent_dim}")
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs)
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, activation="relu", name=f"{name}_dense{index}")(x)
    code = keras.layers.Dense(latent_dim, name=f"{name}_code")(x)
    return keras.Model(inputs, code, name=name)


def build_aae_decoder(*, latent_dim=2, output_shape=(28, 28, 1), units=(256, 512), name="aae_decoder"):
    """AAE decoder: code -> image in (0, 1) (sigmoid); decoding z ~ N(0, I) generates images.

    ``Dense(units[i], relu)`` ... -> ``Dense(H * W * C, sigmoid)`` -> ``Reshape``. 534,544 parameters.

    Returns:
        ``keras.Model`` ``(batch, latent_dim) -> (batch, *output_shape)``.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1; got {latent_dim}")
    inputs = keras.Input(shape=(latent_dim,), name=f"{name}_input")
    x = inputs
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, activation="relu", name=f"{name}_dense{index}")(x)
    pixels = 1
    for dimension in output_shape:
        pixels *= dimension
    x = keras.layers.Dense(pixels, activation="sigmoid", name=f"{name}_output")(x)
    outputs = keras.layers.Reshape(output_shape, name=f"{name}_reshape")(x)
    return keras.Model(inputs, outputs, name=name)


def build_aae_discriminator(*, latent_dim=2, units=(256, 256), negative_slope=LEAKY_SLOPE,
                            name="aae_discriminator"):
    """AAE discriminator on CODES: ``z -> P(z was drawn from the prior)``.

    ``Dense(units[i])`` + ``LeakyReLU(0.2)`` ... -> ``Dense(1, sigmoid)``. It never sees images: it
    separates encoded codes E(x) ("fake") from prior samples ("real"). 66,817 parameters by default.

    Returns:
        ``keras.Model`` ``(batch, latent_dim) -> (batch, 1)``, a probability.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1; got {latent_dim}")
    inputs = keras.Input(shape=(latent_dim,), name=f"{name}_input")
    x = inputs
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, name=f"{name}_dense{index}")(x)
        x = keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_leaky_relu{index}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)
