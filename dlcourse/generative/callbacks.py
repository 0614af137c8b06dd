"""Watching generators train: fixed noise, a per-epoch sample-grid callback and the GAN loss plot.

Shared by Unit IV (GAN, conditional GAN) and Unit V (VAE / adversarial-autoencoder decoders): anything
that maps a latent vector (optionally with a class label) to images can be watched with
:class:`SampleGridCallback`. Because the noise is drawn once from a fixed seed, the grids of successive
epochs show the SAME latent points, so a student sees one sample sharpen rather than new random ones.
The grids are :func:`dlcourse.artifacts.image_grid` with ``tiled=True``, written atomically like every
other output.
"""

import pathlib

import keras
import numpy as np

from dlcourse import artifacts

__all__ = ["fixed_noise", "SampleGridCallback", "plot_gan_losses"]


def fixed_noise(count, latent_dim, seed=0):
    """``(count, latent_dim)`` float32 draws from N(0, I), the same for the same seed (NumPy, not TF state)."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype("float32")


class SampleGridCallback(keras.callbacks.Callback):
    """Write a grid of samples for FIXED latent points after every ``every``-th epoch.

    Files are ``<directory>/<prefix><epoch:03d>.png`` (``samples_epoch_001.png`` ...), epochs counted
    from 1.

    Args:
        generator: the model to sample (``z -> image`` or ``[z, label] -> image``); ``None`` uses the
            trained model's ``generator`` attribute (a :class:`dlcourse.generative.gan.GAN`).
        directory: output folder (a lab's ``run.out_dir``).
        latent_dim: noise size; default: the generator's first input's last dimension.
        num_samples: images per grid.
        ncols: images per row.
        labels: class labels, one per sample, for conditional generators (``[z, label]`` input).
        seed: seed of the fixed noise.
        value_range: pixel range of the generator's output (``(-1, 1)`` tanh, ``(0, 1)`` sigmoid).
        prefix: file-name prefix.
        every: save every this many epochs (the last epoch is always saved).
    """

    def __init__(self, generator=None, *, directory, latent_dim=None, num_samples=64, ncols=8, labels=None,
                 seed=0, value_range=(-1.0, 1.0), prefix="samples_epoch_", every=1):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1; got {every}")
        self.generator = generator
        self.directory = pathlib.Path(directory)
        self.latent_dim = latent_dim
        self.num_samples = int(num_samples)
        self.ncols = ncols
        self.labels = None if labels is None else np.asarray(labels, dtype="int32").reshape(-1, 1)
        if self.labels is not None and len(self.labels) != self.num_samples:
            raise ValueError(f"need one label per sample ({self.num_samples}); got {len(self.labels)}")
        self.seed = seed
        self.value_range = value_range
        self.prefix = prefix
        self.every = int(every)
        self.saved = []

    def _generator(self):
        return self.generator if self.generator is not None else self.model.generator

    def samples(self):
        """The generated images for the fixed noise (inference mode)."""
        generator = self._generator()
        latent_dim = self.latent_dim or int(generator.inputs[0].shape[-1])
        noise = fixed_noise(self.num_samples, latent_dim, self.seed)
        inputs = noise if self.labels is None else [noise, self.labels]
        return np.asarray(generator(inputs, training=False))

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every and epoch + 1 != last:
            return
        path = self.directory / f"{self.prefix}{epoch + 1:03d}.png"
        artifacts.image_grid(self.samples(), path, ncols=self.ncols, value_range=self.value_range, tiled=True,
                             title=f"epoch {epoch + 1}")
        self.saved.append(path)


def plot_gan_losses(history, path, *, title=None):
    """``losses.png``: d_loss and g_loss per epoch on one axes, mean D(x) and D(G(z)) on a second.

    At the notes' Nash equilibrium (003 §4.4.3) both scores are 1/2 and J_D = ln 4, J_G = ln 2 (dotted).
    """
    history = getattr(history, "history", history)
    figure, (loss_axis, score_axis) = artifacts.new_figure(1, 2)
    epochs = np.arange(1, len(history["d_loss"]) + 1)
    loss_axis.plot(epochs, history["d_loss"], marker="o", label="discriminator J_D")
    loss_axis.plot(epochs, history["g_loss"], marker="o", label="generator J_G")
    for value in (np.log(4.0), np.log(2.0)):
        loss_axis.axhline(value, color="grey", linestyle=":", linewidth=1)
    loss_axis.set(xlabel="epoch", ylabel="loss")
    loss_axis.legend()
    for key, label in (("real_score", "mean D(x)"), ("fake_score", "mean D(G(z))")):
        if key in history:
            score_axis.plot(epochs, history[key], marker="o", label=label)
    score_axis.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    score_axis.set(xlabel="epoch", ylabel="discriminator output", ylim=(0.0, 1.0))
    score_axis.legend()
    for axis in (loss_axis, score_axis):
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return artifacts.save_figure(figure, path)
