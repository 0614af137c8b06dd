"""Transformer layers: scaled dot-product attention, sinusoidal positional encoding, encoder block (003 §12).

The handbook 003, chapter 3, §12.2 prints self-attention as Attention(Q, K, V) = softmax(QKᵀ/√d_k)V
and §12.3 the sinusoidal encoding PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) =
cos(pos/10000^(2i/d)). Everything here is written out with ``keras.ops`` (no
``keras.layers.MultiHeadAttention``), so the lab can show the score matrix; the multi-head layer keeps
``keras.layers.MultiHeadAttention``'s weight shapes and order, so that layer's weights load into it
unchanged (tests/test_layers_transformer.py checks equal outputs and scores). The encoder block is
the "Attention is all you need" one (post-norm): x = LayerNorm(x + MHA(x)), then
x = LayerNorm(x + FFN(x)). Padding (token 0) is masked out of the keys through an explicit
``padding_mask`` input (:class:`PaddingMask`), not ``Embedding(mask_zero=True)``: a Keras 3.15 model
with ``mask_zero`` saved as ``.h5`` does not reload (its graph holds a ``NotEqual`` operation).
"""

import math

import keras
from keras import ops

__all__ = ["scaled_dot_product_attention", "sinusoidal_positional_encoding", "multi_head_attention_parameters",
           "PaddingMask", "PositionalEncoding", "MultiHeadSelfAttention", "TransformerEncoderBlock", "MaskedGlobalAveragePooling1D"]

# Added to the scores of masked keys: exp(-1e9) is 0 in float32, yet a row with every key masked stays
# finite (uniform weights) instead of 0/0; keras.layers.Softmax uses the same constant.
MASKED_SCORE = -1e9


def scaled_dot_product_attention(query, key, value, mask=None):
    """softmax(QKᵀ/√d_k)V (003 §12.2) over the last two axes: ``(..., T_q, d_k)``, ``(..., T_k, d_k)``,
    ``(..., T_k, d_v)`` -> ``(output (..., T_q, d_v), weights (..., T_q, T_k))``.

    ``mask`` (broadcastable to ``(..., T_q, T_k)``, True = may attend) removes keys from the softmax.
    """
    depth = ops.cast(ops.shape(query)[-1], query.dtype)
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ops.sqrt(depth)  # (..., T_q, T_k)
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.cast(MASKED_SCORE, scores.dtype))
    weights = ops.softmax(scores, axis=-1)  # each row sums to 1 over the keys
    return ops.matmul(weights, value), weights


def sinusoidal_positional_encoding(length, depth, dtype="float32"):
    """The ``(length, depth)`` table of 003 §12.3: column 2i holds sin(pos/10000^(2i/d)), column 2i+1
    cos(pos/10000^(2i/d)) (the same frequency for both columns of a pair)."""
    positions = ops.cast(ops.arange(length), "float32")[:, None]  # (length, 1)
    columns = ops.arange(depth)
    pair_start = ops.cast(columns - columns % 2, "float32")  # 2i for both columns 2i and 2i+1
    angles = positions / ops.power(10000.0, pair_start / float(depth))  # (length, depth)
    table = ops.where(columns % 2 == 0, ops.sin(angles), ops.cos(angles))
    return ops.cast(table, dtype)


def multi_head_attention_parameters(model_dim, num_heads, key_dim, value_dim=None):
    """Weights of a multi-head attention layer: Q and K projections d·(h·k) + h·k each, V d·(h·v) + h·v,
    the output projection (h·v)·d + d. With h·k = h·v = d this is 4·(d·d + d)."""
    value_dim = value_dim or key_dim
    return (2 * (model_dim * num_heads * key_dim + num_heads * key_dim)
            + model_dim * num_heads * value_dim + num_heads * value_dim + num_heads * value_dim * model_dim + model_dim)


@keras.saving.register_keras_serializable(package="dlcourse")
class PaddingMask(keras.layers.Layer):
    """Token ids ``(batch, T)`` -> float ``(batch, T)``: 1 for a real token, 0 for ``pad_index``."""

    def __init__(self, pad_index=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_index = int(pad_index)

    def call(self, tokens):
        return ops.cast(ops.not_equal(tokens, self.pad_index), "float32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "pad_index": self.pad_index}


@keras.saving.register_keras_serializable(package="dlcourse")
class PositionalEncoding(keras.layers.Layer):
    """Adds the sinusoidal encoding of 003 §12.3 to ``(batch, T, d)`` embeddings (no weights; any T).

    ``scale_inputs=True`` first multiplies the embeddings by √d, as Vaswani et al. (2017, §3.4) do:
    Keras' embeddings start within ±0.05 while the encoding's entries reach ±1, so unscaled the word
    order would drown the words at the start of training.
    """

    def __init__(self, scale_inputs=False, **kwargs):
        super().__init__(**kwargs)
        self.scale_inputs = bool(scale_inputs)

    def call(self, inputs):
        shape, depth = ops.shape(inputs), inputs.shape[-1]
        if self.scale_inputs:
            inputs = inputs * math.sqrt(depth)
        return inputs + sinusoidal_positional_encoding(shape[1], depth, dtype=inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale_inputs": self.scale_inputs}


@keras.saving.register_keras_serializable(package="dlcourse")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention written out: per head h, Q = xW_Qʰ + b, K = xW_Kʰ + b, V = xW_Vʰ + b,
    :func:`scaled_dot_product_attention`, then the heads are projected back to d together.

    The weights have ``keras.layers.MultiHeadAttention``'s shapes and order (query kernel
    ``(d, h, k)`` and bias ``(h, k)``, key, value, output kernel ``(h, k, d)`` and bias ``(d,)``), so
    ``layer.set_weights(mha.get_weights())`` copies a Keras layer into this one. ``padding_mask``
    ``(batch, T)`` (1 or True for real tokens) masks padded keys; ``return_attention_scores=True``
    also returns the ``(batch, h, T, T)`` weights.
    """

    def __init__(self, num_heads, key_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)

    def build(self, input_shape):
        model_dim = input_shape[-1]
        heads = (self.num_heads, self.key_dim)
        for part in ("query", "key", "value"):
            setattr(self, f"{part}_kernel", self.add_weight(name=f"{part}_kernel", shape=(model_dim, *heads),
                                                            initializer="glorot_uniform"))
            setattr(self, f"{part}_bias", self.add_weight(name=f"{part}_bias", shape=heads, initializer="zeros"))
        self.output_kernel = self.add_weight(name="output_kernel", shape=(*heads, model_dim),
                                             initializer="glorot_uniform")
        self.output_bias = self.add_weight(name="output_bias", shape=(model_dim,), initializer="zeros")

    def _project(self, inputs, kernel, bias):
        """(batch, T, d) -> (batch, heads, T, key_dim)."""
        return ops.transpose(ops.einsum("btd,dhk->bthk", inputs, kernel) + bias, (0, 2, 1, 3))

    def call(self, inputs, padding_mask=None, return_attention_scores=False):
        query = self._project(inputs, self.query_kernel, self.query_bias)
        key = self._project(inputs, self.key_kernel, self.key_bias)
        value = self._project(inputs, self.value_kernel, self.value_bias)
        key_mask = None if padding_mask is None else ops.cast(padding_mask, "bool")[:, None, None, :]  # (b, 1, 1, T_k)
        heads, weights = scaled_dot_product_attention(query, key, value, mask=key_mask)
        outputs = ops.einsum("bhtk,hkd->btd", heads, self.output_kernel) + self.output_bias
        return (outputs, weights) if return_attention_scores else outputs

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim}


@keras.saving.register_keras_serializable(package="dlcourse")
class TransformerEncoderBlock(keras.layers.Layer):
    """One encoder block (post-norm, as Vaswani et al. 2017): x = LayerNorm(x + Dropout(MHA(x))),
    then x = LayerNorm(x + Dropout(FFN(x))) with FFN = Dense(ff_dim, relu) -> Dense(d).

    ``key_dim`` defaults to d / num_heads (so h·k = d). ``padding_mask`` ``(batch, T)`` (1 = real
    token, from :class:`PaddingMask`) masks padded keys.
    """

    def __init__(self, num_heads, ff_dim, key_dim=None, dropout_rate=0.1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.key_dim = None if key_dim is None else int(key_dim)
        self.dropout_rate = float(dropout_rate)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        model_dim = input_shape[-1]
        key_dim = self.key_dim or max(1, math.ceil(model_dim / self.num_heads))
        self.attention = MultiHeadSelfAttention(self.num_heads, key_dim, name="attention")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=self.epsilon, name="attention_norm")
        self.hidden = keras.layers.Dense(self.ff_dim, activation="relu", name="ff_hidden")
        self.projection = keras.layers.Dense(model_dim, name="ff_output")
        self.ff_norm = keras.layers.LayerNormalization(epsilon=self.epsilon, name="ff_norm")
        self.dropout = keras.layers.Dropout(self.dropout_rate)
        self.attention.build(input_shape)
        self.attention_norm.build(input_shape)
        self.hidden.build(input_shape)
        self.projection.build((*input_shape[:-1], self.ff_dim))
        self.ff_norm.build(input_shape)

    def call(self, inputs, padding_mask=None, training=None, return_attention_scores=False):
        attended, weights = self.attention(inputs, padding_mask, return_attention_scores=True)
        x = self.attention_norm(inputs + self.dropout(attended, training=training))
        x = self.ff_norm(x + self.dropout(self.projection(self.hidden(x)), training=training))
        return (x, weights) if return_attention_scores else x

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim, "key_dim": self.key_dim,
                "dropout_rate": self.dropout_rate, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="dlcourse")
class MaskedGlobalAveragePooling1D(keras.layers.Layer):
    """Mean over the real tokens, ``(batch, T, d)`` and ``padding_mask`` ``(batch, T)`` -> ``(batch, d)``;
    a sequence with no real token gives zeros (``keras.layers.GlobalAveragePooling1D`` divides 0 by 0)."""

    def call(self, inputs, padding_mask=None):
        if padding_mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(padding_mask, inputs.dtype)[:, :, None]  # (batch, T, 1)
        return ops.sum(inputs * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return (inputs_shape[0], inputs_shape[-1])
