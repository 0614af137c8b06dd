"""``pipeline``: NumPy arrays -> a batched, shuffled, prefetched ``tf.data.Dataset``.

The one place arrays become a ``tf.data`` input pipeline (docs/DESIGN.md, "Data"): a seeded shuffle
of the example indices, fresh on every pass (epoch), batches gathered from the arrays by index (the
arrays are held once, as tensors, not copied through a shuffle buffer), an optional training-time
augmentation of ``x`` only, and prefetching.

:func:`fit_arguments` turns ``model.fit``'s array arguments into such a pipeline, each epoch's
order a function of the seed and the epoch; ``LabRun.fit``
uses it for every fit on arrays, because Keras 3's own array input repeats one order in every epoch
once a global seed is set (every lab run is seeded): its per-epoch ``tf.random.shuffle`` sits inside
a dataset function that restarts from the same seed each time the dataset is iterated (measured on
Keras 3.10 and 3.15). Lab 06's CIFAR-10 CNN, trained so, reached a test accuracy about 0.03 below
the notes' unseeded Listing II-B on the same images (README, "Performance").
"""

import math

import numpy as np
import tensorflow as tf


def pipeline(x, y=None, *, batch_size, shuffle=True, seed=None, augment=None, drop_remainder=False,
             sample_weight=None, epoch=None):
    """Batches of ``x`` (or of ``(x, y)``, ``(x, y, sample_weight)``), reshuffled on every pass.

    Args:
        x: features, a NumPy array or a list, tuple or dict of arrays (a model with several inputs);
            object arrays of ragged sequences must be padded first.
        y: labels (an array or a structure of arrays), or None for an unlabelled dataset
            (autoencoders, GANs).
        batch_size: positive int.
        shuffle: a new order of all examples on every pass over the dataset.
        seed: the shuffle seed; the same seed gives the same sequence of orders on every run.
        augment: None, a callable ``x_batch -> x_batch`` or a Keras layer (called with
            ``training=True``); applied to each batch of ``x`` only.
        drop_remainder: drop the last incomplete batch.
        sample_weight: per-example weights (with ``y``), as ``model.fit``'s argument.
        epoch: None, or an integer ``tf.Variable`` holding the epoch (:class:`EpochCounter` sets it):
            each pass then takes the order of that epoch, a function of ``(seed, epoch)`` alone, so it
            does not depend on how often the dataset was iterated before (Keras iterates it once more
            under a distribution strategy) and a resumed run sees each epoch's own order.

    Floating-point arrays are cast to Keras' float type (float32), as ``model.fit`` does with arrays.

    Returns:
        A ``tf.data.Dataset`` of ``x`` batches, or ``(x, y[, sample_weight])`` batches when ``y`` is given.
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if sample_weight is not None and y is None:
        raise ValueError("sample_weight needs labels y")
    parts = tuple(_tuples(part) for part in ((x,) if y is None else (x, y) if sample_weight is None
                                              else (x, y, sample_weight)))
    arrays = tf.nest.map_structure(_array, parts)
    count = _count(arrays)
    held = {}  # one tensor per array, also when x and y are the same array (an autoencoder's fit(x, x))
    tensors = tf.nest.map_structure(lambda array: held.setdefault(id(array), _tensor(array)), arrays)
    indices = tf.data.Dataset.range(count)
    if shuffle and epoch is not None:
        key = tf.constant(0 if seed is None else int(seed), tf.int64)

        def order(_):
            seeds = tf.stack([key, tf.cast(epoch.read_value(), tf.int64)])
            return tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=seeds)

        indices = tf.data.Dataset.from_tensors(0).map(order).unbatch()
    elif shuffle:
        indices = indices.shuffle(max(count, 1), seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(int(batch_size), drop_remainder=drop_remainder)

    def gather(index):
        batch = tf.nest.map_structure(lambda tensor: tf.gather(tensor, index), tensors)
        return batch[0] if y is None else batch

    dataset = indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        transform = _augmentation(augment)
        if y is None:
            dataset = dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            dataset = dataset.map(lambda features, *rest: (transform(features), *rest),
                                  num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


class EpochCounter:
    """Holds the epoch of a fit in a ``tf.Variable`` for :func:`pipeline`'s ``epoch``; its
    :meth:`callback` sets it at each epoch's start (before Keras iterates that epoch's data)."""

    def __init__(self):
        import keras

        with tf.init_scope():
            self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeline_epoch")
        counter = self

        class SetEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                counter.variable.assign(epoch)

        self.callback = SetEpoch()


def fit_arguments(x, y, fit_kwargs, *, seed):
    """``model.fit(x, y, **fit_kwargs)`` on arrays -> ``(dataset, fit_kwargs, callback)`` for the same fit.

    The training arrays become a :func:`pipeline` with a new order every epoch, that epoch's order
    for ``seed`` (``callback``, to pass to ``fit``, tells the pipeline the epoch);
    ``validation_split`` takes the last examples before any shuffling, as Keras does, and becomes
    ``validation_data``; ``sample_weight`` travels with the examples. Returns None when ``x`` is not
    arrays (a ``tf.data`` dataset, a ``PyDataset``, a generator) or the fit does not shuffle, when
    ``model.fit``'s own handling is kept.
    """
    if not fit_kwargs.get("shuffle", True) or "steps_per_epoch" in fit_kwargs or not _all_arrays(x) \
            or not (y is None or _all_arrays(y)):
        return None
    options = dict(fit_kwargs)
    batch_size = options.pop("batch_size", None) or 32  # Keras' default batch size
    sample_weight = options.pop("sample_weight", None)
    split = options.pop("validation_split", 0.0) or 0.0
    parts = (x, y, sample_weight)
    if split and options.get("validation_data") is None:
        count = _count(tf.nest.map_structure(_array, [part for part in parts if part is not None]))
        at = int(math.floor(count * (1.0 - split)))  # Keras' rule: the last examples validate
        train = [None if part is None else tf.nest.map_structure(lambda array: array[:at], part) for part in parts]
        held_out = [None if part is None else tf.nest.map_structure(lambda array: array[at:], part) for part in parts]
        parts = train
        options["validation_data"] = tuple(part for part in held_out if part is not None)
    if _all_arrays(options.get("validation_data")):
        options.setdefault("validation_batch_size", batch_size)  # model.fit validates arrays at batch_size
    options["shuffle"] = False  # the pipeline shuffles
    counter = EpochCounter()
    dataset = pipeline(parts[0], parts[1], batch_size=batch_size, seed=seed, sample_weight=parts[2],
                       epoch=counter.variable)
    return dataset, options, counter.callback


def _all_arrays(structure):
    leaves = tf.nest.flatten(structure) if structure is not None else []
    return bool(leaves) and all(isinstance(leaf, np.ndarray) for leaf in leaves)


def _tuples(structure):
    """Lists of arrays (a model's several inputs) as tuples: tf.data keeps tuples as structure."""
    if isinstance(structure, list):
        return tuple(_tuples(item) for item in structure)
    if isinstance(structure, dict):
        return {key: _tuples(value) for key, value in structure.items()}
    return structure


def _array(value):
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype == object:
        raise ValueError("x is an object array (ragged sequences); pad it first, e.g. "
                         "load('imdb', sequence_length=200)")
    return array


def _count(arrays):
    lengths = [len(array) for array in tf.nest.flatten(arrays)]
    if len(set(lengths)) != 1:
        raise ValueError(f"x has {lengths[0]} examples but y has {lengths[1]}" if len(lengths) == 2
                         else f"the arrays differ in their number of examples: {lengths}")
    return lengths[0]


def _tensor(array):
    import keras

    if np.issubdtype(array.dtype, np.floating) and array.dtype != np.dtype(keras.backend.floatx()):
        array = array.astype(keras.backend.floatx())
    return tf.constant(array)


def _augmentation(augment):
    import keras

    if isinstance(augment, keras.layers.Layer):
        return lambda batch: augment(batch, training=True)
    if callable(augment):
        return augment
    raise ValueError(f"augment must be a callable or a Keras layer, got {type(augment).__name__}")
