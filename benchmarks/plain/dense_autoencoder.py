"""The notes' Listing V-A (Unit V, "Training an auto-encoder for data compression and reconstruction")
as written, for lab 16's benchmark row.

Verbatim except:
- data source: ``mnist.load_data()`` is replaced by ``load_mnist(DATA_DIR)``, which reads ``mnist.npz``
  from ``--data-dir`` with ``np.load`` as ``keras.datasets.mnist.load_data`` does;
- plotting: matplotlib's non-interactive Agg backend, so ``plt.show()`` opens no window; the lost
  indentation of the plotting loop is restored;
- ``epochs=20`` comes from ``--epochs`` (default 20);
- benchmark harness: wall time around ``autoencoder.fit`` only, and a final ``BENCHMARK_RESULT {json}``
  line; the test MSE is the last epoch's ``val_loss`` (the listing validates on ``(x_test, x_test)``).
The model (784-128-64-32-64-128-784), ``compile(optimizer=Adam(), loss='mse')`` and
``fit(x_train, x_train, epochs, batch_size=256, shuffle=True, validation_data=(x_test, x_test))`` are
the listing's.
"""

# --- benchmark harness (not in the notes) -------------------------------------------------------
import argparse
import json
import os
import time

import matplotlib

matplotlib.use("Agg")  # replaced: plots are drawn off screen

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data-dir", required=True, help="folder holding mnist.npz")
parser.add_argument("--epochs", type=int, default=20)
args = parser.parse_args()


def load_mnist(data_dir):
    """What ``keras.datasets.mnist.load_data()`` returns, from ``data_dir/mnist.npz``."""
    import numpy as np
    with np.load(os.path.join(data_dir, "mnist.npz")) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
# --- end of the harness; the listing follows ------------------------------------------------------

import numpy as np
import matplotlib.pyplot as plt
from tensorflow.keras.datasets import mnist
from tensorflow.keras.models import Model
from tensorflow.keras.layers import Input, Dense
from tensorflow.keras.optimizers import Adam

# Load and preprocess MNIST data
(x_train, _), (x_test, _) = load_mnist(args.data_dir)  # replaced: mnist.load_data()
x_train = x_train.astype('float32') / 255.0
x_test = x_test.astype('float32') / 255.0

# Flatten 28x28 images into 784 vectors
x_train = x_train.reshape((len(x_train), 784))
x_test = x_test.reshape((len(x_test), 784))

# Define the input layer
input_img = Input(shape=(784,))

# Encoder: Compress input
encoded = Dense(128, activation='relu')(input_img)
encoded = Dense(64, activation='relu')(encoded)
encoded = Dense(32, activation='relu')(encoded)

# Decoder: Reconstruct input
decoded = Dense(64, activation='relu')(encoded)
decoded = Dense(128, activation='relu')(decoded)
decoded = Dense(784, activation='sigmoid')(decoded)

# Autoencoder model
autoencoder = Model(input_img, decoded)

# Compile the model
autoencoder.compile(optimizer=Adam(), loss='mse')

# Train the model
started = time.perf_counter()  # harness
history = autoencoder.fit(x_train, x_train,  # harness: history kept for the test MSE
                epochs=args.epochs,
                batch_size=256,
                shuffle=True,
                validation_data=(x_test, x_test))
training_seconds = time.perf_counter() - started  # harness

# Predict reconstructed images
decoded_imgs = autoencoder.predict(x_test)

# Plot original vs reconstructed images
n = 10 # Number of digits to display
plt.figure(figsize=(20, 4))
for i in range(n):
    # Original
    ax = plt.subplot(2, n, i + 1)
    plt.imshow(x_test[i].reshape(28, 28), cmap='gray')
    plt.title("Original")
    plt.axis('off')

    # Reconstructed
    ax = plt.subplot(2, n, i + 1 + n)
    plt.imshow(decoded_imgs[i].reshape(28, 28), cmap='gray')
    plt.title("Reconstructed")
    plt.axis('off')
plt.show()

# --- benchmark harness ---
print("BENCHMARK_RESULT " + json.dumps({
    "training_seconds": training_seconds, "samples": len(x_train) * args.epochs,
    "metrics": {"test_mse": float(history.history["val_loss"][-1])},
    "parameters": int(autoencoder.count_params())}))
