"""The IMDB integer format: reading ``imdb.npz``, Keras's index conventions, text <-> integers.

``keras.datasets.imdb.load_data`` stores each review as word *ranks* (1 = most frequent word in
the training set) and, on loading, shuffles each split with ``seed``, prepends ``start_char``,
shifts every rank by ``index_from``, drops reviews with ``maxlen`` or more tokens (it filters, it
does not truncate), and replaces tokens outside ``skip_top <= index < num_words`` with
``oov_char`` (``num_words`` defaults to the largest index in train+test). :func:`imdb_transform`
does exactly that, and ``sequence_length`` then pads/truncates with ``keras.utils.pad_sequences``
(``padding``/``truncating`` ``"pre"`` by default, pad value 0, int32), the way the Keras IMDB
examples do. Indices: 0 padding, 1 start, 2 out-of-vocabulary, words from 3.
"""

import json
import re

import numpy as np

from dlcourse.data.readers import corrupt_file_error, npz_member_arrays

IMDB_OPTIONS = dict(num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
                    index_from=3)
SEQUENCE_OPTIONS = dict(sequence_length=None, padding="pre", truncating="pre")
START_TOKEN, OOV_TOKEN = "[START]", "[OOV]"  # as in keras.datasets.imdb.get_word_index's example


def read_imdb_npz(path):
    """The raw rank sequences and labels of ``imdb.npz``: ``(x_train, y_train, x_test, y_test)``."""
    arrays = npz_member_arrays(path)
    try:
        return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]
    except KeyError as error:
        raise corrupt_file_error(path, f"no array {error}") from error


def read_word_index(path):
    """``{word: rank}`` from ``imdb_word_index.json`` (ranks start at 1)."""
    try:
        with open(path, encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise corrupt_file_error(path, error) from error
    if not isinstance(index, dict):
        raise corrupt_file_error(path, "not a JSON object of {word: rank}")
    return index


def imdb_transform(x_train, y_train, x_test, y_test, *, num_words=None, skip_top=0, maxlen=None,
                   seed=113, start_char=1, oov_char=2, index_from=3):
    """Keras's ``imdb.load_data`` post-processing of raw rank sequences, step for step.

    Returns ``((x_train, y_train), (x_test, y_test))`` with x an object array of int lists and
    y int64.
    """
    train_order, test_order = shuffle_orders(len(x_train), len(x_test), seed)
    x_train, y_train = _object_array(list(x_train))[train_order], np.asarray(y_train)[train_order]
    x_test, y_test = _object_array(list(x_test))[test_order], np.asarray(y_test)[test_order]

    prefix = [start_char] if start_char is not None else []
    shift = index_from or 0
    x_train = [prefix + [int(w) + shift for w in x] for x in x_train]
    x_test = [prefix + [int(w) + shift for w in x] for x in x_test]
    if maxlen:
        x_train, y_train = _remove_long(maxlen, x_train, y_train)
        x_test, y_test = _remove_long(maxlen, x_test, y_test)
        if not x_train or not x_test:
            raise ValueError(f"after removing sequences of maxlen={maxlen} tokens or more, none "
                             "was left; increase maxlen")
    sequences = x_train + x_test
    if not num_words:
        num_words = max(max(x) for x in sequences if x)
    if oov_char is not None:
        sequences = [[w if skip_top <= w < num_words else oov_char for w in x] for x in sequences]
    else:
        sequences = [[w for w in x if skip_top <= w < num_words] for x in sequences]
    split = len(x_train)
    return ((_object_array(sequences[:split]), np.asarray(y_train, dtype=np.int64)),
            (_object_array(sequences[split:]), np.asarray(y_test, dtype=np.int64)))


def shuffle_orders(train_count, test_count, seed=113):
    """The permutations ``imdb.load_data`` applies to the train and then the test split."""
    rng = np.random.RandomState(seed)
    train_order = np.arange(train_count)
    rng.shuffle(train_order)
    test_order = np.arange(test_count)
    rng.shuffle(test_order)
    return train_order, test_order


def _remove_long(maxlen, sequences, labels):
    kept = [(x, y) for x, y in zip(sequences, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def _object_array(sequences):
    array = np.empty(len(sequences), dtype=object)
    for index, sequence in enumerate(sequences):  # item by item: equal lengths must not broadcast
        array[index] = list(sequence)
    return array


def pad(sequences, sequence_length, *, padding="pre", truncating="pre"):
    """``keras.utils.pad_sequences(sequences, maxlen=sequence_length, ...)``: int32 (N, length)."""
    import keras
    return keras.utils.pad_sequences(list(sequences), maxlen=sequence_length, padding=padding,
                                     truncating=truncating, value=0)


def prepare(raw, *, sequence_length=None, padding="pre", truncating="pre", **imdb_options):
    """Apply :func:`imdb_transform` to ``raw`` = (x_train, y_train, x_test, y_test), then pad both
    splits to ``sequence_length`` when it is given."""
    unknown = set(imdb_options) - set(IMDB_OPTIONS)
    if unknown:
        valid = ", ".join(sorted(IMDB_OPTIONS) + sorted(SEQUENCE_OPTIONS))
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}; valid: {valid}")
    splits = imdb_transform(*raw, **imdb_options)
    if sequence_length is None:
        return splits
    return tuple((pad(x, sequence_length, padding=padding, truncating=truncating), y)
                 for x, y in splits)


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def tokenize(text):
    """Lower-case word tokens: letters/digits with inner apostrophes ("don't"); HTML breaks and
    punctuation are dropped, as in the IMDB word index."""
    return _TOKEN.findall(text.lower().replace("<br />", " "))


def encode_text(text, word_index, *, num_words=None, skip_top=0, start_char=1, oov_char=2,
                index_from=3, sequence_length=None, padding="pre", truncating="pre"):
    """Encode text the way ``imdb.load_data`` encodes a review.

    Args:
        text: a string, or a list of strings.
        word_index: ``{word: rank}`` (``imdb_word_index.json`` or ``word_index("reviews")``).
        num_words, skip_top, start_char, oov_char, index_from: as in ``imdb.load_data``; a word
            not in ``word_index`` becomes ``oov_char`` (or is dropped when that is ``None``).
        sequence_length: when given, pad/truncate like ``keras.utils.pad_sequences``.

    Returns:
        A list of ints (a list of lists for a list of texts), or an int32 array of shape
        ``(sequence_length,)`` / ``(N, sequence_length)`` when ``sequence_length`` is given.
    """
    if not isinstance(text, str):
        sequences = [encode_text(item, word_index, num_words=num_words, skip_top=skip_top,
                                 start_char=start_char, oov_char=oov_char, index_from=index_from)
                     for item in text]
        if sequence_length is None:
            return sequences
        return pad(sequences, sequence_length, padding=padding, truncating=truncating)
    shift = index_from or 0
    sequence = [start_char] if start_char is not None else []
    for word in tokenize(text):
        if word in word_index:
            sequence.append(int(word_index[word]) + shift)
        elif oov_char is not None:
            sequence.append(oov_char)
    limit = num_words if num_words else float("inf")
    if oov_char is not None:
        sequence = [w if skip_top <= w < limit else oov_char for w in sequence]
    else:
        sequence = [w for w in sequence if skip_top <= w < limit]
    if sequence_length is None:
        return sequence
    return pad([sequence], sequence_length, padding=padding, truncating=truncating)[0]


def decode_sequence(sequence, word_index, *, start_char=1, oov_char=2, index_from=3, pad_char=0):
    """Turn an encoded review back into words: padding dropped, ``[START]`` and ``[OOV]`` marked,
    an index with no word shown as ``[?]``."""
    inverse = {int(rank) + (index_from or 0): word for word, rank in word_index.items()}
    words = []
    for value in np.asarray(sequence).reshape(-1).tolist():
        if value == pad_char:
            continue
        if value == start_char:
            words.append(START_TOKEN)
        elif value == oov_char:
            words.append(OOV_TOKEN)
        else:
            words.append(inverse.get(value, "[?]"))
    return " ".join(words)
