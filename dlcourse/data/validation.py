"""Checks on the arrays a dataset gave, before a lab sees them (called by ``dlcourse.data.load``).

A canonical file that passes its checksum is right by construction; these checks are for the files
that are not checked (``DLCOURSE_VERIFY=0``: an instructor's own subset, a student's own copy), where
a wrong file would otherwise end in a traceback deep in Keras (labels out of range, counts that
differ) or, worse, train silently to chance (float images scaled twice, the wrong image size). Each
defect is one :class:`UserError` saying what was expected, what was found, and in which file.
"""

import numpy as np

from dlcourse.errors import UserError

FIX = "replace it with the canonical file (delete it and it is downloaded again) or run with --dataset sample"


def check_split(x, y, *, image_shape, num_classes, images, labels):
    """Check one split; return ``(x, y)`` with y as int64, or raise a :class:`UserError`.

    Args:
        x: images (N, height, width, channels), or sequences when ``image_shape`` is None (IMDB).
        y: class labels (N,).
        image_shape: ``(height, width, channels)`` the dataset's images have (uint8), or None.
        num_classes: labels must lie in ``[0, num_classes)``.
        images, labels: where ``x`` and ``y`` come from (a file and the array inside), for the messages.
    """
    y = np.asarray(y)
    if image_shape is not None:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise _error(images, "uint8 images (0 to 255)", f"dtype {x.dtype}{_value_range(x)}")
        if x.shape[1:] != tuple(image_shape):
            found = f"images of {_size(x.shape[1:])}" if x.ndim == 4 else f"an array of shape {x.shape}"
            raise _error(images, f"images of {_size(image_shape)} (height x width x channels)", found)
    if y.dtype.kind not in "iub":
        integral = y.dtype.kind == "f" and bool(np.all(np.isfinite(y) & (y == np.round(y))))
        if not integral:
            found = f"dtype {y.dtype}" + (f" with values such as {_example(y)}" if y.dtype.kind == "f" else "")
            raise _error(labels, "integer class labels", found)
    if len(x) != len(y):
        raise _error(_both(images, labels), "one label per image", f"{len(x)} images and {len(y)} labels")
    outside = (y < 0) | (y >= num_classes)
    if outside.any():
        found = (f"{int(outside.sum())} of {len(y)} labels outside it, from {_number(y.min())} to "
                 f"{_number(y.max())}")
        raise _error(labels, f"labels from 0 to {num_classes - 1} ({num_classes} classes)", found)
    return x, y.astype(np.int64)


def _error(source, expected, found):
    return UserError(f"{source}: expected {expected}, found {found}; {FIX}")


def _both(images, labels):
    """``"a.npz (x_train, y_train)"`` for two arrays of one file, else ``"<images> and <labels>"``."""
    if images == labels:
        return images
    file, _, array = images.rpartition(" (")
    other_file, _, other_array = labels.rpartition(" (")
    if file and file == other_file:
        return f"{file} ({array[:-1]}, {other_array}"
    return f"{images} and {labels}"


def _size(shape):
    return "x".join(str(size) for size in shape)


def _value_range(x):
    if x.dtype.kind not in "iuf" or x.size == 0:
        return ""
    return f" with values from {_number(np.nanmin(x))} to {_number(np.nanmax(x))}"


def _example(y):
    bad = y[~(np.isfinite(y) & (y == np.round(y)))]
    return _number(bad[0]) if bad.size else "?"


def _number(value):
    value = value.item() if hasattr(value, "item") else value
    return f"{value:g}" if isinstance(value, float) else str(value)
