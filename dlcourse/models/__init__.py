"""Pure builder functions, one module per topic, for every model of the course notes.

A builder is ``build_<name>(*, <hyperparameters with the notes' values as defaults>, name="<name>")``
and returns an uncompiled ``keras.Model``; calling it with no arguments reproduces the notes layer for
layer. ``BUILDERS`` maps ``<name>`` to the builder, gathered from each module's ``__all__``.
"""

import concurrent.futures
import math

import keras

from dlcourse.models import (
    mlp,
    cnn,
    lenet,
    vgg,
    googlenet,
    resnet,
    transfer,
    recurrent,
    gan,
    autoencoder,
    vae,
    adversarial_autoencoder,
    recurrent_modes,
    seq2seq,
    language_model,
    transformer,
    discriminative,
    ring_gan,
    bigan,
    gan_applications,
    image_translation,
)

MODULES = (mlp, cnn, lenet, vgg, googlenet, resnet, transfer, recurrent, gan, autoencoder, vae,
           adversarial_autoencoder, recurrent_modes, seq2seq, language_model, transformer, discriminative,
           ring_gan, bigan, gan_applications,
           image_translation)

BUILDERS = {
    name[len("build_"):]: getattr(module, name)
    for module in MODULES
    for name in module.__all__
    if name.startswith("build_")
}


def count_parameters(build, *, trainable_only=False, **kwargs):
    """Parameters of ``build(**kwargs)`` counted from its weights' shapes, without allocating a weight.

    The model is built under ``keras.StatelessScope(initialize_variables=False)``: every layer and
    weight is created with its shape, as in a real build, but no weight gets a value, so VGG-16's
    138,357,544 parameters count in a tenth of a second instead of filling 550 MB. The build runs on
    a worker thread because Keras keeps uninitialized variables in thread-local state: on the
    caller's thread the next layer call (whose own ``StatelessScope`` ends) would initialize them all.
    ``trainable_only`` counts the trainable weights only (batch-norm moving statistics excluded).
    """
    def count():
        with keras.StatelessScope(initialize_variables=False):
            model = build(**kwargs)
            weights = model.trainable_weights if trainable_only else model.weights
            return sum(int(math.prod(weight.shape)) for weight in weights)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(count).result()
