"""Embedded datasets: shapes, dtypes, classes, determinism, and that a tiny model learns them."""

import numpy as np
import pytest

import keras
from dlcourse import data
from dlcourse.data import embedded, reviews


@pytest.mark.parametrize("name, shape, sizes", [
    ("digits", (28, 28, 1), (1437, 360)),
    ("shapes", (32, 32, 3), (2000, 500)),
])
def test_image_datasets_shapes_dtypes_and_classes(name, shape, sizes):
    for split, size in zip(("train", "test"), sizes):
        x, y = data.load(name, split)
        assert x.shape == (size,) + shape and x.dtype == np.uint8
        assert y.shape == (size,) and y.dtype == np.int64
        assert set(y.tolist()) == set(range(10))
        assert x.max() > 200 and x.min() < 50
    assert len(data.class_names(name)) == 10
    record = data.dataset_record(name)
    assert record["embedded"] is True and record["verified"] is True and record["files"] == []


def test_digits_are_sklearn_digits_resized_and_stratified():
    from sklearn.datasets import load_digits
    x, y = data.load("digits")
    x_test, y_test = data.load("digits", "test")
    assert len(x) + len(x_test) == len(load_digits().target) == 1797
    # stratified: every class has 80% +- 1 of its images in train
    totals = np.bincount(np.concatenate([y, y_test]))
    assert np.all(np.abs(np.bincount(y) - 0.8 * totals) <= 1)
    assert data.class_names("digits") == [str(d) for d in range(10)]


def test_shapes_are_balanced_deterministic_and_drawn_once(monkeypatch):
    x, y = data.load("shapes")
    assert np.bincount(y).tolist() == [200] * 10
    x_again, y_again = data.load("shapes")
    np.testing.assert_array_equal(x, x_again)
    x_again[0] = 0  # callers get copies, the memoised arrays stay intact
    assert data.load("shapes")[0][0].max() > 0
    assert data.class_names("shapes")[:3] == ["circle", "square", "triangle"]
    # Generated on the fly, but once per process: one drawing per image, none on later loads.
    test_split = data.load("shapes", "test")[0]
    drawn = []
    draw_shape = embedded._draw_shape

    def counting_draw_shape(draw, shape, *rest):
        drawn.append(shape)
        return draw_shape(draw, shape, *rest)

    monkeypatch.setattr(embedded, "_draw_shape", counting_draw_shape)
    fresh, labels = embedded._shapes(500, 12345)  # a seed no split uses: not memoised yet
    assert drawn == [embedded.SHAPES_CLASSES[label] for label in labels] and len(drawn) == 500
    assert embedded._shapes(500, 12345)[0] is fresh  # memoised: the same array, not drawn again
    np.testing.assert_array_equal(data.load("shapes")[0], x)
    np.testing.assert_array_equal(data.load("shapes", "test")[0], test_split)
    assert len(drawn) == 500  # loading both splits again drew nothing
    assert not np.array_equal(fresh, test_split)


def test_reviews_are_imdb_format_with_texts():
    x, y = data.load("reviews")
    assert x.dtype == object and y.dtype == np.int64 and len(x) == 2000
    assert np.bincount(y).tolist() == [1000, 1000]
    # start 1, words from index_from=3, oov 2 (with num_words=None Keras keeps w < max index, so
    # the rarest word is OOV)
    assert all(sequence[0] == 1 and min(sequence[1:]) >= 2 for sequence in x)
    texts, labels = data.load("reviews", return_text=True)
    np.testing.assert_array_equal(labels, y)
    index = data.word_index("reviews")
    largest = max(index.values()) + 3
    assert [data.encode_text(t, index, num_words=largest) for t in texts] == [list(s) for s in x]
    assert data.decode_sequence(x[0], index).startswith("[START] ")
    ranks = sorted(index.values())
    assert ranks == list(range(1, len(index) + 1)) and index["the"] == 1
    padded, _ = data.load("reviews", "test", sequence_length=40, num_words=50)
    assert padded.shape == (500, 40) and padded.dtype == np.int32 and padded.max() < 50
    assert data.class_names("reviews") == ["negative", "positive"]
    assert "great" in reviews.POSITIVE and len(data.review_texts("test")[0]) == 500


def _fit_and_score(model, x, y, x_test, y_test, loss, epochs, batch_size=32):
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model.evaluate(x_test, y_test, verbose=0)[1]


def test_digits_are_learnable():
    x, y = data.load("digits")
    x_test, y_test = data.load("digits", "test")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    accuracy = _fit_and_score(model, x, y, x_test, y_test,
                              keras.losses.SparseCategoricalCrossentropy(from_logits=True), 4)
    assert accuracy > 0.8  # chance is 0.1


def test_shapes_are_learnable_but_not_trivial():
    x, y = data.load("shapes")
    x_test, y_test = data.load("shapes", "test")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(10)])
    accuracy = _fit_and_score(model, x, y, x_test, y_test,
                              keras.losses.SparseCategoricalCrossentropy(from_logits=True), 3)
    # chance is 0.1; this reaches about 0.6, and a 3-epoch toy CNN must not solve it
    assert 0.35 < accuracy < 0.95


def test_reviews_are_learnable():
    x, y = data.load("reviews", sequence_length=60)
    x_test, y_test = data.load("reviews", "test", sequence_length=60)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((60,)), keras.layers.Embedding(200, 8, mask_zero=True),
                              keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    accuracy = _fit_and_score(model, x, y, x_test, y_test, "binary_crossentropy", 4)
    assert accuracy > 0.7  # chance is 0.5
