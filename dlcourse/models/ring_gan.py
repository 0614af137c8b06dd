"""Lab 25: the small generator and discriminator/critic of the ring-of-Gaussians GAN.

Both are MLPs of the same width and depth for every variant of the lab (plain GAN, WGAN-GP, spectral
normalisation, feature matching), so only the training rule differs. The notes give no sizes (003
§4.5-§4.7 name the techniques only); three hidden layers of 128 ReLU units are the size the
ring experiments of Metz et al. 2017 and Gulrajani et al. 2017 use (their toy-data code, roughly).

* :func:`build_ring_generator`: ``z (latent_dim) -> (x, y)``, a linear output (the data is unbounded).
* :func:`build_ring_discriminator`: ``(x, y) -> (batch, 1)``; ``output="sigmoid"`` for the GAN
  losses (a probability, as :class:`dlcourse.generative.gan.GAN` expects), ``"linear"`` for a WGAN
  critic (a score, no probability). ``spectral_norm=True`` wraps EVERY Dense layer in
  ``keras.layers.SpectralNormalization`` (003 §4.6.4): each wrapper adds a non-trainable vector ``u``
  of the layer's output size (the power iteration's estimate), so the parameter count grows by the sum
  of the layers' units. The last hidden activation is the layer ``<name>_features``, what feature
  matching (003 §4.6.1) compares.

Parameters (default sizes, latent 16, 3 x 128): generator ``16*128+128 + 2*(128*128+128) + 128*2+2 =
35,458``; discriminator ``2*128+128 + 2*(128*128+128) + 128+1 = 33,537`` (+ 128*3 + 1 = 385 with
spectral normalisation: 33,922).
"""

import keras

__all__ = ["build_ring_generator", "build_ring_discriminator"]

LATENT_DIM = 16
UNITS = (128, 128, 128)
OUTPUTS = ("sigmoid", "linear")


def build_ring_generator(*, latent_dim=LATENT_DIM, units=UNITS, data_dim=2, name="ring_generator"):
    """MLP ``z -> point``: ReLU hidden layers of ``units`` and a linear ``data_dim`` output."""
    inputs = keras.Input(shape=(latent_dim,), name=f"{name}_noise")
    x = inputs
    for index, width in enumerate(units, start=1):
        x = keras.layers.Dense(width, activation="relu", name=f"{name}_dense{index}")(x)
    outputs = keras.layers.Dense(data_dim, name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)


def _dense(width, *, activation, spectral_norm, name):
    layer = keras.layers.Dense(width, activation=activation, name=name)
    return keras.layers.SpectralNormalization(layer, name=f"{name}_sn") if spectral_norm else layer


def build_ring_discriminator(*, units=UNITS, data_dim=2, output="sigmoid", spectral_norm=False,
                             name="ring_discriminator"):
    """MLP ``point -> (batch, 1)``; the last hidden layer is followed by the identity ``<name>_features``.

    Args:
        units: hidden ReLU layer widths.
        output: ``"sigmoid"`` (probability of real, GAN losses) or ``"linear"`` (WGAN critic).
        spectral_norm: wrap every Dense layer, the output included, in ``keras.layers.SpectralNormalization``.
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}")
    if not units:
        raise ValueError("units must name at least one hidden layer")
    inputs = keras.Input(shape=(data_dim,), name=f"{name}_points")
    x = inputs
    for index, width in enumerate(units, start=1):
        x = _dense(width, activation="relu", spectral_norm=spectral_norm, name=f"{name}_dense{index}")(x)
    x = keras.layers.Identity(name=f"{name}_features")(x)
    outputs = _dense(1, activation=None if output == "linear" else "sigmoid", spectral_norm=spectral_norm,
                     name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)
