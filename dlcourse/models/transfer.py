"""Transfer learning: a frozen ImageNet base with a new classification head, then fine-tuning.

Handbook 003 §2.9 "Transfer Learning" (§2.9.1 feature extraction, §2.9.2 fine-tuning) and
§2.9.5 "Transfer Learning Implementation in Keras". Where the listing is wrong
(docs/SOURCES.md, erratum B19) this module does what it should have done:

- it never preprocesses the images, although ImageNet weights expect ResNet50's "caffe" input
  (RGB -> BGR, minus the ImageNet channel means). Here that preprocessing is *inside* the model,
  built from stock layers so it survives ``.h5`` (``preprocess_input`` / ``Lambda`` / ``GetItem``
  ops do not): a frozen 1x1 ``Conv2D`` whose kernel is the RGB -> BGR permutation and whose bias is
  minus the means. MobileNetV2's "tf" preprocessing is ``Rescaling(1/127.5, offset=-1)``. The
  model therefore takes raw pixels in [0, 255]. ``preprocess=False`` gives the listing's model.
- it wraps the base in ``Sequential``, so once unfrozen its BatchNormalization layers would run in
  training mode; here the base is called with ``training=False`` and :func:`unfreeze_top` keeps
  every BatchNormalization layer frozen (Keras' transfer-learning guide).
- it sets up fine-tuning but trains neither phase; lab 10 trains both.
"""

import numpy as np

import keras

__all__ = ["build_transfer_model", "unfreeze_top", "base_of", "IMAGENET_BGR_MEANS"]

IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)  # keras.applications.imagenet_utils "caffe" mode
_APPLICATIONS = {
    "resnet50": ("ResNet50", "caffe"),
    "vgg16": ("VGG16", "caffe"),
    "mobilenetv2": ("MobileNetV2", "tf"),
}


def _preprocessing(mode, name, x):
    """Stock layers doing ``keras.applications.<base>.preprocess_input`` on [0, 255] RGB input."""
    if mode == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=f"{name}_preprocess")(x)
    layer = keras.layers.Conv2D(3, 1, kernel_initializer="zeros", name=f"{name}_preprocess")
    x = layer(x)
    permutation = np.eye(3, dtype="float32")[::-1].reshape(1, 1, 3, 3)  # BGR out <- RGB in
    layer.set_weights([permutation, -np.asarray(IMAGENET_BGR_MEANS, dtype="float32")])
    layer.trainable = False
    return x


def _base(base, weights, input_shape, alpha, data_dir):
    if base not in _APPLICATIONS:
        raise ValueError(f"unknown base {base!r}; choose one of {tuple(_APPLICATIONS)}")
    application = getattr(keras.applications, _APPLICATIONS[base][0])
    kwargs = {"include_top": False, "input_shape": tuple(input_shape)}
    if base == "mobilenetv2":
        kwargs["alpha"] = alpha
    if weights == "imagenet":
        from dlcourse import weights as imagenet_weights
        weights = str(imagenet_weights.resolve_weights(
            base, alpha=alpha, rows=input_shape[0], data_dir=data_dir))
    elif weights is not None:
        weights = str(weights)
    return application(weights=weights, **kwargs)


def build_transfer_model(*, base="resnet50", weights="imagenet", num_classes=5,
                         input_shape=(224, 224, 3), dense_units=256, dropout_rate=0.5,
                         alpha=1.0, preprocess=True, data_dir=None, name="transfer_model"):
    """The handbook's transfer-learning model: frozen base -> GAP -> Dense 256 -> Dropout -> softmax.

    Unit II, "9.5 Transfer Learning Implementation in Keras": ``ResNet50(weights='imagenet',
    include_top=False, input_shape=(224, 224, 3))``, ``base_model.trainable = False``, then
    GlobalAveragePooling2D, Dense(256, relu), Dropout(0.5), Dense(num_classes, softmax). The listing
    leaves ``num_classes`` undefined; 5 is the flowers dataset lab 10 uses.

    Args:
        base: ``"resnet50"`` (the notes), ``"vgg16"`` or ``"mobilenetv2"``.
        weights: ``"imagenet"`` (looked up / downloaded by :mod:`dlcourse.weights`, the only I/O a
            builder does), ``None`` for random weights, or a path to a weights file.
        num_classes: classes of the new head.
        input_shape: (height, width, 3); at least 32x32.
        dense_units, dropout_rate: the head's hidden layer (256, 0.5 in the notes).
        alpha: MobileNetV2 width multiplier (ignored by the other bases).
        preprocess: put the base's ImageNet preprocessing inside the model (input in [0, 255]);
            ``False`` reproduces the listing, which omits it.
        data_dir: extra folder searched first for the weights file.
        name: model name; layers are named ``f"{name}_<part>"``, the base keeps Keras' name.

    Returns:
        A functional ``keras.Model`` (batch, *input_shape) -> (batch, num_classes) softmax
        probabilities (use ``sparse_categorical_crossentropy`` with integer labels). Only the head's
        four variables are trainable (phase 1, feature extraction).
    """
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (height, width, 3) for an ImageNet base, got {input_shape}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    base_model = _base(base, weights, input_shape, alpha, data_dir)
    base_model.trainable = False  # phase 1: feature extraction

    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    x = inputs
    if preprocess:
        x = _preprocessing(_APPLICATIONS[base][1], name, x)
    # training=False keeps BatchNormalization in inference mode even after unfreezing (fine-tuning).
    x = base_model(x, training=False)  # (batch, h/32, w/32, channels)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name=f"{name}_dense")(x)
    x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def base_of(model):
    """The pretrained base: the one nested ``keras.Model`` among ``model``'s layers."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(f"expected exactly one nested base model in {model.name}, found {len(nested)}")
    return nested[0]


def unfreeze_top(model, n=20):
    """Phase 2 (fine-tuning): make the base's last ``n`` layers trainable, BatchNormalization excepted.

    The handbook's "Fine-tuning: unfreeze last 20 layers" (``base_model.trainable = True`` then
    freezing ``base_model.layers[:-20]``), except that BatchNormalization layers stay frozen: with
    few images their batch statistics would wreck the pretrained moving averages. The base is
    called with ``training=False`` (see :func:`build_transfer_model`), so they also stay in
    inference mode. Recompile afterwards (the notes use ``Adam(1e-5)``). Returns ``model``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    base_model = base_of(model)
    base_model.trainable = True
    layers = base_model.layers
    for index, layer in enumerate(layers):
        in_top = index >= len(layers) - n
        layer.trainable = in_top and not isinstance(layer, keras.layers.BatchNormalization)
    return model
