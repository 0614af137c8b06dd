"""The Transformer classifier (dlcourse.models.transformer): parameters by formula, padding, the contract."""

import keras
import numpy as np
import pytest

import fresh_process
from contract import make_contract_test
from dlcourse import artifacts
from dlcourse.layers.transformer import multi_head_attention_parameters
from dlcourse.models.transformer import attention_weights, build_transformer_classifier

TINY = dict(vocab_size=20, sequence_length=6, embedding_dim=8, num_heads=2, ff_dim=4)


def classifier_parameters(vocab_size, embedding_dim, num_heads, ff_dim, num_blocks=1):
    """Embedding V·d; per block attention 4·(d·d + d), two LayerNorms 2·2d, feed-forward d·f + f + f·d + d;
    the sigmoid unit d + 1 (the positional encoding has no weights)."""
    d, f = embedding_dim, ff_dim
    block = multi_head_attention_parameters(d, num_heads, d // num_heads) + 4 * d + (d * f + f + f * d + d)
    return vocab_size * d + num_blocks * block + d + 1


CONTRACT_CASES = {
    # 20000·32 = 640,000 + attention 4·(32·32 + 32) = 4,224 + LayerNorms 128 + FFN 2,112 + output 33
    "transformer_classifier": (TINY, 646_497),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def test_parameter_count_is_the_formula():
    assert classifier_parameters(20000, 32, 2, 32) == 646_497
    for sizes in [dict(vocab_size=50, embedding_dim=12, num_heads=3, ff_dim=5, num_blocks=2),
                  dict(vocab_size=30, embedding_dim=16, num_heads=4, ff_dim=8)]:
        model = build_transformer_classifier(sequence_length=7, **sizes)
        assert model.count_params() == classifier_parameters(**sizes)


def test_padding_is_invisible_and_attention_rows_are_distributions():
    model = build_transformer_classifier(**TINY)
    tokens = np.array([[0, 0, 0, 5, 6, 7], [3, 4, 5, 6, 7, 8]], "int32")
    before = model.predict(tokens, verbose=0)
    embedding = model.get_layer("transformer_classifier_embedding")
    table = embedding.get_weights()[0]
    table[0] = 50.0  # the padding row: masked out of every key and of the mean, so nothing changes
    embedding.set_weights([table])
    np.testing.assert_allclose(model.predict(tokens, verbose=0), before, atol=1e-6)
    weights = attention_weights(model, tokens)
    assert weights.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(weights[0, :, :, :3], 0.0)  # no query attends to padding


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_saved_classifier_reloads_in_a_fresh_process_with_safe_mode(tmp_path):
    model = build_transformer_classifier(**TINY, num_blocks=2)
    tokens = np.random.default_rng(0).integers(0, 20, size=(4, 6)).astype("int32")
    tokens[0, :4] = 0
    path = artifacts.save_model(model, tmp_path / "transformer_classifier.h5")
    np.save(tmp_path / "tokens.npy", tokens)
    script = ("import json, sys, numpy as np, dlcourse, keras\n"
              "model = keras.models.load_model(sys.argv[1], safe_mode=True)\n"
              "print(json.dumps(model.predict(np.load(sys.argv[2]), verbose=0).ravel().tolist()))\n")
    reloaded = fresh_process.run_json(script, path, tmp_path / "tokens.npy", timeout=180)
    np.testing.assert_allclose(reloaded, model.predict(tokens, verbose=0).ravel(), rtol=1e-5, atol=1e-6)
    keras.backend.clear_session()
