"""The BiGAN / ALI training wrapper (000 Unit V, "Hybrid Models: Encoder-Decoder GANs", L2257-L2306).

A BiGAN adds an encoder E: x -> z to a GAN, and its discriminator judges PAIRS (000 L2266): real pairs
(x, E(x)) against generated pairs (G(z), z). With D the probability that a pair is real:

* discriminator (the notes' J_D on pairs): ``-log D(x, E(x)) - log(1 - D(G(z), z))``
* generator and encoder together, non-saturating (Unit IV's J_G on both kinds of pair):
  ``-log D(G(z), z) - log(1 - D(x, E(x)))``: G wants its pairs taken for real, E wants the real
  pairs taken for generated. The minimax form is ``log(1 - D(G(z), z)) + log D(x, E(x))``.

Both pairs must look alike to D, so the joint distributions of (x, E(x)) and (G(z), z) are pushed
together: at the optimum E = G⁻¹ (Donahue et al. 2016, theorem 2), and ``G(E(x))`` reconstructs x
although no reconstruction loss is ever computed. ALI (Dumoulin et al. 2016) is the same game with
a stochastic encoder. The losses and conventions are Unit IV's (:mod:`dlcourse.generative.gan`):
per-example losses averaged over the global batch, metrics ``d_loss``, ``g_loss``, ``real_score``
(mean D(x, E(x))) and ``fake_score`` (mean D(G(z), z)).
"""

import tensorflow as tf
from keras import ops

from dlcourse.generative.gan import GAN, discriminator_loss, generator_loss

__all__ = ["BiGAN"]


class BiGAN(GAN):
    """Generator, encoder and joint discriminator trained by ``fit`` on images alone.

    Each ``train_step`` draws ``z ~ N(0, I)`` for the batch of real images ``x`` (scaled to [-1, 1]),
    updates D on :meth:`pairs` (real target ``real_label``, generated target 0), then G and E together
    through the frozen D. ``fit`` also takes ``{"images": ..., "noise": ...}`` (fixed noise, for tests).

    Args:
        generator: model ``z -> image`` (tanh, [-1, 1]).
        encoder: model ``image -> z``.
        discriminator: model ``[image, z] -> (batch, 1)`` probability that the pair is real.
        seed: optional integer seed for the noise.
    """

    def __init__(self, generator, encoder, discriminator, *, seed=None, **kwargs):
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.encoder = encoder

    def _generator_variables(self):
        return self.generator.trainable_variables + self.encoder.trainable_variables

    def pairs(self, images, noise, training=False):
        """The discriminator's inputs: the real pairs ``[x, E(x)]`` and the generated pairs ``[G(z), z]``."""
        images, noise = ops.convert_to_tensor(images), ops.convert_to_tensor(noise)
        return ([images, self.encoder(images, training=training)],
                [self.generator(noise, training=training), noise])

    def pair_scores(self, images, noise, training=False):
        """``(D(x, E(x)), D(G(z), z))``."""
        real_pair, generated_pair = self.pairs(images, noise, training=training)
        return (self.discriminator(real_pair, training=training),
                self.discriminator(generated_pair, training=training))

    def per_example_losses(self, real_scores, fake_scores):
        """``(d_loss, g_loss)`` per example for the pair scores (module docstring). The encoder's term is
        the generator's loss on the flipped score ``1 - D(x, E(x))``: it plays the generator's part
        for the real pairs."""
        d_loss = discriminator_loss(real_scores, fake_scores, real_label=self.real_label, loss_fn=self.loss_fn)
        g_loss = (generator_loss(fake_scores, kind=self.generator_loss, loss_fn=self.loss_fn)
                  + generator_loss(1.0 - ops.convert_to_tensor(real_scores), kind=self.generator_loss,
                                   loss_fn=self.loss_fn))
        return d_loss, g_loss

    def reconstruct(self, images, training=False):
        """``G(E(x))``: what the game learned about inverting G (no reconstruction loss trains it)."""
        return self.generator(self.encoder(images, training=training), training=training)

    def train_step(self, data):
        images, _, noise = self._unpack(data)
        if noise is None:
            noise = self.sample_noise(ops.shape(images)[0])

        with tf.GradientTape() as tape:  # 1. D on real pairs (x, E(x)) and generated pairs (G(z), z)
            real_scores, fake_scores = self.pair_scores(images, noise, training=True)
            d_per_example, _ = self.per_example_losses(real_scores, fake_scores)
            d_loss = self._loss(d_per_example)
        gradients = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))

        with tf.GradientTape() as tape:  # 2. G and E through the frozen D
            _, g_per_example = self.per_example_losses(*self.pair_scores(images, noise, training=True))
            g_loss = self._loss(g_per_example)
        variables = self._generator_variables()
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, variables), variables))

        self.d_loss_tracker.update_state(d_per_example)
        self.g_loss_tracker.update_state(g_per_example)
        self.real_score_tracker.update_state(ops.reshape(real_scores, (-1,)))
        self.fake_score_tracker.update_state(ops.reshape(fake_scores, (-1,)))
        return {metric.name: metric.result() for metric in self.metrics}
