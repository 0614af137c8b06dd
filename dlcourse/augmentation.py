"""Data augmentation with Keras preprocessing layers (Unit II, "Data augmentation").

The notes name five kinds, each a pipeline from :func:`build_augmentation`: geometric (rotation,
flip, scaling, translation, shear), colour (brightness, contrast, saturation, hue), kernel filters
(Gaussian blur, sharpen, Sobel and Laplacian edges: :class:`RandomKernelFilter`), random erasing, and
their combination; plus the "advanced" Mixup and CutMix (:func:`mixup`, :func:`cutmix`, functions on
batches that mix the labels too, and :class:`MixingDataset` to train with them on the fly).

Listing II-C uses ``ImageDataGenerator``, deprecated and not exported by Keras 3;
:data:`LISTING_II_C` maps each of its settings to the preprocessing layer that replaces it and
``build_augmentation("listing_ii_c")`` builds that pipeline.

A pipeline is a ``keras.Sequential`` of random layers: pass it as
``dlcourse.data.pipeline(x, y, ..., augment=pipeline)`` (on-the-fly augmentation in ``tf.data``,
which the notes call the more flexible and memory-efficient way) or put it at the front of a model.
Images are expected as floats in ``value_range`` (default [0, 1], i.e. after dividing by 255).

Where the notes are loose: the geometric list says rotations "like 90 or 180 degrees", the second
list "small angles" and Listing II-C 30 degrees; these pipelines use the listing's 30. Edge detection
replaces the picture by its edges, a strong change that suits few tasks: it is offered, applied to a
fraction ``rate`` of images, not recommended by default.
"""

import keras
import numpy as np

__all__ = ["KINDS", "LISTING_II_C", "KERNELS", "build_augmentation", "apply_kernel_filter",
           "RandomKernelFilter", "mixup", "cutmix", "MixingDataset", "augmentation_rows"]

KINDS = ("geometric", "colour", "kernel_filter", "erasing", "combined", "listing_ii_c")

# Listing II-C's ImageDataGenerator settings -> the Keras 3 preprocessing layer that replaces each.
# ImageDataGenerator fills with the nearest pixel, so the layers use fill_mode="nearest" too.
LISTING_II_C = {
    "rotation_range=30": "RandomRotation(factor=30 / 360)  # factor is a fraction of a full turn: +-30 deg",
    "width_shift_range=0.2": "RandomTranslation(height_factor=0.0, width_factor=0.2)",
    "height_shift_range=0.2": "RandomTranslation(height_factor=0.2, width_factor=0.0)",
    "horizontal_flip=True": "RandomFlip('horizontal')",
    "zoom_range=0.2": "RandomZoom(height_factor=0.2, width_factor=0.2)  # each axis in [0.8, 1.2], drawn apart",
}

# 3x3 kernels (Unit II, augmentation kind 3). Sobel uses the x kernel and its transpose.
KERNELS = {
    "gaussian_blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype="float32") / 16.0,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype="float32"),
    "sobel": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32"),
    "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype="float32"),
}


def _depthwise(images, kernel):
    channels = images.shape[-1]
    kernel = np.tile(kernel[:, :, None, None], (1, 1, channels, 1))  # (3, 3, C, 1)
    padded = keras.ops.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    return keras.ops.depthwise_conv(padded, kernel, strides=1, padding="valid")


def apply_kernel_filter(images, kind, value_range=(0.0, 1.0)):
    """Filter a batch (batch, H, W, C) with one of :data:`KERNELS`, per channel, reflect-padded.

    Edges come back as magnitudes (Sobel: sqrt(gx^2 + gy^2); Laplacian: |.|). The result is clipped
    to ``value_range``.
    """
    if kind not in KERNELS:
        raise ValueError(f"kind must be one of {sorted(KERNELS)}, got {kind!r}")
    images = keras.ops.cast(images, "float32")
    if kind == "sobel":
        gx, gy = _depthwise(images, KERNELS["sobel"]), _depthwise(images, KERNELS["sobel"].T.copy())
        out = keras.ops.sqrt(gx * gx + gy * gy)
    elif kind == "laplacian":
        out = keras.ops.abs(_depthwise(images, KERNELS["laplacian"]))
    else:
        out = _depthwise(images, KERNELS[kind])
    return keras.ops.clip(out, value_range[0], value_range[1])


@keras.saving.register_keras_serializable(package="dlcourse")
class RandomKernelFilter(keras.layers.Layer):
    """With probability ``rate`` per image, apply one of ``kinds`` (chosen uniformly) of :data:`KERNELS`.

    Unit II, "Data augmentation", kind 3 (kernel filters). Only in training (``training=True``);
    otherwise the identity. Takes (batch, H, W, C) or (H, W, C) images in ``value_range``.
    """

    def __init__(self, kinds=("gaussian_blur", "sharpen"), rate=0.5, value_range=(0.0, 1.0), seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.kinds = tuple(kinds)
        unknown = [kind for kind in self.kinds if kind not in KERNELS]
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of {sorted(KERNELS)}, got {kinds!r}")
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        self.rate = float(rate)
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training or self.rate == 0.0:
            return images
        unbatched = len(images.shape) == 3
        x = keras.ops.expand_dims(images, 0) if unbatched else images
        x = keras.ops.cast(x, "float32")
        batch = keras.ops.shape(x)[0]
        versions = [x] + [apply_kernel_filter(x, kind, self.value_range) for kind in self.kinds]
        stacked = keras.ops.stack(versions, axis=1)  # (batch, 1 + len(kinds), H, W, C)
        apply = keras.random.uniform((batch,), seed=self.seed_generator) < self.rate
        which = keras.random.randint((batch,), 1, len(versions), seed=self.seed_generator)
        choice = keras.ops.where(apply, which, keras.ops.zeros_like(which))
        weights = keras.ops.one_hot(choice, len(versions))[:, :, None, None, None]
        out = keras.ops.sum(stacked * weights, axis=1)
        out = keras.ops.cast(out, images.dtype)
        return out[0] if unbatched else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(kinds=list(self.kinds), rate=self.rate, value_range=list(self.value_range),
                      seed=self.seed)
        return config


def _layers(kind, value_range, seed):
    L = keras.layers
    if kind == "geometric":
        return [L.RandomRotation(30 / 360, seed=seed), L.RandomFlip("horizontal", seed=seed),
                L.RandomZoom(0.2, seed=seed), L.RandomTranslation(0.1, 0.1, seed=seed),
                L.RandomShear(x_factor=0.2, y_factor=0.2, seed=seed)]
    if kind == "colour":  # needs RGB images (saturation and hue)
        return [L.RandomBrightness(0.2, value_range=value_range, seed=seed),
                L.RandomContrast(0.2, value_range=value_range, seed=seed),
                L.RandomSaturation((0.3, 0.7), value_range=value_range, seed=seed),
                L.RandomHue(0.1, value_range=value_range, seed=seed)]
    if kind == "kernel_filter":
        return [RandomKernelFilter(("gaussian_blur", "sharpen", "sobel", "laplacian"), rate=0.5,
                                   value_range=value_range, seed=seed)]
    if kind == "erasing":
        return [L.RandomErasing(factor=0.5, scale=(0.02, 0.2), fill_value=0.0, value_range=value_range,
                                seed=seed)]
    if kind == "combined":  # the notes' example: rotate + flip + brightness in one pipeline
        return [L.RandomRotation(30 / 360, seed=seed), L.RandomFlip("horizontal", seed=seed),
                L.RandomBrightness(0.2, value_range=value_range, seed=seed)]
    if kind == "listing_ii_c":
        return [L.RandomRotation(30 / 360, fill_mode="nearest", seed=seed),
                L.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=seed),
                L.RandomFlip("horizontal", seed=seed),
                L.RandomZoom(0.2, 0.2, fill_mode="nearest", seed=seed)]
    raise ValueError(f"augmentation kind must be one of {KINDS}, got {kind!r}")


def build_augmentation(kind="combined", *, value_range=(0.0, 1.0), seed=None, name=None):
    """A ``keras.Sequential`` of random preprocessing layers for one of :data:`KINDS`.

    Args:
        kind: "geometric", "colour" (RGB only), "kernel_filter", "erasing", "combined" (rotation +
            flip + brightness, the notes' example) or "listing_ii_c" (:data:`LISTING_II_C`); a tuple
            of kinds chains them.
        value_range: the range of the incoming pixel values ((0, 1) after dividing by 255).
        seed: for reproducible random draws.

    Returns:
        A Sequential mapping images to augmented images of the same shape; random in training
        (``pipeline(images, training=True)``), the identity with ``training=False``.
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    layers = [layer for each in kinds for layer in _layers(each, tuple(value_range), seed)]
    return keras.Sequential(layers, name=name or "augment_" + "_".join(kinds))


def _one_hot(labels, num_classes):
    labels = np.asarray(labels)
    if labels.ndim == 1:
        if num_classes is None:
            raise ValueError("integer labels need num_classes to be mixed")
        return np.eye(num_classes, dtype="float32")[labels]
    return labels.astype("float32")


def mixup(images, labels, *, alpha=0.2, num_classes=None, rng=None):
    """Mixup (Zhang et al., 2018): x = lam x_i + (1 - lam) x_j, y = lam y_i + (1 - lam) y_j.

    Unit II, "Data augmentation" ("combine two images and their labels"). j is a random permutation
    of the batch and lam ~ Beta(alpha, alpha), one per example.

    Args:
        images: (batch, H, W, C) floats. labels: integer (batch,) with ``num_classes``, or one-hot.
        rng: a ``numpy.random.Generator`` or seed.

    Returns:
        (mixed images float32, mixed labels (batch, num_classes) float32).
    """
    rng = np.random.default_rng(rng)
    images = np.asarray(images, dtype="float32")
    labels = _one_hot(labels, num_classes)
    partner = rng.permutation(len(images))
    lam = rng.beta(alpha, alpha, size=len(images)).astype("float32")
    mixed_images = lam[:, None, None, None] * images + (1 - lam[:, None, None, None]) * images[partner]
    mixed_labels = lam[:, None] * labels + (1 - lam[:, None]) * labels[partner]
    return mixed_images, mixed_labels


def cutmix(images, labels, *, alpha=1.0, num_classes=None, rng=None):
    """CutMix (Yun et al., 2019): paste a box of a partner image; labels mixed by area.

    Unit II, "Data augmentation" ("mix patches"). lam ~ Beta(alpha, alpha) sets the box side
    (H sqrt(1 - lam), W sqrt(1 - lam)) at a random centre, clipped to the image; the label weight of
    the partner is then exactly the pasted fraction of the image, box area / (H W).

    Returns:
        (mixed images float32, mixed labels (batch, num_classes) float32).
    """
    rng = np.random.default_rng(rng)
    images = np.asarray(images, dtype="float32")
    labels = _one_hot(labels, num_classes)
    batch, height, width = images.shape[:3]
    partner = rng.permutation(batch)
    mixed_images = images.copy()
    pasted = np.zeros(batch, dtype="float32")
    for i in range(batch):
        cut = np.sqrt(1.0 - rng.beta(alpha, alpha))
        cy, cx = rng.integers(height), rng.integers(width)
        top, bottom = np.clip([cy - int(height * cut) // 2, cy + int(height * cut) // 2], 0, height)
        left, right = np.clip([cx - int(width * cut) // 2, cx + int(width * cut) // 2], 0, width)
        mixed_images[i, top:bottom, left:right] = images[partner[i], top:bottom, left:right]
        pasted[i] = (bottom - top) * (right - left) / (height * width)
    mixed_labels = (1 - pasted[:, None]) * labels + pasted[:, None] * labels[partner]
    return mixed_images, mixed_labels


class MixingDataset(keras.utils.PyDataset):
    """Batches of (images * rescale, mixed one-hot labels), :func:`mixup` or :func:`cutmix` per batch.

    For ``model.fit``; use a categorical (not sparse) cross-entropy, since the labels are soft.
    Reshuffled at each epoch end.
    """

    def __init__(self, images, labels, *, batch_size, method="mixup", alpha=None, num_classes, seed=None,
                 rescale=1.0, **kwargs):
        super().__init__(**kwargs)
        if method not in ("mixup", "cutmix"):
            raise ValueError(f"method must be 'mixup' or 'cutmix', got {method!r}")
        self.images, self.labels = np.asarray(images), np.asarray(labels)
        self.batch_size, self.num_classes = int(batch_size), int(num_classes)
        self.function = mixup if method == "mixup" else cutmix
        self.alpha = (0.2 if method == "mixup" else 1.0) if alpha is None else float(alpha)
        self.rescale = float(rescale)  # e.g. 1 / 255 for uint8 images, so the whole set is never copied
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.images))

    def __len__(self):
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.function(self.images[rows] * self.rescale, self.labels[rows], alpha=self.alpha,
                             num_classes=self.num_classes, rng=self.rng)

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.images))


def augmentation_rows(images, *, seed=0, value_range=(0.0, 1.0)):
    """Each augmentation applied to the same images, for a grid (one row per augmentation).

    Args:
        images: (n, H, W, C) floats in ``value_range``; RGB for the colour row (skipped otherwise).

    Returns:
        (titles, rows): a list of row names and a list of (n, H, W, C) float arrays, starting with the
        originals, then each kind of :data:`KINDS`, each kernel filter on its own, Mixup and CutMix.
    """
    images = np.asarray(images, dtype="float32")
    titles, rows = ["original"], [images]
    for kind in KINDS:
        if kind == "colour" and images.shape[-1] != 3:
            continue
        titles.append(kind)
        rows.append(np.asarray(build_augmentation(kind, value_range=value_range, seed=seed)(images, training=True)))
    for kind in KERNELS:
        titles.append(kind)
        rows.append(np.asarray(apply_kernel_filter(images, kind, value_range)))
    labels = np.arange(len(images)) % 2  # labels only matter for the mixing arithmetic
    titles += ["mixup", "cutmix"]
    rows.append(mixup(images, labels, num_classes=2, rng=seed)[0])
    rows.append(cutmix(images, labels, num_classes=2, rng=seed)[0])
    return titles, [np.clip(row, value_range[0], value_range[1]) for row in rows]
