"""Lab 21: encoder-decoder RNNs without and with attention (003 Ex. 7.4, 003 L1830; 003 §11.1, 003 L1234).

Both models map ``[encoder_tokens, decoder_tokens]`` (int, any length, PAD = 0 masked) to the
next-token probabilities at every decoder step, ``(batch, steps, vocab_size)``, and are trained with
teacher forcing (:func:`dlcourse.data.translation.teacher_forcing_inputs`) and decoded greedily
(:func:`dlcourse.sequence_decoding.greedy_decode`).

- :func:`build_seq2seq`: the handbook's "thought vector" model (Sutskever et al. 2014, Cho et al.
  2014): the encoder RNN's final state is the decoder RNN's initial state, and that one vector is
  all the decoder learns about the input.
- :func:`build_seq2seq_attention`: the same, plus attention over every encoder output at every
  decoder step (Luong et al. 2015's "global attention": the context vector is concatenated with
  the decoder's output before the softmax layer). ``attention="additive"`` scores with Bahdanau et
  al. 2015's ``v·tanh(W_q s_t + W_k h_j)`` (two bias-free Dense projections and Keras'
  ``AdditiveAttention``, whose ``scale`` is ``v``); ``attention="dot"`` with Luong's ``s_t·h_j``
  (Keras' ``Attention``). :func:`attention_scores_model` returns the weights ``a_tj``.

Parameter counts (V vocabulary, E embedding, U units; GRU with Keras' reset_after biases):
plain ``2VE + 2·3U(E + U + 2) + (UV + V)``; additive attention adds ``2U² + U`` (W_q, W_k, v) and
``UV`` (the output layer reads [s_t; c_t]); dot attention adds only the ``UV``.
"""

import keras

from dlcourse.data.translation import VOCAB_SIZE
from dlcourse.layers.transformer import PaddingMask

__all__ = ["ATTENTION_KINDS", "CELLS", "attention_scores_model", "build_seq2seq", "build_seq2seq_attention"]

CELLS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
ATTENTION_KINDS = ("additive", "dot")


def _encoder_decoder(vocab_size, embedding_dim, units, cell, name):
    """Inputs, encoder outputs (all steps), decoder outputs (initialised with the encoder's final state)."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    encoder_tokens = keras.Input(shape=(None,), dtype="int32", name=f"{name}_encoder_tokens")
    decoder_tokens = keras.Input(shape=(None,), dtype="int32", name=f"{name}_decoder_tokens")
    # Explicit padding masks (1 = token, 0 = PAD), not Embedding(mask_zero=True): Keras 3.15 records
    # mask_zero's mask as a NotEqual operation that a saved .h5 cannot reload.
    encoder_mask = PaddingMask(name=f"{name}_encoder_mask")(encoder_tokens)
    decoder_mask = PaddingMask(name=f"{name}_decoder_mask")(decoder_tokens)
    x = keras.layers.Embedding(vocab_size, embedding_dim, name=f"{name}_encoder_embedding")(encoder_tokens)
    encoded = CELLS[cell](units, return_sequences=True, return_state=True, name=f"{name}_encoder")(x, mask=encoder_mask)
    encoder_outputs, states = encoded[0], list(encoded[1:])  # GRU: [h]; LSTM: [h, c]
    y = keras.layers.Embedding(vocab_size, embedding_dim, name=f"{name}_decoder_embedding")(decoder_tokens)
    decoder_outputs = CELLS[cell](units, return_sequences=True, name=f"{name}_decoder")(y, mask=decoder_mask,
                                                                                          initial_state=states)
    return [encoder_tokens, decoder_tokens], (encoder_outputs, encoder_mask), (decoder_outputs, decoder_mask)


def build_seq2seq(*, vocab_size=VOCAB_SIZE, embedding_dim=32, units=64, cell="gru", name="seq2seq"):
    """The encoder-decoder without attention: the encoder's final state is the whole message."""
    inputs, _, (decoder_outputs, _) = _encoder_decoder(vocab_size, embedding_dim, units, cell, name)
    outputs = keras.layers.Dense(vocab_size, activation="softmax", name=f"{name}_output")(decoder_outputs)
    return keras.Model(inputs, outputs, name=name)


def build_seq2seq_attention(*, vocab_size=VOCAB_SIZE, embedding_dim=32, units=64, cell="gru", attention="additive",
                            name="seq2seq_attention"):
    """The encoder-decoder with Bahdanau (``"additive"``) or Luong dot (``"dot"``) attention."""
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")
    inputs, (encoder_outputs, encoder_mask), (decoder_outputs, decoder_mask) = _encoder_decoder(
        vocab_size, embedding_dim, units, cell, name)
    if attention == "additive":
        query = keras.layers.Dense(units, use_bias=False, name=f"{name}_query")(decoder_outputs)     # W_q s_t
        key = keras.layers.Dense(units, use_bias=False, name=f"{name}_key")(encoder_outputs)         # W_k h_j
        layer = keras.layers.AdditiveAttention(use_scale=True, name=f"{name}_attention")            # v (scale)
    else:
        query, key = decoder_outputs, encoder_outputs
        layer = keras.layers.Attention(score_mode="dot", name=f"{name}_attention")
    # The value mask as (batch, 1, encoder steps): Keras 3.10 applies a (batch, steps) one to the scores
    # unbroadcast (wrong weights, or a shape error); 3.15 expands it itself, and takes this shape as well.
    value_mask = keras.layers.Reshape((1, -1), name=f"{name}_value_mask")(encoder_mask)
    context, _ = layer([query, encoder_outputs, key], mask=[decoder_mask, value_mask],  # no weight on PAD
                       return_attention_scores=True)  # c_t = sum_j a_tj h_j
    combined = keras.layers.Concatenate(name=f"{name}_concat")([decoder_outputs, context])
    outputs = keras.layers.Dense(vocab_size, activation="softmax", name=f"{name}_output")(combined)
    return keras.Model(inputs, outputs, name=name)


def attention_scores_model(model):
    """A model sharing ``model``'s layers that returns its attention weights, ``(batch, decoder steps,
    encoder steps)``; each row sums to 1 over the (unpadded) encoder steps."""
    layer = next(layer for layer in model.layers if isinstance(layer, (keras.layers.Attention,
                                                                        keras.layers.AdditiveAttention)))
    return keras.Model(model.inputs, layer.output[1], name=f"{model.name}_scores")
