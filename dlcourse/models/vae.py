"""The variational autoencoder's two halves (Unit V, "Variational AE"; handbook 003, chapter 5).

The notes describe the VAE (encoder outputs a mean and a variance, the reparameterisation trick,
loss = reconstruction + KL to N(0, I)) but give no layer sizes. The architecture is the keras-io
MNIST VAE's (two stride-2 convolutions, a 16-unit dense layer, a 2-D latent space so the latent
space can be plotted). The training wrapper is :class:`dlcourse.generative.vae.VAE`.
"""

import keras

from dlcourse.layers.sampling import LogVariance, Sampling

__all__ = ["ENCODER_OUTPUTS", "build_vae_encoder", "build_vae_decoder"]


def _check_shape(shape, num_stages):
    factor = 2 ** num_stages
    if len(shape) != 3 or shape[0] % factor or shape[1] % factor:
        raise ValueError(f"image shape must be (height, width, channels) with height and width "
                         f"divisible by {factor}; got {shape}")


ENCODER_OUTPUTS = ("log_var", "sigma")  # what the second head predicts: log sigma^2, or the notes' sigma


def build_vae_encoder(*, input_shape=(28, 28, 1), latent_dim=2, filters=(32, 64), dense_units=16,
                      seed=None, encoder_output="log_var", name="vae_encoder"):
    """VAE encoder q(z|x): image -> ``[z_mean, z_log_var, z]``.

    3x3 stride-2 ``Conv2D`` per entry of ``filters`` (relu) -> ``Flatten`` -> ``Dense(dense_units,
    relu)`` -> two linear heads ``z_mean`` and ``z_log_var`` -> :class:`Sampling` (``z = mu +
    exp(0.5 log sigma^2) * epsilon``). 69,076 parameters by default. The notes' encoder outputs the
    standard deviation sigma (003 §5.2.1); predicting ``log sigma^2`` is the usual, unconstrained choice.
    ``encoder_output="sigma"`` builds the notes' encoder: a softplus head ``z_sigma`` (sigma > 0, the
    same parameters) converted by :class:`~dlcourse.layers.LogVariance` to ``log sigma^2``, so the
    outputs (and the VAE's loss) stay the same (docs/SOURCES.md, erratum B32).

    Returns:
        ``keras.Model`` ``(batch, *input_shape) -> [(batch, latent_dim)] * 3``: z_mean, z_log_var, z.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1; got {latent_dim}")
    _check_shape(input_shape, len(filters))
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(count, 3, strides=2, padding="same", activation="relu",
                                name=f"{name}_conv{index}")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)  # (batch, 7 * 7 * 64) for MNIST
    x = keras.layers.Dense(dense_units, activation="relu", name=f"{name}_dense")(x)
    z_mean = keras.layers.Dense(latent_dim, name=f"{name}_z_mean")(x)
    if encoder_output not in ENCODER_OUTPUTS:
        raise ValueError(f"encoder_output must be one of {ENCODER_OUTPUTS}; got {encoder_output!r}")
    if encoder_output == "sigma":
        z_sigma = keras.layers.Dense(latent_dim, activation="softplus", name=f"{name}_z_sigma")(x)
        z_log_var = LogVariance(name=f"{name}_z_log_var")(z_sigma)
    else:
        z_log_var = keras.layers.Dense(latent_dim, name=f"{name}_z_log_var")(x)
    z = Sampling(seed=seed, name=f"{name}_sampling")([z_mean, z_log_var])
    return keras.Model(inputs, [z_mean, z_log_var, z], name=name)


def build_vae_decoder(*, latent_dim=2, output_shape=(28, 28, 1), filters=(64, 32), name="vae_decoder"):
    """VAE decoder p(x|z): latent vector -> image with values in (0, 1) (sigmoid).

    ``Dense(H/4 * W/4 * filters[0], relu)`` -> ``Reshape`` -> 3x3 stride-2 ``Conv2DTranspose`` per
    entry of ``filters`` (relu) -> 3x3 ``Conv2DTranspose`` to the output channels (sigmoid).
    65,089 parameters by default. Decoding z ~ N(0, I) generates new images (003 §5.3.2).

    Returns:
        ``keras.Model`` ``(batch, latent_dim) -> (batch, *output_shape)``.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1; got {latent_dim}")
    _check_shape(output_shape, len(filters))
    factor = 2 ** len(filters)
    height, width = output_shape[0] // factor, output_shape[1] // factor
    inputs = keras.Input(shape=(latent_dim,), name=f"{name}_input")
    x = keras.layers.Dense(height * width * filters[0], activation="relu", name=f"{name}_dense")(inputs)
    x = keras.layers.Reshape((height, width, filters[0]), name=f"{name}_reshape")(x)
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="relu",
                                         name=f"{name}_deconv{index}")(x)
    outputs = keras.layers.Conv2DTranspose(output_shape[-1], 3, padding="same", activation="sigmoid",
                                           name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)
