"""Recurrent builders (dlcourse.models.recurrent): parameter counts, merge modes, the contract."""

import numpy as np
import pytest

import keras

from contract import check_builder_contract, make_contract_test
from dlcourse.models.recurrent import (DEFAULT_SENTIMENT_MODELS, SENTIMENT_VARIANTS, build_sentiment_model,
                                       build_sequence_predictor, build_window_mlp)
from dlcourse.scratch import cells

TINY_SENTIMENT = dict(vocab_size=20, sequence_length=5, embedding_dim=4, units=3)

CONTRACT_CASES = {
    # Embedding 20000·128 = 2,560,000 + LSTM 4·64·(128 + 64 + 1) = 49,408 + Dense 65
    "sentiment_model": (TINY_SENTIMENT, 2_609_473),
    "sequence_predictor": (dict(sequence_length=4, units=3), 1_121),  # 32·(1+32+1) + 33
    "window_mlp": (dict(window=4, units=3), 705),  # 20·32 + 32 + 33
}

test_builder_contract = make_contract_test(CONTRACT_CASES)

# Defaults of lab 12's models: 2,560,065 (embedding + output unit) + the recurrent part.
VARIANT_PARAMETERS = {
    "rnn": 2_560_065 + 12_352,
    "lstm": 2_560_065 + 49_408,
    "gru": 2_560_065 + 37_248,  # Keras reset_after=True: 3·64·(128 + 64 + 2)
    "bilstm": 2_560_065 + 2 * 49_408,  # summed directions: the output unit still has 64 inputs
    "birnn": 2_560_065 + 64 + 2 * 12_352,  # concatenated: the output unit has 128 inputs
    "bigru": 2_560_065 + 64 + 2 * 37_248,  # concatenated, as the BiRNN
    "peephole": 2_560_065 + 49_408 + 3 * 64,  # the LSTM plus three diagonal peepholes (001 Q4)
}


@pytest.mark.parametrize("variant", sorted(SENTIMENT_VARIANTS))
def test_variant_parameter_counts(variant):
    model = build_sentiment_model(**SENTIMENT_VARIANTS[variant])
    assert model.count_params() == VARIANT_PARAMETERS[variant]
    cell = SENTIMENT_VARIANTS[variant]["cell"]
    formula = {"rnn": cells.rnn_parameter_count, "lstm": cells.lstm_parameter_count,
               "gru": cells.gru_parameter_count,
               "peephole": cells.peephole_lstm_parameter_count}[cell](128, 64)
    directions = 2 if SENTIMENT_VARIANTS[variant].get("bidirectional") else 1
    recurrent = model.get_layer(f"sentiment_model_{'bi' * (directions - 1)}{cell}1")
    assert recurrent.count_params() == directions * formula


@pytest.mark.parametrize("variant", ["bilstm", "birnn", "bigru", "peephole"])  # wrappers, the custom cell
def test_bidirectional_and_peephole_variants_keep_the_contract(variant, tmp_path):
    check_builder_contract("sentiment_model", {**TINY_SENTIMENT, **SENTIMENT_VARIANTS[variant]}, None, tmp_path)


def test_default_lab12_models_are_all_but_the_peephole_lstm():
    assert DEFAULT_SENTIMENT_MODELS == ("rnn", "lstm", "gru", "bilstm", "birnn", "bigru")
    assert set(SENTIMENT_VARIANTS) == set(DEFAULT_SENTIMENT_MODELS) | {"peephole"}
    model = build_sentiment_model(**SENTIMENT_VARIANTS["bigru"])
    assert model.get_layer("sentiment_model_bigru1").output.shape == (None, 128)  # 2 x 64 concatenated


def test_keras_io_bidirectional_lstm_example_parameter_count():
    """keras.io "Bidirectional LSTM on IMDB": two stacked BiLSTM(64) layers, 2,757,761 parameters."""
    model = build_sentiment_model(cell="lstm", bidirectional=True, num_layers=2)
    assert model.count_params() == 2_757_761
    assert model.get_layer("sentiment_model_bilstm1").output.shape == (None, 200, 128)


def test_sum_merge_is_forward_plus_backward():
    """The notes' BiLSTM p_t = p_tf + p_tb: merge_mode="sum" adds the two directions' outputs."""
    keras.utils.set_random_seed(0)
    summed = build_sentiment_model(cell="lstm", bidirectional=True, merge_mode="sum", **TINY_SENTIMENT)
    concat = build_sentiment_model(cell="lstm", bidirectional=True, merge_mode="concat", **TINY_SENTIMENT)
    tokens = np.random.default_rng(0).integers(0, 20, size=(3, 5)).astype("int32")
    for model in (summed, concat):
        model.get_layer("sentiment_model_embedding").set_weights(
            summed.get_layer("sentiment_model_embedding").get_weights())
    concat.get_layer("sentiment_model_bilstm1").set_weights(summed.get_layer("sentiment_model_bilstm1").get_weights())

    def features(model):
        return keras.Model(model.input, model.get_layer("sentiment_model_bilstm1").output)(tokens).numpy()

    both = features(concat)  # (3, 6) = [forward | backward]
    np.testing.assert_allclose(features(summed), both[:, :3] + both[:, 3:], rtol=1e-5, atol=1e-6)


def test_outputs_are_probabilities_and_layers_are_named():
    model = build_sentiment_model(cell="gru", num_layers=2, dropout_rate=0.5, **TINY_SENTIMENT)
    names = [layer.name for layer in model.layers]
    assert names == ["sentiment_model_tokens", "sentiment_model_embedding", "sentiment_model_gru1",
                     "sentiment_model_gru2", "sentiment_model_dropout", "sentiment_model_output"]
    assert model.inputs[0].dtype == "int32"
    probabilities = model(np.ones((2, 5), "int32")).numpy()
    assert probabilities.shape == (2, 1) and np.all((probabilities > 0) & (probabilities < 1))


def test_validation_errors():
    with pytest.raises(ValueError, match="cell"):
        build_sentiment_model(cell="transformer")
    with pytest.raises(ValueError, match="merge_mode"):
        build_sentiment_model(bidirectional=True, merge_mode="max")
    with pytest.raises(ValueError, match="num_layers"):
        build_sentiment_model(num_layers=0)
    with pytest.raises(ValueError, match="dropout_rate"):
        build_sentiment_model(dropout_rate=1.0)


def test_series_builders_shapes():
    assert build_sequence_predictor(cell="lstm", sequence_length=7, units=2).output.shape == (None, 1)
    assert build_sequence_predictor(cell="lstm", units=2).count_params() == cells.lstm_parameter_count(1, 2) + 3
    assert build_window_mlp(window=7).input.shape == (None, 7)


def test_mask_zero_ignores_front_padding():
    """With mask_zero=True the padded review scores exactly like the unpadded one."""
    keras.utils.set_random_seed(0)
    model = build_sentiment_model(cell="lstm", mask_zero=True, vocab_size=20, sequence_length=None,
                                  embedding_dim=4, units=3)
    padded = model(np.array([[0, 0, 1, 4, 5]], "int32")).numpy()
    unpadded = model(np.array([[1, 4, 5]], "int32")).numpy()
    np.testing.assert_allclose(padded, unpadded, rtol=1e-6, atol=1e-7)
