"""The embedded ``corpus``: a public-domain English text as integer-encoded character windows (lab 22).

The text is the Book of Genesis of the King James Version (1611), whose copyright has long
expired: it is in the public domain. It was taken from Debian's package ``bible-kjv-text``
(version 4.38, ``/usr/lib/bible.data``, whose copyright file says "The copyright for the King
James Version text of the Bible is expired since the translation was done in 1611"), printed
with that package's ``bible`` program (``bible -l 100000 Gen1:1-50:26``), with the chapter headings
and verse numbers removed: one verse per line, 1,533 lines, 196,818 ASCII characters, shipped as
``dlcourse/data/embedded/kjv_genesis.txt.gz`` (58 kB).

Splits are contiguous, never shuffled across the boundary: ``train`` is the first 90% of the
characters (chapters 1 to about 45), ``test`` the rest (the end of the book), so held-out text is
text the model never saw. A split is cut into windows of ``sequence_length + 1`` characters, one
every ``stride`` characters; ``x`` is a window's first ``sequence_length`` ids and ``y`` the same
window shifted by one (the next character at every position). The vocabulary is
:data:`VOCABULARY`, the 60 distinct characters of the text in code-point order (id = index).
"""

import functools
import gzip
import pathlib

import numpy as np

CORPUS_FILE = pathlib.Path(__file__).resolve().parent / "embedded" / "kjv_genesis.txt.gz"
CORPUS_SOURCE = ("King James Version (1611), Book of Genesis, public domain; from Debian's "
                 "bible-kjv-text 4.38, verse numbers and headings removed")
VOCABULARY = "\n !'(),.:;?ABCDEFGHIJKLMNOPRSTUWYZabcdefghijklmnopqrstuvwxyz"  # 60; no Q, V or X
TRAIN_FRACTION = 0.9
CHARACTER_OPTIONS = {"sequence_length": 100, "stride": None}  # stride None: = sequence_length


@functools.lru_cache(maxsize=1)
def corpus_text():
    """The whole text as one string (read once per process)."""
    with gzip.open(CORPUS_FILE, "rb") as handle:
        text = handle.read().decode("ascii")
    unknown = sorted(set(text) - set(VOCABULARY))
    if unknown:
        raise ValueError(f"{CORPUS_FILE}: characters {unknown!r} are not in the vocabulary")
    return text


def split_text(split):
    """The characters of ``split`` (``"train"``: the first 90%, ``"test"``: the rest)."""
    text = corpus_text()
    boundary = int(len(text) * TRAIN_FRACTION)
    return text[:boundary] if split == "train" else text[boundary:]


def encode(text, vocabulary=VOCABULARY):
    """Character ids (int32) of ``text``; a character outside the vocabulary is a ValueError."""
    index = {character: position for position, character in enumerate(vocabulary)}
    try:
        return np.array([index[character] for character in text], dtype="int32")
    except KeyError as error:
        raise ValueError(f"character {error.args[0]!r} is not in the vocabulary") from None


def decode(ids, vocabulary=VOCABULARY):
    """The string of character ids ``ids``."""
    return "".join(vocabulary[int(each)] for each in np.asarray(ids).reshape(-1))


def windows(ids, sequence_length=100, stride=None):
    """``(x, y)``: int32 ``(N, sequence_length)`` windows of ``ids`` and the next id at every position."""
    sequence_length, stride = int(sequence_length), int(stride or sequence_length)
    if sequence_length < 1 or stride < 1:
        raise ValueError(f"sequence_length and stride must be positive, got {sequence_length} and {stride}")
    starts = np.arange(0, len(ids) - sequence_length, stride)
    positions = starts[:, None] + np.arange(sequence_length + 1)[None, :]
    chunks = np.asarray(ids, dtype="int32")[positions] if len(starts) else np.zeros((0, sequence_length + 1), "int32")
    return chunks[:, :-1], chunks[:, 1:]


def read_split(split, sequence_length=100, stride=None):
    """The ``corpus`` reader: the windows ``(x, y)`` of one split."""
    return windows(encode(split_text(split)), sequence_length, stride)
