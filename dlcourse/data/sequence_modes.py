"""Generated sequence tasks for lab 20's RNN input/output modes (seeded; nothing is downloaded).

Three small tasks, one per mode the lab builds (Unit III, "RNN Architectures", 000 L1254-L1270;
003 §6.2 "RNN Operating Modes"), each returning integer targets with one label per output step and
a mask saying which steps count:

    one_to_many      one input vector (a start digit and a step, one-hot) -> the counting sequence
                     y_t = (start + step·t) mod 10, t = 0 .. sequence_length − 1
    tagger           a token sequence of variable length (1 .. vocab_size − 1, zero-padded at the
                     end) -> one tag per token: 0 first token, 1 larger than the previous token,
                     2 not larger; padded steps carry tag 0 and mask False
    encoder_decoder  input_length digits -> the digits at even positions (input_length // 2 of
                     them): input and output lengths differ

``generate(task, count, seed=...)`` gives ``(x, y, mask)``. Training uses the lab's ``--seed``; the
grader's held-out data is ``generate(task, count, seed=HELD_OUT_SEED)`` (a different seed).
"""

import numpy as np

TASKS = ("one_to_many", "tagger", "encoder_decoder")
HELD_OUT_SEED = 20_000  # the grader's held-out draw; labs train on their --seed (42 by default)
NUM_DIGITS = 10  # output classes of one_to_many and encoder_decoder
NUM_STEPS = 3  # one_to_many's steps 1, 2, 3
COUNTING_LENGTH = 8
TAGGER_VOCAB_SIZE = 20  # token 0 is padding
TAGGER_LENGTHS = (4, 16)  # shortest and longest sequence, both included
TAG_NAMES = ("first", "up", "down")
ENCODER_INPUT_LENGTH = 8


def counting_sequences(count, *, seed, sequence_length=COUNTING_LENGTH, num_digits=NUM_DIGITS,
                       num_steps=NUM_STEPS):
    """One-to-many: ``x`` (count, num_digits + num_steps) float32, the one-hot start digit beside the
    one-hot step (1 .. num_steps); ``y`` (count, sequence_length) int64, (start + step·t) mod num_digits."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, num_digits, size=count)
    step = rng.integers(1, num_steps + 1, size=count)
    x = np.zeros((count, num_digits + num_steps), dtype="float32")
    x[np.arange(count), start] = 1.0
    x[np.arange(count), num_digits + step - 1] = 1.0
    y = (start[:, None] + step[:, None] * np.arange(sequence_length)[None, :]) % num_digits
    return x, y.astype("int64")


def tagging_sequences(count, *, seed, vocab_size=TAGGER_VOCAB_SIZE, lengths=TAGGER_LENGTHS):
    """Many-to-many, synchronous: ``x`` (count, lengths[1]) int32 tokens in 1 .. vocab_size − 1, padded
    with 0 after each sequence's length; ``y`` (count, lengths[1]) int64 tags (TAG_NAMES), 0 at pads;
    ``lengths`` (count,) int64."""
    rng = np.random.default_rng(seed)
    shortest, longest = lengths
    sequence_lengths = rng.integers(shortest, longest + 1, size=count)
    tokens = rng.integers(1, vocab_size, size=(count, longest))
    steps = np.arange(longest)[None, :]
    real = steps < sequence_lengths[:, None]
    x = np.where(real, tokens, 0).astype("int32")
    previous = np.concatenate([np.zeros((count, 1), dtype=tokens.dtype), tokens[:, :-1]], axis=1)
    tags = np.where(tokens > previous, 1, 2)
    tags[:, 0] = 0
    y = np.where(real, tags, 0).astype("int64")
    return x, y, sequence_lengths.astype("int64")


def even_position_sequences(count, *, seed, input_length=ENCODER_INPUT_LENGTH, num_digits=NUM_DIGITS):
    """Many-to-many, encoder-decoder: ``x`` (count, input_length) int32 digits; ``y``
    (count, input_length // 2) int64, the digits at positions 0, 2, 4, ..."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, num_digits, size=(count, input_length)).astype("int32")
    return x, x[:, ::2].astype("int64")


def generate(task, count, *, seed):
    """``(x, y, mask)`` for one of TASKS with the lab's default sizes; ``mask`` (like ``y``, bool) marks
    the steps that count (all of them but the tagger's padding)."""
    if task == "one_to_many":
        x, y = counting_sequences(count, seed=seed)
        return x, y, np.ones(y.shape, dtype=bool)
    if task == "tagger":
        x, y, _ = tagging_sequences(count, seed=seed)
        return x, y, x > 0
    if task == "encoder_decoder":
        x, y = even_position_sequences(count, seed=seed)
        return x, y, np.ones(y.shape, dtype=bool)
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def masked_step_accuracy(y_true, probabilities, mask):
    """Per-step accuracy of ``argmax(probabilities)`` against ``y_true`` over the steps where ``mask``
    is True only (padded steps are left out of both the count and the total)."""
    mask = np.asarray(mask, dtype=bool)
    predicted = np.asarray(probabilities).argmax(axis=-1)
    return float(np.sum((predicted == np.asarray(y_true)) & mask) / max(int(mask.sum()), 1))
