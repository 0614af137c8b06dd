"""``dlcourse.data.pipeline``: batching, seeded shuffling, augmentation of x only."""

import numpy as np
import pytest

import keras
from dlcourse.data import pipeline


def _batches(dataset):
    return [tuple(np.asarray(part) for part in batch) if isinstance(batch, tuple)
            else np.asarray(batch) for batch in dataset]


def _order(dataset):
    return np.concatenate([x[:, 0] for x, _ in _batches(dataset)]).tolist()


X = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)  # row i starts with 3 * i
Y = np.arange(10, dtype=np.int64)


def test_batches_keep_pairs_together_and_cover_every_example():
    batches = _batches(pipeline(X, Y, batch_size=4, seed=1))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    for x, y in batches:
        np.testing.assert_array_equal(x[:, 0], 3 * y)  # x row still belongs to its label
    assert sorted(np.concatenate([y for _, y in batches]).tolist()) == list(range(10))
    dropped = _batches(pipeline(X, Y, batch_size=4, drop_remainder=True))
    assert [len(y) for _, y in dropped] == [4, 4]


def test_seeded_shuffle_is_reproducible_and_reshuffles_each_epoch():
    first, second = pipeline(X, Y, batch_size=3, seed=7), pipeline(X, Y, batch_size=3, seed=7)
    epoch_one = _order(first)
    assert epoch_one == _order(second)
    assert epoch_one != sorted(epoch_one)  # shuffled
    assert _order(first) != epoch_one  # a new order on the next pass over the same dataset
    assert _order(pipeline(X, Y, batch_size=3, seed=8)) != epoch_one
    assert _order(pipeline(X, Y, batch_size=3, shuffle=False)) == [3.0 * i for i in range(10)]


def test_unlabelled_data_gives_x_batches():
    batches = _batches(pipeline(X, batch_size=5, shuffle=False))
    assert [b.shape for b in batches] == [(5, 3), (5, 3)]
    doubled = _batches(pipeline(X, batch_size=5, shuffle=False, augment=lambda x: x * 2))
    np.testing.assert_array_equal(doubled[0], X[:5] * 2)


def test_augment_applies_to_x_only_with_a_callable_or_a_keras_layer():
    batches = _batches(pipeline(X, Y, batch_size=10, shuffle=False, augment=lambda x: x + 100.0))
    np.testing.assert_array_equal(batches[0][0], X + 100.0)
    np.testing.assert_array_equal(batches[0][1], Y)  # labels untouched
    images = np.arange(2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 4, 4, 1)
    flip = keras.layers.RandomFlip("horizontal", seed=0)
    flipped = set()
    for _ in range(8):
        (x, y), = _batches(pipeline(images, np.array([0, 1]), batch_size=2, shuffle=False,
                                    augment=flip))
        for image, original in zip(x, images):
            same = np.array_equal(image, original)
            assert same or np.array_equal(image, original[:, ::-1])  # flipped, never altered
            flipped.add(same)
    assert flipped == {True, False}  # training=True: the layer really is random


def test_bad_arguments_are_value_errors():
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = [1, 2], [3]
    with pytest.raises(ValueError, match="sequence_length"):
        pipeline(ragged, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        pipeline(X, Y, batch_size=0)
    with pytest.raises(ValueError, match="10 examples but y has 3"):
        pipeline(X, Y[:3], batch_size=2)
    with pytest.raises(ValueError, match="augment"):
        pipeline(X, Y, batch_size=2, augment="flip")


def test_fit_arguments_split_like_keras_and_keep_weights_with_their_examples():
    from dlcourse.data.pipeline import fit_arguments

    x64 = X.astype(np.float64)
    weights = np.arange(10, dtype=np.float64) / 10
    dataset, options, _ = fit_arguments([x64, x64 * 2], Y, {"validation_split": 0.25, "batch_size": 4, "epochs": 2,
                                                         "sample_weight": weights}, seed=0)
    assert options == {"epochs": 2, "shuffle": False, "validation_batch_size": 4,
                       "validation_data": options["validation_data"]}
    (val_x, val_doubled), val_y, val_weights = options["validation_data"]
    np.testing.assert_array_equal(val_y, Y[7:])  # floor(10 * 0.75) = 7: the last three validate
    np.testing.assert_array_equal(val_x, x64[7:])
    np.testing.assert_array_equal(val_weights, weights[7:])
    batches = list(dataset)
    assert [len(labels) for _, labels, _ in batches] == [4, 3]
    for (first, doubled), labels, weight in batches:
        assert first.dtype == "float32" and weight.dtype == "float32"  # as model.fit casts float64
        np.testing.assert_array_equal(np.asarray(first)[:, 0], 3 * np.asarray(labels))
        np.testing.assert_array_equal(np.asarray(doubled), 2 * np.asarray(first))
        np.testing.assert_allclose(np.asarray(weight), np.asarray(labels) / 10)
    assert sorted(np.concatenate([labels for _, labels, _ in batches]).tolist()) == list(range(7))


def test_fit_arguments_leave_datasets_and_unshuffled_fits_to_keras():
    from dlcourse.data.pipeline import fit_arguments

    assert fit_arguments(pipeline(X, Y, batch_size=2), None, {}, seed=0) is None
    assert fit_arguments(X, Y, {"shuffle": False}, seed=0) is None
    assert fit_arguments(X, Y, {"steps_per_epoch": 2}, seed=0) is None
    dataset, options, _ = fit_arguments(X, None, {"validation_data": (X, Y)}, seed=0)  # unlabelled x
    assert [np.asarray(batch).shape for batch in dataset] == [(10, 3)]  # Keras' default batch, 32
    assert options["validation_batch_size"] == 32


def test_fit_arguments_give_each_epoch_its_own_order_however_often_the_data_was_read():
    from dlcourse.data.pipeline import fit_arguments

    dataset, _, callback = fit_arguments(X, Y, {"batch_size": 3}, seed=4)
    callback.on_epoch_begin(0)
    first = _order(dataset)
    assert sorted(first) == [3.0 * i for i in range(10)] and first != sorted(first)
    assert _order(dataset) == first  # a second pass in epoch 0 (Keras reads one batch to build) changes nothing
    callback.on_epoch_begin(1)
    second = _order(dataset)
    assert second != first
    again, _, restarted = fit_arguments(X, Y, {"batch_size": 3}, seed=4)
    restarted.on_epoch_begin(1)  # a resumed run starting at epoch 1
    assert _order(again) == second
    other, _, other_callback = fit_arguments(X, Y, {"batch_size": 3}, seed=5)
    other_callback.on_epoch_begin(0)
    assert _order(other) != first
