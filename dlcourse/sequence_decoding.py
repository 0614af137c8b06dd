"""Greedy decoding of an encoder-decoder model and its accuracies (lab 21 and the grader).

The model maps ``[encoder_tokens, decoder_tokens]`` to next-token probabilities at every decoder
step (``(batch, steps, vocabulary)``), as lab 21's models trained with teacher forcing do. Greedy
decoding starts the decoder from START, and at step t takes the most probable token and writes it
into the decoder's input at t + 1 (the model's own output replaces the teacher's). The decoder
array keeps one fixed width, so the model is traced once; its steps after t are PAD (masked), and a
causal decoder's output at t does not depend on them.
"""

import numpy as np

from dlcourse import performance
from dlcourse.data.translation import END, PAD, START


def greedy_decode(model, encoder_input, steps, *, batch_size=256):
    """The ``(batch, steps)`` greedy tokens of ``model`` for ``encoder_input``; PAD after the first END."""
    encoder_input = np.asarray(encoder_input)
    count = len(encoder_input)
    decoder = np.full((count, steps), PAD, dtype="int32")
    decoder[:, 0] = START
    predicted = np.full((count, steps), PAD, dtype="int32")
    running = np.ones(count, dtype=bool)  # no END emitted yet
    with performance.traced_predictions(model):  # one trace for all the steps, even after an eager fit
        for step in range(steps):
            outputs = model.predict([encoder_input, decoder], batch_size=batch_size, verbose=0)
            outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
            tokens = np.asarray(outputs)[:, step].argmax(axis=-1).astype("int32")
            tokens = np.where(running, tokens, PAD)
            predicted[:, step] = tokens
            running &= tokens != END
            if step + 1 < steps:
                decoder[:, step + 1] = tokens
            if not running.any():
                break
    return predicted


def sequence_accuracy(predicted, target):
    """Fraction of rows decoded exactly: every answer token and the END, nothing after it."""
    predicted, target = np.asarray(predicted), np.asarray(target)
    return float(np.mean(np.all(predicted == target, axis=1))) if len(target) else 0.0


def token_accuracy(predicted, target):
    """Fraction of the target's non-PAD tokens (the answer and its END) predicted at their position."""
    predicted, target = np.asarray(predicted), np.asarray(target)
    keep = target != PAD
    return float(np.mean(predicted[keep] == target[keep])) if keep.any() else 0.0


def accuracy_by_length(predicted, target, lengths):
    """``{length: (sequence_accuracy, token_accuracy, count)}`` per input length."""
    lengths = np.asarray(lengths)
    return {int(length): (sequence_accuracy(predicted[lengths == length], target[lengths == length]),
                          token_accuracy(predicted[lengths == length], target[lengths == length]),
                          int(np.sum(lengths == length)))
            for length in np.unique(lengths)}
