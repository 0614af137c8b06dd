"""The VAE training wrapper and its losses (Unit V, "Variational AE"; handbook 003, chapter 5).

The loss is the negative ELBO of 003 §5.2.2, per example:

    reconstruction(x, x_hat) + beta * KL(q(z|x) || N(0, I))

with the reconstruction summed over pixels (binary cross-entropy for images in [0, 1], or the
squared error) and the closed-form Gaussian KL

    KL = 1/2 * sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2),

which is NOT printed in any of the notes (003 names the KL term only); ``beta`` is the beta-VAE
weight 003 §5.3.3 mentions. Under ``tf.distribute`` each replica divides its per-example losses by
the GLOBAL batch size (``tf.nn.compute_average_loss``, via ``gan.global_average``), so the summed gradients equal the
single-device gradient of the batch mean.
"""

import keras
import tensorflow as tf
from keras import ops

from dlcourse.generative.gan import global_average

__all__ = ["VAE", "kl_divergence", "reconstruction_loss", "interpolate", "latent_grid", "plot_latent_scatter",
           "RECONSTRUCTION_LOSSES"]

RECONSTRUCTION_LOSSES = ("binary_crossentropy", "mse")


def kl_divergence(z_mean, z_log_var):
    """Per-example ``KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum_j (sigma^2 + mu^2 - 1 - log sigma^2)``.

    Args:
        z_mean, z_log_var: ``(batch, latent_dim)`` tensors or arrays.

    Returns:
        ``(batch,)`` tensor, in nats.
    """
    return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1)


def reconstruction_loss(x, x_hat, kind="binary_crossentropy"):
    """Per-example reconstruction loss summed over every pixel (not averaged: it must stay on the
    same scale as the KL term, which is summed over the latent dimensions).

    Args:
        x: targets ``(batch, ...)``; for ``binary_crossentropy`` in [0, 1].
        x_hat: reconstructions, same shape (probabilities for ``binary_crossentropy``).
        kind: ``"binary_crossentropy"`` or ``"mse"`` (then the summed squared error).

    Returns:
        ``(batch,)`` tensor.
    """
    if kind not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"kind must be one of {RECONSTRUCTION_LOSSES}; got {kind!r}")
    x = ops.cast(x, x_hat.dtype) if hasattr(x_hat, "dtype") else x
    if kind == "binary_crossentropy":
        x_hat = ops.clip(x_hat, 1e-7, 1.0 - 1e-7)
        per_value = -(x * ops.log(x_hat) + (1.0 - x) * ops.log(1.0 - x_hat))
    else:
        per_value = ops.square(x - x_hat)
    batch = ops.shape(per_value)[0]
    return ops.sum(ops.reshape(per_value, (batch, -1)), axis=-1)


def interpolate(z1, z2, steps=10):
    """``z_t = (1 - t) z1 + t z2`` for ``steps`` values of t evenly spaced in [0, 1] (003 §5.3.2).

    Returns:
        ``(steps, latent_dim)`` NumPy array; row 0 is ``z1``, the last row ``z2``.
    """
    import numpy as np

    if steps < 2:
        raise ValueError(f"steps must be >= 2; got {steps}")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - t) * np.asarray(z1, dtype="float32")[None, :] + t * np.asarray(z2, dtype="float32")[None, :]


class VAE(keras.Model):
    """A variational autoencoder trained with a custom ``train_step`` (keras-io pattern).

    ``VAE(encoder, decoder)`` where the encoder maps ``x -> [z_mean, z_log_var, z]`` and the decoder
    ``z -> x_hat`` (:func:`dlcourse.models.vae.build_vae_encoder` / ``build_vae_decoder``). Compile
    with an optimizer only: ``vae.compile(optimizer=keras.optimizers.Adam())``; fit with ``x`` alone.
    Tracked metrics: ``loss``, ``reconstruction_loss``, ``kl_loss`` (per-example means). Save the
    encoder and decoder (functional models) as ``.h5``, not this wrapper.

    Args:
        encoder, decoder: the two functional models.
        beta: weight of the KL term (1 = the ELBO; > 1 a beta-VAE).
        reconstruction: ``"binary_crossentropy"`` (images in [0, 1]) or ``"mse"``.
    """

    def __init__(self, encoder, decoder, *, beta=1.0, reconstruction="binary_crossentropy", **kwargs):
        super().__init__(**kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0; got {beta}")
        if reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction must be one of {RECONSTRUCTION_LOSSES}; got {reconstruction!r}")
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.reconstruction = reconstruction
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True  # the parts are built functional models; fit() must not trace call()

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, inputs, training=False):
        """Reconstruct ``inputs`` (encode, sample z, decode)."""
        _, _, z = self.encoder(inputs, training=training)
        return self.decoder(z, training=training)

    def per_example_losses(self, x, training=False):
        """``(total, reconstruction, kl)``, each ``(batch,)``, for one batch ``x``."""
        z_mean, z_log_var, z = self.encoder(x, training=training)
        x_hat = self.decoder(z, training=training)
        reconstruction = reconstruction_loss(x, x_hat, self.reconstruction)
        kl = kl_divergence(z_mean, z_log_var)
        return reconstruction + self.beta * kl, reconstruction, kl

    def _update_metrics(self, total, reconstruction, kl):
        # Per-example values: Mean's (sum, count) variables aggregate across replicas, so these
        # are means over the global batch under any strategy.
        self.total_loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return {metric.name: metric.result() for metric in self.metrics}

    @staticmethod
    def _inputs(data):
        return data[0] if isinstance(data, (tuple, list)) else data

    def train_step(self, data):
        x = self._inputs(data)
        with tf.GradientTape() as tape:
            total, reconstruction, kl = self.per_example_losses(x, training=True)
            loss = global_average(total)  # sum / GLOBAL batch size
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._update_metrics(total, reconstruction, kl)

    def test_step(self, data):
        x = self._inputs(data)
        total, reconstruction, kl = self.per_example_losses(x, training=False)
        return self._update_metrics(total, reconstruction, kl)


def latent_grid(decoder, *, n=15, limit=3.0):
    """Decode an ``n x n`` grid of latent points spanning ``[-limit, limit]`` in the first two dimensions.

    The other latent dimensions are 0 (the prior's mean). Rows run from +limit (top) to -limit, so
    the picture reads like a plot of the plane. Returns ``(n * n, *image_shape)`` images, row-major.
    """
    import numpy as np

    latent_dim = int(decoder.inputs[0].shape[-1])
    values = np.linspace(-limit, limit, n, dtype="float32")
    points = np.zeros((n * n, latent_dim), dtype="float32")
    for row, z1 in enumerate(values[::-1]):
        for col, z0 in enumerate(values):
            points[row * n + col, 0] = z0
            if latent_dim > 1:
                points[row * n + col, 1] = z1
    return np.asarray(decoder.predict(points, verbose=0))


def plot_latent_scatter(codes, labels, path, *, title=None, class_names=None):
    """``latent_scatter.png``: the first two latent coordinates of ``codes``, coloured by class."""
    import numpy as np

    from dlcourse import artifacts

    codes = np.asarray(codes)
    labels = np.ravel(labels)
    figure, axis = artifacts.new_figure(1, 1, width=6.5, height=5.5)
    y = codes[:, 1] if codes.shape[1] > 1 else np.zeros(len(codes))
    points = axis.scatter(codes[:, 0], y, c=labels, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    colorbar = figure.colorbar(points, ax=axis, ticks=range(10))
    if class_names is not None:
        colorbar.ax.set_yticklabels([str(name) for name in class_names][:10])
    axis.set(xlabel="z[0]", ylabel="z[1]")
    axis.grid(alpha=0.3)
    if title:
        axis.set_title(title)
    return artifacts.save_figure(figure, path)
