"""``pipeline``: NumPy arrays -> a batched, shuffled, prefetched ``tf.data.Dataset``.

The one place labs turn arrays into a ``tf.data`` input pipeline (docs/DESIGN.md, "Data"): slices,
a seeded shuffle over the whole array (so a seed gives the same batches on every run), an
optional training-time augmentation applied to ``x`` only, batching and prefetching.
"""

import numpy as np
import tensorflow as tf

MAX_SHUFFLE_BUFFER = 60_000  # enough for a full shuffle of every dataset in the registry


def pipeline(x, y=None, *, batch_size, shuffle=True, seed=None, augment=None,
             drop_remainder=False):
    """Build ``tf.data.Dataset.from_tensor_slices`` -> shuffle -> batch -> augment -> prefetch.

    Args:
        x: features, a NumPy array (object arrays of ragged sequences must be padded first).
        y: labels, or None for an unlabelled dataset (autoencoders, GANs).
        batch_size: positive int.
        shuffle: shuffle every epoch, with a buffer as large as the data (up to 60000).
        seed: the shuffle seed; the same seed gives the same order on every run.
        augment: None, a callable ``x_batch -> x_batch`` or a Keras layer (called with
            ``training=True``); applied to each batch of ``x`` only.
        drop_remainder: drop the last incomplete batch.

    Returns:
        A ``tf.data.Dataset`` of ``x`` batches, or ``(x, y)`` batches when ``y`` is given.
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    x = np.asarray(x)
    if x.dtype == object:
        raise ValueError("x is an object array (ragged sequences); pad it first, e.g. "
                         "load('imdb', sequence_length=200)")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, np.asarray(y)))
    if shuffle:
        dataset = dataset.shuffle(min(len(x), MAX_SHUFFLE_BUFFER) or 1, seed=seed,
                                  reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    if augment is not None:
        transform = _augmentation(augment)
        if y is None:
            dataset = dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            dataset = dataset.map(lambda features, labels: (transform(features), labels),
                                  num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _augmentation(augment):
    import keras

    if isinstance(augment, keras.layers.Layer):
        return lambda batch: augment(batch, training=True)
    if callable(augment):
        return augment
    raise ValueError(f"augment must be a callable or a Keras layer, got {type(augment).__name__}")
