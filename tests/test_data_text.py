"""IMDB integer format: Keras's load_data conventions, padding, encode/decode (dlcourse.data.text).

Keras's own ``keras.datasets.imdb.load_data`` is the oracle: its ``get_file`` is pointed at a tiny
``imdb.npz`` written here, so no network is touched.
"""

import numpy as np
import pytest

import keras
from dlcourse.data import readers, text

RAW_TRAIN = [[1, 2, 3], [4, 5, 6, 7, 8], [2, 2], [9, 10, 1, 1]]
RAW_TEST = [[9, 1], [3, 3, 3, 3], [7]]
Y_TRAIN, Y_TEST = [0, 1, 1, 0], [1, 0, 1]


def _objects(sequences):
    array = np.empty(len(sequences), dtype=object)
    for index, sequence in enumerate(sequences):
        array[index] = list(sequence)
    return array


@pytest.fixture
def imdb_npz(tmp_path):
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=_objects(RAW_TRAIN), y_train=np.array(Y_TRAIN),
             x_test=_objects(RAW_TEST), y_test=np.array(Y_TEST))
    return path


def _keras_oracle(monkeypatch, path, **options):
    import keras.src.datasets.imdb as keras_imdb
    monkeypatch.setattr(keras_imdb, "get_file", lambda *args, **kwargs: str(path))
    return keras.datasets.imdb.load_data(**options)


def _as_lists(x):
    return [list(map(int, sequence)) for sequence in x]


def test_read_imdb_npz_unpickles_ragged_arrays_safely(imdb_npz):
    x_train, y_train, x_test, y_test = text.read_imdb_npz(imdb_npz)
    assert _as_lists(x_train) == RAW_TRAIN and _as_lists(x_test) == RAW_TEST
    assert list(y_train) == Y_TRAIN and list(y_test) == Y_TEST


def test_restricted_unpickler_refuses_code(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError):
        readers.restricted_load(__import__("io").BytesIO(pickle.dumps(Evil())))


@pytest.mark.parametrize("options", [
    {},
    {"num_words": 8},
    {"num_words": 9, "skip_top": 5},
    {"maxlen": 5},
    {"index_from": 2, "start_char": None},
    {"oov_char": None, "num_words": 8},
    {"seed": 7, "start_char": 4, "oov_char": 3, "index_from": 5},
])
def test_imdb_transform_matches_keras_load_data(monkeypatch, imdb_npz, options):
    (kx_train, ky_train), (kx_test, ky_test) = _keras_oracle(monkeypatch, imdb_npz, **options)
    (x_train, y_train), (x_test, y_test) = text.prepare(text.read_imdb_npz(imdb_npz), **options)
    assert _as_lists(x_train) == _as_lists(kx_train)
    assert _as_lists(x_test) == _as_lists(kx_test)
    assert y_train.tolist() == list(ky_train) and y_test.tolist() == list(ky_test)
    assert y_train.dtype == np.int64 and x_train.dtype == object


def test_imdb_conventions_by_hand(imdb_npz):
    raw = text.read_imdb_npz(imdb_npz)
    (x_train, _), (x_test, _) = text.prepare(raw)
    # start_char=1, every rank shifted by index_from=3; num_words defaults to the largest index
    # (13 = rank 10 + 3), and Keras keeps only w < num_words, so that one word becomes oov_char=2.
    expected = sorted([[1] + [w + 3 for w in seq] for seq in RAW_TRAIN])
    expected = [[2 if w == 13 else w for w in seq] for seq in expected]
    assert sorted(_as_lists(x_train)) == expected
    (x_train, y_train), (x_test, y_test) = text.prepare(raw, maxlen=4)
    # maxlen *removes* sequences with maxlen or more tokens (start token included).
    assert sorted(len(seq) for seq in x_train) == [3] and sorted(len(s) for s in x_test) == [2, 3]
    (x_train, _), _ = text.prepare(raw, num_words=6, skip_top=4)
    assert all(w == 2 or 4 <= w < 6 for seq in x_train for w in seq)


def test_sequence_length_pads_and_truncates_like_pad_sequences(imdb_npz):
    raw = text.read_imdb_npz(imdb_npz)
    (ragged, _), _ = text.prepare(raw)
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            (x, y), _ = text.prepare(raw, sequence_length=4, padding=padding, truncating=truncating)
            oracle = keras.utils.pad_sequences(list(ragged), maxlen=4, padding=padding,
                                               truncating=truncating)
            np.testing.assert_array_equal(x, oracle)
            assert x.shape == (4, 4) and x.dtype == np.int32
    # The default is 'pre' for both: keep the last tokens, zeros in front.
    assert text.pad([[1, 2, 3, 4, 5, 6], [7]], 4).tolist() == [[3, 4, 5, 6], [0, 0, 0, 7]]
    assert text.pad([[1, 2, 3, 4, 5, 6], [7]], 4, padding="post", truncating="post").tolist() == [
        [1, 2, 3, 4], [7, 0, 0, 0]]


def test_prepare_rejects_unknown_options(imdb_npz):
    with pytest.raises(ValueError, match="num_wordz"):
        text.prepare(text.read_imdb_npz(imdb_npz), num_wordz=10)


WORD_INDEX = {"the": 1, "movie": 2, "was": 3, "great": 4, "don't": 5, "boring": 6}


def test_encode_text_uses_imdb_conventions():
    assert text.tokenize("The movie<br />was GREAT, don't!") == ["the", "movie", "was", "great",
                                                                  "don't"]
    # start 1, rank + 3, unknown word -> oov 2
    assert text.encode_text("The movie was great, really", WORD_INDEX) == [1, 4, 5, 6, 7, 2]
    # num_words=7 keeps indices < 7: 'great' (7) becomes oov
    assert text.encode_text("the movie was great", WORD_INDEX, num_words=7) == [1, 4, 5, 6, 2]
    assert text.encode_text("the movie", WORD_INDEX, oov_char=None, index_from=0,
                            start_char=None) == [1, 2]
    padded = text.encode_text(["the movie", "great"], WORD_INDEX, sequence_length=4)
    assert padded.tolist() == [[0, 1, 4, 5], [0, 0, 1, 7]]
    assert text.encode_text("boring", WORD_INDEX, sequence_length=3).tolist() == [0, 1, 9]


def test_decode_sequence_round_trip():
    encoded = text.encode_text("the movie was boring", WORD_INDEX, sequence_length=7)
    assert text.decode_sequence(encoded, WORD_INDEX) == "[START] the movie was boring"
    assert text.decode_sequence([1, 2, 9, 99], WORD_INDEX) == "[START] [OOV] boring [?]"
