"""Builders: recurrent networks of Unit III (SimpleRNN, LSTM, GRU, peephole LSTM, bidirectional LSTM,
RNN and GRU).

The notes (Unit III, "Variants of RNNs", "Bidirectional LSTMs", "Bidirectional RNNs"; handbook
chapter 3) print no code, no dataset and no sizes, so the sizes here are the package's choice and
follow the keras.io "Bidirectional LSTM on IMDB" example (20,000-word vocabulary, 200 tokens,
128-dimensional embedding, 64 units). Two more builders serve lab 13: an RNN that reads a series and
the handbook's sliding-window MLP (003 §3.3.3) it is compared with.
"""

import keras

from dlcourse.layers.recurrent import peephole_lstm

__all__ = ["build_sentiment_model", "build_sequence_predictor", "build_window_mlp",
           "SENTIMENT_VARIANTS", "DEFAULT_SENTIMENT_MODELS", "CELLS", "recurrent_layer"]

CELLS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
         "peephole": peephole_lstm}
"""The three recurrent cells of Unit III and the peephole LSTM of 001 Q4 ("Different Variants on
LSTM"; ``dlcourse.layers.recurrent``), by the names the package uses for them."""

SENTIMENT_VARIANTS = {
    "rnn": dict(cell="rnn"),
    "lstm": dict(cell="lstm"),
    "gru": dict(cell="gru"),
    # Unit III, "Bidirectional LSTMs": p_t = p_tf + p_tb, the two directions summed.
    "bilstm": dict(cell="lstm", bidirectional=True, merge_mode="sum"),
    # Unit III, "Bidirectional RNNs": h_t = concat(forward h_t, backward h_t).
    "birnn": dict(cell="rnn", bidirectional=True, merge_mode="concat"),
    # The same bidirectional reading with the notes' GRU cell, directions concatenated as the BiRNN.
    "bigru": dict(cell="gru", bidirectional=True, merge_mode="concat"),
    # 001 Q4, "Peephole Connections": gates that also see the cell state (opt-in in lab 12).
    "peephole": dict(cell="peephole"),
}
"""The models of lab 12: ``build_sentiment_model(**SENTIMENT_VARIANTS[key])``; saved as
``sentiment_<key>.h5``."""

DEFAULT_SENTIMENT_MODELS = ("rnn", "lstm", "gru", "bilstm", "birnn", "bigru")
"""The six models lab 12 trains by default (``peephole`` only with ``--models``)."""

MERGE_MODES = ("concat", "sum", "ave", "mul")


def recurrent_layer(cell, units, *, return_sequences=False, bidirectional=False, merge_mode="concat",
                    name=None, **cell_kwargs):
    """One Keras recurrent layer for ``cell`` in ``rnn | lstm | gru | peephole``, optionally bidirectional.

    ``peephole`` is ``keras.layers.RNN(PeepholeLSTMCell(units))`` (``dlcourse.layers.recurrent``:
    an LSTM whose gates see the cell state, 3·units more parameters). The GRU keeps Keras' default
    ``reset_after=True`` (one extra bias vector per gate, 3·units more parameters than the classic GRU
    the notes describe); ``dlcourse.scratch.cells`` explains both.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    if merge_mode not in MERGE_MODES:
        raise ValueError(f"merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
    if bidirectional:
        inner = CELLS[cell](units, return_sequences=return_sequences, name=f"{name}_{cell}",
                            **cell_kwargs)
        return keras.layers.Bidirectional(inner, merge_mode=merge_mode, name=name)
    return CELLS[cell](units, return_sequences=return_sequences, name=name, **cell_kwargs)


def build_sentiment_model(*, cell="lstm", bidirectional=False, merge_mode="concat", num_layers=1,
                          vocab_size=20000, sequence_length=200, embedding_dim=128, units=64,
                          dropout_rate=0.0, mask_zero=False, name="sentiment_model"):
    """Many-to-one sentiment classifier: Embedding -> recurrent layer(s) -> sigmoid unit.

    Unit III, "RNN Architectures" (many-to-one: sentiment analysis), "Variants of RNNs" (LSTM, GRU),
    "Bidirectional LSTMs" and "Bidirectional RNNs". The notes' BiLSTM sums the two directions
    (``p_t = p_tf + p_tb``: ``bidirectional=True, merge_mode="sum"``) while their BiRNN concatenates
    them (``merge_mode="concat"``, Keras' default); the BiLSTM prose says "concatenated or combined",
    so both are reachable. A bidirectional model needs the whole review before it answers (the notes:
    not for real time); it does accept any length (``sequence_length=None``), although the notes call
    BRNNs "suitable for tasks with fixed-length input/output". Stacked layers (``num_layers > 1``,
    the notes' RNN_1 -> RNN_2 figure) pass full sequences to the next layer. Defaults follow the keras.io IMDB example (the notes give no
    sizes); that example stacks two bidirectional LSTMs (``num_layers=2``).

    Args:
        cell: ``"rnn"`` (SimpleRNN), ``"lstm"``, ``"gru"`` or ``"peephole"`` (peephole LSTM, 001 Q4).
        bidirectional: wrap each recurrent layer in ``keras.layers.Bidirectional``.
        merge_mode: how the directions combine: ``"concat"``, ``"sum"``, ``"ave"`` or ``"mul"``.
        num_layers: stacked recurrent layers.
        vocab_size: number of word indices (``num_words`` of the IMDB reader, including the reserved
            indices 0 padding, 1 start, 2 out-of-vocabulary).
        sequence_length: tokens per review (``maxlen``); ``None`` accepts any length.
        embedding_dim: size of the word vectors.
        units: hidden units per recurrent layer (per direction).
        dropout_rate: dropout before the output unit (0 disables the layer).
        mask_zero: mask padding index 0 (keeps cuDNN on GPU only with post-padding; off by default,
            as in the keras.io example).
        name: model name and layer-name prefix.

    Returns:
        An uncompiled ``keras.Model`` mapping int32 token ids ``(batch, sequence_length)`` to the
        probability that the review is positive ``(batch, 1)`` (sigmoid; use binary cross-entropy).
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}")
    if vocab_size < 4:
        raise ValueError(f"vocab_size must leave room for the reserved indices 0-2, got {vocab_size}")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
    tokens = keras.Input(shape=(sequence_length,), dtype="int32", name=f"{name}_tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_zero,
                               name=f"{name}_embedding")(tokens)  # (batch, T, embedding_dim)
    prefix = f"bi{cell}" if bidirectional else cell
    for index in range(1, num_layers + 1):
        x = recurrent_layer(cell, units, return_sequences=index < num_layers,
                            bidirectional=bidirectional, merge_mode=merge_mode,
                            name=f"{name}_{prefix}{index}")(x)
    # (batch, units), or (batch, 2 * units) for a concatenated bidirectional layer
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(x)
    return keras.Model(tokens, outputs, name=name)


def build_sequence_predictor(*, cell="rnn", sequence_length=20, features=1, units=32,
                             output_units=1, output_activation=None, activation="tanh", recurrent_scale=1.0,
                             name="sequence_predictor"):
    """Many-to-one recurrent model on real-valued sequences (lab 13).

    Handbook chapter 3, section 5.3 (``h_t = f(W_xh x_t + W_hh h_{t-1} + b_h)``,
    ``y_t = g(W_hy h_t + b_y)`` with g linear for regression) and Unit III's BPTT example (predict
    x_{n+1} from x_1..x_n). Only the last step's output is used (many-to-one).

    Args:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        sequence_length: time steps read; ``None`` accepts any length.
        features: values per time step.
        units: hidden units.
        output_units: outputs of the final Dense layer.
        output_activation: ``None`` (linear, next-value regression) or e.g. ``"sigmoid"``.
        activation: the recurrent activation g1 (the notes: tanh or ReLU).
        recurrent_scale: gain of Keras' orthogonal ``W_hh`` initialiser, i.e. its spectral radius
            (> 1 with ReLU makes gradients explode: lab 13).
        name: model name and layer-name prefix.

    Returns:
        An uncompiled ``keras.Model`` ``(batch, sequence_length, features) -> (batch, output_units)``.
    """
    series = keras.Input(shape=(sequence_length, features), name=f"{name}_series")
    state = recurrent_layer(cell, units, activation=activation, name=f"{name}_{cell}",
                            recurrent_initializer=keras.initializers.Orthogonal(gain=recurrent_scale))(series)
    # (batch, units)
    outputs = keras.layers.Dense(output_units, activation=output_activation,
                                 name=f"{name}_output")(state)
    return keras.Model(series, outputs, name=name)


def build_window_mlp(*, window=20, units=32, name="window_mlp"):
    """The handbook's sliding-window approach: an MLP on the last ``window`` values (lab 13).

    Handbook chapter 3, section 3.3: the input is ``[x_{t-w+1}, ..., x_t]`` and the next value is
    predicted from that fixed window only (no memory beyond it: the limitation RNNs address).

    Args:
        window: number of past values the network sees.
        units: hidden ReLU units.
        name: model name and layer-name prefix.

    Returns:
        An uncompiled ``keras.Model`` ``(batch, window) -> (batch, 1)`` (linear regression output).
    """
    values = keras.Input(shape=(window,), name=f"{name}_window")
    hidden = keras.layers.Dense(units, activation="relu", name=f"{name}_hidden")(values)
    outputs = keras.layers.Dense(1, name=f"{name}_output")(hidden)
    return keras.Model(values, outputs, name=name)
