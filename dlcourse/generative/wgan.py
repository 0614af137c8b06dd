"""Two fixes of GAN training failures as ``train_step`` variants (lab 25; 000 L1917, 003 §4.6-§4.7).

The notes name the fixes and give no formula: "feature matching, Wasserstein GANs (WGAN)" (000 L1917),
feature matching, spectral normalisation and the gradient penalty (003 §4.6.1, §4.6.4, §4.6.5), WGAN's
Wasserstein-1 distance (003 §4.7.3). The formulas here are the papers' (Salimans et al. 2016, "Improved
techniques for training GANs"; Gulrajani et al. 2017, "Improved training of Wasserstein GANs").
003 §4.6.5 says the gradient penalty was "introduced with Wasserstein GANs": the original WGAN
(Arjovsky et al. 2017) clipped the critic's weights; the penalty came with WGAN-GP (docs/SOURCES.md,
erratum B72).

* :class:`WGANGP` — a CRITIC ``f`` (linear output, no sigmoid) and a generator ``G``. Each step makes
  ``n_critic`` critic updates, each with fresh noise and fresh interpolation weights, on the step's real
  batch, minimising ``f(G(z)) - f(x) + lambda (||grad f(x_hat)||_2 - 1)^2`` with ``x_hat = a x + (1 - a) G(z)``,
  ``a ~ U[0, 1]`` per example (points on the lines between real and fake samples); then one generator
  update minimising ``-f(G(z))``. ``-(critic loss without the penalty)`` estimates the Wasserstein-1
  distance. (Gulrajani et al. draw a new real batch for each critic update; here ``fit`` hands one batch
  per step, reused by the ``n_critic`` updates.)
* :class:`FeatureMatchingGAN` — :class:`dlcourse.generative.gan.GAN` whose generator minimises
  ``||mean f(x) - mean f(G(z))||_2^2`` with ``f`` the discriminator's layer ``*_features`` (its last
  hidden activations) instead of fooling D; D keeps the notes' J_D.
* Spectral normalisation (003 §4.6.4) needs no new step: the plain :class:`GAN` with
  ``keras.layers.SpectralNormalization`` on the discriminator's Dense layers
  (:func:`dlcourse.models.ring_gan.build_ring_discriminator` with ``spectral_norm=True``).

Losses are reduced over the global batch (:func:`dlcourse.generative.gan.global_average`) as in ``GAN``.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from dlcourse.generative.gan import GAN, discriminator_loss, global_average, load_seed_state, save_seed_state
from dlcourse.layers.sampling import replica_normal

__all__ = ["GP_WEIGHT", "N_CRITIC", "interpolate", "gradient_norms", "gradient_penalty", "feature_matching_loss",
           "WGANGP", "FeatureMatchingGAN", "SampleScoreCallback"]

GP_WEIGHT = 10.0  # lambda, Gulrajani et al. 2017
N_CRITIC = 5  # critic updates per generator update, Gulrajani et al. 2017


def interpolate(real, fake, alpha):
    """``alpha * real + (1 - alpha) * fake`` with one ``alpha`` per example (shape ``(batch,)``)."""
    real = ops.convert_to_tensor(real, dtype="float32")
    fake = ops.convert_to_tensor(fake, dtype="float32")
    alpha = ops.reshape(ops.convert_to_tensor(alpha, dtype="float32"), (-1,) + (1,) * (len(real.shape) - 1))
    return alpha * real + (1.0 - alpha) * fake


def gradient_norms(critic, points):
    """``||grad_x f(x)||_2`` per example ``(batch,)`` for a critic (model or callable) with ``(batch, 1)`` output.

    The gradient of the SUM of the outputs w.r.t. the batch gives each example its own gradient, since
    the critic has no cross-example layer (no batch normalisation, as Gulrajani et al. require).
    """
    points = ops.convert_to_tensor(points, dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(points)
        total = ops.sum(critic(points))  # inside the tape, or eager mode records nothing
    gradients = tape.gradient(total, points)
    return ops.sqrt(ops.sum(ops.reshape(ops.square(gradients), (ops.shape(gradients)[0], -1)), axis=1) + 1e-12)


def gradient_penalty(critic, real, fake, alpha, *, weight=GP_WEIGHT):
    """WGAN-GP's penalty per example ``(batch,)``: ``weight * (||grad f(x_hat)||_2 - 1)^2`` at
    ``x_hat = alpha * real + (1 - alpha) * fake`` (:func:`interpolate`)."""
    return weight * ops.square(gradient_norms(critic, interpolate(real, fake, alpha)) - 1.0)


def feature_matching_loss(real_features, fake_features):
    """``||mean real_features - mean fake_features||_2^2`` over the batch (Salimans et al. 2016), a scalar.

    Under a distribution strategy the means are the replica's; the loss is divided by the replicas in
    sync so that the summed gradients are their average.
    """
    real_features = ops.reshape(real_features, (ops.shape(real_features)[0], -1))
    fake_features = ops.reshape(fake_features, (ops.shape(fake_features)[0], -1))
    difference = ops.mean(real_features, axis=0) - ops.mean(fake_features, axis=0)
    return ops.sum(ops.square(difference)) / tf.distribute.get_strategy().num_replicas_in_sync


class WGANGP(keras.Model):
    """A generator and a critic trained by ``fit`` with WGAN-GP's losses (see the module docstring).

    Logged metrics: ``d_loss`` (critic loss with the penalty, mean over the step's critic updates),
    ``g_loss`` (``-mean f(G(z))``), ``gradient_penalty`` (mean penalty) and ``wasserstein_estimate``
    (``mean f(x) - mean f(G(z))``). Only ``generator`` and ``critic`` are saved, never this wrapper.

    Args:
        generator: model ``z -> sample``.
        critic: model ``sample -> (batch, 1)`` SCORE (linear output).
        n_critic: critic updates per step; gp_weight: lambda; seed: the noise's seed.
    """

    def __init__(self, generator, critic, *, n_critic=N_CRITIC, gp_weight=GP_WEIGHT, seed=None, **kwargs):
        super().__init__(**kwargs)
        if n_critic < 1 or gp_weight < 0:
            raise ValueError(f"need n_critic >= 1 and gp_weight >= 0; got {n_critic}, {gp_weight}")
        self.generator = generator
        self.critic = critic
        self.n_critic = int(n_critic)
        self.gp_weight = float(gp_weight)
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = [keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "gradient_penalty", "wasserstein_estimate")]
        self.built = True

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Set the critic's and the generator's optimizers (Gulrajani et al.: Adam(1e-4, 0.5, 0.9))."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_optimizer.build(self.critic.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build([])  # as GAN.compile: the default optimizer trains nothing

    @property
    def metrics(self):
        return list(self.trackers)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        save_seed_state(self, store)

    def load_own_variables(self, store):
        super().load_own_variables(load_seed_state(self, store))

    def sample_noise(self, batch_size):
        return replica_normal((batch_size, self.latent_dim), self.seed_generator.next())

    def critic_step(self, real):
        """One critic update on ``real``; returns per-example ``(loss, penalty, wasserstein)``."""
        batch = ops.shape(real)[0]
        fake = self.generator(self.sample_noise(batch), training=True)
        alpha = keras.random.uniform((batch,), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            real_scores = ops.reshape(self.critic(real, training=True), (-1,))
            fake_scores = ops.reshape(self.critic(fake, training=True), (-1,))
            penalty = gradient_penalty(lambda points: self.critic(points, training=True), real, fake, alpha,
                                       weight=self.gp_weight)
            per_example = fake_scores - real_scores + penalty
            loss = global_average(per_example)
        gradients = tape.gradient(loss, self.critic.trainable_variables)
        self.d_optimizer.apply_gradients(zip(gradients, self.critic.trainable_variables))
        return per_example, penalty, real_scores - fake_scores

    def train_step(self, data):
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        real = ops.convert_to_tensor(real, dtype="float32")
        for _ in range(self.n_critic):  # a Python loop: n_critic copies in the traced graph
            d_per_example, penalty, wasserstein = self.critic_step(real)
            self.trackers[0].update_state(d_per_example)
            self.trackers[2].update_state(penalty)
            self.trackers[3].update_state(wasserstein)
        with tf.GradientTape() as tape:
            g_per_example = -ops.reshape(
                self.critic(self.generator(self.sample_noise(ops.shape(real)[0]), training=True), training=True),
                (-1,))
            g_loss = global_average(g_per_example)
        gradients = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables))
        self.trackers[1].update_state(g_per_example)
        return {metric.name: metric.result() for metric in self.metrics}

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)


class FeatureMatchingGAN(GAN):
    """:class:`GAN` whose generator minimises :func:`feature_matching_loss` on the discriminator's layer
    ``feature_layer`` (default: the one layer whose name ends in ``_features``). The discriminator step and
    the logged metrics are :class:`GAN`'s (``g_loss`` is the feature-matching loss here)."""

    def __init__(self, generator, discriminator, *, feature_layer=None, seed=None, **kwargs):
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        if feature_layer is None:
            names = [layer.name for layer in discriminator.layers if layer.name.endswith("_features")]
            if len(names) != 1:
                raise ValueError(f"discriminator {discriminator.name!r} needs exactly one layer named '*_features' "
                                 "(or pass feature_layer=)")
            feature_layer = names[0]
        inputs = discriminator.inputs[0] if len(discriminator.inputs) == 1 else discriminator.inputs
        self.features = keras.Model(inputs, discriminator.get_layer(feature_layer).output,
                                    name=f"{discriminator.name}_feature_model")

    def train_step(self, data):
        real, _, noise = self._unpack(data)
        if noise is None:
            noise = self.sample_noise(ops.shape(real)[0])

        fake = self.generator(noise, training=True)
        with tf.GradientTape() as tape:
            real_scores = self.discriminator(real, training=True)
            fake_scores = self.discriminator(fake, training=True)
            d_per_example = discriminator_loss(real_scores, fake_scores, real_label=self.real_label,
                                               loss_fn=self.loss_fn)
            d_loss = self._loss(d_per_example)
        gradients = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))

        real_features = ops.stop_gradient(self.features(real, training=True))
        with tf.GradientTape() as tape:
            g_loss = feature_matching_loss(real_features, self.features(self.generator(noise, training=True),
                                                                        training=True))
        gradients = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables))

        self.d_loss_tracker.update_state(d_per_example)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(ops.reshape(real_scores, (-1,)))
        self.fake_score_tracker.update_state(ops.reshape(fake_scores, (-1,)))
        return {metric.name: metric.result() for metric in self.metrics}


class SampleScoreCallback(keras.callbacks.Callback):
    """After every epoch, generate from FIXED ``noise`` and score the samples with ``score(samples) -> dict``.

    Numeric entries are added to the epoch's logs (the progress bar shows them; callbacks that read the
    logs before this one, like the runner's CSVLogger, do not see them) and every dict is kept in
    ``self.scores``; ``self.samples`` holds the last epoch's samples.
    """

    def __init__(self, noise, score):
        super().__init__()
        self.noise = np.asarray(noise, dtype="float32")
        self.score = score
        self.scores = []
        self.samples = None

    def on_epoch_end(self, epoch, logs=None):
        self.samples = np.asarray(self.model.generator(self.noise, training=False))
        scores = self.score(self.samples)
        self.scores.append(scores)
        if logs is not None:
            logs.update({key: value for key, value in scores.items() if isinstance(value, (int, float))})
