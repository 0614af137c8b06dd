"""Plain-Keras LSTM sentiment classifier on IMDB, the benchmark's counterpart of lab 12 (``--models lstm``).

Based on keras.io's "Bidirectional LSTM on IMDB" example (``max_features = 20000``, ``maxlen = 200``,
``Embedding(max_features, 128)``, 64 LSTM units, Adam, ``binary_crossentropy``, ``batch_size=32``,
``epochs=2``, validation on the test reviews), with its two stacked bidirectional LSTMs replaced by the
one ``LSTM(64)`` of lab 12's ``lstm`` model. Data source: ``imdb.npz`` from ``--data-dir``, turned into
index sequences as ``keras.datasets.imdb.load_data(num_words=max_features)`` does (shuffle with seed
113, start 1, out-of-vocabulary 2, words from 3), then ``keras.utils.pad_sequences`` as in the
example. Benchmark harness: wall time around ``fit`` only, and a final ``BENCHMARK_RESULT {json}`` line.
"""

import argparse
import json
import os
import time

import numpy as np
import keras
from keras import layers

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data-dir", required=True, help="folder holding imdb.npz")
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args()

max_features = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review


def load_imdb(path, num_words, seed=113, start_char=1, oov_char=2, index_from=3):
    """What ``keras.datasets.imdb.load_data(path, num_words=num_words)`` returns, from a local file."""
    with np.load(path, allow_pickle=True) as f:
        x_train, labels_train = f["x_train"], f["y_train"]
        x_test, labels_test = f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]

    def convert(xs):
        return [[start_char] + [w + index_from if w + index_from < num_words else oov_char for w in x]
                for x in xs]
    return (convert(x_train), labels_train), (convert(x_test), labels_test)


# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# One LSTM (lab 12's "lstm" model; the example stacks two Bidirectional(LSTM(64)))
x = layers.LSTM(64)(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

(x_train, y_train), (x_val, y_val) = load_imdb(os.path.join(args.data_dir, "imdb.npz"), num_words=max_features)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
started = time.perf_counter()
history = model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_data=(x_val, y_val))
training_seconds = time.perf_counter() - started

print("BENCHMARK_RESULT " + json.dumps({
    "training_seconds": training_seconds, "samples": len(x_train) * args.epochs,
    "metrics": {"test_accuracy": float(history.history["val_accuracy"][-1]),
                "test_loss": float(history.history["val_loss"][-1])},
    "parameters": int(model.count_params())}))
