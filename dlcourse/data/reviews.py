"""``reviews``: generated labelled movie reviews in the IMDB integer format (no download).

Each review is 3-7 short sentences built from templates: neutral filler ("the plot follows the
detective") mixed with sentiment sentences whose adjective matches the label 90% of the time
("the acting was superb" in a positive review, sometimes "the ending was dull"), and negated
sentences that flip an opposite-polarity word ("the script was not boring"), which a
bag-of-words model gets wrong and a sequence model can learn. 2000 train / 500 test, balanced.

The texts get their own word index built like IMDB's (rank 1 = most frequent training word, ties
alphabetical); the rank sequences then go through exactly the same
:func:`dlcourse.data.text.imdb_transform` as ``imdb.npz``, so ``num_words``, ``skip_top``,
``maxlen``, ``index_from`` and ``sequence_length`` behave identically.
"""

import collections
import functools

import numpy as np

from dlcourse.data.text import shuffle_orders, tokenize

REVIEWS_CLASSES = ("negative", "positive")
REVIEWS_SIZES = {"train": 2000, "test": 500}
REVIEWS_SEEDS = {"train": 31, "test": 32}
SENTIMENT_AGREEMENT = 0.9

POSITIVE = ("great", "excellent", "wonderful", "brilliant", "superb", "enjoyable", "moving",
            "beautiful", "funny", "charming", "gripping", "delightful", "memorable", "touching",
            "fantastic", "clever", "stunning", "fresh", "perfect", "powerful")
NEGATIVE = ("awful", "boring", "terrible", "dull", "weak", "predictable", "bland", "messy",
            "annoying", "poor", "painful", "forgettable", "clumsy", "tedious", "silly",
            "lifeless", "horrible", "pointless", "flat", "confusing")
NOUNS = ("movie", "film", "plot", "story", "acting", "script", "ending", "cast", "director",
         "soundtrack", "dialogue", "camera work", "pacing", "lead actor", "villain", "sequel",
         "scenery", "editing", "finale", "opening scene")
CHARACTERS = ("the detective", "a young woman", "an old sailor", "two brothers", "the mayor",
              "a small town", "the family", "a robot", "the teacher", "a stray dog")
ACTIONS = ("follows", "meets", "leaves", "visits", "chases", "remembers", "loses", "finds")
FILLER = (
    "the {noun} follows {who}",
    "it is about {who} who {action} {who2}",
    "i watched it with my friends last {day}",
    "the {noun} runs for almost two hours",
    "{who} {action} {who2} in the second half",
    "this is the third {noun} from that studio",
)
SENTIMENT = (
    "the {noun} was {word}",
    "i thought the {noun} was really {word}",
    "overall a {word} {noun}",
    "what a {word} {noun}",
    "the {noun} felt {word} to me",
)
NEGATED = (
    "the {noun} was not {word}",
    "i would not call the {noun} {word}",
)
DAYS = ("week", "night", "sunday", "year")


def _pick(rng, items):
    return items[rng.randint(len(items))]


def _review(rng, label):
    own, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
    sentences = []
    for _ in range(rng.randint(3, 8)):
        kind = rng.uniform()
        if kind < 0.35:
            template, word = _pick(rng, FILLER), ""
        elif kind < 0.9:
            agrees = rng.uniform() < SENTIMENT_AGREEMENT
            template, word = _pick(rng, SENTIMENT), _pick(rng, own if agrees else other)
        else:
            template, word = _pick(rng, NEGATED), _pick(rng, other)
        sentences.append(template.format(
            noun=_pick(rng, NOUNS), word=word, who=_pick(rng, CHARACTERS),
            who2=_pick(rng, CHARACTERS), action=_pick(rng, ACTIONS), day=_pick(rng, DAYS)))
    return ". ".join(sentences) + "."


@functools.lru_cache(maxsize=4)
def _texts(split):
    rng = np.random.RandomState(REVIEWS_SEEDS[split])
    count = REVIEWS_SIZES[split]
    labels = np.arange(count) % 2
    rng.shuffle(labels)
    return tuple(_review(rng, int(label)) for label in labels), labels.astype(np.int64)


def review_texts(split="train"):
    """``(texts, y)``: the raw review strings (a NumPy str array) and their 0/1 labels."""
    texts, labels = _texts(split)
    return np.asarray(texts), labels.copy()


def shuffled_texts(split="train", seed=113):
    """:func:`review_texts` in the order ``load("reviews", split, seed=seed)`` gives the sequences
    (Keras's IMDB shuffle; ``maxlen`` filtering not applied)."""
    texts, labels = review_texts(split)
    order = shuffle_orders(REVIEWS_SIZES["train"], REVIEWS_SIZES["test"], seed=seed)[
        ("train", "test").index(split)]
    return texts[order], labels[order]


@functools.lru_cache(maxsize=1)
def _word_index():
    counts = collections.Counter(word for text in _texts("train")[0] for word in tokenize(text))
    ordered = sorted(counts, key=lambda word: (-counts[word], word))
    return {word: rank for rank, word in enumerate(ordered, start=1)}


def word_index():
    """``{word: rank}`` for the reviews, built from the training texts like IMDB's."""
    return dict(_word_index())


def raw_sequences():
    """``(x_train, y_train, x_test, y_test)`` as word ranks (lists), the layout of ``imdb.npz``.

    Test words missing from the training vocabulary are skipped, as in IMDB.
    """
    index = _word_index()
    arrays = []
    for split in ("train", "test"):
        texts, labels = _texts(split)
        sequences = [[index[word] for word in tokenize(text) if word in index] for text in texts]
        arrays += [sequences, labels.copy()]
    return tuple(arrays)
