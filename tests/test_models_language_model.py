"""Lab 22's pieces: the ``corpus`` dataset, the character LSTM builder, weight tying, perplexity and sampling."""

import gzip
import textwrap

import keras
import numpy as np
import pytest

import fresh_process
import dlcourse  # noqa: F401  (registers the custom layers)
from dlcourse import artifacts, data
from dlcourse.data import characters
from dlcourse.grading import manifest, metrics
from dlcourse.layers.language import TiedEmbedding
from dlcourse.models.language_model import (build_char_language_model, mean_cross_entropy, perplexity,
                                            sample_ids, sampling_probabilities)
from contract import make_contract_test

# Default: Embedding(60, 128) 7,680 + LSTM(128) 4·128·(128 + 128 + 1) = 131,584 + Dense(60) 7,740.
CONTRACT_CASES = {"char_language_model": (dict(vocab_size=12, embedding_dim=4, units=4), 147_004)}
test_builder_contract = make_contract_test(CONTRACT_CASES)


def softmax(z):
    z = np.asarray(z, dtype="float64")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def lstm_parameters(inputs, units):
    return 4 * units * (inputs + units + 1)


# -- the corpus ----------------------------------------------------------------------------------------

def test_corpus_text_splits_and_vocabulary():
    text = characters.corpus_text()
    assert (len(text), text.count("\n")) == (196_818, 1_533)  # Genesis: 1,533 verses, one per line
    assert text.startswith("In the beginning God created the heaven and the earth.\n")
    assert characters.VOCABULARY == "".join(sorted(set(text))) and len(characters.VOCABULARY) == 60
    train, test = characters.split_text("train"), characters.split_text("test")
    assert train + test == text and len(train) == int(0.9 * len(text))  # contiguous, the end held out
    assert data.class_names("corpus") == list(characters.VOCABULARY)
    assert characters.decode(characters.encode(test[:500])) == test[:500]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        characters.encode("Quixote")  # no capital Q in Genesis
    # The file shipped is the gzip the docstring names, small enough for the package.
    assert characters.CORPUS_FILE.stat().st_size < 300_000
    assert gzip.decompress(characters.CORPUS_FILE.read_bytes()).decode("ascii") == text


def test_load_corpus_gives_windows_and_next_characters():
    x, y = data.load("corpus", "train", sequence_length=50, stride=25)
    ids = characters.encode(characters.split_text("train"))
    assert x.dtype == np.int32 and y.dtype == np.int64 and x.shape == y.shape and x.shape[1] == 50
    assert len(x) == len(range(0, len(ids) - 50, 25))
    np.testing.assert_array_equal(x[3], ids[75:125])
    np.testing.assert_array_equal(y[3], ids[76:126])  # the next character at every position
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    x_test, _ = data.load("corpus", "test")  # default: windows of 100, no overlap
    assert x_test.shape == ((len(characters.split_text("test")) - 1) // 100, 100)
    assert int(x.max()) < 60 and int(x.min()) >= 0
    with pytest.raises(ValueError, match="takes no option"):
        data.load("corpus", "train", num_words=10)


# -- the builder and weight tying ----------------------------------------------------------------------

@pytest.mark.parametrize("vocab, dim, units", [(60, 16, 16), (30, 8, 12)])
def test_parameter_counts_by_formula_and_tying_saves_the_dense_kernel(vocab, dim, units):
    plain = build_char_language_model(vocab_size=vocab, embedding_dim=dim, units=units)
    tied = build_char_language_model(vocab_size=vocab, embedding_dim=dim, units=units, tie_weights=True)
    recurrent = lstm_parameters(dim, units)
    assert plain.count_params() == vocab * dim + recurrent + units * vocab + vocab
    projection = 0 if units == dim else units * dim + dim  # the LSTM state mapped to the embedding's width
    assert tied.count_params() == vocab * dim + recurrent + projection + vocab  # the bias of the tied layer
    if units == dim:
        assert plain.count_params() - tied.count_params() == vocab * dim  # exactly the Dense kernel
    assert [type(layer).__name__ for layer in tied.layers].count("TiedEmbedding") == 1  # one layer, used twice


def test_tied_logits_are_the_embedding_matrix_transposed():
    layer = TiedEmbedding(7, 3)
    ids = np.array([[0, 6, 2]], dtype="int32")
    looked_up = np.asarray(layer(ids))
    embeddings, bias = (np.asarray(weight) for weight in layer.get_weights())
    np.testing.assert_allclose(looked_up[0], embeddings[[0, 6, 2]])
    layer.set_weights([embeddings, np.arange(7, dtype="float32")])
    h = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(layer(h, reverse=True)), h @ embeddings.T + np.arange(7), rtol=1e-5,
                               atol=1e-6)


FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import dlcourse
    model = keras.saving.load_model(sys.argv[1], safe_mode=True)  # no custom_objects
    ids = np.load(sys.argv[2])
    print(json.dumps({"logits": np.asarray(model.predict(ids, verbose=0)).ravel().tolist(),
                      "layers": [type(layer).__name__ for layer in model.layers]}))
""")


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_tied_model_reloads_in_a_fresh_process_after_import_dlcourse(tmp_path):
    model = build_char_language_model(vocab_size=20, embedding_dim=6, units=6, tie_weights=True)
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])
    ids = rng.integers(0, 20, size=(3, 9)).astype("int32")
    np.save(tmp_path / "ids.npy", ids)
    path = artifacts.save_model(model, tmp_path / "char_lm_tied.h5")
    reply = fresh_process.run_json(FRESH_PROCESS, path, tmp_path / "ids.npy")
    assert reply["layers"] == ["InputLayer", "TiedEmbedding", "LSTM"]
    np.testing.assert_allclose(reply["logits"], model.predict(ids, verbose=0).ravel(), rtol=1e-5, atol=1e-6)


# -- perplexity ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_model():
    model = build_char_language_model(vocab_size=11, embedding_dim=5, units=5)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(scale=0.7, size=w.shape) for w in model.get_weights()])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.integers(0, 11, size=(37, 6)).astype("int32")
    y = rng.integers(0, 11, size=(37, 6)).astype("int64")
    return model, x, y


def test_perplexity_is_exp_of_the_keras_loss(small_model):
    model, x, y = small_model
    keras_loss = model.evaluate(x, y, batch_size=16, verbose=0)  # 16 + 16 + 5: uneven batches
    assert perplexity(model, x, y, batch_size=10) == pytest.approx(np.exp(keras_loss), rel=1e-5)
    # ... and of the mean -log softmax(logits)[target], computed here by hand.
    logits = np.asarray(model.predict(x, verbose=0), dtype="float64")
    by_hand = -np.log(softmax(logits)[np.arange(37)[:, None], np.arange(6)[None, :], y]).mean()
    assert mean_cross_entropy(logits, y) == pytest.approx(by_hand, rel=1e-9)
    assert perplexity(model, x, y) == pytest.approx(np.exp(by_hand), rel=1e-5)


def test_a_uniform_model_has_the_vocabulary_size_as_perplexity(small_model):
    _, x, y = small_model
    model = build_char_language_model(vocab_size=11, embedding_dim=5, units=5)
    dense = model.get_layer("logits")
    dense.set_weights([np.zeros_like(weight) for weight in dense.get_weights()])  # every logit 0
    assert perplexity(model, x, y) == pytest.approx(11.0, rel=1e-6)


def test_the_grading_kind_measures_perplexity_on_the_held_out_windows(small_model):
    assert "perplexity" in manifest.CHECK_KINDS and metrics.KINDS["perplexity"] is metrics.perplexity
    model = build_char_language_model(vocab_size=60, embedding_dim=4, units=4)
    request = {"dataset": {"name": "corpus", "embedded": True}}
    measured = metrics.run_check(model, {"kind": "perplexity", "limit": 20}, request)
    x, y = data.load("corpus", "test")
    assert measured["value"] == pytest.approx(perplexity(model, x[:20], y[:20]), rel=1e-6)
    assert 40 < measured["value"] < 90  # untrained: near the 60 of a uniform guess


# -- sampling ------------------------------------------------------------------------------------------

def test_sampling_probabilities_are_softmax_of_logits_over_temperature():
    logits = np.random.default_rng(2).normal(size=(4, 9)) * 3
    for temperature in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(sampling_probabilities(logits, temperature), softmax(logits / temperature),
                                   rtol=1e-12)
    greedy = sampling_probabilities(logits, 0.0)
    np.testing.assert_array_equal(greedy, np.eye(9)[logits.argmax(axis=-1)])  # the T -> 0 limit
    np.testing.assert_allclose(sampling_probabilities(logits, 1e-3), greedy, atol=1e-6)
    with pytest.raises(ValueError):
        sampling_probabilities(logits, -1.0)


class FixedLogits:
    """A stand-in model whose next-character logits never change (``predict_on_batch`` only)."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype="float32")

    def predict_on_batch(self, ids):
        return np.broadcast_to(self.logits, (*ids.shape, len(self.logits)))


def test_sampled_frequencies_follow_softmax_over_temperature():
    logits = np.array([2.0, 1.0, 0.0, -1.0])
    draws = sample_ids(FixedLogits(logits), [0, 1], 4000, [0.5, 2.0], seed=5)
    for row, temperature in enumerate((0.5, 2.0)):
        frequencies = np.bincount(draws[row], minlength=4) / 4000
        np.testing.assert_allclose(frequencies, softmax(logits / temperature), atol=0.03)


def test_temperature_zero_sampling_is_the_argmax_continuation(small_model):
    model, x, _ = small_model
    seed_ids = x[0]
    generated = sample_ids(model, seed_ids, 8, [0.0, 1e-6], window=6)
    window, greedy = list(seed_ids), []
    for _ in range(8):
        next_id = int(np.asarray(model.predict(np.array([window[-6:]], dtype="int32"), verbose=0))[0, -1].argmax())
        greedy.append(next_id)
        window.append(next_id)
    np.testing.assert_array_equal(generated[0], greedy)
    np.testing.assert_array_equal(generated[1], greedy)  # a tiny temperature is the argmax too
