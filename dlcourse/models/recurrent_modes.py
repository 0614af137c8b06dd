"""Lab 20: one-to-many, many-to-many tagging and encoder-decoder RNNs (Unit III, "RNN Architectures").

The notes list five input/output configurations (000 L1254-L1270; 001 Q3; 003 §6.2): one-to-one,
one-to-many, many-to-one (lab 12), many-to-many of the same length and many-to-many of different
lengths. These builders are the three that no other lab builds, each a plain functional model with a
softmax over classes at every output step (probabilities, shape (batch, T, num_classes)).
Parameter counts use ``d`` for a layer's input features and ``u`` for its units; the recurrent
parts are ``dlcourse.scratch.cells``' formulas (LSTM 4u(d + u + 1), GRU 3u(d + u + 2)).
"""

import keras
import numpy as np

__all__ = ["build_one_to_many", "build_sequence_tagger", "build_encoder_decoder"]

TAGGER_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build_one_to_many(*, input_dim=13, sequence_length=8, units=64, num_classes=10, name="one_to_many"):
    """One input vector -> a sequence (003 §6.2 "One-to-many"; 000's image-captioning example).

    The input is encoded once (Dense, tanh), repeated ``sequence_length`` times (RepeatVector) and
    unrolled by an LSTM that emits one softmax per step:
    (batch, input_dim) -> (batch, u) -> (batch, T, u) -> (batch, T, u) -> (batch, T, num_classes).

    Parameters: Dense input_dim·u + u; LSTM 4u(u + u + 1); output Dense u·num_classes + num_classes.
    Defaults (13, T 8, u 64, 10 classes): 896 + 33,024 + 650 = 34,570.

    Args:
        input_dim: features of the single input (lab 20: one-hot start digit and step, 10 + 3).
        sequence_length: output steps T.
        units: u, of the encoding and of the LSTM.
        num_classes: classes per output step.
        name: model name.

    Returns:
        A model mapping (batch, input_dim) floats to (batch, T, num_classes) probabilities.
    """
    inputs = keras.Input(shape=(input_dim,), name=f"{name}_input")
    x = keras.layers.Dense(units, activation="tanh", name=f"{name}_encode")(inputs)  # (batch, u)
    x = keras.layers.RepeatVector(sequence_length, name=f"{name}_repeat")(x)  # (batch, T, u)
    x = keras.layers.LSTM(units, return_sequences=True, name=f"{name}_lstm")(x)  # (batch, T, u)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_step_output")(x)
    return keras.Model(inputs, outputs, name=name)


def build_sequence_tagger(*, vocab_size=20, embedding_dim=16, units=32, num_tags=3, cell="gru", mask_zero=False,
                          name="sequence_tagger"):
    """Many-to-many, synchronous: one tag per time step of a variable-length, zero-padded sequence
    (003 §6.2 "Many-to-many (synchronized)", sequence labeling; 000's named-entity example).

    (batch, T) -> Embedding (batch, T, e) -> recurrent layer, ``return_sequences=True`` (batch, T, u)
    -> Dense per step (batch, T, num_tags); T may differ between batches. The padding (token 0)
    follows each sequence, so a forward RNN reads every real token before any padding and the real
    steps' outputs do not depend on it; the padded steps are left out of the loss and the metrics by
    per-step sample weights (1 for a token, 0 for padding: :func:`padding_weights`, what lab 20 passes
    to ``fit``/``evaluate`` with a loss reduced over the weights). ``mask_zero=True`` puts Keras'
    own mask in the model instead (the same loss; Keras 3.10's compiled metrics ignore that mask),
    but Keras 3.10-3.15 record it as a ``NotEqual`` operation that their ``.h5`` loader cannot
    rebuild, so lab 20 keeps it off.

    Parameters: Embedding vocab_size·e; GRU 3u(e + u + 2) (Keras' reset_after=True; LSTM
    4u(e + u + 1)); Dense u·num_tags + num_tags. Defaults (20, e 16, u 32, GRU, 3 tags):
    320 + 4,800 + 99 = 5,219.

    Args:
        vocab_size: tokens, 0 being the padding.
        embedding_dim: e.
        units: u.
        num_tags: tags per step.
        cell: ``"gru"`` or ``"lstm"``.
        mask_zero: Keras' padding mask inside the model (not loadable from ``.h5``).
        name: model name.

    Returns:
        A model mapping (batch, T) int tokens to (batch, T, num_tags) probabilities.
    """
    if cell not in TAGGER_CELLS:
        raise ValueError(f"cell must be one of {sorted(TAGGER_CELLS)}, not {cell!r}")
    inputs = keras.Input(shape=(None,), dtype="int32", name=f"{name}_tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_zero, name=f"{name}_embedding")(inputs)
    x = TAGGER_CELLS[cell](units, return_sequences=True, name=f"{name}_{cell}")(x)  # (batch, T, u)
    outputs = keras.layers.Dense(num_tags, activation="softmax", name=f"{name}_step_output")(x)
    return keras.Model(inputs, outputs, name=name)


def padding_weights(tokens, padding_value=0):
    """Per-step sample weights for a padded batch (batch, T): 1.0 at a token, 0.0 at the padding."""
    return (np.asarray(tokens) != padding_value).astype("float32")


def masked_loss():
    """Sparse cross-entropy averaged over the weighted steps only: sum(w·CE) / sum(w), so with
    :func:`padding_weights` the mean over the real tokens (Keras' default divides by every step)."""
    return keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")


def build_encoder_decoder(*, input_length=8, output_length=4, vocab_size=10, embedding_dim=16, units=64,
                          num_classes=10, name="encoder_decoder"):
    """Many-to-many, encoder-decoder: input and output lengths differ (003 §6.2 "Many-to-many
    (encoder-decoder)"; 000's machine-translation example).

    An LSTM encoder reads the whole input into its last hidden state (the context vector), which is
    repeated ``output_length`` times and unrolled by a decoder LSTM (the keras.io "sequence to
    sequence addition" layout; lab 21 adds teacher forcing and attention):
    (batch, T_in) -> (batch, T_in, e) -> (batch, u) -> (batch, T_out, u) -> (batch, T_out, u)
    -> (batch, T_out, num_classes).

    Parameters: Embedding vocab_size·e; encoder LSTM 4u(e + u + 1); decoder LSTM 4u(u + u + 1);
    Dense u·num_classes + num_classes. Defaults (10, e 16, u 64, 10 classes):
    160 + 20,736 + 33,024 + 650 = 54,570.

    Args:
        input_length: T_in.
        output_length: T_out.
        vocab_size: input tokens.
        embedding_dim: e.
        units: u, of both LSTMs.
        num_classes: classes per output step.
        name: model name.

    Returns:
        A model mapping (batch, T_in) int tokens to (batch, T_out, num_classes) probabilities.
    """
    inputs = keras.Input(shape=(input_length,), dtype="int32", name=f"{name}_tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name=f"{name}_embedding")(inputs)
    context = keras.layers.LSTM(units, name=f"{name}_encoder")(x)  # (batch, u)
    x = keras.layers.RepeatVector(output_length, name=f"{name}_repeat")(context)  # (batch, T_out, u)
    x = keras.layers.LSTM(units, return_sequences=True, name=f"{name}_decoder")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_step_output")(x)
    return keras.Model(inputs, outputs, name=name)
