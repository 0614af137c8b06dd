"""Lab 23: the Transformer encoder classifier (003 §12).

The handbook 003, chapter 3, §12 ("RNN vs Transformers") gives self-attention and the sinusoidal
positional encoding, and its §7.2 classifies sentiment with a Transformer. This is that classifier
in the shape of lab 12's models (integer word ids in, one sigmoid out, a ``keras.layers.Embedding``
first), so ``dlcourse predict-text`` and the grader's text ``accuracy`` check use it unchanged.
"""

import keras
import numpy as np

from dlcourse.layers.transformer import (MaskedGlobalAveragePooling1D, PaddingMask, PositionalEncoding,
                                         TransformerEncoderBlock)

__all__ = ["build_transformer_classifier", "attention_weights"]


def build_transformer_classifier(*, vocab_size=20000, sequence_length=200, embedding_dim=32, num_heads=2, ff_dim=32,
                                 num_blocks=1, dropout_rate=0.1, name="transformer_classifier"):
    """Token embedding + sinusoidal positional encoding -> encoder block(s) -> mean over tokens -> sigmoid.

    Sizes follow the keras.io "Text classification with Transformer" example (20,000 words, 200
    tokens, 32-d embedding, 2 heads, 32 feed-forward units, one block, dropout 0.1); that example
    learns its position embeddings, this one adds the handbook's sinusoidal encoding (003 §12.3) to the
    embeddings scaled by √d (Vaswani et al. 2017, §3.4).
    Padding (index 0) is masked (:class:`~dlcourse.layers.transformer.PaddingMask`): no token attends to it
    and the mean skips it.

    Args:
        vocab_size: number of word indices (``num_words``, including the reserved 0 padding, 1 start,
            2 out-of-vocabulary).
        sequence_length: tokens per review (fixed: the grader and ``predict-text`` read it).
        embedding_dim: model width d (the embedding size).
        num_heads: attention heads h; each has d / h dimensions.
        ff_dim: hidden units of each block's feed-forward network.
        num_blocks: stacked encoder blocks.
        dropout_rate: dropout inside the blocks and before the output unit.
        name: model name and layer-name prefix.

    Returns:
        An uncompiled ``keras.Model`` mapping int32 token ids ``(batch, sequence_length)`` to the
        probability that the review is positive ``(batch, 1)``.
    """
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be at least 1, got {num_blocks}")
    if vocab_size < 4:
        raise ValueError(f"vocab_size must leave room for the reserved indices 0-2, got {vocab_size}")
    tokens = keras.Input(shape=(sequence_length,), dtype="int32", name=f"{name}_tokens")
    padding = PaddingMask(name=f"{name}_padding")(tokens)  # (batch, T): 1 = word, 0 = padding
    x = keras.layers.Embedding(vocab_size, embedding_dim, name=f"{name}_embedding")(tokens)
    x = PositionalEncoding(scale_inputs=True, name=f"{name}_positions")(x)  # x·√d + PE
    for index in range(1, num_blocks + 1):
        x = TransformerEncoderBlock(num_heads, ff_dim, dropout_rate=dropout_rate,
                                    name=f"{name}_block{index}")(x, padding)
    x = MaskedGlobalAveragePooling1D(name=f"{name}_pooling")(x, padding)  # (batch, d)
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(x)
    return keras.Model(tokens, outputs, name=name)


def attention_weights(model, tokens, block=1):
    """The ``(batch, heads, T, T)`` attention weights of encoder block ``block`` of a classifier built by
    :func:`build_transformer_classifier` (inference mode) for int token ids ``(batch, T)``."""
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerEncoderBlock)]
    embedding = next(layer for layer in model.layers if isinstance(layer, keras.layers.Embedding))
    positions = next(layer for layer in model.layers if isinstance(layer, PositionalEncoding))
    tokens = keras.ops.convert_to_tensor(np.asarray(tokens, dtype="int32"))
    padding = next(layer for layer in model.layers if isinstance(layer, PaddingMask))(tokens)
    x = positions(embedding(tokens))
    for layer in blocks[:block - 1]:
        x = layer(x, padding, training=False)
    _, weights = blocks[block - 1](x, padding, training=False, return_attention_scores=True)
    return keras.ops.convert_to_numpy(weights)
