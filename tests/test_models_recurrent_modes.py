"""RNN input/output mode builders (dlcourse.models.recurrent_modes) and their generated tasks
(dlcourse.data.sequence_modes): parameter counts by formula, shapes, the padding left out of the loss."""

import numpy as np
import pytest

import keras

from contract import make_contract_test
from dlcourse.data import sequence_modes
from dlcourse.grading import metrics
from dlcourse.models.recurrent_modes import (build_encoder_decoder, build_one_to_many, build_sequence_tagger,
                                             masked_loss, padding_weights)
from dlcourse.scratch import cells

CONTRACT_CASES = {
    # Dense 13·64 + 64 = 896 + LSTM 4·64·(64 + 64 + 1) = 33,024 + Dense 64·10 + 10 = 650
    "one_to_many": (dict(input_dim=5, sequence_length=3, units=4, num_classes=3), 34_570),
    # Embedding 20·16 = 320 + GRU 3·32·(16 + 32 + 2) = 4,800 + Dense 32·3 + 3 = 99
    "sequence_tagger": (dict(vocab_size=6, embedding_dim=3, units=4, num_tags=3), 5_219),
    # Embedding 10·16 = 160 + LSTM 4·64·(16 + 64 + 1) = 20,736 + LSTM 33,024 + Dense 650
    "encoder_decoder": (dict(input_length=5, output_length=2, vocab_size=6, embedding_dim=3, units=4,
                             num_classes=6), 54_570),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def one_to_many_formula(input_dim, sequence_length, units, num_classes):
    return input_dim * units + units + cells.lstm_parameter_count(units, units) + units * num_classes + num_classes


def tagger_formula(vocab_size, embedding_dim, units, num_tags, cell):
    recurrent = (cells.gru_parameter_count(embedding_dim, units) if cell == "gru"
                 else cells.lstm_parameter_count(embedding_dim, units))
    return vocab_size * embedding_dim + recurrent + units * num_tags + num_tags


def encoder_decoder_formula(vocab_size, embedding_dim, units, num_classes):
    return (vocab_size * embedding_dim + cells.lstm_parameter_count(embedding_dim, units)
            + cells.lstm_parameter_count(units, units) + units * num_classes + num_classes)


@pytest.mark.parametrize("sizes", [(13, 8, 64, 10), (5, 3, 7, 4)])
def test_one_to_many_parameters_and_shapes(sizes):
    input_dim, sequence_length, units, num_classes = sizes
    model = build_one_to_many(input_dim=input_dim, sequence_length=sequence_length, units=units,
                              num_classes=num_classes)
    assert model.count_params() == one_to_many_formula(*sizes)
    shapes = [tuple(layer.output.shape) for layer in model.layers]
    assert shapes == [(None, input_dim), (None, units), (None, sequence_length, units),
                      (None, sequence_length, units), (None, sequence_length, num_classes)]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_tagger_parameters_and_variable_length(cell):
    model = build_sequence_tagger(vocab_size=11, embedding_dim=5, units=6, num_tags=4, cell=cell)
    assert model.count_params() == tagger_formula(11, 5, 6, 4, cell)
    for length in (3, 9):  # the time axis is free: (batch, T) -> (batch, T, tags)
        assert model.predict(np.ones((2, length), "int32"), verbose=0).shape == (2, length, 4)
    with pytest.raises(ValueError, match="cell must be one of"):
        build_sequence_tagger(cell="rnn")


def test_encoder_decoder_parameters_and_lengths():
    model = build_encoder_decoder(input_length=7, output_length=3, vocab_size=9, embedding_dim=4, units=5,
                                  num_classes=6)
    assert model.count_params() == encoder_decoder_formula(9, 4, 5, 6)
    assert tuple(model.get_layer("encoder_decoder_encoder").output.shape) == (None, 5)  # the context vector
    assert model.predict(np.zeros((2, 7), "int32"), verbose=0).shape == (2, 3, 6)


def test_generated_tasks_follow_their_rules_and_seeds():
    x, y = sequence_modes.counting_sequences(50, seed=3)
    start, step = x[:, :10].argmax(axis=1), x[:, 10:].argmax(axis=1) + 1
    assert x.sum(axis=1).tolist() == [2.0] * 50
    np.testing.assert_array_equal(y, (start[:, None] + step[:, None] * np.arange(8)) % 10)
    x, y, lengths = sequence_modes.tagging_sequences(50, seed=3)
    assert x.shape == (50, 16) and lengths.min() >= 4 and lengths.max() <= 16
    np.testing.assert_array_equal((x > 0).sum(axis=1), lengths)  # padding only after the sequence
    for row, tags, length in zip(x, y, lengths):
        expected = [0] + [1 if row[t] > row[t - 1] else 2 for t in range(1, length)]
        assert tags[:length].tolist() == expected and not tags[length:].any()
    x, y = sequence_modes.even_position_sequences(50, seed=3)
    np.testing.assert_array_equal(y, x[:, [0, 2, 4, 6]])
    first, again, held_out = (sequence_modes.generate("tagger", 20, seed=seed)[0] for seed in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, held_out)
    with pytest.raises(ValueError, match="unknown task"):
        sequence_modes.generate("one_to_one", 4, seed=0)


@pytest.fixture(scope="module")
def tagger_batch():
    keras.utils.set_random_seed(5)
    model = build_sequence_tagger(embedding_dim=4, units=5)
    model.compile(optimizer="sgd", loss=masked_loss(), weighted_metrics=["accuracy"])
    x, y, mask = sequence_modes.generate("tagger", 48, seed=7)
    return model, x, y, mask


def test_padded_steps_are_left_out_of_loss_and_accuracy(tagger_batch):
    model, x, y, mask = tagger_batch
    assert 0.2 < 1 - mask.mean() < 0.6  # a good share of the steps is padding
    weights = padding_weights(x)
    np.testing.assert_array_equal(weights, mask.astype("float32"))
    loss, accuracy = model.evaluate(x, y, sample_weight=weights, batch_size=48, verbose=0)
    probabilities = model.predict(x, verbose=0)
    cross_entropy = -np.log(np.take_along_axis(probabilities, y[..., None], axis=-1)[..., 0])
    # The manual computation over the real tokens only, and how far the unmasked numbers are from it.
    assert loss == pytest.approx(cross_entropy[mask].mean(), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(probabilities.argmax(-1)[mask] == y[mask]), abs=1e-6)
    assert abs(cross_entropy.mean() - cross_entropy[mask].mean()) > 1e-4
    # Other labels at the padded steps change nothing.
    relabelled = np.where(mask, y, (y + 1) % 3)
    assert model.evaluate(x, relabelled, sample_weight=weights, batch_size=48, verbose=0) == pytest.approx(
        [loss, accuracy], abs=1e-6)


def test_other_predictions_at_padded_steps_change_nothing(tagger_batch):
    model, x, y, mask = tagger_batch
    probabilities = model.predict(x, verbose=0)
    scrambled = np.where(mask[..., None], probabilities, np.roll(probabilities, 1, axis=-1) ** 3)
    weights = padding_weights(x)
    for prediction in (probabilities, scrambled):
        assert float(masked_loss()(y, prediction, sample_weight=weights)) == pytest.approx(
            -np.mean(np.log(np.take_along_axis(probabilities, y[..., None], -1)[..., 0][mask])), rel=1e-5)
    assert sequence_modes.masked_step_accuracy(y, scrambled, mask) == sequence_modes.masked_step_accuracy(
        y, probabilities, mask)
    # The real steps' outputs do not depend on the padding that follows them (a forward RNN).
    longer = np.pad(x, ((0, 0), (0, 5)))
    np.testing.assert_allclose(model.predict(longer, verbose=0)[:, :16][mask], probabilities[mask], atol=1e-6)


def test_keras_mask_zero_gives_the_same_loss():
    # Embedding(mask_zero=True) (not loadable from .h5) and the weights reach the same masked loss
    # (only the loss: Keras 3.10's compiled metrics ignore that mask, newer ones apply it).
    keras.utils.set_random_seed(2)
    weighted = build_sequence_tagger(embedding_dim=4, units=5)
    masked = build_sequence_tagger(embedding_dim=4, units=5, mask_zero=True)
    masked.set_weights(weighted.get_weights())
    x, y, mask = sequence_modes.generate("tagger", 32, seed=8)
    weighted.compile(loss=masked_loss(), weighted_metrics=["accuracy"])
    masked.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    expected = weighted.evaluate(x, y, sample_weight=padding_weights(x), batch_size=32, verbose=0)
    assert masked.evaluate(x, y, batch_size=32, verbose=0)[0] == pytest.approx(expected[0], abs=1e-5)


class Perfect:
    """A stand-in model answering each task's held-out targets (one-hot), for the grading kind."""

    def __init__(self, task, corrupt_padding=False):
        self.task, self.corrupt_padding = task, corrupt_padding

    def predict(self, x, **_):
        _, y, mask = sequence_modes.generate(self.task, len(x), seed=sequence_modes.HELD_OUT_SEED)
        if self.corrupt_padding:
            y = np.where(mask, y, (y + 1) % 3)
        return np.eye(int(y.max()) + 1)[y]


@pytest.mark.parametrize("task", sequence_modes.TASKS)
def test_per_step_accuracy_kind_uses_the_held_out_mask(task):
    check = {"kind": "per_step_accuracy", "task": task, "limit": 64}
    assert metrics.per_step_accuracy(Perfect(task), check, {}) == 1.0
    assert metrics.per_step_accuracy(Perfect(task, corrupt_padding=True), check, {}) == 1.0
    assert metrics.run_check(Perfect(task), check, {}) == {"kind": "per_step_accuracy", "value": 1.0}
