"""GAN losses from the notes and the ``GAN`` / ``ConditionalGAN`` training wrappers (Unit IV).

The notes' formulas (D outputs the probability that its input is real; ``m`` = batch size):

* generator, non-saturating (000 L1777 "J_G", 001 Q5, 002 "L_G"):   ``J_G = -(1/m) sum log D(G(z_i))``
* generator, minimax (the G term of V in 000 L1915, 003 §4.4.1):     ``(1/m) sum log(1 - D(G(z_i)))``
* discriminator (002 "L_D"; 000 prints none):
  ``J_D = -(1/m) sum [log D(x_i) + log(1 - D(G(z_i)))]``   (binary cross-entropy, real = 1, fake = 0)
* value function (000, 003): ``V(D, G) = E log D(x) + E log(1 - D(G(z)))``; optimal discriminator
  (003 §4.4.2) ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, and ``V(D*, G) = -log 4 + 2 JSD(p_data || p_g)``.

The documents disagree on the generator loss (docs/SOURCES.md, errata A40 and B47): 001/002 use the
non-saturating form, 003 the minimax form, and none says they differ. Both are available
(``generator_loss="non_saturating"`` (default, what Goodfellow et al. recommend in practice and the
Keras examples use) or ``"minimax"``, which saturates: its gradient vanishes when D rejects fakes).
Note J_D SUMS the real and the fake terms; Keras' DCGAN example averages them (half of J_D).

One-sided label smoothing (003 §4.6.2, "1.0 -> 0.9"; docs/SOURCES.md, erratum B38): ``real_label=0.9``
changes only the real target; ``keras.losses.BinaryCrossentropy(label_smoothing=...)`` would also move
the fake target off 0.

All loss functions return PER-EXAMPLE values ``(batch,)``; the wrappers reduce them over the GLOBAL
batch (sum / (local batch x replicas)) so training is correct under ``tf.distribute`` (Keras sums
gradients over replicas). Unit V's adversarial autoencoder reuses these functions and :class:`GAN`'s
conventions.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from dlcourse.layers.sampling import replica_normal

__all__ = [
    "EPSILON",
    "GENERATOR_LOSSES",
    "binary_crossentropy",
    "discriminator_loss",
    "generator_loss",
    "global_average",
    "value_function",
    "optimal_discriminator",
    "GAN",
    "ConditionalGAN",
]

EPSILON = 1e-7  # probabilities are clipped to [EPSILON, 1 - EPSILON] before the log, as Keras does
GENERATOR_LOSSES = ("non_saturating", "minimax")
METRIC_NAMES = ("d_loss", "g_loss", "real_score", "fake_score")  # what train_step reports each epoch


def _flat(scores):
    return ops.reshape(ops.convert_to_tensor(scores, dtype="float32"), (-1,))


def binary_crossentropy(targets, probabilities):
    """Per-example ``-[t log p + (1 - t) log(1 - p)]`` for probabilities ``p`` (not logits); shape ``(batch,)``."""
    probabilities = ops.clip(_flat(probabilities), EPSILON, 1.0 - EPSILON)
    targets = ops.cast(ops.convert_to_tensor(targets), probabilities.dtype)
    if ops.ndim(targets) > 0:
        targets = ops.reshape(targets, (-1,))
    targets = ops.broadcast_to(targets, ops.shape(probabilities))
    return -(targets * ops.log(probabilities) + (1.0 - targets) * ops.log(1.0 - probabilities))


def discriminator_loss(real_scores, fake_scores, *, real_label=1.0, loss_fn=binary_crossentropy):
    """The notes' J_D per example: ``-log D(x_i) - log(1 - D(G(z_i)))`` (002 "L_D").

    Args:
        real_scores: ``D(x)``, probabilities for a batch of real images.
        fake_scores: ``D(G(z))`` for a batch of generated images of the same size.
        real_label: target for real images; 0.9 is one-sided label smoothing (003 §4.6.2).
        loss_fn: per-example binary cross-entropy ``(targets, probabilities) -> (batch,)``.

    Returns:
        ``(batch,)`` losses; their mean is J_D (``ln 4`` when D = 0.5 everywhere).
    """
    return loss_fn(real_label, real_scores) + loss_fn(0.0, fake_scores)


def generator_loss(fake_scores, *, kind="non_saturating", loss_fn=binary_crossentropy):
    """The generator's loss per example.

    Args:
        fake_scores: ``D(G(z))``.
        kind: ``"non_saturating"``: ``-log D(G(z))`` (the notes' J_G, 000/001/002);
            ``"minimax"``: ``log(1 - D(G(z)))`` (the G term of V(D, G), 003 §4.4.1).
        loss_fn: per-example binary cross-entropy.

    Returns:
        ``(batch,)`` losses to MINIMISE (J_G = ln 2 when D(G(z)) = 0.5).
    """
    if kind == "non_saturating":
        return loss_fn(1.0, fake_scores)
    if kind == "minimax":
        return -loss_fn(0.0, fake_scores)
    raise ValueError(f"generator loss must be one of {GENERATOR_LOSSES}; got {kind!r}")


def value_function(real_scores, fake_scores):
    """Monte-Carlo estimate of ``V(D, G) = E log D(x) + E log(1 - D(G(z)))`` (000 L1915); a scalar."""
    return -ops.mean(discriminator_loss(real_scores, fake_scores))


def optimal_discriminator(p_data, p_generator):
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))`` (003 §4.4.2) for densities evaluated at the same x."""
    p_data = np.asarray(p_data, dtype="float64")
    p_generator = np.asarray(p_generator, dtype="float64")
    if np.any(p_data < 0) or np.any(p_generator < 0):
        raise ValueError("densities must be non-negative")
    total = p_data + p_generator
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p_data / np.where(total > 0, total, 1.0), 0.5)


def global_average(per_example_losses):
    """Sum of per-example losses divided by the GLOBAL batch size (local batch x replicas in sync).

    Inside ``strategy.run`` (which ``model.fit`` uses) Keras sums the replicas' gradients, so each
    replica must scale its loss by ``1 / global_batch``; outside a strategy this is the plain mean.
    """
    return tf.nn.compute_average_loss(per_example_losses)


SEED_STATE_KEY = "seed_generator_state"


def save_seed_state(model, store):
    """Add ``model.seed_generator``'s state to a weights ``store`` (Keras saves no SeedGenerator state)."""
    store[SEED_STATE_KEY] = model.seed_generator.state


def load_seed_state(model, store):
    """Restore the state :func:`save_seed_state` added; returns the rest of ``store`` for ``Layer``."""
    keys = list(store.keys())
    if SEED_STATE_KEY in keys:
        model.seed_generator.state.assign(store[SEED_STATE_KEY])
    return {key: store[key] for key in keys if key != SEED_STATE_KEY}


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit`` (Unit IV, 000 "How does a GAN work?").

    Each ``train_step`` takes a batch of real images ``x`` (scaled to the generator's output range,
    ``[-1, 1]`` for tanh) and draws one noise batch ``z ~ N(0, I)`` of the same size (003 §4.3.1), then

    1. updates D on the real batch (target ``real_label``) and the generated batch (target 0), J_D;
    2. updates G through D (D frozen) with ``generator_loss`` (J_G by default).

    Logged metrics (exact means over the epoch and over all replicas): ``d_loss``, ``g_loss``,
    ``real_score`` = mean D(x), ``fake_score`` = mean D(G(z)) (before D's update). ``fit`` takes
    either images or a dict ``{"images": ..., "noise": ...}`` (fixed noise, for reproducible tests).

    Only ``generator`` and ``discriminator`` (functional models) are saved, never this wrapper.
    Under ``MirroredStrategy`` the losses are exact global-batch means (tested against one replica);
    batch-normalization statistics are, as in any Keras model, computed per replica.

    Args:
        generator: model ``z -> image`` (its first input's last dimension is the latent size).
        discriminator: model ``image -> (batch, 1)`` PROBABILITY of being real (sigmoid).
        seed: optional integer seed for the noise.
    """

    def __init__(self, generator, discriminator, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="real_score")
        self.fake_score_tracker = keras.metrics.Mean(name="fake_score")
        self.built = True  # both parts are built functional models; fit() must not trace call() on the data

    def compile(self, d_optimizer, g_optimizer, loss_fn=binary_crossentropy, *, generator_loss="non_saturating",
                real_label=1.0, **kwargs):
        """Set the two optimizers and the losses.

        Args:
            d_optimizer, g_optimizer: Keras optimizers (DCGAN paper: Adam(2e-4, beta_1=0.5)).
            loss_fn: per-example binary cross-entropy ``(targets, probabilities) -> (batch,)``, e.g.
                :func:`binary_crossentropy` or ``keras.losses.BinaryCrossentropy(reduction=None)``.
            generator_loss: ``"non_saturating"`` (notes' J_G) or ``"minimax"``.
            real_label: D's target for real images; 0.9 = one-sided label smoothing (003 §4.6.2).
        """
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}; got {generator_loss!r}")
        if not 0.0 < real_label <= 1.0:
            raise ValueError(f"real_label must be in (0, 1]; got {real_label}")
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.generator_loss = generator_loss
        self.real_label = float(real_label)
        # Build the optimizers' slots now, outside the replica context that fit() trains in.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self._generator_variables())
        if self.optimizer is not None and not self.optimizer.built:
            # compile()'s default optimizer trains nothing here; built empty, a checkpoint
            # (BackupAndRestore builds unbuilt optimizers before loading) saves and loads it alike
            self.optimizer.build([])

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker]

    # The noise generator's position is saved with the weights, so a fit resumed from a checkpoint
    # (``save_weights`` / ``BackupAndRestore``) draws the noise an uninterrupted one would.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        save_seed_state(self, store)

    def load_own_variables(self, store):
        super().load_own_variables(load_seed_state(self, store))

    # Hooks that ConditionalGAN and BiGAN override.
    def _generator_variables(self):
        """What ``g_optimizer`` trains: the generator (BiGAN adds its encoder)."""
        return self.generator.trainable_variables

    def _unpack(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        noise = None
        if isinstance(x, dict):
            x, noise, y = x["images"], x.get("noise"), x.get("labels", y)
        return x, y, noise

    def _generate(self, noise, labels, training):
        return self.generator(noise, training=training)

    def _discriminate(self, images, labels, training):
        return self.discriminator(images, training=training)

    def sample_noise(self, batch_size):
        """``(batch_size, latent_dim)`` draws from N(0, I): this replica's rows of one global-batch draw,
        so the noise is the same on one replica as on several (``layers.sampling.replica_normal``)."""
        # keras.random accepts only int or SeedGenerator seeds, so the stateless draw goes to TF directly.
        return replica_normal((batch_size, self.latent_dim), self.seed_generator.next())

    def _loss(self, per_example):
        if ops.ndim(per_example) != 1:
            raise ValueError("loss_fn must return per-example losses of shape (batch,); with a Keras loss "
                             "object pass reduction=None")
        return global_average(per_example)

    def train_step(self, data):
        real_images, labels, noise = self._unpack(data)
        if noise is None:
            noise = self.sample_noise(ops.shape(real_images)[0])

        # 1. Discriminator: real -> real_label, generated -> 0 (J_D).
        fake_images = self._generate(noise, labels, training=True)
        with tf.GradientTape() as tape:
            real_scores = self._discriminate(real_images, labels, training=True)
            fake_scores = self._discriminate(fake_images, labels, training=True)
            d_per_example = discriminator_loss(real_scores, fake_scores, real_label=self.real_label,
                                               loss_fn=self.loss_fn)
            d_loss = self._loss(d_per_example)
        gradients = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))

        # 2. Generator through the (frozen) discriminator (J_G or the minimax term).
        with tf.GradientTape() as tape:
            scores = self._discriminate(self._generate(noise, labels, training=True), labels, training=True)
            g_per_example = generator_loss(scores, kind=self.generator_loss, loss_fn=self.loss_fn)
            g_loss = self._loss(g_per_example)
        gradients = tape.gradient(g_loss, self._generator_variables())
        self.g_optimizer.apply_gradients(zip(gradients, self._generator_variables()))

        # Per-example updates make the trackers exact global means (Mean sums total and count over replicas).
        self.d_loss_tracker.update_state(d_per_example)
        self.g_loss_tracker.update_state(g_per_example)
        self.real_score_tracker.update_state(ops.reshape(real_scores, (-1,)))
        self.fake_score_tracker.update_state(ops.reshape(fake_scores, (-1,)))
        return {metric.name: metric.result() for metric in self.metrics}

    def call(self, inputs, training=False):
        """Generated images for noise ``inputs`` (``[noise, labels]`` for a ConditionalGAN)."""
        return self.generator(inputs, training=training)


class ConditionalGAN(GAN):
    """A conditional GAN (000 "CGAN"; 003 §4.7.2): the class label is fed to both networks.

    ``fit(images, labels)`` with integer labels (or a dict ``{"images", "labels", "noise"}``). The
    generator is ``[z, label] -> image`` and the discriminator ``[image, label] -> P(real)``, as built
    by :func:`dlcourse.models.gan.build_cgan_generator` / ``build_cgan_discriminator``; fakes are
    generated for the real batch's labels, so D learns "real image OF THIS CLASS".
    """

    def _unpack(self, data):
        images, labels, noise = super()._unpack(data)
        if labels is None:
            raise ValueError("ConditionalGAN needs class labels: fit(images, labels)")
        return images, ops.reshape(ops.cast(labels, "int32"), (-1, 1)), noise

    def _generate(self, noise, labels, training):
        return self.generator([noise, labels], training=training)

    def _discriminate(self, images, labels, training):
        return self.discriminator([images, labels], training=training)
