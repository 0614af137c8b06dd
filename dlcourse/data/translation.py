"""A generated sequence-to-sequence task for lab 21: digit strings and their reversal (or sorted order).

Nothing is downloaded: :func:`make_pairs` draws ``count`` digit strings of lengths uniform in
``[min_length, max_length]`` from a seeded generator and writes them as padded token arrays::

    tokens      PAD = 0, START = 1, END = 2, digit d = d + 3 (VOCAB_SIZE = 13)
    encoder     the digits, padded with PAD to max_length                     "3 1 4" -> 6 4 7 0 0
    target      the task's answer, then END, padded to max_length + 1          "4 1 3" -> 7 4 6 2 0 0
    decoder     teacher forcing: START, then the target shifted right by one            1 7 4 6 2 0

Each split has its own stream (``split`` is mixed into the seed), so the training, test and the
grader's ``held_out`` strings (seed :data:`HELD_OUT_SEED`) are drawn independently; short lengths
have few distinct strings (10 of length 1), so those repeat across splits.
"""

import collections

import numpy as np

PAD, START, END = 0, 1, 2
DIGIT_OFFSET = 3
VOCAB_SIZE = DIGIT_OFFSET + 10
TASKS = {
    "reverse": lambda digits: digits[::-1],
    "sort": np.sort,
}
SPLITS = {"train": 0, "test": 1, "held_out": 2}
HELD_OUT_SEED = 21  # the grader's strings: this seed with split "held_out"

Pairs = collections.namedtuple("Pairs", "encoder_input decoder_input target lengths")


def teacher_forcing_inputs(target):
    """The decoder's inputs under teacher forcing: START, then ``target`` shifted right by one step."""
    target = np.asarray(target)
    decoder = np.full_like(target, PAD)
    decoder[:, 0] = START
    decoder[:, 1:] = target[:, :-1]
    return decoder


def make_pairs(count, *, min_length=1, max_length=20, task="reverse", seed=0, split="train"):
    """``count`` generated pairs as :data:`Pairs` of int32 arrays (``lengths``: the input lengths)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length} and {max_length}")
    rng = np.random.default_rng([seed, SPLITS[split]])
    lengths = rng.integers(min_length, max_length + 1, size=count)
    encoder = np.full((count, max_length), PAD, dtype="int32")
    target = np.full((count, max_length + 1), PAD, dtype="int32")
    for row, length in enumerate(lengths):
        digits = rng.integers(0, 10, size=length)
        encoder[row, :length] = digits + DIGIT_OFFSET
        target[row, :length] = TASKS[task](digits) + DIGIT_OFFSET
        target[row, length] = END
    return Pairs(encoder, teacher_forcing_inputs(target), target, lengths.astype("int32"))


def to_text(tokens):
    """The digits of one token row as a string (stops at END or PAD; START is skipped)."""
    digits = []
    for token in np.asarray(tokens).tolist():
        if token in (PAD, END):
            break
        if token >= DIGIT_OFFSET:
            digits.append(str(token - DIGIT_OFFSET))
    return "".join(digits)
