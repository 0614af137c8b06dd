"""Plain-Keras LeNet-5 on MNIST, the benchmark's counterpart of lab 07.

Based on the common Keras LeNet-5 found in tutorials (the "Keras variant" that lab 07's docstring
describes: full C3, ``AveragePooling2D``, tanh, 61,706 parameters) trained the way keras.io's "Simple
MNIST convnet" trains (``astype("float32") / 255``, ``fit`` on NumPy arrays, ``batch_size=128``,
``validation_split=0.1``, Adam with its defaults), on 28x28 digits zero-padded to LeNet's 32x32 as lab
07 does. Data source: ``mnist.npz`` from ``--data-dir``, read with ``np.load`` as
``keras.datasets.mnist.load_data`` reads it. Benchmark harness: wall time around ``fit`` only, and a
final ``BENCHMARK_RESULT {json}`` line.
"""

import argparse
import json
import os
import time

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data-dir", required=True, help="folder holding mnist.npz")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

with np.load(os.path.join(args.data_dir, "mnist.npz")) as f:  # keras.datasets.mnist.load_data()
    x_train, y_train, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]

# Scale to [0, 1], pad 28x28 -> 32x32, add the channel axis
x_train = np.pad(x_train, ((0, 0), (2, 2), (2, 2))).astype("float32") / 255
x_test = np.pad(x_test, ((0, 0), (2, 2), (2, 2))).astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)

model = keras.Sequential([
    keras.Input(shape=(32, 32, 1)),
    layers.Conv2D(6, kernel_size=5, activation="tanh"),    # C1: 28x28x6
    layers.AveragePooling2D(pool_size=2),                    # S2: 14x14x6
    layers.Conv2D(16, kernel_size=5, activation="tanh"),   # C3: 10x10x16
    layers.AveragePooling2D(pool_size=2),                    # S4: 5x5x16
    layers.Conv2D(120, kernel_size=5, activation="tanh"),  # C5: 1x1x120
    layers.Flatten(),
    layers.Dense(84, activation="tanh"),                     # F6
    layers.Dense(10, activation="softmax"),
])
model.summary()

model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
started = time.perf_counter()
model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, validation_split=0.1)
training_seconds = time.perf_counter() - started

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
print("BENCHMARK_RESULT " + json.dumps({
    "training_seconds": training_seconds, "samples": int(len(x_train) * (1 - 0.1)) * args.epochs,
    "metrics": {"test_accuracy": float(score[1]), "test_loss": float(score[0])},
    "parameters": int(model.count_params())}))
