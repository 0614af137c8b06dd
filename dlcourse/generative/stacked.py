"""Training the second stage of a two-stage (StackGAN-style) conditional GAN (lab 28; 004 "StackGAN").

:class:`StageTwoGAN` is :class:`~dlcourse.generative.gan.ConditionalGAN` with the generator's input
changed: the noise ``z`` goes through the FROZEN, already trained stage-1 generator
(``[z, label] -> low-resolution image``, run in inference mode) and the stage-2 generator refines
that image: ``G2([G1(z, y), y])``. The discriminator sees only full-resolution images and the label,
as StackGAN's Stage-II discriminator. Only the stage-2 generator and its discriminator are trained;
losses, metrics and the distributed reduction are the ConditionalGAN's.
"""

from keras import ops

from dlcourse.generative.gan import ConditionalGAN

__all__ = ["StageTwoGAN"]


class StageTwoGAN(ConditionalGAN):
    """Stage II of a stacked conditional GAN: ``fit(high_resolution_images, labels)``.

    Args:
        stage1: trained model ``[z, label] -> low-resolution image`` (frozen here).
        generator: model ``[low-resolution image, label] -> image`` (trained).
        discriminator: model ``[image, label] -> P(real)`` (trained).
        seed: optional integer seed for the noise.
    """

    def __init__(self, stage1, generator, discriminator, *, seed=None, **kwargs):
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.stage1 = stage1
        self.stage1.trainable = False
        self.latent_dim = int(stage1.inputs[0].shape[-1])  # the noise is stage 1's input

    def _generate(self, noise, labels, training):
        low_resolution = self.stage1([noise, labels], training=False)
        return self.generator([low_resolution, labels], training=training)

    def call(self, inputs, training=False):
        """Stage-2 images for ``[noise, labels]``."""
        noise, labels = inputs
        return self._generate(ops.convert_to_tensor(noise), ops.convert_to_tensor(labels), training)
