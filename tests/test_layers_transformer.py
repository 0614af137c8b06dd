"""Transformer layers (dlcourse.layers.transformer) against NumPy and keras.layers.MultiHeadAttention."""

import math

import keras
import numpy as np
import pytest

from dlcourse.layers.transformer import (MaskedGlobalAveragePooling1D, MultiHeadSelfAttention, PaddingMask,
                                         PositionalEncoding, TransformerEncoderBlock, multi_head_attention_parameters,
                                         scaled_dot_product_attention, sinusoidal_positional_encoding)


def numpy_attention(query, key, value, mask=None):
    """softmax(QKᵀ/√d_k)V (003 §12.2), one sequence at a time, padded keys dropped before the softmax."""
    scores = query @ key.T / math.sqrt(query.shape[-1])
    keep = np.ones(key.shape[0], bool) if mask is None else mask
    weights = np.zeros_like(scores)
    shifted = np.exp(scores[:, keep] - scores[:, keep].max(axis=1, keepdims=True))
    weights[:, keep] = shifted / shifted.sum(axis=1, keepdims=True)
    return weights @ value, weights


def numpy_positional_encoding(length, depth):
    """PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) = cos(pos/10000^(2i/d)) (003 §12.3), entry by entry."""
    table = np.zeros((length, depth))
    for pos in range(length):
        for i in range((depth + 1) // 2):
            angle = pos / 10000 ** (2 * i / depth)
            table[pos, 2 * i] = math.sin(angle)
            if 2 * i + 1 < depth:
                table[pos, 2 * i + 1] = math.cos(angle)
    return table


@pytest.fixture
def sequences():
    generator = np.random.default_rng(0)
    x = generator.normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], bool)  # the first sequence pre-padded by two steps
    return x, mask


def test_scaled_dot_product_attention_is_the_formula_and_masks_padded_keys():
    generator = np.random.default_rng(1)
    query, key, value = (generator.normal(size=(3, 4, 6)).astype("float32") for _ in range(3))
    mask = np.array([[1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 1]], bool)
    output, weights = scaled_dot_product_attention(query, key, value, mask=mask[:, None, :])
    output, weights = keras.ops.convert_to_numpy(output), keras.ops.convert_to_numpy(weights)
    for index in range(3):
        expected_output, expected_weights = numpy_attention(query[index], key[index], value[index], mask[index])
        np.testing.assert_allclose(weights[index], expected_weights, atol=1e-6)
        np.testing.assert_allclose(output[index], expected_output, atol=1e-5)
    assert np.all(weights[~np.broadcast_to(mask[:, None, :], weights.shape)] == 0)  # padded keys get nothing
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    unmasked, _ = scaled_dot_product_attention(query, key, value)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(unmasked)[0], numpy_attention(query[0], key[0], value[0])[0],
                               atol=1e-5)
    _, all_masked = scaled_dot_product_attention(query, key, value, mask=np.zeros((3, 1, 4), bool))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(all_masked), 0.25, atol=1e-6)  # finite, uniform


@pytest.mark.parametrize("length, depth", [(50, 16), (7, 5)])
def test_positional_encoding_is_the_handbook_formula(length, depth):
    table = keras.ops.convert_to_numpy(sinusoidal_positional_encoding(length, depth))
    np.testing.assert_allclose(table, numpy_positional_encoding(length, depth), atol=1e-5)
    x = np.random.default_rng(2).normal(size=(2, length, depth)).astype("float32")
    layer = PositionalEncoding()
    added = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(added - x, np.broadcast_to(table, x.shape), atol=1e-5)
    assert layer.count_params() == 0  # fixed, not learned


@pytest.mark.parametrize("num_heads, key_dim", [(2, 4), (4, 2), (3, 5)])
def test_hand_written_attention_equals_keras_multi_head_attention_on_the_same_weights(sequences, num_heads, key_dim):
    x, mask = sequences
    reference = keras.layers.MultiHeadAttention(num_heads, key_dim)
    key_mask = np.broadcast_to(mask[:, None, :], (2, 5, 5))  # every query, padded keys masked
    expected, expected_scores = reference(x, x, attention_mask=key_mask, return_attention_scores=True)
    layer = MultiHeadSelfAttention(num_heads, key_dim)
    layer.build(x.shape)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in reference.get_weights()]
    layer.set_weights(reference.get_weights())
    output, scores = layer(x, mask, return_attention_scores=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(output), keras.ops.convert_to_numpy(expected), atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores), keras.ops.convert_to_numpy(expected_scores),
                               atol=1e-5)
    plain, plain_scores = reference(x, x, return_attention_scores=True)
    mine, mine_scores = layer(x, return_attention_scores=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(plain), atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mine_scores), keras.ops.convert_to_numpy(plain_scores),
                               atol=1e-5)
    # Q, K, V projections d·(h·k) + h·k each, output projection (h·k)·d + d
    expected_count = 3 * (8 * num_heads * key_dim + num_heads * key_dim) + num_heads * key_dim * 8 + 8
    assert layer.count_params() == reference.count_params() == expected_count
    assert multi_head_attention_parameters(8, num_heads, key_dim) == expected_count


def test_attention_parameters_are_four_square_projections_when_heads_times_key_dim_is_d():
    for model_dim, num_heads in [(32, 2), (64, 8), (128, 4)]:
        assert multi_head_attention_parameters(model_dim, num_heads, model_dim // num_heads) == \
            4 * (model_dim * model_dim + model_dim)
    assert multi_head_attention_parameters(32, 2, 16) == 4_224


def test_encoder_block_parameters_residuals_and_padding(sequences):
    x, mask = sequences
    block = TransformerEncoderBlock(num_heads=2, ff_dim=6, dropout_rate=0.0)
    outputs = keras.ops.convert_to_numpy(block(x, mask.astype("float32")))
    d, ff = 8, 6
    # attention 4·(d·d + d), two LayerNorms 2·2d, feed-forward d·ff + ff + ff·d + d
    assert block.count_params() == 4 * (d * d + d) + 2 * 2 * d + (d * ff + ff + ff * d + d)
    assert block.attention.key_dim == 4
    np.testing.assert_allclose(outputs.mean(axis=-1), 0.0, atol=1e-5)  # post-norm: the last step is a LayerNorm
    # changing the padded steps leaves the real steps unchanged: they are masked out of every key
    changed = x.copy()
    changed[0, :2] = 100.0
    again = keras.ops.convert_to_numpy(block(changed, mask.astype("float32")))
    np.testing.assert_allclose(again[0, 2:], outputs[0, 2:], atol=1e-5)
    np.testing.assert_allclose(again[1], outputs[1], atol=1e-6)
    _, weights = block(x, mask.astype("float32"), return_attention_scores=True)
    assert keras.ops.convert_to_numpy(weights).shape == (2, 2, 5, 5)


def test_padding_mask_and_masked_mean():
    tokens = np.array([[0, 0, 5, 7], [3, 4, 5, 6], [0, 0, 0, 0]], "int32")
    mask = keras.ops.convert_to_numpy(PaddingMask()(tokens))
    np.testing.assert_array_equal(mask, tokens != 0)
    x = np.arange(24, dtype="float32").reshape(3, 4, 2)
    pooled = keras.ops.convert_to_numpy(MaskedGlobalAveragePooling1D()(x, mask))
    np.testing.assert_allclose(pooled[0], x[0, 2:].mean(axis=0))
    np.testing.assert_allclose(pooled[1], x[1].mean(axis=0))
    np.testing.assert_array_equal(pooled[2], 0.0)  # no real token: zeros, not 0/0


def test_layers_round_trip_through_their_config():
    for layer in (PaddingMask(pad_index=3), PositionalEncoding(), MultiHeadSelfAttention(3, 5),
                  TransformerEncoderBlock(num_heads=4, ff_dim=7, key_dim=3, dropout_rate=0.2),
                  MaskedGlobalAveragePooling1D()):
        config = layer.get_config()
        clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(clone) is type(layer) and clone.get_config() == config
