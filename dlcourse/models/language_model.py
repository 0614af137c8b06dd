"""Lab 22: the character-level LSTM language model, its perplexity and temperature sampling.

The model reads character ids and predicts, at every step, the next character:
Embedding(vocab, dim) -> LSTM(units, return_sequences=True) -> Dense(vocab) logits (no softmax,
the loss takes ``from_logits=True``). With ``tie_weights=True`` the output projection is the
embedding matrix transposed (:class:`dlcourse.layers.language.TiedEmbedding`), so the model has
exactly ``vocab_size * units`` fewer parameters (the ``Dense`` kernel; its ``vocab_size`` biases
remain in the tied layer); when ``units != embedding_dim`` a ``Dense(embedding_dim)`` projection maps
the LSTM state to the embedding's width first. ``recurrent_dropout`` drops units of the LSTM's
recurrent state h_{t-1} during training (003 Ex. 7.5 asks how recurrent networks are regularised).

Perplexity is exp(mean cross-entropy per character), in nats: a model that predicts every
character with probability 1/V has perplexity exactly V. Sampling divides the logits by a
temperature T before the softmax; T -> 0 gives the most probable character (argmax), T = 1 the
model's distribution, T > 1 flatter, more surprising text.
"""

import keras
import numpy as np

from dlcourse.layers.language import TiedEmbedding

__all__ = ["build_char_language_model", "perplexity", "mean_cross_entropy", "sampling_probabilities",
           "sample_ids", "sample_text"]


def build_char_language_model(*, vocab_size=60, embedding_dim=128, units=128, sequence_length=None,
                              recurrent_dropout=0.0, tie_weights=False, name="char_language_model"):
    """Embedding -> LSTM(return_sequences) -> logits over the vocabulary at every step.

    Parameters (V = vocab_size, d = embedding_dim, u = units): V·d (embedding) + 4·u·(d + u + 1)
    (LSTM) + u·V + V (Dense), or with ``tie_weights`` V·d + 4·u·(d + u + 1) + V (the tied layer's
    bias), plus u·d + d when u != d (the projection). ``sequence_length=None`` accepts any length
    (sampling feeds windows of any size).
    """
    ids = keras.Input(shape=(sequence_length,), dtype="int32", name="characters")
    if tie_weights:
        embedding = TiedEmbedding(vocab_size, embedding_dim, name="tied_embedding")
    else:
        embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
    x = embedding(ids)
    x = keras.layers.LSTM(units, return_sequences=True, recurrent_dropout=recurrent_dropout, name="lstm")(x)
    if tie_weights:
        if units != embedding_dim:
            x = keras.layers.Dense(embedding_dim, name="projection")(x)
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(ids, logits, name=name)


def _log_softmax(logits):
    logits = np.asarray(logits, dtype="float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def mean_cross_entropy(logits, targets):
    """Mean of -log softmax(logits)[target] over every position, in nats (float64, NumPy)."""
    log_probabilities = _log_softmax(logits)
    targets = np.asarray(targets, dtype="int64")
    picked = np.take_along_axis(log_probabilities, targets[..., None], axis=-1)
    return float(-picked.mean())


def perplexity(model, x, y, batch_size=128):
    """exp(mean cross-entropy per character) of ``model`` (logits) on windows ``x`` with next ids ``y``."""
    total, count = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = model.predict_on_batch(np.asarray(x[start:start + batch_size]))
        targets = np.asarray(y[start:start + batch_size])
        total += mean_cross_entropy(logits, targets) * targets.size
        count += targets.size
    return float(np.exp(total / max(count, 1)))


def sampling_probabilities(logits, temperature):
    """softmax(logits / temperature) along the last axis (float64); temperature 0 puts all the
    probability on the argmax (the limit T -> 0)."""
    logits = np.asarray(logits, dtype="float64")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return np.eye(logits.shape[-1])[logits.argmax(axis=-1)]
    return np.exp(_log_softmax(logits / temperature))


def sample_ids(model, seed_ids, length, temperatures, *, window=None, seed=0):
    """Continue ``seed_ids`` by ``length`` characters once per temperature, all in one batch.

    Each step feeds the last ``window`` ids (default: the seed's length) and draws the next id from
    ``sampling_probabilities(last logits, T)``; returns int ``(len(temperatures), length)``.
    """
    rng = np.random.default_rng(seed)
    seed_ids = np.asarray(seed_ids, dtype="int32").reshape(-1)
    window = int(window or len(seed_ids))
    rows = np.repeat(seed_ids[None, -window:], len(temperatures), axis=0)
    generated = np.zeros((len(temperatures), int(length)), dtype="int64")
    for step in range(int(length)):
        last = np.asarray(model.predict_on_batch(rows[:, -window:]))[:, -1, :]
        for row, temperature in enumerate(temperatures):
            probabilities = sampling_probabilities(last[row], temperature)
            generated[row, step] = int(np.searchsorted(np.cumsum(probabilities), rng.random() * probabilities.sum(),
                                                       side="right").clip(max=len(probabilities) - 1))
        rows = np.concatenate([rows, generated[:, step:step + 1].astype("int32")], axis=1)[:, -window:]
    return generated


def sample_text(model, seed_text, length, temperatures, vocabulary, *, window=None, seed=0):
    """``{temperature: generated string}``: :func:`sample_ids` on text, with the character ``vocabulary``."""
    index = {character: position for position, character in enumerate(vocabulary)}
    seed_ids = [index[character] for character in seed_text]
    generated = sample_ids(model, seed_ids, length, temperatures, window=window, seed=seed)
    return {temperature: "".join(vocabulary[int(each)] for each in row) for temperature, row in
            zip(temperatures, generated)}
