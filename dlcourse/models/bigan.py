"""BiGAN / ALI (000 Unit V, "Hybrid Models: Encoder-Decoder GANs", 000 L2217-L2306): the encoder and the
joint discriminator on (image, code) pairs; the generator is the vanilla GAN's MLP
(:func:`dlcourse.models.gan.build_mlp_generator`).

A BiGAN (Donahue et al. 2016; ALI, Dumoulin et al. 2016, is the same game) has three networks: a
generator G: z -> x, an encoder E: x -> z, and a discriminator that sees PAIRS: real pairs
(x, E(x)) against generated pairs (G(z), z) (000 L2261-L2270, "Working"). At the game's optimum
E inverts G, so E(x) is a code of x learned without labels. The notes give no sizes; these are
the paper's MNIST networks at half width (MLPs, LeakyReLU 0.2, a 50-d latent space), so they
train in minutes on a CPU.

Convention (shared with Unit IV, :mod:`dlcourse.models.gan`): the discriminator outputs the
PROBABILITY that its pair is real (sigmoid), not a logit.
"""

import keras

from dlcourse.models.gan import LEAKY_SLOPE

__all__ = ["LATENT_DIM", "build_bigan_encoder", "build_bigan_discriminator"]

LATENT_DIM = 50  # the BiGAN paper's MNIST latent size


def build_bigan_encoder(*, image_shape=(28, 28, 1), latent_dim=LATENT_DIM, units=(512, 256),
                        negative_slope=LEAKY_SLOPE, name="bigan_encoder"):
    """The encoder E: image -> code, an MLP with LeakyReLU and a LINEAR output (codes live where the
    N(0, I) prior does, so no squashing). 546,098 parameters by default:
    784·512 + 512 + 512·256 + 256 + 256·50 + 50.

    Returns:
        A functional model ``(batch, *image_shape) -> (batch, latent_dim)``; images scaled to [-1, 1]
        like the generator's output.
    """
    images = keras.Input(shape=image_shape, name=f"{name}_images")
    x = keras.layers.Flatten(name=f"{name}_flatten")(images)
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, name=f"{name}_dense{index}")(x)
        x = keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_leaky_relu{index}")(x)
    codes = keras.layers.Dense(latent_dim, name=f"{name}_code")(x)
    return keras.Model(images, codes, name=name)


def build_bigan_discriminator(*, image_shape=(28, 28, 1), latent_dim=LATENT_DIM, units=(512, 256),
                              dropout_rate=0.2, negative_slope=LEAKY_SLOPE, name="bigan_discriminator"):
    """The joint discriminator D(x, z) -> P(the pair is real), as 000 L2266 describes it ("distinguish
    between real data-latent pairs (x, E(x)) and generated pairs (G(z), z)").

    The image and the code each get a ``units[0]`` LeakyReLU layer; the two are concatenated and go
    through ``units[1]`` to one sigmoid unit (dropout after each hidden layer, as in the paper).
    690,689 parameters by default: (784·512 + 512) + (50·512 + 512) + (1024·256 + 256) + 257.

    Returns:
        A functional model ``[(batch, *image_shape), (batch, latent_dim)] -> (batch, 1)``.
    """
    images = keras.Input(shape=image_shape, name=f"{name}_images")
    codes = keras.Input(shape=(latent_dim,), name=f"{name}_codes")

    def hidden(tensor, size, label):
        tensor = keras.layers.Dense(size, name=f"{name}_{label}_dense")(tensor)
        tensor = keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_{label}_leaky_relu")(tensor)
        return keras.layers.Dropout(dropout_rate, name=f"{name}_{label}_dropout")(tensor)

    image_features = hidden(keras.layers.Flatten(name=f"{name}_flatten")(images), units[0], "image")
    code_features = hidden(codes, units[0], "code")
    joint = keras.layers.Concatenate(name=f"{name}_joint")([image_features, code_features])
    probability = keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(hidden(joint, units[1], "joint"))
    return keras.Model([images, codes], probability, name=name)
