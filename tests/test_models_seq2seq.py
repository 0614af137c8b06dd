"""Lab 21's encoder-decoders (dlcourse.models.seq2seq), its task (dlcourse.data.translation) and greedy
decoding (dlcourse.sequence_decoding): parameter counts by formula, teacher forcing, exact decoding of
hand-set models, attention weights, the grader's check."""

import numpy as np
import pytest

import keras

from contract import make_contract_test
from dlcourse.data import translation
from dlcourse.grading import metrics
from dlcourse.models.seq2seq import attention_scores_model, build_seq2seq, build_seq2seq_attention
from dlcourse import sequence_decoding
from dlcourse.scratch import cells

V = translation.VOCAB_SIZE  # 13


def plain_parameters(embedding_dim, units, vocab=V, cell="gru"):
    """2VE + encoder and decoder RNNs + the output layer UV + V."""
    recurrent = {"gru": cells.gru_parameter_count, "lstm": cells.lstm_parameter_count}[cell](embedding_dim, units)
    return 2 * vocab * embedding_dim + 2 * recurrent + units * vocab + vocab


CONTRACT_CASES = {
    # 2·13·32 = 832 + 2·3·64·(32 + 64 + 2) = 37,632 + 64·13 + 13 = 845
    "seq2seq": (dict(embedding_dim=4, units=3), 39_309),
    # + W_q, W_k 2·64² = 8,192 + v 64 + the output layer's 64·13 more = 832
    "seq2seq_attention": (dict(embedding_dim=4, units=3), 48_397),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_parameter_counts_follow_the_formulas(cell):
    e, u = 5, 7
    assert plain_parameters(32, 64) == CONTRACT_CASES["seq2seq"][1]
    assert build_seq2seq(embedding_dim=e, units=u, cell=cell).count_params() == plain_parameters(e, u, cell=cell)
    additive = build_seq2seq_attention(embedding_dim=e, units=u, cell=cell, attention="additive")
    assert additive.count_params() == plain_parameters(e, u, cell=cell) + 2 * u * u + u + u * V
    dot = build_seq2seq_attention(embedding_dim=e, units=u, cell=cell, attention="dot")
    assert dot.count_params() == plain_parameters(e, u, cell=cell) + u * V  # Luong's dot score has no weights


def test_pairs_reverse_or_sort_the_digits_and_teacher_forcing_shifts_the_target():
    pairs = translation.make_pairs(200, min_length=2, max_length=9, seed=3)
    assert pairs.encoder_input.shape == (200, 9) and pairs.target.shape == pairs.decoder_input.shape == (200, 10)
    assert pairs.lengths.min() >= 2 and pairs.lengths.max() <= 9
    # teacher forcing: START, then the target shifted right by one step
    assert np.all(pairs.decoder_input[:, 0] == translation.START)
    np.testing.assert_array_equal(pairs.decoder_input[:, 1:], pairs.target[:, :-1])
    for row in range(20):
        text, length = translation.to_text(pairs.encoder_input[row]), pairs.lengths[row]
        assert len(text) == length and translation.to_text(pairs.target[row]) == text[::-1]
        assert pairs.target[row, length] == translation.END and not pairs.target[row, length + 1:].any()
        assert not pairs.encoder_input[row, length:].any()  # PAD after the digits
    sorted_pairs = translation.make_pairs(20, max_length=9, seed=3, task="sort")
    for row in range(20):
        assert translation.to_text(sorted_pairs.target[row]) == "".join(sorted(translation.to_text(sorted_pairs.encoder_input[row])))
    # seeded; each split (and the grader's held_out) is its own stream
    again = translation.make_pairs(200, min_length=2, max_length=9, seed=3)
    np.testing.assert_array_equal(again.encoder_input, pairs.encoder_input)
    held_out = translation.make_pairs(200, min_length=2, max_length=9, seed=3, split="held_out")
    assert not np.array_equal(held_out.encoder_input, pairs.encoder_input)


def _hand_set_model(encoder_weights, decoder_weights, vocab=V):
    """next-token probabilities softmax(E_enc[x_t] + E_dec[y_t]) with fixed embedding tables (vocab x vocab)."""
    encoder_tokens = keras.Input((None,), dtype="int32")
    decoder_tokens = keras.Input((None,), dtype="int32")
    from_encoder = keras.layers.Embedding(vocab, vocab, weights=[encoder_weights])(encoder_tokens)
    from_decoder = keras.layers.Embedding(vocab, vocab, weights=[decoder_weights])(decoder_tokens)
    logits = keras.layers.Add()([from_encoder, from_decoder])
    return keras.Model([encoder_tokens, decoder_tokens], keras.layers.Softmax()(logits))


def test_greedy_decoding_of_a_copying_model_is_exact():
    """A model whose weights copy the encoder token at the same step: its greedy output is the input, then
    END (the encoder rows end with END here), then PAD, and the accuracies are 1."""
    pairs = translation.make_pairs(50, min_length=1, max_length=6, seed=0)
    steps = pairs.target.shape[1]
    encoder = np.zeros((50, steps), dtype="int32")
    encoder[:, :-1] = pairs.encoder_input
    encoder[np.arange(50), pairs.lengths] = translation.END  # copy target: digits, END, PAD
    copy_weights = 10.0 * np.eye(V, dtype="float32")
    copy_weights[translation.PAD] = 0.0
    copy_weights[translation.PAD, translation.PAD] = 10.0
    model = _hand_set_model(copy_weights, np.zeros((V, V), "float32"))
    predicted = sequence_decoding.greedy_decode(model, encoder, steps)
    np.testing.assert_array_equal(predicted, encoder)
    assert sequence_decoding.sequence_accuracy(predicted, encoder) == 1.0
    assert sequence_decoding.token_accuracy(predicted, encoder) == 1.0


def test_greedy_decoding_feeds_back_its_own_tokens_and_stops_at_end():
    """A model that writes the successor of the token it reads (START -> digit 0 -> digit 1 ...) decodes
    START's successors only if each step reads the previous step's output; after END comes PAD."""
    successor = np.zeros((V, V), dtype="float32")
    successor[translation.START, translation.DIGIT_OFFSET] = 10.0
    for token in range(translation.DIGIT_OFFSET, translation.DIGIT_OFFSET + 3):
        successor[token, token + 1] = 10.0
    successor[translation.DIGIT_OFFSET + 3, translation.END] = 10.0  # after the digit 3 comes END
    model = _hand_set_model(np.zeros((V, V), "float32"), successor)
    predicted = sequence_decoding.greedy_decode(model, np.full((2, 7), 5, dtype="int32"), 7)
    expected = [3, 4, 5, 6, translation.END, translation.PAD, translation.PAD]
    np.testing.assert_array_equal(predicted, [expected, expected])
    # one wrong token: the sequence is wrong, 4 of the 5 answer tokens right
    target = np.array([[3, 4, 9, 6, translation.END, 0, 0]])
    assert sequence_decoding.sequence_accuracy(predicted[:1], target) == 0.0
    assert sequence_decoding.token_accuracy(predicted[:1], target) == pytest.approx(4 / 5)
    table = sequence_decoding.accuracy_by_length(predicted, np.array([expected, target[0]]), [4, 7])
    assert table == {4: (1.0, 1.0, 1), 7: (0.0, pytest.approx(0.8), 1)}


def test_attention_weights_sum_to_one_over_the_unpadded_encoder_steps():
    keras.utils.set_random_seed(0)
    model = build_seq2seq_attention(embedding_dim=4, units=6)  # additive; the next test uses dot
    pairs = translation.make_pairs(8, min_length=1, max_length=7, seed=1)
    weights = np.asarray(attention_scores_model(model)([pairs.encoder_input, pairs.decoder_input]))  # eager: no tracing
    assert weights.shape == (8, 8, 7)  # (batch, decoder steps, encoder steps)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    for row, length in enumerate(pairs.lengths):
        assert np.all(weights[row, :, length:] == 0.0)  # PAD gets no weight
        assert np.all(weights[row, :, :length] > 0.0)


def test_outputs_at_a_step_ignore_later_decoder_tokens_and_encoder_padding():
    """What greedy decoding relies on: the decoder is causal, and PAD in the input changes nothing."""
    keras.utils.set_random_seed(0)
    model = build_seq2seq_attention(embedding_dim=4, units=6, attention="dot")
    pairs = translation.make_pairs(4, min_length=3, max_length=5, seed=2)
    full = np.asarray(model([pairs.encoder_input, pairs.decoder_input]))  # eager calls: three shapes, no tracing
    cut = pairs.decoder_input.copy()
    cut[:, 3:] = translation.PAD
    np.testing.assert_allclose(np.asarray(model([pairs.encoder_input, cut]))[:, :3], full[:, :3], atol=1e-6)
    padded = np.pad(pairs.encoder_input, ((0, 0), (0, 4)))
    np.testing.assert_allclose(np.asarray(model([padded, pairs.decoder_input])), full, atol=1e-5)


def test_sequence_accuracy_check_decodes_the_held_out_task():
    """The grader's kind on the copy model: exact on copying, so reversing scores only palindromes."""
    check = {"kind": "sequence_accuracy", "limit": 100, "load_options": {"min_length": 1, "max_length": 1}}
    weights = np.zeros((V, V), dtype="float32")
    weights[translation.START, translation.DIGIT_OFFSET + 7] = 10.0  # always answers "7"
    weights[translation.DIGIT_OFFSET + 7, translation.END] = 10.0
    model = _hand_set_model(np.zeros((V, V), "float32"), weights)
    pairs = translation.make_pairs(100, min_length=1, max_length=1, seed=translation.HELD_OUT_SEED, split="held_out")
    expected = float(np.mean(pairs.encoder_input[:, 0] == translation.DIGIT_OFFSET + 7))
    assert 0 < expected < 1
    assert metrics.run_check(model, check, {}) == {"kind": "sequence_accuracy", "value": expected}
    per_token = metrics.run_check(model, {**check, "per_token": True}, {})["value"]
    assert per_token == pytest.approx((expected + 1.0) / 2)  # the digit, then END is always right
