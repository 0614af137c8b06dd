"""The notes' Listing II-B (Unit II, "Training of CNN in TensorFlow") as written, for lab 06's benchmark row.

Verbatim except:
- data source: ``datasets.cifar10.load_data()`` is replaced by ``load_cifar10(DATA_DIR)``, which reads
  ``cifar-10-python.tar.gz`` from ``--data-dir`` the way the CIFAR-10 page's ``unpickle`` recipe
  does and returns what ``keras.datasets.cifar10.load_data()`` returns (uint8 images, labels (N, 1));
- plotting: matplotlib's non-interactive Agg backend, so ``plt.show()`` opens no window;
- the lost indentation of the plotting loop is restored;
- ``epochs=10`` comes from ``--epochs`` (default 10);
- benchmark harness: wall time around ``model.fit`` only, and a final ``BENCHMARK_RESULT {json}``
  line with the training seconds, the training samples (``len(train_images) * epochs``) and the
  test metrics.
Everything else (the model, ``compile``, ``fit`` on NumPy arrays with Keras' default batch 32 and
validation on the test set, ``evaluate``, ``model.save``) is the listing's.
"""

# --- benchmark harness (not in the notes) -------------------------------------------------------
import argparse
import json
import os
import pickle
import tarfile
import time

import matplotlib
import numpy as np

matplotlib.use("Agg")  # replaced: plots are drawn off screen

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data-dir", required=True, help="folder holding cifar-10-python.tar.gz")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()


def load_cifar10(data_dir):
    """``((x_train, y_train), (x_test, y_test))`` as ``keras.datasets.cifar10.load_data()`` returns them."""
    batches = {}
    with tarfile.open(os.path.join(data_dir, "cifar-10-python.tar.gz"), "r:gz") as archive:
        for member in archive.getmembers():
            name = os.path.basename(member.name)
            if name.startswith("data_batch_") or name == "test_batch":
                batches[name] = pickle.load(archive.extractfile(member), encoding="bytes")

    def join(names):
        x = np.concatenate([batches[name][b"data"] for name in names]).reshape(-1, 3, 32, 32)
        y = np.concatenate([batches[name][b"labels"] for name in names]).reshape(-1, 1).astype("uint8")
        return x.transpose(0, 2, 3, 1), y
    return join([f"data_batch_{i}" for i in range(1, 6)]), join(["test_batch"])
# --- end of the harness; the listing follows ------------------------------------------------------

# Import required libraries
import tensorflow as tf
from tensorflow.keras import datasets, layers, models
import matplotlib.pyplot as plt

# Load and normalize the CIFAR-10 dataset
(train_images, train_labels), (test_images, test_labels) = load_cifar10(args.data_dir)  # replaced
train_images, test_images = train_images / 255.0, test_images / 255.0

# Define class names
class_names = ['airplane', 'automobile', 'bird', 'cat', 'deer',
               'dog', 'frog', 'horse', 'ship', 'truck']

# Visualize sample images (optional)
plt.figure(figsize=(10, 1))
for i in range(10):
    plt.subplot(1, 10, i+1)
    plt.xticks([]); plt.yticks([]); plt.grid(False)
    plt.imshow(train_images[i])
    plt.xlabel(class_names[train_labels[i][0]])
plt.show()

# Build the CNN model
model = models.Sequential([
    layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)),
    layers.BatchNormalization(),
    layers.MaxPooling2D((2, 2)),

    layers.Conv2D(64, (3, 3), activation='relu'),
    layers.BatchNormalization(),
    layers.MaxPooling2D((2, 2)),

    layers.Conv2D(64, (3, 3), activation='relu'),
    layers.Flatten(),
    layers.Dense(64, activation='relu'),
    layers.Dense(10)
])

# Compile the model
model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

# Train the model
started = time.perf_counter()  # harness
history = model.fit(train_images, train_labels, epochs=args.epochs,
                     validation_data=(test_images, test_labels))
training_seconds = time.perf_counter() - started  # harness

# Evaluate the model
test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
print(f'Test accuracy: {test_acc:.2f}')

# Save the trained model
model.save('cnn_cifar10_model.h5')

# Load the model (optional)
# loaded_model = tf.keras.models.load_model('cnn_cifar10_model.h5')

# --- benchmark harness ---
print("BENCHMARK_RESULT " + json.dumps({
    "training_seconds": training_seconds, "samples": len(train_images) * args.epochs,
    "metrics": {"test_accuracy": float(test_acc), "test_loss": float(test_loss)},
    "parameters": int(model.count_params())}))
