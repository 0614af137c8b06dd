"""Autoencoders of Unit V: the notes' dense MNIST autoencoder and its convolutional, denoising and
sparse variants, plus the notes' rule for choosing the reconstruction loss.

Sources: notes 000, Unit V ("Training an auto-encoder for data compression and reconstruction",
Listing V-A; "Architecture and components", variants 1, 2 and 4); notes 002 ("Hyperparameters of
auto-encoders": the loss rule); slides 004 (``UpSampling2D(size=(2, 2))``, ``Conv2DTranspose``).
Only Listing V-A gives layer sizes; the other architectures here are this package's choices.
"""

import keras
import numpy as np

from dlcourse import compat
from dlcourse.layers.sampling import BatchMeanL1, KLSparsityRegularizer, MaskingNoise

__all__ = [
    "build_dense_autoencoder",
    "build_conv_autoencoder",
    "build_denoising_autoencoder",
    "build_sparse_autoencoder",
    "build_colorization_autoencoder",
    "build_linear_probe",
    "extract_encoder",
    "choose_reconstruction_loss",
    "UPSAMPLING_MODES",
    "NOISE_TYPES",
    "SPARSITY_TYPES",
]

UPSAMPLING_MODES = ("transpose", "upsampling")
NOISE_TYPES = ("gaussian", "masking")
SPARSITY_TYPES = ("l1", "kl")


def build_dense_autoencoder(*, input_dim=784, encoder_units=(128, 64, 32), activation="relu",
                            output_activation="sigmoid", code_activation=None, name="dense_autoencoder"):
    """The notes' dense autoencoder, Listing V-A (Unit V, "Training an auto-encoder").

    784 -> 128 -> 64 -> 32 (the code) -> 64 -> 128 -> 784 (sigmoid): 222,384 parameters. The decoder
    mirrors ``encoder_units``. The input is a FLATTENED image (``Input(shape=(784,))`` in the
    listing), so reshape 28x28 images to 784 first. The bottleneck layer is named
    ``f"{name}_code"``; :func:`extract_encoder` turns it into the encoder the notes say is "used to
    encode similar data for future tasks" but never build.
    ``code_activation`` (default: ``activation``, the listing's ReLU) sets the bottleneck's alone:
    ``"linear"`` keeps a tiny code (2 units for a 2-D map) from losing units to ReLU's zero side.

    Returns:
        ``keras.Model`` ``(batch, input_dim) -> (batch, input_dim)``, values in (0, 1) with the
        default sigmoid output.
    """
    if not encoder_units:
        raise ValueError("encoder_units must name at least one layer (the code)")
    inputs = keras.Input(shape=(input_dim,), name=f"{name}_input")
    x = inputs
    for index, units in enumerate(encoder_units[:-1], start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"{name}_encoder_dense{index}")(x)
    x = keras.layers.Dense(encoder_units[-1], activation=code_activation or activation, name=f"{name}_code")(x)
    for index, units in enumerate(reversed(encoder_units[:-1]), start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"{name}_decoder_dense{index}")(x)
    outputs = keras.layers.Dense(input_dim, activation=output_activation, name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)


def extract_encoder(autoencoder, *, code_layer=None, name=None):
    """The encoder half of a trained autoencoder, as its own functional model sharing the layers.

    Args:
        autoencoder: a functional autoencoder from this module.
        code_layer: name of the bottleneck layer; default: the layer whose name ends in ``"_code"``.
        name: the encoder's name (default ``"encoder"``).

    Returns:
        ``keras.Model`` from the autoencoder's input to the code (no new weights: training one
        model changes the other).
    """
    if code_layer is None:
        matches = [layer.name for layer in autoencoder.layers if layer.name.endswith("_code")]
        if len(matches) != 1:
            raise ValueError(f"cannot find one '*_code' layer in {autoencoder.name}; pass code_layer=")
        code_layer = matches[0]
    code = autoencoder.get_layer(code_layer).output
    return keras.Model(autoencoder.inputs, code, name=name or "encoder")


def _check_image_shape(input_shape, num_stages):
    factor = 2 ** num_stages
    if len(input_shape) != 3 or input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"input_shape must be (height, width, channels) with height and width divisible by "
            f"{factor} ({num_stages} pooling stages); got {input_shape}")


def _conv_encoder(x, filters, name):
    for index, count in enumerate(filters, start=1):
        layer_name = f"{name}_code" if index == len(filters) else f"{name}_encoder_pool{index}"
        x = keras.layers.Conv2D(count, 3, padding="same", activation="relu",
                                name=f"{name}_encoder_conv{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=layer_name)(x)
    return x


def _conv_decoder(x, filters, channels, upsampling, output_activation, name):
    for index, count in enumerate(reversed(filters), start=1):
        if upsampling == "transpose":
            x = keras.layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="relu",
                                             name=f"{name}_decoder_deconv{index}")(x)
        else:
            x = keras.layers.UpSampling2D(size=(2, 2), name=f"{name}_decoder_upsample{index}")(x)
            x = keras.layers.Conv2D(count, 3, padding="same", activation="relu",
                                    name=f"{name}_decoder_conv{index}")(x)
    return keras.layers.Conv2D(channels, 3, padding="same", activation=output_activation,
                               name=f"{name}_output")(x)


def build_conv_autoencoder(*, input_shape=(28, 28, 1), filters=(16, 8), upsampling="transpose",
                           output_activation="sigmoid", name="conv_autoencoder"):
    """Convolutional autoencoder (Unit V, variant 4 "Convolutional AE"; slides 004).

    Encoder: per entry of ``filters`` a 3x3 ``Conv2D`` (relu, same) and 2x2 max pooling; the last
    pooling layer is the code, ``(H/4, W/4, filters[-1])`` = 7x7x8 = 392 values for MNIST (784 in).
    No flattening, as the notes say. Decoder, chosen by ``upsampling``:
    ``"transpose"``: ``Conv2DTranspose(stride 2)`` per stage (a learned upsampling);
    ``"upsampling"``: ``UpSampling2D(size=(2, 2))`` (repeat rows and columns) then a 3x3 ``Conv2D``.
    Both variants have the same parameter count (3,217 by default): a 3x3 transposed convolution and a
    3x3 convolution carry the same weights. The notes give no sizes; the filters are this package's.

    Returns:
        ``keras.Model`` ``(batch, *input_shape) -> (batch, *input_shape)`` (sigmoid: values in (0, 1)).
    """
    if upsampling not in UPSAMPLING_MODES:
        raise ValueError(f"upsampling must be one of {UPSAMPLING_MODES}; got {upsampling!r}")
    _check_image_shape(input_shape, len(filters))
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    code = _conv_encoder(inputs, filters, name)  # (batch, H/4, W/4, filters[-1])
    outputs = _conv_decoder(code, filters, input_shape[-1], upsampling, output_activation, name)
    return keras.Model(inputs, outputs, name=name)


def build_colorization_autoencoder(*, input_shape=(32, 32, 1), output_channels=3, filters=(32, 64),
                                   name="colorization_autoencoder"):
    """An encoder-decoder that colours grey images (the slides' and handwritten notes' "colouring"
    application of autoencoders, 004 and 002): the convolutional autoencoder of
    :func:`build_conv_autoencoder` with a 1-channel input and a ``output_channels``-channel sigmoid
    output, trained on (grey image, colour image) pairs. 75,075 parameters by default: 320 + 18,496
    (encoder) + 36,928 + 18,464 + 867 (decoder).

    Returns:
        ``keras.Model`` ``(batch, H, W, 1) -> (batch, H, W, output_channels)``, values in (0, 1).
    """
    _check_image_shape(input_shape, len(filters))
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    code = _conv_encoder(inputs, filters, name)
    outputs = _conv_decoder(code, filters, output_channels, "transpose", "sigmoid", name)
    return keras.Model(inputs, outputs, name=name)


def build_linear_probe(*, input_shape=(784,), num_classes=10, encoder=None, name="linear_probe"):
    """A softmax layer on top of a FROZEN ``encoder`` (the notes' "only the encoder part is used" to
    encode data for a later task, 000 Unit V), or, without one, on the raw inputs (multinomial
    logistic regression): the two sides of "is the learned code a better input than the pixels?".
    7,850 parameters by default (784·10 + 10, no encoder).

    Returns:
        ``keras.Model`` ``(batch, *input_shape) -> (batch, num_classes)`` probabilities; the encoder's
        weights are not trainable (``encoder.trainable = False``).
    """
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    features = keras.layers.Flatten(name=f"{name}_flatten")(inputs) if len(input_shape) > 1 else inputs
    if encoder is not None:
        encoder.trainable = False
        features = encoder(features, training=False)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_softmax")(features)
    return keras.Model(inputs, outputs, name=name)


def build_denoising_autoencoder(*, input_shape=(28, 28, 1), noise="gaussian", noise_stddev=0.3,
                                mask_rate=0.3, filters=(16, 8), upsampling="transpose", seed=None,
                                name="denoising_autoencoder"):
    """Denoising autoencoder (Unit V, variant 1 "Denoising AE": Gaussian or masking noise).

    The convolutional autoencoder of :func:`build_conv_autoencoder` behind a corruption layer:
    ``GaussianNoise(noise_stddev)`` for ``noise="gaussian"`` or :class:`MaskingNoise` (zero a
    fraction ``mask_rate`` of the pixels) for ``noise="masking"``. Both act only in training, so
    ``fit(x, x)`` trains noisy input -> clean target, and at inference the model passes its input
    through unchanged to the autoencoder: feed it noisy images to denoise them. Same parameter count
    as the convolutional autoencoder (3,217 by default). The noise is not clipped to [0, 1], so
    ``noise_stddev=0.3`` is already heavy (keras.io's denoising example clips ``0.5`` noise, which
    removes about half of it).
    """
    if noise not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {NOISE_TYPES}; got {noise!r}")
    if upsampling not in UPSAMPLING_MODES:
        raise ValueError(f"upsampling must be one of {UPSAMPLING_MODES}; got {upsampling!r}")
    _check_image_shape(input_shape, len(filters))
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    if noise == "gaussian":
        corrupted = keras.layers.GaussianNoise(noise_stddev, seed=seed, name=f"{name}_noise")(inputs)
    else:
        corrupted = MaskingNoise(mask_rate, seed=seed, name=f"{name}_noise")(inputs)
    code = _conv_encoder(corrupted, filters, name)
    outputs = _conv_decoder(code, filters, input_shape[-1], upsampling, "sigmoid", name)
    return keras.Model(inputs, outputs, name=name)


def build_sparse_autoencoder(*, input_dim=784, units=128, sparsity="kl", l1=1e-3, rho=0.05,
                             kl_weight=1e-2, name="sparse_autoencoder"):
    """Sparse autoencoder (Unit V, variant 2 "Sparse AE": "L1 or KL-divergence sparsity term").

    784 -> ``units`` (sigmoid, the code, with an activity penalty) -> 784 (sigmoid); 201,616
    parameters by default. ``sparsity="l1"``: ``keras.regularizers.L1(l1)`` on the code's
    activations (mean over the batch of ``l1 * sum |a|``); ``sparsity="kl"``:
    :class:`KLSparsityRegularizer` pushing each unit's mean activation towards ``rho``. The hidden
    layer may be wider than the input (the notes: "may have more hidden neurons than inputs"); the
    penalty, not the width, keeps the code sparse. Sizes and weights are this package's choice,
    set for a per-pixel mean cross-entropy loss: on the digits sample (10 epochs) the mean code
    activation falls from 0.86 (l1=1e-5) to 0.33 (l1=1e-3), and to 0.11 with the KL penalty.
    """
    if sparsity not in SPARSITY_TYPES:
        raise ValueError(f"sparsity must be one of {SPARSITY_TYPES}; got {sparsity!r}")
    if sparsity == "kl":
        regularizer = KLSparsityRegularizer(rho, kl_weight)
    else:  # Keras <= 3.13 sums activity penalties over the batch; BatchMeanL1 averages there too
        regularizer = keras.regularizers.L1(l1) if compat.activity_penalties_averaged() else BatchMeanL1(l1)
    inputs = keras.Input(shape=(input_dim,), name=f"{name}_input")
    code = keras.layers.Dense(units, activation="sigmoid", activity_regularizer=regularizer,
                              name=f"{name}_code")(inputs)
    outputs = keras.layers.Dense(input_dim, activation="sigmoid", name=f"{name}_output")(code)
    return keras.Model(inputs, outputs, name=name)


def choose_reconstruction_loss(x):
    """The notes' loss rule (002, "Hyperparameters of auto-encoders"; 000, "Loss Function").

    "If the I/P values are in the range [0, 1], then we typically use cross-entropy; otherwise, we
    use MSE." Returns ``"binary_crossentropy"`` when every value of ``x`` lies in [0, 1], else
    ``"mse"``. The rule is a heuristic (docs/SOURCES.md, erratum B17): binary cross-entropy also needs a sigmoid
    output layer, which every autoencoder in this module has.
    """
    values = np.asarray(x)
    if values.size == 0:
        raise ValueError("choose_reconstruction_loss needs at least one value")
    if not np.all(np.isfinite(values)):
        raise ValueError("choose_reconstruction_loss got NaN or infinite values")
    if values.min() >= 0.0 and values.max() <= 1.0:
        return "binary_crossentropy"
    return "mse"
