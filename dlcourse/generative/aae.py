"""The adversarial autoencoder's training wrapper (Unit V, "Hybrid Models: Encoder-Decoder GANs").

Each batch takes the two phases of Makhzani et al. (2015):

1. reconstruction: encoder and decoder minimise the reconstruction loss of ``decoder(encoder(x))``;
2. regularisation: (a) the discriminator learns to output 1 for prior samples ``z ~ N(0, I)`` and 0
   for codes ``E(x)``; (b) the encoder, acting as the GAN's generator, learns to make
   ``D(E(x))`` look like 1 (the non-saturating generator loss ``-log D(E(x))`` of notes 001/002).

The adversarial phase replaces the VAE's KL term: it matches the distribution of codes to the prior,
so decoding prior samples generates images. The adversarial losses are Unit IV's
(:mod:`dlcourse.generative.gan`, probability-output discriminator). Losses are per example, divided
by the GLOBAL batch size under ``tf.distribute`` (``gan.global_average``).
"""

import keras
import tensorflow as tf
from keras import ops

from dlcourse.generative.gan import (discriminator_loss, generator_loss, global_average, load_seed_state,
                                     save_seed_state)
from dlcourse.generative.vae import reconstruction_loss
from dlcourse.layers.sampling import replica_normal

__all__ = ["AdversarialAutoencoder"]


class AdversarialAutoencoder(keras.Model):
    """Adversarial autoencoder: reconstruction phase + adversarial regularisation of the codes.

    ``AdversarialAutoencoder(encoder, decoder, discriminator)`` with the builders of
    :mod:`dlcourse.models.adversarial_autoencoder`. Compile with three optimizers::

        aae.compile(reconstruction_optimizer=keras.optimizers.Adam(1e-3),
                    discriminator_optimizer=keras.optimizers.Adam(2e-4),
                    generator_optimizer=keras.optimizers.Adam(2e-4))

    and fit with images alone. Tracked metrics: ``reconstruction_loss`` (mean binary cross-entropy
    per pixel), ``discriminator_loss``, ``generator_loss``. Save the three parts, not this wrapper.

    Args:
        encoder, decoder, discriminator: functional models.
        prior_stddev: standard deviation of the Gaussian prior N(0, stddev^2 I).
        seed: seed of the prior samples.
    """

    def __init__(self, encoder, decoder, discriminator, *, prior_stddev=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if prior_stddev <= 0:
            raise ValueError(f"prior_stddev must be > 0; got {prior_stddev}")
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator
        self.latent_dim = int(encoder.output.shape[-1])
        self.prior_stddev = float(prior_stddev)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.discriminator_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.generator_tracker = keras.metrics.Mean(name="generator_loss")
        self.built = True  # the parts are built functional models; fit() must not trace call()

    def compile(self, *, reconstruction_optimizer, discriminator_optimizer, generator_optimizer, **kwargs):
        super().compile(optimizer=reconstruction_optimizer, **kwargs)
        self.discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
        self.generator_optimizer = keras.optimizers.get(generator_optimizer)
        # Build every optimizer now (inside the caller's strategy scope), not lazily in a replica.
        self.optimizer.build(self.autoencoder_weights)
        self.discriminator_optimizer.build(self.discriminator.trainable_weights)
        self.generator_optimizer.build(self.encoder.trainable_weights)

    @property
    def autoencoder_weights(self):
        return self.encoder.trainable_weights + self.decoder.trainable_weights

    @property
    def metrics(self):
        return [self.reconstruction_tracker, self.discriminator_tracker, self.generator_tracker]

    # the prior sampler's position goes into checkpoints with the weights (see GAN)
    def save_own_variables(self, store):
        super().save_own_variables(store)
        save_seed_state(self, store)

    def load_own_variables(self, store):
        super().load_own_variables(load_seed_state(self, store))

    def call(self, inputs, training=False):
        """Reconstruct ``inputs``."""
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def sample_prior(self, count):
        """``count`` samples of the prior, ``(count, latent_dim)``: this replica's rows of one global-batch
        draw, the same on one replica as on several (``layers.sampling.replica_normal``)."""
        return self.prior_stddev * replica_normal((count, self.latent_dim), self.seed_generator.next())

    @staticmethod
    def _inputs(data):
        return data[0] if isinstance(data, (tuple, list)) else data

    def _reconstruction(self, x, training):
        x_hat = self.decoder(self.encoder(x, training=training), training=training)
        pixels = ops.cast(ops.prod(ops.shape(x)[1:]), x_hat.dtype)
        return reconstruction_loss(x, x_hat, "binary_crossentropy") / pixels  # (batch,) mean per pixel

    def train_step(self, data):
        x = self._inputs(data)
        # 1. reconstruction phase: encoder + decoder
        with tf.GradientTape() as tape:
            reconstruction = self._reconstruction(x, training=True)
            loss = global_average(reconstruction)
        weights = self.autoencoder_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))

        # 2a. regularisation phase, discriminator: prior samples are "real", codes are "fake"
        prior = self.sample_prior(ops.shape(x)[0])
        codes = self.encoder(x, training=True)
        with tf.GradientTape() as tape:
            d_loss = discriminator_loss(self.discriminator(prior, training=True),
                                        self.discriminator(codes, training=True))
            loss = global_average(d_loss)
        weights = self.discriminator.trainable_weights
        self.discriminator_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))

        # 2b. regularisation phase, encoder as generator: make codes look like prior samples
        with tf.GradientTape() as tape:
            g_loss = generator_loss(self.discriminator(self.encoder(x, training=True), training=True))
            loss = global_average(g_loss)
        weights = self.encoder.trainable_weights
        self.generator_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return self._update_metrics(reconstruction, d_loss, g_loss)

    def test_step(self, data):
        x = self._inputs(data)
        codes = self.encoder(x, training=False)
        prior = self.sample_prior(ops.shape(x)[0])
        fake = self.discriminator(codes, training=False)
        return self._update_metrics(self._reconstruction(x, training=False),
                                    discriminator_loss(self.discriminator(prior, training=False), fake),
                                    generator_loss(fake))

    def _update_metrics(self, reconstruction, d_loss, g_loss):
        self.reconstruction_tracker.update_state(reconstruction)
        self.discriminator_tracker.update_state(d_loss)
        self.generator_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}
