"""Pure builder functions, one module per topic, for every model of the course notes.

A builder is ``build_<name>(*, <hyperparameters with the notes' values as defaults>, name="<name>")``
and returns an uncompiled ``keras.Model``; calling it with no arguments reproduces the notes layer for
layer. ``BUILDERS`` maps ``<name>`` to the builder, gathered from each module's ``__all__``.
"""

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
)

MODULES = (mlp, cnn, lenet, vgg, googlenet, resnet, transfer, recurrent, gan, autoencoder, vae,
           adversarial_autoencoder)

BUILDERS = {
    name[len("build_"):]: getattr(module, name)
    for module in MODULES
    for name in module.__all__
    if name.startswith("build_")
}
