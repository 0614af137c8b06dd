"""keras.io's "Variational AutoEncoder" (MNIST) as written, the benchmark's counterpart of lab 18.

Verbatim (the Keras 3 / TensorFlow version: ``Sampling`` layer, the convolutional encoder and decoder
with a 2-D latent space, ``VAE(keras.Model)`` with its ``train_step``, ``Adam()``,
``fit(mnist_digits, epochs=30, batch_size=128)``) except:
- data source: ``mnist.npz`` from ``--data-dir`` with ``np.load`` instead of
  ``keras.datasets.mnist.load_data()``, and the model trains on the training images only (the example
  trains on train + test concatenated), so both sides train on the same images;
- ``epochs`` comes from ``--epochs`` (default 30, the example's);
- benchmark harness: wall time around ``fit`` only; afterwards the same loss (reconstruction summed
  over pixels + KL, mean over images) on the test images, as lab 18's ``evaluate`` reports it, and a
  final ``BENCHMARK_RESULT {json}`` line. No plots (the example's latent plots come after training).
"""

import argparse
import json
import os
import time

import numpy as np
import tensorflow as tf
import keras
from keras import layers, ops

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data-dir", required=True, help="folder holding mnist.npz")
parser.add_argument("--epochs", type=int, default=30)
args = parser.parse_args()


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


latent_dim = 2

encoder_inputs = keras.Input(shape=(28, 28, 1))
x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Flatten()(x)
x = layers.Dense(16, activation="relu")(x)
z_mean = layers.Dense(latent_dim, name="z_mean")(x)
z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
z = Sampling()([z_mean, z_log_var])
encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
encoder.summary()

latent_inputs = keras.Input(shape=(latent_dim,))
x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
x = layers.Reshape((7, 7, 64))(x)
x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")
decoder.summary()


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(
                    keras.losses.binary_crossentropy(data, reconstruction),
                    axis=(1, 2),
                )
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


with np.load(os.path.join(args.data_dir, "mnist.npz")) as f:  # replaced: keras.datasets.mnist.load_data()
    x_train, x_test = f["x_train"], f["x_test"]
mnist_digits = np.expand_dims(x_train, -1).astype("float32") / 255  # training images only

vae = VAE(encoder, decoder)
vae.compile(optimizer=keras.optimizers.Adam())
started = time.perf_counter()  # harness
history = vae.fit(mnist_digits, epochs=args.epochs, batch_size=128)
training_seconds = time.perf_counter() - started  # harness


# --- benchmark harness: the training loss on the test images ---
def test_loss(images, batch_size=128):
    totals = []
    for start in range(0, len(images), batch_size):
        data = images[start:start + batch_size]
        z_mean, z_log_var, z = encoder(data)
        reconstruction = decoder(z)
        reconstruction_loss = ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
        kl_loss = ops.sum(-0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)), axis=1)
        totals.append(ops.convert_to_numpy(reconstruction_loss + kl_loss))
    return float(np.mean(np.concatenate(totals)))


print("BENCHMARK_RESULT " + json.dumps({
    "training_seconds": training_seconds, "samples": len(mnist_digits) * args.epochs,
    "metrics": {"test_loss": test_loss(np.expand_dims(x_test, -1).astype("float32") / 255),
                "loss": float(history.history["loss"][-1])},
    "parameters": int(encoder.count_params())}))
