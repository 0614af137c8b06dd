"""Image-to-image GANs: pix2pix and super-resolution (lab 29; Unit IV, "Applications of GANs").

The notes name both applications without a loss or a network (000 L1921-L1923, L1943-L1945,
L1979-L1981; 003 §9.1-§9.2; 004 "Conditional GAN (cGAN)": "image-to-image translation ... generating
photos from sketches"). This module trains them the way the papers do, with Unit IV's loss functions
(:mod:`dlcourse.generative.gan`):

* pix2pix (Isola et al. 2017): a conditional GAN whose condition is the input IMAGE ``x``. D sees pairs,
  real ``(x, y)`` against generated ``(x, G(x))``, and scores every patch (PatchGAN); G minimises

      ``L_G = J_G(D(x, G(x))) + lambda * mean |y - G(x)|``,   lambda = 100,

  where J_G is the notes' non-saturating ``-log D`` averaged over the patches. The L1 term makes G
  match the target; the GAN term makes it look like a real target (sharp strokes instead of the blur
  that the L1 or L2 minimiser averages into). No noise input (docs/SOURCES.md, erratum B76).
* super-resolution (Ledig et al. 2017, SRGAN with the MSE content loss): D sees high-resolution images
  only; G minimises ``mse(y, G(x)) + 1e-3 * J_G(D(G(x)))``.

D minimises the notes' J_D (the sum of the real and the fake term; the pix2pix paper halves it, which
only rescales D's step). Losses are per example and reduced with :func:`global_average`, as
:class:`dlcourse.generative.gan.GAN` does. Also here: :func:`psnr` (the score of super-resolution),
:func:`sobel_edges` (lab 29's paired "edges -> digit" task), :func:`downsample` and :func:`bicubic_upsample`.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from dlcourse.generative.gan import binary_crossentropy, discriminator_loss, generator_loss, global_average

__all__ = ["RECONSTRUCTIONS", "patch_binary_crossentropy", "reconstruction_loss", "translation_generator_loss",
           "psnr", "sobel_edges", "downsample", "bicubic_upsample", "TranslationGAN", "Pix2Pix", "SuperResolutionGAN"]

RECONSTRUCTIONS = ("l1", "mse")
PIX2PIX_L1_WEIGHT = 100.0  # Isola et al. 2017, lambda = 100
SRGAN_ADVERSARIAL_WEIGHT = 1e-3  # Ledig et al. 2017: l_SR = content loss + 1e-3 adversarial loss
SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def patch_binary_crossentropy(targets, scores):
    """Per-example binary cross-entropy averaged over a discriminator's outputs: a ``(batch, 1)`` score
    or a ``(batch, h, w, 1)`` PatchGAN map -> ``(batch,)``. A drop-in ``loss_fn`` for Unit IV's
    :func:`~dlcourse.generative.gan.discriminator_loss` and :func:`~dlcourse.generative.gan.generator_loss`."""
    scores = ops.convert_to_tensor(scores, dtype="float32")
    batch = ops.shape(scores)[0]
    per_score = binary_crossentropy(targets, scores)  # flattened (batch * patches,)
    return ops.mean(ops.reshape(per_score, (batch, -1)), axis=1)


def reconstruction_loss(targets, outputs, kind="l1"):
    """Per-example mean absolute (``"l1"``) or squared (``"mse"``) error over all pixels; ``(batch,)``."""
    if kind not in RECONSTRUCTIONS:
        raise ValueError(f"reconstruction must be one of {RECONSTRUCTIONS}; got {kind!r}")
    outputs = ops.convert_to_tensor(outputs, dtype="float32")
    difference = ops.cast(ops.convert_to_tensor(targets), outputs.dtype) - outputs
    error = ops.abs(difference) if kind == "l1" else ops.square(difference)
    return ops.mean(ops.reshape(error, (ops.shape(outputs)[0], -1)), axis=1)


def translation_generator_loss(fake_scores, outputs, targets, *, reconstruction="l1",
                               reconstruction_weight=PIX2PIX_L1_WEIGHT, adversarial_weight=1.0):
    """G's loss per example: ``adversarial_weight * J_G + reconstruction_weight * reconstruction``.

    pix2pix: ``J_G(D(x, G(x))) + 100 * L1(y, G(x))`` (the defaults); SRGAN: ``reconstruction="mse"``,
    ``reconstruction_weight=1``, ``adversarial_weight=1e-3``. Returns ``(total, adversarial, reconstruction)``,
    each ``(batch,)``.
    """
    adversarial = generator_loss(fake_scores, loss_fn=patch_binary_crossentropy)
    reconstructed = reconstruction_loss(targets, outputs, reconstruction)
    return adversarial_weight * adversarial + reconstruction_weight * reconstructed, adversarial, reconstructed


def psnr(targets, images, max_value=1.0):
    """Peak signal-to-noise ratio per image, ``10 log10(max_value^2 / MSE)`` in dB, MSE over each image's
    pixels (as ``tf.image.psnr``); ``inf`` for a perfect copy. NumPy in, NumPy ``(batch,)`` out."""
    targets = np.asarray(targets, dtype="float64")
    images = np.asarray(images, dtype="float64")
    if targets.shape != images.shape:
        raise ValueError(f"targets and images must have the same shape, got {targets.shape} and {images.shape}")
    mse = np.mean((targets - images).reshape(len(targets), -1) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(max_value ** 2 / mse)


def sobel_edges(images):
    """Edge maps of ``(N, H, W, 1)`` images in [0, 1]: the Sobel gradient magnitude
    ``sqrt(gx^2 + gy^2)`` (3x3 kernels, zero padding), divided by each image's largest value
    (an all-zero image stays zero). NumPy float32, same shape, values in [0, 1]."""
    images = np.asarray(images, dtype="float64")[..., 0]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    height, width = images.shape[1:]
    gx = np.zeros_like(images)
    gy = np.zeros_like(images)
    for i in range(3):
        for j in range(3):
            window = padded[:, i:i + height, j:j + width]
            gx += SOBEL_X[i, j] * window        # correlation, as a Conv2D computes it
            gy += SOBEL_X.T[i, j] * window
    magnitude = np.sqrt(gx ** 2 + gy ** 2)
    peak = magnitude.reshape(len(magnitude), -1).max(axis=1).reshape(-1, 1, 1)
    edges = np.divide(magnitude, peak, out=np.zeros_like(magnitude), where=peak > 0)
    return edges[..., None].astype("float32")


def downsample(images, factor):
    """``(N, H, W, C)`` images averaged over ``factor x factor`` blocks (area downsampling; 28 -> 7 for 4)."""
    images = np.asarray(images, dtype="float32")
    count, height, width, channels = images.shape
    if height % factor or width % factor:
        raise ValueError(f"height and width must be divisible by {factor}, got {images.shape}")
    blocks = images.reshape(count, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(2, 4))


def bicubic_upsample(images, size):
    """Bicubic interpolation to ``size = (H, W)`` (``keras.ops.image.resize``), clipped to [0, 1]."""
    resized = ops.image.resize(ops.convert_to_tensor(images, dtype="float32"), size, interpolation="bicubic")
    return np.clip(np.asarray(resized), 0.0, 1.0)


class TranslationGAN(keras.Model):
    """A generator ``x -> y`` and a discriminator trained by ``fit(x, y)`` on paired images.

    Each ``train_step`` takes a batch of sources ``x`` and targets ``y`` and

    1. updates D (``conditional``: on ``[x, y]`` against ``[x, G(x)]``; else on ``y`` against ``G(x)``)
       with the notes' J_D, averaged over D's outputs (patches);
    2. updates G with :func:`translation_generator_loss` through the frozen D.

    Logged metrics (epoch means): ``d_loss``, ``g_loss``, ``adversarial_loss`` (J_G),
    ``reconstruction_loss`` (L1 or MSE), ``real_score`` = mean D on real, ``fake_score`` on generated.
    Only ``generator`` and ``discriminator`` (functional models) are saved, never this wrapper.
    """

    def __init__(self, generator, discriminator, *, conditional=True, reconstruction="l1",
                 reconstruction_weight=PIX2PIX_L1_WEIGHT, adversarial_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"reconstruction must be one of {RECONSTRUCTIONS}; got {reconstruction!r}")
        if reconstruction_weight < 0 or adversarial_weight < 0:
            raise ValueError("the loss weights must be non-negative")
        self.generator = generator
        self.discriminator = discriminator
        self.conditional = bool(conditional)
        self.reconstruction = reconstruction
        self.reconstruction_weight = float(reconstruction_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("d_loss", "g_loss", "adversarial_loss", "reconstruction_loss", "real_score", "fake_score")}
        self.built = True  # both parts are built functional models

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Set the two optimizers (pix2pix and DCGAN: Adam(2e-4, beta_1=0.5))."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build([])  # trains nothing; built so checkpoints save and load it alike

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _discriminate(self, sources, images, training):
        if self.conditional:
            return self.discriminator([sources, images], training=training)
        return self.discriminator(images, training=training)

    def train_step(self, data):
        sources, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        if targets is None:
            raise ValueError("TranslationGAN needs paired data: fit(sources, targets)")
        targets = ops.cast(targets, "float32")

        # 1. Discriminator: real pairs -> 1, generated pairs -> 0 (J_D per patch, averaged per example).
        fakes = self.generator(sources, training=True)
        with tf.GradientTape() as tape:
            real_scores = self._discriminate(sources, targets, training=True)
            fake_scores = self._discriminate(sources, fakes, training=True)
            d_per_example = discriminator_loss(real_scores, fake_scores, loss_fn=patch_binary_crossentropy)
            d_loss = global_average(d_per_example)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, variables), variables))

        # 2. Generator through the frozen discriminator: adversarial + weighted reconstruction.
        with tf.GradientTape() as tape:
            outputs = self.generator(sources, training=True)
            scores = self._discriminate(sources, outputs, training=True)
            g_per_example, adversarial, reconstructed = translation_generator_loss(
                scores, outputs, targets, reconstruction=self.reconstruction,
                reconstruction_weight=self.reconstruction_weight, adversarial_weight=self.adversarial_weight)
            g_loss = global_average(g_per_example)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, variables), variables))

        for name, values in (("d_loss", d_per_example), ("g_loss", g_per_example), ("adversarial_loss", adversarial),
                             ("reconstruction_loss", reconstructed), ("real_score", ops.reshape(real_scores, (-1,))),
                             ("fake_score", ops.reshape(fake_scores, (-1,)))):
            self.trackers[name].update_state(values)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, inputs, training=False):
        """Translated images for source images ``inputs``."""
        return self.generator(inputs, training=training)


class Pix2Pix(TranslationGAN):
    """pix2pix: conditional PatchGAN D on ``[x, y]`` pairs, G loss ``J_G + 100 L1`` (Isola et al. 2017)."""

    def __init__(self, generator, discriminator, *, l1_weight=PIX2PIX_L1_WEIGHT, **kwargs):
        super().__init__(generator, discriminator, conditional=True, reconstruction="l1",
                         reconstruction_weight=l1_weight, adversarial_weight=1.0, **kwargs)


class SuperResolutionGAN(TranslationGAN):
    """SRGAN with the MSE content loss: D on high-resolution images only, G loss ``MSE + 1e-3 J_G``."""

    def __init__(self, generator, discriminator, *, adversarial_weight=SRGAN_ADVERSARIAL_WEIGHT, **kwargs):
        super().__init__(generator, discriminator, conditional=False, reconstruction="mse",
                         reconstruction_weight=1.0, adversarial_weight=adversarial_weight, **kwargs)
